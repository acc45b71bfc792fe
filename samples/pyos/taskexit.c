/* samples/pyos/taskexit.c - "Second Multitasking" (the course's
 * pyos3.py): foo takes 10 turns and bar 5, so they end at different times.
 * pyos3's scheduler catches a task's end and prints "Task N terminated"
 * in the course; here each task prints it itself, as its last act
 * before returning (pyos.h says why).  One worker prints the course's
 *
 *     I'm foo / I'm bar  (five times) / I'm foo / Task B terminated /
 *     I'm foo (four times) / Task F terminated
 *
 * with F and B the ids corio gave foo and bar (the seed's 1 and 2).
 *
 * usage: taskexit [--workers N]
 */
#include <stdio.h>

#include "corio.h"
#include "pyos.h"

static void *foo(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++) { /* for i in xrange(10): */
        printf("I'm foo\n");
        if (corio_task_yield() < 0) break; /* yield */
    }
    pyos_terminated();
    return NULL;
}

static void *bar(void *arg) {
    (void)arg;
    for (int i = 0; i < 5; i++) { /* for i in xrange(5): */
        printf("I'm bar\n");
        if (corio_task_yield() < 0) break;
    }
    pyos_terminated();
    return NULL;
}

/* sched.new(foo()); sched.new(bar()); sched.mainloop(). */
int main(int argc, char **argv) { return pyos_run_pair(argc, argv, "taskexit", foo, bar); }
