/* io/op.c - submit, wait for and cancel one operation (the protocol is in
 * op.h; the ring side in ring.c). */
#include "io/op.h"

#include <errno.h>
#include <string.h>

#include "corio/task.h"
#include "io/fdclose.h"
#include "runtime/block.h"

/* Which completions the owner has reaped (op->seen). */
enum { SEEN_OP = 1, SEEN_TIMEOUT = 2 };

static struct io_uring_sqe *begin(corio__op *op, int64_t timeout_ns, bool killable,
                                  bool blocking, int *err) {
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
            op->async = blocking;
            op->own_timer = blocking && op->has_timeout;
            op->seen = 0;
            op->recancels = 0;
            op->cancel_asked = false;
            op->close_asked = false;
            op->watch = NULL;
            op->unkillable = !killable;
            for (unsigned i = 0; i < CORIO__MAIL_N; i++) {
                op->mail[i].op = op;
                op->mail[i].tag = i == CORIO__MAIL_DISARM ? CORIO__TAG_TIMEOUT : CORIO__TAG_OP;
                op->mail[i].next = NULL;
            }
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
    return begin(op, timeout_ns, true, false, err);
}

struct io_uring_sqe *corio__op_begin_unkillable(corio__op *op, int *err) {
    return begin(op, -1, false, false, err);
}

struct io_uring_sqe *corio__op_begin_blocking(corio__op *op, int64_t timeout_ns, int *err) {
    return begin(op, timeout_ns, true, true, err);
}

void corio__op_submit_cancel(corio__ring *r, corio__mail *m) {
    struct io_uring_sqe *sqe;
    if (!corio__ring_sqes(r, 1, &sqe)) {
        /* No room now: the mailbox makes the next poll try again. */
        corio__ring_mail_cancel(r, m);
        return;
    }
    /* An async cancel finds a timer as well as an operation. */
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)m->op | m->tag, 0);
    unsigned which = (unsigned)(m - m->op->mail);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)m->op | (CORIO__TAG_CANCEL + which));
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
    corio__mail *m = &op->mail[CORIO__MAIL_KILL];
    if (cur == op->ring) corio__op_submit_cancel(cur, m);
    else corio__ring_mail_cancel(op->ring, m);
}

/* The owner, reaping one of op's completions (still counted): one more
 * cancel, whose completion is counted first.  pending >= 1 until this
 * thread's decrement for the completion in hand, so nothing can end op
 * meanwhile and the increment needs no CAS; relaxed: the decrement that
 * follows on this thread is acq_rel and orders it for whoever ends op. */
static void owner_cancel(corio__op *op, unsigned which) {
    atomic_fetch_add_explicit(&op->pending, 1, memory_order_relaxed);
    corio__op_submit_cancel(op->ring, &op->mail[which]);
}

/* What an interrupted operation completes with: its cancel (-ECANCELED),
 * io-wq's interruption (-EINTR), or the kernel's internal restart codes
 * (ERESTARTSYS 512, ERESTARTNOINTR 513, ERESTARTNOHAND 514,
 * ERESTART_RESTARTBLOCK 516), which a cancelled io-wq worker can leave in
 * a result (the open of a FIFO, measured on 6.18). */
static bool interrupted(int res) {
    return res == -ECANCELED || res == -EINTR || (res <= -512 && res >= -516);
}

int corio__op_wait(corio__op *op) {
    struct io_uring_sqe *sqe = op->sqe[0];
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | CORIO__TAG_OP);
    if (op->async) sqe->flags |= IOSQE_ASYNC;
    if (op->own_timer) {
        /* Not linked: armed now, whatever the operation does (op.h). */
        struct io_uring_sqe *ts = op->sqe[1];
        io_uring_prep_timeout(ts, &op->ts, 0, 0);
        io_uring_sqe_set_data64(ts, (uint64_t)(uintptr_t)op | CORIO__TAG_TIMEOUT);
    } else if (op->has_timeout) {
        sqe->flags |= IOSQE_IO_LINK;
        struct io_uring_sqe *ts = op->sqe[1];
        io_uring_prep_link_timeout(ts, &op->ts, 0);
        io_uring_sqe_set_data64(ts, (uint64_t)(uintptr_t)op | CORIO__TAG_TIMEOUT);
    }
    corio__ring_filled(op->ring, op->has_timeout ? 2u : 1u);
    /* acquire: pairs with the release of the last completion (op.h). */
    while (!atomic_load_explicit(&op->done, memory_order_acquire)) {
        if (!op->cancel_asked && !op->unkillable) {
            if (corio__block_killed(op->task)) {
                ask_cancel(op);
            } else if (corio__fdwatch_closed(op->watch)) {
                op->close_asked = true;
                ask_cancel(op);
            }
        }
        corio__block_suspend();
    }
    /* Why the wait ended, not what the CQE says (op.h). */
    int res = op->res;
    if (interrupted(res)) {
        if (op->close_asked) return -EBADF;
        if (op->cancel_asked) return -ECANCELED;
        if (op->timed_out) return -ETIMEDOUT;
        if (res <= -512) return -EINTR; /* never the kernel's internal codes */
    }
    return res;
}

bool corio__op_complete(corio__op *op, unsigned tag, int res, unsigned flags) {
    switch (tag) {
    case CORIO__TAG_OP:
        op->res = res;
        op->cqe_flags = flags;
        op->seen |= SEEN_OP;
        /* Done before its own timer: the timer goes, or the task would
         * wait for it. */
        if (op->own_timer && !(op->seen & SEEN_TIMEOUT)) owner_cancel(op, CORIO__MAIL_DISARM);
        break;
    case CORIO__TAG_TIMEOUT:
        op->seen |= SEEN_TIMEOUT;
        if (op->own_timer) {
            /* -ETIME: it expired (else -ECANCELED: disarmed). */
            if (res == -ETIME) {
                op->timed_out = true;
                if (!(op->seen & SEEN_OP)) owner_cancel(op, CORIO__MAIL_TIMER);
            }
        } else if (res != -ECANCELED) {
            /* A linked timeout that fired completes with -ETIME when it
             * cancelled the operation, and with its cancel's own error
             * (-EALREADY, -ENOENT) when the operation ran in io-wq and
             * was only interrupted, or was on its way there (a missed
             * cancel, op.h: sent again); -ECANCELED only when the
             * operation completed first and the timeout was disarmed. */
            op->timed_out = true;
            if (res == -ENOENT && !(op->seen & SEEN_OP)) owner_cancel(op, CORIO__MAIL_TIMER);
        }
        break;
    default: { /* a cancel's own completion: counted; a missed one again */
        unsigned which = tag - CORIO__TAG_CANCEL;
        if (res == -ENOENT && which < CORIO__MAIL_N && op->mail[which].tag == CORIO__TAG_OP &&
            !(op->seen & SEEN_OP) && op->recancels < CORIO__OP_RECANCELS) {
            op->recancels++;
            owner_cancel(op, which); /* its node is free: this was its cancel */
        }
        break;
    }
    }
    /* Read before the last decrement: after it op may be gone. */
    corio__task *t = op->task;
    if (atomic_fetch_sub_explicit(&op->pending, 1, memory_order_acq_rel) != 1) return false;
    atomic_store_explicit(&op->done, 1, memory_order_release);
    corio__block_wake(t);
    return true;
}
