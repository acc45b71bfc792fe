/* io/op.h - one I/O operation in flight: its state, on the stack of the
 * task that waits for it, and the submit / wait / cancel protocol.
 *
 * Lifetime (DESIGN trap 3): from its submission until op_wait returns, the
 * operation owns its buffers and the task's stack.  op_wait returns only
 * when every completion the operation expects has been reaped (`pending`
 * reaches 0): its own, its linked timeout's, and that of each cancel
 * aimed at it, in whatever order the kernel posts them.  A kill of the
 * waiting task does not end the wait: it makes the task (on whichever
 * worker it runs then) ask the ring that holds the operation to cancel it,
 * and the task waits on for the completions.
 *
 * `pending` is changed by the ring's owner (each reaped completion: a
 * decrement) and by the task asking for a cancel (an increment, only from
 * a value above 0: once pending is 0 the operation is over and nothing may
 * name it again).  Both are RMWs of the one word, so they cannot miss each
 * other: the decrement that reaches 0 is the last event, exactly once.
 * acq_rel: each completion's writes (res, timed_out) are published to the
 * decrement that ends it, and `done`'s release/acquire hands them to the
 * task.
 *
 * The result says why the wait ended (DESIGN trap 13).  An operation the
 * kernel runs in an io-wq worker (a blocking connect, the open of a FIFO)
 * is not cancelled but interrupted: a linked timeout or a cancel aimed at
 * it makes it complete with -EINTR (or, from some calls, the kernel's
 * internal -ERESTARTSYS family, which must never reach a caller).  So a
 * result that says "interrupted" (-ECANCELED, -EINTR, -ERESTART*) becomes
 * -ECANCELED when the task asked for a cancel (a kill, a shutdown) and
 * -ETIMEDOUT when the timeout fired.  Any other result stands, success above
 * all: an operation that completed while its timeout or kill raced it did
 * happen (bytes moved, a descriptor exists), and the caller must see it.
 *
 * Own timers.  The kernel arms a linked timeout only once the first
 * attempt at its operation has returned; an operation sent to io-wq at
 * once (IOSQE_ASYNC) that blocks in that attempt (the open of a FIFO that
 * waits for its peer) would never see its timeout (measured on 6.18).
 * Such an operation gets a plain timeout instead (IORING_OP_TIMEOUT, not
 * linked), and the ring's owner, when it reaps the timer, cancels the
 * operation if it is still running, and when it reaps the operation,
 * cancels the timer if it is still armed; each of those cancels is
 * counted in `pending` like the task's own.  These owner-side increments
 * happen while the completion that triggers them is still counted, so
 * `pending` is above 0 and a plain fetch_add suffices.
 *
 * Missed cancels.  A cancel that reaches an operation between its inline
 * attempt and io-wq finds nothing (-ENOENT), and the operation then blocks
 * in io-wq with nothing left to end it (measured on 6.18: a connect to a
 * full backlog with a linked timeout of 0 or 1 us blocked in 40 of 40
 * tries, of 100 us in 18 of 20).  So when a cancel aimed at the operation
 * (a kill's, a timer's) completes with -ENOENT and the operation's own
 * completion has not been reaped, the owner sends it again (one per poll,
 * until the operation is found or completes); a linked timeout whose
 * cancel found nothing is followed by such a cancel too.  At most
 * CORIO__OP_RECANCELS times: the way to io-wq takes microseconds, but an
 * operation that no cancel can find at all (one the kernel has handed on
 * where cancels do not look) would have the owner resubmit on every pass
 * until it completed; after the last one the operation is waited for to
 * its end, as before any cancel. */
#ifndef CORIO_IO_OP_H
#define CORIO_IO_OP_H

#include <linux/time_types.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/ring.h"

typedef struct corio__task corio__task;

/* How many times a missed cancel is sent again (see above). */
#define CORIO__OP_RECANCELS 200u

/* The operation's cancel requests, one mailbox node each (ring.h): */
enum {
    CORIO__MAIL_KILL,   /* the task asks: cancel the operation */
    CORIO__MAIL_TIMER,  /* its own timer fired: cancel the operation */
    CORIO__MAIL_DISARM, /* it completed first: cancel its own timer */
    CORIO__MAIL_N,
};

struct __attribute__((aligned(8))) corio__op {
    corio__task *task;        /* the waiter */
    corio__ring *ring;        /* the ring it was submitted on */
    _Atomic unsigned pending; /* completions still expected (see above) */
    _Atomic int done;         /* pending reached 0: release by the reaper */
    int res;                  /* the operation's own result (owner writes) */
    unsigned cqe_flags;
    bool timed_out;           /* its timeout fired (owner writes) */
    bool has_timeout;
    bool async;               /* sent to io-wq at once (IOSQE_ASYNC) */
    bool own_timer;           /* the timeout is not linked (see above) */
    unsigned char seen;       /* completions reaped so far (owner only) */
    unsigned char recancels;  /* missed cancels sent again (owner only) */
    bool cancel_asked;        /* the task asked for a cancel (task only) */
    bool close_asked;         /* ...because corio_close flagged `watch` */
    bool unkillable;          /* never cancelled (task only) */
    const struct corio__fdwatch *watch; /* the call's descriptor, or NULL (fdclose.h) */
    struct __kernel_timespec ts; /* the timeout's (or sleep's) time */
    struct io_uring_sqe *sqe[2]; /* between begin and wait only */
    corio__mail mail[CORIO__MAIL_N]; /* its cancel requests (ring.h) */
};

/* Start an operation on the calling task's current ring: returns the SQE
 * to fill (its user_data set), or NULL with *err set (-EPERM outside a
 * task, -ENOTSUP on a runtime without I/O, -ECANCELED when the task has
 * been killed).  timeout_ns >= 0 adds a linked timeout, submitted with it. */
struct io_uring_sqe *corio__op_begin(corio__op *op, int64_t timeout_ns, int *err);
/* The same for an operation a kill must neither prevent nor cancel (a
 * close: not running it would leak the descriptor). */
struct io_uring_sqe *corio__op_begin_unkillable(corio__op *op, int *err);
/* The same for an operation that may block from its first attempt: it
 * goes to io-wq at once (IOSQE_ASYNC), and its timeout is an own timer. */
struct io_uring_sqe *corio__op_begin_blocking(corio__op *op, int64_t timeout_ns, int *err);
/* Submit (in the worker's next batch) and wait for every completion; the
 * result, or -ETIMEDOUT when the timeout fired, -ECANCELED when the task was
 * killed, -EBADF when corio_close flagged op->watch (set it between begin
 * and wait; io/fdclose.h), and the operation was interrupted by one of
 * them (see above).  A close is asked for as a kill is: one cancel. */
int corio__op_wait(corio__op *op);
/* The reaper's side: a completion for op with this tag.  True when it was
 * the last one (the task was woken; op must not be touched again). */
bool corio__op_complete(corio__op *op, unsigned tag, int res, unsigned flags);
/* The owner of m->op's ring: submit the cancel `m` (from the mailbox, its
 * own task or its own reaping). */
void corio__op_submit_cancel(corio__ring *r, corio__mail *m);

#endif
