/* runtime/coro.c - coroutine and generator semantics on top of
 * runtime/context.c: create (primed), send, next, throw, close, destroy.
 *
 * Ownership rule: a coroutine is resumed only by whoever wins the CAS of its
 * state from CREATED/SUSPENDED to RUNNING.  That resumer alone touches its
 * fields until it stores SUSPENDED or FINISHED again (release), *after* the
 * switch back, i.e. after the coroutine's stack pointer was saved.  So a
 * second resumer on another thread gets -EBUSY instead of jumping to a
 * stack that is still in use (the course's crash), and a resumer in
 * the coroutine's own chain gets -EDEADLK.
 */
#include "runtime/coro.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "corio/sync.h"
#include "runtime/asym.h"
#include "runtime/panic.h"

/* The inline fast path (corio/coro_fast.h) sees the head of corio_coro as
 * struct corio__coro_head: the two must agree field for field. */
#define HEAD_SAME(f)                                                                    \
    _Static_assert(offsetof(corio_coro, f) == offsetof(struct corio__coro_head, f) &&   \
                       sizeof(((corio_coro *)0)->f) == sizeof(((struct corio__coro_head *)0)->f), \
                   "corio_coro and corio__coro_head differ at " #f)
HEAD_SAME(ctx);
HEAD_SAME(state);
HEAD_SAME(fast);
HEAD_SAME(caller);
HEAD_SAME(transfer);
HEAD_SAME(code);
HEAD_SAME(returned);
HEAD_SAME(waiters);
_Static_assert(offsetof(corio__thread, current) == 0, "the fast path reads current at 0");
_Static_assert(CORIO_CORO_SUSPENDED == 1 && CORIO_CORO_RUNNING == 2 && CORIO__CTX_CORO == 1,
               "corio/coro_fast.h spells these values out");

static _Atomic uint64_t next_id = 1; /* relaxed: only uniqueness matters */

static void coro_entry(corio__ctx *self) {
    corio_coro *co = (corio_coro *)self;
    void *r = co->fn(co->arg);
    co->transfer = r;
    co->returned = true;
    /* co->caller is whoever resumed us last; it frees our stack. */
    corio__ctx_exit(corio__thread_get(), self, co->caller, NULL, NULL);
}

/* Is `co` on the chain of contexts the caller is running in? */
static bool in_my_chain(const corio_coro *co) {
    const corio__ctx *c = corio__thread_get()->current;
    while (c != NULL && c->kind == CORIO__CTX_CORO) {
        if (c == &co->ctx) return true;
        c = ((const corio_coro *)c)->caller;
    }
    return false;
}

__attribute__((always_inline)) static inline int acquire(corio_coro *co, int *prev) {
    /* acquire on success: pairs with the release that ended the last
     * resume, so we see the coroutine's saved context and data.  The first
     * attempt guesses SUSPENDED, the common case, and saves a load. */
    int st = CORIO_CORO_SUSPENDED;
    for (;;) {
        if (st == CORIO_CORO_FINISHED) return -EPIPE;
        if (st == CORIO_CORO_RUNNING) return in_my_chain(co) ? -EDEADLK : -EBUSY;
        if (atomic_compare_exchange_weak_explicit(&co->state, &st, CORIO_CORO_RUNNING,
                                                  memory_order_acq_rel, memory_order_acquire))
            break;
    }
    *prev = st;
    return 0;
}

/* The end of a resume: store `next` (SUSPENDED or FINISHED).  release:
 * publishes the saved context and the coroutine's data to the next
 * resumer.  Then the light side of an asymmetric Dekker pair with the
 * synchronized send's waiters (turn.c, runtime/asym.h): a waiter stores
 * `waiters` and then loads `state` behind a membarrier; the light fence
 * (a compiler barrier) and this load make sure that either the waiter
 * sees our store (and takes the coroutine itself) or we see its flag (and
 * hand the coroutine to the first waiter).  The uncontended cost over a
 * plain store is this one load, never a locked instruction.
 *
 * The load reads the coroutine after it was given back: callers must not
 * destroy a coroutine while a call on it is still in progress (they may
 * once every call has returned), documented in corio/coro.h. */
__attribute__((always_inline)) static inline void release(corio_coro *co, int next) {
    atomic_store_explicit(&co->state, next, memory_order_release);
    corio__asym_light();
    if (__builtin_expect(atomic_load_explicit(&co->waiters, memory_order_relaxed) != 0, 0))
        corio__turn_kick(co);
}

static void finish(corio_coro *co, void *result) {
    corio__ctx_release(&co->ctx);
    co->transfer = result;
    co->returned = true;
    release(co, CORIO_CORO_FINISHED);
}

/* Inlined into each entry point: one call level less between the user's
 * loop and the jump is one mispredicted return less per switch.  The
 * caller owns `co` (RUNNING); prev is the state it took it from. */
__attribute__((always_inline)) static inline int resume_owned(corio_coro *co, int prev, int code,
                                                              void *value, void **out) {
    if (prev == CORIO_CORO_CREATED && code != 0) {
        /* throw/close before the body ever ran: it ends without running. */
        finish(co, NULL);
        if (out != NULL) *out = NULL;
        return CORIO_FINISHED;
    }
    corio__thread *t = corio__thread_here(); /* not used after the switch */
    corio__ctx *me = t->current;
    co->caller = me;
    co->code = code;
    co->transfer = value;
    corio__ctx_switch(t, me, &co->ctx, NULL, NULL);
    /* Back: it yielded or returned.  We may be on another thread now if our
     * chain was suspended by the scheduler meanwhile; nothing cached. */
    void *v = co->transfer;
    if (out != NULL) *out = v;
    if (co->returned) {
        finish(co, v);
        return CORIO_FINISHED;
    }
    release(co, CORIO_CORO_SUSPENDED);
    return CORIO_YIELDED;
}

__attribute__((always_inline)) static inline int resume(corio_coro *co, int code, void *value,
                                                        void **out) {
    if (co == NULL) return -EINVAL;
    int prev;
    int r = acquire(co, &prev);
    if (r < 0) return r;
    return resume_owned(co, prev, code, value, out);
}

/* The synchronized form: a busy coroutine is waited for (turn.c). */
__attribute__((always_inline)) static inline int resume_wait(corio_coro *co, int code, void *value,
                                                             void **out, int64_t timeout_ns) {
    if (co == NULL) return -EINVAL;
    int prev;
    /* Callers queued: take a place behind them, never overtake (relaxed:
     * a flag set concurrently is an arrival at the same time). */
    int r;
    if (atomic_load_explicit(&co->waiters, memory_order_relaxed) != 0)
        r = in_my_chain(co) ? -EDEADLK : -EBUSY; /* the cycle first */
    else
        r = acquire(co, &prev);
    if (r == -EBUSY) r = corio__turn_wait(co, corio__deadline(timeout_ns), &prev);
    if (r < 0) return r;
    return resume_owned(co, prev, code, value, out);
}

/* May the inline path of corio/coro_fast.h take a coroutine on stack `s`?
 * Not when the switch must do more than jump: sanitizer annotations, the
 * canary check of canary-guarded stacks, a full fence where membarrier is
 * missing (the inline light fence is a compiler barrier only). */
static int fast_ok(const corio__stack *s) {
#if defined(CORIO_ASAN) || defined(CORIO_TSAN)
    (void)s;
    return 0;
#else
    if (s->guard == CORIO__GUARD_CANARY) return 0;
    if (!atomic_load_explicit(&corio__asym_ok, memory_order_relaxed)) return 0;
    /* CORIO_NO_INLINE=1 in the environment turns it off (the tests run
     * both paths); read once (relaxed: every thread computes the same). */
    static _Atomic int env = -1;
    int v = atomic_load_explicit(&env, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("CORIO_NO_INLINE");
        v = e == NULL || *e == '\0' || *e == '0';
        atomic_store_explicit(&env, v, memory_order_relaxed);
    }
    return v;
#endif
}

static int create(corio_coro **out, corio_coro_fn fn, void *arg, const corio_coro_opts *opts,
                  bool prime) {
    if (out == NULL || fn == NULL) return -EINVAL;
    size_t size = opts != NULL ? opts->stack_size : 0;
    if (size > CORIO_STACK_MAX) return -EINVAL;
    corio_coro *co = calloc(1, sizeof *co);
    if (co == NULL) return -ENOMEM;
    corio__stack *s;
    int r = corio__stack_get(size, &s);
    if (r < 0) {
        free(co);
        return r;
    }
    uint64_t id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    corio__ctx_make(&co->ctx, s, coro_entry, CORIO__CTX_CORO, id);
    co->fn = fn;
    co->arg = arg;
    co->ctx.name = opts != NULL ? opts->name : NULL;
    atomic_init(&co->state, CORIO_CORO_CREATED);
    /* The light side of release() is a compiler barrier only once
     * membarrier is registered (else a full fence): register it before
     * the first coroutine exists (once per process). */
    corio__asym_init();
    co->fast = fast_ok(s);
    corio__spin_init(&co->turn_lock);
    atomic_init(&co->waiters, 0);
    if (prime) {
        r = resume(co, 0, NULL, NULL);
        if (r < 0) corio__panic(__func__, "priming a fresh coroutine failed", id);
    }
    *out = co;
    return 0;
}

int corio_coro_create(corio_coro **co, corio_coro_fn fn, void *arg, const corio_coro_opts *opts) {
    return create(co, fn, arg, opts, true);
}

int corio_gen_create(corio_coro **gen, corio_coro_fn fn, void *arg,
                     const corio_coro_opts *opts) {
    return create(gen, fn, arg, opts, false);
}

CORIO__SWITCHES int(corio_coro_send)(corio_coro *co, void *value, void **out) {
    return resume(co, 0, value, out);
}

CORIO__SWITCHES int(corio_gen_next)(corio_coro *gen, void **item) {
    void *v;
    int r = resume(gen, 0, NULL, &v);
    if (r == CORIO_YIELDED) {
        if (item != NULL) *item = v;
        return 1;
    }
    return r == CORIO_FINISHED ? 0 : r;
}

CORIO__SWITCHES int corio_coro_throw(corio_coro *co, int err, void **out) {
    if (err >= 0 || err == -ECANCELED) return -EINVAL;
    return resume(co, err, NULL, out);
}

CORIO__SWITCHES int corio_coro_close(corio_coro *co) {
    if (co == NULL) return -EINVAL;
    int r = resume(co, -ECANCELED, NULL, NULL);
    if (r == CORIO_FINISHED || r == -EPIPE) return 0;
    if (r == CORIO_YIELDED) return -EPROTO; /* it ignored the close */
    return r;
}

CORIO__SWITCHES int(corio_coro_send_wait)(corio_coro *co, void *value, void **out,
                                          int64_t timeout_ns) {
    return resume_wait(co, 0, value, out, timeout_ns);
}

CORIO__SWITCHES int corio_coro_throw_wait(corio_coro *co, int err, void **out,
                                           int64_t timeout_ns) {
    if (err >= 0 || err == -ECANCELED) return -EINVAL;
    return resume_wait(co, err, NULL, out, timeout_ns);
}

CORIO__SWITCHES int corio_coro_close_wait(corio_coro *co, int64_t timeout_ns) {
    if (co == NULL) return -EINVAL;
    int r = resume_wait(co, -ECANCELED, NULL, NULL, timeout_ns);
    if (r == CORIO_FINISHED || r == -EPIPE) return 0;
    if (r == CORIO_YIELDED) return -EPROTO;
    return r;
}

int corio_coro_destroy(corio_coro *co) {
    if (co == NULL) return 0;
    int st = atomic_load_explicit(&co->state, memory_order_acquire);
    if (st == CORIO_CORO_RUNNING) return -EBUSY;
    int r = 0;
    if (st != CORIO_CORO_FINISHED) {
        r = corio_coro_close(co);
        if (r == -EBUSY || r == -EDEADLK) return r;
        if (atomic_load_explicit(&co->state, memory_order_acquire) != CORIO_CORO_FINISHED)
            corio__ctx_release(&co->ctx); /* refused to close: abandon its frames */
    }
    free(co);
    return r;
}

int corio_coro_state(const corio_coro *co) {
    if (co == NULL) return -EINVAL;
    return atomic_load_explicit(&((corio_coro *)co)->state, memory_order_acquire);
}

int corio_coro_result(const corio_coro *co, void **out) {
    if (co == NULL) return -EINVAL;
    if (atomic_load_explicit(&((corio_coro *)co)->state, memory_order_acquire) !=
        CORIO_CORO_FINISHED)
        return -EAGAIN;
    if (out != NULL) *out = co->transfer;
    return 0;
}

/* The slow ends of the inline path's resume. */
int corio__coro_ended(corio_coro *co, void *value) {
    finish(co, value);
    return CORIO_FINISHED;
}

void corio__coro_kick(corio_coro *co) { corio__turn_kick(co); }

uint64_t corio_coro_id(const corio_coro *co) { return co != NULL ? co->ctx.id : 0; }

CORIO__SWITCHES int(corio_coro_yield)(void *value, void **in) {
    corio__thread *t = corio__thread_here(); /* not used after the switch */
    corio__ctx *me = t->current;
    if (me->kind != CORIO__CTX_CORO) return -EPERM;
    corio_coro *co = (corio_coro *)me;
    co->transfer = value;
    corio__ctx_switch(t, me, co->caller, NULL, NULL);
    if (in != NULL) *in = co->transfer;
    return co->code;
}

corio_coro *corio_coro_self(void) {
    corio__ctx *me = corio__thread_get()->current;
    return me->kind == CORIO__CTX_CORO ? (corio_coro *)me : NULL;
}
