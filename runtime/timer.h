/* runtime/timer.h - deadlines for the waits of tasks (wait.h).
 *
 * A plain thread that waits with a deadline gives it to the kernel (a
 * futex wait with a timeout).  A task cannot: its worker must go on
 * running others.  Its deadline goes into one process-wide min-heap served
 * by a timer thread, which cancels the wait with -ETIMEDOUT when the
 * deadline passes (corio__wait_decide: if a waker claimed the wait first,
 * the timer's decide fails and nothing happens).
 *
 * Why one thread and not a heap per worker: a task that armed a timer on
 * worker A may be woken and run on worker B, which must then disarm it;
 * per-worker heaps need a lock each anyway, and the worker loop and its
 * sleep would have to read the clock and fold the next deadline into the
 * parker's wait.  The waits that carry deadlines (channel and lock
 * timeouts) are not the hot path: the hot path is a wait that a waker ends,
 * and it pays for one arm and one disarm (a mutex each).  I/O timeouts do
 * not come here: they travel with the operation in the worker's ring.
 *
 * The timer fires while holding the heap's lock, and corio__timer_disarm
 * takes that lock: once disarm returns, the timer thread never touches the
 * timer or its wait again, so both may live on the waiter's stack. */
#ifndef CORIO_RUNTIME_TIMER_H
#define CORIO_RUNTIME_TIMER_H

#include <stdint.h>

#include "runtime/wait.h"

typedef struct corio__timer {
    int64_t deadline;   /* CLOCK_MONOTONIC ns */
    corio__wait *wait;  /* decided with -ETIMEDOUT when it fires */
    unsigned idx;       /* position in the heap, or UINT32_MAX: not armed */
} corio__timer;

/* Arm `t` to cancel `w` at `deadline`.  Returns 0, or -ENOMEM / -EAGAIN
 * (no memory for the heap, no timer thread): the caller then fails the
 * wait with that error before it queues anything. */
int corio__timer_arm(corio__timer *t, corio__wait *w, int64_t deadline);
/* Make sure `t` will not fire (from any thread; idempotent). */
void corio__timer_disarm(corio__timer *t);

#endif
