/* samples/pyos/waittask.c - "Waiting for Tasks": WaitTask (the course's
 * pyos6.py).  main starts foo, says "Waiting for child", waits
 * for foo to end (corio_task_join: main leaves the run queue and sleeps
 * until foo exits), then says "Child done".  One worker
 * prints the course's
 *
 *     Waiting for child / I'm foo F (five times) / Task F terminated /
 *     Child done / Task M terminated
 *
 * The course's foo here prints a bare "I'm foo" but its output shows the
 * id, as the foo of KillTask does; this foo prints the id, as the output does.
 * Waiting for a task that does not exist is answered at once:
 * corio_task_join returns -ESRCH.
 *
 * usage: waittask [--workers N]
 */
#include <inttypes.h>
#include <stdio.h>

#include "corio.h"
#include "pyos.h"

static void *foo(void *arg) {
    (void)arg;
    corio_tid mytid = corio_task_id();
    for (int i = 0; i < 5; i++) { /* for i in xrange(5): */
        printf("I'm foo %" PRIu64 "\n", mytid);
        if (corio_task_yield() < 0) break;
    }
    pyos_terminated();
    return NULL;
}

static void *main_task(void *arg) {
    (void)arg;
    corio_tid child; /* child = yield NewTask(foo()) */
    if (pyos_check(corio_task_spawn(&child, foo, NULL), "NewTask") >= 0) {
        printf("Waiting for child\n");
        pyos_check(corio_task_join(child, NULL), "WaitTask"); /* yield WaitTask(child) */
        printf("Child done\n");
    }
    pyos_terminated();
    return NULL;
}

int main(int argc, char **argv) {
    unsigned workers = pyos_parse_args(argc, argv, "waittask");
    corio_rt *rt = pyos_start(workers);
    /* sched.new(main()); sched.mainloop() */
    pyos_check(corio_rt_run(rt, main_task, NULL, NULL), "running main");
    return pyos_finish(rt);
}
