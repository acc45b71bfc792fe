/* corio/sync.h - communication and synchronisation between tasks and
 * threads (the seed's "further topics": inter-task communication, blocking
 * operations, coroutines together with threads).
 *
 * Every primitive here parks the calling *task* when it must wait (its
 * worker runs other tasks meanwhile) and blocks the calling *plain thread*
 * (one that is not a worker of any runtime) in the kernel.  Tasks and plain
 * threads may use the same object at the same time.
 *
 * Timeouts are relative, in nanoseconds: CORIO_FOREVER (-1) waits without
 * limit, 0 only tries.  A wait that times out returns -ETIMEDOUT; a task
 * killed while it waits returns -ECANCELED.  Either way the operation did
 * not happen: nothing was taken, nothing was handed over.  An operation
 * that completed before the timeout or the kill took effect returns its
 * success (the kill is then seen at the task's next suspension point).
 *
 * Objects are created with *_create and freed with *_destroy; destroying an
 * object that still has waiters is a caller's mistake (-EBUSY, nothing
 * freed).  docs/sync.md has the semantics, the errors and the design. */
#ifndef CORIO_SYNC_H
#define CORIO_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "corio/common.h"
#include "corio/coro.h"
#include "corio/task.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef CORIO_FOREVER
/** No timeout (the same value as in corio/io.h). */
#define CORIO_FOREVER ((int64_t)-1)
#endif

/* ---- channels ----------------------------------------------------------- */

/** A channel of fixed-size items, many senders and many receivers. */
typedef struct corio_chan corio_chan;

/** Capacity of an unbounded channel: a send never waits (memory grows). */
#define CORIO_CHAN_UNBOUNDED ((size_t)-1)

/** Create a channel of items of `item_size` bytes (1 .. 65536).  capacity 0
 *  is a rendezvous channel (as Go's unbuffered: a send waits for a
 *  receiver and hands the item over directly); capacity N > 0 buffers up to
 *  N items; CORIO_CHAN_UNBOUNDED never makes a sender wait.
 *  Errors: -EINVAL (ch NULL, item_size out of range), -ENOMEM. */
CORIO_API int corio_chan_create(corio_chan **ch, size_t item_size, size_t capacity);
/** Free a channel.  Errors: -EBUSY (tasks or threads still wait on it). */
CORIO_API int corio_chan_destroy(corio_chan *ch);

/** Send the item at `item` (item_size bytes are copied).  Waits while the
 *  channel is full (or, for a rendezvous channel, until a receiver takes
 *  it).  Errors: -EPIPE (the channel is closed, before or while waiting:
 *  the item was not sent), -ETIMEDOUT, -ECANCELED, -EINVAL. */
CORIO_API int corio_chan_send(corio_chan *ch, const void *item, int64_t timeout_ns);
/** Receive one item into `item` (item_size bytes; may be NULL to drop it).
 *  Returns 0 with an item, or CORIO_CHAN_CLOSED (1) when the channel is
 *  closed and drained.  Errors: -ETIMEDOUT, -ECANCELED, -EINVAL. */
CORIO_API int corio_chan_recv(corio_chan *ch, void *item, int64_t timeout_ns);
#define CORIO_CHAN_CLOSED 1
/** Non-blocking variants: -EAGAIN instead of waiting. */
CORIO_API int corio_chan_try_send(corio_chan *ch, const void *item);
CORIO_API int corio_chan_try_recv(corio_chan *ch, void *item);
/** Close: senders waiting get -EPIPE, receivers drain what is buffered and
 *  then get CORIO_CHAN_CLOSED.  Errors: -EPIPE (already closed). */
CORIO_API int corio_chan_close(corio_chan *ch);
/** Items buffered now (a snapshot). */
CORIO_API size_t corio_chan_len(corio_chan *ch);

/** One case of a select. */
typedef struct corio_select_case {
    corio_chan *chan;
    int is_send;      /**< 1: send `item` into chan; 0: receive into `item` */
    void *item;       /**< the item to send, or where to receive (may be NULL) */
    int result;       /**< set for the chosen case: 0, or CORIO_CHAN_CLOSED
                           for a receive on a closed channel, or -EPIPE for a
                           send on a closed channel */
} corio_select_case;

/** Wait until one of the `n` cases can proceed, perform exactly that one
 *  and return its index (its `result` says how it went).  When several are
 *  ready one is chosen at random (fair between ready cases).  A case whose
 *  chan is NULL is never chosen (Go's nil channel).  timeout_ns 0 makes it
 *  non-blocking (-EAGAIN if none is ready).
 *  Errors: -EINVAL (cases NULL, n == 0 or > CORIO_SELECT_MAX, or every
 *  chan NULL with no timeout), -ETIMEDOUT, -ECANCELED, -EAGAIN. */
CORIO_API int corio_select(corio_select_case *cases, unsigned n, int64_t timeout_ns);
#define CORIO_SELECT_MAX 64u

/* ---- mutex, condition variable, semaphore --------------------------------- */

typedef struct corio_mutex corio_mutex;
CORIO_API int corio_mutex_create(corio_mutex **m);
CORIO_API int corio_mutex_destroy(corio_mutex *m);
/** Lock; waiters are served in arrival order.  Errors: -ETIMEDOUT,
 *  -ECANCELED (not locked then), -EINVAL. */
CORIO_API int corio_mutex_lock(corio_mutex *m, int64_t timeout_ns);
/** -EBUSY if locked. */
CORIO_API int corio_mutex_trylock(corio_mutex *m);
/** Errors: -EPERM (not locked). */
CORIO_API int corio_mutex_unlock(corio_mutex *m);

typedef struct corio_cond corio_cond;
CORIO_API int corio_cond_create(corio_cond **c);
CORIO_API int corio_cond_destroy(corio_cond *c);
/** Unlock `m`, wait for a signal, lock `m` again (also after a timeout or a
 *  kill: `m` is always held when this returns 0, -ETIMEDOUT or
 *  -ECANCELED).  Spurious wake-ups do not happen, but callers should loop on
 *  their condition anyway.  Errors: -EPERM (m not locked). */
CORIO_API int corio_cond_wait(corio_cond *c, corio_mutex *m, int64_t timeout_ns);
/** Wake one waiter / every waiter.  Return how many were woken. */
CORIO_API int corio_cond_signal(corio_cond *c);
CORIO_API int corio_cond_broadcast(corio_cond *c);

typedef struct corio_sem corio_sem;
/** A counting semaphore starting at `value`. */
CORIO_API int corio_sem_create(corio_sem **s, unsigned value);
CORIO_API int corio_sem_destroy(corio_sem *s);
/** Take one unit, waiting for it; arrival order.  -ETIMEDOUT, -ECANCELED. */
CORIO_API int corio_sem_acquire(corio_sem *s, int64_t timeout_ns);
/** -EAGAIN when none is available. */
CORIO_API int corio_sem_try_acquire(corio_sem *s);
/** Give one unit back (to the first waiter if any).  -EOVERFLOW at
 *  UINT32_MAX units. */
CORIO_API int corio_sem_release(corio_sem *s);
/** Units available now (a snapshot). */
CORIO_API unsigned corio_sem_value(corio_sem *s);

/* ---- task group (structured concurrency) ---------------------------------- */

/** A group of child tasks (Trio's nursery): spawn children into it, join
 *  them all; the first child that fails (returns a negative value) makes
 *  the group kill the others, and join returns that error. */
typedef struct corio_group corio_group;
/** A child's body: 0 (or any >= 0) for success, a negative errno for
 *  failure. */
typedef int (*corio_group_fn)(void *arg);

/** Create a group on runtime `rt` (NULL: the calling task's runtime).
 *  Errors: -EINVAL (no runtime), -ENOMEM. */
CORIO_API int corio_group_create(corio_group **g, corio_rt *rt);
/** Spawn fn(arg) into the group.  Errors: -ECANCELED (the group has
 *  failed or was cancelled: nothing spawned), -EINVAL (joined already),
 *  and those of corio_rt_spawn. */
CORIO_API int corio_group_spawn(corio_group *g, corio_group_fn fn, void *arg);
/** Kill every child still running (join then returns -ECANCELED unless a
 *  child failed first with its own error). */
CORIO_API int corio_group_cancel(corio_group *g);
/** Wait for every child to end.  Returns 0 when all succeeded, else the
 *  first failure's error.  A task killed while it joins cancels the group,
 *  still waits for the children to end, and returns -ECANCELED.  May be
 *  called once; from a task or a plain thread.  Errors: -EINVAL (g NULL,
 *  or another join has begun, whether or not it has returned). */
CORIO_API int corio_group_join(corio_group *g);
/** Free a group whose children have all been joined (or that never had
 *  any).  Errors: -EBUSY (children not joined yet, or spawns in
 *  progress). */
CORIO_API int corio_group_destroy(corio_group *g);

/* ---- task sets ------------------------------------------------------------ */

/** A set of tasks for a server's long-running loops (an acceptor's
 *  connections): a child is remembered only while it lives (the set's
 *  memory stays bounded however many it ran), the set can cancel every
 *  live child at once, and join them all with a deadline.  Results are
 *  not kept: a child's return value is dropped.  Every call may be made
 *  from a task or a plain thread, concurrently. */
typedef struct corio_taskset corio_taskset;

/** Create a set whose children run on `rt` (NULL: the calling task's
 *  runtime).  Errors: -EINVAL (no runtime), -ENOMEM. */
CORIO_API int corio_taskset_create(corio_taskset **s, corio_rt *rt);
/** Spawn fn(arg) into the set; its id in *tid when tid is not NULL (the
 *  task is detached: corio_task_kill works on the id, a join does not).
 *  Never suspends.  Errors: -EINVAL, -ENOMEM, those of corio_rt_spawn. */
CORIO_API int corio_taskset_spawn(corio_taskset *s, corio_tid *tid, corio_task_fn fn, void *arg);
/** Kill every child alive now (corio_task_kill: each sees -ECANCELED at
 *  its next suspension point).  Children spawned later are not affected.
 *  Never suspends.  Errors: -EINVAL. */
CORIO_API int corio_taskset_cancel(corio_taskset *s);
/** Wait until no child is alive, at most timeout_ns (CORIO_FOREVER: no
 *  limit; 0: only check).  Returns 0 when the set was empty at some
 *  moment.  A task suspends; a plain thread blocks.  Errors: -ETIMEDOUT,
 *  -ECANCELED (the joining task was killed), -EINVAL.  The usual shutdown
 *  is: stop spawning, join with a drain deadline, cancel, join again. */
CORIO_API int corio_taskset_join(corio_taskset *s, int64_t timeout_ns);
/** The number of live children (a snapshot). */
CORIO_API size_t corio_taskset_len(corio_taskset *s);
/** Free an empty set.  Errors: -EBUSY (children alive or joiners
 *  waiting). */
CORIO_API int corio_taskset_destroy(corio_taskset *s);

/* ---- blocking-call pool --------------------------------------------------- */

/** Run fn(arg) on a helper thread of the process-wide blocking-call pool,
 *  suspending only the calling task (a plain thread just calls fn).  The
 *  pool starts a thread when none is idle, up to its limit (default 64,
 *  CORIO_BLOCKING_THREADS in the environment); beyond it calls queue.
 *  Threads idle for 10 s exit.  The call is never interrupted: a kill of
 *  the waiting task is reported when fn returns, by -ECANCELED, with fn's
 *  result still stored in *result (which may be NULL).
 *  Errors: -EINVAL (fn NULL), -EAGAIN (no thread could be started and none
 *  exists), -ECANCELED. */
CORIO_API int corio_blocking(void *(*fn)(void *arg), void *arg, void **result);

/** Threads of the pool now, and of those, idle ones. */
CORIO_API int corio_blocking_threads(unsigned *total, unsigned *idle);

/* ---- the seed's bridges --------------------------------------------------- */

/** Synchronized send: like corio_coro_send / throw / close /
 *  gen_next, but a caller that finds `co` busy (running on another thread,
 *  or in a task chain suspended in the scheduler) waits its turn instead of
 *  getting -EBUSY: callers are served one at a time, in arrival order.  A
 *  call that would re-enter a coroutine on the caller's own chain (a
 *  cycle) still returns -EDEADLK at once.  Waiting may be ended by a
 *  kill (-ECANCELED) or the timeout (-ETIMEDOUT); the call then did not
 *  happen.  Results and other errors as the plain calls.  A waiter's
 *  -EPIPE (the coroutine finished while it waited) does not tell that the
 *  call that finished it has returned: destroy the coroutine only after
 *  that call too has returned (corio_coro_destroy). */
CORIO_API int(corio_coro_send_wait)(corio_coro *co, void *value, void **out, int64_t timeout_ns);
CORIO_API int corio_coro_throw_wait(corio_coro *co, int err, void **out, int64_t timeout_ns);
CORIO_API int corio_coro_close_wait(corio_coro *co, int64_t timeout_ns);

/** threaded(): create in *out a coroutine that forwards
 *  every value sent to it (and every error thrown into it, in order)
 *  through a bounded queue of `capacity` items (0: 64) to `target`, which
 *  a new thread drives (corio_coro_send / throw on that thread).  A send
 *  to *out returns CORIO_YIELDED when the item is queued (*out = NULL); it
 *  waits while the queue is full (backpressure); a task killed while it
 *  waits gets *out = (void *)(intptr_t)-ECANCELED and its item is not
 *  queued.  Closing *out (corio_coro_close or destroy) closes the queue,
 *  waits until the thread has sent everything queued and closed `target`,
 *  and joins the thread; a closing task is suspended meanwhile, not its
 *  worker (the join runs in the blocking-call pool), so the target may
 *  hand its items to tasks of the same runtime.  When the target finishes (or refuses a send)
 *  the forwarding ends and later items are dropped and counted; the next
 *  send to *out then finishes the bridge: it returns CORIO_FINISHED with
 *  *out = (void *)(uintptr_t)dropped (the same value is the bridge's
 *  corio_coro_result), and sends after it get -EPIPE.  `target` must not
 *  be used by anyone else meanwhile.
 *  Errors: -EINVAL, -ENOMEM, -EAGAIN (no thread). */
CORIO_API int corio_threaded(corio_coro **out, corio_coro *target, size_t capacity);

#ifdef __cplusplus
}
#endif
#endif
