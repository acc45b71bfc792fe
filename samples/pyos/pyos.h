/* samples/pyos/pyos.h - what the task programs of samples/pyos/ share
 * (the "operating system" of pyos2.py .. pyos6.py):
 * the command line (--workers N), starting and stopping the runtime,
 * NewTask in the seed's order, the scheduler's exit message
 * ("Task N terminated") and error reports.
 *
 * The exit message is printed by the task itself, right before its body
 * returns (pyos_terminated), not by whoever joins it.  The seed's
 * scheduler prints it at the moment the task's generator stops, before any
 * other task gets a turn; a task's last act is the corio equivalent.  A
 * joiner would print it later: at its own next turn (after other tasks may
 * have printed), or, as a plain thread, concurrently with the worker, and
 * in the order it happens to join rather than the order the tasks end.
 */
#ifndef PYOS_H
#define PYOS_H

#include "corio.h"

/* Parse `PROG [--workers N]` (N from 1 to 1024, default 1).  Prints the
 * usage and exits with status 0 after -h/--help, with status 2 on a bad
 * command line.  Remembers PROG for the error messages. */
unsigned pyos_parse_args(int argc, char **argv, const char *prog);

/* A runtime with `workers` workers; exits with status 1 if there is none. */
corio_rt *pyos_start(unsigned workers);

/* Shut the runtime down and flush stdout.  Returns the exit status: 0, or
 * 1 when pyos_check saw an error or the shutdown failed. */
int pyos_finish(corio_rt *rt);

/* NewTask as the course's scheduler handles it: the new task is
 * queued, then the caller behind it, so the new task takes its first turn
 * before the caller goes on.  corio_task_spawn puts the new task in this
 * worker's run-next slot; the yield after it lets it run.  Returns the
 * result of corio_task_spawn. */
int pyos_new(corio_tid *tid, corio_task_fn fn, void *arg);

/* "Task N terminated" for the calling task. */
void pyos_terminated(void);

/* Report a failed call (`r` < 0) on stderr as "PROG: WHAT: reason" and
 * remember it for pyos_finish.  Returns r.  Any thread. */
int pyos_check(int r, const char *what);

/* The whole program of pyos2..pyos4: sched.new(foo()); sched.new(bar());
 * sched.mainloop().  Parses the command line, starts the runtime, runs a
 * first task that starts foo and bar (in that order, as NewTask does) and
 * waits for both, then shuts down.  Returns the exit status. */
int pyos_run_pair(int argc, char **argv, const char *prog, corio_task_fn foo, corio_task_fn bar);

#endif
