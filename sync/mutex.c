/* sync/mutex.c - a mutex for tasks and threads (corio/sync.h).
 *
 * Not a futex word with a fast path that bypasses the queue: locked is
 * under the spinlock with the queue, and an unlock with waiters hands the
 * mutex to the first of them (lockq.h).  That keeps the arrival order the
 * API promises and makes every wait end with ownership, at the price of
 * a convoy under heavy contention (each hand-over is a wake-up).  Tasks
 * hold a corio mutex across suspensions (that is why it exists: a pthread
 * mutex held across a park would block the worker), so hand-over cost is
 * small next to what it protects. */
#include <errno.h>
#include <stdlib.h>

#include "corio/sync.h"
#include "sync/mutex.h"

int corio_mutex_create(corio_mutex **m) {
    if (m == NULL) return -EINVAL;
    corio_mutex *x = calloc(1, sizeof *x);
    if (x == NULL) return -ENOMEM;
    corio__spin_init(&x->q.lock);
    *m = x;
    return 0;
}

int corio_mutex_destroy(corio_mutex *m) {
    if (m == NULL) return 0;
    corio__spin_lock(&m->q.lock);
    bool busy = m->locked || !corio__waitq_empty(&m->q.q);
    corio__spin_unlock(&m->q.lock);
    if (busy) return -EBUSY;
    free(m);
    return 0;
}

int corio__mutex_lock(corio_mutex *m, int64_t deadline, bool killable) {
    corio__spin_lock(&m->q.lock);
    if (!m->locked) {
        m->locked = true;
        corio__spin_unlock(&m->q.lock);
        return 0;
    }
    if (deadline >= 0 && corio__now_ns() >= deadline) {
        corio__spin_unlock(&m->q.lock);
        return -ETIMEDOUT;
    }
    int r = corio__lockq_wait(&m->q, deadline, killable, CORIO__WHY_MUTEX, m);
    return r > 0 ? 0 : r; /* > 0: handed over, locked stays true */
}

int corio_mutex_lock(corio_mutex *m, int64_t timeout_ns) {
    if (m == NULL) return -EINVAL;
    return corio__mutex_lock(m, corio__deadline(timeout_ns), true);
}

int corio_mutex_trylock(corio_mutex *m) {
    if (m == NULL) return -EINVAL;
    corio__spin_lock(&m->q.lock);
    bool was = m->locked;
    m->locked = true;
    corio__spin_unlock(&m->q.lock);
    return was ? -EBUSY : 0;
}

int corio_mutex_unlock(corio_mutex *m) {
    if (m == NULL) return -EINVAL;
    corio__spin_lock(&m->q.lock);
    if (!m->locked) {
        corio__spin_unlock(&m->q.lock);
        return -EPERM;
    }
    corio__wait *next = corio__lockq_claim(&m->q);
    if (next == NULL) m->locked = false;
    corio__spin_unlock(&m->q.lock);
    if (next != NULL) corio__wait_done(next);
    return 0;
}
