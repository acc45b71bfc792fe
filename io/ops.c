/* io/ops.c - the public I/O calls (corio/io.h): each builds a request and
 * hands it to the backend of the calling task's worker (io/backend.h);
 * the loops over short transfers (send_all, recv_all) sit on top. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "corio/io.h"
#include "io/backend.h"
#include "io/fdclose.h"
#include "runtime/wait.h"

/* Hand `rq` to the backend of the worker the task runs on now: -EPERM
 * outside a task, -ENOTSUP on a runtime without I/O. */
static ssize_t run(const corio__io_req *rq, int64_t timeout_ns) {
    void *p;
    const corio__io_backend *b = corio__io_current(&p);
    if (b == NULL) return p == NULL ? -EPERM : -ENOTSUP;
    return b->run(p, rq, timeout_ns);
}

static ssize_t rw(corio__io_kind kind, int fd, void *buf, size_t len, int64_t off,
                  int64_t timeout_ns) {
    corio__io_req rq = {.kind = kind, .fd = fd, .buf = buf, .len = len, .off = off};
    return run(&rq, timeout_ns);
}

ssize_t corio_read(int fd, void *buf, size_t len, int64_t timeout_ns) {
    return rw(CORIO__IO_READ, fd, buf, len, -1, timeout_ns);
}

ssize_t corio_pread(int fd, void *buf, size_t len, uint64_t off, int64_t timeout_ns) {
    if ((int64_t)off < 0) return -EINVAL;
    return rw(CORIO__IO_READ, fd, buf, len, (int64_t)off, timeout_ns);
}

ssize_t corio_write(int fd, const void *buf, size_t len, int64_t timeout_ns) {
    return rw(CORIO__IO_WRITE, fd, (void *)buf, len, -1, timeout_ns);
}

ssize_t corio_pwrite(int fd, const void *buf, size_t len, uint64_t off, int64_t timeout_ns) {
    if ((int64_t)off < 0) return -EINVAL;
    return rw(CORIO__IO_WRITE, fd, (void *)buf, len, (int64_t)off, timeout_ns);
}

static ssize_t rwv(corio__io_kind kind, int fd, const struct iovec *iov, int iovcnt, int64_t off,
                   int64_t timeout_ns) {
    if (iovcnt < 0 || iovcnt > IOV_MAX) return -EINVAL;
    corio__io_req rq = {.kind = kind, .fd = fd, .iov = iov, .iovcnt = iovcnt,
                        .off = off < 0 ? -1 : off};
    return run(&rq, timeout_ns);
}

ssize_t corio_readv(int fd, const struct iovec *iov, int iovcnt, int64_t off,
                    int64_t timeout_ns) {
    return rwv(CORIO__IO_READV, fd, iov, iovcnt, off, timeout_ns);
}

ssize_t corio_writev(int fd, const struct iovec *iov, int iovcnt, int64_t off,
                     int64_t timeout_ns) {
    return rwv(CORIO__IO_WRITEV, fd, iov, iovcnt, off, timeout_ns);
}

int corio_fsync(int fd, int datasync, int64_t timeout_ns) {
    corio__io_req rq = {.kind = CORIO__IO_FSYNC, .fd = fd, .flags = datasync != 0};
    return (int)run(&rq, timeout_ns);
}

int corio_openat(int dirfd, const char *path, int flags, mode_t mode, int64_t timeout_ns) {
    if (path == NULL) return -EFAULT;
    corio__io_req rq = {.kind = CORIO__IO_OPENAT, .fd = dirfd, .path = path,
                        .flags = flags | O_CLOEXEC, .mode = mode};
    return (int)run(&rq, timeout_ns);
}

static int close_now(int fd) {
    corio__io_req rq = {.kind = CORIO__IO_CLOSE, .fd = fd};
    return (int)run(&rq, CORIO_FOREVER);
}

/* The waits on fd end first (io/fdclose.h). */
int corio_close(int fd) {
    if (fd < 0) return -EBADF;
    void *p;
    const corio__io_backend *b = corio__io_current(&p);
    if (b == NULL) return p == NULL ? -EPERM : -ENOTSUP;
    return corio__fd_close(fd, close_now);
}

ssize_t corio_recv(int fd, void *buf, size_t len, int flags, int64_t timeout_ns) {
    corio__io_req rq = {.kind = CORIO__IO_RECV, .fd = fd, .buf = buf, .len = len, .flags = flags};
    return run(&rq, timeout_ns);
}

ssize_t corio_send(int fd, const void *buf, size_t len, int flags, int64_t timeout_ns) {
    corio__io_req rq = {.kind = CORIO__IO_SEND, .fd = fd, .buf = (void *)buf, .len = len,
                        .flags = flags | MSG_NOSIGNAL};
    return run(&rq, timeout_ns);
}

ssize_t corio_sendv(int fd, const struct iovec *iov, int iovcnt, int flags, int64_t timeout_ns) {
    if (iovcnt < 0 || iovcnt > IOV_MAX || (iov == NULL && iovcnt > 0)) return -EINVAL;
    corio__io_req rq = {.kind = CORIO__IO_SENDMSG, .fd = fd, .iov = iov, .iovcnt = iovcnt,
                        .flags = flags | MSG_NOSIGNAL};
    return run(&rq, timeout_ns);
}

/* A loop of calls (send_all, recv_all) keeps one deadline for all of
 * them: corio__deadline saturates, so a timeout too large for the clock
 * (INT64_MAX) is no deadline (-1), as it would never come; now + timeout
 * would overflow.  Each call gets what is left of it (corio__io_left). */

ssize_t corio_send_all(int fd, const void *buf, size_t len, int flags, int64_t timeout_ns,
                       size_t *sent) {
    int64_t deadline = corio__deadline(timeout_ns);
    size_t done = 0;
    ssize_t r = 0;
    while (done < len) {
        r = corio_send(fd, (const char *)buf + done, len - done, flags, corio__io_left(deadline));
        if (r < 0) break;
        if (r == 0) { /* no progress on a stream socket: treat as closed */
            r = -EPIPE;
            break;
        }
        done += (size_t)r;
    }
    if (sent != NULL) *sent = done;
    return r < 0 ? r : (ssize_t)done;
}

ssize_t corio_recv_all(int fd, void *buf, size_t len, int flags, int64_t timeout_ns,
                       size_t *got) {
    int64_t deadline = corio__deadline(timeout_ns);
    size_t done = 0;
    ssize_t r = 0;
    while (done < len) {
        r = corio_recv(fd, (char *)buf + done, len - done, flags, corio__io_left(deadline));
        if (r < 0) break;
        if (r == 0) {
            r = done == 0 ? 0 : -EPIPE;
            break;
        }
        done += (size_t)r;
    }
    if (got != NULL) *got = done;
    if (r < 0) return r;
    return done == len ? (ssize_t)done : 0;
}

int corio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags,
                 int64_t timeout_ns) {
    corio__io_req rq = {.kind = CORIO__IO_ACCEPT, .fd = fd, .addr = addr, .addrlen = addrlen,
                        .flags = flags | SOCK_CLOEXEC};
    return (int)run(&rq, timeout_ns);
}

int corio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen, int64_t timeout_ns) {
    if (addr == NULL) return -EFAULT;
    corio__io_req rq = {.kind = CORIO__IO_CONNECT, .fd = fd, .caddr = addr, .caddrlen = addrlen};
    return (int)run(&rq, timeout_ns);
}

int corio_shutdown(int fd, int how, int64_t timeout_ns) {
    corio__io_req rq = {.kind = CORIO__IO_SHUTDOWN, .fd = fd, .flags = how};
    return (int)run(&rq, timeout_ns);
}

int corio_poll(int fd, unsigned events, int64_t timeout_ns) {
    corio__io_req rq = {.kind = CORIO__IO_POLL, .fd = fd, .flags = (int)events};
    return (int)run(&rq, timeout_ns);
}

int corio_sleep_ns(int64_t ns) {
    if (ns < 0) return -EINVAL;
    corio__io_req rq = {.kind = CORIO__IO_SLEEP, .ns = ns};
    return (int)run(&rq, CORIO_FOREVER);
}

int corio_sleep_ms(int64_t ms) {
    if (ms < 0 || ms > INT64_MAX / 1000000) return -EINVAL;
    return corio_sleep_ns(ms * 1000000);
}

/* Drop `n` written bytes from the front of iov[*first .. cnt). */
static void iov_advance(struct iovec *iov, int cnt, int *first, size_t n) {
    while (*first < cnt && n >= iov[*first].iov_len) {
        n -= iov[*first].iov_len;
        iov[*first].iov_len = 0;
        ++*first;
    }
    if (n > 0) { /* inside iov[*first], which exists: n < its length */
        iov[*first].iov_base = (char *)iov[*first].iov_base + n;
        iov[*first].iov_len -= n;
    }
}

ssize_t corio_writev_all(int fd, struct iovec *iov, int iovcnt, int64_t timeout_ns,
                         size_t *sent) {
    /* A socket until the first call says otherwise (-ENOTSOCK). */
    return corio__writev_all(fd, iov, iovcnt, timeout_ns, sent, true);
}

ssize_t corio__writev_all(int fd, struct iovec *iov, int iovcnt, int64_t timeout_ns,
                          size_t *sent, bool sock) {
    if (sent != NULL) *sent = 0;
    if (iovcnt < 0 || iovcnt > IOV_MAX || (iov == NULL && iovcnt > 0)) return -EINVAL;
    int64_t deadline = corio__deadline(timeout_ns);
    size_t done = 0;
    ssize_t r = 0;
    int first = 0;
    iov_advance(iov, iovcnt, &first, 0); /* skip leading empty buffers */
    while (first < iovcnt) {
        if (sock) {
            r = corio_sendv(fd, iov + first, iovcnt - first, 0, corio__io_left(deadline));
            if (r == -ENOTSOCK) {
                sock = false;
                continue;
            }
        } else {
            r = corio_writev(fd, iov + first, iovcnt - first, -1, corio__io_left(deadline));
        }
        if (r < 0) break;
        if (r == 0) { /* no progress: the descriptor takes no more */
            r = -EPIPE;
            break;
        }
        done += (size_t)r;
        iov_advance(iov, iovcnt, &first, (size_t)r);
    }
    if (sent != NULL) *sent = done;
    return r < 0 ? r : (ssize_t)done;
}
