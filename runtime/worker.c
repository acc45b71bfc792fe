/* runtime/worker.c - one worker: its scheduler loop, its run queue with the
 * run-next (LIFO) slot, the global injection queue, and stealing.
 *
 * Design (after Go's proc.go and tokio's multi_thread scheduler):
 *
 *   Each worker owns a bounded ring (deque.c) plus a one-task run-next slot.
 *   A task spawned or woken by a task on this worker goes to the slot, so a
 *   message ping-pong stays on one core; the slot's previous occupant moves
 *   to the ring where thieves can take it.  Threads that are not workers
 *   push to the global injection queue (a mutex and a list: they are the
 *   slow path).  A full ring moves half of itself to the injection queue.
 *
 *   next_local: the run-next slot; then the newest task of the ring (owner
 *   LIFO: a fork-join program runs depth-first, so few tasks and stacks are
 *   alive at once); then a batch from the injection queue; then stealing
 *   half of a random victim's ring, oldest first (the biggest pieces of a
 *   fork-join tree).  Every 61st turn is the fairness turn: the I/O parker
 *   is polled, and the injection queue, else a task that yielded and waits
 *   at the oldest end of the ring, runs first: neither a busy worker nor two
 *   tasks waking each other through the run-next slot can starve them.  A
 *   task that yields goes to the oldest end: it waits behind everything
 *   queued, and no longer than one fairness turn once it is first there.
 *
 *   Rejected: a single shared queue (every spawn contends on one lock); a
 *   FIFO ring for the owner, as Go and tokio have (fork-join programs then
 *   run breadth-first: fib(30) kept ~35,000 started tasks, each with a
 *   stack, alive at once; deque.md); the classic Chase-Lev owner pop without
 *   a CAS (unsafe with steal-half, deque.md); one shared live-task counter
 *   (a cache line bouncing between workers on every spawn and exit: 2
 *   workers ran fib(30) no faster than 1); an unbounded number of searching
 *   workers (they burn the CPUs the busy workers need: idle.c).
 *
 *   Idle workers park (park.h) after the "unmark, full fence, recheck"
 *   protocol of idle.c; whoever publishes work follows "publish, full fence,
 *   check searchers" (corio__idle_notify).  No busy spinning when idle.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdlib.h>

#include "runtime/panic.h"
#include "runtime/sched.h"

#define FAIR_INTERVAL 61u /* Go and tokio use 61: a prime, so it does not beat
                             with program periods */

corio__worker *corio__worker_self(void) {
    return corio__thread_get()->worker;
}

/* ---- injection queue ------------------------------------------------------ */

void corio__inject_push(corio_rt *rt, corio__task *first, corio__task *last, size_t n) {
    last->next = NULL;
    pthread_mutex_lock(&rt->inject_lock);
    if (rt->inject_tail != NULL) rt->inject_tail->next = first;
    else rt->inject_head = first;
    rt->inject_tail = last;
    /* release: a peek that sees the new length also sees the tasks (the
     * mutex orders the rest). */
    atomic_fetch_add_explicit(&rt->inject_len, n, memory_order_release);
    pthread_mutex_unlock(&rt->inject_lock);
}

/* Pop up to `max` tasks; the first is returned, the rest go to w's ring. */
static corio__task *inject_pop(corio_rt *rt, corio__worker *w, size_t max) {
    if (atomic_load_explicit(&rt->inject_len, memory_order_acquire) == 0) return NULL;
    pthread_mutex_lock(&rt->inject_lock);
    corio__task *first = rt->inject_head;
    if (first == NULL) {
        pthread_mutex_unlock(&rt->inject_lock);
        return NULL;
    }
    size_t len = atomic_load_explicit(&rt->inject_len, memory_order_relaxed);
    size_t n = len / rt->nworkers + 1;
    if (n > max) n = max;
    size_t room = corio__deque_capacity(&w->q) - corio__deque_len(&w->q);
    if (n > room + 1) n = room + 1;
    corio__task *t = first;
    size_t taken = 1;
    corio__task *rest = first->next;
    while (taken < n && rest != NULL) {
        corio__task *nx = rest->next;
        rest->next = NULL;
        if (corio__deque_push(&w->q, rest) != 0) {
            rest->next = nx; /* ring full after all: leave it queued */
            break;
        }
        rest = nx;
        taken++;
    }
    rt->inject_head = rest;
    if (rest == NULL) rt->inject_tail = NULL;
    atomic_fetch_sub_explicit(&rt->inject_len, taken, memory_order_relaxed);
    pthread_mutex_unlock(&rt->inject_lock);
    t->next = NULL;
    CORIO__STAT_ADD(w, inject_pops, taken);
    return t;
}

/* ---- scheduling ----------------------------------------------------------- */

/* Full ring: move its older half plus t to the injection queue in one go. */
static void overflow(corio__worker *w, corio__task *t) {
    void *batch[CORIO__DEQUE_CAPACITY / 2 + 1];
    size_t n = corio__deque_take_half(&w->q, batch);
    batch[n++] = t;
    for (size_t i = 0; i + 1 < n; i++) ((corio__task *)batch[i])->next = batch[i + 1];
    corio__inject_push(w->rt, batch[0], batch[n - 1], n);
}

static void push_ring(corio__worker *w, corio__task *t) {
    if (corio__deque_push(&w->q, t) != 0) overflow(w, t);
}

/* A yielded task waits behind everything queued: the owner pops newest
 * first, so it goes to the oldest end (where thieves look first, too). */
static void push_ring_back(corio__worker *w, corio__task *t) {
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
    if (lifo) {
        corio__task *prev = w->lifo;
        w->lifo = t;
        if (prev == NULL) {
            /* Nothing became stealable, but if this worker is busy another
             * one could still run the task after a while: only the ring is
             * visible to thieves, so no notification is needed here. */
            return;
        }
        t = prev;
    }
    push_ring(w, t);
    corio__idle_notify(rt);
}

static corio__task *steal(corio__worker *w) {
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
            uint64_t got = 1 + corio__deque_len(&w->q) - before;
            CORIO__STAT_ADD(w, steals, 1);
            CORIO__STAT_ADD(w, stolen_tasks, got);
            atomic_fetch_add_explicit(&v->m.stolen_from, got, memory_order_relaxed);
            return t;
        }
    }
    return NULL;
}

/* The fairness turn's look at the oldest end of the ring.  A task that
 * yielded waits there; on this turn it runs even if newer work keeps coming
 * (two tasks waking each other through the run-next slot, a spawning loop).
 * Other old tasks stay put: for fork-join work they are the biggest
 * subtrees, and starting them early only multiplies the tasks (and stacks)
 * alive at once; thieves take them first anyway.  Unless the ring was not
 * popped at all for a whole interval: then the run-next slot is
 * monopolised and the oldest runs whatever it is. */
static corio__task *fair_front(corio__worker *w) {
    corio__task *t = corio__deque_pop_front(&w->q);
    bool starved = w->ring_pops == w->ring_pops_seen; /* run-next only, all interval */
    if (t != NULL && !t->yielded && !starved) {
        if (corio__deque_push_front(&w->q, t) != 0)
            corio__panic(__func__, "no room to put a task back", t->ctx.id);
        t = NULL;
    }
    return t;
}

static corio__task *next_local(corio__worker *w) {
    corio_rt *rt = w->rt;
    w->tick++;
    if (w->tick % FAIR_INTERVAL == 0) {
        if (rt->parker_ops->poll != NULL) rt->parker_ops->poll(w->parker);
        /* Alternate which of the two goes first, so that a stream through
         * one of them cannot starve the other. */
        w->fair_flip = !w->fair_flip;
        corio__task *t = w->fair_flip ? inject_pop(rt, w, 1) : NULL;
        if (t == NULL) t = fair_front(w);
        if (t == NULL && !w->fair_flip) t = inject_pop(rt, w, 1);
        w->ring_pops_seen = w->ring_pops;
        if (t != NULL) {
            w->fair_pick = t; /* if it yields this turn: to the injection queue */
            return t;
        }
    }
    if (w->lifo != NULL) {
        corio__task *t = w->lifo;
        w->lifo = NULL;
        return t;
    }
    corio__task *t = corio__deque_pop(&w->q);
    if (t != NULL) {
        w->ring_pops++;
        return t;
    }
    return inject_pop(rt, w, CORIO__DEQUE_CAPACITY / 2);
}

bool corio__rt_has_work(corio_rt *rt) {
    if (atomic_load_explicit(&rt->inject_len, memory_order_acquire) != 0) return true;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (!corio__deque_is_empty(&rt->workers[i].q)) return true;
    return false;
}

/* ---- running a task ---------------------------------------------------------- */

/* Make `t` the running task of `w`.  Returns false when it ended without
 * running (killed before its first run, or no stack for it). */
static bool prepare(corio__worker *w, corio__task *t) {
    CORIO__STAT_ADD(w, tasks_run, 1);
    if (!t->started && atomic_load_explicit(&t->killed, memory_order_acquire)) {
        corio__task_finish(w, t); /* killed before it ever ran: never runs */
        return false;
    }
    if (!t->started) {
        int r = corio__task_start(t);
        if (r < 0) { /* no stack: it ends unrun, and join reports why */
            t->error = r;
            corio__task_finish(w, t);
            return false;
        }
    }
    t->started = true;
    t->yielded = false;
    t->fair_run = t == w->fair_pick;
    w->fair_pick = NULL;
    /* We own the task (popped it); a waker only CASes RUNNING -> NOTIFIED.
     * relaxed: the pop already gave us the task's data; the later CAS in
     * the PARK case orders what the task wrote. */
    atomic_store_explicit(&t->sched, CORIO__T_RUNNING, memory_order_relaxed);
    w->current = t;
    return true;
}

/* A task that yielded, once its context is saved: behind everything.  One
 * that got its turn from the fairness turn goes to the injection queue
 * instead, a FIFO: at the oldest end it would be the first the next
 * fairness turn sees again, and the other yielded tasks behind it would
 * wait for ever while newer work keeps the worker busy. */
static void requeue_yielded(corio__worker *w, corio__task *t) {
    atomic_store_explicit(&t->sched, CORIO__T_SCHEDULED, memory_order_relaxed);
    if (t->fair_run) {
        t->fair_run = false;
        t->yielded = true;
        corio__inject_push(w->rt, t, t, 1);
        corio__idle_notify(w->rt);
        return;
    }
    push_ring_back(w, t);
    /* The task is stealable now: if a worker sleeps while nobody searches,
     * wake it.  The cheap relaxed pre-check may be stale; that only delays
     * the spread (this worker runs the task anyway), so the fence of a full
     * notify is paid only when it can help. */
    if (atomic_load_explicit(&w->rt->idle.searching, memory_order_relaxed) == 0 &&
        atomic_load_explicit(&w->rt->idle.unparked, memory_order_relaxed) < w->rt->nworkers)
        corio__idle_notify(w->rt);
}

static void run(corio__worker *w, corio__thread *th, corio__task *t) {
    if (!prepare(w, t)) return;
    w->reason = 0;
    corio__ctx_switch(th, &th->root, t->top, NULL, NULL);
    /* Back on the worker's own stack (a worker loop never migrates).  The
     * task that came back is w->current: tasks may have yielded directly to
     * one another since we switched to `t`. */
    t = w->current;
    w->current = NULL;
    switch (w->reason) {
    case CORIO__R_YIELD:
        requeue_yielded(w, t);
        break;
    case CORIO__R_PARK: {
        unsigned s = CORIO__T_RUNNING;
        /* release: publishes the saved context to the waker that will
         * CAS IDLE -> SCHEDULED (acquire). */
        if (!atomic_compare_exchange_strong_explicit(&t->sched, &s, CORIO__T_IDLE,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire)) {
            /* NOTIFIED while it was parking: run it again. */
            atomic_store_explicit(&t->sched, CORIO__T_SCHEDULED, memory_order_relaxed);
            corio__schedule_from(w, t, true);
        }
        break;
    }
    case CORIO__R_EXIT:
        corio__task_finish(w, t);
        break;
    default:
        corio__panic(__func__, "task switched back without a reason", t->ctx.id);
    }
}

void corio__task_suspend(unsigned reason) {
    corio__thread *th = corio__thread_here(); /* not used after the switch */
    corio__worker *w = th->worker;
    corio__task *t = w->current;
    corio__ctx *me = th->current; /* the task, or a coroutine it is resuming */
    t->top = me;
    w->reason = reason;
    corio__ctx_switch(th, me, &th->root, NULL, NULL);
    /* Resumed, perhaps by another worker: th and w are stale now. */
}

/* Runs on the next task's stack right after a direct yield: the yielded
 * task's context is saved now, so it may be queued (and stolen). */
static void after_direct_yield(void *arg) {
    corio__task *t = arg;
    requeue_yielded(corio__thread_here()->worker, t);
}

/* The yield trap.  Defined here, with the switch inlined, because every
 * function level between the caller and the jump costs a mispredicted
 * return after the switch. */
int corio_task_yield(void) {
    corio__thread *th = corio__thread_here(); /* not used after the switch */
    corio__worker *w = th->worker;
    corio__task *t = w != NULL ? w->current : NULL;
    if (t == NULL) return -EPERM;
    corio__ctx *me = th->current;
    /* Switch straight to the next local task, one stack switch instead of
     * two through the worker's loop.  Without local work, the loop's own
     * path (stealing, parking) takes over. */
    corio__task *n;
    do {
        n = next_local(w);
    } while (n != NULL && !prepare(w, n));
    t->top = me;
    if (n == NULL) {
        w->reason = CORIO__R_YIELD;
        corio__ctx_switch(th, me, &th->root, NULL, NULL);
    } else {
        /* prepare() made n current; t is queued by the hook, after the
         * switch. */
        corio__ctx_switch(th, me, n->top, after_direct_yield, t);
    }
    /* Resumed, perhaps on another worker: only `t` is still ours.
     * acquire: pairs with the release store in corio_task_kill. */
    return atomic_load_explicit(&t->killed, memory_order_acquire) ? -ECANCELED : 0;
}

void *corio__worker_main(void *arg) {
    corio__worker *w = arg;
    corio_rt *rt = w->rt;
    corio__thread *th = corio__thread_get();
    th->worker = w;
    w->parker = rt->parker_ops->create(rt, w->index);
    if (w->parker == NULL) corio__panic(__func__, "cannot create the worker's parker", w->index);
    pthread_barrier_wait(&rt->started);
    while (!atomic_load_explicit(&rt->stopping, memory_order_acquire)) {
        corio__task *t = next_local(w);
        if (t == NULL) {
            if (corio__idle_begin_search(rt, w)) {
                t = steal(w);
                if (t == NULL) t = inject_pop(rt, w, CORIO__DEQUE_CAPACITY / 2);
            }
            if (t == NULL) {
                corio__idle_sleep(rt, w);
                continue;
            }
        }
        /* Found work, maybe right after being woken as a searcher. */
        if (w->searching) corio__idle_end_search(rt, w);
        run(w, th, t);
    }
    if (w->searching) corio__idle_end_search(rt, w);
    /* The parker is destroyed by corio_rt_shutdown once every worker has
     * ended: another worker may still be unparking this one right now. */
    th->worker = NULL;
    return NULL;
}
