/* sync/pool.c - the blocking-call pool (corio/sync.h: corio_blocking).
 *
 * A blocking call (getaddrinfo, a database client, a CPU-heavy function)
 * made inside a task would stall its worker and every task queued on it.
 * corio_blocking hands the call to a helper thread and parks only the
 * calling task (runtime/wait.h), as Go's runtime hands a goroutine's
 * blocking syscall off its P and tokio's spawn_blocking does.
 *
 * One process-wide pool: a FIFO of jobs (each on its caller's stack; the
 * caller cannot leave before its job is done) under a pthread mutex, and
 * helper threads that wait on a condition variable.  A call starts a new
 * thread when no thread is idle and the limit allows (grows on demand);
 * above the limit calls queue.  A thread idle for the idle time exits
 * (shrinks).  The limit is CORIO_BLOCKING_THREADS (default 64), the idle
 * time CORIO_BLOCKING_IDLE_MS (default 10000), both read once.
 *
 * The wait for the result is not killable: the function cannot be
 * interrupted (its thread is inside some library), and the caller's
 * stack holds the job until it returns.  A kill that arrives meanwhile is
 * reported afterwards (-ECANCELED, with the result still stored). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "corio/sync.h"
#include "runtime/block.h"
#include "runtime/wait.h"
#include "runtime/task.h"

typedef struct job {
    struct job *next;
    void *(*fn)(void *);
    void *arg;
    void *result;
    corio__wait wait;
} job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;         /* CLOCK_MONOTONIC; idle threads wait here */
static job *head, *tail;            /* queued jobs, under lock */
static unsigned total, idle, limit; /* threads, idle ones, the maximum */
static unsigned queued;             /* jobs in the queue */
static int64_t idle_ns;

static unsigned env_uint(const char *name, unsigned dflt, unsigned max) {
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') return dflt;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || v == 0 || v > max) return dflt;
    return (unsigned)v;
}

/* A forked child has none of the parent's threads. */
static void after_fork_child(void) {
    pthread_mutex_init(&lock, NULL);
    head = tail = NULL;
    total = idle = queued = 0;
}

static void init_once(void) {
    corio__cond_init_monotonic(&cond);
    limit = env_uint("CORIO_BLOCKING_THREADS", 64, 4096);
    idle_ns = (int64_t)env_uint("CORIO_BLOCKING_IDLE_MS", 10000, 86400000) * 1000000;
    pthread_atfork(NULL, NULL, after_fork_child);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *helper_main(void *arg) {
    (void)arg;
    (void)pthread_setname_np(pthread_self(), "corio-pool");
    pthread_mutex_lock(&lock);
    for (;;) {
        while (head == NULL) {
            idle++;
            int64_t d = corio__now_ns() + idle_ns;
            struct timespec ts = corio__timespec(d);
            int r = 0;
            while (head == NULL && r != ETIMEDOUT) r = pthread_cond_timedwait(&cond, &lock, &ts);
            idle--;
            if (head == NULL) { /* idle for the whole idle time: shrink */
                total--;
                pthread_mutex_unlock(&lock);
                return NULL;
            }
        }
        job *j = head;
        queued--;
        head = j->next;
        if (head == NULL) tail = NULL;
        pthread_mutex_unlock(&lock);
        j->result = j->fn(j->arg);
        /* The caller reads result after done (acquire; wait.h). */
        if (corio__wait_decide(&j->wait, 1)) corio__wait_done(&j->wait);
        pthread_mutex_lock(&lock);
    }
}

/* With the lock held: make sure some thread will take the job just queued. */
static int ensure_thread(void) {
    /* Every queued job needs a thread on its way to it: an idle one that a
     * signal wakes, or a new one. */
    if (queued <= idle) {
        pthread_cond_signal(&cond);
        return 0;
    }
    if (total >= limit) return 0; /* queued: the next free thread takes it */
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    /* Every signal blocked in it, as in the timer thread (runtime/timer.c):
     * a pool thread never takes a signal meant for the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&th, &a, helper_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    if (r != 0) return total > 0 ? 0 : -EAGAIN;
    total++;
    return 0;
}

int corio_blocking(void *(*fn)(void *arg), void *arg, void **result) {
    if (fn == NULL) return -EINVAL;
    corio__task *self = corio__block_self();
    if (self == NULL) { /* a plain thread may block: just call it */
        void *v = fn(arg);
        if (result != NULL) *result = v;
        return 0;
    }
    pthread_once(&once, init_once);
    job j = {.fn = fn, .arg = arg};
    corio__wait_init(&j.wait);
    /* The mutex is held only for the queue operations (never across a
     * suspension), so taking it from a worker is as short as a spinlock. */
    pthread_mutex_lock(&lock);
    if (tail != NULL) tail->next = &j;
    else head = &j;
    tail = &j;
    queued++;
    int r = ensure_thread();
    if (r < 0) {
        head = tail = NULL; /* only ours: no thread exists to have taken any */
        queued = 0;
        pthread_mutex_unlock(&lock);
        return r;
    }
    pthread_mutex_unlock(&lock);
    corio__note_set(corio__task_note(j.wait.task), CORIO__WHY_POOL, 0, 0);
    corio__wait_block(&j.wait, -1, false);
    corio__note_clear(corio__task_note(j.wait.task));
    if (result != NULL) *result = j.result;
    /* The kill is re-read after the suspension (the task may have moved). */
    return corio__block_killed(corio__block_self()) ? -ECANCELED : 0;
}

int corio_blocking_threads(unsigned *total_out, unsigned *idle_out) {
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    if (total_out != NULL) *total_out = total;
    if (idle_out != NULL) *idle_out = idle;
    pthread_mutex_unlock(&lock);
    return 0;
}
