/* runtime/wait.h - the one wait primitive every blocking object of sync/
 * (and the synchronized send of coro.c) is built on.
 *
 * Two pieces:
 *
 *   corio__wait   one waiting party: a task (it parks; its worker runs
 *                 others) or a plain thread (it blocks on a futex).  It
 *                 lives on the waiter's stack for the length of one wait.
 *   corio__wnode  one entry of that party in one queue (corio__waitq, an
 *                 intrusive FIFO list).  A select has a node in the queue
 *                 of each of its channels, all pointing at one wait.
 *
 * The outcome of a wait is decided by one compare-and-swap of its `state`
 * from 0 (waiting): a waker that claims it (value > 0, which the object
 * defines: "you own the mutex", "case 3 is yours", ...), the timer
 * (-ETIMEDOUT) or the waiter itself after a kill (-ECANCELED).  Exactly one
 * of them wins; the others see a non-zero state and leave the wait alone.
 * The winner then does what the outcome needs (a channel copies the item
 * into or out of the waiter's buffer) and calls corio__wait_done, which
 * publishes it (`done`, release) and wakes the waiter.  The waiter returns
 * only after `done` (acquire): a claimed waiter never leaves while its
 * buffer is being written, and a cancelled one has not had anything taken
 * or given (the operation did not happen: no item lost, none delivered to
 * a waiter that is gone).
 *
 * Queues have no lock of their own: the object that holds them (a channel,
 * a mutex) protects its queues and state with its own lock, and claims
 * waiters while holding it.  A node whose wait was decided elsewhere (a
 * select woken through another channel, a timeout) is skipped by the
 * wakers that meet it and unlinked by its waiter, under each object's
 * lock, before it returns: so an object whose queues are empty has no
 * waiter left inside a call on it (corio__waitq_remove is idempotent: a
 * claimed node was unlinked by its claimer).
 *
 * Lifetime: a waker must read everything it needs from the wait (the task)
 * before the `done` store: after it the waiter may return and its stack
 * be reused.  corio__wait_done does that, and, when the waker is not a
 * worker of the task's runtime, pins that runtime across the store and
 * the wake (runtime/block.h; a worker needs no pin: the shutdown joins it). */
#ifndef CORIO_RUNTIME_WAIT_H
#define CORIO_RUNTIME_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "runtime/chaos.h"

typedef struct corio__task corio__task;

typedef struct corio__wait {
    /* 0 waiting; > 0 claimed by a waker; < 0 cancelled (-ETIMEDOUT,
     * -ECANCELED).  acq_rel CAS from 0 by every decider: the release half
     * publishes what the waiter wrote before it queued (its item), the
     * acquire half gives it to the winner. */
    _Atomic int state;
    /* 1 once the winner is finished with the wait (release; the waiter's
     * acquire load sees everything the winner wrote). */
    _Atomic int done;
    corio__task *task;          /* the waiting task, or NULL: a plain thread
                                 * (it sleeps on the futex of `done`) */
    struct corio__wait *batch_next; /* the waker's, once it decided the wait
                                     * (corio__wbatch) */
} corio__wait;

typedef struct corio__wnode {
    struct corio__wnode *next, *prev;
    corio__wait *wait;
    void *data;                 /* the object's: an item buffer, a case */
    int value;                  /* what a waker claims the wait with */
    bool queued;                /* on a queue now (under the object's lock) */
} corio__wnode;

typedef struct corio__waitq {
    corio__wnode *head, *tail;
} corio__waitq;

/* Prepare a wait for the calling task or thread. */
void corio__wait_init(corio__wait *w);

/* Decide the wait with `value` (> 0 claim, < 0 cancel).  True when this
 * call won; the winner must call corio__wait_done exactly once. */
static inline bool corio__wait_decide(corio__wait *w, int value) {
    int expect = 0;
    CORIO__CHAOS();
    bool won = atomic_compare_exchange_strong_explicit(&w->state, &expect, value,
                                                       memory_order_acq_rel,
                                                       memory_order_acquire);
    CORIO__CHAOS();
    return won;
}

/* Has the wait been decided (by anyone)?  Acquire. */
static inline bool corio__wait_decided(corio__wait *w) {
    return atomic_load_explicit(&w->state, memory_order_acquire) != 0;
}

/* Publish the outcome and wake the waiter (from any thread).  A task
 * waiter is woken as a hand-off (the waker's run-next slot): it runs as soon
 * as the waker's turn ends, at once if the waker parks next. */
void corio__wait_done(corio__wait *w);
/* A batch of decided waits (a broadcast, a close), gathered under the
 * object's lock and woken after it, all of them: the waker never takes the
 * object's lock again once it wakes the first one, since a woken waiter
 * may destroy the object at once (its queues are empty by then).  The
 * links live in the waits themselves: a decided waiter does not leave
 * before its done, so its wait stays valid until corio__wait_done_batch
 * has read the link and wakes it. */
typedef struct corio__wbatch {
    corio__wait *head, **tail;
} corio__wbatch;

static inline void corio__wbatch_init(corio__wbatch *b) {
    b->head = NULL;
    b->tail = &b->head;
}

static inline void corio__wbatch_add(corio__wbatch *b, corio__wait *w) {
    w->batch_next = NULL;
    *b->tail = w;
    b->tail = &w->batch_next;
}

/* Publish and wake every wait of the batch, in its order; the waiters are
 * queued behind everything, so that they run in that order (one hand-off
 * after another would run the last one first).  Returns how many. */
size_t corio__wait_done_batch(corio__wbatch *b);

/* Block until the wait is done; returns its state.  deadline_ns: absolute
 * CLOCK_MONOTONIC nanoseconds, or -1 for none (then the outcome is
 * -ETIMEDOUT when it passes first).  killable: a kill of the waiting task
 * cancels the wait (-ECANCELED); when false the kill is left for the
 * task's next suspension point. */
int corio__wait_block(corio__wait *w, int64_t deadline_ns, bool killable);

/* The monotonic clock in nanoseconds, and a relative timeout (< 0: none)
 * as a deadline (-1: none), saturating. */
int64_t corio__now_ns(void);
int64_t corio__deadline_at(int64_t timeout_ns); /* timeout_ns >= 0 */
static inline int64_t corio__deadline(int64_t timeout_ns) {
    return timeout_ns < 0 ? -1 : corio__deadline_at(timeout_ns);
}
/* A condition variable whose timed waits take CLOCK_MONOTONIC deadlines
 * (the helper threads' sleeps: timer.c, sync/pool.c), and a deadline in
 * nanoseconds as their timespec. */
struct timespec corio__timespec(int64_t ns);
void corio__cond_init_monotonic(void *pthread_cond);

/* ---- queues (under the owning object's lock) ---- */

static inline bool corio__waitq_empty(const corio__waitq *q) { return q->head == NULL; }

static inline void corio__waitq_push(corio__waitq *q, corio__wnode *n) {
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail != NULL) q->tail->next = n;
    else q->head = n;
    q->tail = n;
    n->queued = true;
}

static inline void corio__waitq_remove(corio__waitq *q, corio__wnode *n) {
    if (!n->queued) return;
    if (n->prev != NULL) n->prev->next = n->next;
    else q->head = n->next;
    if (n->next != NULL) n->next->prev = n->prev;
    else q->tail = n->prev;
    n->next = n->prev = NULL;
    n->queued = false;
}

/* Nodes whose wait was decided elsewhere (a timeout, a kill, a select
 * woken through another channel) are skipped, not unlinked: their waiter
 * unlinks its own node, under the object's lock, before its call returns.
 * Until then the object is still waited on, so its destroy says -EBUSY:
 * a waiter that timed out is still inside its call, and will take the
 * object's lock once more. */

/* The first node whose wait is still undecided, without claiming it.  For
 * a waker that must check something about the waiter before it commits (a
 * select on both ends).  Inline, as claim: they are on every channel
 * operation's path. */
static inline corio__wnode *corio__waitq_peek(corio__waitq *q) {
    for (corio__wnode *n = q->head; n != NULL; n = n->next)
        if (!corio__wait_decided(n->wait)) return n;
    return NULL;
}

/* Claim the first node whose wait is still undecided, with its own
 * `value`, and unlink it (its waiter, once woken, does not touch the
 * object again).  NULL when none.  The caller calls corio__wait_done on
 * the returned node's wait after it has done its part. */
static inline corio__wnode *corio__waitq_claim(corio__waitq *q) {
    /* No load of the state before the CAS: a node decided elsewhere fails
     * the CAS as surely, and a load first would fetch the line shared only
     * to need it exclusive a moment later. */
    for (corio__wnode *n = q->head; n != NULL; n = n->next) {
        if (corio__wait_decide(n->wait, n->value)) {
            corio__waitq_remove(q, n);
            return n;
        }
    }
    return NULL;
}

#endif
