/* runtime/asym.h - an asymmetric fence: a cheap side and an expensive side
 * of Dekker's pattern.
 *
 * Two threads that each store a flag and then load the other's need a full
 * fence on both sides (DESIGN trap 11).  When one side runs on every task
 * turn (the owner of a run-next slot) and the other rarely (a thief, a
 * worker going to sleep), the rare side can pay for both: the hot side
 * issues only a compiler barrier (corio__asym_light), the rare side calls
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) (corio__asym_heavy), which
 * returns only after every other running thread of the process has
 * executed a full memory barrier (a thread that was not running passed one
 * when it was switched out).  So for any interleaving, a light-side load
 * that comes after that barrier sees the heavy side's store, and a
 * light-side store that comes before it is visible to the heavy side's
 * later loads: one of the two always sees the other.  Userspace RCU and
 * Folly's asymmetric fences rest on the same guarantee.
 *
 * Where membarrier cannot be registered (a kernel before 4.14, a seccomp
 * filter, valgrind), both sides use a seq_cst fence: correct, and as costly
 * as plain Dekker. */
#ifndef CORIO_RUNTIME_ASYM_H
#define CORIO_RUNTIME_ASYM_H

#include <stdatomic.h>
#include <stdbool.h>

/* Set once by corio__asym_init: membarrier is registered.  Relaxed reads:
 * it changes only from 0 to 1, before any runtime exists (the thread start
 * of every worker orders it). */
extern _Atomic int corio__asym_ok;

/* Register membarrier for this process (idempotent; called by
 * corio_rt_create before it starts workers). */
void corio__asym_init(void);

/* The hot side: between its store and its load. */
static inline void corio__asym_light(void) {
    if (__builtin_expect(atomic_load_explicit(&corio__asym_ok, memory_order_relaxed), 1))
        atomic_signal_fence(memory_order_seq_cst);
    else
        atomic_thread_fence(memory_order_seq_cst);
}

/* The rare side: between its store and its load. */
void corio__asym_heavy(void);

#endif
