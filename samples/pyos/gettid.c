/* samples/pyos/gettid.c - "A First System Call" (the course's
 * pyos4.py): GetTid.  In the seed a task asks the scheduler for its id
 * with `mytid = yield GetTid()`; in corio it is the call corio_task_id(),
 * which answers without a switch (the scheduler's data is the task's own).
 * foo takes 5 turns and bar 10, each printing its id; one worker prints
 * the course's
 *
 *     I'm foo F / I'm bar B  (five times) / Task F terminated /
 *     I'm bar B (five times) / Task B terminated
 *
 * with F and B the ids corio gave them: "each task has a different task id".
 *
 * usage: gettid [--workers N]
 */
#include <inttypes.h>
#include <stdio.h>

#include "corio.h"
#include "pyos.h"

static void *foo(void *arg) {
    (void)arg;
    corio_tid mytid = corio_task_id(); /* mytid = yield GetTid() */
    for (int i = 0; i < 5; i++) {
        printf("I'm foo %" PRIu64 "\n", mytid);
        if (corio_task_yield() < 0) break;
    }
    pyos_terminated();
    return NULL;
}

static void *bar(void *arg) {
    (void)arg;
    corio_tid mytid = corio_task_id();
    for (int i = 0; i < 10; i++) {
        printf("I'm bar %" PRIu64 "\n", mytid);
        if (corio_task_yield() < 0) break;
    }
    pyos_terminated();
    return NULL;
}

/* sched.new(foo()); sched.new(bar()); sched.mainloop(). */
int main(int argc, char **argv) { return pyos_run_pair(argc, argv, "gettid", foo, bar); }
