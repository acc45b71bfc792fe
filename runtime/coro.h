/* runtime/coro.h - the coroutine object, shared with the scheduler (a task
 * resumes a chain at its innermost coroutine). */
#ifndef CORIO_RUNTIME_CORO_H
#define CORIO_RUNTIME_CORO_H

#include <stdatomic.h>
#include <stdbool.h>

#include "corio/coro.h"
#include "runtime/context.h"
#include "runtime/spin.h"
#include "runtime/wait.h"

struct corio_coro {
    corio__ctx ctx;          /* must stay first: ctx <-> coro by cast */
    /* enum corio_coro_state.  Acquire/release: the CAS that takes a
     * SUSPENDED coroutine to RUNNING (acq_rel) pairs with the release store
     * of SUSPENDED/FINISHED by the previous resumer, so a resumer on another
     * thread sees everything the coroutine and its last resumer wrote. */
    _Atomic int state;
    corio_coro_fn fn;
    void *arg;
    corio__ctx *caller;      /* who resumed us; valid while RUNNING */
    void *transfer;          /* value in (send) and out (yield/return) */
    int code;                /* what the pending yield returns */
    bool returned;           /* set by the body's exit, read by the resumer */
    /* The synchronized send's queue of callers waiting their turn, in
     * arrival order, and the lock that guards it; `waiters` is 1 while
     * the queue is not empty (written under turn_lock, read by release()
     * without it: turn.c). */
    corio__spin turn_lock;
    corio__waitq turn_q;
    _Atomic int waiters;
};

/* Wait values of the turn queue's waiters. */
enum { CORIO__TURN_OWNED = 1, CORIO__TURN_FINISHED = 2 };

/* turn.c: the slow paths of the synchronized send. */
/* `co` was found busy (RUNNING, not on the caller's chain, or callers are
 * queued): queue for its turn.  Returns 0 once the caller owns it
 * (RUNNING), -EPIPE if it finished meanwhile, or the wait's error. */
int corio__turn_wait(corio_coro *co, int64_t deadline, int *prev);
/* A resume gave `co` back and saw `waiters`: hand it to the first waiter
 * (or, finished, tell every waiter). */
void corio__turn_kick(corio_coro *co);

#endif
