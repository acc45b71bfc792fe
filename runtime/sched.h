/* runtime/sched.h - the runtime object and its workers, shared by
 * sched.c (lifecycle), worker.c (the scheduler loop), idle.c and task.c. */
#ifndef CORIO_RUNTIME_SCHED_H
#define CORIO_RUNTIME_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "corio/task.h"
#include "runtime/context.h"
#include "runtime/deque.h"
#include "runtime/park.h"
#include "runtime/slot.h"
#include "runtime/task.h"
#include "runtime/testhooks.h"

/* Per-worker counters: written by their worker (a load and a store, no
 * locked RMW; spawned and finished with release, see corio__rt_live), read
 * by anyone (relaxed: they are statistics, not synchronisation);
 * stolen_from is incremented by thieves. */
typedef struct corio__metrics {
    _Atomic uint64_t tasks_run, spawned, steals, stolen_tasks, stolen_from, parks, wakeups,
        inject_pops;
    _Atomic uint64_t finished; /* tasks that ended on this worker (internal) */
} corio__metrics;

/* The same as CORIO__STAT_ADD, with a release store: the live count
 * (corio__rt_live) reads spawned and finished with acquire. */
#define CORIO__STAT_ADD_REL(w, field, n)                                                \
    atomic_store_explicit(&(w)->m.field,                                                \
                          atomic_load_explicit(&(w)->m.field, memory_order_relaxed) + (n), \
                          memory_order_release)

/* Owner-only counters: a plain load and store, not a locked RMW; atomics
 * only so that readers on other threads do not race. */
#define CORIO__STAT_ADD(w, field, n)                                                    \
    atomic_store_explicit(&(w)->m.field,                                                \
                          atomic_load_explicit(&(w)->m.field, memory_order_relaxed) + (n), \
                          memory_order_relaxed)

struct corio__worker {
    corio__deque q;            /* this worker's run queue (owner: this worker) */
    struct corio_rt *rt;
    unsigned index;
    pthread_t thread;
    void *parker;              /* NULL until created (or if that failed) */
    int start_err;             /* the parker's creation: 0 or -errno */
    corio__task *current;      /* the task running now (owner only) */
    /* current, for a dump on another thread (relaxed; NULL between turns) */
    _Atomic(corio__task *) running;
    /* run-next slot: filled and emptied by the owner on its hot path, taken
     * by a thief only after it waited a grace period (slot.h, steal.c) */
    corio__slot lifo;
    /* Woken tasks that found the ring full, oldest first (owner only; see
     * corio__schedule_back): moved to the ring's oldest end as it drains. */
    corio__task *backlog_head, *backlog_tail;
    corio__task *handoff;      /* run this next: popped by a yield that could
                                  not switch to it directly (owner only) */
    uint64_t ring_pops;        /* tasks taken from the ring (owner only) */
    uint64_t ring_pops_seen;   /* ... as of the last fairness turn */
    bool fair_flip;            /* which of inject / ring front goes first */
    corio__task *fair_pick;    /* the task the last fairness turn chose */
    unsigned reason;           /* why the current task switched back */
    uint64_t tick;
    uint64_t rng;
    bool searching;            /* counted in idle.searching */
    bool sleeping;             /* on the sleepers list (under idle.lock) */
    bool in_park;              /* inside the parker's park: wakes do not notify (idle.c) */
    uint64_t nap_ns;           /* next nap beside a held slot; 0: the first (idle.c) */
    corio__worker *next_sleeper;
    corio__task *cache;        /* free task structs (owner only) */
    unsigned cache_len;
    corio__metrics m;
};

/* Idle coordination (idle.c), after tokio's idle.rs and Go's wakep. */
typedef struct corio__idle {
    _Atomic unsigned searching; /* workers looking for work */
    _Atomic unsigned unparked;  /* workers not asleep */
    _Atomic unsigned deep;      /* workers asleep with no time limit */
    pthread_mutex_t lock;
    corio__worker *sleepers;    /* under lock */
} corio__idle;

struct corio_rt {
    unsigned nworkers;
    size_t stack_size;
    corio__worker *workers;
    const corio__parker_ops *parker_ops;
    corio__idle idle;
    /* global injection queue: tasks from outside threads and overflow */
    pthread_mutex_t inject_lock;
    corio__task *inject_head, *inject_tail;
    _Atomic size_t inject_len; /* release on push, acquire to peek */
    /* lifecycle (sched.c) */
    _Atomic int stopping;      /* workers exit their loop */
    _Atomic int shutting_down; /* spawns refused (read under a task lock: task.c) */
    _Atomic int draining;      /* corio_rt_shutdown_drain began */
    _Atomic int closed;        /* every task has ended: plain-thread calls refused */
    _Atomic unsigned ext_users; /* plain-thread calls in progress (spawn, join) */
    /* Live tasks = ext_spawned + sum(workers' spawned) - sum(finished); see
     * corio__rt_live.  No shared counter is touched per task by workers. */
    _Atomic uint64_t ext_spawned; /* spawns from threads that are not workers */
    pthread_mutex_t live_lock; /* + live_cond: corio_rt_wait_idle */
    pthread_cond_t live_cond;
    /* start-up: workers report their parker, then wait for go or abort */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    unsigned nready;           /* under start_lock */
    int start_state;           /* 0 wait, 1 go, -1 abort; under start_lock */
};

/* Operations that complete without suspending, per task turn, before the
 * task yields (block.h; tokio's coop budget is 128 too). */
#define CORIO__COOP_BUDGET 128u

#define CORIO__FAIR_INTERVAL 61u /* Go and tokio use 61: a prime, so it does not
                                    beat with program periods */


/* worker.c: the loop, and the start and end of a task's turn */
void *corio__worker_main(void *arg);
/* The worker the calling thread is, or NULL. */
corio__worker *corio__worker_self(void);
/* Make `t`, already started, the running task of `w` (O(1), no system
 * call: the direct yield runs it on a task's stack).  Inline: it is on the
 * yield's hot path. */
static inline void corio__turn_enter(corio__worker *w, corio__task *t) {
    CORIO__STAT_ADD(w, tasks_run, 1);
    /* The dump's seqlock (dump.c): the count moves before the task runs;
     * the fence keeps the task's own writes (its stack) after it. */
    atomic_store_explicit(&t->turns, atomic_load_explicit(&t->turns, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&w->running, t, memory_order_relaxed);
    (void)corio__state_turn_begin(&t->state);
    t->yielded = false;
    t->budget = CORIO__COOP_BUDGET;
    t->fair_run = t == w->fair_pick;
    w->fair_pick = NULL;
    w->current = t;
}
/* A yielded task, once its context is saved: behind everything. */
void corio__requeue_yielded(corio__worker *w, corio__task *t);
/* sched.c: the worker's side of start-up; true: run, false: leave. */
bool corio__worker_started(corio__worker *w);

/* yield.c */
/* Suspend the calling task (reason YIELD or PARK).  Must be in a task. */
void corio__task_suspend(unsigned reason);
/* corio_task_yield (yield.c) is the yield trap: it switches straight to
 * this worker's next task and queues the caller behind everything once its
 * context is saved. */

/* runq.c: the worker's own queue */
/* Queue `t` (ACTIVE, owned by the caller: state.h R1) to run: on the
 * calling worker's queue when it is a worker of t's runtime (`lifo`: in the
 * run-next slot), else on the injection queue. */
void corio__schedule(corio__task *t, bool lifo);
/* Queue `t` (as corio__schedule) behind everything on this worker's queue:
 * events delivered in a batch run in the order they came (I/O wake-ups:
 * the run-next slot and the owner's newest-first ring would serve the
 * last of 900 completions first, and starve the first). */
void corio__schedule_back(corio__task *t);
/* The same, when the caller knows its worker (NULL: not a worker). */
void corio__schedule_from(corio__worker *w, corio__task *t, bool lifo);
void corio__runq_push(corio__worker *w, corio__task *t);      /* newest end */
void corio__runq_push_back(corio__worker *w, corio__task *t); /* oldest end */
/* Empty the run-next slot (inline: every turn and every yield take it). */
static inline corio__task *corio__runq_take_lifo(corio__worker *w) {
    return corio__slot_take(&w->lifo);
}
/* Move backlog tasks to the ring's oldest end while it has room (runq.c). */
void corio__runq_refill(corio__worker *w);
/* The slot, else the ring's newest. */
static inline corio__task *corio__runq_pop(corio__worker *w) {
    corio__task *t = corio__runq_take_lifo(w);
    if (t != NULL) return t;
    t = corio__deque_pop(&w->q);
    if (t != NULL) w->ring_pops++;
    return t;
}

/* yield.c and wait.c: direct switches. */
/* The next task to switch to directly, or NULL (then the worker's loop
 * decides, on its own stack).  `yielding`: a task that ran as the fairness
 * turn's pick must yield through the loop (worker.c: it is requeued on the
 * injection queue); a park has nothing to requeue.  Inline: it is on
 * every direct yield's and park's path (yield.c, corio__task_park_on). */
static inline corio__task *corio__direct_next(corio__worker *w, corio__task *t, bool yielding) {
    if ((yielding && t->fair_run) || (w->tick + 1) % CORIO__FAIR_INTERVAL == 0) return NULL;
    /* The event source wants a pass: through the worker's stack (park.h). */
    const corio__parker_ops *ops = w->rt->parker_ops;
    if (ops->due != NULL && ops->due(w->parker)) return NULL;
    corio__task *n = corio__runq_take_lifo(w);
    if (n != NULL) {
        /* From the slot: the ring may be full, and the yield's hook must
         * not overflow it on this stack; then the worker's loop queues it.
         * (A park's hook never touches the ring: the slot, now empty.) */
        if (yielding && corio__deque_len(&w->q) >= CORIO__DEQUE_CAPACITY) {
            w->handoff = n;
            return NULL;
        }
    } else {
        /* From the ring: its slot is free for the yielder. */
        n = corio__deque_pop(&w->q);
        if (n == NULL) return NULL;
        w->ring_pops++;
    }
    w->tick++;
    if (!n->started) {
        w->handoff = n;
        return NULL;
    }
    corio__turn_enter(w, n);
    return n;
}

/* The hook of a direct park: commits it on the next task's stack. */
void corio__after_direct_park(void *arg);
/* Park the task running on `th` (reason PARK): straight to the next local
 * task when there is one, else to the worker's loop.  Returns the thread
 * the task resumed on, from the switch record, so that a caller waiting in
 * a loop (corio__task_suspend, corio__wait_block) parks again with it and
 * reads no TLS after a switch (trap 1).  Always inlined: each function
 * level between a waiter and the switch is one more mispredicted return
 * when it resumes (docs/bench.md, switch). */
__attribute__((always_inline)) static inline corio__thread *corio__task_park_on(corio__thread *th) {
    corio__worker *w = th->worker;
    corio__task *t = w->current;
    corio__ctx *me = th->current; /* the task, or a coroutine it is resuming */
    t->top = me;
    corio__task *n = corio__direct_next(w, t, false);
    if (n != NULL) /* n is current now; t's park is committed by the hook */
        return corio__ctx_switch(th, me, n->top, corio__after_direct_park, t);
    w->reason = CORIO__R_PARK;
    return corio__ctx_switch(th, me, &th->root, NULL, NULL);
}

/* Another worker's run-next slot holds a task (seq_cst loads). */
bool corio__rt_any_lifo(struct corio_rt *rt, const corio__worker *self);

/* fair.c: the next local task, with the fairness turn every 61st */
corio__task *corio__next_local(corio__worker *w);

/* steal.c */
corio__task *corio__steal(corio__worker *w);
corio__task *corio__steal_lifo(corio__worker *w);

/* inject.c */
void corio__inject_push(struct corio_rt *rt, corio__task *first, corio__task *last, size_t n);
/* Pop up to `max` tasks; the first is returned, the rest go to w's ring. */
corio__task *corio__inject_pop(struct corio_rt *rt, corio__worker *w, size_t max);

/* sched.c: corio_rt_create over a given parker (the backend).  The public
 * corio_rt_create (io/backend.c) chooses it from the options. */
int corio__rt_create_ops(struct corio_rt **out, const corio_rt_opts *opts,
                         const corio__parker_ops *ops);

/* sched.c: plain-thread calls on rt are bracketed by enter/leave, so that
 * a shutdown frees nothing while one is inside.  enter returns false (the
 * caller fails with -ESHUTDOWN) once the shutdown refuses such calls: with
 * `refuse_on_shutdown` as soon as it starts (spawns), otherwise once every
 * task has ended (joins may still wait for a task the shutdown kills). */
bool corio__rt_ext_enter(struct corio_rt *rt, bool refuse_on_shutdown);
void corio__rt_ext_leave(struct corio_rt *rt);

/* sched.c: tasks spawned and not finished, and the hook a worker calls
 * before it sleeps (wakes corio_rt_wait_idle when that count is 0). */
uint64_t corio__rt_live(struct corio_rt *rt);
void corio__rt_worker_idle(struct corio_rt *rt);

/* idle.c */
void corio__idle_init(corio__idle *idle, unsigned nworkers);
void corio__idle_fini(corio__idle *idle);
/* Wake one sleeping worker if nobody is searching (work was published). */
void corio__idle_notify(struct corio_rt *rt);
/* Try to become a searcher; false when enough workers search already. */
bool corio__idle_begin_search(struct corio_rt *rt, corio__worker *w);
/* Found work after searching: stop searching, maybe wake another. */
void corio__idle_end_search(struct corio_rt *rt, corio__worker *w);
/* Nothing found: go to sleep unless the final re-check finds work.  Returns
 * after being woken (the worker is then searching). */
void corio__idle_sleep(struct corio_rt *rt, corio__worker *w);
/* Wake every worker (shutdown). */
void corio__idle_wake_all(struct corio_rt *rt);
/* Any queue of `rt` non-empty? (a snapshot) */
bool corio__rt_has_work(struct corio_rt *rt);

#endif
