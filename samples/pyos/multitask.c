/* samples/pyos/multitask.c - "First Multitasking" (the course's
 * pyos2.py): two tasks that print their name and yield.  The yield is the
 * course's trap: each task runs until it yields, then the scheduler
 * switches to the other one, so one worker prints
 *
 *     I'm foo / I'm bar / I'm foo / I'm bar / I'm foo / I'm bar
 *
 * as the course shows.  Its tasks loop forever; here each takes TURNS turns,
 * the course's six lines, and returns.  pyos2's scheduler has no exit
 * handling yet (that is the course's crash), so nothing is printed when a
 * task ends.
 *
 * usage: multitask [--workers N]
 */
#include <stdio.h>

#include "corio.h"
#include "pyos.h"

#define TURNS 3 /* the course shows three turns of each */

static void *foo(void *arg) {
    (void)arg;
    for (int i = 0; i < TURNS; i++) { /* while True: */
        printf("I'm foo\n");
        if (corio_task_yield() < 0) break; /* yield */
    }
    return NULL;
}

static void *bar(void *arg) {
    (void)arg;
    for (int i = 0; i < TURNS; i++) {
        printf("I'm bar\n");
        if (corio_task_yield() < 0) break;
    }
    return NULL;
}

/* sched.new(foo()); sched.new(bar()); sched.mainloop(). */
int main(int argc, char **argv) { return pyos_run_pair(argc, argv, "multitask", foo, bar); }
