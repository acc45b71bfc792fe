/* corio/frame.h - framed byte messages over a byte stream (the
 * course's sendto()/recvfrom() of pickled items over a pipe between
 * processes).  corio moves bytes, not objects: the caller serializes.
 *
 * A frame is a 16-byte header followed by the payload (docs/frame.md):
 *
 *   offset  size  field
 *        0     3  magic "CRF" (0x43 0x52 0x46)
 *        3     1  version, CORIO_FRAME_VERSION (1)
 *        4     4  payload length, unsigned little-endian
 *        8     4  CRC-32C of the payload, little-endian
 *       12     4  CRC-32C of bytes 0..11, little-endian
 *
 * The header has its own checksum so that a damaged length is caught as
 * soon as the header is in, instead of making the reader wait for (or
 * allocate) a payload that will never come.
 *
 * Two layers:
 *   - the codec: corio_frame_header() writes a header, and the decoder
 *     (corio_frame_decoder_*) is fed bytes in pieces of any size and hands
 *     out complete frames.  It does no I/O, works on any thread, and
 *     allocates no more than its maximum frame size;
 *   - the I/O: corio_frame_send() / corio_frame_recv() on a pipe, a socket
 *     or any stream descriptor, through the calls of corio/io.h, so they
 *     suspend only the calling task.  Like those calls they must be made
 *     from a task: a plain thread gets -EPERM (it can use the decoder with
 *     read(2) instead).
 *
 * Results follow corio's rule: >= 0 on success, a negative errno value on
 * failure; errno is never set.  The errors special to frames:
 *   -EBADMSG   bad magic, unknown version, or a checksum that does not match;
 *   -EMSGSIZE  the frame is longer than the maximum the receiver allows (or
 *              than UINT32_MAX, for a sender);
 *   -EPIPE     the stream ended in the middle of a frame (truncated).
 * A stream that ends between frames is not an error: CORIO_FRAME_EOF.
 */
#ifndef CORIO_FRAME_H
#define CORIO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "corio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of a frame header. */
#define CORIO_FRAME_HEADER_SIZE 16
/** The version this code writes and the only one it reads. */
#define CORIO_FRAME_VERSION 1
/** The maximum payload a receiver accepts when it names none (max 0). */
#define CORIO_FRAME_MAX_DEFAULT ((size_t)16 * 1024 * 1024)
/** The largest payload the format can carry (the length field's range). */
#define CORIO_FRAME_MAX_LIMIT ((size_t)UINT32_MAX)

/** Results of the receiving calls that are not errors. */
#define CORIO_FRAME_EOF 0 /**< the stream ended cleanly, between two frames */
#define CORIO_FRAME_GOT 1 /**< a complete frame, its checksums verified */

/* ---- the codec ---------------------------------------------------------- */

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of data[0..len),
 *  continuing from `crc` (0 to start).  corio_frame_crc32c(0, "123456789",
 *  9) == 0xE3069283. */
CORIO_API uint32_t corio_frame_crc32c(uint32_t crc, const void *data, size_t len);

/** Write into hdr the header of a frame carrying payload[0..len).
 *  Errors: -EINVAL (hdr NULL, or payload NULL with len > 0), -EMSGSIZE
 *  (len > CORIO_FRAME_MAX_LIMIT). */
CORIO_API int corio_frame_header(unsigned char hdr[CORIO_FRAME_HEADER_SIZE], const void *payload,
                                 size_t len);

/** An incremental decoder: bytes in, complete frames out.  One owner at a
 *  time (it has no lock). */
typedef struct corio_frame_decoder corio_frame_decoder;

/** A decoder accepting payloads of at most `max` bytes (0:
 *  CORIO_FRAME_MAX_DEFAULT).  Its payload storage grows as payload bytes
 *  arrive, never beyond the length the header announced, which is at most
 *  `max`: a header that announces more is refused before anything is
 *  allocated for it.
 *  Errors: -EINVAL (d NULL, max > CORIO_FRAME_MAX_LIMIT), -ENOMEM. */
CORIO_API int corio_frame_decoder_create(corio_frame_decoder **d, size_t max);

/** Free the decoder and its storage (a frame it holds goes with it).  A
 *  NULL d is ignored.  Returns 0. */
CORIO_API int corio_frame_decoder_destroy(corio_frame_decoder *d);

/** Feed data[0..len).  The decoder takes bytes until it completes one frame
 *  or runs out of data, and says how many it took in *used (which may be
 *  NULL; the rest of the data is the caller's to feed again).
 *  Returns CORIO_FRAME_GOT when a frame is complete (corio_frame_decoder_frame
 *  gives it), 0 when it took every byte and needs more.  A frame that was
 *  complete is released by the next feed (or reset).
 *  Errors: -EBADMSG, -EMSGSIZE (as at the top; bad magic is seen at the
 *  first wrong byte, the length as soon as the header is in), -EINVAL (d
 *  NULL, or data NULL with len > 0), -ENOMEM (payload storage).  After an
 *  error *used counts the bytes taken up to and including the bad one,
 *  and the error sticks: every feed returns it, taking nothing, until
 *  corio_frame_decoder_reset (the stream is out of step: a byte stream has
 *  no way to find the next frame with certainty). */
CORIO_API int corio_frame_decoder_feed(corio_frame_decoder *d, const void *data, size_t len,
                                       size_t *used);

/** The complete frame the last feed returned CORIO_FRAME_GOT for: its
 *  payload in *payload (valid until the next feed, reset or destroy; not
 *  NULL, also for an empty payload) and its length in *len.
 *  Errors: -EINVAL (an argument NULL), -EAGAIN (no complete frame held). */
CORIO_API int corio_frame_decoder_frame(const corio_frame_decoder *d, const void **payload,
                                        size_t *len);

/** How many more bytes the decoder needs to complete the part of the frame
 *  it is in (the header, then the payload); 0 while it holds a complete
 *  frame or has failed.  A reader that never reads more than this leaves
 *  the descriptor at the end of the frame.  0 for NULL. */
CORIO_API size_t corio_frame_decoder_want(const corio_frame_decoder *d);

/** The stream has ended: CORIO_FRAME_EOF when the decoder is between frames
 *  (or holds a complete one), -EPIPE when it holds part of a frame, the
 *  sticky error when it has failed.  -EINVAL for NULL.  The state is not
 *  changed. */
CORIO_API int corio_frame_decoder_end(const corio_frame_decoder *d);

/** Bytes of the current incomplete frame held (header and payload; 0
 *  between frames, and while a complete frame is held). */
CORIO_API size_t corio_frame_decoder_pending(const corio_frame_decoder *d);

/** Bytes of payload storage allocated now (for memory accounting; never
 *  more than the decoder's maximum).  0 for NULL. */
CORIO_API size_t corio_frame_decoder_capacity(const corio_frame_decoder *d);

/** Drop any partial or complete frame and a sticky error; the storage is
 *  kept.  -EINVAL for NULL. */
CORIO_API int corio_frame_decoder_reset(corio_frame_decoder *d);

/* ---- I/O from a task ---------------------------------------------------- */

/** Send one frame carrying buf[0..len) on `fd` (a socket: with
 *  MSG_NOSIGNAL; a pipe or another descriptor: write(2), which raises
 *  SIGPIPE on a pipe without readers unless it is ignored).  The timeout
 *  covers the whole frame.  Returns 0 once the whole frame is written.
 *  Errors: -EINVAL (buf NULL with len > 0), -EMSGSIZE (len >
 *  CORIO_FRAME_MAX_LIMIT: nothing sent), -EPIPE (the reader is gone), and
 *  those of corio/io.h (-EPERM from a plain thread, -ETIMEDOUT, -ECANCELED,
 *  ...).  After an error part of the frame may have been written; the
 *  stream is then out of step and should be closed. */
CORIO_API int corio_frame_send(int fd, const void *buf, size_t len, int64_t timeout_ns);

/** Receive one frame from `fd` into buf[0..cap): its payload length in
 *  *len.  Reads no byte beyond the frame (the header, then exactly the
 *  payload), so it keeps no state between calls and the descriptor may be
 *  shared with other readers between frames.  The timeout covers the whole
 *  frame.
 *  Returns CORIO_FRAME_GOT, or CORIO_FRAME_EOF when the stream ended before
 *  the first byte of a frame (*len = 0).
 *  Errors: -EINVAL (len NULL, buf NULL with cap > 0), -EMSGSIZE (the
 *  header announces more than cap: the payload is left unread), -EBADMSG,
 *  -EPIPE (truncated), and those of corio/io.h.  On -ETIMEDOUT
 *  and -ECANCELED *len is set to the bytes of this frame already taken
 *  from the stream: 0 means the stream is still in step and the call may
 *  be repeated.  After any other error the stream is out of step. */
CORIO_API int corio_frame_recv(int fd, void *buf, size_t cap, size_t *len, int64_t timeout_ns);

/** corio_frame_recv into storage it allocates: the payload in *buf (from
 *  malloc, the caller frees it; never NULL after CORIO_FRAME_GOT, also for
 *  an empty payload) and its length in *len.  `max` bounds the payload (0:
 *  CORIO_FRAME_MAX_DEFAULT); the storage grows as payload bytes arrive and
 *  never beyond the announced length.  *buf is NULL after an error or EOF.
 *  Errors: as corio_frame_recv, -EMSGSIZE for a frame over `max`, -EINVAL
 *  (buf or len NULL, max > CORIO_FRAME_MAX_LIMIT), -ENOMEM. */
CORIO_API int corio_frame_recv_alloc(int fd, void **buf, size_t *len, size_t max,
                                     int64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif
