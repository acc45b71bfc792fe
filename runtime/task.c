/* runtime/task.c - tasks and their system calls (docs/tour.md):
 * spawn (NewTask), id (GetTid), yield, kill (KillTask), join (WaitTask),
 * detach, park/unpark; the wake half of the state machine (task.h) and the
 * end of a task's life.
 *
 * Lifetime of a task struct (numbered as libuv's design notes do):
 *  1. spawn takes a struct from the worker's cache or the id table, gives
 *     it no stack yet (that comes at its first run), marks it live under
 *     its lock and queues it; the spawning worker counts it (a plain
 *     thread's spawn counts in the runtime's ext_spawned).
 *  2. It runs, suspends and resumes any number of times, on any worker.
 *  3. When its function returns, the worker (on its own stack) marks it
 *     finished under the lock, wakes every joiner and frees the stack:
 *     the worker counts it finished.  The struct stays, holding the
 *     result, until:
 *  4. it is detached, or joined, and no joiner is still registered.  Then
 *     the generation is bumped (the id goes stale) and the struct is free.
 * Joiners register under the task's lock and the finisher wakes them under
 * it, so a joiner's node (on the joiner's stack) is never touched after the
 * joiner has left.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include "runtime/coro.h"
#include "runtime/panic.h"
#include "runtime/state.h"
#include "runtime/sched.h"
#include "runtime/task.h"
#include "runtime/block.h"
#include "runtime/timer.h"
#include "runtime/wait.h"

#define CACHE_MAX 256u
#define CACHE_BATCH 64u

/* ---- structs: the worker's cache in front of the id table -------------- */

/* The cache moves structs to and from the id table in batches, so the
 * table's mutex is taken once per CACHE_BATCH spawns at most. */
static corio__task *task_get(corio__worker *w) {
    if (w == NULL) return corio__task_alloc();
    if (w->cache == NULL) {
        w->cache_len = corio__task_alloc_many(&w->cache, CACHE_BATCH);
        if (w->cache == NULL) return NULL;
    }
    corio__task *t = w->cache;
    w->cache = t->next;
    w->cache_len--;
    t->next = NULL;
    return t;
}

static void task_put_on(corio__worker *w, corio__task *t) {
    if (w == NULL) {
        corio__task_release(t);
        return;
    }
    t->next = w->cache;
    w->cache = t;
    if (++w->cache_len >= CACHE_MAX) {
        /* Keep the newest (warm) half, return the rest in one batch. */
        corio__task *keep_last = w->cache;
        for (unsigned i = 1; i < CACHE_MAX / 2; i++) keep_last = keep_last->next;
        corio__task *rest = keep_last->next;
        keep_last->next = NULL;
        corio__task_release_many(rest, w->cache_len - CACHE_MAX / 2);
        w->cache_len = CACHE_MAX / 2;
    }
}

static void task_put(corio__task *t) { task_put_on(corio__worker_self(), t); }

/* ---- wake ---------------------------------------------------------------- */

void corio__task_wake(corio__task *t) {
    if (corio__state_notify(&t->state, false)) corio__schedule_back(t);
}

/* Under the lock of the task being waited for: the waiters' transitions
 * (state.h R1: a task moved IDLE -> ACTIVE here is ours to queue, and
 * nobody else can run or queue it, so it is safe to link through `next`
 * until it is queued), and the thread waiters detached.  The queueing and
 * the thread wake-ups (mutexes, futexes, maybe waking a worker) come after
 * the lock is dropped: see wake_collected. */
typedef struct wake_batch {
    corio__task *tasks;      /* linked through ->next */
    corio__waiter *threads;  /* detached thread waiters */
} wake_batch;

static void collect_waiters_locked(corio__task *t, wake_batch *b) {
    for (corio__waiter *wt = t->waiters; wt != NULL;) {
        corio__waiter *next = wt->next;
        if (wt->task != NULL) {
            /* The joiner's node is not touched after this: the joiner may
             * leave as soon as it sees `finished`. */
            corio__task *j = wt->task;
            if (corio__state_notify(&j->state, false)) {
                j->next = b->tasks;
                b->tasks = j;
            }
        } else {
            /* A thread waiter stays blocked (its node stays valid) until
             * its `woken` flag is set in wake_collected. */
            wt->next = b->threads;
            b->threads = wt;
        }
        wt = next;
    }
    t->waiters = NULL;
}

static void wake_collected(corio__worker *w, wake_batch *b) {
    while (b->tasks != NULL) {
        corio__task *j = b->tasks;
        b->tasks = j->next;
        j->next = NULL;
        corio__schedule_from(w, j, true);
    }
    while (b->threads != NULL) {
        corio__waiter *wt = b->threads;
        b->threads = wt->next; /* read before the waiter may leave */
        pthread_mutex_lock(wt->m);
        *wt->woken = true;
        pthread_cond_signal(wt->c);
        pthread_mutex_unlock(wt->m);
    }
}

/* ---- spawn ----------------------------------------------------------------- */

static void task_entry(corio__ctx *self);

int corio__task_start(corio__task *t) {
    corio__stack *s;
    int r = corio__stack_get(t->rt->stack_size, &s);
    if (r < 0) return r;
    corio__ctx_make(&t->ctx, s, task_entry, CORIO__CTX_TASK, t->ctx.id);
    t->top = &t->ctx;
    return 0;
}

static void task_entry(corio__ctx *self) {
    corio__task *t = (corio__task *)self;
    t->result = t->fn(t->arg);
    corio__thread *th = corio__thread_get();
    corio__worker *w = th->worker;
    w->reason = CORIO__R_EXIT;
    corio__ctx_exit(th, self, &th->root, NULL, NULL);
}

/* Copy `name` (NULL: none) into a task's name, cut to fit. */
static void set_name_locked(corio__task *t, const char *name) {
    size_t n = name != NULL ? strnlen(name, sizeof t->name - 1) : 0;
    if (n > 0) memcpy(t->name, name, n);
    t->name[n] = '\0';
    t->name_gen = t->gen;
}

/* The task's name, or "" when it has none under its current id. */
static const char *name_locked(const corio__task *t) {
    return t->name_gen == t->gen ? t->name : "";
}

static int spawn(corio_rt *rt, corio__worker *w, corio_tid *tid, corio_task_fn fn, void *arg,
                 void (*unrun)(void *), const char *name) {
    corio__task *t = task_get(w);
    if (t == NULL) return -ENOMEM;
    /* Everything a stale-id lookup or the shutdown scan may read is set
     * before `live`, under the lock that publishes it.  The stack comes at
     * the first run (corio__task_start): a task waiting in a queue costs
     * its struct only, and a burst of short tasks reuses a few warm stacks
     * from the pool.  gen is read without the lock: only the struct's
     * owner (us, now) changes it. */
    corio_tid id = corio__task_tid(t);
    t->ctx.id = id;
    t->top = &t->ctx;
    t->error = 0;
    t->fn = fn;
    t->arg = arg;
    t->unrun = unrun;
    t->result = NULL;
    t->started = false;
    t->yielded = false;
    t->fair_run = false;
    atomic_store_explicit(&t->permit, 0, memory_order_relaxed);
    corio__spin_lock(&t->lock);
    /* The shutdown check is made here, under the task's lock, and not at
     * the entry: the shutdown sets `shutting_down` and then scans every
     * slot under its lock.  If the scan locked this slot before us, its
     * store happens before our load and we refuse; if after, it sees the
     * task live and kills it.  A slot in a chunk grown after the scan read
     * the chunk count was handed out under the table's mutex after the
     * scan took it, so the same argument holds through the mutex.  Either
     * way no task escapes the shutdown (a check at the entry let a spawn
     * publish its task after the scan passed it: that task was never
     * killed and a shutdown waiting for it hung).  relaxed: the lock
     * orders it. */
    if (atomic_load_explicit(&rt->shutting_down, memory_order_relaxed)) {
        corio__spin_unlock(&t->lock);
        task_put_on(w, t); /* the id was never handed out: no new generation */
        return -ESHUTDOWN;
    }
    t->rt = rt;
    if (name != NULL) set_name_locked(t, name); /* else nothing: name_gen is stale */
    t->finished = t->detached = t->joined = false;
    t->nwaiters = 0;
    t->waiters = NULL;
    /* ACTIVE before `live`: a never-used slot reads IDLE (0), and a wake
     * through an early-guessed id (kill, unpark, the shutdown scan) must
     * not be able to queue the task a second time (state.h R1). */
    corio__state_spawned(&t->state);
    t->live = true;
    corio__spin_unlock(&t->lock);
    /* The live count: release, read with acquire by corio__rt_live. */
    if (w != NULL) CORIO__STAT_ADD_REL(w, spawned, 1);
    else atomic_fetch_add_explicit(&rt->ext_spawned, 1, memory_order_release);
    if (tid != NULL) *tid = id;
    corio__schedule_from(w, t, true);
    return 0;
}

static int rt_spawn(corio_rt *rt, corio_tid *tid, corio_task_fn fn, void *arg,
                    void (*unrun)(void *), const char *name) {
    if (rt == NULL || fn == NULL) return -EINVAL;
    corio__worker *w = corio__worker_self();
    if (w != NULL && w->rt == rt) return spawn(rt, w, tid, fn, arg, unrun, name);
    /* A plain thread (or another runtime's worker): shutdown waits for it
     * to leave before it frees anything (sched.c). */
    if (!corio__rt_ext_enter(rt, true)) return -ESHUTDOWN;
    int r = spawn(rt, NULL, tid, fn, arg, unrun, name);
    corio__rt_ext_leave(rt);
    return r;
}

int corio__rt_spawn_hooked(corio_rt *rt, corio_tid *tid, corio_task_fn fn, void *arg,
                           void (*unrun)(void *)) {
    return rt_spawn(rt, tid, fn, arg, unrun, NULL);
}

int corio_rt_spawn(corio_rt *rt, corio_tid *tid, corio_task_fn fn, void *arg) {
    return rt_spawn(rt, tid, fn, arg, NULL, NULL);
}

int corio_rt_spawn_opts(corio_rt *rt, corio_tid *tid, corio_task_fn fn, void *arg,
                        const corio_spawn_opts *opts) {
    return rt_spawn(rt, tid, fn, arg, NULL, opts != NULL ? opts->name : NULL);
}

int corio_task_spawn_opts(corio_tid *tid, corio_task_fn fn, void *arg,
                          const corio_spawn_opts *opts) {
    if (fn == NULL) return -EINVAL;
    corio__worker *w = corio__worker_self();
    if (w == NULL || w->current == NULL) return -EPERM;
    return spawn(w->rt, w, tid, fn, arg, NULL, opts != NULL ? opts->name : NULL);
}

int corio_task_spawn(corio_tid *tid, corio_task_fn fn, void *arg) {
    return corio_task_spawn_opts(tid, fn, arg, NULL);
}

/* ---- the calling task ----------------------------------------------------- */

/* The calling task.  Reads TLS inline: every caller uses it before its
 * first switch only, and keeps the task pointer (stable) afterwards. */
static corio__task *self_task(void) {
    corio__worker *w = corio__thread_here()->worker;
    return w != NULL ? w->current : NULL;
}

corio_tid corio_task_id(void) {
    corio__task *t = self_task();
    return t != NULL ? t->ctx.id : 0;
}

corio_rt *corio_task_runtime(void) {
    corio__task *t = self_task();
    return t != NULL ? t->rt : NULL;
}

int corio_task_worker(void) {
    corio__worker *w = corio__worker_self();
    return w != NULL && w->current != NULL ? (int)w->index : -EPERM;
}

/* corio_task_yield lives in yield.c, next to the direct switch it makes. */

/* The task `tid` names (0: the caller), locked; NULL with *err set. */
static corio__task *named_lock(corio_tid tid, int *err) {
    if (tid == 0) {
        corio__task *t = self_task();
        if (t == NULL) {
            *err = -EPERM;
            return NULL;
        }
        corio__spin_lock(&t->lock);
        return t;
    }
    corio__task *t = corio__task_lookup_lock(tid);
    if (t == NULL) {
        *err = -ESRCH;
        return NULL;
    }
    if (t->finished) {
        corio__spin_unlock(&t->lock);
        *err = -ESRCH;
        return NULL;
    }
    return t;
}

int corio_task_set_name(corio_tid tid, const char *name) {
    int err = 0;
    corio__task *t = named_lock(tid, &err);
    if (t == NULL) return err;
    set_name_locked(t, name);
    corio__spin_unlock(&t->lock);
    return 0;
}

int corio_task_get_name(corio_tid tid, char *buf, size_t len) {
    if (buf == NULL || len == 0) return -EINVAL;
    int err = 0;
    corio__task *t = named_lock(tid, &err);
    if (t == NULL) return err;
    const char *name = name_locked(t);
    size_t n = strnlen(name, sizeof t->name);
    if (n > len - 1) n = len - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    corio__spin_unlock(&t->lock);
    return 0;
}

int corio_task_park(void) {
    corio__task *t = self_task();
    if (t == NULL) return -EPERM;
    for (;;) {
        if (corio__state_cancelled(&t->state)) return -ECANCELED;
        /* acq_rel: pairs with the exchange in corio_task_unpark, so what
         * the unparker wrote before is visible after park returns. */
        if (atomic_exchange_explicit(&t->permit, 0, memory_order_acq_rel)) return 0;
        corio__note_set(&t->note, CORIO__WHY_PARK, 0, 0);
        corio__task_suspend(CORIO__R_PARK);
        corio__note_clear(&t->note);
    }
}

int corio_task_unpark(corio_tid tid) {
    corio__task *t = corio__task_lookup_lock(tid);
    if (t == NULL) return -ESRCH;
    if (t->finished) {
        corio__spin_unlock(&t->lock);
        return -ESRCH;
    }
    atomic_exchange_explicit(&t->permit, 1, memory_order_acq_rel);
    /* Under the lock: the id was checked, so the wake reaches this task and
     * not a later one in the same struct. */
    bool queue = corio__state_notify(&t->state, false);
    /* A plain thread queues it on the injection queue and may wake a
     * worker: the task may run and end, and the runtime be shut down,
     * before that is over.  Pinned like any outside waker (block.h); t is
     * alive here, so the pin is granted. */
    void *pin = queue ? corio__block_pin(t) : NULL;
    corio__spin_unlock(&t->lock);
    if (queue) corio__schedule(t, true); /* ours to queue (state.h R1) */
    corio__block_unpin(pin);
    return 0;
}

/* ---- kill / detach -------------------------------------------------------- */

/* Kill a task whose lock the caller holds and that has not finished; the
 * lock is released here.  The CANCELLED bit and the wake are one RMW of
 * the state word (state.h R3): a kill that meets the task starting or
 * parking on another worker cannot be lost. */
void corio__task_kill_locked(corio__task *t) {
    bool queue = corio__state_notify(&t->state, true);
    void *pin = queue ? corio__block_pin(t) : NULL; /* as in unpark */
    corio__spin_unlock(&t->lock);
    if (queue) corio__schedule(t, true);
    corio__block_unpin(pin);
}

int corio_task_kill(corio_tid tid) {
    corio__task *t = corio__task_lookup_lock(tid);
    if (t == NULL) return -ESRCH;
    if (t->finished) {
        corio__spin_unlock(&t->lock);
        return 0;
    }
    corio__task_kill_locked(t);
    return 1;
}

static void maybe_recycle_locked(corio__task *t) {
    if (t->finished && (t->detached || t->joined) && t->nwaiters == 0) {
        if (corio__task_recycle_locked(t)) task_put(t);
    } else {
        corio__spin_unlock(&t->lock);
    }
}

int corio_task_detach(corio_tid tid) {
    corio__task *t = corio__task_lookup_lock(tid);
    if (t == NULL) return -ESRCH;
    if (t->detached) {
        corio__spin_unlock(&t->lock);
        return -EINVAL;
    }
    t->detached = true;
    maybe_recycle_locked(t);
    return 0;
}

/* ---- join ------------------------------------------------------------------ */

static void unlink_waiter(corio__task *t, corio__waiter *me) {
    for (corio__waiter **p = &t->waiters; *p != NULL; p = &(*p)->next) {
        if (*p == me) {
            *p = me->next;
            return;
        }
    }
}

/* The end of a join of a finished task (locked; released here): its
 * result, or the reason it never ran. */
static int join_take_locked(corio__task *t, void **result, bool registered) {
    int err = t->error;
    if (result != NULL) *result = err == 0 ? t->result : NULL;
    if (registered) t->nwaiters--;
    t->joined = true;
    maybe_recycle_locked(t);
    return err;
}

/* Leave the waiters of `t` (locked; released here), which has not
 * finished: nobody touches `me` afterwards. */
static void join_leave_locked(corio__task *t, corio__waiter *me) {
    unlink_waiter(t, me);
    t->nwaiters--;
    corio__spin_unlock(&t->lock);
}

/* Common entry: resolve, refuse bad joins, take a finished result.  Returns
 * 1 with the task locked and `me` registered when the caller must wait;
 * -ETIMEDOUT, not registered, when it would wait but `deadline` (absolute,
 * -1 for none) has passed.  `rt` (plain-thread joins) must be the task's
 * runtime. */
static int join_begin(corio_rt *rt, corio_tid tid, corio__task **out, corio__waiter *me,
                      void **result, int64_t deadline) {
    corio__task *t = corio__task_lookup_lock(tid);
    if (t == NULL) return -ESRCH;
    if (rt != NULL && t->rt != rt) {
        corio__spin_unlock(&t->lock);
        return -ESRCH;
    }
    if (t->detached) {
        corio__spin_unlock(&t->lock);
        return -EINVAL;
    }
    if (t->finished) return join_take_locked(t, result, false);
    if (deadline >= 0 && corio__now_ns() >= deadline) {
        corio__spin_unlock(&t->lock);
        return -ETIMEDOUT; /* a timeout of 0 only looks */
    }
    me->next = t->waiters;
    t->waiters = me;
    t->nwaiters++;
    *out = t;
    return 1;
}

/* The join of a task.  With a deadline, the timer thread decides a wait of
 * our own (`tw`, runtime/timer.h) with -ETIMEDOUT and wakes us; that
 * decision says only "the time has passed".  What the join returns is
 * decided under the joined task's lock, where its end is published: the
 * finisher sets `finished` and takes the waiter list in one critical
 * section, and we look at `finished` first after every wake.  So in the
 * window where the timer fires while the task ends, either we see
 * `finished` (the result, the timer's decision unused: nothing else reads
 * it), or the task has not finished when we hold the lock, and we unlink
 * ourselves before we drop it: the finisher never sees our node, and the
 * task is left joinable.  Never both, never neither.  Every wake (the
 * finisher's, the timer's, a kill) is a read-modify-write of our state
 * word (state.h R3), so none is lost between our check and our park.
 * The timer is disarmed before we return: disarm waits for a firing in
 * progress (timer.h), after which nothing touches `tm` or `tw`; a wake of
 * it that lands after we left the loop is one spurious turn, which every
 * park absorbs. */
static int task_join(corio_tid tid, void **result, bool killable, int64_t deadline) {
    corio__task *self = self_task();
    if (self == NULL) return -EPERM;
    if (tid == self->ctx.id) return -EDEADLK;
    if (killable && corio__state_cancelled(&self->state)) return -ECANCELED;
    corio__waiter me = {.task = self};
    corio__task *t = NULL;
    int r = join_begin(NULL, tid, &t, &me, result, deadline);
    if (r <= 0) return r;
    corio__spin_unlock(&t->lock);
    corio__wait tw;
    corio__timer tm;
    bool armed = false;
    if (deadline >= 0) {
        corio__wait_init(&tw); /* no switch since the entry: TLS read is fine */
        r = corio__timer_arm(&tm, &tw, deadline);
        if (r < 0) {
            corio__spin_lock(&t->lock);
            if (t->finished) return join_take_locked(t, result, true);
            join_leave_locked(t, &me);
            return r;
        }
        armed = true;
    }
    corio__note_set(&self->note, CORIO__WHY_JOIN, 0, (int64_t)tid);
    for (;;) {
        corio__task_suspend(CORIO__R_PARK);
        /* The struct cannot be recycled while we are registered. */
        corio__spin_lock(&t->lock);
        if (t->finished) {
            r = join_take_locked(t, result, true);
            break;
        }
        if (killable && corio__state_cancelled(&self->state)) {
            join_leave_locked(t, &me);
            r = -ECANCELED;
            break;
        }
        /* The timer's decision (an acquire load; it carries no data, only
         * "the time has passed"). */
        if (armed && corio__wait_decided(&tw)) {
            join_leave_locked(t, &me);
            r = -ETIMEDOUT;
            break;
        }
        corio__spin_unlock(&t->lock); /* spurious: wait again */
    }
    corio__note_clear(&self->note);
    if (armed) corio__timer_disarm(&tm);
    return r;
}

int corio_task_join(corio_tid tid, void **result) { return task_join(tid, result, true, -1); }

int corio_task_join_timeout(corio_tid tid, void **result, int64_t timeout_ns) {
    return task_join(tid, result, true, corio__deadline(timeout_ns));
}

/* A kill of the joiner does not end this wait (the task group's join,
 * which must outlive its children even when its caller is killed).  The
 * task keeps its CANCELLED bit: its next killable wait sees it. */
int corio__task_join_unkillable(corio_tid tid, void **result) {
    return task_join(tid, result, false, -1);
}

/* A plain thread's wait for its `woken` (set by the finisher under `m`),
 * until `deadline` (-1: none).  True when woken. */
static bool thread_wait_woken(corio__waiter *me, int64_t deadline) {
    struct timespec ts = corio__timespec(deadline < 0 ? 0 : deadline);
    bool timed_out = false;
    pthread_mutex_lock(me->m);
    while (!*me->woken && !timed_out) {
        if (deadline < 0) pthread_cond_wait(me->c, me->m);
        else timed_out = pthread_cond_timedwait(me->c, me->m, &ts) == ETIMEDOUT;
    }
    bool woken = *me->woken;
    pthread_mutex_unlock(me->m);
    return woken;
}

int corio_rt_join_timeout(corio_rt *rt, corio_tid tid, void **result, int64_t timeout_ns) {
    if (rt == NULL) return -EINVAL;
    if (self_task() != NULL) return -EPERM;
    int64_t deadline = corio__deadline(timeout_ns);
    /* Registered for its whole length: a shutdown running meanwhile frees
     * the id table only after this thread has left the task's struct. */
    if (!corio__rt_ext_enter(rt, false)) return -ESHUTDOWN;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    corio__cond_init_monotonic(&c); /* the deadline is CLOCK_MONOTONIC */
    bool woken = false;
    corio__waiter me = {.task = NULL, .m = &m, .c = &c, .woken = &woken};
    corio__task *t = NULL;
    int r = join_begin(rt, tid, &t, &me, result, deadline);
    if (r > 0) {
        corio__spin_unlock(&t->lock);
        bool was_woken = thread_wait_woken(&me, deadline);
        /* As in task_join, the task's lock decides: `finished` and the
         * taking of the waiter list are one critical section of the
         * finisher. */
        corio__spin_lock(&t->lock);
        if (t->finished) {
            r = join_take_locked(t, result, true);
            /* Timed out as it finished: the finisher has taken our node and
             * sets `woken` once it has dropped the task's lock; `me` must
             * stay valid until then. */
            if (!was_woken) thread_wait_woken(&me, -1);
        } else {
            if (was_woken) corio__panic(__func__, "joiner woken before the task finished", tid);
            join_leave_locked(t, &me);
            r = -ETIMEDOUT;
        }
    }
    pthread_cond_destroy(&c);
    pthread_mutex_destroy(&m);
    corio__rt_ext_leave(rt);
    return r;
}

int corio_rt_join(corio_rt *rt, corio_tid tid, void **result) {
    return corio_rt_join_timeout(rt, tid, result, -1);
}

int corio_rt_run(corio_rt *rt, corio_task_fn fn, void *arg, void **result) {
    if (self_task() != NULL) return -EPERM; /* before spawning: nothing runs */
    corio_tid tid;
    int r = corio_rt_spawn(rt, &tid, fn, arg);
    if (r < 0) return r;
    return corio_rt_join(rt, tid, result);
}

/* ---- the end of a task (runs on the worker's own stack) -------------------- */

void corio__task_finish(corio__worker *w, corio__task *t) {
    if (t->ctx.stack != NULL) corio__ctx_release(&t->ctx); /* stack back to this worker's pool */
    corio__state_finish(&t->state);
    wake_batch b = {NULL, NULL};
    corio__spin_lock(&t->lock);
    t->finished = true;
    collect_waiters_locked(t, &b);
    maybe_recycle_locked(t);
    /* Outside the lock: queueing may take the injection mutex and wake a
     * sleeping worker (a futex call); none of that belongs under a
     * spinlock that other workers spin on. */
    wake_collected(w, &b);
    /* release: counted after everything above (corio__rt_live). */
    CORIO__STAT_ADD_REL(w, finished, 1);
}
