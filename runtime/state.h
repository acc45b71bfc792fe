/* runtime/state.h - a task's scheduling state: one atomic word and every
 * transition of it, named, each with its memory order argued once (the
 * shape of tokio's runtime/task/state.rs).  Nothing else in runtime/ reads
 * or writes the word.
 *
 * The word is a set of bits:
 *
 *   ACTIVE     the scheduler owns the task: it is in a run queue, in a
 *              run-next slot, or running.  Not set: the task is parked
 *              (IDLE, the word without ACTIVE and DONE): its context is
 *              saved and no queue holds it.
 *   NOTIFIED   (with ACTIVE) a wake came since its turn began: the park it
 *              may be about to make must not stick; it is queued again.
 *   CANCELLED  the task has been killed.  Stays set until the task ends.
 *   DONE       its function returned, or it ended without running.
 *
 *   spawn (store, under the task lock) ---------------> ACTIVE
 *   turn_begin (a worker took it from a queue) -------> ACTIVE, NOTIFIED cleared
 *   wake/kill while ACTIVE (RMW) ---------------------> ACTIVE|NOTIFIED (|CANCELLED)
 *   park_commit, after its context is saved (CAS) ----> IDLE (|CANCELLED); fails
 *                                                      while NOTIFIED: queue it again
 *   wake/kill while IDLE (RMW; the waker queues it) --> ACTIVE (|CANCELLED)
 *   finish, after its last switch (store) ------------> DONE
 *   DONE --spawn of a new task in the same struct-----> ACTIVE
 *   a yield -------------------------------------------> no change: it stays ACTIVE
 *
 * The rules a waker relies on:
 *   R1. A task is queued only by the one that moved it to ACTIVE (spawn, or
 *       a waker's IDLE -> ACTIVE) or by the worker that ran it (a yield, a
 *       failed park_commit).  So it is on at most one queue, and it runs on
 *       at most one thread.
 *   R2. "Parked" is published only by park_commit, by the worker, after the
 *       task's context is saved (DESIGN trap 2): on its own stack, or in
 *       the hook of a direct park on the next task's stack.  A waker never
 *       resumes a half-saved stack.
 *   R3. Every wake and every kill is a read-modify-write of this word, and
 *       so is park_commit.  Whatever a waker did before its RMW (set a
 *       permit, finish a joined task, set CANCELLED itself) is seen by the
 *       task after its park: either the waker's RMW comes first in the
 *       word's modification order, then park_commit fails on NOTIFIED and
 *       the task runs again; or park_commit comes first, then the waker
 *       reads IDLE and queues the task.  A separate flag word (a `killed`
 *       store, then a load of this word) would allow both sides to read the
 *       old values (the store-buffer reordering x86 allows; DESIGN trap 11),
 *       and a kill would be lost.
 *
 * Memory orders, once for all the functions below:
 *   - wake/kill RMWs are acq_rel: release publishes what the waker wrote
 *     before (the permit, a result, the cancel); acquire, on the IDLE ->
 *     ACTIVE path, pairs with park_commit's release, so the waker that
 *     queues the task has its saved context.
 *   - park_commit is release on success (publishes the saved context) and
 *     acquire on failure (what the waker that set NOTIFIED wrote is visible
 *     when the task runs again; the queue push orders it further).
 *   - turn_begin's load is relaxed: the queue pop that gave us the task
 *     already acquired its data; clearing NOTIFIED is acquire so that the
 *     waker's writes are seen by the condition the task re-checks.  A stale
 *     load only leaves NOTIFIED set, which costs one extra turn.
 *   - cancelled() is acquire: pairs with the kill's release.
 *   - spawn's and finish's stores are plain stores by the only owner of the
 *     task at that moment: spawn's is published by the task lock and the
 *     queue push; finish's is release, so that a waker that reads DONE does
 *     nothing and sees the task's end.  A waker's RMW that lands between a
 *     finish and the next spawn of the struct only sets NOTIFIED on the new
 *     task (one spurious turn); kills and unparks, whose effects are not
 *     harmless, resolve the id under the task lock first (task.c), so they
 *     never reach a new task through an old id.
 */
#ifndef CORIO_RUNTIME_STATE_H
#define CORIO_RUNTIME_STATE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "runtime/chaos.h"

enum {
    CORIO__S_ACTIVE = 1u << 0,
    CORIO__S_NOTIFIED = 1u << 1,
    CORIO__S_CANCELLED = 1u << 2,
    CORIO__S_DONE = 1u << 3,
};

typedef struct corio__state {
    _Atomic unsigned word;
} corio__state;

/* A new task in the struct (spawn; caller holds the task lock). */
static inline void corio__state_spawned(corio__state *s) {
    atomic_store_explicit(&s->word, CORIO__S_ACTIVE, memory_order_relaxed);
}

/* A worker took the task from a queue to run it now; returns the word. */
static inline unsigned corio__state_turn_begin(corio__state *s) {
    unsigned w = atomic_load_explicit(&s->word, memory_order_relaxed);
    if (w & CORIO__S_NOTIFIED) {
        CORIO__CHAOS();
        w = atomic_fetch_and_explicit(&s->word, ~(unsigned)CORIO__S_NOTIFIED,
                                      memory_order_acquire) &
            ~(unsigned)CORIO__S_NOTIFIED;
        CORIO__CHAOS();
    }
    return w;
}

/* Has the task been killed? */
static inline bool corio__state_cancelled(corio__state *s) {
    return (atomic_load_explicit(&s->word, memory_order_acquire) & CORIO__S_CANCELLED) != 0;
}

/* The worker's side of a park, once the task's context is saved.  True: the
 * task is parked now, and only a waker may queue it.  False: a wake came
 * first; the caller queues it again. */
static inline bool corio__state_park_commit(corio__state *s) {
    CORIO__CHAOS();
    unsigned w = atomic_load_explicit(&s->word, memory_order_relaxed);
    for (;;) {
        if (w & CORIO__S_NOTIFIED) return false;
        if (atomic_compare_exchange_weak_explicit(&s->word, &w, w & ~(unsigned)CORIO__S_ACTIVE,
                                                  memory_order_release, memory_order_acquire)) {
            CORIO__CHAOS();
            return true;
        }
    }
}

/* Wake the task (and with cancel, mark it killed), starting from `seen`,
 * a value of the word the caller read (CORIO__STATE_UNSEEN: none, load
 * it here).  True when the caller moved it from IDLE to ACTIVE and must
 * queue it (R1). */
#define CORIO__STATE_UNSEEN (~0u)
static inline bool corio__state_notify_from(corio__state *s, bool cancel, unsigned seen) {
    unsigned add = cancel ? CORIO__S_CANCELLED : 0u;
    CORIO__CHAOS();
    unsigned w = seen != CORIO__STATE_UNSEEN ? seen
                                             : atomic_load_explicit(&s->word, memory_order_acquire);
    for (;;) {
        if (w & CORIO__S_DONE) return false;
        unsigned nw;
        if (w & CORIO__S_ACTIVE) {
            /* Even when the word already says NOTIFIED (and CANCELLED),
             * write it (nw == w is still a successful CAS, an RMW): a
             * caller that stored its outcome before this call relies on
             * R3.  Returning on a load of NOTIFIED would be the
             * store-then-load of DESIGN trap 11: the task may clear
             * NOTIFIED, read the outcome's flag from before the store,
             * and park for ever, while this load saw the old NOTIFIED. */
            nw = w | CORIO__S_NOTIFIED | add;
        } else {
            nw = w | CORIO__S_ACTIVE | add;
        }
        if (atomic_compare_exchange_weak_explicit(&s->word, &w, nw, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            CORIO__CHAOS();
            return (w & CORIO__S_ACTIVE) == 0;
        }
    }
}

static inline bool corio__state_notify(corio__state *s, bool cancel) {
    return corio__state_notify_from(s, cancel, CORIO__STATE_UNSEEN);
}

/* The chaos mode's model of a store buffer (chaos.h): a waker that stores
 * its outcome and then notifies may have its load of the word satisfied
 * before its store is visible (x86 lets a load pass an earlier store to
 * another address; C11 lets an acquire load pass an earlier release
 * store).  Under CORIO_CHAOS the waker reads the word *before* its store,
 * pauses, and hands that value to corio__state_notify_from: the
 * reordering becomes the common case instead of a nanosecond window.
 * Otherwise nothing is read early. */
static inline unsigned corio__state_early(corio__state *s) {
#ifdef CORIO_CHAOS
    unsigned w = atomic_load_explicit(&s->word, memory_order_relaxed);
    corio__chaos_at(2); /* the store waits in the buffer: often, and long */
    return w;
#else
    (void)s;
    return CORIO__STATE_UNSEEN;
#endif
}

/* The task has ended (after its last switch, on the worker's stack). */
static inline void corio__state_finish(corio__state *s) {
    CORIO__CHAOS();
    atomic_store_explicit(&s->word, CORIO__S_DONE, memory_order_release);
}

/* A snapshot, for assertions and diagnostics only. */
static inline unsigned corio__state_peek(corio__state *s) {
    return atomic_load_explicit(&s->word, memory_order_relaxed);
}

#endif
