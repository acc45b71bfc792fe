/* corio/dump.h - what every task of a runtime is doing, one line each,
 * with the call stack of each waiting task (as Go prints its goroutines
 * on SIGQUIT).
 *
 *   corio: dump of runtime io_uring, 2 workers: 903 tasks alive (1203 spawned, 300 finished)
 *   task 8589934593 "acceptor" waiting 12.304s: accept(fd 5)
 *       #0 0x55d0c1a2b3c4 (echo_server+0x2b3c4)
 *       #1 0x55d0c1a2a0f1 corio_accept+0x41 (echo_server)
 *       #2 0x55d0c1a27e2d acceptor+0x8d (echo_server)
 *   task 12884901890 "conn 127.0.0.1:51234" ready
 *   task 17179869187 "" running on worker 1
 *   corio: end of dump (903 tasks)
 *
 * A task is `running` (on a worker now), `ready` (queued to run) or
 * `waiting`, with what it waits on: an I/O call and its descriptor, a
 * sleep, a join of task N, a park, a channel, a mutex, a condition
 * variable, a semaphore, a select, a task set, a blocking call in the
 * pool, a close of descriptor N, a synchronized send; and since when.
 * Stacks are walked through the saved frame pointers (x86-64; corio is
 * built with them; code built without them ends the walk early) and named
 * as backtrace_symbols(3) does: exported symbols only (link the program
 * with -rdynamic to name its own functions; `addr2line -e PROGRAM ADDR`
 * names the rest).
 *
 * The dump reads the runtime while it runs: nothing is stopped, no task
 * is held back.  A task that moves while its line is made (it ran, or
 * woke) is shown as it was when its line began, and a stack that changed
 * under the walk is marked "(moved)".  A task's memory is read with
 * process_vm_readv(2) on the process itself, so a stack freed meanwhile
 * cannot crash the dump.
 *
 * To dump on a signal, wait for it in a task (corio/signal.h) and call
 * corio_rt_dump(corio_task_runtime(), 2): samples/echo does so on
 * SIGQUIT. */
#ifndef CORIO_DUMP_H
#define CORIO_DUMP_H

#include "corio/common.h"
#include "corio/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Called once per line of the dump, without the newline; the line is
 *  valid only during the call. */
typedef void (*corio_dump_fn)(void *arg, const char *line);

/** Dump every live task of `rt` to descriptor `fd` (a line each, "\n"
 *  ended; written with write(2): from a task this blocks its worker for
 *  the time of the writes, so give it a terminal, a file or a pipe that is
 *  read).  Returns the number of tasks shown.  Any thread (a task of rt
 *  or of another runtime, a plain thread), while rt lives; never
 *  suspends.  Errors: -EINVAL (rt NULL, fd < 0), and the errno of a
 *  write that fails (the dump stops there). */
CORIO_API int corio_rt_dump(corio_rt *rt, int fd);

/** The same, handing each line to fn(arg, line).  Errors: -EINVAL (rt or
 *  fn NULL). */
CORIO_API int corio_rt_dump_with(corio_rt *rt, corio_dump_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
