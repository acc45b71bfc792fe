/* runtime/slot.h - a worker's run-next slot: one task, filled and emptied
 * by its owner on every spawn and wake (the hot path), and taken by
 * another worker only when it has waited in it too long (steal.c).
 *
 * The owner must never pay a locked instruction here (an exchange per fill
 * and per take cost fib(30) about a sixth of its time).  So the slot is
 * guarded by two flags and the asymmetric fence (asym.h):
 *
 *   owner op:  busy = 1; light fence; if thief: busy = 0, wait, retry;
 *              read/write the slot; busy = 0 (release)
 *   thief:     CAS thief 0 -> 1 (one thief at a time); heavy fence;
 *              if busy: give up; read/write the slot; thief = 0 (release)
 *
 * Either the owner's load of `thief` comes after the heavy fence's barrier
 * and sees the thief (the owner waits), or its store of `busy` came before
 * it and the thief sees the owner busy (the thief gives up), or the
 * owner's operation was over before the thief looked (and the thief sees
 * its writes through the release of busy = 0).  So owner and thief never
 * touch the slot at once, and each slot access is a plain atomic load or
 * store.  The slot pointer is written with release and read with acquire
 * by the thief: the task's fields travel with it.
 *
 * A fill of an empty slot also reads `deep` (workers asleep with no time
 * limit, idle.c), the light side of one more such pattern: a worker going
 * to sleep counts itself in `deep`, issues the heavy fence and then looks
 * at every slot (corio__rt_any_lifo), so either it sees the new task and
 * naps, or the filler sees it counted and wakes a worker.
 */
#ifndef CORIO_RUNTIME_SLOT_H
#define CORIO_RUNTIME_SLOT_H

#include <sched.h>
#include <stdatomic.h>

#include "runtime/asym.h"

typedef struct corio__task corio__task;

typedef struct corio__slot {
    _Atomic(corio__task *) task;
    _Atomic unsigned busy;  /* the owner is in an operation (owner writes) */
    _Atomic unsigned thief; /* a thief is in one (thieves CAS it) */
} corio__slot;

/* Owner: enter an operation, waiting out a thief that is in one. */
static inline void corio__slot_enter(corio__slot *s) {
    for (unsigned n = 0;; n++) {
        atomic_store_explicit(&s->busy, 1, memory_order_relaxed);
        corio__asym_light();
        if (__builtin_expect(atomic_load_explicit(&s->thief, memory_order_relaxed) == 0, 1)) return;
        atomic_store_explicit(&s->busy, 0, memory_order_relaxed);
        /* acquire: pairs with the thief's release of `thief`, so what it
         * did to the slot is seen when we retry. */
        while (atomic_load_explicit(&s->thief, memory_order_acquire) != 0) {
            if (n < 64) __builtin_ia32_pause();
            else sched_yield();
        }
    }
}

static inline void corio__slot_leave(corio__slot *s) {
    /* release: a thief that then sees busy == 0 (acquire) sees our slot
     * writes. */
    atomic_store_explicit(&s->busy, 0, memory_order_release);
}

/* Owner: empty the slot; its task or NULL.  A NULL slot stays NULL (only
 * the owner fills it), so the common empty case takes no flag at all. */
static inline corio__task *corio__slot_take(corio__slot *s) {
    if (atomic_load_explicit(&s->task, memory_order_relaxed) == NULL) return NULL;
    corio__slot_enter(s);
    corio__task *t = atomic_load_explicit(&s->task, memory_order_relaxed);
    atomic_store_explicit(&s->task, NULL, memory_order_relaxed);
    corio__slot_leave(s);
    return t;
}

/* Owner: put `t` in the slot; the task it held before, or NULL. */
static inline corio__task *corio__slot_put(corio__slot *s, corio__task *t) {
    corio__slot_enter(s);
    corio__task *prev = atomic_load_explicit(&s->task, memory_order_relaxed);
    /* release: publishes the task's fields to a thief's acquire load. */
    atomic_store_explicit(&s->task, t, memory_order_release);
    corio__slot_leave(s);
    return prev;
}

/* Any thread: a look (may be stale). */
static inline corio__task *corio__slot_peek(corio__slot *s) {
    return atomic_load_explicit(&s->task, memory_order_acquire);
}

/* Thief: take the slot's task if it is still `expect`; NULL otherwise (or
 * when the owner is busy with it, or another thief is). */
corio__task *corio__slot_steal(corio__slot *s, corio__task *expect);

#endif
