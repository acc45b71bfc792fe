/* runtime/runq.c - a worker's own run queue: the run-next (LIFO) slot in
 * front of its ring (deque.c), and where a task goes when it is queued.
 *
 *   A task spawned or woken by a task on this worker goes to the run-next
 *   slot, so a message ping-pong stays on one core; the slot's previous
 *   occupant moves to the ring, where thieves can take it.  Threads that
 *   are not workers push to the global injection queue (inject.c).  A full
 *   ring moves half of itself to the injection queue.  A task that yields
 *   goes to the oldest end of the ring, behind everything queued.
 *
 * The slot (slot.h) is filled and emptied by its owner with plain atomic
 * loads and stores; a searching worker may take a task that has waited in
 * it too long (steal.c), paying for the exclusion with a heavy fence.  Without that, a task
 * that spawns a child and then computes for a long time would keep the
 * child in its slot, unseen by the idle workers (Go steals runnext for the
 * same reason).  A fill of an empty slot also wakes a worker that sleeps
 * without a time limit (idle.c), so that someone is looking.
 */
#include "runtime/sched.h"

/* Full ring: move its older half plus t to the injection queue in one go. */
static void overflow(corio__worker *w, corio__task *t) {
    void *batch[CORIO__DEQUE_CAPACITY / 2 + 1];
    size_t n = corio__deque_take_half(&w->q, batch);
    batch[n++] = t;
    for (size_t i = 0; i + 1 < n; i++) ((corio__task *)batch[i])->next = batch[i + 1];
    corio__inject_push(w->rt, batch[0], batch[n - 1], n);
}

void corio__runq_push(corio__worker *w, corio__task *t) {
    if (corio__deque_push(&w->q, t) != 0) overflow(w, t);
}

void corio__runq_push_back(corio__worker *w, corio__task *t) {
    t->yielded = true;
    if (corio__deque_push_front(&w->q, t) != 0) overflow(w, t);
}

void corio__schedule(corio__task *t, bool lifo) {
    corio__schedule_from(corio__worker_self(), t, lifo);
}

void corio__schedule_from(corio__worker *w, corio__task *t, bool lifo) {
    corio_rt *rt = t->rt;
    if (w == NULL || w->rt != rt) {
        corio__inject_push(rt, t, t, 1);
        corio__idle_notify(rt);
        return;
    }
    if (w->in_park) {
        /* An event delivered inside this worker's park: the worker leaves
         * its sleep to run it (idle.c).  A notify now would pick a sleeper,
         * maybe this very worker, for a wasted wake-up. */
        if (lifo) t = corio__slot_put(&w->lifo, t);
        if (t != NULL) corio__runq_push(w, t);
        return;
    }
    if (lifo) {
        corio__task *prev = corio__slot_put(&w->lifo, t);
        if (prev == NULL) {
            /* The light side of the pattern with a worker going to sleep
             * with no time limit (slot.h, idle.c): it counts itself in
             * `deep`, fences heavily, then looks at every slot; either it
             * sees this task, or we see it counted. */
            if (rt->nworkers > 1) {
                corio__asym_light();
                if (atomic_load_explicit(&rt->idle.deep, memory_order_relaxed) != 0)
                    corio__idle_notify(rt);
            }
            return;
        }
        t = prev;
    }
    corio__runq_push(w, t);
    corio__idle_notify(rt);
}

void corio__runq_refill(corio__worker *w) {
    while (w->backlog_head != NULL) {
        corio__task *t = w->backlog_head;
        /* Newer than everything in the ring: its oldest end (FIFO). */
        if (corio__deque_push_front(&w->q, t) != 0) return;
        w->backlog_head = t->next;
        if (w->backlog_head == NULL) w->backlog_tail = NULL;
        t->next = NULL;
    }
}

void corio__schedule_back(corio__task *t) {
    corio__worker *w = corio__worker_self();
    if (w == NULL || w->rt != t->rt) {
        corio__schedule_from(w, t, false);
        return;
    }
    t->yielded = true;
    if (w->backlog_head != NULL || corio__deque_push_front(&w->q, t) != 0) {
        /* A full ring (900 connections woken at once on one worker): the
         * worker's backlog, a FIFO that the ring takes from as it drains.
         * Not the injection queue: at its tail a woken task would wait
         * behind every new task queued there (100,000 new sleepers:
         * hundreds of ms), and at its head (a LIFO) the first of a stream
         * of overflows would starve (a connection served 7 times in 4 s
         * while the others were served hundreds of times). */
        t->next = NULL;
        if (w->backlog_tail != NULL) w->backlog_tail->next = t;
        else w->backlog_head = t;
        w->backlog_tail = t;
    }
    if (w->in_park) return; /* the worker leaves its sleep to run it (idle.c) */
    /* Stealable now: as for a yield (worker.c), wake a sleeper only when
     * nobody searches, and look at that cheaply first. */
    corio_rt *rt = w->rt;
    if (atomic_load_explicit(&rt->idle.searching, memory_order_relaxed) == 0 &&
        atomic_load_explicit(&rt->idle.unparked, memory_order_relaxed) < rt->nworkers)
        corio__idle_notify(rt);
}

bool corio__rt_has_work(corio_rt *rt) {
    if (atomic_load_explicit(&rt->inject_len, memory_order_acquire) != 0) return true;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (!corio__deque_is_empty(&rt->workers[i].q)) return true;
    return false;
}

bool corio__rt_any_lifo(corio_rt *rt, const corio__worker *self) {
    for (unsigned i = 0; i < rt->nworkers; i++) {
        const corio__worker *v = &rt->workers[i];
        /* After the sleeper's heavy fence (idle.c): see slot.h. */
        if (v != self && corio__slot_peek(&((corio__worker *)v)->lifo) != NULL) return true;
    }
    return false;
}
