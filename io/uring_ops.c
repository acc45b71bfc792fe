/* io/uring_ops.c - the io_uring backend's operations: each request becomes
 * one SQE on the calling task's ring, waited for with the protocol of
 * op.h. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corio/io.h"
#include "io/backend.h"
#include "io/fdclose.h"
#include "io/op.h"
#include "runtime/block.h"
#include "runtime/note.h"
#include "runtime/wait.h"

/* The kernel moves at most this much in one read or write (MAX_RW_COUNT);
 * the SQE's length field is 32 bits. */
#define RW_MAX 0x7ffff000u

static unsigned rw_len(size_t len) { return len > RW_MAX ? RW_MAX : (unsigned)len; }

static uint64_t file_off(int64_t off) { return off < 0 ? (uint64_t)-1 : (uint64_t)off; }

/* corio_send tries first: a send usually finds room in the socket buffer,
 * and then one non-blocking system call is cheaper than a trip through the
 * ring and the run queue (two switches, an SQE and a CQE).  Such a call
 * spends the cooperative budget (runtime/block.h), so a task that keeps
 * sending still lets the others run.  -EAGAIN (no room) and errors other
 * than the socket's own take the ring path.  1: done, *out set. */
static int send_now(const corio__io_req *rq, ssize_t *out) {
    if (corio__block_killed(corio__block_self())) return 0;
    ssize_t n;
    if (rq->kind == CORIO__IO_SENDMSG) {
        struct msghdr m = {.msg_iov = (struct iovec *)rq->iov, .msg_iovlen = (size_t)rq->iovcnt};
        n = sendmsg(rq->fd, &m, rq->flags | MSG_DONTWAIT);
    } else {
        n = send(rq->fd, rq->buf, rq->len, rq->flags | MSG_DONTWAIT);
    }
    if (n >= 0) {
        (void)corio__block_spend(); /* a kill during its yield: seen by the next call */
        *out = n;
        return 1;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTSOCK && errno != EINTR) {
        *out = -errno;
        return 1;
    }
    return 0;
}

/* ---- openat of a FIFO ----------------------------------------------------
 *
 * openat(2) of a FIFO without O_NONBLOCK waits for the other end: a
 * reader for a writer, a writer for a reader.  The kernel's first attempt
 * at an io_uring openat runs inline with O_NONBLOCK added (measured on
 * 6.18), so with no peer an O_WRONLY open fails with -ENXIO at once, and
 * an O_RDONLY one succeeds at once without waiting (a read then sees EOF
 * before any writer came).  So, when the caller did not ask for
 * O_NONBLOCK:
 *   - -ENXIO (O_WRONLY) or -EAGAIN: the open again, blocking, in io-wq;
 *   - a read end of a FIFO (one fstat, for O_RDONLY opens only): the
 *     descriptor stays, and a second open of the same FIFO (through
 *     /proc/self/fd, so a rename of the path cannot change it) waits in
 *     io-wq for a writer and is closed: a writer waiting for a reader is
 *     let through by the first, as with open(2).
 * A blocking open is interrupted, not cancelled, by a timeout or a kill;
 * op.c turns that into -ETIMEDOUT or -ECANCELED.  The deadline covers both
 * opens. */

static int open_blocking(int dirfd, const char *path, int flags, mode_t mode, int64_t deadline) {
    int64_t left = corio__io_left(deadline);
    corio__op op;
    int err;
    struct io_uring_sqe *sqe = corio__op_begin_blocking(&op, left, &err);
    if (sqe == NULL) return err;
    io_uring_prep_openat(sqe, dirfd, path, flags, mode);
    return corio__op_wait(&op);
}

static int open_wait_peer(const corio__io_req *rq, int res, int64_t deadline) {
    if (rq->flags & (O_NONBLOCK | O_PATH)) return res; /* O_PATH opens nothing to wait on */
    int acc = rq->flags & O_ACCMODE;
    if ((res == -ENXIO && acc == O_WRONLY) || res == -EAGAIN)
        return open_blocking(rq->fd, rq->path, rq->flags, rq->mode, deadline);
    struct stat st;
    if (res < 0 || acc != O_RDONLY || fstat(res, &st) != 0 || !S_ISFIFO(st.st_mode)) return res;
    char self[40];
    snprintf(self, sizeof self, "/proc/self/fd/%d", res);
    int w = open_blocking(AT_FDCWD, self, O_RDONLY | O_CLOEXEC, 0, deadline);
    if (w >= 0) {
        (void)close(w); /* a FIFO's close does not block */
        return res;
    }
    if (w == -ETIMEDOUT || w == -ECANCELED || w == -EINTR) {
        (void)close(res);
        return w;
    }
    return res; /* no /proc: the descriptor as the kernel gave it */
}

/* The request on the ring; `watch`: its descriptor's, or NULL. */
static ssize_t on_ring(const corio__io_req *rq, int64_t timeout_ns, const corio__fdwatch *watch) {
    /* The message header of a SENDMSG: read by the kernel until the
     * operation completes, which is before this function returns. */
    struct msghdr msg = {.msg_iov = (struct iovec *)rq->iov, .msg_iovlen = (size_t)rq->iovcnt};
    /* Only a FIFO open may need a second submission (above). */
    int64_t deadline = rq->kind == CORIO__IO_OPENAT ? corio__deadline(timeout_ns) : -1;
    corio__op op;
    int err;
    struct io_uring_sqe *sqe =
        rq->kind == CORIO__IO_CLOSE ? corio__op_begin_unkillable(&op, &err)
        : rq->kind == CORIO__IO_SLEEP ? corio__op_begin(&op, CORIO_FOREVER, &err)
                                      : corio__op_begin(&op, timeout_ns, &err);
    if (sqe == NULL) return err;
    op.watch = watch;
    switch (rq->kind) {
    case CORIO__IO_READ:
        io_uring_prep_read(sqe, rq->fd, rq->buf, rw_len(rq->len), file_off(rq->off));
        break;
    case CORIO__IO_WRITE:
        io_uring_prep_write(sqe, rq->fd, rq->buf, rw_len(rq->len), file_off(rq->off));
        break;
    case CORIO__IO_READV:
        io_uring_prep_readv(sqe, rq->fd, rq->iov, (unsigned)rq->iovcnt, file_off(rq->off));
        break;
    case CORIO__IO_WRITEV:
        io_uring_prep_writev(sqe, rq->fd, rq->iov, (unsigned)rq->iovcnt, file_off(rq->off));
        break;
    case CORIO__IO_FSYNC:
        io_uring_prep_fsync(sqe, rq->fd, rq->flags ? IORING_FSYNC_DATASYNC : 0);
        break;
    case CORIO__IO_OPENAT:
        io_uring_prep_openat(sqe, rq->fd, rq->path, rq->flags, rq->mode);
        break;
    case CORIO__IO_CLOSE:
        io_uring_prep_close(sqe, rq->fd);
        break;
    case CORIO__IO_RECV:
        io_uring_prep_recv(sqe, rq->fd, rq->buf, rw_len(rq->len), rq->flags);
        break;
    case CORIO__IO_SEND:
        io_uring_prep_send(sqe, rq->fd, rq->buf, rw_len(rq->len), rq->flags);
        break;
    case CORIO__IO_SENDMSG:
        io_uring_prep_sendmsg(sqe, rq->fd, &msg, (unsigned)rq->flags);
        break;
    case CORIO__IO_ACCEPT:
        io_uring_prep_accept(sqe, rq->fd, rq->addr, rq->addrlen, rq->flags);
        break;
    case CORIO__IO_CONNECT:
        io_uring_prep_connect(sqe, rq->fd, rq->caddr, rq->caddrlen);
        break;
    case CORIO__IO_SHUTDOWN:
        io_uring_prep_shutdown(sqe, rq->fd, rq->flags);
        break;
    case CORIO__IO_POLL:
        io_uring_prep_poll_add(sqe, rq->fd, (unsigned)rq->flags);
        break;
    case CORIO__IO_SLEEP: {
        op.ts.tv_sec = rq->ns / 1000000000;
        op.ts.tv_nsec = rq->ns % 1000000000;
        io_uring_prep_timeout(sqe, &op.ts, 0, 0);
        int r = corio__op_wait(&op);
        return r == -ETIME ? 0 : r; /* the timer's own CQE: it expired */
    }
    }
    if (rq->kind == CORIO__IO_OPENAT) return open_wait_peer(rq, corio__op_wait(&op), deadline);
    return corio__op_wait(&op);
}

static ssize_t uring_run(void *p, const corio__io_req *rq, int64_t timeout_ns) {
    (void)p; /* op_begin reads the current ring itself, on every retry */
#if defined(CORIO_TSAN)
    /* TSan models descriptors through its interceptors: a close it does
     * not see (the ring's) leaves the number marked as in use, and the
     * next pipe2 or socket that gets the number on another thread is
     * reported as a race.  Under TSan the close is close(2), which it
     * sees; a socket's or a pipe's close does not block. */
    if (rq->kind == CORIO__IO_CLOSE) return close(rq->fd) < 0 && errno != EINTR ? -errno : 0;
#endif
    ssize_t now;
    if ((rq->kind == CORIO__IO_SEND || rq->kind == CORIO__IO_SENDMSG) && send_now(rq, &now))
        return now;
    corio__io_note(rq);
    ssize_t n;
    if (!corio__io_watched(rq)) {
        n = on_ring(rq, timeout_ns, NULL);
    } else {
        corio__fdwatch watch;
        n = corio__fdwatch_add(&watch, rq->fd);
        if (n >= 0) { /* a yield (1) is harmless: op_begin finds the ring */
            n = on_ring(rq, timeout_ns, &watch);
            corio__fdwatch_del(&watch);
        }
    }
    corio__note_done();
    return n;
}

const corio__io_backend corio__uring_backend = {
    .name = "io_uring",
    .parker = &corio__uring_parker,
    .run = uring_run,
};
