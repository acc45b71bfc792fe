/* runtime/park.c - the default parker: a mutex, a condition variable and a
 * permit flag.  See park.h for the contract. */
#include "runtime/park.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct cond_parker {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool permit; /* protected by m */
};

static void *cp_create(void *ctx, unsigned index) {
    (void)ctx;
    (void)index;
    struct cond_parker *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    pthread_mutex_init(&p->m, NULL);
    pthread_cond_init(&p->c, NULL);
    return p;
}

static void cp_destroy(void *v) {
    struct cond_parker *p = v;
    pthread_cond_destroy(&p->c);
    pthread_mutex_destroy(&p->m);
    free(p);
}

static void cp_park(void *v) {
    struct cond_parker *p = v;
    pthread_mutex_lock(&p->m);
    while (!p->permit) pthread_cond_wait(&p->c, &p->m);
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
};

/* acquire/release: a runtime created after the store sees the whole ops
 * table the setter prepared. */
static _Atomic(const corio__parker_ops *) default_ops;

void corio__parker_set_default(const corio__parker_ops *ops) {
    atomic_store_explicit(&default_ops, ops, memory_order_release);
}

const corio__parker_ops *corio__parker_get_default(void) {
    const corio__parker_ops *ops = atomic_load_explicit(&default_ops, memory_order_acquire);
    return ops != NULL ? ops : &corio__cond_parker;
}
