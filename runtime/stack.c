/* runtime/stack.c - stack mappings, guards, pools and the overflow report
 * (layout in stack.h; rationale and measurements in docs/stacks.md).
 *
 * Pools, two levels:
 *   - each thread caches free stacks in CACHE_SLOTS slots, one size per
 *     slot, at most cache_limit() stacks each: a hit takes no lock and no
 *     system call;
 *   - one process-wide pool (a mutex, one free list per size class) takes
 *     a full slot's older half and refills an empty slot with half a slot,
 *     so the mutex is taken about once per half a slot of gets or puts.
 * The pool holds at most GLOBAL_MAX stacks and GLOBAL_MAX_BYTES of
 * mappings; a stack past either cap is unmapped.  Past WARM_BYTES, a stack
 * entering the pool gives its pages back first (MADV_DONTNEED, all but the
 * top page, which holds the descriptor).  Stacks are not owned by threads:
 * a stack freed on another thread than the one that mapped it goes to the
 * freeing thread's cache.
 *
 * A failed mapping (ENOMEM from mmap, or from the guard's mprotect once
 * vm.max_map_count is full) unmaps this thread's cache and the whole pool,
 * then is tried once more.  Other threads' caches cannot be drained from
 * here: they are touched only by their owners, without a lock.  They are
 * kept small (CACHE_SLOTS slots of at most CACHE_MAX stacks and about
 * CACHE_BYTES, or one bigger stack) so that what they hold stays small
 * next to the map count.
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
#define ALTSTACK_SIZE (64u * 1024u)

/* Size classes.  Every rounded size up to EXACT_MAX is a class of its own
 * (253 classes, 16 KiB to 1 MiB in pages), so a pooled stack always has
 * exactly the size its request rounds to, as the public headers promise.
 * Above, 4 classes per doubling (1 MiB to CORIO_STACK_MAX: 33 more); a
 * class there may hold stacks of several sizes, and a get takes only one of
 * its own size (a scan, short unless a program mixes nearby sizes > 1 MiB). */
#define EXACT_MAX ((size_t)1 << 20)
#define NEXACT ((EXACT_MAX - CORIO_STACK_MIN) / PAGE + 1)
#define MAX_LOG2 28
#define NCLASS (NEXACT + 4 * (MAX_LOG2 - 20) + 1)
_Static_assert(CORIO_STACK_MAX == (size_t)1 << MAX_LOG2, "size classes assume a 256 MiB maximum");
_Static_assert(EXACT_MAX == (size_t)1 << 20, "the classes above EXACT_MAX start at 2^20");
_Static_assert(sizeof(corio__stack) <= 64, "the descriptor must fit its 64-byte slot");

/* Per-thread cache: CACHE_SLOTS sizes at once, each at most cache_limit()
 * stacks: CACHE_MAX, fewer for big stacks so that a slot's mappings stay
 * near CACHE_BYTES.  These bound what a failed mapping cannot drain. */
#define CACHE_SLOTS 8u
#define CACHE_MAX 64u
#define CACHE_BYTES ((size_t)8 << 20)

/* The process-wide pool: at most GLOBAL_MAX stacks and GLOBAL_MAX_BYTES of
 * mappings (twice GLOBAL_MAX mappings under mprotect guards: 12% of the
 * default vm.max_map_count, and drained by a failed mapping anyway);
 * stacks past WARM_BYTES are kept cold (their pages given back). */
#define GLOBAL_MAX 4096u
#define GLOBAL_MAX_BYTES ((size_t)1 << 30)
#define WARM_BYTES ((size_t)16 << 20)

/* The guard kind new stacks get.  0 = not decided yet.  Relaxed atomics:
 * it is a cache of a fact about the kernel and the environment; any thread
 * that races computes the same value. */
static _Atomic unsigned guard_kind;
static atomic_flag map_count_hint = ATOMIC_FLAG_INIT;

/* Counters for the test hooks, and the injected failures.  Relaxed: each
 * is a count read on its own; nothing else is published through them. */
static _Atomic uint64_t n_maps, n_unmaps, n_cooled;
static _Atomic unsigned fail_maps;

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

static bool injected_failure(void) {
    unsigned n = atomic_load_explicit(&fail_maps, memory_order_relaxed);
    while (n != 0 && !atomic_compare_exchange_weak_explicit(&fail_maps, &n, n - 1,
                                                            memory_order_relaxed,
                                                            memory_order_relaxed)) {
    }
    return n != 0;
}

/* Maps a stack of `usable` (rounded) bytes.  -ENOMEM on failure;
 * *map_count is set when the failure was the guard's mprotect running out
 * of mappings (the hint is due if the retry fails too). */
static int map_stack(size_t usable, corio__stack **out, bool *map_count) {
    if (injected_failure()) return -ENOMEM;
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
        if (errno == ENOMEM) *map_count = true;
        munmap(map, map_size);
        return -ENOMEM;
    }
    atomic_fetch_add_explicit(&n_maps, 1, memory_order_relaxed);
    corio__stack *s = (corio__stack *)(map + map_size - desc);
    s->map = map;
    s->map_size = map_size;
    s->lo = map + PAGE;
    s->size = (size_t)((char *)s - s->lo);
    s->guard = g;
    s->cold = 0;
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
    atomic_fetch_add_explicit(&n_unmaps, 1, memory_order_relaxed);
    munmap(s->map, s->map_size);
}

static size_t unmap_list(corio__stack *s) {
    size_t n = 0;
    while (s != NULL) {
        corio__stack *next = s->next;
        unmap_stack(s);
        s = next;
        n++;
    }
    return n;
}

/* Gives a pooled stack's pages back to the kernel, all but the top page
 * (the descriptor and the stack's first frames) and, under the canary
 * guard, the bottom one (the canary).  MADV_DONTNEED rather than MADV_FREE:
 * the memory leaves the process's RSS at once, and a cooled stack is one the
 * pool had no use for (measurements in docs/stacks.md).  Failure is
 * harmless: the pages simply stay. */
static void cool(corio__stack *s) {
    char *from = s->lo + (s->guard == CORIO__GUARD_CANARY ? PAGE : 0);
    char *to = s->map + s->map_size - PAGE;
    if (madvise(from, (size_t)(to - from), MADV_DONTNEED) == 0)
        atomic_fetch_add_explicit(&n_cooled, 1, memory_order_relaxed);
    s->cold = 1;
}

/* ---- the process-wide pool ------------------------------------------------ */

static unsigned class_of(size_t map_size) {
    size_t r = map_size - 2 * PAGE; /* the rounded size */
    if (r <= EXACT_MAX) return (unsigned)((r - CORIO_STACK_MIN) / PAGE);
    unsigned p = 63u - (unsigned)__builtin_clzll((unsigned long long)r); /* 2^p <= r */
    return (unsigned)(NEXACT + 4 * (p - 20) + ((r - ((size_t)1 << p)) >> (p - 2)));
}

/* Warm stacks at the head of a class (taken first), cold ones appended at
 * the tail (taken last), so that reuse finds pages still in place. */
struct gclass {
    corio__stack *head, *tail;
};

/* count, bytes and warm change only under `lock` (a plain load and store
 * there); they are atomic so that global_put can read them without it, as
 * hints (relaxed: nothing is published through them). */
static struct {
    pthread_mutex_t lock;
    struct gclass cls[NCLASS];
    _Atomic size_t count, bytes, warm;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t rd(_Atomic size_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }
static void wr(_Atomic size_t *v, size_t x) { atomic_store_explicit(v, x, memory_order_relaxed); }

/* Under the lock. */
static void pool_insert(corio__stack *s) {
    struct gclass *c = &pool.cls[class_of(s->map_size)];
    if (s->cold) {
        s->next = NULL;
        if (c->tail != NULL) c->tail->next = s;
        else c->head = s;
        c->tail = s;
    } else {
        s->next = c->head;
        c->head = s;
        if (c->tail == NULL) c->tail = s;
        wr(&pool.warm, rd(&pool.warm) + s->map_size);
    }
    wr(&pool.count, rd(&pool.count) + 1);
    wr(&pool.bytes, rd(&pool.bytes) + s->map_size);
}

/* Moves a list of free stacks (any sizes) into the pool; what the caps
 * leave no room for is unmapped. */
static void global_put(corio__stack *list) {
    if (list == NULL) return;
    /* Cooling is a system call, so it is done before the lock is taken,
     * and it must be: once in the pool, a stack may be taken and run on at
     * once by another thread.  Which stacks to cool is decided from the
     * pool's figures read without the lock: if other threads move stacks
     * meanwhile, the warm part may drift past WARM_BYTES by what they move
     * at the same time, which is harmless; the caps are checked under the
     * lock.  A stack that will probably not fit under the caps is not
     * cooled: it is about to be unmapped. */
    size_t count = rd(&pool.count), bytes = rd(&pool.bytes), warm = rd(&pool.warm);
    for (corio__stack *s = list; s != NULL; s = s->next) {
        s->cold = 0;
        if (count >= GLOBAL_MAX || bytes + s->map_size > GLOBAL_MAX_BYTES) continue;
        count++;
        bytes += s->map_size;
        if (warm + s->map_size <= WARM_BYTES) warm += s->map_size;
        else cool(s);
    }
    corio__stack *drop = NULL;
    pthread_mutex_lock(&pool.lock);
    while (list != NULL) {
        corio__stack *s = list;
        list = s->next;
        if (rd(&pool.count) < GLOBAL_MAX && rd(&pool.bytes) + s->map_size <= GLOBAL_MAX_BYTES) {
            pool_insert(s);
        } else {
            s->next = drop;
            drop = s;
        }
    }
    pthread_mutex_unlock(&pool.lock);
    unmap_list(drop);
}

/* Takes up to `max` stacks of exactly `map_size` from the pool; returns
 * them as a list (NULL: none), *n their number. */
static corio__stack *global_take(size_t map_size, unsigned max, unsigned *n) {
    corio__stack *got = NULL;
    *n = 0;
    struct gclass *c = &pool.cls[class_of(map_size)];
    pthread_mutex_lock(&pool.lock);
    corio__stack **link = &c->head, *prev = NULL;
    while (*link != NULL && *n < max) {
        corio__stack *s = *link;
        if (s->map_size != map_size) { /* another size of a shared class */
            prev = s;
            link = &s->next;
            continue;
        }
        *link = s->next;
        if (c->tail == s) c->tail = prev;
        wr(&pool.count, rd(&pool.count) - 1);
        wr(&pool.bytes, rd(&pool.bytes) - s->map_size);
        if (!s->cold) wr(&pool.warm, rd(&pool.warm) - s->map_size);
        s->next = got;
        got = s;
        ++*n;
    }
    pthread_mutex_unlock(&pool.lock);
    return got;
}

/* ---- the per-thread cache ------------------------------------------------- */

struct slot {
    size_t map_size;   /* the size of the stacks held; stale when len == 0 */
    corio__stack *head; /* LIFO: the most recently used first */
    unsigned len, limit;
};

struct tcache {
    struct slot slot[CACHE_SLOTS];
    unsigned victim;   /* next slot to empty when all hold other sizes */
    unsigned last;     /* the slot found last (a hint) */
    bool registered;   /* corio__stack_thread_fini will run on this thread */
};

static __thread struct tcache tcache;

/* The calling thread's cache.  A plain TLS access: nothing in this file
 * switches contexts, and its functions cannot be inlined into one that does
 * (the library is built without LTO, and the switching functions are
 * CORIO__SWITCHES), so no TLS address outlives a switch (trap 1).  The
 * stack get/put of a task's first turn and end are on the scheduler's hot
 * path: a call and a barrier here cost fib(30) several per cent. */
static inline struct tcache *tcache_here(void) { return &tcache; }

static unsigned cache_limit(size_t map_size) {
    size_t n = CACHE_BYTES / map_size;
    return n < 1 ? 1u : n > CACHE_MAX ? CACHE_MAX : (unsigned)n;
}

/* How many stacks move between a slot and the pool at once: half a slot. */
static unsigned batch_of(unsigned limit) { return limit > 1 ? limit / 2 : 1; }

static struct slot *slot_find(struct tcache *c, size_t map_size) {
    /* The slot used last first: a runtime uses one stack size. */
    struct slot *sl = &c->slot[c->last];
    if (sl->len > 0 && sl->map_size == map_size) return sl;
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        if (c->slot[i].len > 0 && c->slot[i].map_size == map_size) {
            c->last = i;
            return &c->slot[i];
        }
    }
    return NULL;
}

/* The slot for stacks of `map_size`: the one holding them, else an empty
 * one, else one emptied into the pool (round robin). */
static struct slot *slot_claim(struct tcache *c, size_t map_size) {
    /* The slot used last keeps its size while it is empty (one task at a
     * time takes and gives back one stack: its slot goes 1, 0, 1, ...). */
    struct slot *sl = &c->slot[c->last];
    if (sl->map_size == map_size && sl->limit != 0) return sl;
    sl = slot_find(c, map_size);
    if (sl != NULL) return sl;
    if (!c->registered) {
        /* Stacks are about to stay on this thread: make sure its corio
         * state exists, whose destructor runs corio__stack_thread_fini. */
        (void)corio__thread_get();
        c->registered = true;
    }
    for (unsigned i = 0; i < CACHE_SLOTS && sl == NULL; i++)
        if (c->slot[i].len == 0) sl = &c->slot[i];
    if (sl == NULL) {
        sl = &c->slot[c->victim++ % CACHE_SLOTS];
        global_put(sl->head);
    }
    sl->map_size = map_size;
    sl->head = NULL;
    sl->len = 0;
    sl->limit = cache_limit(map_size);
    c->last = (unsigned)(sl - c->slot);
    return sl;
}

/* corio__stack_get and corio__stack_put are split in two: a fast path
 * that handles the slot used last (a runtime uses one stack size, so a
 * task's start and end nearly always land there) and an out-of-line rest.
 * With the rest inlined, gcc -O3 made every call save and restore six
 * callee-saved registers and build a frame for the pool and mapping code
 * (perf annotate of fib30 at 1 worker, where no call leaves the slot). */
static int __attribute__((noinline)) stack_get_slow(struct tcache *c, size_t rounded,
                                                    corio__stack **out) {
    size_t map_size = PAGE + rounded + PAGE;
    struct slot *sl = slot_find(c, map_size);
    if (sl != NULL) {
        corio__stack *s = sl->head;
        sl->head = s->next;
        sl->len--;
        s->next = NULL;
        *out = s;
        return 0;
    }
    unsigned n;
    corio__stack *got = global_take(map_size, batch_of(cache_limit(map_size)), &n);
    if (got != NULL) {
        if (n > 1) {
            sl = slot_claim(c, map_size);
            sl->head = got->next;
            sl->len = n - 1;
        }
        got->next = NULL;
        *out = got;
        return 0;
    }
    bool map_count = false;
    if (map_stack(rounded, out, &map_count) == 0) return 0;
    /* The map count, the address space or the commit limit is full, and
     * pooled stacks hold all three: unmap those this thread and the pool
     * hold, and try once more. */
    corio__stack_drain();
    if (map_stack(rounded, out, &map_count) == 0) return 0;
    if (map_count) map_count_exhausted();
    return -ENOMEM;
}

int corio__stack_get(size_t size, corio__stack **out) {
    if (size > CORIO_STACK_MAX) return -EINVAL;
    size_t rounded = corio__stack_round(size);
    struct tcache *c = tcache_here();
    /* The first test of slot_find, repeated here: a hit in the slot used
     * last takes the top stack (LIFO: the most recently used). */
    struct slot *sl = &c->slot[c->last];
    if (__builtin_expect(sl->len > 0 && sl->map_size == PAGE + rounded + PAGE, 1)) {
        corio__stack *s = sl->head;
        sl->head = s->next;
        sl->len--;
        s->next = NULL;
        *out = s;
        return 0;
    }
    return stack_get_slow(c, rounded, out);
}

/* The rest of corio__stack_put: the slot for s's size is not the one used
 * last, or it is full. */
static void __attribute__((noinline)) stack_put_slow(struct tcache *c, corio__stack *s) {
    struct slot *sl = slot_claim(c, s->map_size);
    if (sl->len >= sl->limit) {
        /* Full: the older stacks of the slot go to the pool in one batch,
         * the most recently used (warmest) stay. */
        unsigned keep = sl->limit - batch_of(sl->limit);
        corio__stack *old;
        if (keep == 0) {
            old = sl->head;
            sl->head = NULL;
        } else {
            corio__stack *last = sl->head;
            for (unsigned i = 1; i < keep; i++) last = last->next;
            old = last->next;
            last->next = NULL;
        }
        sl->len = keep;
        global_put(old);
    }
    s->next = sl->head;
    sl->head = s;
    sl->len++;
}

void corio__stack_put(corio__stack *s) {
#if defined(CORIO_ASAN)
    /* A coroutine destroyed while suspended leaves its frames' redzones
     * poisoned; a reuse of this memory would report false overflows. */
    ASAN_UNPOISON_MEMORY_REGION(s->lo, s->size);
#endif
    if (s->guard == CORIO__GUARD_CANARY) *(uint64_t *)s->lo = CORIO__STACK_CANARY;
    struct tcache *c = tcache_here();
    /* The first test of slot_claim (the slot used last keeps its size
     * while empty), plus room in it: then the stack just goes on top. */
    struct slot *sl = &c->slot[c->last];
    if (__builtin_expect(sl->map_size == s->map_size && sl->limit != 0 && sl->len < sl->limit, 1)) {
        s->next = sl->head;
        sl->head = s;
        sl->len++;
        return;
    }
    stack_put_slow(c, s);
}

size_t corio__stack_drain(void) {
    struct tcache *c = tcache_here();
    size_t n = 0;
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        n += unmap_list(c->slot[i].len > 0 ? c->slot[i].head : NULL);
        c->slot[i].head = NULL;
        c->slot[i].len = 0;
    }
    corio__stack *all = NULL;
    pthread_mutex_lock(&pool.lock);
    for (unsigned k = 0; k < NCLASS; k++) {
        struct gclass *g = &pool.cls[k];
        if (g->head == NULL) continue;
        g->tail->next = all;
        all = g->head;
        g->head = g->tail = NULL;
    }
    wr(&pool.count, 0);
    wr(&pool.bytes, 0);
    wr(&pool.warm, 0);
    pthread_mutex_unlock(&pool.lock);
    return n + unmap_list(all);
}

/* ---- test hooks ------------------------------------------------------------ */

void corio__stack_test_stats(size_t size, corio__stack_stats *out) {
    size_t map_size = PAGE + corio__stack_round(size) + PAGE;
    memset(out, 0, sizeof *out);
    out->maps = atomic_load_explicit(&n_maps, memory_order_relaxed);
    out->unmaps = atomic_load_explicit(&n_unmaps, memory_order_relaxed);
    out->cooled = atomic_load_explicit(&n_cooled, memory_order_relaxed);
    struct tcache *c = tcache_here();
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        out->cached += c->slot[i].len;
        if (c->slot[i].len > 0 && c->slot[i].map_size == map_size) out->cached_size = c->slot[i].len;
    }
    out->cache_max = cache_limit(map_size);
    out->global_max = GLOBAL_MAX;
    out->global_max_bytes = GLOBAL_MAX_BYTES;
    out->warm_max = WARM_BYTES;
    pthread_mutex_lock(&pool.lock);
    out->global_count = rd(&pool.count);
    out->global_bytes = rd(&pool.bytes);
    out->global_warm = rd(&pool.warm);
    for (corio__stack *s = pool.cls[class_of(map_size)].head; s != NULL; s = s->next)
        out->global_size += s->map_size == map_size;
    pthread_mutex_unlock(&pool.lock);
}

void corio__stack_test_fail_maps(unsigned n) {
    atomic_store_explicit(&fail_maps, n, memory_order_relaxed);
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
    /* The cache goes to the pool (past its caps, to the kernel), where
     * other threads can use it. */
    struct tcache *c = tcache_here();
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        if (c->slot[i].len > 0) global_put(c->slot[i].head);
        c->slot[i].head = NULL;
        c->slot[i].len = 0;
    }
    c->registered = false;
    corio__thread *t = corio__thread_peek();
    if (t == NULL) return;
    if (t->altstack != NULL) {
        stack_t ss = {.ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0};
        sigaltstack(&ss, NULL);
        munmap(t->altstack, t->altstack_size);
        t->altstack = NULL;
    }
}
