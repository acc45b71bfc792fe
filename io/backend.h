/* io/backend.h - the I/O backend seam: what an I/O call of corio/io.h asks
 * for (a request), and the small table every backend fills in.
 *
 * A backend is a parker (runtime/park.h: how a worker sleeps and delivers
 * events) plus one function that carries out a request for the calling
 * task, suspending only the task.  The public calls (io/ops.c) build a
 * request and hand it to the backend of the worker the task runs on now;
 * they know no backend by name, and no backend sees another.  Two exist:
 *   io/uring_ops.c   io_uring, one ring per worker (io/ring.c)
 *   io/epoll_ops.c   epoll, one instance per worker (io/epoll.c), with
 *                    regular files in the blocking-call pool
 * io/backend.c picks one when a runtime starts (docs/io.md, "Selection"). */
#ifndef CORIO_IO_BACKEND_H
#define CORIO_IO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "runtime/park.h"

typedef enum corio__io_kind {
    CORIO__IO_READ,     /* buf/len at off (-1: the file position) */
    CORIO__IO_WRITE,    /* buf/len at off */
    CORIO__IO_READV,    /* iov/iovcnt at off */
    CORIO__IO_WRITEV,   /* iov/iovcnt at off */
    CORIO__IO_FSYNC,    /* flags: datasync */
    CORIO__IO_OPENAT,   /* fd: dirfd, path, flags, mode */
    CORIO__IO_CLOSE,
    CORIO__IO_RECV,     /* buf/len, flags */
    CORIO__IO_SEND,     /* buf/len, flags (MSG_NOSIGNAL already added) */
    CORIO__IO_SENDMSG,  /* iov/iovcnt, flags (MSG_NOSIGNAL already added) */
    CORIO__IO_ACCEPT,   /* addr/addrlen, flags (SOCK_CLOEXEC already added) */
    CORIO__IO_CONNECT,  /* caddr/caddrlen */
    CORIO__IO_SHUTDOWN, /* flags: how */
    CORIO__IO_POLL,     /* flags: events */
    CORIO__IO_SLEEP,    /* ns */
} corio__io_kind;

/* One call's arguments (on the caller's stack for the whole call). */
typedef struct corio__io_req {
    corio__io_kind kind;
    int fd;
    int flags;
    void *buf;
    size_t len;
    const struct iovec *iov;
    int iovcnt;
    int64_t off;
    const char *path;
    mode_t mode;
    struct sockaddr *addr;
    socklen_t *addrlen;
    const struct sockaddr *caddr;
    socklen_t caddrlen;
    int64_t ns;
} corio__io_req;

typedef struct corio__io_backend {
    const char *name;                  /* as corio_rt_backend says it */
    const corio__parker_ops *parker;   /* what the workers sleep in */
    /* Carry out `rq` for the calling task (a task of a runtime on this
     * backend, on a worker whose parker is `p`); the result as io.h says
     * (-ETIMEDOUT when `timeout_ns` >= 0 passed, -ECANCELED on a kill). */
    ssize_t (*run)(void *p, const corio__io_req *rq, int64_t timeout_ns);
} corio__io_backend;

extern const corio__io_backend corio__uring_backend;
extern const corio__io_backend corio__epoll_backend;

/* The backend of the worker running the calling task and its parker in
 * *p, or NULL (a plain thread: *p = NULL; a runtime without I/O: *p set).
 * Read it again after every suspension (DESIGN trap 1). */
const corio__io_backend *corio__io_current(void **p);

/* corio_writev_all for a descriptor known to be a socket (sendmsg) or
 * known not to be one (writev): no probing call (io/ops.c). */
ssize_t corio__writev_all(int fd, struct iovec *iov, int iovcnt, int64_t timeout_ns,
                          size_t *sent, bool sock);

/* Does corio_close have to be able to end this request's wait
 * (io/fdclose.h)?  Every request on a descriptor, except an open (its
 * descriptor is a directory), the close itself and a sleep (none). */
static inline bool corio__io_watched(const corio__io_req *rq) {
    return rq->fd >= 0 && rq->kind != CORIO__IO_OPENAT && rq->kind != CORIO__IO_CLOSE &&
           rq->kind != CORIO__IO_SLEEP;
}

/* Note what the calling task waits on for the task dump (runtime/note.h):
 * the call and its descriptor, or a sleep and its deadline. */
void corio__io_note(const corio__io_req *rq);

/* The call a request kind stands for, as the task dump names it
 * ("recv", "accept", ...; io/dump.c). */
const char *corio__io_kind_name(unsigned kind);

/* Nanoseconds of CLOCK_MONOTONIC (the clock of every deadline here). */
int64_t corio__io_now(void);
/* What is left of a deadline (from corio__deadline: -1 none) as the
 * timeout of the next call in a loop of calls (send_all, a stream's
 * fills): CORIO_FOREVER for none, else >= 0 (0 once it passed: the call
 * still tries once without waiting). */
int64_t corio__io_left(int64_t deadline);

#endif
