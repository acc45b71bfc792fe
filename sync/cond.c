/* sync/cond.c - a condition variable over corio_mutex (corio/sync.h).
 *
 * The waiter queues itself on the condition *before* it unlocks the mutex,
 * both under the condition's lock: a signal sent by someone who took the
 * mutex after us finds us queued, so no wake-up is lost between the
 * unlock and the block.  A signal claims the first waiter (wait.h), so a
 * waiter is woken by exactly one signal or by its own timeout or kill,
 * never spuriously.  The mutex is taken back unkillably and without a
 * deadline: the caller's critical section expects it held on every
 * return. */
#include <errno.h>
#include <stdlib.h>

#include "corio/sync.h"
#include "sync/mutex.h"
#include "runtime/task.h"

struct corio_cond {
    corio__lockq q;
};

int corio_cond_create(corio_cond **c) {
    if (c == NULL) return -EINVAL;
    corio_cond *x = calloc(1, sizeof *x);
    if (x == NULL) return -ENOMEM;
    corio__spin_init(&x->q.lock);
    *c = x;
    return 0;
}

int corio_cond_destroy(corio_cond *c) {
    if (c == NULL) return 0;
    corio__spin_lock(&c->q.lock);
    bool busy = !corio__waitq_empty(&c->q.q);
    corio__spin_unlock(&c->q.lock);
    if (busy) return -EBUSY;
    free(c);
    return 0;
}

int corio_cond_wait(corio_cond *c, corio_mutex *m, int64_t timeout_ns) {
    if (c == NULL || m == NULL) return -EINVAL;
    int64_t deadline = corio__deadline(timeout_ns);
    corio__spin_lock(&c->q.lock);
    /* The queue entry is made while m is still ours (see above). */
    corio__wait w;
    corio__wait_init(&w);
    corio__wnode n = {.wait = &w, .value = 1};
    corio__waitq_push(&c->q.q, &n);
    corio__spin_unlock(&c->q.lock);
    if (corio_mutex_unlock(m) != 0) {
        corio__spin_lock(&c->q.lock);
        corio__waitq_remove(&c->q.q, &n);
        bool mine = corio__wait_decide(&w, -EPERM);
        corio__spin_unlock(&c->q.lock);
        /* A signal may have claimed us meanwhile: let it finish with w. */
        if (!mine) corio__wait_block(&w, -1, false);
        return -EPERM;
    }
    corio__note_set(corio__task_note(w.task), CORIO__WHY_COND, 0, (intptr_t)c);
    int r = corio__wait_block(&w, deadline, true);
    corio__note_clear(corio__task_note(w.task));
    if (r < 0) {
        corio__spin_lock(&c->q.lock);
        corio__waitq_remove(&c->q.q, &n);
        corio__spin_unlock(&c->q.lock);
    }
    corio__mutex_lock(m, -1, false);
    return r > 0 ? 0 : r;
}

static int wake(corio_cond *c, bool all) {
    if (c == NULL) return -EINVAL;
    /* Claimed under the lock, woken after it (wake-ups may enter the
     * kernel).  A broadcast claims every waiter before it wakes the first:
     * a woken waiter may destroy the condition at once (POSIX allows it
     * once no one waits), so the condition is not touched after a wake
     * (wait.h, corio__wbatch). */
    corio__wbatch b;
    corio__wbatch_init(&b);
    corio__spin_lock(&c->q.lock);
    corio__wait *w;
    while ((w = corio__lockq_claim(&c->q)) != NULL) {
        corio__wbatch_add(&b, w);
        if (!all) break;
    }
    corio__spin_unlock(&c->q.lock);
    if (!all) {
        if (b.head == NULL) return 0;
        corio__wait_done(b.head); /* a signal hands off */
        return 1;
    }
    return (int)corio__wait_done_batch(&b); /* all, in their order */
}

int corio_cond_signal(corio_cond *c) { return wake(c, false); }
int corio_cond_broadcast(corio_cond *c) { return wake(c, true); }
