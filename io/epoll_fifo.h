/* io/epoll_fifo.h - the epoll backend's open of a FIFO that waits for its
 * peer, ended by a deadline or a kill (epoll_fifo.c). */
#ifndef CORIO_IO_EPOLL_FIFO_H
#define CORIO_IO_EPOLL_FIFO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "io/backend.h"

/* Is rq an openat that would wait for a FIFO's peer (no O_NONBLOCK,
 * read-only or write-only, and the path is a FIFO now)? */
bool corio__epoll_fifo_waits(const corio__io_req *rq);

/* That open, from a task: the descriptor, -ETIMEDOUT when timeout_ns (>= 0)
 * passed first, -ECANCELED when the task was killed, or the open's
 * error. */
ssize_t corio__epoll_fifo_open(const corio__io_req *rq, int64_t timeout_ns);

#endif
