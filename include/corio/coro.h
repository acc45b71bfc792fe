/* corio/coro.h - stackful coroutines and generators.
 *
 * A coroutine is a function running on its own stack.  It suspends with
 * corio_coro_yield() from any depth of ordinary nested C calls and is resumed
 * by whoever calls corio_coro_send() (or next/throw/close) on it.  Values
 * travel as `void *` in both directions.
 *
 * Return convention (the liburing rule): every function returns an int that
 * is >= 0 on success and a negative errno value on failure; errno is never
 * set.  A mistake of the caller is answered with an error, never a crash.
 *
 * Thread safety: a coroutine may be resumed from any thread, one resumer at
 * a time.  A resumer that finds the coroutine running (on another thread,
 * or inside a task chain that is suspended in the scheduler) gets -EBUSY;
 * resuming a coroutine that is running on the caller's own chain (itself,
 * or one that is resuming the caller: the course's cycle) gets -EDEADLK.  The
 * coroutine object itself must not be destroyed while another thread may
 * still use it.
 */
#ifndef CORIO_CORO_H
#define CORIO_CORO_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque coroutine (or generator) object. */
typedef struct corio_coro corio_coro;

/** The body of a coroutine.  `arg` is the pointer given at create time; the
 *  value returned is the coroutine's return value (see corio_coro_send). */
typedef void *(*corio_coro_fn)(void *arg);

/** Results of send / next / throw that are not errors. */
#define CORIO_YIELDED  0 /**< the coroutine yielded; *out holds the value */
#define CORIO_FINISHED 1 /**< the coroutine returned; *out holds its return value */

/** Coroutine states, as returned by corio_coro_state(). */
enum corio_coro_state {
    CORIO_CORO_CREATED = 0,   /**< created, body not started (generators only) */
    CORIO_CORO_SUSPENDED = 1, /**< suspended at a yield, may be resumed */
    CORIO_CORO_RUNNING = 2,   /**< running now, or resuming another coroutine */
    CORIO_CORO_FINISHED = 3   /**< the body returned */
};

/** Options for create; pass NULL for the defaults.  Zero fields mean
 *  "default".  Initialise with `corio_coro_opts o = {0};`. */
typedef struct corio_coro_opts {
    size_t stack_size; /**< stack bytes; default CORIO_STACK_DEFAULT, rounded
                            up to whole pages, at least CORIO_STACK_MIN (the
                            usable stack is slightly larger: the stack's
                            bookkeeping shares its last page) */
    const char *name;  /**< shown in diagnostics; not copied, must outlive it */
} corio_coro_opts;

#define CORIO_STACK_DEFAULT (64u * 1024u)
#define CORIO_STACK_MIN (16u * 1024u)
#define CORIO_STACK_MAX (256u * 1024u * 1024u)

/** Create a coroutine and prime it: the body runs until its first
 *  corio_coro_yield() (the `@coroutine` decorator is built in).
 *  The value of that first yield is discarded, as Python's priming next()
 *  discards it.  A body that returns before yielding leaves a FINISHED
 *  coroutine (still a success).
 *  Errors: -EINVAL (co or fn NULL, stack_size > CORIO_STACK_MAX),
 *  -ENOMEM (no memory for the object or the stack; when guarded stacks hit
 *  vm.max_map_count a hint is written to stderr once). */
CORIO_API int corio_coro_create(corio_coro **co, corio_coro_fn fn, void *arg,
                      const corio_coro_opts *opts);

/** Create a generator: like corio_coro_create, but the body does not start
 *  until the first corio_coro_next() / corio_coro_send(). */
CORIO_API int corio_gen_create(corio_coro **gen, corio_coro_fn fn, void *arg,
                     const corio_coro_opts *opts);

/** Resume `co` with `value`: its pending corio_coro_yield() returns 0 and
 *  stores `value` in its `*in`.  Returns CORIO_YIELDED with the next yielded
 *  value in *out, or CORIO_FINISHED with the return value in *out (out may
 *  be NULL).  Sending to a CREATED generator starts it; the value is then
 *  ignored, as the body has no pending yield to receive it.
 *  Errors: -EINVAL (co NULL), -EPIPE (already finished), -EDEADLK (co is
 *  the caller or is resuming the caller), -EBUSY (co is running on another
 *  thread or in a suspended task chain). */
CORIO_API int(corio_coro_send)(corio_coro *co, void *value, void **out);

/** Generator iteration: resume with no value.  Returns 1 when the generator
 *  produced an item (*item set), 0 when it has returned (its return value is
 *  available from corio_coro_result), or a negative error as for send. */
CORIO_API int(corio_gen_next)(corio_coro *gen, void **item);

/** Resume `co` with an error code at its yield point: its pending
 *  corio_coro_yield() returns `err`.  The body may handle it and yield again
 *  or return.  Results as for send.  A CREATED generator is finished without
 *  running and CORIO_FINISHED is returned (*out = NULL).
 *  Errors: -EINVAL (err >= 0, or err == -ECANCELED: that is close's code),
 *  and those of send. */
CORIO_API int corio_coro_throw(corio_coro *co, int err, void **out);

/** Close `co`: its pending yield returns -ECANCELED, upon
 *  which the body must return.  Returns 0 once it has returned (also for a
 *  coroutine already finished, or a generator never started, which is just
 *  marked finished).
 *  Errors: -EPROTO when the body yielded again instead of returning
 *  (Python's "generator ignored GeneratorExit"; the coroutine stays
 *  suspended at that new yield), and -EBUSY / -EDEADLK / -EINVAL as send. */
CORIO_API int corio_coro_close(corio_coro *co);

/** Destroy `co`, closing it first if it is suspended.  No other call on
 *  `co` may still be in progress (one that has not returned yet, even if
 *  its effect is already visible, e.g. the body has finished): the
 *  returning call still reads the coroutine's state.   The stack is freed
 *  even when the body refuses to close (its frames are abandoned without
 *  unwinding, like a longjmp past them); the error of close is returned
 *  then.  A NULL `co` is ignored (returns 0).  Destroying a RUNNING
 *  coroutine is refused with -EBUSY (nothing is freed). */
CORIO_API int corio_coro_destroy(corio_coro *co);

/** The state of `co` (enum corio_coro_state), or -EINVAL for NULL. */
CORIO_API int corio_coro_state(const corio_coro *co);

/** The return value of a FINISHED coroutine, in *out.
 *  Errors: -EINVAL (NULL), -EAGAIN (not finished). */
CORIO_API int corio_coro_result(const corio_coro *co, void **out);

/** A process-unique id (> 0), used in diagnostics. */
CORIO_API uint64_t corio_coro_id(const corio_coro *co);

/* ---- inside the body ---------------------------------------------- */

/** Suspend the running coroutine, handing `value` to its resumer.  Returns
 *  when resumed: 0 after send (the sent value in *in if in is not NULL),
 *  -ECANCELED when it is being closed (the body must return; yielding again
 *  makes close fail with -EPROTO), or the negative code given to throw.
 *  May be called from any depth of nested calls inside the body.
 *  Errors: -EPERM when the caller is not running inside a coroutine. */
CORIO_API int(corio_coro_yield)(void *value, void **in);

/** The coroutine running on this thread now, or NULL outside any. */
CORIO_API corio_coro *corio_coro_self(void);

#ifdef __cplusplus
}
#endif

/* The inline fast path of send, next and yield (not API). */
#include "coro_fast.h"
#endif
