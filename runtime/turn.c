/* runtime/turn.c - the synchronized send's slow paths: callers that find a
 * coroutine busy wait their turn in arrival order (seed slide 90).
 *
 * The fast path (coro.c) is the plain send's: one CAS to take the
 * coroutine, one CAS to give it back.  Only when that give-back CAS fails
 * does a resumer come here, and it fails only because a waiter set
 * CORIO__CORO_WAITERS (under turn_lock, while the coroutine was RUNNING).
 *
 * Hand-over: the resumer takes turn_lock, claims the first waiter still
 * waiting (wait.h) and leaves the state RUNNING (with WAITERS if more are
 * queued): ownership passes from the resumer to that waiter without the
 * coroutine ever being SUSPENDED, so no late-comer (plain send or another
 * synchronized one) can overtake the queue.  The waiter's wait is decided
 * under the lock; its done-store (release) publishes the resumer's saved
 * context of the coroutine, as the release CAS of the fast path does.
 * When every queued waiter has gone (timed out, killed), the state becomes
 * SUSPENDED after all.  A coroutine that finished tells every waiter
 * (they return -EPIPE, as a send to a finished coroutine does). */
#include "runtime/coro.h"

#include <errno.h>

/* Unlink `n` and, if the queue is empty now, drop the WAITERS flag (the
 * state is RUNNING|WAITERS: only an owner's release, which takes this
 * lock, changes it otherwise).  Under turn_lock. */
static void leave_queue(corio_coro *co, corio__wnode *n) {
    corio__waitq_remove(&co->turn_q, n);
    if (corio__waitq_empty(&co->turn_q)) {
        int st = CORIO_CORO_RUNNING | CORIO__CORO_WAITERS;
        atomic_compare_exchange_strong_explicit(&co->state, &st, CORIO_CORO_RUNNING,
                                                memory_order_relaxed, memory_order_relaxed);
    }
}

int corio__turn_wait(corio_coro *co, int64_t deadline, int *prev) {
    corio__wait w;
    corio__wait_init(&w);
    corio__wnode n = {.wait = &w, .value = CORIO__TURN_OWNED};
    corio__spin_lock(&co->turn_lock);
    int st = atomic_load_explicit(&co->state, memory_order_acquire);
    for (;;) {
        if (st == CORIO_CORO_FINISHED) {
            corio__spin_unlock(&co->turn_lock);
            return -EPIPE;
        }
        if (st == CORIO_CORO_CREATED || st == CORIO_CORO_SUSPENDED) {
            /* Given back while we took the lock (no waiters, so we are
             * first in line): take it.  acquire: as coro.c's acquire(). */
            if (atomic_compare_exchange_weak_explicit(&co->state, &st, CORIO_CORO_RUNNING,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire)) {
                corio__spin_unlock(&co->turn_lock);
                *prev = st;
                return 0;
            }
            continue;
        }
        if (st == (CORIO_CORO_RUNNING | CORIO__CORO_WAITERS)) break;
        /* RUNNING without the flag: set it; the owner's give-back CAS will
         * then fail and bring it here.  relaxed: the lock orders the queue;
         * the owner reads the flag only through its CAS and then the lock. */
        if (atomic_compare_exchange_weak_explicit(&co->state, &st,
                                                  CORIO_CORO_RUNNING | CORIO__CORO_WAITERS,
                                                  memory_order_relaxed, memory_order_relaxed))
            break;
    }
    if (deadline == 0 || (deadline > 0 && corio__now_ns() >= deadline)) {
        /* timeout 0: only try (a deadline already passed is the same). */
        leave_queue(co, &n);
        corio__spin_unlock(&co->turn_lock);
        return -ETIMEDOUT;
    }
    corio__waitq_push(&co->turn_q, &n);
    corio__spin_unlock(&co->turn_lock);

    int r = corio__wait_block(&w, deadline, true);
    if (r == CORIO__TURN_OWNED) {
        *prev = CORIO_CORO_SUSPENDED;
        return 0;
    }
    if (r == CORIO__TURN_FINISHED) return -EPIPE;
    /* Timed out or killed: nobody claimed us; leave the queue. */
    corio__spin_lock(&co->turn_lock);
    leave_queue(co, &n);
    corio__spin_unlock(&co->turn_lock);
    return r;
}

void corio__turn_release(corio_coro *co, int next) {
    corio__spin_lock(&co->turn_lock);
    if (next == CORIO_CORO_FINISHED) {
        /* release: the result, for corio_coro_result and late callers. */
        atomic_store_explicit(&co->state, CORIO_CORO_FINISHED, memory_order_release);
        corio__wnode *n;
        while ((n = corio__waitq_peek(&co->turn_q)) != NULL) {
            corio__waitq_remove(&co->turn_q, n);
            if (corio__wait_decide(n->wait, CORIO__TURN_FINISHED)) corio__wait_done(n->wait);
        }
        corio__spin_unlock(&co->turn_lock);
        return;
    }
    corio__wnode *n = corio__waitq_claim(&co->turn_q);
    if (n == NULL) {
        /* Everyone left: suspended after all.  release: as the fast path. */
        atomic_store_explicit(&co->state, CORIO_CORO_SUSPENDED, memory_order_release);
        corio__spin_unlock(&co->turn_lock);
        return;
    }
    if (corio__waitq_empty(&co->turn_q))
        atomic_store_explicit(&co->state, CORIO_CORO_RUNNING, memory_order_relaxed);
    corio__spin_unlock(&co->turn_lock);
    /* release (done): the new owner sees the coroutine's saved context. */
    corio__wait_done(n->wait);
}
