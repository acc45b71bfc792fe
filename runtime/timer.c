/* runtime/timer.c - the timer thread and its heap (timer.h). */
#define _GNU_SOURCE 1
#include "runtime/timer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/panic.h"

#define NOT_ARMED UINT32_MAX

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;          /* CLOCK_MONOTONIC; the thread sleeps on it */
static corio__timer **heap;          /* min-heap on deadline, under lock */
static unsigned len, cap;
static bool started;                 /* the thread runs (under lock) */

static void place(unsigned i, corio__timer *t) {
    heap[i] = t;
    t->idx = i;
}

static void sift_up(unsigned i) {
    corio__timer *t = heap[i];
    while (i > 0) {
        unsigned p = (i - 1) / 2;
        if (heap[p]->deadline <= t->deadline) break;
        place(i, heap[p]);
        i = p;
    }
    place(i, t);
}

static void sift_down(unsigned i) {
    corio__timer *t = heap[i];
    for (;;) {
        unsigned c = 2 * i + 1;
        if (c >= len) break;
        if (c + 1 < len && heap[c + 1]->deadline < heap[c]->deadline) c++;
        if (heap[c]->deadline >= t->deadline) break;
        place(i, heap[c]);
        i = c;
    }
    place(i, t);
}

static void heap_remove(corio__timer *t) {
    unsigned i = t->idx;
    t->idx = NOT_ARMED;
    if (--len == i) return;
    corio__timer *m = heap[len];
    place(i, m);
    sift_down(i);
    sift_up(m->idx);
}

static void *timer_main(void *arg) {
    (void)arg;
    (void)pthread_setname_np(pthread_self(), "corio-timer");
    pthread_mutex_lock(&lock);
    for (;;) {
        int64_t now = corio__now_ns();
        /* Fire what is due, under the lock (see timer.h: disarm waits). */
        while (len > 0 && heap[0]->deadline <= now) {
            corio__timer *t = heap[0];
            heap_remove(t);
            if (corio__wait_decide(t->wait, -ETIMEDOUT)) corio__wait_done(t->wait);
        }
        if (len == 0) {
            pthread_cond_wait(&cond, &lock);
        } else {
            int64_t d = heap[0]->deadline;
            struct timespec ts = corio__timespec(d);
            pthread_cond_timedwait(&cond, &lock, &ts);
        }
    }
    return NULL;
}

/* A forked child has no timer thread: start another on its first arm. */
static void after_fork_child(void) {
    pthread_mutex_init(&lock, NULL);
    started = false;
    len = 0;
}

static void init_once(void) {
    corio__cond_init_monotonic(&cond);
    pthread_atfork(NULL, NULL, after_fork_child);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

int corio__timer_arm(corio__timer *t, corio__wait *w, int64_t deadline) {
    pthread_once(&once, init_once);
    t->deadline = deadline;
    t->wait = w;
    t->idx = NOT_ARMED;
    pthread_mutex_lock(&lock);
    if (!started) {
        pthread_t th;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 64 * 1024);
        /* Every signal blocked in it: the thread lives as long as the
         * process, and it must never be the one a process-directed
         * signal is delivered to (a SIGTERM the program waits for with
         * corio_signal_wait would run its default action here if this
         * thread was started before the program blocked it). */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = pthread_create(&th, &a, timer_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&a);
        if (r != 0) {
            pthread_mutex_unlock(&lock);
            return -EAGAIN;
        }
        started = true;
    }
    if (len == cap) {
        unsigned ncap = cap ? cap * 2 : 64;
        corio__timer **nh = realloc(heap, ncap * sizeof *nh);
        if (nh == NULL) {
            pthread_mutex_unlock(&lock);
            return -ENOMEM;
        }
        heap = nh;
        cap = ncap;
    }
    place(len, t);
    len++;
    sift_up(len - 1);
    /* A new earliest deadline: the thread sleeps until the old one. */
    if (heap[0] == t) pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    return 0;
}

void corio__timer_disarm(corio__timer *t) {
    pthread_mutex_lock(&lock);
    if (t->idx != NOT_ARMED) heap_remove(t);
    pthread_mutex_unlock(&lock);
}
