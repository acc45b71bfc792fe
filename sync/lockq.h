/* sync/lockq.h - what the mutex, the condition variable and the semaphore
 * share: a spinlock-guarded FIFO of waiters (runtime/wait.h) and the one
 * way to wait in it.
 *
 * All three hand ownership over directly: the unlocker (releaser,
 * signaller) claims the first waiter and the resource passes to it without
 * ever being free, so a late-comer cannot overtake a queued waiter (FIFO,
 * as the API promises) and a woken waiter never has to retry. */
#ifndef CORIO_SYNC_LOCKQ_H
#define CORIO_SYNC_LOCKQ_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/spin.h"
#include "runtime/note.h"
#include "runtime/wait.h"

typedef struct corio__lockq {
    corio__spin lock;
    corio__waitq q;
} corio__lockq;

/* Called with q->lock held: queue the caller, unlock, block until claimed
 * (returns the claim's value, > 0), or until the deadline or a kill (when
 * killable) ends the wait first (returns -ETIMEDOUT / -ECANCELED, after
 * taking the caller off the queue: nothing was handed over). */
int corio__lockq_wait(corio__lockq *q, int64_t deadline, bool killable, unsigned why,
                      const void *obj);

/* Called with q->lock held: claim the first waiter, or NULL.  Its wait
 * must be passed to corio__wait_done after q->lock is released. */
static inline corio__wait *corio__lockq_claim(corio__lockq *q) {
    corio__wnode *n = corio__waitq_claim(&q->q);
    return n != NULL ? n->wait : NULL;
}

#endif
