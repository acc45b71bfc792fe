/* runtime/park.c - the default parker: a mutex, a condition variable and a
 * permit flag.  See park.h for the contract. */
#include "runtime/park.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct cond_parker {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool permit; /* protected by m */
};

static int cp_create(void *ctx, unsigned index, void **out) {
    (void)ctx;
    (void)index;
    struct cond_parker *p = calloc(1, sizeof *p);
    if (p == NULL) return -ENOMEM;
    pthread_mutex_init(&p->m, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC); /* timeouts immune to clock steps */
    pthread_cond_init(&p->c, &a);
    pthread_condattr_destroy(&a);
    *out = p;
    return 0;
}

static void cp_destroy(void *v) {
    struct cond_parker *p = v;
    pthread_cond_destroy(&p->c);
    pthread_mutex_destroy(&p->m);
    free(p);
}

static void cp_park(void *v, int64_t timeout_ns) {
    struct cond_parker *p = v;
    struct timespec until;
    if (timeout_ns >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + timeout_ns % 1000000000;
        until.tv_sec += timeout_ns / 1000000000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
    }
    pthread_mutex_lock(&p->m);
    while (!p->permit) {
        if (timeout_ns < 0) pthread_cond_wait(&p->c, &p->m);
        else if (pthread_cond_timedwait(&p->c, &p->m, &until) == ETIMEDOUT) break;
    }
    p->permit = false;
    pthread_mutex_unlock(&p->m);
}

static void cp_unpark(void *v) {
    struct cond_parker *p = v;
    pthread_mutex_lock(&p->m);
    p->permit = true;
    pthread_cond_signal(&p->c);
    pthread_mutex_unlock(&p->m);
}

const corio__parker_ops corio__cond_parker = {
    .create = cp_create,
    .destroy = cp_destroy,
    .park = cp_park,
    .unpark = cp_unpark,
    .poll = NULL,
    .due = NULL,
    .name = "none",
};

/* acquire/release: a runtime created after the store sees the whole ops
 * table the setter prepared. */
static _Atomic(const corio__parker_ops *) default_ops;

void corio__parker_set_default(const corio__parker_ops *ops) {
    atomic_store_explicit(&default_ops, ops, memory_order_release);
}

const corio__parker_ops *corio__parker_get_default(void) {
    return atomic_load_explicit(&default_ops, memory_order_acquire);
}
