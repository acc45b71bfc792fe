/* tests/fuzz/fuzz_frame.c - libFuzzer target of the frame decoder
 * (corio/frame.h, sync/frame_codec.c), built with
 * -fsanitize=fuzzer,address,undefined by clang (tests/CMakeLists.txt).
 *
 * Input: byte 0 picks the decoder's maximum (0: the default, else a
 * multiple of 64, so that -EMSGSIZE is within reach), byte 1 the way the
 * stream is cut into pieces and whether the harness repairs checksums,
 * the rest is the stream.  A random stream almost never carries a correct
 * 32-bit CRC, so in repair mode the harness walks the stream as the
 * decoder would and writes correct checksums into every header: the
 * fuzzer then spends its time on lengths, pieces and payloads instead of
 * guessing CRCs.
 *
 * What must hold, besides no crash, leak or undefined behaviour:
 *   - one decoder fed in pieces and one fed the whole stream agree on
 *     every result, every frame and the final state;
 *   - every frame is no longer than the maximum, and it is exactly the
 *     bytes of the stream at its place: its header is what
 *     corio_frame_header writes for its payload;
 *   - the storage never exceeds the maximum;
 *   - used never exceeds what was fed, and after an error nothing more is
 *     taken. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corio/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                  \
    do {                          \
        if (!(c)) __builtin_trap(); \
    } while (0)

static void put32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Make every header of s (as the decoder would find them) carry correct
 * checksums; magic, version and lengths stay as the fuzzer made them. */
static void repair(uint8_t *s, size_t n) {
    size_t off = 0;
    while (n - off >= CORIO_FRAME_HEADER_SIZE) {
        uint8_t *h = s + off;
        uint32_t len = get32le(h + 4);
        size_t avail = n - off - CORIO_FRAME_HEADER_SIZE;
        size_t plen = len < avail ? len : avail;
        put32le(h + 8, corio_frame_crc32c(0, h + CORIO_FRAME_HEADER_SIZE, plen));
        put32le(h + 12, corio_frame_crc32c(0, h, 12));
        off += CORIO_FRAME_HEADER_SIZE + plen;
    }
}

/* One result of a decoder: the return code, where in the stream it came,
 * and for a frame its length and CRC. */
struct event {
    int r;
    size_t at, len;
    uint32_t crc;
};

#define MAX_EVENTS 4096

struct run {
    struct event ev[MAX_EVENTS];
    size_t n;
    int end;
};

/* A simple xorshift for the piece sizes: deterministic per input. */
static uint32_t next_piece(uint32_t *x, unsigned mode, size_t left) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    size_t k;
    switch (mode & 3u) {
    case 0: k = 1; break;                   /* one byte at a time */
    case 1: k = 1 + *x % 17; break;         /* small pieces */
    case 2: k = 1 + *x % 4096; break;       /* large pieces */
    default: k = left; break;               /* all at once */
    }
    return (uint32_t)(k < left ? k : left);
}

static void decode(const uint8_t *s, size_t n, size_t max, unsigned mode, struct run *out) {
    corio_frame_decoder *d = NULL;
    CHECK(corio_frame_decoder_create(&d, max) == 0);
    size_t limit = max == 0 ? CORIO_FRAME_MAX_DEFAULT : max;
    uint32_t x = 0x9e3779b9u ^ mode;
    size_t off = 0, frame_start = 0;
    out->n = 0;
    while (off < n && out->n < MAX_EVENTS) {
        size_t k = next_piece(&x, mode, n - off), used = 12345;
        int r = corio_frame_decoder_feed(d, s + off, k, &used);
        CHECK(used <= k);
        CHECK(corio_frame_decoder_capacity(d) <= limit);
        off += used;
        if (r == 0) {
            CHECK(used == k);
            continue;
        }
        struct event *e = &out->ev[out->n++];
        e->r = r;
        e->at = off;
        e->len = 0;
        e->crc = 0;
        if (r < 0) {
            CHECK(r == -EBADMSG || r == -EMSGSIZE);
            /* Sticky: nothing more is taken. */
            CHECK(corio_frame_decoder_feed(d, s + off, n - off, &used) == r && used == 0);
            break;
        }
        CHECK(r == CORIO_FRAME_GOT);
        const void *p = NULL;
        size_t len = 0;
        CHECK(corio_frame_decoder_frame(d, &p, &len) == 0 && p != NULL);
        CHECK(len <= limit);
        CHECK(off - frame_start == CORIO_FRAME_HEADER_SIZE + len);
        CHECK(memcmp(p, s + frame_start + CORIO_FRAME_HEADER_SIZE, len) == 0);
        unsigned char h[CORIO_FRAME_HEADER_SIZE];
        CHECK(corio_frame_header(h, p, len) == 0);
        CHECK(memcmp(h, s + frame_start, CORIO_FRAME_HEADER_SIZE) == 0);
        CHECK(corio_frame_decoder_want(d) == 0 && corio_frame_decoder_pending(d) == 0);
        e->len = len;
        e->crc = corio_frame_crc32c(0, p, len);
        frame_start = off;
    }
    out->end = corio_frame_decoder_end(d);
    if (out->end == -EPIPE) CHECK(corio_frame_decoder_pending(d) > 0);
    corio_frame_decoder_destroy(d);
}

static struct run pieces, whole;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t max = (size_t)data[0] * 64;
    unsigned mode = data[1];
    size_t n = size - 2;
    uint8_t *s = malloc(n + 1);
    if (s == NULL) return 0;
    memcpy(s, data + 2, n);
    if (mode & 4u) repair(s, n);
    decode(s, n, max, mode, &pieces);
    decode(s, n, max, 3, &whole);
    CHECK(pieces.n == whole.n && pieces.end == whole.end);
    for (size_t i = 0; i < pieces.n; i++) {
        const struct event *a = &pieces.ev[i], *b = &whole.ev[i];
        CHECK(a->r == b->r && a->at == b->at && a->len == b->len && a->crc == b->crc);
    }
    free(s);
    return 0;
}
