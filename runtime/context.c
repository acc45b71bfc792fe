/* runtime/context.c - the stack switch, and the only caller of fcontext.
 *
 * Each switch passes a `struct corio__sw` that lives on the suspending
 * side's stack (it stays valid while that side is suspended).  The side
 * that resumes reads it in corio__ctx_arrived(): it stores the suspended side's fcontext,
 * finishes the sanitizer fiber switch, updates the thread's current
 * context, and then runs the `after` hook.  The switch itself is inlined
 * from context.h into its callers: each function level between a caller
 * and jump_fcontext costs a mispredicted return after every switch.  Because the hook runs only once
 * the suspended side's fcontext is stored, a hook that publishes "this
 * context may be resumed" can never let another thread jump to a stale
 * stack pointer (DESIGN trap 2, Go's gopark(unlockf)).
 *
 * Sanitizers (DESIGN trap 8):
 *   ASan: __sanitizer_start_switch_fiber(&from->asan_fake, to bounds) before
 *         each jump, __sanitizer_finish_switch_fiber(self->asan_fake) after;
 *         NULL save on the final exit so the fake stack is freed, NULL
 *         restore on first entry.
 *   TSan: __tsan_switch_to_fiber(to, 0) immediately before each jump; flag
 *         0 keeps the happens-before edge a hand-off implies.
 *   valgrind: stacks are registered in runtime/stack.c.
 */
#define _GNU_SOURCE 1
#include "runtime/context.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/panic.h"


/* initial-exec: the overflow signal handler reads it, and the TLS block of a
 * library loaded at start-up is static anyway. */
__thread corio__thread *corio__tls_thread __attribute__((tls_model("initial-exec")));
#define tls_thread corio__tls_thread

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_destroy(void *p) {
    corio__thread *t = p;
    corio__stack_thread_fini();
    tls_thread = NULL;
    free(t);
}

static void make_key(void) {
    if (pthread_key_create(&thread_key, thread_destroy) != 0)
        corio__panic(__func__, "pthread_key_create failed", 0);
}

static corio__thread *thread_init(void) {
    pthread_once(&thread_key_once, make_key);
    corio__thread *t = calloc(1, sizeof *t);
    if (t == NULL) corio__panic(__func__, "out of memory for per-thread state", 0);
    t->root.kind = CORIO__CTX_ROOT;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        void *lo = NULL;
        size_t sz = 0;
        pthread_attr_getstack(&a, &lo, &sz);
        t->root.stack_lo = lo;
        t->root.stack_size = sz;
        pthread_attr_destroy(&a);
    }
#if defined(CORIO_TSAN)
    t->root.tsan_fiber = __tsan_get_current_fiber();
#endif
    t->current = &t->root;
    tls_thread = t;
    pthread_setspecific(thread_key, t);
    corio__stack_thread_init();
    return t;
}

/* noinline + the asm barrier: the compiler must not keep the TLS address
 * from before a switch (trap 1).  noipa (gcc) also stops it from deducing
 * that the function has no side effects. */
#if defined(__clang__)
__attribute__((noinline))
#else
__attribute__((noinline, noipa))
#endif
corio__thread *corio__thread_get(void) {
    corio__thread *t = tls_thread;
    if (__builtin_expect(t == NULL, 0)) t = thread_init();
    __asm__ volatile("" : "+r"(t));
    return t;
}

/* The exported name of corio__thread_get, for the inline fast path of
 * corio/coro_fast.h: the same function (an alias), with its barriers. */
CORIO_API corio__thread *corio__thread_self(void) __attribute__((alias("corio__thread_get")));

/* corio__jump: jump_fcontext under the runtime's own exported name, for the
 * inline fast path (the shared library keeps Boost's symbols out of its
 * ABI).  A tail jump: no frame, no return of its own, so the switch's
 * return-address behaviour is jump_fcontext's alone. */
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl corio__jump\n"
        ".type corio__jump, @function\n"
        ".p2align 4\n"
        "corio__jump:\n"
        "\tjmp jump_fcontext@PLT\n"
        ".size corio__jump, .-corio__jump\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl corio__jump\n"
        ".type corio__jump, %function\n"
        ".p2align 4\n"
        "corio__jump:\n"
        "\tb jump_fcontext\n"
        ".size corio__jump, .-corio__jump\n");
#else
corio__jumped corio__jump(void *to, void *data) {
    transfer_t t = jump_fcontext(to, data);
    corio__jumped j = {t.fctx, t.data};
    return j;
}
#endif

#if defined(__clang__)
__attribute__((noinline))
#else
__attribute__((noinline, noipa))
#endif
corio__thread *corio__thread_peek(void) {
    corio__thread *t = tls_thread;
    __asm__ volatile("" : "+r"(t));
    return t;
}

static void trampoline(transfer_t t) {
    struct corio__sw *s = t.data;
    corio__ctx *self = s->to;
    corio__ctx_arrived(t, self, 1);
    self->entry(self);
    corio__panic(__func__, "context entry returned", self->id);
}

void corio__ctx_make(corio__ctx *c, corio__stack *s, corio__ctx_entry entry,
                     unsigned kind, uint64_t id) {
    memset(c, 0, sizeof *c);
    c->stack = s;
    c->stack_lo = s->lo;
    c->stack_size = s->size;
    c->entry = entry;
    c->kind = kind;
    c->id = id;
    c->fctx = make_fcontext(s->lo + s->size, s->size, trampoline);
#if defined(CORIO_TSAN)
    c->tsan_fiber = __tsan_create_fiber(0);
#endif
}

void corio__ctx_release(corio__ctx *c) {
#if defined(CORIO_TSAN)
    if (c->tsan_fiber != NULL) __tsan_destroy_fiber(c->tsan_fiber);
    c->tsan_fiber = NULL;
#endif
    if (c->stack != NULL) corio__stack_put(c->stack);
    c->stack = NULL;
    c->fctx = NULL;
}

/* Not ASan-instrumented: with detect_stack_use_after_return, `s` would live
 * on this fiber's fake stack, which the final start_switch_fiber(NULL)
 * frees before the resumed side reads it.  On the real stack it stays
 * valid until the context is released. */
#if defined(CORIO_ASAN)
__attribute__((no_sanitize("address")))
#endif
void corio__ctx_exit(corio__thread *t, corio__ctx *from, corio__ctx *to, corio__after_fn after,
                     void *arg) {
    struct corio__sw s = {from, to, after, arg, t};
    CORIO_ASSERT(to->fctx != NULL, "exit to a context that is not suspended", to->id);
    corio__before_jump(from, to, 1);
    void *target = to->fctx;
    to->fctx = NULL;
    jump_fcontext(target, &s);
    corio__panic(__func__, "a finished context was resumed", from->id);
}
