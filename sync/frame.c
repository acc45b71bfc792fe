/* sync/frame.c - frames over a descriptor (corio/frame.h): send and
 * receive, from a task, on the I/O calls of corio/io.h.
 *
 * Receiving fills a decoder that lives on the task's stack (frame_codec.h)
 * and reads only what it asks for: the header, then exactly the payload.
 * That costs a second read per frame, and buys calls that hold no state
 * between them: nothing past the frame is taken from the descriptor, so
 * no read-ahead can be lost when the caller stops, times out or hands the
 * descriptor to someone else.  A caller that wants fewer reads for many
 * small frames can read big chunks itself and feed a decoder.
 *
 * Sending writes the header and the payload in as few calls as the
 * descriptor allows: one send of both on a socket for frames of up to 4
 * KiB (two writes of a small frame would cost a second system call, and on
 * TCP the second segment could wait for the peer's delayed ACK), one
 * writev of both elsewhere. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "corio/frame.h"
#include "corio/io.h"
#include "sync/frame_codec.h"

/* Frames up to this size (header included) go to a socket in one send from
 * a copy on the stack.  Task stacks are 64 KiB by default: 4 KiB is cheap. */
#define SMALL_FRAME 4096

/* ---- deadlines: one timeout for the whole frame ---------------------------- */

static int64_t clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t deadline_of(int64_t timeout_ns) {
    return timeout_ns < 0 ? -1 : clock_ns() + timeout_ns;
}

/* The time left until `deadline` as a timeout (0 once passed: the call
 * then only tries); CORIO_FOREVER stays. */
static int64_t time_left(int64_t deadline) {
    if (deadline < 0) return CORIO_FOREVER;
    int64_t t = deadline - clock_ns();
    return t > 0 ? t : 0;
}

/* ---- send ------------------------------------------------------------------ */

static int send_to_socket(int fd, const unsigned char *hdr, const void *buf, size_t len,
                          int64_t deadline) {
    ssize_t r;
    if (len <= SMALL_FRAME - CORIO_FRAME_HEADER_SIZE) {
        unsigned char frame[SMALL_FRAME];
        memcpy(frame, hdr, CORIO_FRAME_HEADER_SIZE);
        if (len > 0) memcpy(frame + CORIO_FRAME_HEADER_SIZE, buf, len);
        r = corio_send_all(fd, frame, CORIO_FRAME_HEADER_SIZE + len, 0, time_left(deadline), NULL);
        return r < 0 ? (int)r : 0;
    }
    /* MSG_MORE: TCP holds the header back to travel with the payload. */
    r = corio_send_all(fd, hdr, CORIO_FRAME_HEADER_SIZE, MSG_MORE, time_left(deadline), NULL);
    if (r < 0) return (int)r;
    r = corio_send_all(fd, buf, len, 0, time_left(deadline), NULL);
    return r < 0 ? (int)r : 0;
}

static int write_all(int fd, const unsigned char *hdr, const void *buf, size_t len,
                     int64_t deadline) {
    struct iovec iov[2] = {
        {.iov_base = (void *)hdr, .iov_len = CORIO_FRAME_HEADER_SIZE},
        {.iov_base = (void *)buf, .iov_len = len},
    };
    struct iovec *v = iov;
    int cnt = len > 0 ? 2 : 1;
    while (cnt > 0) {
        ssize_t r = corio_writev(fd, v, cnt, -1, time_left(deadline));
        if (r < 0) return (int)r;
        if (r == 0) return -EPIPE; /* no progress on a stream: treat it as closed */
        size_t done = (size_t)r;
        while (cnt > 0 && done >= v->iov_len) {
            done -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + done;
            v->iov_len -= done;
        }
    }
    return 0;
}

int corio_frame_send(int fd, const void *buf, size_t len, int64_t timeout_ns) {
    unsigned char hdr[CORIO_FRAME_HEADER_SIZE];
    int r = corio_frame_header(hdr, buf, len);
    if (r < 0) return r;
    int64_t deadline = deadline_of(timeout_ns);
    /* A socket gets send(2), for MSG_NOSIGNAL; writev(2) would raise
     * SIGPIPE on a closed peer. */
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    if (S_ISSOCK(st.st_mode)) return send_to_socket(fd, hdr, buf, len, deadline);
    return write_all(fd, hdr, buf, len, deadline);
}

/* ---- receive --------------------------------------------------------------- */

/* Read into d what it asks for until it holds a frame, the stream ends, or
 * an error. */
static int recv_into(int fd, struct corio_frame_decoder *d, int64_t deadline) {
    for (;;) {
        void *at = NULL;
        size_t n = 0, taken;
        int r = corio__frame_decoder_space(d, &at, &n);
        if (r < 0) return r;
        ssize_t got = corio_read(fd, at, n, time_left(deadline));
        if (got < 0) return (int)got;
        if (got == 0) return corio_frame_decoder_end(d); /* EOF, or -EPIPE mid-frame */
        r = corio__frame_decoder_commit(d, (size_t)got, &taken);
        if (r != 0) return r;
    }
}

/* What *len says after recv_into returned r. */
static size_t len_after(const struct corio_frame_decoder *d, int r) {
    if (r == CORIO_FRAME_GOT) return d->len;
    /* Interrupted: how much of the frame the stream has lost. */
    if (r == -ETIMEDOUT || r == -ECANCELED) return corio_frame_decoder_pending(d);
    return 0;
}

int corio_frame_recv(int fd, void *buf, size_t cap, size_t *len, int64_t timeout_ns) {
    if (len == NULL || (buf == NULL && cap > 0)) return -EINVAL;
    struct corio_frame_decoder d;
    /* The caller's buffer is the storage; a zero cap still needs an address
     * for empty frames. */
    unsigned char none;
    corio__frame_decoder_init(&d, cap < CORIO_FRAME_MAX_LIMIT ? cap : CORIO_FRAME_MAX_LIMIT,
                              buf != NULL ? buf : &none);
    int r = recv_into(fd, &d, deadline_of(timeout_ns));
    if (r == CORIO_FRAME_GOT || r == CORIO_FRAME_EOF || r == -ETIMEDOUT || r == -ECANCELED)
        *len = len_after(&d, r);
    return r;
}

int corio_frame_recv_alloc(int fd, void **buf, size_t *len, size_t max, int64_t timeout_ns) {
    if (buf == NULL || len == NULL || max > CORIO_FRAME_MAX_LIMIT) return -EINVAL;
    *buf = NULL;
    struct corio_frame_decoder d;
    corio__frame_decoder_init(&d, max == 0 ? CORIO_FRAME_MAX_DEFAULT : max, NULL);
    int r = recv_into(fd, &d, deadline_of(timeout_ns));
    if (r == CORIO_FRAME_GOT || r == CORIO_FRAME_EOF || r == -ETIMEDOUT || r == -ECANCELED)
        *len = len_after(&d, r);
    if (r == CORIO_FRAME_GOT) {
        *buf = corio__frame_decoder_take(&d);
        if (*buf == NULL) r = -ENOMEM;
    }
    corio__frame_decoder_fini(&d);
    return r;
}
