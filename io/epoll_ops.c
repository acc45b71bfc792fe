/* io/epoll_ops.c - the epoll backend's operations.
 *
 * Sockets, pipes and other pollable descriptors: the call is tried first
 * without blocking; only when it would block (EAGAIN) does the task wait
 * for readiness on its worker's epoll (io/epoll.c), and then it tries
 * again, until the deadline.  A call that succeeds at once spends one
 * unit of the cooperative budget (runtime/block.h), as corio_send does on
 * io_uring, so a task that never waits still lets the others run.
 *
 * Only sockets have a per-call "do not block" flag (MSG_DONTWAIT), and
 * accept has none.  A listening socket that is non-blocking (corio_listen
 * makes them so) is tried first as well.  For a pipe, a terminal or a
 * blocking listening socket, the task first checks readiness (poll with a
 * zero timeout), waits for it if need be, and then makes the call: it
 * cannot block unless another reader took the data in between (docs/io.md,
 * "Limits").  connect on a blocking socket sets O_NONBLOCK for the call
 * and puts the flags back.
 *
 * Regular files (and block devices, directories) are always "ready" and
 * epoll refuses them: their reads, writes, openat and fsync run in the
 * blocking-call pool (corio_blocking), which suspends only the task.
 * There they are not cancelled by a kill or a timeout: the call finishes,
 * its result is returned, and the next call sees the kill. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "corio/io.h"
#include "corio/sync.h"
#include "io/backend.h"
#include "io/epoll.h"
#include "io/epoll_fifo.h"
#include "io/fdclose.h"
#include "runtime/block.h"
#include "runtime/note.h"

/* ---- the blocking-call pool --------------------------------------------- */

static ssize_t neg(ssize_t r) { return r < 0 ? -errno : r; }

/* The call itself, as a blocking system call. */
static ssize_t sync_call(const corio__io_req *rq) {
    switch (rq->kind) {
    case CORIO__IO_READ:
        return neg(rq->off < 0 ? read(rq->fd, rq->buf, rq->len)
                               : pread(rq->fd, rq->buf, rq->len, (off_t)rq->off));
    case CORIO__IO_WRITE:
        return neg(rq->off < 0 ? write(rq->fd, rq->buf, rq->len)
                               : pwrite(rq->fd, rq->buf, rq->len, (off_t)rq->off));
    case CORIO__IO_READV:
        return neg(rq->off < 0 ? readv(rq->fd, rq->iov, rq->iovcnt)
                               : preadv(rq->fd, rq->iov, rq->iovcnt, (off_t)rq->off));
    case CORIO__IO_WRITEV:
        return neg(rq->off < 0 ? writev(rq->fd, rq->iov, rq->iovcnt)
                               : pwritev(rq->fd, rq->iov, rq->iovcnt, (off_t)rq->off));
    case CORIO__IO_FSYNC:
        return neg(rq->flags ? fdatasync(rq->fd) : fsync(rq->fd));
    case CORIO__IO_OPENAT:
        return neg(openat(rq->fd, rq->path, rq->flags, rq->mode));
    default:
        return -EINVAL;
    }
}

static void *pool_fn(void *arg) { return (void *)(intptr_t)sync_call(arg); }

static ssize_t in_pool(const corio__io_req *rq) {
    void *res = NULL;
    int r = corio_blocking(pool_fn, (void *)rq, &res);
    /* -ECANCELED: killed while the call ran; it completed, and its result
     * counts (io.h); the next call sees the kill. */
    if (r < 0 && r != -ECANCELED) return r;
    return (ssize_t)(intptr_t)res;
}

/* ---- waiting for readiness ---------------------------------------------- */

/* Wait until fd has `events` or the deadline passes; 0 to try again, or
 * the error that ends the call.  The worker is read afresh: the task may
 * have moved since its last wait (DESIGN trap 1). */
static int wait_ready(int fd, unsigned events, int64_t deadline, const corio__fdwatch *watch) {
    void *p = NULL;
    (void)corio__io_current(&p);
    int r = corio__epoll_wait(p, fd, events, deadline, watch);
    if (r < 0) return r;
    /* Ready, but killed meanwhile: nothing has moved yet, stop here. */
    if (corio__block_killed(corio__block_self())) return -ECANCELED;
    return 0;
}

/* Ready now (a zero-timeout poll)?  Regular files always are. */
static bool ready_now(int fd, unsigned events, int *revents) {
    struct pollfd pfd = {.fd = fd, .events = (short)events};
    int n = poll(&pfd, 1, 0);
    *revents = n > 0 ? pfd.revents : 0;
    return n > 0;
}

/* A call that completed without waiting. */
static ssize_t at_once(ssize_t r, bool waited) {
    if (!waited) (void)corio__block_spend(); /* a kill during its yield: seen by the next call */
    return r;
}

static bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

/* ---- descriptors that are not regular files ----------------------------- */

static bool is_file(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return false; /* EBADF: the call itself says so */
    return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode);
}

static bool is_input(corio__io_kind k) {
    return k == CORIO__IO_READ || k == CORIO__IO_READV || k == CORIO__IO_RECV ||
           k == CORIO__IO_ACCEPT;
}

/* A write to a pipe (or another pollable descriptor that is not a socket)
 * once it is writable.  Readiness means some room, not room for the whole
 * buffer: a plain writev of a large buffer to a blocking pipe would block
 * the worker until the reader took it all (and deadlock a process bridge
 * whose reader waits for our replies).  RWF_NOWAIT makes the kernel write
 * what fits and return; where a descriptor does not support it, the
 * write is cut to PIPE_BUF bytes, which a writable pipe always takes
 * without blocking.  Short writes are what write(2) may return anyway. */
static ssize_t nonsock_write(int fd, const struct iovec *iov, int iovcnt) {
    ssize_t n = pwritev2(fd, iov, iovcnt, -1, RWF_NOWAIT);
    if (n >= 0 || errno != EOPNOTSUPP) return neg(n);
    struct iovec cut = iov[0];
    for (int i = 0; i < iovcnt && cut.iov_len == 0; i++) cut = iov[i]; /* first non-empty */
    if (cut.iov_len > PIPE_BUF) cut.iov_len = PIPE_BUF;
    return neg(writev(fd, &cut, 1));
}

/* A read of a pipe (or another pollable descriptor that is not a socket)
 * that never blocks the worker: readiness said "some data", but another
 * task reading the same descriptor may have taken it in between, and a
 * plain read of a blocking pipe would then block the worker until the
 * next write (and a corio_close of it, which waits for its readers to
 * leave, with it).  RWF_NOWAIT makes the kernel answer EAGAIN instead,
 * and the call waits again.  Where a descriptor does not support it (a
 * terminal), the plain read after a readiness check, as before. */
static ssize_t nonsock_read(int fd, const struct iovec *iov, int iovcnt) {
    ssize_t n = preadv2(fd, iov, iovcnt, -1, RWF_NOWAIT);
    if (n >= 0 || errno != EOPNOTSUPP) return neg(n);
    return neg(readv(fd, iov, iovcnt));
}

/* The call without blocking where the socket layer allows it (MSG_DONTWAIT),
 * else as it is.  *sock: false once the descriptor proved not a socket. */
static ssize_t try_call(const corio__io_req *rq, bool *sock) {
    struct iovec one = {.iov_base = rq->buf, .iov_len = rq->len};
    const struct iovec *iov = rq->iov != NULL ? rq->iov : &one;
    int iovcnt = rq->iov != NULL ? rq->iovcnt : 1;
    switch (rq->kind) {
    case CORIO__IO_RECV:
        return neg(recv(rq->fd, rq->buf, rq->len, rq->flags | MSG_DONTWAIT));
    case CORIO__IO_SEND:
        return neg(send(rq->fd, rq->buf, rq->len, rq->flags | MSG_DONTWAIT));
    case CORIO__IO_SENDMSG: {
        struct msghdr m = {.msg_iov = (struct iovec *)rq->iov, .msg_iovlen = (size_t)rq->iovcnt};
        return neg(sendmsg(rq->fd, &m, rq->flags | MSG_DONTWAIT));
    }
    case CORIO__IO_ACCEPT:
        return neg(accept4(rq->fd, rq->addr, rq->addrlen, rq->flags));
    case CORIO__IO_READ:
    case CORIO__IO_READV:
    case CORIO__IO_WRITE:
    case CORIO__IO_WRITEV:
        if (*sock) {
            struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
            ssize_t n = is_input(rq->kind) ? recvmsg(rq->fd, &m, MSG_DONTWAIT)
                                           : sendmsg(rq->fd, &m, MSG_DONTWAIT);
            if (n >= 0 || errno != ENOTSOCK) return neg(n);
            *sock = false;
            return -ENOTSOCK;
        }
        if (is_input(rq->kind)) return nonsock_read(rq->fd, iov, iovcnt);
        return nonsock_write(rq->fd, iov, iovcnt);
    default:
        return -EINVAL;
    }
}

/* Try, wait on EAGAIN, try again.  `sock`: the call may start with the
 * socket form; a descriptor that turns out not to be a socket is checked
 * for readiness before each call (it may be blocking). */
static ssize_t stream_call(const corio__io_req *rq, int64_t deadline, bool sock,
                           const corio__fdwatch *watch) {
    unsigned events = is_input(rq->kind) ? POLLIN : POLLOUT;
    bool waited = false;
    for (;;) {
        if (!sock) {
            int rev;
            if (!ready_now(rq->fd, events, &rev)) {
                int r = wait_ready(rq->fd, events, deadline, watch);
                if (r == -EPERM) return in_pool(rq); /* epoll refuses it */
                if (r < 0) return r;
                waited = true;
                /* Look again: every task waiting on it was woken, and one
                 * that ran before us may have taken what was there. */
                continue;
            }
        }
        ssize_t n = try_call(rq, &sock);
        if (n == -ENOTSOCK && !sock && rq->kind != CORIO__IO_RECV && rq->kind != CORIO__IO_SEND &&
            rq->kind != CORIO__IO_SENDMSG) {
            if (is_file(rq->fd)) return in_pool(rq);
            continue; /* a pipe, a terminal...: readiness first */
        }
        if (n == -EINTR) continue;
        if (n >= 0 || !would_block((int)-n)) return at_once(n, waited);
        int r = wait_ready(rq->fd, events, deadline, watch);
        if (r < 0) return r;
        waited = true;
    }
}

static ssize_t do_connect(const corio__io_req *rq, int64_t deadline, const corio__fdwatch *watch) {
    int fl = fcntl(rq->fd, F_GETFL);
    if (fl < 0) return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(rq->fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    ssize_t res;
    for (;;) {
        if (connect(rq->fd, rq->caddr, rq->caddrlen) == 0) {
            res = at_once(0, false);
            break;
        }
        int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN) { /* a Unix socket whose listener's backlog is full */
            int64_t d = corio__io_now() + CORIO_MS(1);
            void *p = NULL;
            (void)corio__io_current(&p);
            int r = corio__epoll_wait(p, -1, 0, deadline >= 0 && deadline < d ? deadline : d, NULL);
            if (r == -ETIMEDOUT && corio__fdwatch_closed(watch)) r = -EBADF;
            if (r == -ETIMEDOUT && (deadline < 0 || corio__io_now() < deadline)) continue;
            res = r;
            break;
        }
        if (e != EINPROGRESS) {
            res = -e;
            break;
        }
        int r = wait_ready(rq->fd, POLLOUT, deadline, watch);
        if (r < 0) {
            res = r;
            break;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        res = getsockopt(rq->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ? -errno : -soerr;
        break;
    }
    if (!(fl & O_NONBLOCK)) (void)fcntl(rq->fd, F_SETFL, fl);
    return res;
}

/* corio_poll is the seed's ReadWait: a trap into the scheduler even when
 * the descriptor is ready already, as on io_uring, where it goes through
 * the ring.  So it always registers: a ready descriptor is reported at the
 * worker's next poll, and the task queues behind the others woken there
 * (a yield instead would keep the yielding tasks circling in the local
 * queue ahead of those that overflowed it). */
static ssize_t do_poll(void *p, const corio__io_req *rq, int64_t deadline,
                       const corio__fdwatch *watch) {
    unsigned events = (unsigned)rq->flags;
    /* corio__epoll_wait takes a negative descriptor for "no descriptor,
     * only the deadline": a caller's bad one must not become a sleep. */
    if (rq->fd < 0) return -EBADF;
    int r = corio__epoll_wait(p, rq->fd, events, deadline, watch);
    if (r != -EPERM) return r;
    /* epoll refuses regular files: they are always ready (as poll(2) says). */
    return at_once((ssize_t)(events & (POLLIN | POLLOUT)), false);
}

/* The CLOCK_MONOTONIC deadline `ns` (>= 0) from now, or -1 (none) when
 * ns < 0 or when now + ns would pass INT64_MAX (about 292 years of
 * uptime): such a deadline never comes, and the sum would overflow. */
static int64_t deadline_in(int64_t ns) {
    if (ns < 0) return -1;
    int64_t now = corio__io_now();
    return ns > INT64_MAX - now ? -1 : now + ns;
}

/* A listening socket that accept4 will not block on. */
static bool nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK) != 0; /* EBADF: the call itself says so */
}

/* The call; `watch`: its descriptor's (io/fdclose.h), or NULL. */
static ssize_t call(void *p, const corio__io_req *rq, int64_t timeout_ns,
                    const corio__fdwatch *watch) {
    int64_t deadline = deadline_in(timeout_ns);
    switch (rq->kind) {
    case CORIO__IO_READ:
    case CORIO__IO_WRITE:
    case CORIO__IO_READV:
    case CORIO__IO_WRITEV:
        if (rq->off >= 0) return in_pool(rq); /* positioned: a file */
        return stream_call(rq, deadline, true, watch);
    case CORIO__IO_RECV:
    case CORIO__IO_SEND:
    case CORIO__IO_SENDMSG:
        return stream_call(rq, deadline, true, watch);
    case CORIO__IO_ACCEPT:
        /* Several tasks may accept on one listener and all wake on one
         * connection: on a non-blocking listener the losers get EAGAIN and
         * wait again; a blocking one is checked for readiness first. */
        return stream_call(rq, deadline, nonblocking(rq->fd), watch);
    case CORIO__IO_OPENAT:
        /* A FIFO's open that waits for its peer ends at the deadline or a
         * kill (io/epoll_fifo.c); any other open runs in the pool. */
        if (corio__epoll_fifo_waits(rq)) return corio__epoll_fifo_open(rq, timeout_ns);
        return in_pool(rq);
    case CORIO__IO_FSYNC:
        return in_pool(rq);
    case CORIO__IO_CLOSE:
        return close(rq->fd) < 0 && errno != EINTR ? -errno : 0;
    case CORIO__IO_SHUTDOWN:
        return shutdown(rq->fd, rq->flags) < 0 ? -errno : 0;
    case CORIO__IO_CONNECT:
        return do_connect(rq, deadline, watch);
    case CORIO__IO_POLL:
        return do_poll(p, rq, deadline, watch);
    case CORIO__IO_SLEEP: {
        int r = corio__epoll_wait(p, -1, 0, deadline_in(rq->ns), NULL);
        return r == -ETIMEDOUT ? 0 : r;
    }
    }
    return -EINVAL;
}

static ssize_t epoll_run(void *p, const corio__io_req *rq, int64_t timeout_ns) {
    if (rq->kind != CORIO__IO_CLOSE && corio__block_killed(corio__block_self())) return -ECANCELED;
    /* The whole call, not only its waits, is one corio_close waits for
     * (io/fdclose.h): its system calls on fd then all reach the file the
     * number had when the call began (corio__io_watched says which). */
    corio__io_note(rq);
    ssize_t n;
    if (!corio__io_watched(rq)) {
        n = call(p, rq, timeout_ns, NULL);
    } else {
        corio__fdwatch watch;
        n = corio__fdwatch_add(&watch, rq->fd);
        if (n >= 0) {
            if (n == 1) (void)corio__io_current(&p); /* it waited for a close: read p afresh */
            n = call(p, rq, timeout_ns, &watch);
            corio__fdwatch_del(&watch);
        }
    }
    corio__note_done();
    return n;
}

const corio__io_backend corio__epoll_backend = {
    .name = "epoll",
    .parker = &corio__epoll_parker,
    .run = epoll_run,
};
