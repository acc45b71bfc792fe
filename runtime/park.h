/* runtime/park.h - the parker interface: how an idle worker sleeps, and
 * how an event source (the I/O layer) rides on the scheduler's loop.
 *
 * runtime/ knows nothing of I/O.  When a worker has no task to run it calls
 * park(); another thread that has work for it calls unpark().  The I/O layer
 * implements this interface with the worker's ring (park = submit, then
 * wait for a completion or a wake-up; poll = submit and reap without
 * blocking), so idle workers sleep in their ring.  The default
 * implementation here is a mutex and a condition variable.
 *
 * Where the scheduler calls what (worker.c, yield.c, idle.c):
 *   due()   on every scheduler pass: after every task turn on the worker's
 *           stack, and in every direct yield or park before it switches
 *           (each counts as a pass).  O(1), no
 *           system call: "does poll have work now?" (submissions waiting
 *           long enough, completions posted, a message from another
 *           thread).  A direct yield or park that sees true goes through the
 *           worker's stack instead, where the loop calls poll.
 *   poll()  after a turn when due() said so, on every fairness turn, and
 *           before a worker with an empty queue goes stealing (Go's
 *           netpoll(0)): its result says whether it made work.
 *   park()  when there is nothing to do.  Tasks that events make runnable
 *           while the worker is in park go to its own queue without waking
 *           any worker (the sleeper itself is one: idle.c), and the worker
 *           then leaves its sleep.
 *
 * Contract: an unpark that happens before park makes that park return at
 * once (a permit, not a count).  park may also return spuriously; the
 * worker re-checks its queues either way.  Events are delivered by making
 * tasks runnable with the block seam (block.h) on the worker's own thread,
 * inside poll or park. */
#ifndef CORIO_RUNTIME_PARK_H
#define CORIO_RUNTIME_PARK_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio__parker_ops {
    /* Create the parker of worker `index` in *out; runs on that worker's
     * thread.  Returns 0 or a negative errno (corio_rt_create then fails
     * with it, and destroys the parkers that were created). */
    int (*create)(void *ctx, unsigned index, void **out);
    /* Destroy it, once every worker thread of the runtime has ended. */
    void (*destroy)(void *p);
    /* Block until unparked (or until the parker has events to deliver), or
     * until `timeout_ns` nanoseconds have passed (negative: no limit). */
    void (*park)(void *p, int64_t timeout_ns);
    /* Wake the parker; any thread. */
    void (*unpark)(void *p);
    /* Submit and deliver pending events without blocking; returns how many
     * tasks it made runnable (may be NULL: no events). */
    int (*poll)(void *p);
    /* Has poll work to do now?  O(1), no system call, owner only (may be
     * NULL: never). */
    bool (*due)(void *p);
    /* Short name for diagnostics and corio_rt_backend ("io_uring", ...). */
    const char *name;
} corio__parker_ops;

/* The mutex + condition variable parker. */
extern const corio__parker_ops corio__cond_parker;

/* A parker that runtimes created from now on use whatever backend their
 * options ask for (NULL: none, each runtime gets the backend it asks for).
 * Tests use it to run the scheduler over a fake parker. */
void corio__parker_set_default(const corio__parker_ops *ops);
/* The override set above, or NULL. */
const corio__parker_ops *corio__parker_get_default(void);

#ifdef __cplusplus
}
#endif

#endif
