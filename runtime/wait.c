/* runtime/wait.c - blocking and waking one waiter (wait.h). */
#define _GNU_SOURCE 1
#include "runtime/wait.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/block.h"
#include "runtime/chaos.h"
#include "runtime/sched.h"
#include "runtime/timer.h"
#include "runtime/wait_block.h"

/* A plain thread sleeps on the futex of its wait's own `done` word: it
 * sleeps only while done is still 0, so a wake between its check and its
 * sleep is never lost.  The waker's FUTEX_WAKE comes after the store, when
 * the waiter may have returned and its stack been reused or unmapped: a
 * wake of an address nobody waits on does nothing, one of an address that
 * another futex user now waits on is a spurious wake-up for it (which
 * every futex user absorbs), and one of an unmapped address fails with
 * EFAULT.  No thread-owned word is touched after the wait ends (a
 * per-thread word would be freed with the thread's TLS if it exited). */

int64_t corio__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t corio__deadline_at(int64_t timeout_ns) {
    int64_t now = corio__now_ns();
    return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

struct timespec corio__timespec(int64_t ns) {
    return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
}

void corio__cond_init_monotonic(void *cond) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &a);
    pthread_condattr_destroy(&a);
}

void corio__wait_init(corio__wait *w) {
    atomic_init(&w->state, 0);
    atomic_init(&w->done, 0);
    /* No switch in this function: the inline TLS read is safe here. */
    corio__worker *wk = corio__thread_here()->worker;
    w->task = wk != NULL ? wk->current : NULL;
}

static void done(corio__wait *w, bool handoff) {
    /* Read before the release store: afterwards the wait may be gone. */
    corio__task *t = w->task;
    corio__worker *wk = t != NULL ? corio__thread_here()->worker : NULL;
    if (wk != NULL && wk->rt == t->rt) {
        /* A task of t's runtime wakes t: nothing to pin (the runtime cannot
         * be shut down under a running worker: block.h), and t goes to
         * this worker's queue, as a hand-off (the run-next slot) or behind
         * everything. */
        unsigned seen = corio__state_early(&t->state); /* chaos mode only */
        atomic_store_explicit(&w->done, 1, memory_order_release);
        CORIO__CHAOS(); /* between the store and the wake's RMW */
        if (corio__state_notify_from(&t->state, false, seen)) {
            if (handoff) corio__schedule_from(wk, t, true);
            else corio__schedule_back(t);
        }
        return;
    }
    if (t != NULL) {
        /* Any other waker queues t on the injection queue either way.
         * Once done is set the task may end and its runtime be shut down
         * while we are inside the wake: pin it (block.h). */
        void *pin = corio__block_pin(t);
        atomic_store_explicit(&w->done, 1, memory_order_release);
        CORIO__CHAOS();
        corio__block_wake(t);
        corio__block_unpin(pin);
        return;
    }
    atomic_store_explicit(&w->done, 1, memory_order_release);
    syscall(SYS_futex, &w->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void corio__wait_done(corio__wait *w) { done(w, true); }

size_t corio__wait_done_batch(corio__wbatch *b) {
    size_t n = 0;
    for (corio__wait *w = b->head; w != NULL; n++) {
        corio__wait *next = w->batch_next; /* before done: then w may be gone */
        done(w, false);
        w = next;
    }
    corio__wbatch_init(b);
    return n;
}

int corio__wait_thread_block(corio__wait *w, int64_t deadline) {
    while (!corio__wait_is_done(w)) {
        struct timespec ts, *tsp = NULL;
        if (deadline >= 0 && !corio__wait_decided(w)) {
            if (corio__now_ns() >= deadline) {
                if (corio__wait_decide(w, -ETIMEDOUT)) return -ETIMEDOUT;
                continue; /* claimed meanwhile: wait for done */
            }
            ts = corio__timespec(deadline);
            tsp = &ts;
        }
        /* Sleeps only while done is 0.  FUTEX_WAIT_BITSET takes an
         * absolute CLOCK_MONOTONIC time. */
        syscall(SYS_futex, &w->done, FUTEX_WAIT_BITSET_PRIVATE, 0, tsp, NULL,
                FUTEX_BITSET_MATCH_ANY);
    }
    return atomic_load_explicit(&w->state, memory_order_acquire);
}

CORIO__SWITCHES int corio__wait_block(corio__wait *w, int64_t deadline_ns, bool killable) {
    return corio__wait_block_here(w, deadline_ns, killable);
}
