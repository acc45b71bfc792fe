/* io/ops.c - the public I/O calls (corio/io.h): each prepares one SQE on
 * the calling task's ring and waits for it with the protocol of op.h. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "corio/io.h"
#include "io/op.h"
#include "runtime/block.h"

/* The kernel moves at most this much in one read or write (MAX_RW_COUNT);
 * the SQE's length field is 32 bits. */
#define RW_MAX 0x7ffff000u

static unsigned rw_len(size_t len) { return len > RW_MAX ? RW_MAX : (unsigned)len; }

/* BEGIN(timeout): declares `op` and `sqe`, returns the error if the
 * operation cannot start. */
#define BEGIN(timeout)                                                   \
    corio__op op;                                                        \
    int err_;                                                            \
    struct io_uring_sqe *sqe = corio__op_begin(&op, (timeout), &err_);   \
    if (sqe == NULL) return err_

ssize_t corio_read(int fd, void *buf, size_t len, int64_t timeout_ns) {
    BEGIN(timeout_ns);
    io_uring_prep_read(sqe, fd, buf, rw_len(len), (uint64_t)-1);
    return corio__op_wait(&op);
}

ssize_t corio_pread(int fd, void *buf, size_t len, uint64_t off, int64_t timeout_ns) {
    if ((int64_t)off < 0) return -EINVAL;
    BEGIN(timeout_ns);
    io_uring_prep_read(sqe, fd, buf, rw_len(len), off);
    return corio__op_wait(&op);
}

ssize_t corio_write(int fd, const void *buf, size_t len, int64_t timeout_ns) {
    BEGIN(timeout_ns);
    io_uring_prep_write(sqe, fd, buf, rw_len(len), (uint64_t)-1);
    return corio__op_wait(&op);
}

ssize_t corio_pwrite(int fd, const void *buf, size_t len, uint64_t off, int64_t timeout_ns) {
    if ((int64_t)off < 0) return -EINVAL;
    BEGIN(timeout_ns);
    io_uring_prep_write(sqe, fd, buf, rw_len(len), off);
    return corio__op_wait(&op);
}

ssize_t corio_readv(int fd, const struct iovec *iov, int iovcnt, int64_t off,
                    int64_t timeout_ns) {
    if (iovcnt < 0 || iovcnt > IOV_MAX) return -EINVAL;
    BEGIN(timeout_ns);
    io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt, off < 0 ? (uint64_t)-1 : (uint64_t)off);
    return corio__op_wait(&op);
}

ssize_t corio_writev(int fd, const struct iovec *iov, int iovcnt, int64_t off,
                     int64_t timeout_ns) {
    if (iovcnt < 0 || iovcnt > IOV_MAX) return -EINVAL;
    BEGIN(timeout_ns);
    io_uring_prep_writev(sqe, fd, iov, (unsigned)iovcnt, off < 0 ? (uint64_t)-1 : (uint64_t)off);
    return corio__op_wait(&op);
}

int corio_fsync(int fd, int datasync, int64_t timeout_ns) {
    BEGIN(timeout_ns);
    io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
    return corio__op_wait(&op);
}

int corio_openat(int dirfd, const char *path, int flags, mode_t mode, int64_t timeout_ns) {
    if (path == NULL) return -EFAULT;
    BEGIN(timeout_ns);
    io_uring_prep_openat(sqe, dirfd, path, flags | O_CLOEXEC, mode);
    return corio__op_wait(&op);
}

int corio_close(int fd) {
    corio__op op;
    int err;
    struct io_uring_sqe *sqe = corio__op_begin_unkillable(&op, &err);
    if (sqe == NULL) return err;
    io_uring_prep_close(sqe, fd);
    return corio__op_wait(&op);
}

ssize_t corio_recv(int fd, void *buf, size_t len, int flags, int64_t timeout_ns) {
    BEGIN(timeout_ns);
    io_uring_prep_recv(sqe, fd, buf, rw_len(len), flags);
    return corio__op_wait(&op);
}

ssize_t corio_send(int fd, const void *buf, size_t len, int flags, int64_t timeout_ns) {
    /* Try first: a send usually finds room in the socket buffer, and then
     * one non-blocking system call is cheaper than a trip through the ring
     * and the run queue (two switches, an SQE and a CQE).  Such a call
     * spends the cooperative budget (runtime/block.h), so a task that
     * keeps sending still lets the others run.  Only from a task of a
     * runtime with I/O, as the ring path; -EAGAIN (no room) and errors
     * other than the socket's own take the ring path. */
    corio__task *self = corio__block_self();
    if (self != NULL && !corio__block_killed(self) && corio__ring_current() != NULL) {
        ssize_t n = send(fd, buf, len, flags | MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            (void)corio__block_spend(); /* a kill during its yield: seen by the next call */
            return n;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTSOCK && errno != EINTR)
            return -errno;
    }
    BEGIN(timeout_ns);
    io_uring_prep_send(sqe, fd, buf, rw_len(len), flags | MSG_NOSIGNAL);
    return corio__op_wait(&op);
}

/* The time left of a deadline for a loop of calls; CORIO_FOREVER stays. */
static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t left(int64_t deadline) {
    if (deadline < 0) return CORIO_FOREVER;
    int64_t l = deadline - now_ns();
    return l > 0 ? l : 0;
}

ssize_t corio_send_all(int fd, const void *buf, size_t len, int flags, int64_t timeout_ns,
                       size_t *sent) {
    int64_t deadline = timeout_ns < 0 ? -1 : now_ns() + timeout_ns;
    size_t done = 0;
    ssize_t r = 0;
    while (done < len) {
        r = corio_send(fd, (const char *)buf + done, len - done, flags, left(deadline));
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
    int64_t deadline = timeout_ns < 0 ? -1 : now_ns() + timeout_ns;
    size_t done = 0;
    ssize_t r = 0;
    while (done < len) {
        r = corio_recv(fd, (char *)buf + done, len - done, flags, left(deadline));
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
    BEGIN(timeout_ns);
    io_uring_prep_accept(sqe, fd, addr, addrlen, flags | SOCK_CLOEXEC);
    return corio__op_wait(&op);
}

int corio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen, int64_t timeout_ns) {
    if (addr == NULL) return -EFAULT;
    BEGIN(timeout_ns);
    io_uring_prep_connect(sqe, fd, addr, addrlen);
    return corio__op_wait(&op);
}

int corio_shutdown(int fd, int how, int64_t timeout_ns) {
    BEGIN(timeout_ns);
    io_uring_prep_shutdown(sqe, fd, how);
    return corio__op_wait(&op);
}

int corio_poll(int fd, unsigned events, int64_t timeout_ns) {
    BEGIN(timeout_ns);
    io_uring_prep_poll_add(sqe, fd, events);
    return corio__op_wait(&op);
}

int corio_sleep_ns(int64_t ns) {
    if (ns < 0) return -EINVAL;
    BEGIN(CORIO_FOREVER);
    op.ts.tv_sec = ns / 1000000000;
    op.ts.tv_nsec = ns % 1000000000;
    io_uring_prep_timeout(sqe, &op.ts, 0, 0);
    int r = corio__op_wait(&op);
    return r == -ETIME ? 0 : r;
}

int corio_sleep_ms(int64_t ms) {
    if (ms < 0 || ms > INT64_MAX / 1000000) return -EINVAL;
    return corio_sleep_ns(ms * 1000000);
}
