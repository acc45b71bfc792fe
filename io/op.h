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
 * task. */
#ifndef CORIO_IO_OP_H
#define CORIO_IO_OP_H

#include <linux/time_types.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/ring.h"

typedef struct corio__task corio__task;

struct __attribute__((aligned(8))) corio__op {
    corio__task *task;        /* the waiter */
    corio__ring *ring;        /* the ring it was submitted on */
    _Atomic unsigned pending; /* completions still expected (see above) */
    _Atomic int done;         /* pending reached 0: release by the reaper */
    int res;                  /* the operation's own result (owner writes) */
    unsigned cqe_flags;
    bool timed_out;           /* its linked timeout fired (owner writes) */
    bool has_timeout;
    bool cancel_asked;        /* the task asked for a cancel (task only) */
    bool unkillable;          /* never cancelled (task only) */
    struct __kernel_timespec ts; /* the timeout's (or sleep's) time */
    struct io_uring_sqe *sqe[2]; /* between begin and wait only */
    corio__op *mail_next;     /* cancel mailbox link (ring.h) */
};

/* Start an operation on the calling task's current ring: returns the SQE
 * to fill (its user_data set), or NULL with *err set (-EPERM outside a
 * task, -ENOTSUP on a runtime without I/O, -ECANCELED when the task has
 * been killed).  timeout_ns >= 0 adds a linked timeout, submitted with it. */
struct io_uring_sqe *corio__op_begin(corio__op *op, int64_t timeout_ns, int *err);
/* The same for an operation a kill must neither prevent nor cancel (a
 * close: not running it would leak the descriptor). */
struct io_uring_sqe *corio__op_begin_unkillable(corio__op *op, int *err);
/* Submit (in the worker's next batch) and wait for every completion; the
 * result, or -ETIME when the timeout fired, -ECANCELED when the task was
 * killed and the operation did not complete first. */
int corio__op_wait(corio__op *op);
/* The reaper's side: a completion for op with this tag.  True when it was
 * the last one (the task was woken; op must not be touched again). */
bool corio__op_complete(corio__op *op, unsigned tag, int res, unsigned flags);
/* The owner of op->ring: submit a cancel for op (mailbox or own task). */
void corio__op_submit_cancel(corio__ring *r, corio__op *op);

#endif
