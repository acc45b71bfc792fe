/* io/stream.c - the buffered stream of corio/stream.h.
 *
 * One allocation holds the stream and both buffers.  The read side keeps
 * its unread bytes at rbuf[rpos, rpos + rlen): reads take from the front,
 * receives append at the back, and the bytes move to the front only when a
 * receive needs the room behind them (so a stream of short lines costs one
 * memchr and one memcpy per line, and a memmove per buffer's worth).  The
 * write side appends to wbuf[0, wlen) and sends it in one call per flush.
 *
 * A socket is read with recv and written with sendmsg (MSG_NOSIGNAL: a
 * closed peer is -EPIPE, never SIGPIPE); anything else with read/writev.
 * Which one is decided once, by fstat, at create.
 *
 * The two sides share only `fd` and `sock`, which never change, so a
 * reader task and a writer task need no lock between them. */
#define _GNU_SOURCE 1
#include "corio/stream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "corio/io.h"
#include "io/backend.h"
#include "runtime/wait.h"

#define DEFAULT_BUFFER ((size_t)16 << 10)

struct corio_stream {
    int fd;
    bool sock;
    /* read side */
    bool eof;      /* a receive returned 0: nothing more will come */
    bool lent;     /* a chunk is borrowed (its length is rlen at the borrow) */
    size_t lent_len;
    char *rbuf;
    size_t rcap, rpos, rlen;
    /* write side */
    int werr;      /* the sticky error of the write side, or 0 */
    char *wbuf;
    size_t wcap, wlen;
};

int corio_stream_create(corio_stream **out, int fd, const corio_stream_opts *opts) {
    if (out == NULL || fd < 0) return -EINVAL;
    size_t r = opts != NULL && opts->read_buffer != 0 ? opts->read_buffer : DEFAULT_BUFFER;
    size_t w = opts != NULL && opts->write_buffer != 0 ? opts->write_buffer : DEFAULT_BUFFER;
    if (r > CORIO_STREAM_MAX || w > CORIO_STREAM_MAX) return -EINVAL;
    corio_stream *s = malloc(sizeof *s + r + w);
    if (s == NULL) return -ENOMEM;
    memset(s, 0, sizeof *s);
    struct stat st;
    s->fd = fd;
    /* fstat fails only for a bad descriptor; the first call reports that. */
    s->sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    s->rbuf = (char *)(s + 1);
    s->rcap = r;
    s->wbuf = s->rbuf + r;
    s->wcap = w;
    *out = s;
    return 0;
}

int corio_stream_destroy(corio_stream *s) {
    free(s);
    return 0;
}

int corio_stream_fd(const corio_stream *s) { return s == NULL ? -1 : s->fd; }

size_t corio_stream_buffered(const corio_stream *s) { return s == NULL ? 0 : s->rlen; }

size_t corio_stream_pending(const corio_stream *s) { return s == NULL ? 0 : s->wlen; }

/* ---- reading -------------------------------------------------------------- */

static void take(corio_stream *s, size_t n) {
    s->rpos += n;
    s->rlen -= n;
    if (s->rlen == 0) s->rpos = 0; /* an empty buffer starts at the front again */
}

static ssize_t receive(corio_stream *s, void *buf, size_t len, int64_t timeout_ns) {
    return s->sock ? corio_recv(s->fd, buf, len, 0, timeout_ns)
                   : corio_read(s->fd, buf, len, timeout_ns);
}

/* One receive into the room behind the buffered bytes (moving them to the
 * front first when the room is gone): > 0 bytes added, 0 at the end of the
 * stream (remembered), or an error.  The buffer must not be full (every
 * caller checks: a receive of 0 bytes would read as the end). */
static ssize_t fill(corio_stream *s, int64_t timeout_ns) {
    if (s->eof) return 0;
    if (s->rpos + s->rlen == s->rcap) {
        memmove(s->rbuf, s->rbuf + s->rpos, s->rlen);
        s->rpos = 0;
    }
    size_t at = s->rpos + s->rlen;
    ssize_t n = receive(s, s->rbuf + at, s->rcap - at, timeout_ns);
    if (n > 0) s->rlen += (size_t)n;
    if (n == 0) s->eof = true;
    return n;
}

/* Arguments every read call checks: -EINVAL for NULL, -EBUSY while a chunk
 * is lent. */
static int read_ok(const corio_stream *s) {
    if (s == NULL) return -EINVAL;
    return s->lent ? -EBUSY : 0;
}

ssize_t corio_stream_read_until(corio_stream *s, int delim, void *buf, size_t cap,
                                int64_t timeout_ns) {
    int e = read_ok(s);
    if (e != 0) return e;
    if (buf == NULL || cap == 0) return -EINVAL;
    int64_t deadline = corio__deadline(timeout_ns);
    size_t limit = cap < s->rcap ? cap : s->rcap;
    size_t scanned = 0; /* bytes already searched: each byte is looked at once */
    for (;;) {
        const char *p = s->rbuf + s->rpos;
        const char *hit = memchr(p + scanned, (unsigned char)delim, s->rlen - scanned);
        if (hit != NULL) {
            size_t n = (size_t)(hit - p) + 1;
            if (n > cap) return -EMSGSIZE;
            memcpy(buf, p, n);
            take(s, n);
            return (ssize_t)n;
        }
        scanned = s->rlen;
        /* Full without a delimiter: only the end of the stream could still
         * make it a record (a last one without a delimiter), so a buffer
         * with room left takes one more receive to find out. */
        if (s->rlen > limit || (s->rlen == s->rcap && !s->eof)) return -EMSGSIZE;
        ssize_t r = fill(s, corio__io_left(deadline));
        if (r < 0) return r;
        if (r == 0) { /* the end: the tail without a delimiter, if any */
            size_t n = s->rlen;
            if (n > cap) return -EMSGSIZE;
            memcpy(buf, s->rbuf + s->rpos, n);
            take(s, n);
            return (ssize_t)n;
        }
    }
}

int corio_stream_read_line(corio_stream *s, char *buf, size_t cap, size_t *len,
                           int64_t timeout_ns) {
    if (s == NULL || buf == NULL || cap < 2) return -EINVAL;
    ssize_t n = corio_stream_read_until(s, '\n', buf, cap - 1, timeout_ns);
    if (n <= 0) return (int)n;
    size_t l = (size_t)n;
    if (buf[l - 1] == '\n') {
        l--;
        if (l > 0 && buf[l - 1] == '\r') l--;
    }
    buf[l] = '\0';
    if (len != NULL) *len = l;
    return 1;
}

ssize_t corio_stream_skip_until(corio_stream *s, int delim, int64_t timeout_ns) {
    int e = read_ok(s);
    if (e != 0) return e;
    int64_t deadline = corio__deadline(timeout_ns);
    size_t dropped = 0;
    for (;;) {
        const char *p = s->rbuf + s->rpos;
        const char *hit = memchr(p, (unsigned char)delim, s->rlen);
        size_t n = hit != NULL ? (size_t)(hit - p) + 1 : s->rlen;
        take(s, n);
        dropped += n;
        if (hit != NULL) return (ssize_t)dropped;
        ssize_t r = fill(s, corio__io_left(deadline));
        if (r < 0) return r;
        if (r == 0) return (ssize_t)dropped;
    }
}

ssize_t corio_stream_read(corio_stream *s, void *buf, size_t len, int64_t timeout_ns) {
    int e = read_ok(s);
    if (e != 0) return e;
    if (buf == NULL && len > 0) return -EINVAL;
    if (len == 0) return 0;
    if (s->rlen == 0) {
        if (s->eof) return 0;
        /* A large read gains nothing from the buffer: straight in. */
        if (len >= s->rcap) {
            ssize_t n = receive(s, buf, len, timeout_ns);
            if (n == 0) s->eof = true;
            return n;
        }
        ssize_t r = fill(s, timeout_ns);
        if (r <= 0) return r;
    }
    size_t n = len < s->rlen ? len : s->rlen;
    memcpy(buf, s->rbuf + s->rpos, n);
    take(s, n);
    return (ssize_t)n;
}

ssize_t corio_stream_read_full(corio_stream *s, void *buf, size_t len, int64_t timeout_ns,
                               size_t *got) {
    if (got != NULL) *got = 0;
    int e = read_ok(s);
    if (e != 0) return e;
    if (buf == NULL && len > 0) return -EINVAL;
    if (len == 0) return 0;
    int64_t deadline = corio__deadline(timeout_ns);
    if (len <= s->rcap) {
        /* All of it in the buffer first: a failure takes nothing. */
        while (s->rlen < len) {
            if (s->rpos + len > s->rcap) { /* room for len behind the front */
                memmove(s->rbuf, s->rbuf + s->rpos, s->rlen);
                s->rpos = 0;
            }
            ssize_t r = fill(s, corio__io_left(deadline));
            if (r < 0) return r;
            if (r == 0) return s->rlen == 0 ? 0 : -EPIPE;
        }
        memcpy(buf, s->rbuf + s->rpos, len);
        take(s, len);
        if (got != NULL) *got = len;
        return (ssize_t)len;
    }
    size_t done = s->rlen;
    memcpy(buf, s->rbuf + s->rpos, done);
    take(s, done);
    ssize_t r = 0;
    while (done < len) {
        if (s->eof) {
            r = 0;
        } else {
            r = receive(s, (char *)buf + done, len - done, corio__io_left(deadline));
            if (r == 0) s->eof = true;
        }
        if (r <= 0) break;
        done += (size_t)r;
    }
    if (got != NULL) *got = done;
    if (r < 0) return r;
    if (done == len) return (ssize_t)len;
    return done == 0 ? 0 : -EPIPE;
}

ssize_t corio_stream_peek(corio_stream *s, const void **p, size_t want, int64_t timeout_ns) {
    int e = read_ok(s);
    if (e != 0) return e;
    if (p == NULL) return -EINVAL;
    if (want > s->rcap) return -EMSGSIZE;
    int64_t deadline = corio__deadline(timeout_ns);
    while (s->rlen < want) {
        if (s->rpos + want > s->rcap) {
            memmove(s->rbuf, s->rbuf + s->rpos, s->rlen);
            s->rpos = 0;
        }
        ssize_t r = fill(s, corio__io_left(deadline));
        if (r < 0) return r;
        if (r == 0) break;
    }
    *p = s->rbuf + s->rpos;
    return (ssize_t)s->rlen;
}

ssize_t corio_stream_borrow(corio_stream *s, const void **chunk, int64_t timeout_ns) {
    int e = read_ok(s);
    if (e != 0) return e;
    if (chunk == NULL) return -EINVAL;
    if (s->rlen == 0) {
        ssize_t r = fill(s, timeout_ns);
        if (r <= 0) return r;
    }
    *chunk = s->rbuf + s->rpos;
    s->lent = true;
    s->lent_len = s->rlen;
    return (ssize_t)s->rlen;
}

int corio_stream_release(corio_stream *s, size_t used) {
    if (s == NULL || !s->lent || used > s->lent_len) return -EINVAL;
    s->lent = false;
    take(s, used);
    return 0;
}

/* ---- writing -------------------------------------------------------------- */

/* Send iov[0, n) whole: 0, or the error, which becomes the sticky one.
 * What was sent of the buffer leaves it; the caller's bytes (iov[1]) are
 * never copied in after a failure. */
static int send_iov(corio_stream *s, struct iovec *iov, int n, int64_t timeout_ns) {
    size_t sent = 0;
    ssize_t r = corio__writev_all(s->fd, iov, n, timeout_ns, &sent, s->sock);
    size_t from_buf = sent < s->wlen ? sent : s->wlen;
    memmove(s->wbuf, s->wbuf + from_buf, s->wlen - from_buf);
    s->wlen -= from_buf;
    /* Sticky, unless nothing was sent because the call could not even
     * start (a plain thread, a runtime without I/O): then nothing on the
     * wire is ambiguous, and a task may flush later. */
    if (r < 0 && !(sent == 0 && (r == -EPERM || r == -ENOTSUP))) s->werr = (int)r;
    return r < 0 ? (int)r : 0;
}

int corio_stream_flush(corio_stream *s, int64_t timeout_ns) {
    if (s == NULL) return -EINVAL;
    if (s->werr != 0) return s->werr;
    if (s->wlen == 0) return 0;
    struct iovec iov = {.iov_base = s->wbuf, .iov_len = s->wlen};
    return send_iov(s, &iov, 1, timeout_ns);
}

ssize_t corio_stream_write(corio_stream *s, const void *buf, size_t len, int64_t timeout_ns) {
    if (s == NULL || (buf == NULL && len > 0)) return -EINVAL;
    if (s->werr != 0) return s->werr;
    if (len == 0) return 0;
    if (len <= s->wcap - s->wlen) { /* the common case: it fits */
        memcpy(s->wbuf + s->wlen, buf, len);
        s->wlen += len;
        return (ssize_t)len;
    }
    if (len < s->wcap) { /* room after a flush */
        int r = corio_stream_flush(s, timeout_ns);
        if (r < 0) return r;
        memcpy(s->wbuf, buf, len);
        s->wlen = len;
        return (ssize_t)len;
    }
    /* A buffer's worth or more: out now, behind what is buffered. */
    struct iovec iov[2] = {{.iov_base = s->wbuf, .iov_len = s->wlen},
                           {.iov_base = (void *)buf, .iov_len = len}};
    int r = send_iov(s, iov, 2, timeout_ns);
    return r < 0 ? r : (ssize_t)len;
}

ssize_t corio_stream_puts(corio_stream *s, const char *str, int64_t timeout_ns) {
    if (str == NULL) return -EINVAL;
    return corio_stream_write(s, str, strlen(str), timeout_ns);
}

ssize_t corio_stream_vprintf(corio_stream *s, int64_t timeout_ns, const char *fmt, va_list ap) {
    if (s == NULL || fmt == NULL) return -EINVAL;
    if (s->werr != 0) return s->werr;
    va_list again;
    va_copy(again, ap);
    size_t room = s->wcap - s->wlen;
    int n = vsnprintf(s->wbuf + s->wlen, room, fmt, ap);
    ssize_t r;
    if (n < 0) {
        r = -EINVAL;
    } else if ((size_t)n < room) { /* it fitted (vsnprintf needs room for its NUL) */
        s->wlen += (size_t)n;
        r = n;
    } else if ((size_t)n < s->wcap) { /* it fits an empty buffer: flush, format again */
        r = corio_stream_flush(s, timeout_ns);
        if (r == 0) {
            (void)vsnprintf(s->wbuf, s->wcap, fmt, again);
            s->wlen = (size_t)n;
            r = n;
        }
    } else { /* format it aside, then write it as any other bytes */
        char *tmp = malloc((size_t)n + 1);
        if (tmp == NULL) {
            r = -ENOMEM;
        } else {
            (void)vsnprintf(tmp, (size_t)n + 1, fmt, again);
            r = corio_stream_write(s, tmp, (size_t)n, timeout_ns);
            free(tmp);
        }
    }
    va_end(again);
    return r;
}

ssize_t corio_stream_printf(corio_stream *s, int64_t timeout_ns, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ssize_t r = corio_stream_vprintf(s, timeout_ns, fmt, ap);
    va_end(ap);
    return r;
}
