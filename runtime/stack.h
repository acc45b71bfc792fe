/* runtime/stack.h - coroutine stacks: allocation, guard, per-thread pools,
 * and the stack-overflow report.
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
    struct corio__stack *next; /* free-list link while pooled */
} corio__stack;

/* Get a stack of at least `size` usable bytes (0: the default) from this
 * thread's pool, or map a new one.  Returns 0 or -ENOMEM / -EINVAL. */
int corio__stack_get(size_t size, corio__stack **out);

/* Give a stack back: pooled on the calling thread (whatever thread it came
 * from) or unmapped when the pool is full or the size is not pooled. */
void corio__stack_put(corio__stack *s);

/* The usable size a request of `size` bytes gets (page-rounded, clamped). */
size_t corio__stack_round(size_t size);

/* Checks the canary of a canary-guarded stack; panics with the overflow
 * message naming `kind` and `id` if it is gone. */
void corio__stack_check(const corio__stack *s, const char *kind, uint64_t id, const char *name);

/* Per-thread setup / teardown, called by runtime/context.c: the alternate
 * signal stack for the overflow handler, and the pool. */
void corio__stack_thread_init(void);
void corio__stack_thread_fini(void);

/* Test hook: the guard kind new stacks get (enum corio__guard). */
unsigned corio__stack_guard_kind(void);

#endif
