/* sync/frame_codec.h - the frame decoder's inside, shared by the codec
 * (frame_codec.c) and the descriptor calls (frame.c) only.
 *
 * The public decoder is opaque and lives on the heap; the descriptor calls
 * put one on the task's stack instead and let it write the payload straight
 * into the caller's buffer (a "fixed" decoder), so a receive costs no
 * allocation and no copy.  They fill the decoder in place: space() says
 * where the next bytes go (never past the part of the frame being read),
 * the read writes there, commit() checks what arrived. */
#ifndef CORIO_SYNC_FRAME_CODEC_H
#define CORIO_SYNC_FRAME_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "corio/frame.h"

enum corio__frame_state {
    CORIO__FRAME_HEADER,  /* reading the 16 header bytes */
    CORIO__FRAME_PAYLOAD, /* header checked; reading the payload */
    CORIO__FRAME_DONE,    /* a complete, verified frame is held */
    CORIO__FRAME_FAILED   /* err sticks until reset */
};

struct corio_frame_decoder {
    size_t max;       /* the largest payload accepted */
    unsigned char *buf; /* payload storage (cap bytes) */
    size_t cap;
    size_t have;      /* payload bytes in buf */
    uint32_t len;     /* the announced payload length (PAYLOAD, DONE) */
    uint32_t crc;     /* the announced payload CRC-32C */
    uint32_t running; /* CRC-32C of buf[0..have), updated as bytes come */
    int fixed;        /* buf is the caller's: never grown, shrunk or freed */
    int state;        /* enum corio__frame_state */
    int err;          /* FAILED: the negative errno */
    unsigned hdr_have;/* header bytes in hdr */
    unsigned char hdr[CORIO_FRAME_HEADER_SIZE];
};

/* Set up a decoder for payloads of at most max bytes (0..LIMIT; the caller
 * has checked).  fixed != NULL: the payload goes into fixed[0..max), which
 * the decoder never frees. */
void corio__frame_decoder_init(struct corio_frame_decoder *d, size_t max, void *fixed);

/* Free the storage unless it is fixed. */
void corio__frame_decoder_fini(struct corio_frame_decoder *d);

/* Where the next bytes go: *at, at most *n bytes (n > 0).  Releases a
 * complete frame first (a new frame starts).  Grows the storage of an
 * allocating decoder when it is full.  0, or the sticky error, or -ENOMEM
 * (not sticky: the caller may try again). */
int corio__frame_decoder_space(struct corio_frame_decoder *d, void **at, size_t *n);

/* n bytes (n <= the last space's *n) were written at the last space's *at:
 * check them.  CORIO_FRAME_GOT when they complete a frame, 0 when more are
 * needed, or a negative errno (now sticky).  *taken: the bytes accepted,
 * n except after an error, where it counts up to and including the bad
 * byte. */
int corio__frame_decoder_commit(struct corio_frame_decoder *d, size_t n, size_t *taken);

/* Hand the payload storage of an allocating decoder that holds a complete
 * frame to the caller (malloc'd, at least 1 byte); the decoder is left
 * empty.  NULL for no memory. */
void *corio__frame_decoder_take(struct corio_frame_decoder *d);

#endif
