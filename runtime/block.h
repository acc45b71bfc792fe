/* runtime/block.h - how a layer above runtime/ (io/, sync/) blocks the
 * calling task until an event of its own, and makes it runnable again from
 * wherever the event is delivered.
 *
 * The pattern every user follows (the wake-before-park rule, DESIGN trap
 * 2, is absorbed by the task's state word, state.h R3):
 *
 *   waiter (a task)                       completer (any thread)
 *   ---------------                       ----------------------
 *   t = corio__block_self();              ...publish the result...
 *   make the event source know t;         done = 1 (release);
 *   while (!done (acquire))               corio__block_wake(t);
 *       corio__block_suspend();
 *
 * The completer's wake is a read-modify-write of the state word: if it
 * lands before the waiter's suspension is committed (the waiter has read
 * done == 0 but not switched out yet, or is switching), the commit fails
 * and the waiter runs again and sees done; if after, the wake queues it.
 * A suspension may also return without a wake of the caller's (a kill, a
 * spurious wake): the caller loops on its own condition.
 *
 * Lifetime: corio__block_wake(t) must be called only while t cannot have
 * ended, or on a task struct that may have been reused for a new task
 * (task structs are type-stable while the runtime lives: the wake of a
 * finished task does nothing; one that reaches a new task in the same
 * struct is one spurious wake-up of it, which every waiter tolerates).
 * Read `t` before setting the condition that lets the waiter leave.
 *
 * The calls below read the calling thread's state and must be read again
 * after every suspension: the task may be on another worker by then
 * (DESIGN trap 1).  They are out of line for that reason. */
#ifndef CORIO_RUNTIME_BLOCK_H
#define CORIO_RUNTIME_BLOCK_H

#include <stdbool.h>

#include "runtime/park.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio__task corio__task;

/* The calling task, or NULL on a thread that is not running a task. */
corio__task *corio__block_self(void);
/* The parker (and its ops) of the worker running the calling task now, or
 * NULL outside a task.  Changes across a suspension. */
void *corio__block_parker(const corio__parker_ops **ops);
/* Has `t` been killed?  (acquire: pairs with the kill.) */
bool corio__block_killed(corio__task *t);
/* Suspend the calling task until a wake (or spuriously). */
void corio__block_suspend(void);
/* Make a suspended or suspending task runnable (see the lifetime rule),
 * behind everything queued on the waker's worker: for event sources that
 * deliver many wakes in a batch (I/O completions), which then run in the
 * order they came. */
void corio__block_wake(corio__task *t);
/* For a waker that may not be a worker of t's runtime (a plain thread, a
 * helper thread, another runtime's worker) and whose wake lets t end: once
 * t has seen the condition it may return, and its runtime may be shut
 * down and freed while the waker is still inside corio__block_wake.  Pin
 * before setting the condition, unpin after the wake: the shutdown waits
 * for pinned wakers.  Returns the token for unpin (NULL: nothing pinned,
 * the caller is one of t's own workers, which the shutdown joins). */
void *corio__block_pin(corio__task *t);
void corio__block_unpin(void *token);
/* The cooperative budget (tokio's coop): an operation that completed
 * without suspending spends one unit of the task's turn; when the budget
 * is spent the call yields (the task runs again after the others and the
 * worker's events).  Returns -ECANCELED if the task was killed meanwhile,
 * else 0. */
int corio__block_spend(void);

#ifdef __cplusplus
}
#endif

#endif
