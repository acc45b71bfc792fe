/* corio/stream.h - a buffered stream over a descriptor: lines, records up
 * to a delimiter, exact reads, peeks, and a buffered writer.
 *
 * A stream wraps a descriptor the caller owns (a socket, a pipe, a file at
 * its position) with a read buffer and a write buffer.  Every call that may
 * wait is made from a task, suspends only that task, takes the same
 * timeout argument as the calls of corio/io.h (nanoseconds; CORIO_FOREVER,
 * a negative value, means none) and returns the errors of those calls:
 *   -EPERM       not called from a task (only when the call had to wait:
 *                what is buffered is served from any thread);
 *   -ETIMEDOUT   the timeout passed (docs/errors.md, "One timeout error");
 *   -ECANCELED   the task was killed;
 *   -EBADF, -ECONNRESET, ...: the system call's own errors.
 * Reads that fail take nothing from the stream (except corio_stream_read_full
 * of more than the buffer holds, which says what it took), so a read may
 * be tried again after -ETIMEDOUT.  Writes follow Go's bufio.Writer: the
 * first failed write or flush (a timeout included: part of the buffer may
 * already be on the wire) breaks the write side, and every later write or
 * flush returns the same error; corio_stream_pending says what was not
 * sent.  A flush that could not start (-EPERM outside a task, -ENOTSUP
 * on a runtime without I/O: nothing was sent) does not break it.
 *
 * Threads: one task may read while another writes (the two sides share
 * nothing but the descriptor); two tasks must not read, or write, the same
 * stream at once.  A stream is not tied to a worker: its task may move.
 *
 * The read side is shaped so that the runtime may own the receive buffers:
 * corio_stream_borrow lends the next chunk of received bytes in place and
 * corio_stream_release gives it back; the copying calls are built on the
 * same buffer.  docs/api/stream.md has examples and the costs. */
#ifndef CORIO_STREAM_H
#define CORIO_STREAM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "corio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_stream corio_stream;

/** Options for corio_stream_create; zero fields mean "default".
 *  Initialise with `corio_stream_opts o = {0};` (C) or `o{}` (C++). */
typedef struct corio_stream_opts {
    /** Read buffer in bytes (default 16 KiB, at most CORIO_STREAM_MAX).  It
     *  bounds a line or a record: a longer one is -EMSGSIZE. */
    size_t read_buffer;
    /** Write buffer in bytes (default 16 KiB, at most CORIO_STREAM_MAX). */
    size_t write_buffer;
} corio_stream_opts;

/** The largest buffer a stream takes (64 MiB). */
#define CORIO_STREAM_MAX ((size_t)64 << 20)

/** A stream over `fd` (not taken over: corio_stream_destroy leaves it
 *  open).  Any thread.  Errors: -EINVAL (s NULL, fd < 0, a buffer size
 *  above CORIO_STREAM_MAX), -ENOMEM. */
CORIO_API int corio_stream_create(corio_stream **s, int fd, const corio_stream_opts *opts);
/** Free the stream and its buffers; the descriptor stays open, and bytes
 *  written but not flushed are dropped (check corio_stream_pending, or
 *  flush first).  Any thread, once no task uses the stream.  0, also for
 *  NULL. */
CORIO_API int corio_stream_destroy(corio_stream *s);
/** The descriptor (-1 for NULL). */
CORIO_API int corio_stream_fd(const corio_stream *s);

/* ---- reading -------------------------------------------------------------- */

/** Read one record ending with `delim` (a byte value) into buf: its length,
 *  the delimiter included.  At the end of the stream: what is left without
 *  a delimiter (the last record of a stream that did not end with one), and
 *  0 once nothing is left (a last record that fills the whole read
 *  buffer is -EMSGSIZE: the stream cannot receive again to see the end).
 *  -EMSGSIZE: no delimiter within the first min(cap, read buffer) bytes; nothing is taken, so the caller may take
 *  the record in pieces (corio_stream_read) or drop it
 *  (corio_stream_skip_until).  -EINVAL: s or buf NULL, cap 0.  -EBUSY: a
 *  chunk is borrowed.  May suspend (only when the buffer holds no whole
 *  record). */
CORIO_API ssize_t corio_stream_read_until(corio_stream *s, int delim, void *buf, size_t cap,
                                          int64_t timeout_ns);
/** Read one line: 1, with the line in buf as a NUL-terminated string
 *  without its "\n" or "\r\n" and its length in *len (when len is not
 *  NULL); 0 at the end of the stream (nothing left).  A last line without
 *  "\n" counts as a line.  -EMSGSIZE: the line, with its "\n", does not
 *  fit in cap - 1 bytes or in the read buffer (nothing taken, as
 *  corio_stream_read_until).  -EINVAL: s or buf NULL, cap < 2.  Other
 *  errors as corio_stream_read_until.  May suspend. */
CORIO_API int corio_stream_read_line(corio_stream *s, char *buf, size_t cap, size_t *len,
                                     int64_t timeout_ns);
/** Drop everything up to and including the next `delim` (any length; the
 *  answer to -EMSGSIZE): the number of bytes dropped, 0 at the end of the
 *  stream.  After an error the bytes dropped so far are gone.  May
 *  suspend. */
CORIO_API ssize_t corio_stream_skip_until(corio_stream *s, int delim, int64_t timeout_ns);
/** Read up to `len` bytes: what is buffered, or (when nothing is) one
 *  receive; a read of `len` >= the read buffer with nothing buffered goes
 *  straight into buf.  0 at the end of the stream (or for len 0).  May
 *  suspend (only when nothing is buffered). */
CORIO_API ssize_t corio_stream_read(corio_stream *s, void *buf, size_t len, int64_t timeout_ns);
/** Read exactly `len` bytes: len; 0 when the stream ended before the
 *  first byte; -EPIPE when it ended in the middle.  For len <= the read
 *  buffer nothing is taken unless all of it came (a timeout may be
 *  retried).  A longer read fills buf directly, and after an error the
 *  bytes already in buf are taken from the stream: *got says how many
 *  (when got is not NULL; also set on success).  May suspend. */
CORIO_API ssize_t corio_stream_read_full(corio_stream *s, void *buf, size_t len,
                                         int64_t timeout_ns, size_t *got);
/** Look at the next bytes without taking them: waits until at least
 *  `want` bytes are buffered (or the stream ended), sets *p to them and
 *  returns how many are buffered (>= want, or fewer at the end of the
 *  stream).  want 0: what is buffered now, without waiting.  -EMSGSIZE:
 *  want is above the read buffer.  The bytes stay valid until the next
 *  call on the stream's read side.  May suspend. */
CORIO_API ssize_t corio_stream_peek(corio_stream *s, const void **p, size_t want,
                                    int64_t timeout_ns);
/** Bytes buffered: what a read takes without waiting.  0 for NULL. */
CORIO_API size_t corio_stream_buffered(const corio_stream *s);

/** Borrow the next chunk of received bytes in place (no copy): *chunk
 *  points at them and the result is their number; 0 at the end of the
 *  stream.  Waits for one receive when nothing is buffered.  The chunk is
 *  the caller's until corio_stream_release, which must come before any
 *  other read call on the stream (those return -EBUSY meanwhile, as does
 *  a second borrow).  May suspend. */
CORIO_API ssize_t corio_stream_borrow(corio_stream *s, const void **chunk, int64_t timeout_ns);
/** Give the borrowed chunk back, having used (taken from the stream) its
 *  first `used` bytes; the rest is read again by the next call.  -EINVAL:
 *  nothing is borrowed, or used is above the chunk's length.  Never
 *  suspends. */
CORIO_API int corio_stream_release(corio_stream *s, size_t used);

/* ---- writing -------------------------------------------------------------- */

/** Write `len` bytes into the stream: len once they are buffered or sent.
 *  Small writes are copied into the write buffer and sent by a flush (or
 *  when the buffer fills); a write of a buffer's size or more goes out at
 *  once together with what is buffered (one writev).  Errors: those of the
 *  descriptor, sticky (see the top of this header); -EPIPE when the peer
 *  is gone (never SIGPIPE on a socket).  May suspend. */
CORIO_API ssize_t corio_stream_write(corio_stream *s, const void *buf, size_t len,
                                     int64_t timeout_ns);
/** corio_stream_write of a string (without its NUL). */
CORIO_API ssize_t corio_stream_puts(corio_stream *s, const char *str, int64_t timeout_ns);
/** printf into the stream: the number of bytes written.  -EINVAL for a
 *  bad format; otherwise as corio_stream_write.  May suspend. */
CORIO_API ssize_t corio_stream_printf(corio_stream *s, int64_t timeout_ns, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** corio_stream_printf with a va_list. */
CORIO_API ssize_t corio_stream_vprintf(corio_stream *s, int64_t timeout_ns, const char *fmt,
                                       va_list ap) __attribute__((format(printf, 3, 0)));
/** Send everything buffered: 0, or the sticky error.  May suspend. */
CORIO_API int corio_stream_flush(corio_stream *s, int64_t timeout_ns);
/** Bytes in the stream's write buffer, not sent yet.  0 for NULL.  After
 *  a failed write of a buffer's size or more (which goes out from the
 *  caller's memory), the caller's bytes that did not go are not counted:
 *  the connection is to be dropped anyway (the error is sticky). */
CORIO_API size_t corio_stream_pending(const corio_stream *s);

#ifdef __cplusplus
}
#endif

#endif
