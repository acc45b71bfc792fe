/* sync/sem.c - a counting semaphore (corio/sync.h).  A release with
 * waiters hands its unit to the first of them (lockq.h): the value is 0
 * whenever someone waits, and units are served in arrival order. */
#include <errno.h>
#include <stdlib.h>

#include "corio/sync.h"
#include "sync/lockq.h"

struct corio_sem {
    corio__lockq q;
    unsigned value; /* under q.lock */
};

int corio_sem_create(corio_sem **s, unsigned value) {
    if (s == NULL) return -EINVAL;
    corio_sem *x = calloc(1, sizeof *x);
    if (x == NULL) return -ENOMEM;
    corio__spin_init(&x->q.lock);
    x->value = value;
    *s = x;
    return 0;
}

int corio_sem_destroy(corio_sem *s) {
    if (s == NULL) return 0;
    corio__spin_lock(&s->q.lock);
    bool busy = !corio__waitq_empty(&s->q.q);
    corio__spin_unlock(&s->q.lock);
    if (busy) return -EBUSY;
    free(s);
    return 0;
}

static int acquire(corio_sem *s, int64_t timeout_ns, bool is_try) {
    if (s == NULL) return -EINVAL;
    corio__spin_lock(&s->q.lock);
    if (s->value > 0) {
        s->value--;
        corio__spin_unlock(&s->q.lock);
        return 0;
    }
    if (timeout_ns == 0) {
        corio__spin_unlock(&s->q.lock);
        return is_try ? -EAGAIN : -ETIMEDOUT;
    }
    int r = corio__lockq_wait(&s->q, corio__deadline(timeout_ns), true, CORIO__WHY_SEM, s);
    return r > 0 ? 0 : r;
}

int corio_sem_acquire(corio_sem *s, int64_t timeout_ns) { return acquire(s, timeout_ns, false); }
int corio_sem_try_acquire(corio_sem *s) { return acquire(s, 0, true); }

int corio_sem_release(corio_sem *s) {
    if (s == NULL) return -EINVAL;
    corio__spin_lock(&s->q.lock);
    corio__wait *next = corio__lockq_claim(&s->q);
    if (next == NULL) {
        if (s->value == UINT32_MAX) {
            corio__spin_unlock(&s->q.lock);
            return -EOVERFLOW;
        }
        s->value++;
    }
    corio__spin_unlock(&s->q.lock);
    if (next != NULL) corio__wait_done(next);
    return 0;
}

unsigned corio_sem_value(corio_sem *s) {
    if (s == NULL) return 0;
    corio__spin_lock(&s->q.lock);
    unsigned v = s->value;
    corio__spin_unlock(&s->q.lock);
    return v;
}
