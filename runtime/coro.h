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
    /* The head, up to `waiters`, is struct corio__coro_head of
     * corio/coro_fast.h, field for field (checked in coro.c): the inline
     * fast path of send and yield reads and writes it. */
    corio__ctx ctx;          /* must stay first: ctx <-> coro by cast */
    /* enum corio_coro_state.  Acquire/release: the CAS that takes a
     * SUSPENDED coroutine to RUNNING (acq_rel) pairs with the release store
     * of SUSPENDED/FINISHED by the previous resumer, so a resumer on another
     * thread sees everything the coroutine and its last resumer wrote. */
    _Atomic int state;
    /* The inline path may take it: set once at creation (the library has
     * no sanitizers, the stack no canary, membarrier is registered). */
    int fast;
    corio__ctx *caller;      /* who resumed us; valid while RUNNING */
    void *transfer;          /* value in (send) and out (yield/return) */
    int code;                /* what the pending yield returns */
    int returned;            /* set by the body's exit, read by the resumer */
    /* 1 while the synchronized send's queue of callers waiting their turn
     * is not empty (written under turn_lock, read by release() without
     * it: turn.c). */
    _Atomic int waiters;
    corio_coro_fn fn;
    void *arg;
    /* The queue, in arrival order, and the lock that guards it. */
    corio__spin turn_lock;
    corio__waitq turn_q;
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
