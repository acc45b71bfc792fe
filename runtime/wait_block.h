/* runtime/wait_block.h - the blocking side of a wait (wait.h), inline.
 *
 * corio__wait_block (wait.c) is this function behind a call.  The hottest
 * waiters, a channel's send and receive (sync/chan.c), inline it instead:
 * a resumed receiver then returns through one function level, not two, to
 * its caller, and each level costs a mispredicted return after a stack
 * switch (docs/bench.md, switch).
 *
 * Only for a function marked CORIO__SWITCHES (never inlined into a
 * caller's loop): the thread is read from TLS once, before the first park,
 * and after each park taken from the switch (corio__task_park_on), so no
 * TLS address is carried across a switch (trap 1). */
#ifndef CORIO_RUNTIME_WAIT_BLOCK_H
#define CORIO_RUNTIME_WAIT_BLOCK_H

#include <errno.h>
#include <stdint.h>

#include "runtime/chaos.h"
#include "runtime/sched.h"
#include "runtime/timer.h"
#include "runtime/wait.h"

/* A plain thread's wait: on the futex of `done` (wait.c). */
int corio__wait_thread_block(corio__wait *w, int64_t deadline);

__attribute__((always_inline)) static inline bool corio__wait_is_done(corio__wait *w) {
    return atomic_load_explicit(&w->done, memory_order_acquire) != 0;
}

/* corio__wait_block's contract (wait.h). */
__attribute__((always_inline)) static inline int corio__wait_block_here(corio__wait *w,
                                                                       int64_t deadline,
                                                                       bool killable) {
    if (w->task == NULL) return corio__wait_thread_block(w, deadline);
    corio__timer tm;
    tm.idx = UINT32_MAX;
    bool armed = false;
    if (deadline >= 0) {
        int r = corio__timer_arm(&tm, w, deadline);
        if (r < 0) {
            if (corio__wait_decide(w, r)) return r;
        } else {
            armed = true;
        }
    }
    corio__thread *th = corio__thread_here();
    while (!corio__wait_is_done(w)) {
        CORIO__CHAOS(); /* between the check of done and the park */
        if (killable && corio__state_cancelled(&w->task->state) &&
            corio__wait_decide(w, -ECANCELED)) {
            atomic_store_explicit(&w->done, 1, memory_order_relaxed); /* our own */
            break;
        }
        th = corio__task_park_on(th);
    }
    /* After this the timer thread never touches tm or w again. */
    if (armed) corio__timer_disarm(&tm);
    return atomic_load_explicit(&w->state, memory_order_acquire);
}

#endif
