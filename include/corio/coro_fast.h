/* corio/coro_fast.h - the inline fast path of send, next and yield.
 *
 * Included by corio/coro.h; nothing here is API.  The names with two
 * underscores are the runtime's, shown to the compiler so that the common
 * case of corio_coro_send(), corio_coro_send_wait(), corio_gen_next() and
 * corio_coro_yield() compiles into the caller's own function, with the
 * stack switch called straight from it (docs/design.md, "The inline fast
 * path").
 *
 * Why: after a stack switch, the CPU's return-address predictor still holds
 * the *other* stack's return addresses, so every function return between
 * the user's code and the switch mispredicts, once per switch.  An exported
 * send() costs that on both sides of a round trip.  Inlined, the user's
 * loop calls the switch directly and nothing returns through a stale
 * prediction.
 *
 * What the inline path does, and why it is safe:
 *   - It takes the coroutine with the same CAS the library does
 *     (SUSPENDED -> RUNNING) and gives it back with the same release store
 *     and asymmetric-Dekker load of `waiters` (runtime/coro.c).  Anything
 *     else (a generator not yet started, a finished or busy coroutine, a
 *     cycle, queued synchronized senders, throw and close) is the
 *     library's exported slow path, called by its real name in parentheses
 *     so that the macro below does not expand.
 *   - It reads the thread state only through corio__thread_self(), an
 *     exported function the compiler cannot inline or see through, called
 *     before the switch and never after it: a context may resume on another
 *     thread (DESIGN trap 1), and a thread-local address kept by the
 *     compiler across the switch would be the old thread's.  After the
 *     switch it uses only what the other side passed in `struct corio__sw`
 *     (the thread it jumped on, which is now ours).
 *   - It is compiled only where the switch needs no annotations: not under
 *     ASan or TSan (they must be told of every fiber switch), and it runs
 *     only for coroutines the library marked `fast` at creation (the
 *     library was not built with sanitizers, stacks are not canary-guarded,
 *     and membarrier is registered so that the light fence is a compiler
 *     barrier).  Otherwise it calls the exported function.
 * Define CORIO_NO_INLINE before including corio.h to always call the
 * exported functions. */
#ifndef CORIO_CORO_FAST_H
#define CORIO_CORO_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "coro.h"

#ifdef __cplusplus
extern "C" {
#endif

struct corio__stack;
struct corio__thread; /* its first member is the running context's pointer */

/* An execution context (runtime/context.h).  fctx and kind come first:
 * they are what the inline path touches. */
struct corio__ctx {
    void *fctx;            /* saved stack pointer while not running */
    unsigned kind;         /* enum corio__ctx_kind: 0 root, 1 coro, 2 task */
    unsigned unused_;
    struct corio__stack *stack; /* NULL for a root */
    void *stack_lo;        /* bounds handed to ASan for switches into us */
    size_t stack_size;
    void *asan_fake;       /* ASan fake-stack handle saved while away */
    void *tsan_fiber;      /* TSan fiber handle */
    void (*entry)(struct corio__ctx *self);
    uint64_t id;           /* diagnostics */
    const char *name;      /* diagnostics; may be NULL */
};

/* Passed from the suspending side of a jump to the resuming side; lives on
 * the suspending side's stack, valid while that side is suspended. */
struct corio__sw {
    struct corio__ctx *from;
    struct corio__ctx *to;
    void (*after)(void *arg);
    void *arg;
    struct corio__thread *thread; /* the OS thread of the jump: the lander's too */
};

/* The head of struct corio_coro (runtime/coro.h; the library checks the
 * offsets at compile time).  `state`, `waiters` are atomics there. */
struct corio__coro_head {
    struct corio__ctx ctx;
    int state;                 /* enum corio_coro_state */
    int fast;                  /* the inline path may take this coroutine */
    struct corio__ctx *caller; /* who resumed it; valid while RUNNING */
    void *transfer;            /* value in (send) and out (yield/return) */
    int code;                  /* what the pending yield returns */
    int returned;              /* set by the body's exit */
    int waiters;               /* synchronized senders queued */
};

/* What a jump returns on the side that lands: the suspended side's saved
 * stack pointer and its `struct corio__sw`. */
typedef struct corio__jumped {
    void *fctx;
    void *data;
} corio__jumped;

/* The stack switch (Boost.Context's jump_fcontext, re-exported). */
CORIO_API corio__jumped corio__jump(void *to, void *data);
/* This thread's runtime state, created on first use.  Never inlined. */
CORIO_API struct corio__thread *corio__thread_self(void);
/* The slow ends of a resume: the body returned (finish it), or senders are
 * queued for their turn (hand it to the first). */
CORIO_API int corio__coro_ended(corio_coro *co, void *value);
CORIO_API void corio__coro_kick(corio_coro *co);

/* The exported functions the inline path falls back on are declared in
 * corio/coro.h, but for corio_coro_send_wait (corio/sync.h, repeated here).
 * Their names are parenthesised wherever they are declared or defined, so
 * that the function-like macros below never expand there. */
CORIO_API int(corio_coro_send_wait)(corio_coro *co, void *value, void **out,
                                    int64_t timeout_ns);

#if defined(CORIO_NO_INLINE) || !defined(__GNUC__) || \
    !(defined(__x86_64__) || defined(__aarch64__))
#define CORIO__INLINE 0
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CORIO__INLINE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORIO__INLINE 0
#endif
#endif
#ifndef CORIO__INLINE
#define CORIO__INLINE 1
#endif

#if CORIO__INLINE

#define CORIO__FAST static inline __attribute__((always_inline))

/* The landing side of a jump, as runtime/context.h's corio__ctx_arrived
 * without the sanitizer calls: store the suspended side's stack pointer,
 * make `self` the thread's running context (through the pointer the
 * jumper passed: a jump never changes threads), run its hook. */
CORIO__FAST void corio__landed(corio__jumped j, struct corio__ctx *self) {
    struct corio__sw *in = (struct corio__sw *)j.data;
    in->from->fctx = j.fctx;
    *(struct corio__ctx **)(void *)in->thread = self;
    if (in->after != NULL) in->after(in->arg);
}

/* Jump from `me` (running on thread `t`) to the suspended `to`. */
CORIO__FAST void corio__jump_to(struct corio__thread *t, struct corio__ctx *me,
                                struct corio__ctx *to) {
    struct corio__sw s;
    s.from = me;
    s.to = to;
    s.after = NULL;
    s.arg = NULL;
    s.thread = t;
    void *target = to->fctx;
    to->fctx = NULL; /* running now */
    corio__landed(corio__jump(target, &s), me);
}

/* Acquire: the CAS pairs with the release that ended the last resume. */
CORIO__FAST int corio__take(struct corio__coro_head *c) {
    int st = 1; /* CORIO_CORO_SUSPENDED */
    return __atomic_compare_exchange_n(&c->state, &st, 2 /* RUNNING */, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

/* Resume `c` (taken: RUNNING) with `value`; CORIO_YIELDED or CORIO_FINISHED
 * with the value given back in *out. */
CORIO__FAST int corio__resume(struct corio__coro_head *c, void *value, void **out) {
    struct corio__thread *t = corio__thread_self(); /* not used after the switch */
    struct corio__ctx *me = *(struct corio__ctx **)(void *)t;
    c->caller = me;
    c->code = 0;
    c->transfer = value;
    corio__jump_to(t, me, &c->ctx);
    /* Back, perhaps on another thread: nothing thread-local is cached. */
    void *v = c->transfer;
    if (out != NULL) *out = v;
    if (__builtin_expect(c->returned != 0, 0))
        return corio__coro_ended((corio_coro *)(void *)c, v);
    /* release: publishes the saved context and the data to the next
     * resumer; then the light side of the asymmetric fence (a compiler
     * barrier: `fast` implies membarrier) and the load of `waiters`,
     * exactly as runtime/coro.c's release(). */
    __atomic_store_n(&c->state, 1 /* SUSPENDED */, __ATOMIC_RELEASE);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (__builtin_expect(__atomic_load_n(&c->waiters, __ATOMIC_RELAXED) != 0, 0))
        corio__coro_kick((corio_coro *)(void *)c);
    return 0; /* CORIO_YIELDED */
}

CORIO__FAST int corio__send_fast(corio_coro *co, void *value, void **out) {
    struct corio__coro_head *c = (struct corio__coro_head *)(void *)co;
    if (__builtin_expect(co == NULL || !c->fast || !corio__take(c), 0))
        return (corio_coro_send)(co, value, out);
    return corio__resume(c, value, out);
}

CORIO__FAST int corio__send_wait_fast(corio_coro *co, void *value, void **out,
                                      int64_t timeout_ns) {
    struct corio__coro_head *c = (struct corio__coro_head *)(void *)co;
    /* Queued senders go first (relaxed, as the library's check). */
    if (__builtin_expect(co == NULL || !c->fast ||
                             __atomic_load_n(&c->waiters, __ATOMIC_RELAXED) != 0 || !corio__take(c),
                         0))
        return (corio_coro_send_wait)(co, value, out, timeout_ns);
    return corio__resume(c, value, out);
}

CORIO__FAST int corio__next_fast(corio_coro *gen, void **item) {
    struct corio__coro_head *c = (struct corio__coro_head *)(void *)gen;
    if (__builtin_expect(gen == NULL || !c->fast || !corio__take(c), 0))
        return (corio_gen_next)(gen, item);
    void *v;
    if (corio__resume(c, NULL, &v) != 0) return 0; /* finished */
    if (item != NULL) *item = v;
    return 1;
}

CORIO__FAST int corio__yield_fast(void *value, void **in) {
    struct corio__thread *t = corio__thread_self(); /* not used after the switch */
    struct corio__ctx *me = *(struct corio__ctx **)(void *)t;
    struct corio__coro_head *c = (struct corio__coro_head *)(void *)me;
    if (__builtin_expect(me->kind != 1 /* CORO */ || !c->fast, 0))
        return (corio_coro_yield)(value, in);
    c->transfer = value;
    corio__jump_to(t, me, c->caller);
    /* Resumed by a send, perhaps on another thread. */
    if (in != NULL) *in = c->transfer;
    return c->code;
}

#undef CORIO__FAST

/* A call of the public name is the inline path; `(corio_coro_send)(...)`
 * or taking the function's address is the exported function. */
#define corio_coro_send(co, value, out) corio__send_fast((co), (value), (out))
#define corio_coro_send_wait(co, value, out, timeout_ns) \
    corio__send_wait_fast((co), (value), (out), (timeout_ns))
#define corio_gen_next(gen, item) corio__next_fast((gen), (item))
#define corio_coro_yield(value, in) corio__yield_fast((value), (in))

#endif /* CORIO__INLINE */

#ifdef __cplusplus
}
#endif
#endif
