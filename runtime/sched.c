/* runtime/sched.c - the runtime's life: create, metrics, wait, shutdown.
 *
 * Start-up: the workers are started one by one; each creates its parker
 * on its own thread (an io_uring must be created by the thread that uses
 * it) and reports the result; the creator waits for every started worker,
 * then tells them all to go, or, if a thread or a parker could not be
 * created, to leave; it then joins them, destroys the parkers that exist
 * and returns the error.  Nothing is left behind.
 *
 * Shutdown protocol (each step waits for the previous one):
 *  1. shutting_down = 1: spawns are refused with -ESHUTDOWN from now on.
 *     A spawn checks the flag under the new task's lock (task.c), so every
 *     spawn either is refused or publishes a task that the scan below sees.
 *  2. Every task of this runtime still alive is killed: it sees -ECANCELED
 *     at its suspension point (or never runs, if it had not started).
 *  3. Wait until no task is live: each has returned and been finished by
 *     its worker (joiners woken, stacks freed).
 *  4. closed = 1, then wait until no plain-thread call is inside (a joiner
 *     woken in step 3 still reads its task's struct; a spawn refused in
 *     step 1 may still be on its way out, and one that was not refused may
 *     have counted its task only now), then wait for the tasks once more.  Plain-thread calls that come
 *     later are refused with -ESHUTDOWN (the flag is checked after the
 *     caller registered: seq_cst on both sides, see ext_enter).
 *  5. Tasks finished but never joined or detached are released.
 *  6. stopping = 1; every sleeping worker is woken; each leaves its loop
 *     and exits; the threads are joined (their stack pools are freed by the
 *     per-thread destructor), and only then are the parkers destroyed (a
 *     worker may be unparking another one until it exits).
 *  7. Queues, caches and the runtime itself are freed; the id table goes
 *     with the last runtime.  `rt` must not be used once shutdown returned;
 *     calls that overlap it are safe (they complete or get -ESHUTDOWN).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "corio/coro.h"
#include "runtime/panic.h"
#include "runtime/sched.h"
#include "runtime/wait.h"

#define MAX_WORKERS 1024u

static unsigned default_workers(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return (unsigned)n;
    }
    return 1;
}

static void free_rt(corio_rt *rt) {
    for (unsigned i = 0; i < rt->nworkers; i++) {
        corio__worker *w = &rt->workers[i];
        while (w->cache != NULL) {
            corio__task *t = w->cache;
            w->cache = t->next;
            corio__task_release(t);
        }
        corio__deque_fini(&w->q);
    }
    free(rt->workers);
    corio__idle_fini(&rt->idle);
    pthread_mutex_destroy(&rt->inject_lock);
    pthread_mutex_destroy(&rt->live_lock);
    pthread_cond_destroy(&rt->live_cond);
    pthread_mutex_destroy(&rt->start_lock);
    pthread_cond_destroy(&rt->start_cond);
    free(rt);
}

int (*corio__thread_create_hook)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                                 void *) = pthread_create;

/* The worker's side of start-up (called by corio__worker_main): create the
 * parker, report, wait for the verdict.  True: run. */
bool corio__worker_started(corio__worker *w) {
    corio_rt *rt = w->rt;
    void *p = NULL;
    int r = rt->parker_ops->create(rt, w->index, &p);
    pthread_mutex_lock(&rt->start_lock);
    w->parker = r == 0 ? p : NULL;
    w->start_err = r < 0 ? r : 0;
    rt->nready++;
    pthread_cond_broadcast(&rt->start_cond);
    while (rt->start_state == 0) pthread_cond_wait(&rt->start_cond, &rt->start_lock);
    bool go = rt->start_state > 0;
    pthread_mutex_unlock(&rt->start_lock);
    return go;
}

static void destroy_parkers(corio_rt *rt) {
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (rt->workers[i].parker != NULL) rt->parker_ops->destroy(rt->workers[i].parker);
}

int corio__rt_create_ops(corio_rt **out, const corio_rt_opts *opts,
                         const corio__parker_ops *ops) {
    if (out == NULL || ops == NULL) return -EINVAL;
    unsigned n = opts != NULL && opts->workers != 0 ? opts->workers : default_workers();
    if (n > MAX_WORKERS) return -EINVAL;
    size_t stack = opts != NULL ? opts->stack_size : 0;
    if (stack > CORIO_STACK_MAX) return -EINVAL;
    corio_rt *rt = calloc(1, sizeof *rt);
    if (rt == NULL) return -ENOMEM;
    rt->workers = aligned_alloc(64, ((n * sizeof(corio__worker) + 63) / 64) * 64);
    if (rt->workers == NULL) {
        free(rt);
        return -ENOMEM;
    }
    memset(rt->workers, 0, n * sizeof(corio__worker));
    rt->nworkers = n;
    rt->stack_size = stack;
    rt->parker_ops = ops;
    corio__idle_init(&rt->idle, n);
    pthread_mutex_init(&rt->inject_lock, NULL);
    pthread_mutex_init(&rt->live_lock, NULL);
    /* Monotonic: the drain's deadline (corio_rt_shutdown_drain). */
    corio__cond_init_monotonic(&rt->live_cond);
    pthread_mutex_init(&rt->start_lock, NULL);
    pthread_cond_init(&rt->start_cond, NULL);
    for (unsigned i = 0; i < n; i++) {
        corio__worker *w = &rt->workers[i];
        w->rt = rt;
        w->index = i;
        w->rng = 0x9E3779B97F4A7C15ULL * (i + 1);
        if (corio__deque_init(&w->q, CORIO__DEQUE_CAPACITY) < 0) {
            for (unsigned j = 0; j < i; j++) corio__deque_fini(&rt->workers[j].q);
            rt->nworkers = 0;
            free_rt(rt);
            return -ENOMEM;
        }
    }
    corio__asym_init(); /* before any worker runs: see asym.h */
    unsigned started = 0;
    int err = 0;
    for (; started < n; started++) {
        int r = corio__thread_create_hook(&rt->workers[started].thread, NULL, corio__worker_main,
                                          &rt->workers[started]);
        if (r != 0) {
            err = -r;
            break;
        }
    }
    pthread_mutex_lock(&rt->start_lock);
    while (rt->nready < started) pthread_cond_wait(&rt->start_cond, &rt->start_lock);
    for (unsigned i = 0; i < started && err == 0; i++) err = rt->workers[i].start_err;
    rt->start_state = err == 0 ? 1 : -1;
    pthread_cond_broadcast(&rt->start_cond);
    pthread_mutex_unlock(&rt->start_lock);
    if (err != 0) {
        /* Every started worker leaves without touching a queue. */
        for (unsigned i = 0; i < started; i++) pthread_join(rt->workers[i].thread, NULL);
        destroy_parkers(rt);
        free_rt(rt);
        return err;
    }
    *out = rt;
    return 0;
}

/* Dekker's pattern between a plain-thread call and the shutdown: the caller
 * increments ext_users and then loads the flags; the shutdown stores a flag
 * and then loads ext_users.  All four are seq_cst, so in their single total
 * order either the caller's load follows the shutdown's store (the caller
 * sees the flag and backs out) or the shutdown's load follows the
 * caller's increment (the shutdown waits for it).  acquire/release alone
 * would let both read the old values. */
bool corio__rt_ext_enter(corio_rt *rt, bool refuse_on_shutdown) {
    atomic_fetch_add_explicit(&rt->ext_users, 1, memory_order_seq_cst);
    bool refused = atomic_load_explicit(&rt->closed, memory_order_seq_cst) ||
                   (refuse_on_shutdown &&
                    atomic_load_explicit(&rt->shutting_down, memory_order_seq_cst));
    if (refused) corio__rt_ext_leave(rt);
    return !refused;
}

void corio__rt_ext_leave(corio_rt *rt) {
    /* release: the caller's last reads of the runtime happen before the
     * shutdown's acquire load that sees the count drop. */
    atomic_fetch_sub_explicit(&rt->ext_users, 1, memory_order_release);
}

unsigned corio_rt_workers(const corio_rt *rt) { return rt != NULL ? rt->nworkers : 0; }

const char *corio_rt_backend(const corio_rt *rt) {
    return rt != NULL && rt->parker_ops->name != NULL ? rt->parker_ops->name : "";
}

int corio_rt_metrics(const corio_rt *rt, unsigned i, corio_worker_metrics *out) {
    if (rt == NULL || out == NULL || i >= rt->nworkers) return -EINVAL;
    corio__metrics *m = &rt->workers[i].m;
    out->tasks_run = atomic_load_explicit(&m->tasks_run, memory_order_relaxed);
    out->spawned = atomic_load_explicit(&m->spawned, memory_order_relaxed);
    out->steals = atomic_load_explicit(&m->steals, memory_order_relaxed);
    out->stolen_tasks = atomic_load_explicit(&m->stolen_tasks, memory_order_relaxed);
    out->stolen_from = atomic_load_explicit(&m->stolen_from, memory_order_relaxed);
    out->parks = atomic_load_explicit(&m->parks, memory_order_relaxed);
    out->wakeups = atomic_load_explicit(&m->wakeups, memory_order_relaxed);
    out->inject_pops = atomic_load_explicit(&m->inject_pops, memory_order_relaxed);
    return 0;
}

int corio_rt_get_stats(const corio_rt *rt, corio_rt_stats *out) {
    if (rt == NULL || out == NULL) return -EINVAL;
    memset(out, 0, sizeof *out);
    /* Finished first, as corio__rt_live: alive is never below the truth. */
    for (unsigned i = 0; i < rt->nworkers; i++)
        out->tasks_finished += atomic_load_explicit(&rt->workers[i].m.finished, memory_order_acquire);
    out->tasks_spawned = atomic_load_explicit(&rt->ext_spawned, memory_order_acquire);
    for (unsigned i = 0; i < rt->nworkers; i++) {
        corio_worker_metrics m;
        (void)corio_rt_metrics(rt, i, &m);
        out->tasks_spawned += atomic_load_explicit(&rt->workers[i].m.spawned, memory_order_acquire);
        out->workers.tasks_run += m.tasks_run;
        out->workers.spawned += m.spawned;
        out->workers.steals += m.steals;
        out->workers.stolen_tasks += m.stolen_tasks;
        out->workers.stolen_from += m.stolen_from;
        out->workers.parks += m.parks;
        out->workers.wakeups += m.wakeups;
        out->workers.inject_pops += m.inject_pops;
    }
    out->tasks_alive = out->tasks_spawned - out->tasks_finished;
    return 0;
}

/* Reads every finished counter before any spawned counter.  A task's spawn
 * happens before its finish (release stores, acquire loads), so a finish
 * that is counted always has its spawn counted too: the result is never
 * below the true number of live tasks at the moment the finished counters
 * were read, and 0 means that at that moment nothing was alive; a task
 * spawned later would have been spawned by a live task (or by a plain
 * thread, which counts in ext_spawned and is read last).  Counters are
 * single-writer (one worker each), so counting costs no shared write. */
uint64_t corio__rt_live(corio_rt *rt) {
    uint64_t f = 0, s;
    for (unsigned i = 0; i < rt->nworkers; i++)
        f += atomic_load_explicit(&rt->workers[i].m.finished, memory_order_acquire);
    s = atomic_load_explicit(&rt->ext_spawned, memory_order_acquire);
    for (unsigned i = 0; i < rt->nworkers; i++)
        s += atomic_load_explicit(&rt->workers[i].m.spawned, memory_order_acquire);
    return s - f;
}

/* When the last task ends, its worker (and every other) runs dry and comes
 * here before sleeping: the moment to wake corio_rt_wait_idle. */
void corio__rt_worker_idle(corio_rt *rt) {
    if (corio__rt_live(rt) != 0) return;
    pthread_mutex_lock(&rt->live_lock);
    pthread_cond_broadcast(&rt->live_cond);
    pthread_mutex_unlock(&rt->live_lock);
}

static void wait_idle(corio_rt *rt) {
    pthread_mutex_lock(&rt->live_lock);
    /* Checked under live_lock, which corio__rt_worker_idle takes to
     * broadcast: a broadcast cannot fall between this check and the wait. */
    while (corio__rt_live(rt) != 0) pthread_cond_wait(&rt->live_cond, &rt->live_lock);
    pthread_mutex_unlock(&rt->live_lock);
}

/* wait_idle until the CLOCK_MONOTONIC `deadline` (-1: none). */
static void wait_idle_until(corio_rt *rt, int64_t deadline) {
    if (deadline < 0) {
        wait_idle(rt);
        return;
    }
    struct timespec ts = corio__timespec(deadline);
    pthread_mutex_lock(&rt->live_lock);
    while (corio__rt_live(rt) != 0)
        if (pthread_cond_timedwait(&rt->live_cond, &rt->live_lock, &ts) == ETIMEDOUT) break;
    pthread_mutex_unlock(&rt->live_lock);
}

int corio_rt_wait_idle(corio_rt *rt) {
    if (rt == NULL) return -EINVAL;
    corio__worker *w = corio__worker_self();
    if (w != NULL && w->current != NULL) return -EPERM;
    if (!corio__rt_ext_enter(rt, false)) return -ESHUTDOWN;
    wait_idle(rt);
    corio__rt_ext_leave(rt);
    return 0;
}

static void kill_one(corio__task *t, void *arg) {
    corio__spin_lock(&t->lock);
    if (t->live && t->rt == (corio_rt *)arg && !t->finished) corio__task_kill_locked(t);
    else corio__spin_unlock(&t->lock);
}

static void release_zombie(corio__task *t, void *arg) {
    corio__spin_lock(&t->lock);
    if (t->live && t->rt == (corio_rt *)arg && t->finished) {
        /* No joiner is left (step 4), so nwaiters is 0. */
        if (corio__task_recycle_locked(t)) corio__task_release(t);
        return;
    }
    corio__spin_unlock(&t->lock);
}

int corio_rt_shutdown(corio_rt *rt) {
    if (rt == NULL) return -EINVAL;
    corio__worker *self = corio__worker_self();
    if (self != NULL) return -EPERM; /* a worker cannot join itself */
    /* seq_cst: one side of ext_enter's Dekker pattern; the scan's task
     * locks order it before every later spawn's check (task.c). */
    if (atomic_exchange_explicit(&rt->shutting_down, 1, memory_order_seq_cst))
        return -EINVAL; /* a second shutdown of the same runtime */
    corio__idtable_each(kill_one, rt);
    wait_idle(rt);
    atomic_store_explicit(&rt->closed, 1, memory_order_seq_cst);
    /* Plain-thread calls still inside leave quickly: joiners were woken in
     * wait_idle, refused spawns only return. */
    while (atomic_load_explicit(&rt->ext_users, memory_order_seq_cst) != 0) sched_yield();
    /* A plain-thread spawn that got its task past the scan's lock before
     * the flag (the scan then killed it) may have counted it only after
     * the first wait saw nothing live: now that every such call has left,
     * the count is complete; wait for that task's end too. */
    wait_idle(rt);
    corio__idtable_each(release_zombie, rt);
    atomic_store_explicit(&rt->stopping, 1, memory_order_release);
    corio__idle_wake_all(rt);
    for (unsigned i = 0; i < rt->nworkers; i++) pthread_join(rt->workers[i].thread, NULL);
    destroy_parkers(rt);
    free_rt(rt);
    return 0;
}

/* The drain is a wait for idleness with a deadline in front of the
 * shutdown: nothing is refused or killed during it, so the tasks finish
 * as they would (a handler may still spawn a helper); the shutdown then
 * kills whatever is left.  The count is read before the shutdown's kill:
 * the tasks alive when the drain ended. */
int corio_rt_shutdown_drain(corio_rt *rt, int64_t drain_ns) {
    if (rt == NULL) return -EINVAL;
    if (corio__worker_self() != NULL) return -EPERM;
    /* relaxed: only one drain may go on; the shutdown orders the rest. */
    if (atomic_exchange_explicit(&rt->draining, 1, memory_order_relaxed) ||
        atomic_load_explicit(&rt->shutting_down, memory_order_relaxed))
        return -EINVAL;
    if (drain_ns != 0) wait_idle_until(rt, corio__deadline(drain_ns));
    uint64_t left = corio__rt_live(rt);
    int r = corio_rt_shutdown(rt);
    if (r < 0) return r;
    return left > INT_MAX ? INT_MAX : (int)left;
}
