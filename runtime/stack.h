/* runtime/stack.h - coroutine stacks: allocation, guard, pools (a small
 * cache per thread in front of one process-wide pool, by size class), and
 * the stack-overflow report.
 *
 * A stack is one anonymous mapping:
 *
 *     map                lo                                   top
 *     | guard (1 page)   | usable stack (grows down)  | desc  |
 *
 * The descriptor lives in the top bytes of the mapping, so a stack costs no
 * malloc.  The guard is installed with madvise(MADV_GUARD_INSTALL) where the
 * kernel has it (6.13+; it does not split the mapping), with mprotect
 * otherwise (two mappings per stack, so vm.max_map_count caps the number of
 * live stacks at about 32k), or replaced by a canary word checked on every
 * switch (CORIO_STACK_GUARD=canary; no mapping split, weaker detection).
 * See docs/stacks.md. */
#ifndef CORIO_RUNTIME_STACK_H
#define CORIO_RUNTIME_STACK_H

#include <stddef.h>
#include <stdint.h>

enum corio__guard {
    CORIO__GUARD_MADVISE = 1, /* MADV_GUARD_INSTALL page */
    CORIO__GUARD_MPROTECT = 2, /* PROT_NONE page (splits the mapping) */
    CORIO__GUARD_CANARY = 3,   /* no guard page; canary word at lo */
};

#define CORIO__STACK_CANARY 0xC0410C0FFEE5EA1DULL

typedef struct corio__stack {
    char *map;        /* start of the mapping */
    size_t map_size;  /* whole mapping */
    char *lo;         /* lowest usable byte (just above the guard) */
    size_t size;      /* usable bytes, from lo up to the descriptor */
    unsigned guard;   /* enum corio__guard */
    unsigned vg_id;   /* valgrind stack id */
    unsigned cold;    /* in the process-wide pool with its pages given back */
    struct corio__stack *next; /* free-list link while pooled */
} corio__stack;

/* Get a stack of `size` bytes (0: the default; rounded as by
 * corio__stack_round) from this thread's cache, the process-wide pool, or a
 * new mapping.  A failed mapping is retried once after corio__stack_drain.
 * Returns 0 or -ENOMEM / -EINVAL. */
int corio__stack_get(size_t size, corio__stack **out);

/* Give a stack back, from any thread (whatever thread it came from): into
 * the calling thread's cache, whose overflow moves in batches to the
 * process-wide pool, past whose cap stacks are unmapped. */
void corio__stack_put(corio__stack *s);

/* Unmap every stack in the calling thread's cache and in the process-wide
 * pool; returns how many.  Other threads' caches are not touched (only
 * their owners may).  corio__stack_get calls it when a mapping fails. */
size_t corio__stack_drain(void);

/* The usable size a request of `size` bytes gets (page-rounded, clamped). */
size_t corio__stack_round(size_t size);

/* Checks the canary of a canary-guarded stack; panics with the overflow
 * message naming `kind` and `id` if it is gone. */
void corio__stack_check(const corio__stack *s, const char *kind, uint64_t id, const char *name);

/* Per-thread setup / teardown, called by runtime/context.c: the alternate
 * signal stack for the overflow handler; at teardown the thread's cache
 * also goes to the process-wide pool. */
void corio__stack_thread_init(void);
void corio__stack_thread_fini(void);

/* Test hook: the guard kind new stacks get (enum corio__guard). */
unsigned corio__stack_guard_kind(void);

/* ---- test hooks (tests/test_stack.cc) ---------------------------------- */

typedef struct corio__stack_stats {
    uint64_t maps;          /* stacks mapped by this process so far */
    uint64_t unmaps;        /* stacks unmapped so far */
    uint64_t cooled;        /* pooled stacks whose pages were given back */
    size_t cached;          /* stacks in the calling thread's cache */
    size_t cached_size;     /* of those, of the size asked about */
    size_t cache_max;       /* the per-thread limit for that size */
    size_t global_count;    /* stacks in the process-wide pool */
    size_t global_bytes;    /* their mappings, in bytes */
    size_t global_warm;     /* bytes of those not cooled */
    size_t global_size;     /* stacks of the size asked about there */
    size_t global_max;      /* cap on global_count */
    size_t global_max_bytes; /* cap on global_bytes */
    size_t warm_max;        /* global_warm past which stacks are cooled */
} corio__stack_stats;

/* Counters and pool contents, for stacks of `size` bytes (as for
 * corio__stack_get) where a field is per size. */
void corio__stack_test_stats(size_t size, corio__stack_stats *out);

/* Make the next `n` stack mappings fail as a full address space would. */
void corio__stack_test_fail_maps(unsigned n);

#endif
