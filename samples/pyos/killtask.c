/* samples/pyos/killtask.c - "Task Management": NewTask and KillTask (the
 * course's pyos5.py).  main starts foo, which prints its id on each
 * turn and never ends by itself (`while True`), lets it run for five of its
 * own yields, kills it and says "main done".  One worker prints the course's
 *
 *     I'm foo F (five times) / Task F terminated / main done /
 *     Task M terminated
 *
 * Two things the seed gets from its one-thread round robin are explicit
 * here, so that the output is the same on any number of workers:
 *  - "each yield of main is one turn of foo": main hands out turns
 *    (turns_given) and foo prints once per turn.  On one worker every wait
 *    below ends at its first check, and the program runs exactly as the
 *    seed's; on several, foo and main run at the same time and the waits
 *    keep them in step.
 *  - "Task F terminated" comes before "main done": KillTask only asks (foo
 *    sees -ECANCELED at its yield and returns), so main waits for foo with
 *    corio_task_join before going on.  That also reclaims foo's record.
 *
 * usage: killtask [--workers N]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

#include "corio.h"
#include "pyos.h"

#define MAIN_YIELDS 5 /* for i in xrange(5): yield */

static atomic_int turns_given; /* by main: foo may print this many lines */
static atomic_int turns_taken; /* by foo: lines printed */

static void *foo(void *arg) {
    (void)arg;
    corio_tid mytid = corio_task_id(); /* mytid = yield GetTid() */
    int taken = 0;
    for (;;) { /* while True: bounded by main's turns, ended by the kill */
        while (atomic_load(&turns_given) <= taken) {
            if (corio_task_yield() == -ECANCELED) { /* yield; killed there */
                pyos_terminated();
                return NULL;
            }
        }
        printf("I'm foo %" PRIu64 "\n", mytid);
        atomic_store(&turns_taken, ++taken);
    }
}

static void *main_task(void *arg) {
    (void)arg;
    corio_tid child; /* child = yield NewTask(foo()) */
    if (pyos_check(corio_task_spawn(&child, foo, NULL), "NewTask") >= 0) {
        for (int i = 0; i < MAIN_YIELDS; i++) {
            atomic_store(&turns_given, i + 1); /* this yield is foo's turn */
            corio_task_yield();
            while (atomic_load(&turns_taken) < i + 1) /* on 2+ workers */
                corio_task_yield();
        }
        pyos_check(corio_task_kill(child), "KillTask"); /* yield KillTask(child) */
        pyos_check(corio_task_join(child, NULL), "waiting for the killed task");
    }
    printf("main done\n");
    pyos_terminated();
    return NULL;
}

int main(int argc, char **argv) {
    unsigned workers = pyos_parse_args(argc, argv, "killtask");
    corio_rt *rt = pyos_start(workers);
    /* sched.new(main()); sched.mainloop() */
    pyos_check(corio_rt_run(rt, main_task, NULL, NULL), "running main");
    return pyos_finish(rt);
}
