/* runtime/context.h - execution contexts and the switch between them.
 *
 * runtime/context.c is the only code that calls fcontext and talks to
 * ASan, TSan and valgrind about fibers.  A context (corio__ctx) is either a
 * thread's own native stack (its "root") or a coroutine/task stack.  Every
 * switch goes through corio__ctx_switch / corio__ctx_exit, which annotate it
 * for the sanitizers and keep the per-thread "current context" pointer.
 *
 * Trap 1 (migration and TLS): a context may suspend on one thread and resume
 * on another.  Per-thread state is reached only through corio__thread_get(),
 * a non-inlined accessor with a compiler barrier, re-read after every switch.
 */
#ifndef CORIO_RUNTIME_CONTEXT_H
#define CORIO_RUNTIME_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/stack.h"

enum corio__ctx_kind {
    CORIO__CTX_ROOT = 0, /* a thread's native stack */
    CORIO__CTX_CORO = 1, /* a corio_coro */
    CORIO__CTX_TASK = 2, /* a scheduled task */
};

typedef struct corio__ctx corio__ctx;
typedef void (*corio__ctx_entry)(corio__ctx *self);
typedef void (*corio__after_fn)(void *arg);

struct corio__ctx {
    void *fctx;            /* saved stack pointer while not running */
    corio__stack *stack;   /* NULL for a root */
    void *stack_lo;        /* bounds handed to ASan for switches into us */
    size_t stack_size;
    void *asan_fake;       /* ASan fake-stack handle saved while away */
    void *tsan_fiber;      /* TSan fiber handle */
    corio__ctx_entry entry;
    uint64_t id;           /* diagnostics */
    unsigned kind;         /* enum corio__ctx_kind */
};

typedef struct corio__thread {
    corio__ctx root;       /* this thread's native stack */
    corio__ctx *current;   /* the context running on this thread */
    void *worker;          /* the scheduler's per-worker state, if any */
    corio__stack *pool;    /* free stacks of the default size */
    size_t pool_len;
    void *altstack;        /* sigaltstack we installed (NULL: none/foreign) */
    size_t altstack_size;
} corio__thread;

/* This thread's state, created on first use.  Never cache the result across
 * a switch: the caller may be on another thread afterwards. */
corio__thread *corio__thread_get(void);

/* This thread's state if it exists, else NULL (async-signal-safe). */
corio__thread *corio__thread_peek(void);

/* Prepare `c` to run `entry(c)` on stack `s` at its first switch-in.  The
 * entry never returns: it ends with corio__ctx_exit. */
void corio__ctx_make(corio__ctx *c, corio__stack *s, corio__ctx_entry entry,
                     unsigned kind, uint64_t id);

/* Release what corio__ctx_make set up (TSan fiber, stack back to the pool).
 * The context must not be running and must never be resumed again. */
void corio__ctx_release(corio__ctx *c);

/* Suspend `from` (the running context) and run `to`.  When someone later
 * switches back to `from`, this returns.  `after(arg)`, if not NULL, runs
 * on `to`'s side right after the switch, when `from` is fully saved: the
 * place to publish that `from` may now be resumed by others (trap 2). */
void corio__ctx_switch(corio__ctx *from, corio__ctx *to, corio__after_fn after, void *arg);

/* Like corio__ctx_switch, for a context that will never run again. */
__attribute__((noreturn)) void corio__ctx_exit(corio__ctx *from, corio__ctx *to,
                                               corio__after_fn after, void *arg);

#endif
