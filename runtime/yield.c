/* runtime/yield.c - a task leaving its worker for a while: the yield trap
 * and the suspension that every other scheduler call (park, join) makes.
 *
 * Both read the thread state before their switch and never after it (the
 * task may resume on another worker): CORIO__SWITCHES keeps them out of
 * any caller, so no TLS address is carried across the switch (trap 1).
 *
 * The direct yield switches straight to this worker's next task, one stack
 * switch instead of two through the worker's loop.  It runs on the
 * yielding task's stack, so it is kept to O(1) work (no system call but
 * the wake of a sleeping worker that its requeue may make): it pops the run-next slot or the ring's newest task (one CAS), and only
 * a task that already has a stack is switched to.  Everything else goes
 * through the worker's own stack: the fairness turn (it may poll the I/O
 * parker and take the injection lock), a task's first turn (it maps a
 * stack) or its end, a full ring (the overflow moves a batch), a yield of
 * a task the fairness turn ran (it goes to the injection queue).  A popped
 * task that needs a first turn is handed to the loop as `handoff`.
 *
 * A park switches directly the same way (a channel round trip is two
 * parks, each handing the CPU to the task it just woke into the run-next
 * slot): the parked task's context is saved once we land on the next
 * task's stack, and only then is "parked" published (park_commit, DESIGN
 * trap 2); a wake that came first makes it runnable again right there
 * (in the slot; that fill, like the yield hook's requeue, may wake a
 * sleeping worker: the one system call either hook can make). */
#include <errno.h>

#include "runtime/sched.h"

/* Runs on the next task's stack right after a direct yield: the yielded
 * task's context is saved now, so it may be queued (and stolen).  O(1):
 * the ring had room (checked before the switch; only this worker adds to
 * it), and the yielder was not a fairness-turn pick. */
static void after_direct_yield(void *arg) {
    corio__task *t = arg;
    corio__requeue_yielded(corio__thread_here()->worker, t);
}

/* Runs on the next task's stack right after a direct park: the parked
 * task's context is saved now, so "parked" may be published.  If a wake
 * came first the task runs again: in the run-next slot, which the switch
 * left empty (it took the slot, or the slot was empty; only this worker
 * fills it). */
void corio__after_direct_park(void *arg) {
    corio__task *t = arg;
    if (!corio__state_park_commit(&t->state))
        corio__schedule_from(corio__thread_here()->worker, t, true);
}

CORIO__SWITCHES void corio__task_suspend(unsigned reason) {
    corio__thread *th = corio__thread_here(); /* not used after the switch */
    if (reason == CORIO__R_PARK) {
        (void)corio__task_park_on(th);
        return;
    }
    corio__worker *w = th->worker;
    w->current->top = th->current;
    w->reason = reason;
    corio__ctx_switch(th, th->current, &th->root, NULL, NULL);
    /* Resumed, perhaps by another worker: th and w are stale now. */
}

CORIO__SWITCHES int corio_task_yield(void) {
    corio__thread *th = corio__thread_here(); /* not used after the switch */
    corio__worker *w = th->worker;
    corio__task *t = w != NULL ? w->current : NULL;
    if (t == NULL) return -EPERM;
    corio__ctx *me = th->current;
    t->top = me;
    corio__task *n = corio__direct_next(w, t, true);
    if (n == NULL) {
        w->reason = CORIO__R_YIELD;
        corio__ctx_switch(th, me, &th->root, NULL, NULL);
    } else {
        /* n is current now; t is queued by the hook, after the switch. */
        corio__ctx_switch(th, me, n->top, after_direct_yield, t);
    }
    /* Resumed, perhaps on another worker: only `t` is still ours. */
    return corio__state_cancelled(&t->state) ? -ECANCELED : 0;
}
