/* io/op.c - submit, wait for and cancel one operation (the protocol is in
 * op.h; the ring side in ring.c). */
#include "io/op.h"

#include <errno.h>
#include <string.h>

#include "corio/task.h"
#include "runtime/block.h"

static struct io_uring_sqe *begin(corio__op *op, int64_t timeout_ns, bool killable, int *err) {
    corio__task *t = corio__block_self();
    if (t == NULL) {
        *err = -EPERM;
        return NULL;
    }
    unsigned n = timeout_ns >= 0 ? 2u : 1u;
    for (;;) {
        if (killable && corio__block_killed(t)) {
            *err = -ECANCELED;
            return NULL;
        }
        /* Read afresh on every round: a yield may move us (trap 1). */
        corio__ring *r = corio__ring_current();
        if (r == NULL) {
            *err = -ENOTSUP;
            return NULL;
        }
        if (corio__ring_sqes(r, n, op->sqe)) {
            op->task = t;
            op->ring = r;
            atomic_init(&op->pending, n);
            atomic_init(&op->done, 0);
            op->res = 0;
            op->cqe_flags = 0;
            op->timed_out = false;
            op->has_timeout = n == 2;
            op->cancel_asked = false;
            op->unkillable = !killable;
            op->mail_next = NULL;
            if (op->has_timeout) {
                op->ts.tv_sec = timeout_ns / 1000000000;
                op->ts.tv_nsec = timeout_ns % 1000000000;
            }
            return op->sqe[0];
        }
        /* The kernel takes no more now (its completion queue is backed
         * up): let the worker reap, then try again. */
        (void)corio_task_yield();
    }
}

struct io_uring_sqe *corio__op_begin(corio__op *op, int64_t timeout_ns, int *err) {
    return begin(op, timeout_ns, true, err);
}

struct io_uring_sqe *corio__op_begin_unkillable(corio__op *op, int *err) {
    return begin(op, -1, false, err);
}

void corio__op_submit_cancel(corio__ring *r, corio__op *op) {
    struct io_uring_sqe *sqe;
    if (!corio__ring_sqes(r, 1, &sqe)) {
        /* No room now: the mailbox makes the next poll try again. */
        corio__ring_mail_cancel(r, op);
        return;
    }
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op | CORIO__TAG_OP, 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | CORIO__TAG_CANCEL);
    corio__ring_filled(r, 1);
}

/* The task, killed while op is in flight: one cancel, aimed at op on the
 * ring that holds it, submitted by that ring's owner (op.h). */
static void ask_cancel(corio__op *op) {
    op->cancel_asked = true;
    /* Count the cancel's completion first, but only while op is not over
     * (pending > 0; see op.h).  acq_rel: pairs with the reaper's RMWs. */
    unsigned p = atomic_load_explicit(&op->pending, memory_order_acquire);
    do {
        if (p == 0) return;
    } while (!atomic_compare_exchange_weak_explicit(&op->pending, &p, p + 1, memory_order_acq_rel,
                                                    memory_order_acquire));
    corio__ring *cur = corio__ring_current();
    if (cur == op->ring) corio__op_submit_cancel(cur, op);
    else corio__ring_mail_cancel(op->ring, op);
}

int corio__op_wait(corio__op *op) {
    struct io_uring_sqe *sqe = op->sqe[0];
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | CORIO__TAG_OP);
    if (op->has_timeout) {
        sqe->flags |= IOSQE_IO_LINK;
        struct io_uring_sqe *ts = op->sqe[1];
        io_uring_prep_link_timeout(ts, &op->ts, 0);
        io_uring_sqe_set_data64(ts, (uint64_t)(uintptr_t)op | CORIO__TAG_TIMEOUT);
    }
    corio__ring_filled(op->ring, op->has_timeout ? 2u : 1u);
    /* acquire: pairs with the release of the last completion (op.h). */
    while (!atomic_load_explicit(&op->done, memory_order_acquire)) {
        if (!op->cancel_asked && !op->unkillable && corio__block_killed(op->task))
            ask_cancel(op);
        corio__block_suspend();
    }
    int res = op->res;
    if (res == -ECANCELED) {
        if (op->cancel_asked) return -ECANCELED;
        if (op->timed_out) return -ETIME;
    }
    return res;
}

bool corio__op_complete(corio__op *op, unsigned tag, int res, unsigned flags) {
    switch (tag) {
    case CORIO__TAG_OP:
        op->res = res;
        op->cqe_flags = flags;
        break;
    case CORIO__TAG_TIMEOUT:
        if (res == -ETIME) op->timed_out = true;
        break;
    default: /* a cancel's own completion: only counted */
        break;
    }
    /* Read before the last decrement: after it op may be gone. */
    corio__task *t = op->task;
    if (atomic_fetch_sub_explicit(&op->pending, 1, memory_order_acq_rel) != 1) return false;
    atomic_store_explicit(&op->done, 1, memory_order_release);
    corio__block_wake(t);
    return true;
}
