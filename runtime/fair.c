/* runtime/fair.c - which local task a worker runs next, and the fairness
 * turn.
 *
 *   next_local: the run-next slot; then the newest task of the ring (owner
 *   LIFO: a fork-join program runs depth-first, so few tasks and stacks are
 *   alive at once); then a batch from the injection queue.
 *
 *   Every 61st turn is the fairness turn: the I/O parker is polled, and the
 *   injection queue, else a task that yielded and waits at the oldest end
 *   of the ring, runs first: neither a busy worker nor two tasks waking
 *   each other through the run-next slot can starve them.  Which of the two
 *   goes first alternates, so a stream through one cannot starve the other.
 */
#include "runtime/panic.h"
#include "runtime/sched.h"

/* The fairness turn's look at the oldest end of the ring.  A task that
 * yielded waits there; on this turn it runs even if newer work keeps coming
 * (two tasks waking each other through the run-next slot, a spawning loop).
 * Other old tasks stay put: for fork-join work they are the biggest
 * subtrees, and starting them early only multiplies the tasks (and stacks)
 * alive at once; thieves take them first anyway.  Unless the ring was not
 * popped at all for a whole interval: then the run-next slot is
 * monopolised and the oldest runs whatever it is. */
static corio__task *fair_front(corio__worker *w) {
    corio__task *t = corio__deque_pop_front(&w->q);
    bool starved = w->ring_pops == w->ring_pops_seen; /* run-next only, all interval */
    if (t != NULL && !t->yielded && !starved) {
        if (corio__deque_push_front(&w->q, t) != 0)
            corio__panic(__func__, "no room to put a task back", t->ctx.id);
        t = NULL;
    }
    return t;
}

static corio__task *fair_turn(corio__worker *w) {
    corio_rt *rt = w->rt;
    if (rt->parker_ops->poll != NULL) (void)rt->parker_ops->poll(w->parker);
    w->fair_flip = !w->fair_flip;
    corio__task *t = w->fair_flip ? corio__inject_pop(rt, w, 1) : NULL;
    if (t == NULL) t = fair_front(w);
    if (t == NULL && !w->fair_flip) t = corio__inject_pop(rt, w, 1);
    w->ring_pops_seen = w->ring_pops;
    if (t != NULL) w->fair_pick = t; /* if it yields this turn: to the injection queue */
    return t;
}

corio__task *corio__next_local(corio__worker *w) {
    if (++w->tick % CORIO__FAIR_INTERVAL == 0) {
        corio__task *t = fair_turn(w);
        if (t != NULL) return t;
    }
    if (w->backlog_head != NULL) corio__runq_refill(w);
    corio__task *t = corio__runq_pop(w);
    if (t != NULL) return t;
    return corio__inject_pop(w->rt, w, CORIO__DEQUE_CAPACITY / 2);
}
