/* bench/peers/ring.h - the liburing pieces the two io_uring echo peers
 * (uring.c, uring_tuned.c) share: an SQE that waits for room, the one
 * submit-and-wait of each loop turn, the poll on the stop signals and the
 * event loop. */
#ifndef CORIO_BENCH_PEER_RING_H
#define CORIO_BENCH_PEER_RING_H
#include "peer.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>

/* Interrupted or briefly refused submits are retried by the loop. */
static inline int ring_retry(int rc) { return rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY; }

/* The next SQE; when the SQ is full, hand the kernel what is queued first. */
static inline struct io_uring_sqe *ring_sqe(struct io_uring *r, const peer *p) {
    struct io_uring_sqe *sqe;
    while ((sqe = io_uring_get_sqe(r)) == NULL) {
        int rc = io_uring_submit(r);
        if (!ring_retry(rc)) peer_die(p, "io_uring_submit", -rc);
    }
    return sqe;
}

/* Submit what the last completions prepared and wait for one more. */
static inline void ring_submit_and_wait(struct io_uring *r, const peer *p) {
    int rc = io_uring_submit_and_wait(r, 1);
    if (!ring_retry(rc)) peer_die(p, "io_uring_submit_and_wait", -rc);
}

/* A poll on the signalfd whose completion (user data `ud`) means: stop. */
static inline void ring_watch_signals(struct io_uring *r, const peer *p, uint64_t ud) {
    struct io_uring_sqe *sqe = ring_sqe(r, p);
    io_uring_prep_poll_add(sqe, p->signal_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, ud);
}
/* The event loop: submit and wait, hand every completion to `handle`, then
 * call `after` (may be NULL) and mark the batch seen.  Returns after the
 * batch in which `handle` returned non-zero (the stop signal). */
static inline void ring_loop(struct io_uring *r, const peer *p, int (*handle)(const struct io_uring_cqe *),
                             void (*after)(void)) {
    for (;;) {
        ring_submit_and_wait(r, p);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        int stop = 0;
        io_uring_for_each_cqe(r, head, cqe) {
            stop |= handle(cqe);
            seen++;
        }
        if (after != NULL) after();
        io_uring_cq_advance(r, seen);
        if (stop) return;
    }
}
#endif
