/* runtime/turn.c - the synchronized send's slow paths: callers that find a
 * coroutine busy wait their turn in arrival order.
 *
 * The fast path (coro.c) is the plain send's: a CAS takes the coroutine,
 * a release store gives it back, and then one relaxed load of `waiters`
 * behind a compiler barrier.  Waiters and resumers meet in an asymmetric
 * Dekker pair (runtime/asym.h):
 *
 *   waiter (here, under turn_lock)        resumer (coro.c release())
 *   ------------------------------        --------------------------
 *   queue its node; waiters = 1           state = SUSPENDED (release)
 *   corio__asym_heavy()  (membarrier)     corio__asym_light() (barrier)
 *   load state                            load waiters
 *
 * At least one side sees the other's store.  If the waiter sees the
 * coroutine free and is first in the queue, it takes it itself (CAS);
 * otherwise it blocks, and then the resumer has seen `waiters` (or an
 * earlier waiter's, by the same argument applied to it) and calls
 * corio__turn_kick, which takes the coroutine back (CAS SUSPENDED ->
 * RUNNING) on behalf of the first waiter and hands it over.  The kick
 * needs turn_lock, which the checking waiter holds, so the two never race
 * on the queue.  A plain (unsynchronized) send can slip into the short
 * window between a resumer's store and its kick; the kick's CAS then
 * fails and that sender's own release kicks instead.  Synchronized callers
 * never overtake: they check `waiters` before trying the coroutine.
 *
 * `waiters` is 1 exactly while the queue is not empty, written under
 * turn_lock.  Ownership handed over by a kick is published by the kick's
 * acquire CAS (it sees the last resumer's saved context) and the waiter's
 * `done` (release/acquire, wait.h). */
#include "runtime/coro.h"

#include <errno.h>

#include "runtime/asym.h"
#include "runtime/task.h"

/* Under turn_lock: keep `waiters` equal to "the queue is not empty".
 * relaxed: the lock orders it for the other waiters; resumers pair with it
 * through the asymmetric fence. */
static void sync_flag(corio_coro *co) {
    atomic_store_explicit(&co->waiters, corio__waitq_empty(&co->turn_q) ? 0 : 1,
                          memory_order_relaxed);
}

static void leave_queue(corio_coro *co, corio__wnode *n) {
    corio__waitq_remove(&co->turn_q, n);
    sync_flag(co);
}

int corio__turn_wait(corio_coro *co, int64_t deadline, int *prev) {
    corio__wait w;
    corio__wait_init(&w);
    corio__wnode n = {.wait = &w, .value = CORIO__TURN_OWNED};
    corio__spin_lock(&co->turn_lock);
    corio__waitq_push(&co->turn_q, &n);
    sync_flag(co);
    corio__asym_heavy();
    for (;;) {
        int st = atomic_load_explicit(&co->state, memory_order_acquire);
        if (st == CORIO_CORO_FINISHED) {
            leave_queue(co, &n);
            corio__spin_unlock(&co->turn_lock);
            return -EPIPE;
        }
        if (st == CORIO_CORO_RUNNING || corio__waitq_peek(&co->turn_q) != &n) break;
        /* Free and we are first: take it.  acquire: as coro.c's acquire(). */
        if (atomic_compare_exchange_strong_explicit(&co->state, &st, CORIO_CORO_RUNNING,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            leave_queue(co, &n);
            corio__spin_unlock(&co->turn_lock);
            *prev = st;
            return 0;
        }
        /* Taken meanwhile (a plain send): look again. */
    }
    if (deadline >= 0 && corio__now_ns() >= deadline) {
        /* timeout 0 only tries; a deadline already passed is the same. */
        leave_queue(co, &n);
        corio__spin_unlock(&co->turn_lock);
        return -ETIMEDOUT;
    }
    corio__spin_unlock(&co->turn_lock);

    corio__note_set(corio__task_note(w.task), CORIO__WHY_SEND, 0, (intptr_t)co);
    int r = corio__wait_block(&w, deadline, true);
    corio__note_clear(corio__task_note(w.task));
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

void corio__turn_kick(corio_coro *co) {
    corio__spin_lock(&co->turn_lock);
    int st = CORIO_CORO_SUSPENDED;
    if (atomic_compare_exchange_strong_explicit(&co->state, &st, CORIO_CORO_RUNNING,
                                                memory_order_acq_rel,
                                                memory_order_acquire)) {
        /* Ours, on behalf of the first waiter still waiting. */
        corio__wnode *n = corio__waitq_claim(&co->turn_q);
        sync_flag(co);
        if (n == NULL) {
            /* Every waiter left meanwhile: free after all (no new one
             * can queue while we hold the lock).  release: as coro.c. */
            atomic_store_explicit(&co->state, CORIO_CORO_SUSPENDED, memory_order_release);
            corio__spin_unlock(&co->turn_lock);
            return;
        }
        corio__spin_unlock(&co->turn_lock);
        corio__wait_done(n->wait); /* release: the new owner's context */
        return;
    }
    if (st != CORIO_CORO_FINISHED) {
        /* RUNNING: someone took it; their give-back kicks again. */
        corio__spin_unlock(&co->turn_lock);
        return;
    }
    /* Finished: every waiter gets -EPIPE, all decided under the lock
     * and woken after it; the coroutine is not touched after the first
     * wake, since a woken waiter may destroy it (wait.h,
     * corio__wbatch). */
    corio__wbatch b;
    corio__wbatch_init(&b);
    corio__wnode *n;
    while ((n = corio__waitq_peek(&co->turn_q)) != NULL) {
        /* Decided meanwhile (a timeout): skipped, its waiter unlinks it. */
        if (!corio__wait_decide(n->wait, CORIO__TURN_FINISHED)) continue;
        corio__waitq_remove(&co->turn_q, n);
        corio__wbatch_add(&b, n->wait);
    }
    sync_flag(co);
    corio__spin_unlock(&co->turn_lock);
    (void)corio__wait_done_batch(&b);
}
