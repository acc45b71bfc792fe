/* corio/io.h - I/O that suspends only the calling task (the
 * course's ReadWait/WriteWait, the socket wrapper's calls).
 *
 * Every call here is made from a task.  It hands the operation to the ring
 * of the worker the task runs on, suspends the task (the worker runs other
 * tasks meanwhile) and returns when the kernel has completed it.  The task
 * may resume on another worker (it may be stolen between any two calls);
 * nothing pins it.  No call blocks a worker thread.
 *
 * Results: what the system call would return (a byte count, a descriptor,
 * 0), or a negative errno.  In addition to the system call's own errors
 * every call may return:
 *   -EPERM      called from a thread that is not running a task;
 *   -ENOTSUP    the runtime has no I/O backend (CORIO_BACKEND_NONE);
 *   -ECANCELED  the task was killed before or while the call waited (the
 *               operation was cancelled; a call that had already completed
 *               when the kill came returns its result, and the next call
 *               returns -ECANCELED at once);
 *   -ETIMEDOUT  the timeout passed (`timeout_ns` >= 0; CORIO_FOREVER, a
 *               negative value, means none).  The operation was cancelled:
 *               a read or a write may still have moved part of the data
 *               (as a socket timeout does);
 *   -EBADF      corio_close closed the descriptor while the call waited
 *               on it (the operation was cancelled first).
 * A call returns only once the kernel is done with its buffers (also when
 * it was cancelled), so buffers on the task's stack are safe.
 *
 * Descriptors may be blocking or not: the kernel waits inside the ring
 * either way.  Regular files, pipes and sockets all work.  On the epoll
 * backend (where io_uring is refused: docs/io.md) the calls are the same;
 * regular-file calls run in the blocking-call pool there, and a kill or a
 * timeout does not cut them short. */
#ifndef CORIO_IO_H
#define CORIO_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "corio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** No timeout. */
#define CORIO_FOREVER ((int64_t)-1)
/** Milliseconds as the nanoseconds the calls take. */
#define CORIO_MS(ms) ((int64_t)(ms) * 1000000)

/* ---- files, pipes, sockets ------------------------------------------------ */

/** read(2) at the file position (a stream: its next bytes).  0 at EOF. */
CORIO_API ssize_t corio_read(int fd, void *buf, size_t len, int64_t timeout_ns);
/** pread(2): at offset `off` (the file position is not used or moved).
 *  -EINVAL when off is above INT64_MAX. */
CORIO_API ssize_t corio_pread(int fd, void *buf, size_t len, uint64_t off, int64_t timeout_ns);
/** write(2) at the file position.  May write less than `len` (see
 *  corio_send_all for a loop). */
CORIO_API ssize_t corio_write(int fd, const void *buf, size_t len, int64_t timeout_ns);
/** pwrite(2) at offset `off`; -EINVAL when off is above INT64_MAX. */
CORIO_API ssize_t corio_pwrite(int fd, const void *buf, size_t len, uint64_t off,
                               int64_t timeout_ns);
/** readv(2) / preadv(2): `off` < 0 means the file position.  -EINVAL when
 *  iovcnt is negative or above IOV_MAX. */
CORIO_API ssize_t corio_readv(int fd, const struct iovec *iov, int iovcnt, int64_t off,
                              int64_t timeout_ns);
/** writev(2) / pwritev(2), as corio_readv. */
CORIO_API ssize_t corio_writev(int fd, const struct iovec *iov, int iovcnt, int64_t off,
                               int64_t timeout_ns);
/** fsync(2); `datasync` nonzero: fdatasync(2). */
CORIO_API int corio_fsync(int fd, int datasync, int64_t timeout_ns);
/** openat(2): a descriptor (O_CLOEXEC is added).  -EFAULT for a NULL path. */
CORIO_API int corio_openat(int dirfd, const char *path, int flags, mode_t mode,
                           int64_t timeout_ns);
/** Close `fd`, first ending every wait on it: each task blocked in a
 *  corio call on `fd` (recv, send, accept, connect, read, write, poll,
 *  stream reads; any worker) returns -EBADF, unless its call completed
 *  first (then its result stands).  The number is closed only after those
 *  tasks have left their calls, so no operation of theirs is left in the
 *  kernel on it.  A call on `fd` that begins while it is being closed
 *  waits for the close and then runs on what the number names then
 *  (usually nothing: -EBADF); so does a second corio_close of fd (a
 *  number given at once to a new file is that file's close).  Shutting down a server: close its listener
 *  and the accepting task gets -EBADF (docs/server.md).
 *  No timeout: a close cannot be undone, and it is not cancelled by a kill
 *  (it completes, then the kill is seen).  Suspends the caller while the
 *  waits end (the time of one cancel each).  Tasks only.  Errors: -EBADF
 *  (fd < 0, or not open when its turn came),
 *  -EPERM (not in a task), -ENOTSUP (a runtime without I/O), -EIO and the
 *  rest of close(2)'s.  Only waits inside corio calls are seen: a plain
 *  thread blocked in read(2) on fd is not woken. */
CORIO_API int corio_close(int fd);

/* ---- sockets ----------------------------------------------------------- */

/** recv(2).  0 when the peer has shut its side down. */
CORIO_API ssize_t corio_recv(int fd, void *buf, size_t len, int flags, int64_t timeout_ns);
/** send(2) (MSG_NOSIGNAL is added: a closed peer gives -EPIPE, never
 *  SIGPIPE).  May send less than `len`.  Tried at once without waiting
 *  first; it waits in the ring only when the socket has no room (a send
 *  that did not wait still yields now and then: docs/io.md, "budget"). */
CORIO_API ssize_t corio_send(int fd, const void *buf, size_t len, int flags, int64_t timeout_ns);
/** Send all `len` bytes (the course's Send): loops over short sends.
 *  Returns len, or a negative errno (-EPIPE also when a send makes no
 *  progress); the timeout covers the whole call.  After an error the
 *  number of bytes sent is unknown (in *sent when sent
 *  is not NULL, also on success). */
CORIO_API ssize_t corio_send_all(int fd, const void *buf, size_t len, int flags,
                                 int64_t timeout_ns, size_t *sent);
/** sendmsg(2) of `iovcnt` buffers (MSG_NOSIGNAL added, as for corio_send):
 *  one call, which may send less than the total.  Tried at once as
 *  corio_send is.  -EINVAL when iovcnt is negative or above IOV_MAX, or
 *  iov is NULL with iovcnt > 0; -ENOTSOCK when fd is not a socket. */
CORIO_API ssize_t corio_sendv(int fd, const struct iovec *iov, int iovcnt, int flags,
                              int64_t timeout_ns);
/** Write all the bytes of `iovcnt` buffers, looping over short writes:
 *  sendmsg on a socket (no SIGPIPE: a closed peer is -EPIPE), writev(2)
 *  on anything else (a pipe, a file at its position).  `iov` is
 *  modified: on return it describes what is left (nothing, on success),
 *  so after an error the caller knows exactly which bytes did not go.
 *  Returns the total written, or a negative errno (the bytes written
 *  before it in *sent when sent is not NULL, also on success); the
 *  timeout covers the whole call.  -EINVAL: iovcnt negative or above
 *  IOV_MAX, or iov NULL with iovcnt > 0.  -EPIPE when the descriptor
 *  takes no more (a write of 0 bytes). */
CORIO_API ssize_t corio_writev_all(int fd, struct iovec *iov, int iovcnt, int64_t timeout_ns,
                                   size_t *sent);
/** Receive exactly `len` bytes, looping over short reads: len, or 0 when
 *  the peer shut down before the first byte, or -EPIPE when it shut down
 *  in the middle (the bytes received in *got when got is not NULL). */
CORIO_API ssize_t corio_recv_all(int fd, void *buf, size_t len, int flags, int64_t timeout_ns,
                                 size_t *got);
/** accept4(2) (SOCK_CLOEXEC is added to flags): the new descriptor. */
CORIO_API int corio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags,
                           int64_t timeout_ns);
/** connect(2) of a socket.  -EFAULT for a NULL addr. */
CORIO_API int corio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                            int64_t timeout_ns);
/** shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. */
CORIO_API int corio_shutdown(int fd, int how, int64_t timeout_ns);

/* ---- waiting -------------------------------------------------------------- */

/** Wait until `fd` is ready (the seed's ReadWait / WriteWait: events
 *  POLLIN, POLLOUT, ...): the ready events (POLLERR, POLLHUP included). */
CORIO_API int corio_poll(int fd, unsigned events, int64_t timeout_ns);
/** Suspend the task for `ns` nanoseconds (0: yield to the ring once).
 *  0 when the time has passed, -ECANCELED when killed, -EINVAL if ns < 0. */
CORIO_API int corio_sleep_ns(int64_t ns);
/** corio_sleep_ns in milliseconds; -EINVAL also when ms * 10^6 would
 *  overflow. */
CORIO_API int corio_sleep_ms(int64_t ms);

#ifdef __cplusplus
}
#endif

#endif
