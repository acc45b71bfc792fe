/* sync/frame_codec.c - the frame format of corio/frame.h without I/O: the
 * CRC-32C, the header writer and the incremental decoder.
 *
 * The decoder is a small state machine over one frame at a time (header,
 * payload, done, failed).  Its rules, each for a reason:
 *   - magic and version are checked byte by byte as they arrive, so a
 *     stream that is not frames at all (a wrong peer, a stream out of
 *     step) fails at its first wrong byte instead of after 16;
 *   - the length is trusted only once the header's own CRC matches: a
 *     damaged length is -EBADMSG, a real one above the maximum -EMSGSIZE,
 *     and in neither case is anything allocated for it;
 *   - payload storage grows as payload bytes arrive (doubling, from 64
 *     KiB), never beyond the announced length, so a peer that announces
 *     16 MiB and sends 10 bytes costs 64 KiB, not 16 MiB;
 *   - the payload CRC is computed as the bytes come in, while they are
 *     still in the cache, not in a second pass at the end;
 *   - errors stick: after one, the position of the next frame in a byte
 *     stream is unknown, and guessing (scanning for the magic) could turn
 *     payload bytes into a forged frame. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "corio/frame.h"
#include "sync/frame_codec.h"

/* ---- CRC-32C ------------------------------------------------------------
 * Chosen over the zlib CRC-32 for its better error detection at these
 * lengths (Castagnoli) and because it is the one CPUs compute in hardware
 * (SSE4.2, ARMv8), should that path be wanted later.  Slice-by-8 tables:
 * eight bytes per step, 8 KiB of tables built once. */

#define CRC32C_POLY 0x82F63B78u /* reflected */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_build(void) {
    for (unsigned i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    /* table[k][i]: the CRC of byte i followed by k zero bytes. */
    for (unsigned i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^ crc_table[0][crc_table[k - 1][i] & 0xffu];
}

static uint32_t load32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32le(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

uint32_t corio_frame_crc32c(uint32_t crc, const void *data, size_t len) {
    pthread_once(&crc_once, crc_build);
    const unsigned char *p = data;
    if (p == NULL) return crc;
    uint32_t c = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint32_t lo = load32le(p) ^ c, hi = load32le(p + 4);
        c = crc_table[7][lo & 0xffu] ^ crc_table[6][(lo >> 8) & 0xffu] ^
            crc_table[5][(lo >> 16) & 0xffu] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xffu] ^ crc_table[2][(hi >> 8) & 0xffu] ^
            crc_table[1][(hi >> 16) & 0xffu] ^ crc_table[0][hi >> 24];
    }
    while (len-- > 0) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xffu];
    return ~c;
}

/* ---- the header ------------------------------------------------------------ */

static const unsigned char magic[3] = {0x43, 0x52, 0x46}; /* "CRF" */

enum { OFF_VERSION = 3, OFF_LEN = 4, OFF_CRC = 8, OFF_HCRC = 12 };

int corio_frame_header(unsigned char hdr[CORIO_FRAME_HEADER_SIZE], const void *payload,
                       size_t len) {
    if (hdr == NULL || (payload == NULL && len > 0)) return -EINVAL;
    if (len > CORIO_FRAME_MAX_LIMIT) return -EMSGSIZE;
    memcpy(hdr, magic, sizeof magic);
    hdr[OFF_VERSION] = CORIO_FRAME_VERSION;
    store32le(hdr + OFF_LEN, (uint32_t)len);
    store32le(hdr + OFF_CRC, corio_frame_crc32c(0, payload, len));
    store32le(hdr + OFF_HCRC, corio_frame_crc32c(0, hdr, OFF_HCRC));
    return 0;
}

/* ---- the decoder ----------------------------------------------------------- */

/* The first allocation for a payload, and the floor of every growth step:
 * small frames get one allocation of their own size. */
#define GROW_MIN ((size_t)64 * 1024)
/* An allocating decoder gives back storage above this size when the next
 * frame needs less than a quarter of it: one big frame must not pin its
 * storage for the decoder's life. */
#define KEEP_MAX ((size_t)1024 * 1024)

void corio__frame_decoder_init(struct corio_frame_decoder *d, size_t max, void *fixed) {
    memset(d, 0, sizeof *d);
    d->max = max;
    d->state = CORIO__FRAME_HEADER;
    if (fixed != NULL) {
        d->buf = fixed;
        d->cap = max;
        d->fixed = 1;
    }
}

void corio__frame_decoder_fini(struct corio_frame_decoder *d) {
    if (!d->fixed) free(d->buf);
    d->buf = NULL;
    d->cap = 0;
}

static void start_frame(struct corio_frame_decoder *d) {
    d->state = CORIO__FRAME_HEADER;
    d->hdr_have = 0;
    d->have = 0;
    d->len = 0;
}

static int fail(struct corio_frame_decoder *d, int err) {
    d->state = CORIO__FRAME_FAILED;
    d->err = err;
    return err;
}

/* The payload of d is complete: verify it. */
static int payload_done(struct corio_frame_decoder *d) {
    if (d->running != d->crc) return fail(d, -EBADMSG);
    d->state = CORIO__FRAME_DONE;
    return CORIO_FRAME_GOT;
}

/* All 16 header bytes are in: check them and set up for the payload. */
static int header_done(struct corio_frame_decoder *d) {
    if (corio_frame_crc32c(0, d->hdr, OFF_HCRC) != load32le(d->hdr + OFF_HCRC))
        return fail(d, -EBADMSG);
    uint32_t len = load32le(d->hdr + OFF_LEN);
    if (len > d->max) return fail(d, -EMSGSIZE);
    d->len = len;
    d->crc = load32le(d->hdr + OFF_CRC);
    d->running = 0;
    d->have = 0;
    if (!d->fixed && d->cap > KEEP_MAX && d->cap / 4 > len) {
        free(d->buf);
        d->buf = NULL;
        d->cap = 0;
    }
    d->state = CORIO__FRAME_PAYLOAD;
    return len == 0 ? payload_done(d) : 0;
}

/* Room for more payload in an allocating decoder whose storage is full. */
static int grow(struct corio_frame_decoder *d) {
    size_t want = d->cap < GROW_MIN / 2 ? GROW_MIN : d->cap * 2;
    if (want > d->len) want = d->len;
    unsigned char *nb = realloc(d->buf, want);
    if (nb == NULL) return -ENOMEM;
    d->buf = nb;
    d->cap = want;
    return 0;
}

int corio__frame_decoder_space(struct corio_frame_decoder *d, void **at, size_t *n) {
    if (d->state == CORIO__FRAME_FAILED) return d->err;
    if (d->state == CORIO__FRAME_DONE) start_frame(d);
    if (d->state == CORIO__FRAME_HEADER) {
        *at = d->hdr + d->hdr_have;
        *n = CORIO_FRAME_HEADER_SIZE - d->hdr_have;
        return 0;
    }
    if (d->have == d->cap) {
        if (d->fixed) return fail(d, -EMSGSIZE); /* not reached: max == cap */
        int r = grow(d);
        if (r < 0) return r;
    }
    size_t room = d->cap - d->have, need = d->len - d->have;
    *at = d->buf + d->have;
    *n = room < need ? room : need;
    return 0;
}

int corio__frame_decoder_commit(struct corio_frame_decoder *d, size_t n, size_t *taken) {
    *taken = 0;
    if (d->state == CORIO__FRAME_PAYLOAD) {
        d->running = corio_frame_crc32c(d->running, d->buf + d->have, n);
        d->have += n;
        *taken = n;
        return d->have == d->len ? payload_done(d) : 0;
    }
    /* The header: magic and version byte by byte, the rest when complete. */
    for (size_t i = 0; i < n; i++) {
        unsigned at = d->hdr_have++;
        *taken = i + 1;
        unsigned char b = d->hdr[at];
        if (at < sizeof magic && b != magic[at]) return fail(d, -EBADMSG);
        if (at == OFF_VERSION && b != CORIO_FRAME_VERSION) return fail(d, -EBADMSG);
    }
    return d->hdr_have == CORIO_FRAME_HEADER_SIZE ? header_done(d) : 0;
}

void *corio__frame_decoder_take(struct corio_frame_decoder *d) {
    void *p = d->buf;
    if (p == NULL) p = malloc(1); /* an empty payload still gets a pointer */
    d->buf = NULL;
    d->cap = 0;
    start_frame(d);
    return p;
}

int corio_frame_decoder_create(corio_frame_decoder **dp, size_t max) {
    if (dp == NULL || max > CORIO_FRAME_MAX_LIMIT) return -EINVAL;
    corio_frame_decoder *d = malloc(sizeof *d);
    if (d == NULL) return -ENOMEM;
    corio__frame_decoder_init(d, max == 0 ? CORIO_FRAME_MAX_DEFAULT : max, NULL);
    *dp = d;
    return 0;
}

int corio_frame_decoder_destroy(corio_frame_decoder *d) {
    if (d == NULL) return 0;
    corio__frame_decoder_fini(d);
    free(d);
    return 0;
}

int corio_frame_decoder_feed(corio_frame_decoder *d, const void *data, size_t len, size_t *used) {
    size_t off = 0;
    int r = 0;
    if (used != NULL) *used = 0;
    if (d == NULL || (data == NULL && len > 0)) return -EINVAL;
    if (d->state == CORIO__FRAME_FAILED) return d->err;
    if (d->state == CORIO__FRAME_DONE) start_frame(d);
    /* An empty frame completes with its header, so a feed may end a frame
     * having taken no byte beyond it: stop at every GOT. */
    while (off < len && r == 0) {
        void *at = NULL;
        size_t room = 0, taken;
        r = corio__frame_decoder_space(d, &at, &room);
        if (r < 0) break;
        size_t k = len - off < room ? len - off : room;
        memcpy(at, (const unsigned char *)data + off, k);
        r = corio__frame_decoder_commit(d, k, &taken);
        off += taken;
    }
    if (used != NULL) *used = off;
    return r;
}

int corio_frame_decoder_frame(const corio_frame_decoder *d, const void **payload, size_t *len) {
    if (d == NULL || payload == NULL || len == NULL) return -EINVAL;
    if (d->state != CORIO__FRAME_DONE) return -EAGAIN;
    /* An empty payload may have no storage: any valid address will do. */
    *payload = d->buf != NULL ? (const void *)d->buf : (const void *)d->hdr;
    *len = d->len;
    return 0;
}

size_t corio_frame_decoder_want(const corio_frame_decoder *d) {
    if (d == NULL) return 0;
    switch (d->state) {
    case CORIO__FRAME_HEADER: return CORIO_FRAME_HEADER_SIZE - d->hdr_have;
    case CORIO__FRAME_PAYLOAD: return d->len - d->have;
    default: return 0;
    }
}

int corio_frame_decoder_end(const corio_frame_decoder *d) {
    if (d == NULL) return -EINVAL;
    if (d->state == CORIO__FRAME_FAILED) return d->err;
    if (d->state == CORIO__FRAME_DONE || (d->state == CORIO__FRAME_HEADER && d->hdr_have == 0))
        return CORIO_FRAME_EOF;
    return -EPIPE;
}

size_t corio_frame_decoder_pending(const corio_frame_decoder *d) {
    if (d == NULL || d->state == CORIO__FRAME_DONE) return 0;
    return d->hdr_have + d->have; /* have is 0 while in the header */
}

size_t corio_frame_decoder_capacity(const corio_frame_decoder *d) {
    return d == NULL || d->fixed ? 0 : d->cap;
}

int corio_frame_decoder_reset(corio_frame_decoder *d) {
    if (d == NULL) return -EINVAL;
    start_frame(d);
    d->err = 0;
    return 0;
}
