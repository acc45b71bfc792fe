/* corio/task.h - the runtime and its tasks.
 *
 * A runtime runs tasks on N worker threads, each with its own scheduler and
 * run queue; idle workers steal from busy ones.  A task is a function on its
 * own stack, like a coroutine, but it is resumed by the scheduler, not by a
 * sender.  Tasks refer to each other by id only: ids are
 * integers with a generation, so a stale id is answered -ESRCH.
 *
 * Two kinds of suspension, kept apart by name: corio_coro_yield
 * hands a value to whoever sent to a coroutine; corio_task_yield, join and
 * the I/O calls are traps into the scheduler.  They compose: a coroutine
 * driven by a task may call corio_task_* functions; the whole chain (the
 * task and the coroutines it is resuming) suspends there and later resumes
 * exactly there, possibly on another worker.
 *
 * Cancellation: corio_task_kill marks a task; every scheduler call it makes
 * from then on returns -ECANCELED (join and park at once, yield after its
 * one turn), and the task is expected to return.  A task killed before it
 * ever ran never runs (joining it says -ECANCELED).  A kill is never lost,
 * whatever worker the task is starting, running or parking on.
 *
 * Wake-ups may be spurious: a task parked in corio_task_park can return
 * from its suspension without a permit (it then parks again inside park),
 * so waits built on park/unpark re-check their condition in a loop.
 *
 * Every function returns >= 0 on success or a negative errno value.
 */
#ifndef CORIO_TASK_H
#define CORIO_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef CORIO_FOREVER
/** No timeout (the same value as in corio/io.h). */
#define CORIO_FOREVER ((int64_t)-1)
#endif

/** Opaque runtime. */
typedef struct corio_rt corio_rt;

/** A task id: never 0 for a real task. */
typedef uint64_t corio_tid;

/** The body of a task; its return value is what join gives. */
typedef void *(*corio_task_fn)(void *arg);

/** Options for corio_rt_create; zero fields mean "default".  Initialise
 *  with `corio_rt_opts o = {0};` (C) or `corio_rt_opts o{};` (C++). */
typedef struct corio_rt_opts {
    unsigned workers;  /**< worker threads; default: the CPUs this process may use */
    size_t stack_size; /**< task stack size; default CORIO_STACK_DEFAULT */
    int backend;       /**< CORIO_BACKEND_*; default CORIO_BACKEND_AUTO */
} corio_rt_opts;

/** What idle workers sleep in and what carries I/O (docs/io.md). */
enum {
    CORIO_BACKEND_AUTO = 0,     /**< io_uring where it can be set up, else epoll; the
                                     environment's CORIO_BACKEND=io_uring|epoll forces one */
    CORIO_BACKEND_IO_URING = 1, /**< io_uring, one ring per worker; fails if refused */
    CORIO_BACKEND_EPOLL = 2,    /**< epoll, one instance per worker (regular files in the
                                     blocking-call pool) */
    CORIO_BACKEND_NONE = 3      /**< no I/O: workers sleep on a condition variable
                                     and the I/O calls return -ENOTSUP */
};

/** Per-worker counters (monotonic since start). */
typedef struct corio_worker_metrics {
    uint64_t tasks_run;    /**< task turns run (a resume until the next suspension) */
    uint64_t spawned;      /**< tasks spawned by tasks on this worker */
    uint64_t steals;       /**< successful steals this worker made */
    uint64_t stolen_tasks; /**< tasks this worker took by stealing */
    uint64_t stolen_from;  /**< tasks other workers stole from this one */
    uint64_t parks;        /**< times this worker went to sleep */
    uint64_t wakeups;      /**< times this worker was woken */
    uint64_t inject_pops;  /**< tasks taken from the global injection queue */
} corio_worker_metrics;

/** Runtime-wide counts (corio_rt_get_stats). */
typedef struct corio_rt_stats {
    uint64_t tasks_alive;    /**< spawned and not yet ended */
    uint64_t tasks_spawned;  /**< since the runtime started, from tasks and threads */
    uint64_t tasks_finished; /**< ended (returned, or ended without running) */
    corio_worker_metrics workers; /**< every worker's counters, summed */
} corio_rt_stats;

/** The longest task name kept, with its NUL (a longer one is cut). */
#define CORIO_TASK_NAME_MAX 32

/** Spawn options (corio_rt_spawn_opts, corio_task_spawn_opts); zero them
 *  and set what you need. */
typedef struct corio_spawn_opts {
    const char *name; /**< the task's name, copied (NULL: none); see corio_task_set_name */
} corio_spawn_opts;

/* ---- the runtime -------------------------------------------------------- */

/** Create a runtime and start its workers.
 *  Errors: -EINVAL (rt NULL, workers > 1024, stack_size > CORIO_STACK_MAX,
 *  an unknown backend), -ENOMEM, the errno of a worker thread that cannot
 *  be started (-EAGAIN under a thread limit), or, with io_uring forced
 *  (CORIO_BACKEND_IO_URING or the environment's CORIO_BACKEND=io_uring),
 *  that of a ring that cannot be set up (-EPERM or -ENOSYS where io_uring
 *  is refused: a seccomp filter, kernel.io_uring_disabled; -ENOMEM under
 *  RLIMIT_MEMLOCK; one line on stderr names the cause).  With
 *  CORIO_BACKEND_AUTO a refused io_uring is no error: the runtime runs on
 *  epoll.  One line on stderr says which backend runs and why, whenever it
 *  is not io_uring by default (once per process, and again when a later
 *  runtime's choice differs).
 *  The environment applies only to CORIO_BACKEND_AUTO: a backend named in
 *  the options wins.
 *  On failure nothing is left behind (started workers are joined) and *rt
 *  is not touched: a runtime with fewer workers than asked for is not
 *  offered. */
CORIO_API int corio_rt_create(corio_rt **rt, const corio_rt_opts *opts);

/** The backend the runtime runs on: "io_uring", "epoll" or "none" ("" for
 *  NULL). */
CORIO_API const char *corio_rt_backend(const corio_rt *rt);

/** Number of worker threads. */
CORIO_API unsigned corio_rt_workers(const corio_rt *rt);

/** Spawn a task from any thread (a worker of this runtime or not); its id in
 *  *tid when tid is not NULL.  Errors: -EINVAL (rt or fn NULL), -ENOMEM,
 *  -ESHUTDOWN (the runtime is shutting down: every spawn that overlaps
 *  corio_rt_shutdown either gets this or makes a task the shutdown kills). */
CORIO_API int corio_rt_spawn(corio_rt *rt, corio_tid *tid, corio_task_fn fn, void *arg);

/** Block the calling plain thread (not a task) until task `tid` ends; its
 *  return value in *result.  Errors: -ESRCH (no such task in `rt`, or
 *  already joined/detached and gone), -EINVAL (rt NULL, or the task is
 *  detached), -EPERM (called from a task: use corio_task_join), -ENOMEM or
 *  -ECANCELED (the task never ran: see corio_task_join), -ESHUTDOWN (the
 *  runtime's shutdown has already ended every task; a join that began
 *  before that waits for its task and returns normally). */
CORIO_API int corio_rt_join(corio_rt *rt, corio_tid tid, void **result);

/** corio_rt_join for at most timeout_ns (CORIO_FOREVER, any negative
 *  value: no limit; 0: only take a result that is there).  Blocks the
 *  calling plain thread.  Errors: those of corio_rt_join, and -ETIMEDOUT:
 *  the task had not finished when the time passed; it is left as it was,
 *  still joinable (a later join gets its result).  A task that finishes
 *  just as the time passes is either joined (its result) or left
 *  joinable (-ETIMEDOUT), never both. */
CORIO_API int corio_rt_join_timeout(corio_rt *rt, corio_tid tid, void **result,
                                    int64_t timeout_ns);

/** Run fn(arg) as a task and wait for it from a plain thread: spawn + join.
 *  Errors: those of spawn and join. */
CORIO_API int corio_rt_run(corio_rt *rt, corio_task_fn fn, void *arg, void **result);

/** Block the calling plain thread until no task is alive.  Errors: -EINVAL
 *  (NULL), -EPERM (called from a task), -ESHUTDOWN (as corio_rt_join). */
CORIO_API int corio_rt_wait_idle(corio_rt *rt);

/** Shut down: refuse new spawns, kill every task still alive (each sees
 *  -ECANCELED at its suspension point and is expected to return), wait for
 *  them to end and for plain-thread calls still inside (joins, spawns) to
 *  leave, stop and join the workers, and free everything.  `rt` is invalid
 *  once this returns.  Calls on `rt` from other threads that are already
 *  inside it when shutdown begins are safe (they complete, or fail with
 *  -ESHUTDOWN); a call that may begin later races the free of `rt`, as
 *  with any freed object: the program must stop making them first.  Task
 *  ids stay safe to use from any thread (kill, unpark, join answer -ESRCH
 *  once the task is gone).  Must be called from a plain
 *  thread: -EPERM from any worker thread (of any runtime), -EINVAL for NULL
 *  or for a second shutdown that overlaps the first.  A task that ignores
 *  -ECANCELED and keeps running delays this. */
CORIO_API int corio_rt_shutdown(corio_rt *rt);

/** Shut down after a drain: wait up to drain_ns (CORIO_FOREVER, any
 *  negative value: no limit; 0: none) for every task to end by itself,
 *  then do corio_rt_shutdown, which kills the tasks still alive (they see
 *  -ECANCELED).  Nothing is refused or killed during the drain: spawns
 *  still work (a request's handler may start a helper), so the program
 *  first tells its tasks to finish, typically by closing its listeners
 *  with corio_close (each acceptor gets -EBADF) and letting the
 *  connections end their requests (docs/server.md).  Returns how many
 *  tasks were still alive when the drain ended (0: all ended by
 *  themselves; the rest were killed), or an error: -EINVAL (rt NULL, or
 *  a drain or shutdown of rt already began), -EPERM (called from a worker
 *  thread of any runtime).  Blocks the calling plain thread; `rt` is
 *  invalid once it returns >= 0.  Calling corio_rt_shutdown on rt from
 *  another thread during the drain is an error the runtime cannot catch
 *  (rt is freed under the drain). */
CORIO_API int corio_rt_shutdown_drain(corio_rt *rt, int64_t drain_ns);

/** Counters of worker `w` (0 <= w < workers).  Errors: -EINVAL. */
CORIO_API int corio_rt_metrics(const corio_rt *rt, unsigned w, corio_worker_metrics *out);

/** The runtime's task counts and the workers' counters summed, in *out.
 *  A snapshot: each counter is read once, while the runtime runs on;
 *  tasks_alive is never below the true count at the moment the finished
 *  counts were read.  Any thread, while rt lives.  Errors: -EINVAL (rt
 *  or out NULL). */
CORIO_API int corio_rt_get_stats(const corio_rt *rt, corio_rt_stats *out);

/** corio_rt_spawn with options (opts may be NULL): the name is set before
 *  the task can run.  Errors: those of corio_rt_spawn. */
CORIO_API int corio_rt_spawn_opts(corio_rt *rt, corio_tid *tid, corio_task_fn fn, void *arg,
                                  const corio_spawn_opts *opts);

/* ---- inside a task: the course's system calls ------------------- */

/** NewTask: spawn a task on the caller's runtime (from a task).  The new task
 *  goes to this worker's run-next slot: it runs when the caller suspends,
 *  unless another spawn or wake-up takes the slot first.  Errors: -EPERM (not in a task),
 *  and those of corio_rt_spawn. */
CORIO_API int corio_task_spawn(corio_tid *tid, corio_task_fn fn, void *arg);

/** GetTid: the id of the calling task, or 0 outside any task. */
CORIO_API corio_tid corio_task_id(void);

/** The plain trap: let other tasks run, then continue.  Returns 0, or
 *  -ECANCELED when the task has been killed (it still yields once), -EPERM
 *  outside a task. */
CORIO_API int corio_task_yield(void);

/** KillTask: ask task `tid` to end.  Returns 1 if it was alive (it will see
 *  -ECANCELED at its next or current suspension point), 0 if it had already
 *  ended.  Errors: -ESRCH (stale or unknown id). */
CORIO_API int corio_task_kill(corio_tid tid);

/** WaitTask: suspend the calling task until task `tid` ends; its return
 *  value in *result (may be NULL).  Several tasks may join the same task.
 *  Errors: -EDEADLK (tid is the caller), -ESRCH (stale or unknown id),
 *  -EINVAL (tid was detached), -EPERM (not in a task: use corio_rt_join),
 *  -ECANCELED: either the caller has been killed (before or while waiting;
 *  `tid` is then left as it was, still joinable), or task `tid` was killed
 *  before it ever ran (it is then joined and gone, *result is NULL; a
 *  second join says -ESRCH), -ENOMEM (the task never ran: no stack could be
 *  mapped for it when its turn came; stacks are given at a task's first
 *  run, not at spawn; *result is NULL). */
CORIO_API int corio_task_join(corio_tid tid, void **result);

/** corio_task_join for at most timeout_ns (CORIO_FOREVER, any negative
 *  value: no limit; 0: only take a result that is there, without
 *  suspending).  Suspends the calling task; from a task only.  Errors:
 *  those of corio_task_join, and -ETIMEDOUT: task `tid` had not finished
 *  when the time passed; it is left as it was, still joinable (a later
 *  join gets its result, nothing leaks).  A task that finishes just as
 *  the time passes is either joined (its result) or left joinable
 *  (-ETIMEDOUT), never both.  -ENOMEM or -EAGAIN when the deadline cannot
 *  be armed (no memory for the timer heap, no timer thread could be
 *  started); the task is then left joinable too. */
CORIO_API int corio_task_join_timeout(corio_tid tid, void **result, int64_t timeout_ns);

/** Detach task `tid`: nobody will join it; its record is freed as soon as it
 *  ends.  Errors: -ESRCH, -EINVAL (already detached). */
CORIO_API int corio_task_detach(corio_tid tid);

/** Park the calling task until corio_task_unpark names it.  Each task has
 *  one permit (like a binary semaphore): an unpark that comes first makes
 *  the next park return at once; unparks do not accumulate.  Returns 0, or
 *  -ECANCELED when the task has been killed, -EPERM outside a task.
 *  The building block for waits between tasks and threads. */
CORIO_API int corio_task_park(void);

/** Give task `tid` its permit and wake it if it is parked.  Any thread.
 *  Returns 0.  Errors: -ESRCH (stale or unknown id, or the task ended). */
CORIO_API int corio_task_unpark(corio_tid tid);

/** The runtime the calling task runs on, or NULL outside any task. */
CORIO_API corio_rt *corio_task_runtime(void);

/** The index of the worker running the caller, or -EPERM outside a task. */
CORIO_API int corio_task_worker(void);

/** corio_task_spawn with options (opts may be NULL).  Errors: those of
 *  corio_task_spawn. */
CORIO_API int corio_task_spawn_opts(corio_tid *tid, corio_task_fn fn, void *arg,
                                    const corio_spawn_opts *opts);

/** Name task `tid` (0: the calling task): what the task dump
 *  (corio/dump.h) shows for it, for example "conn 10.0.0.7:51234".  The
 *  name is copied and cut to CORIO_TASK_NAME_MAX - 1 bytes; NULL or ""
 *  removes it.  Any thread; never suspends.  Errors: -ESRCH (no such task
 *  alive), -EPERM (tid 0 outside a task). */
CORIO_API int corio_task_set_name(corio_tid tid, const char *name);
/** Task `tid`'s name (0: the calling task) into buf, NUL terminated and
 *  cut to len - 1 bytes ("" when it has none).  Any thread.  Errors:
 *  -EINVAL (buf NULL or len 0), -ESRCH, -EPERM (tid 0 outside a task). */
CORIO_API int corio_task_get_name(corio_tid tid, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
