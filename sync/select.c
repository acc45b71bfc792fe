/* sync/select.c - waiting on several channel operations at once
 * (corio/sync.h: corio_select).
 *
 * Go's selectgo, on runtime/wait.h:
 *   1. lock every distinct channel of the cases, in address order (two
 *      selects over the same channels cannot deadlock on their locks);
 *   2. visit the cases in a random order and perform the first that can
 *      proceed now (fairness between ready cases: none is starved because
 *      it comes first or last in the caller's array);
 *   3. if none can, queue one node per case, all pointing at one wait,
 *      with value "case index + 1", unlock, and block.  The peer that
 *      claims one node (wait.h's single CAS) wins the whole select and
 *      performs that case; every other node is then "decided elsewhere" and
 *      is skipped by wakers until the selecting party removes it;
 *   4. after the wait, lock everything again and remove the remaining
 *      nodes before the nodes (on this stack) go away.
 * A close decides a node with its value | CHAN_CLOSED_BIT, which names the
 * case and says how it ended. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync/chan.h"
#include "runtime/task.h"

/* A per-thread xorshift for the visiting order: a fair choice needs no
 * better randomness, and no shared state between threads. */
static _Thread_local uint64_t rnd_state;

static uint32_t rnd(void) {
    uint64_t x = rnd_state;
    if (x == 0) x = (uint64_t)corio__now_ns() ^ (uint64_t)(uintptr_t)&rnd_state ^ 0x9e3779b97f4a7c15u;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rnd_state = x;
    return (uint32_t)(x >> 32);
}

static int cmp_chan(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (corio_chan *const *)a, y = (uintptr_t) * (corio_chan *const *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    corio_chan *chans[CORIO_SELECT_MAX]; /* distinct, in address order */
    unsigned n;
} lockset;

static void lock_all(lockset *ls) {
    for (unsigned i = 0; i < ls->n; i++) corio__spin_lock(&ls->chans[i]->lock);
}

static void unlock_all(lockset *ls) {
    for (unsigned i = ls->n; i-- > 0;) corio__spin_unlock(&ls->chans[i]->lock);
}

/* No channel at all: only the timeout can end it. */
static int wait_for_nothing(int64_t timeout_ns) {
    if (timeout_ns < 0) return -EINVAL; /* would never return */
    if (timeout_ns == 0) return -EAGAIN;
    corio__wait w;
    corio__wait_init(&w);
    corio__note_set(corio__task_note(w.task), CORIO__WHY_SLEEP, 0, corio__deadline(timeout_ns));
    int r = corio__wait_block(&w, corio__deadline(timeout_ns), true);
    corio__note_clear(corio__task_note(w.task));
    return r < 0 ? r : -ETIMEDOUT;
}

int corio_select(corio_select_case *cases, unsigned n, int64_t timeout_ns) {
    if (cases == NULL || n == 0 || n > CORIO_SELECT_MAX) return -EINVAL;
    lockset ls = {.n = 0};
    for (unsigned i = 0; i < n; i++) {
        if (cases[i].chan == NULL) continue;
        if (cases[i].is_send && cases[i].item == NULL) return -EINVAL;
        ls.chans[ls.n++] = cases[i].chan;
    }
    if (ls.n == 0) return wait_for_nothing(timeout_ns);
    qsort(ls.chans, ls.n, sizeof ls.chans[0], cmp_chan);
    unsigned d = 1;
    for (unsigned i = 1; i < ls.n; i++)
        if (ls.chans[i] != ls.chans[d - 1]) ls.chans[d++] = ls.chans[i];
    ls.n = d;

    /* A random permutation of the live cases (Fisher-Yates). */
    unsigned order[CORIO_SELECT_MAX], live = 0;
    for (unsigned i = 0; i < n; i++) {
        if (cases[i].chan == NULL) continue;
        unsigned j = rnd() % (live + 1);
        order[live] = order[j];
        order[j] = i;
        live++;
    }

    int64_t deadline = corio__deadline(timeout_ns);
    lock_all(&ls);
    for (unsigned k = 0; k < live; k++) {
        corio_select_case *c = &cases[order[k]];
        corio__wait *wake;
        int r = c->is_send ? corio__chan_send_locked(c->chan, c->item, &wake)
                           : corio__chan_recv_locked(c->chan, c->item, &wake);
        if (r == -EAGAIN) continue;
        unlock_all(&ls);
        if (wake != NULL) corio__wait_done(wake);
        if (r == -ENOMEM) return r; /* an unbounded buffer could not grow */
        c->result = r;
        return (int)order[k];
    }
    if (timeout_ns == 0) {
        unlock_all(&ls);
        return -EAGAIN;
    }

    corio__wait w;
    corio__wait_init(&w);
    corio__wnode nodes[CORIO_SELECT_MAX];
    for (unsigned k = 0; k < live; k++) {
        unsigned i = order[k];
        corio__wnode *nd = &nodes[i];
        memset(nd, 0, sizeof *nd);
        nd->wait = &w;
        nd->data = cases[i].item;
        nd->value = (int)i + 1;
        corio__waitq_push(cases[i].is_send ? &cases[i].chan->sendq : &cases[i].chan->recvq, nd);
    }
    unlock_all(&ls);

    corio__note_set(corio__task_note(w.task), CORIO__WHY_SELECT, 0, (intptr_t)live);
    int r = corio__wait_block(&w, deadline, true);
    corio__note_clear(corio__task_note(w.task));

    lock_all(&ls);
    for (unsigned k = 0; k < live; k++) {
        unsigned i = order[k];
        corio__waitq_remove(cases[i].is_send ? &cases[i].chan->sendq : &cases[i].chan->recvq,
                            &nodes[i]);
    }
    unlock_all(&ls);
    if (r < 0) return r; /* -ETIMEDOUT, -ECANCELED: no case happened */
    unsigned i = (unsigned)(r & ~CHAN_CLOSED_BIT) - 1;
    if (r & CHAN_CLOSED_BIT) cases[i].result = cases[i].is_send ? -EPIPE : CORIO_CHAN_CLOSED;
    else cases[i].result = 0;
    return (int)i;
}
