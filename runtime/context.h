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

#include "corio/coro_fast.h"
#include "runtime/fcontext.h"
#include "runtime/panic.h"
#include "runtime/stack.h"

#if defined(CORIO_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CORIO_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

enum corio__ctx_kind {
    CORIO__CTX_ROOT = 0, /* a thread's native stack */
    CORIO__CTX_CORO = 1, /* a corio_coro */
    CORIO__CTX_TASK = 2, /* a scheduled task */
};

typedef struct corio__ctx corio__ctx;
typedef void (*corio__ctx_entry)(corio__ctx *self);
typedef void (*corio__after_fn)(void *arg);

/* struct corio__ctx is defined in corio/coro_fast.h: the inline fast path
 * of send and yield touches its fctx and kind. */

typedef struct corio__thread {
    /* First: the inline fast path (corio/coro_fast.h) reads and writes it
     * through the thread pointer. */
    corio__ctx *current;   /* the context running on this thread */
    corio__ctx root;       /* this thread's native stack */
    void *worker;          /* the scheduler's per-worker state, if any */
    void *altstack;        /* sigaltstack we installed (NULL: none/foreign) */
    size_t altstack_size;
} corio__thread;

/* This thread's state, created on first use.  Never cache the result across
 * a switch: the caller may be on another thread afterwards. */
corio__thread *corio__thread_get(void);

/* The TLS slot behind corio__thread_get.  Read it directly only through
 * corio__thread_here(). */
extern __thread corio__thread *corio__tls_thread __attribute__((tls_model("initial-exec")));

/* Inline fast path of corio__thread_get, for hot functions that read the
 * thread state *before* their only switch and never after it: a TLS address
 * computed before a switch may be reused by the compiler after it, when the
 * context may be on another thread (trap 1).  Anywhere else, use
 * corio__thread_get(). */
__attribute__((always_inline)) static inline corio__thread *corio__thread_here(void) {
    corio__thread *t = corio__tls_thread;
    return __builtin_expect(t != NULL, 1) ? t : corio__thread_get();
}

/* This thread's state if it exists, else NULL (async-signal-safe). */
corio__thread *corio__thread_peek(void);

/* Functions that read the thread state and then switch contexts must never
 * be inlined into a caller: a loop around them would keep the TLS address
 * of the first iteration across the switch (trap 1).  noipa (gcc) also
 * stops interprocedural deductions.  The library is built without LTO
 * (runtime/CMakeLists.txt), so a user's LTO cannot inline it either, and
 * tests/lto builds the runtime with LTO to check that the attribute holds. */
#if defined(__clang__)
#define CORIO__SWITCHES __attribute__((noinline))
#else
#define CORIO__SWITCHES __attribute__((noinline, noipa))
#endif

/* Prepare `c` to run `entry(c)` on stack `s` at its first switch-in.  The
 * entry never returns: it ends with corio__ctx_exit. */
void corio__ctx_make(corio__ctx *c, corio__stack *s, corio__ctx_entry entry,
                     unsigned kind, uint64_t id);

/* Release what corio__ctx_make set up (TSan fiber, stack back to the pool).
 * The context must not be running and must never be resumed again. */
void corio__ctx_release(corio__ctx *c);

/* Like corio__ctx_switch, for a context that will never run again. */
__attribute__((noreturn)) void corio__ctx_exit(corio__thread *t, corio__ctx *from, corio__ctx *to,
                                               corio__after_fn after, void *arg);

/* ---- the switch, inlined into its callers ------------------------------ */

/* struct corio__sw (corio/coro_fast.h) is passed from the suspending side
 * of a jump to the resuming side; it lives on the suspending side's stack,
 * valid while that side is suspended. */

/* Runs on the resumed side right after a jump lands there; returns the
 * thread of the jump (ours now).  Everything is read from the record before
 * `after` runs: the hook may let another thread resume the jumper, whose
 * stack holds the record. */
__attribute__((always_inline)) static inline corio__thread *corio__ctx_arrived(transfer_t t,
                                                                              corio__ctx *self,
                                                                              int first) {
    struct corio__sw *s = t.data;
    corio__ctx *from = s->from;
    corio__after_fn after = s->after;
    void *arg = s->arg;
    corio__thread *th = s->thread;
    from->fctx = t.fctx;
#if defined(CORIO_ASAN)
    __sanitizer_finish_switch_fiber(first ? NULL : self->asan_fake, NULL, NULL);
#else
    (void)first;
#endif
    /* A jump never changes OS threads, so the jumper's thread is ours: no
     * TLS access (trap 1 cannot bite through a pointer passed by value). */
    th->current = self;
    if (after != NULL) after(arg);
    return th;
}

/* Always inlined: after __tsan_switch_to_fiber, returning from an
 * instrumented function would pop the *target* fiber's shadow call stack. */
__attribute__((always_inline)) static inline void corio__before_jump(corio__ctx *from,
                                                                     corio__ctx *to, int final) {
    if (from->stack != NULL && from->stack->guard == CORIO__GUARD_CANARY)
        corio__stack_check(from->stack, from->kind == CORIO__CTX_TASK ? "task" : "coroutine",
                           from->id, from->name);
#if defined(CORIO_ASAN)
    __sanitizer_start_switch_fiber(final ? NULL : &from->asan_fake, to->stack_lo, to->stack_size);
#else
    (void)final;
#endif
#if defined(CORIO_TSAN)
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)to;
}

/* Suspend `from` (the running context on thread `t`) and run `to`.  When
 * someone later switches back to `from`, this returns, possibly on another
 * OS thread: callers must not use `t` afterwards.  It returns the thread it
 * came back on, which the side that switched to us wrote into its switch
 * record: a caller that switches again (a loop) uses that one, never a TLS
 * read (trap 1).  `after(arg)`, if not NULL, runs on `to`'s side right
 * after the switch, when `from` is fully saved: the place to publish that
 * `from` may now be resumed by others (trap 2). */
__attribute__((always_inline)) static inline corio__thread *corio__ctx_switch(corio__thread *t,
                                                                    corio__ctx *from,
                                                                    corio__ctx *to,
                                                                    corio__after_fn after,
                                                                    void *arg) {
    struct corio__sw s = {from, to, after, arg, t};
    CORIO_ASSERT(to->fctx != NULL, "switch to a context that is not suspended", to->id);
    corio__before_jump(from, to, 0);
    void *target = to->fctx;
    to->fctx = NULL; /* running now; a second resume would trip the assert */
    transfer_t tr = jump_fcontext(target, &s);
    return corio__ctx_arrived(tr, from, 0);
}

#endif
