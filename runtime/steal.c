/* runtime/steal.c - what a worker that ran dry takes from the others.
 *
 *   Rings: half of a random victim's ring, oldest first (deque.c); the
 *   oldest tasks of a fork-join tree are its biggest pieces.  A random
 *   start spreads the thieves over the victims.
 *
 *   Run-next slots: a task that waits in another worker's slot while that
 *   worker stays in one long turn (a parent that spawned a child and then
 *   computes) would otherwise wait for the whole computation while this
 *   worker idles.  It is taken only after a grace period in which the
 *   victim started no new turn: a slot that its owner is about to empty
 *   (the usual case: a message ping-pong) is left alone, so stealing does
 *   not pull a conversation apart.  Go's findrunnable does the same to
 *   runnext, with a 3 us pause.
 */
#define _GNU_SOURCE 1
#include <time.h>

#include "runtime/sched.h"

#define LIFO_GRACE_NS 20000 /* 20 us with the victim in one turn */

static void count_steal(corio__worker *w, corio__worker *v, uint64_t got) {
    CORIO__STAT_ADD(w, steals, 1);
    CORIO__STAT_ADD(w, stolen_tasks, got);
    atomic_fetch_add_explicit(&v->m.stolen_from, got, memory_order_relaxed);
}

corio__task *corio__steal(corio__worker *w) {
    corio_rt *rt = w->rt;
    unsigned n = rt->nworkers;
    if (n < 2) return NULL;
    /* xorshift64: a cheap random start, so thieves spread over victims. */
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    unsigned start = (unsigned)(w->rng % n);
    for (unsigned i = 0; i < n; i++) {
        corio__worker *v = &rt->workers[(start + i) % n];
        if (v == w) continue;
        size_t before = corio__deque_len(&w->q);
        corio__task *t = corio__deque_steal(&v->q, &w->q);
        if (t != NULL) {
            count_steal(w, v, 1 + corio__deque_len(&w->q) - before);
            return t;
        }
    }
    return NULL;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A victim's turn counter: bumped by its owner at every turn (relaxed: a
 * statistic, read here only to see whether it moved). */
static uint64_t turns(corio__worker *v) {
    return atomic_load_explicit(&v->m.tasks_run, memory_order_relaxed);
}

corio__task *corio__slot_steal(corio__slot *s, corio__task *expect) {
    unsigned free_ = 0;
    /* acquire: pairs with the previous thief's release. */
    if (!atomic_compare_exchange_strong_explicit(&s->thief, &free_, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        return NULL;
    corio__asym_heavy(); /* the owner's busy flag is now exact (slot.h) */
    corio__task *t = NULL;
    /* acquire (both): pair with the owner's release of busy and of the
     * slot pointer: the task's fields come with it. */
    if (atomic_load_explicit(&s->busy, memory_order_acquire) == 0 &&
        atomic_load_explicit(&s->task, memory_order_acquire) == expect) {
        atomic_store_explicit(&s->task, NULL, memory_order_relaxed);
        t = expect;
    }
    /* release: the owner, waiting in corio__slot_enter, then sees the slot
     * as we left it. */
    atomic_store_explicit(&s->thief, 0, memory_order_release);
    return t;
}

corio__task *corio__steal_lifo(corio__worker *w) {
    corio_rt *rt = w->rt;
    unsigned n = rt->nworkers;
    if (n < 2) return NULL;
    /* One victim at a time, starting after ourselves: a slot holds one task. */
    for (unsigned i = 1; i < n; i++) {
        corio__worker *v = &rt->workers[(w->index + i) % n];
        corio__task *t = corio__slot_peek(&v->lifo);
        if (t == NULL) continue;
        uint64_t seen = turns(v);
        uint64_t end = now_ns() + LIFO_GRACE_NS;
        bool moved = false;
        while (now_ns() < end) {
            if (turns(v) != seen || corio__slot_peek(&v->lifo) != t) {
                moved = true;
                break;
            }
            __builtin_ia32_pause();
        }
        if (moved) continue;
        /* A task that the owner took and put back meanwhile is still a
         * queued task: taking it is an ordinary steal (state.h R1: whoever
         * empties a slot owns it). */
        if (corio__slot_steal(&v->lifo, t) != NULL) {
            count_steal(w, v, 1);
            w->nap_ns = 0; /* the next nap beside a held slot is short again */
            return t;
        }
    }
    return NULL;
}
