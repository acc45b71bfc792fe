/* runtime/task.h - the task object, its id table and its state machine,
 * shared by task.c, idtable.c, worker.c and sched.c.
 *
 * Scheduling state (`sched`), one atomic word; every transition is a CAS
 * or a store by the single owner of the current state:
 *
 *   IDLE --wake (CAS)--> SCHEDULED --worker pops it (store)--> RUNNING
 *   RUNNING --wake (CAS)--> RUNNING|NOTIFIED
 *   RUNNING --task parks; worker, after the switch (CAS)--> IDLE
 *   RUNNING|NOTIFIED --task parks; worker, after the switch--> SCHEDULED
 *   RUNNING --task yields; worker, after the switch--> SCHEDULED
 *   RUNNING --task returns; worker, after the switch--> DONE
 *
 * A task is on at most one run queue (only the IDLE->SCHEDULED CAS winner
 * and the worker that ran it enqueue it) and runs on at most one thread
 * (only a queue pop makes it RUNNING).  "Parked" is published by the worker
 * only after the task's context is saved, so a waker can never resume a
 * half-saved stack (DESIGN trap 2; Go's gopark(unlockf)).  A wake that
 * comes while the task is still RUNNING sets NOTIFIED, and the worker
 * re-queues the task instead of parking it: no wake-up is lost.
 *
 * Join/kill/detach bookkeeping (finished, detached, waiters, gen) is
 * protected by the task's spinlock; ids are resolved under it too.
 */
#ifndef CORIO_RUNTIME_TASK_H
#define CORIO_RUNTIME_TASK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "corio/task.h"
#include "runtime/context.h"
#include "runtime/spin.h"

enum {
    CORIO__T_IDLE = 0,
    CORIO__T_SCHEDULED = 1,
    CORIO__T_RUNNING = 2,
    CORIO__T_NOTIFIED = 4, /* only together with RUNNING */
    CORIO__T_DONE = 8,
};

/* Why a task switched back to its worker. */
enum { CORIO__R_YIELD = 1, CORIO__R_PARK = 2, CORIO__R_EXIT = 3 };

typedef struct corio__task corio__task;
typedef struct corio__worker corio__worker;

/* A joiner: a task, or a plain thread blocked in corio_rt_join. */
typedef struct corio__waiter {
    struct corio__waiter *next;
    corio__task *task;       /* NULL for a thread */
    pthread_mutex_t *m;      /* thread waiters only */
    pthread_cond_t *c;
    bool *woken;
} corio__waiter;

struct corio__task {
    corio__ctx ctx;          /* the task's own stack; must stay first */
    corio__ctx *top;         /* innermost context to resume (ctx or a coroutine) */
    /* Scheduling state, see the file comment.  acq_rel CASes: a wake that
     * moves IDLE->SCHEDULED acquires the parked task's saved context (the
     * worker's release CAS RUNNING->IDLE) and releases it to the queue. */
    _Atomic unsigned sched;
    /* Set by kill (release); read at suspension points (acquire). */
    _Atomic int killed;
    /* park/unpark permit: exchange acq_rel on both sides. */
    _Atomic int permit;
    corio__task *next;       /* injection queue / free list link */
    struct corio_rt *rt;
    corio_task_fn fn;
    void *arg;
    void *result;
    bool started;            /* owned by whoever runs the task */
    bool yielded;            /* queued by a yield (the fairness turn runs it) */
    bool fair_run;           /* this turn came from the fairness turn */
    int error;               /* -ENOMEM: no stack could be had to start it */

    /* ---- under `lock` ---- */
    corio__spin lock;
    uint32_t index;          /* slot in the id table (fixed) */
    uint32_t gen;            /* generation of the current id */
    bool live;               /* holds a task (not on the free list) */
    bool finished;
    bool detached;
    bool joined;
    unsigned nwaiters;       /* joiners registered and not yet gone */
    corio__waiter *waiters;
};

static inline corio_tid corio__task_tid(const corio__task *t) {
    return ((uint64_t)t->gen << 32) | (uint64_t)(t->index + 1);
}

/* ---- id table (idtable.c): process-wide, type-stable task memory ---- */

/* Register / unregister a runtime: the table lives while any does. */
int corio__idtable_ref(void);
void corio__idtable_unref(void);
/* A free task struct (fields zeroed except index/gen/lock), or NULL. */
corio__task *corio__task_alloc(void);
/* End the id: bumps the generation so the old id goes stale and marks the
 * slot free.  Caller holds t->lock; it is released here.  The struct then
 * goes back with corio__task_release (or a worker's cache). */
void corio__task_recycle_locked(corio__task *t);
void corio__task_release(corio__task *t);
/* Batches for the workers' caches: prepend up to n free structs to *list
 * (returns how many); give back a NULL-terminated list of n structs. */
size_t corio__task_alloc_many(corio__task **list, size_t n);
void corio__task_release_many(corio__task *first, size_t n);
/* Resolve `tid` and return its task *locked*, or NULL (stale/unknown). */
corio__task *corio__task_lookup_lock(corio_tid tid);
/* Calls fn(t, arg) for every slot ever allocated (locked around each). */
void corio__idtable_each(void (*fn)(corio__task *t, void *arg), void *arg);

/* ---- task.c ---- */
void corio__task_wake(corio__task *t);
/* Give a task its stack, at its first run.  0 or -ENOMEM. */
int corio__task_start(corio__task *t);
/* The worker's side of a finished task: publish, wake joiners, free. */
void corio__task_finish(corio__worker *w, corio__task *t);

#endif
