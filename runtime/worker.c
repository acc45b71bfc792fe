/* runtime/worker.c - one worker: its scheduler loop, and the start and the
 * end of each task turn.
 *
 * Design (after Go's proc.go and tokio's multi_thread scheduler), one
 * concept per file:
 *   runq.c    the worker's own queue: the run-next slot and its ring
 *   fair.c    which local task runs next, and the fairness turn
 *   inject.c  the global injection queue
 *   steal.c   taking work from other workers
 *   idle.c    which workers search and which sleep
 *   yield.c   the yield trap (a direct task-to-task switch) and suspension
 *   state.h   the task's state word and its transitions
 *
 * The loop: the next local task; else, as a searcher (at most half of the
 * workers search at once), a steal from another ring, the injection queue,
 * a run-next slot that waited too long; else sleep (idle.c).  A task's
 * turn ends with a reason: it yielded (queued behind everything), parked
 * (park_commit publishes it as parked, or it runs again if a wake came
 * first), or returned (finished: its joiners are woken).  That end is
 * handled here, on the worker's own stack, after the task's context is
 * saved (DESIGN trap 2); a direct yield or park (yield.c) hands the worker
 * to the next task without coming here, and its switch's hook does the
 * same for the task that left.
 *
 * Rejected: a single shared queue (every spawn contends on one lock); a
 * FIFO ring for the owner, as Go and tokio have (fork-join programs then
 * run breadth-first: fib(30) kept ~35,000 started tasks, each with a
 * stack, alive at once; deque.md); the classic Chase-Lev owner pop without
 * a CAS (unsafe with steal-half, deque.md); one shared live-task counter
 * (a cache line bouncing between workers on every spawn and exit: 2
 * workers ran fib(30) no faster than 1); an unbounded number of searching
 * workers (they burn the CPUs the busy workers need: idle.c).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/panic.h"
#include "runtime/sched.h"

corio__worker *corio__worker_self(void) {
    return corio__thread_get()->worker;
}

/* Make `t` the running task of `w`, giving it a stack at its first turn.
 * Returns false when it ended without running: killed before its first
 * turn (join says -ECANCELED), or no stack for it (-ENOMEM). */
static bool prepare(corio__worker *w, corio__task *t) {
    if (!t->started) {
        int r = corio__state_cancelled(&t->state) ? -ECANCELED : corio__task_start(t);
        if (r < 0) {
            CORIO__STAT_ADD(w, tasks_run, 1);
            t->error = r;
            if (t->unrun != NULL) t->unrun(t->arg); /* before the struct is reused */
            corio__task_finish(w, t);
            return false;
        }
        t->started = true;
    }
    corio__turn_enter(w, t);
    return true;
}

/* A task that yielded, once its context is saved: behind everything.  One
 * that got its turn from the fairness turn goes to the injection queue
 * instead, a FIFO: at the oldest end it would be the first the next
 * fairness turn sees again, and the other yielded tasks behind it would
 * wait for ever while newer work keeps the worker busy. */
void corio__requeue_yielded(corio__worker *w, corio__task *t) {
    if (t->fair_run) {
        t->fair_run = false;
        t->yielded = true;
        corio__inject_push(w->rt, t, t, 1);
        corio__idle_notify(w->rt);
        return;
    }
    corio__runq_push_back(w, t);
    /* The task is stealable now: if a worker sleeps while nobody searches,
     * wake it.  The cheap relaxed pre-check may be stale; that only delays
     * the spread (this worker runs the task anyway), so the fence of a full
     * notify is paid only when it can help. */
    if (atomic_load_explicit(&w->rt->idle.searching, memory_order_relaxed) == 0 &&
        atomic_load_explicit(&w->rt->idle.unparked, memory_order_relaxed) < w->rt->nworkers)
        corio__idle_notify(w->rt);
}

/* The end of the turn of the task that came back to the worker's stack. */
static void turn_end(corio__worker *w, corio__task *t) {
    switch (w->reason) {
    case CORIO__R_YIELD:
        corio__requeue_yielded(w, t);
        break;
    case CORIO__R_PARK:
        /* A wake that came while it was parking: it runs again (R3). */
        if (!corio__state_park_commit(&t->state)) corio__schedule_from(w, t, true);
        break;
    case CORIO__R_EXIT:
        corio__task_finish(w, t);
        break;
    default:
        corio__panic(__func__, "task switched back without a reason", t->ctx.id);
    }
}

static void run(corio__worker *w, corio__thread *th, corio__task *t) {
    while (t != NULL) {
        if (prepare(w, t)) {
            w->reason = 0;
            corio__ctx_switch(th, &th->root, t->top, NULL, NULL);
            /* Back on the worker's own stack (a worker loop never migrates).
             * The task that came back is w->current: tasks may have yielded
             * directly to one another since we switched to `t`. */
            t = w->current;
            w->current = NULL;
            atomic_store_explicit(&w->running, NULL, memory_order_relaxed);
            turn_end(w, t);
            /* Every pass gives the event source its turn (park.h). */
            const corio__parker_ops *ops = w->rt->parker_ops;
            if (ops->due != NULL && ops->due(w->parker)) (void)ops->poll(w->parker);
        }
        /* A yield that popped a task it could not switch to directly. */
        t = w->handoff;
        w->handoff = NULL;
    }
}

static corio__task *search(corio__worker *w) {
    corio__task *t = corio__steal(w);
    if (t == NULL) t = corio__inject_pop(w->rt, w, CORIO__DEQUE_CAPACITY / 2);
    if (t == NULL) t = corio__steal_lifo(w);
    return t;
}

void *corio__worker_main(void *arg) {
    corio__worker *w = arg;
    corio_rt *rt = w->rt;
    corio__thread *th = corio__thread_get();
    th->worker = w;
    /* Named for top -H, ps -L and gdb (15 characters at most). */
    char name[16];
    snprintf(name, sizeof name, "corio-w%u", w->index);
    (void)pthread_setname_np(pthread_self(), name);
    if (!corio__worker_started(w)) {
        th->worker = NULL;
        return NULL;
    }
    while (!atomic_load_explicit(&rt->stopping, memory_order_acquire)) {
        corio__task *t = corio__next_local(w);
        if (t == NULL) {
            /* Events first (Go's netpoll(0)): completions that have arrived
             * make work here, before anything is taken from others. */
            if (rt->parker_ops->poll != NULL && rt->parker_ops->poll(w->parker) > 0) continue;
            if (corio__idle_begin_search(rt, w)) t = search(w);
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
