/* runtime/block.c - the block seam (block.h): the calling task, its
 * worker's parker, suspension, wake-up and the cooperative budget, for the
 * layers above runtime/. */
#include "runtime/block.h"

#include <errno.h>

#include "runtime/sched.h"

/* Each reads the thread state afresh: CORIO__SWITCHES keeps them out of
 * line, so a caller that calls one again after a suspension reads the
 * worker it runs on now (trap 1). */
CORIO__SWITCHES corio__task *corio__block_self(void) {
    corio__worker *w = corio__thread_here()->worker;
    return w != NULL ? w->current : NULL;
}

CORIO__SWITCHES void *corio__block_parker(const corio__parker_ops **ops) {
    corio__worker *w = corio__thread_here()->worker;
    if (w == NULL || w->current == NULL) return NULL;
    if (ops != NULL) *ops = w->rt->parker_ops;
    return w->parker;
}

bool corio__block_killed(corio__task *t) { return corio__state_cancelled(&t->state); }

void corio__block_suspend(void) { corio__task_suspend(CORIO__R_PARK); }

void corio__block_wake(corio__task *t) { corio__task_wake(t); }

void *corio__block_pin(corio__task *t) {
    corio__worker *w = corio__thread_here()->worker;
    corio_rt *rt = t->rt;
    if (w != NULL && w->rt == rt) return NULL;
    /* Cannot be refused: t is alive (it waits for the condition not yet
     * set), so the shutdown has not passed its wait for idle and `closed`
     * is still 0 (sched.c). */
    return corio__rt_ext_enter(rt, false) ? rt : NULL;
}

void corio__block_unpin(void *token) {
    if (token != NULL) corio__rt_ext_leave(token);
}

int corio__block_spend(void) {
    corio__task *t = corio__block_self();
    if (t == NULL) return 0;
    if (t->budget > 0 && --t->budget > 0) return 0;
    /* Spent: behind everything, and the worker passes through its loop
     * (poll) before the task runs again.  The next turn refills it. */
    return corio_task_yield() < 0 ? -ECANCELED : 0;
}
