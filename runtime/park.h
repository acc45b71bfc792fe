/* runtime/park.h - the parker interface: how an idle worker sleeps.
 *
 * runtime/ knows nothing of I/O.  When a worker has no task to run it calls
 * park(); another thread that has work for it calls unpark().  The I/O layer
 * implements this interface with the worker's io_uring (park = wait for a
 * completion or a wake-up message; poll = reap completions without
 * blocking), so idle workers sleep in their ring.  The default
 * implementation here is a mutex and a condition variable.
 *
 * Contract: an unpark that happens before park makes that park return at
 * once (a permit, not a count).  park may also return spuriously; the
 * worker re-checks its queues either way. */
#ifndef CORIO_RUNTIME_PARK_H
#define CORIO_RUNTIME_PARK_H

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
    /* Deliver pending events without blocking (may be NULL). */
    void (*poll)(void *p);
} corio__parker_ops;

/* The mutex + condition variable parker. */
extern const corio__parker_ops corio__cond_parker;

/* The parker that runtimes created from now on use (NULL restores the
 * condition-variable parker).  This is the seam the I/O layer plugs into;
 * tests use it to run the scheduler over a fake parker. */
void corio__parker_set_default(const corio__parker_ops *ops);
const corio__parker_ops *corio__parker_get_default(void);

#ifdef __cplusplus
}
#endif

#endif
