/* runtime/inject.c - the runtime's global injection queue: tasks queued by
 * threads that are not its workers, a full ring's overflow, and tasks a
 * fairness turn ran that yield.  A mutex and a FIFO list: it is the slow
 * path, and a FIFO is what makes it fair (a task in it waits behind every
 * task queued before it and no longer).  Workers take batches from it
 * (next_local, stealing) and every fairness turn takes one first. */
#include "runtime/panic.h"
#include "runtime/sched.h"

void corio__inject_push(corio_rt *rt, corio__task *first, corio__task *last, size_t n) {
    last->next = NULL;
    pthread_mutex_lock(&rt->inject_lock);
    if (rt->inject_tail != NULL) rt->inject_tail->next = first;
    else rt->inject_head = first;
    rt->inject_tail = last;
    /* release: a peek that sees the new length also sees the tasks (the
     * mutex orders the rest). */
    atomic_fetch_add_explicit(&rt->inject_len, n, memory_order_release);
    pthread_mutex_unlock(&rt->inject_lock);
}

corio__task *corio__inject_pop(corio_rt *rt, corio__worker *w, size_t max) {
    if (atomic_load_explicit(&rt->inject_len, memory_order_acquire) == 0) return NULL;
    pthread_mutex_lock(&rt->inject_lock);
    corio__task *first = rt->inject_head;
    if (first == NULL) {
        pthread_mutex_unlock(&rt->inject_lock);
        return NULL;
    }
    size_t len = atomic_load_explicit(&rt->inject_len, memory_order_relaxed);
    size_t n = len / rt->nworkers + 1;
    if (n > max) n = max;
    size_t room = corio__deque_capacity(&w->q) - corio__deque_len(&w->q);
    if (n > room + 1) n = room + 1;
    /* The batch goes to the ring so that the owner, which pops the newest
     * end first, runs it in queue order: pushed from its last task to its
     * first.  (Pushed in order, the last task of a batch would run first,
     * and the woken tasks at the queue's head, corio__schedule_back, last.)
     * n <= room + 1 and only this thread adds to the ring: every push
     * fits. */
    corio__task *t = first;
    corio__task *batch[CORIO__DEQUE_CAPACITY];
    size_t taken = 1, nb = 0;
    corio__task *rest = first->next;
    while (taken < n && rest != NULL && nb < CORIO__DEQUE_CAPACITY) {
        batch[nb++] = rest;
        rest = rest->next;
        taken++;
    }
    for (size_t i = nb; i-- > 0;) {
        batch[i]->next = NULL;
        if (corio__deque_push(&w->q, batch[i]) != 0)
            corio__panic(__func__, "no room for an injection batch", batch[i]->ctx.id);
    }
    rt->inject_head = rest;
    if (rest == NULL) rt->inject_tail = NULL;
    atomic_fetch_sub_explicit(&rt->inject_len, taken, memory_order_relaxed);
    pthread_mutex_unlock(&rt->inject_lock);
    t->next = NULL;
    CORIO__STAT_ADD(w, inject_pops, taken);
    return t;
}
