/* runtime/stack.c - stack mappings, guards, per-thread pools and the
 * overflow report (layout in stack.h; rationale in docs/stacks.md).
 *
 * Pools: each thread keeps up to POOL_MAX free stacks of the default size.
 * A stack freed on another thread than the one that mapped it simply joins
 * the freeing thread's pool; stacks are not owned by threads.  The fast
 * path (pool hit) makes no system call.
 *
 * Overflow: a process-wide SIGSEGV/SIGBUS handler runs on a per-thread
 * alternate stack.  If the fault address lies in the guard page of the
 * stack the thread is running on, it writes
 *   corio: stack overflow in coroutine <id> (stack <size> bytes)
 * with write(2) and aborts; any other fault goes to the previous handler.
 */
#include "runtime/stack.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "corio/coro.h"
#include "runtime/context.h"
#include "runtime/panic.h"

#if defined(CORIO_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORIO_HAVE_VALGRIND 1
#endif
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

#define PAGE 4096u
#define POOL_MAX 1024u
#define ALTSTACK_SIZE (64u * 1024u)

/* The guard kind new stacks get.  0 = not decided yet.  Relaxed atomics:
 * it is a cache of a fact about the kernel and the environment; any thread
 * that races computes the same value. */
static _Atomic unsigned guard_kind;
static atomic_flag map_count_hint = ATOMIC_FLAG_INIT;

static unsigned decide_guard(void) {
    unsigned g = atomic_load_explicit(&guard_kind, memory_order_relaxed);
    if (g != 0) return g;
    const char *e = getenv("CORIO_STACK_GUARD");
    if (e != NULL && strcmp(e, "canary") == 0) g = CORIO__GUARD_CANARY;
    else if (e != NULL && strcmp(e, "mprotect") == 0) g = CORIO__GUARD_MPROTECT;
    else g = CORIO__GUARD_MADVISE; /* probed at the first mapping */
    atomic_store_explicit(&guard_kind, g, memory_order_relaxed);
    return g;
}

unsigned corio__stack_guard_kind(void) { return decide_guard(); }

size_t corio__stack_round(size_t size) {
    if (size == 0) size = CORIO_STACK_DEFAULT;
    if (size < CORIO_STACK_MIN) size = CORIO_STACK_MIN;
    return (size + PAGE - 1) & ~(size_t)(PAGE - 1);
}

static void map_count_exhausted(void) {
    if (atomic_flag_test_and_set_explicit(&map_count_hint, memory_order_relaxed)) return;
    corio__write_str(2,
        "corio: cannot guard another coroutine stack: the kernel lacks MADV_GUARD_INSTALL "
        "(Linux 6.13+) and mprotect guards need two mappings per stack, so vm.max_map_count "
        "caps live stacks at about half of it.  Raise it (sysctl vm.max_map_count=1048576) "
        "or run with CORIO_STACK_GUARD=canary.\n");
}

static int map_stack(size_t usable, corio__stack **out) {
    unsigned g = decide_guard();
    /* The descriptor takes the top 64 bytes of the last page. */
    size_t desc = (sizeof(corio__stack) + 63) & ~(size_t)63;
    size_t map_size = PAGE + usable + PAGE;
    char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) return -ENOMEM;
    if (g == CORIO__GUARD_MADVISE) {
        if (madvise(map, PAGE, MADV_GUARD_INSTALL) != 0) {
            /* EINVAL: kernel without guard regions.  Fall back for good. */
            g = CORIO__GUARD_MPROTECT;
            atomic_store_explicit(&guard_kind, g, memory_order_relaxed);
        }
    }
    if (g == CORIO__GUARD_MPROTECT && mprotect(map, PAGE, PROT_NONE) != 0) {
        int err = errno;
        munmap(map, map_size);
        if (err == ENOMEM) map_count_exhausted();
        return -ENOMEM;
    }
    corio__stack *s = (corio__stack *)(map + map_size - desc);
    s->map = map;
    s->map_size = map_size;
    s->lo = map + PAGE;
    s->size = (size_t)((char *)s - s->lo);
    s->guard = g;
    s->next = NULL;
#if defined(CORIO_HAVE_VALGRIND)
    s->vg_id = VALGRIND_STACK_REGISTER(s->lo, s->lo + s->size);
#else
    s->vg_id = 0;
#endif
    if (g == CORIO__GUARD_CANARY) *(uint64_t *)s->lo = CORIO__STACK_CANARY;
    *out = s;
    return 0;
}

static void unmap_stack(corio__stack *s) {
#if defined(CORIO_HAVE_VALGRIND)
    VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
    munmap(s->map, s->map_size);
}

int corio__stack_get(size_t size, corio__stack **out) {
    if (size > CORIO_STACK_MAX) return -EINVAL;
    size_t rounded = corio__stack_round(size);
    if (rounded == CORIO_STACK_DEFAULT) {
        corio__thread *t = corio__thread_get();
        corio__stack *s = t->pool;
        if (s != NULL) {
            t->pool = s->next;
            t->pool_len--;
            s->next = NULL;
            *out = s;
            return 0;
        }
    }
    return map_stack(rounded, out);
}

void corio__stack_put(corio__stack *s) {
#if defined(CORIO_ASAN)
    /* A coroutine destroyed while suspended leaves its frames' redzones
     * poisoned; a reuse of this memory would report false overflows. */
    ASAN_UNPOISON_MEMORY_REGION(s->lo, s->size);
#endif
    if (s->guard == CORIO__GUARD_CANARY) *(uint64_t *)s->lo = CORIO__STACK_CANARY;
    corio__thread *t = corio__thread_get();
    if (s->map_size == PAGE + CORIO_STACK_DEFAULT + PAGE && t->pool_len < POOL_MAX) {
        s->next = t->pool;
        t->pool = s;
        t->pool_len++;
        return;
    }
    unmap_stack(s);
}

/* ---- overflow report --------------------------------------------------- */

static struct sigaction old_segv, old_bus;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

static void report_overflow(const char *kind, uint64_t id, size_t size, const char *name) {
    corio__write_str(2, "corio: stack overflow in ");
    corio__write_str(2, kind);
    corio__write_str(2, " ");
    corio__write_u64(2, id);
    corio__write_str(2, " (stack ");
    corio__write_u64(2, size);
    corio__write_str(2, " bytes)");
    if (name != NULL) {
        corio__write_str(2, " \"");
        corio__write_str(2, name);
        corio__write_str(2, "\"");
    }
    corio__write_str(2, "\n");
    signal(SIGABRT, SIG_DFL);
    abort();
}

static const char *kind_name(unsigned kind) {
    return kind == CORIO__CTX_TASK ? "task" : "coroutine";
}

void corio__stack_check(const corio__stack *s, const char *kind, uint64_t id, const char *name) {
    if (*(const uint64_t *)s->lo != CORIO__STACK_CANARY) report_overflow(kind, id, s->size, name);
}

static void chain(int sig, siginfo_t *si, void *uc) {
    struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction != NULL) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: restore it and return; the faulting instruction runs
     * again and the process dies of the signal as it would have. */
    signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
    corio__thread *t = corio__thread_peek();
    if (t != NULL && t->current != NULL && t->current->stack != NULL) {
        const corio__stack *s = t->current->stack;
        const char *a = si->si_addr;
        if (a >= s->map && a < s->lo) report_overflow(kind_name(t->current->kind), t->current->id, s->size,
                                                t->current->name);
    }
    chain(sig, si, uc);
}

static void install_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

void corio__stack_thread_init(void) {
    pthread_once(&handler_once, install_handler);
    corio__thread *t = corio__thread_peek();
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return; /* someone has one */
    void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return; /* overflow then kills without the message */
    stack_t ss = {.ss_sp = mem, .ss_flags = 0, .ss_size = ALTSTACK_SIZE};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, ALTSTACK_SIZE);
        return;
    }
    t->altstack = mem;
    t->altstack_size = ALTSTACK_SIZE;
}

void corio__stack_thread_fini(void) {
    corio__thread *t = corio__thread_peek();
    if (t == NULL) return;
    while (t->pool != NULL) {
        corio__stack *s = t->pool;
        t->pool = s->next;
        unmap_stack(s);
    }
    t->pool_len = 0;
    if (t->altstack != NULL) {
        stack_t ss = {.ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0};
        sigaltstack(&ss, NULL);
        munmap(t->altstack, t->altstack_size);
        t->altstack = NULL;
    }
}
