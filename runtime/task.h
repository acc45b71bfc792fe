/* runtime/task.h - the task object and its id table, shared by task.c,
 * idtable.c, worker.c, yield.c, runq.c and sched.c.
 *
 * The scheduling state is one word with named transitions (state.h: the
 * diagram and the rules a waker relies on).  Join/kill/detach bookkeeping
 * (finished, detached, waiters, gen) is protected by the task's spinlock;
 * ids are resolved under it too, and every wake that must not reach a
 * later task in the same struct (a kill, an unpark, a joiner's wake) makes
 * its state transition while holding it.  Queueing the task (which may
 * take mutexes and wake a worker) happens after the lock is dropped.
 */
#ifndef CORIO_RUNTIME_TASK_H
#define CORIO_RUNTIME_TASK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "corio/task.h"
#include "runtime/context.h"
#include "runtime/note.h"
#include "runtime/spin.h"
#include "runtime/state.h"
#include "runtime/testhooks.h"

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
    corio__state state;      /* scheduling state (state.h) */
    /* park/unpark permit: exchange acq_rel on both sides (both are RMWs of
     * this one word, so a park and an unpark cannot both miss each other). */
    _Atomic int permit;
    corio__task *next;       /* injection queue / free list link */
    struct corio_rt *rt;
    corio_task_fn fn;
    void *arg;
    /* Called with arg, on the worker's stack, when the task ends without
     * running (killed first, no stack): a spawner that must learn of every
     * end (sync/taskset.c).  NULL for most tasks. */
    void (*unrun)(void *arg);
    void *result;
    bool started;            /* owned by whoever runs the task */
    bool yielded;            /* queued by a yield (the fairness turn runs it) */
    bool fair_run;           /* this turn came from the fairness turn */
    corio__spin lock;        /* guards the fields marked "under lock" */
    unsigned budget;         /* cooperative budget left this turn (block.h) */
    /* Why it ended without running: -ENOMEM (no stack for it), -ECANCELED
     * (killed first).  What join returns. */
    int error;
    /* Turns begun, for the dump's seqlock (dump.c): the worker's only (a
     * plain increment in corio__turn_enter), here in a line every turn
     * writes anyway. */
    _Atomic uint32_t turns;

    /* ---- under `lock` ---- */
    uint32_t index;          /* slot in the id table (fixed) */
    uint64_t gen;            /* generation of the current id (idtable.c) */
    bool live;               /* holds a task (not on the free list) */
    bool finished;
    bool detached;
    bool joined;
    unsigned nwaiters;       /* joiners registered and not yet gone */
    corio__waiter *waiters;
    /* The name (corio_task_set_name), valid only while name_gen is the
     * current gen: a spawn without a name writes nothing here, so a
     * turn, a spawn and a finish touch only the struct's first three
     * lines (this last one is for the dump). */
    uint64_t name_gen;
    char name[CORIO_TASK_NAME_MAX];

    /* What the task is doing, for the dump (runtime/note.h, dump.c):
     * written by the task itself and by the worker that runs it, read by
     * a dump on any thread.  Relaxed atomics: a dump is a snapshot that
     * may be a moment stale, and the stack walk checks `turns` around
     * its reads (a seqlock, dump.c).  Last: the fields above are the hot
     * ones of a turn and a join, and keep their lines. */
    corio__note note;
};

/* The notes of `t` (NULL for NULL: a plain thread's wait). */
static inline corio__note *corio__task_note(corio__task *t) { return t != NULL ? &t->note : NULL; }

/* A task id: (generation << CORIO__ID_SLOT_BITS) | (slot + 1), never 0.
 * 26 bits of slot (67 million tasks alive at once), 38 bits of generation;
 * a slot whose generation is used up is retired, never reused (idtable.c),
 * so an id never comes back. */
#define CORIO__ID_SLOT_BITS CORIO__TEST_ID_SLOT_BITS
#define CORIO__ID_GEN_LIMIT CORIO__TEST_ID_GEN_LIMIT

static inline corio_tid corio__task_tid(const corio__task *t) {
    return (t->gen << CORIO__ID_SLOT_BITS) | (uint64_t)(t->index + 1);
}

/* ---- id table (idtable.c): process-wide, type-stable task memory ---- */

/* A free task struct (fields zeroed except index/gen/lock), or NULL. */
corio__task *corio__task_alloc(void);
/* End the id: bumps the generation so the old id goes stale and marks the
 * slot free.  Caller holds t->lock; it is released here.  Returns true when
 * the struct may be used again (it then goes back with corio__task_release
 * or to a worker's cache); false when its generations are used up: the
 * struct is retired and must not be handed out again. */
bool corio__task_recycle_locked(corio__task *t);
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
/* Wake `t` from anywhere: its state transition, and the queueing (behind
 * everything: corio__schedule_back) when the
 * transition says so.  Only for a task that cannot end meanwhile: one
 * waiting for something only the caller completes (the I/O layer's
 * completion path: an operation in flight keeps its task waiting for it).
 * Kills, unparks and joiners' wakes use the locked forms in task.c. */
void corio__task_wake(corio__task *t);
/* Kill a task locked by the caller, not finished; unlocks it. */
void corio__task_kill_locked(corio__task *t);
/* corio_task_join that a kill of the joiner does not end (task groups). */
int corio__task_join_unkillable(corio_tid tid, void **result);
/* Give a task its stack, at its first run.  0 or -ENOMEM. */
int corio__task_start(corio__task *t);
/* The worker's side of a finished task: publish, wake joiners, free. */
void corio__task_finish(corio__worker *w, corio__task *t);

/* corio_rt_spawn with an `unrun` hook (task.h, struct corio__task). */
int corio__rt_spawn_hooked(corio_rt *rt, corio_tid *tid, corio_task_fn fn, void *arg,
                           void (*unrun)(void *arg));

#endif
