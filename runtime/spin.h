/* runtime/spin.h - a tiny spinlock for very short critical sections (a
 * task's join/kill bookkeeping, a channel's queues).  Workers must not
 * block in the kernel, so a contended lock spins with a pause, then yields
 * the CPU.
 *
 * Test-and-test-and-set: a waiter retries the exchange only after a plain
 * load has seen the lock free.  The exchange takes the cache line
 * exclusively; loads share it, so waiters on other cores do not keep
 * pulling the line away from the holder (a channel fed by tasks on two
 * workers spent a quarter of its time in the exchange loop). */
#ifndef CORIO_RUNTIME_SPIN_H
#define CORIO_RUNTIME_SPIN_H

#include <sched.h>
#include <stdatomic.h>

typedef struct corio__spin {
    _Atomic unsigned char v; /* 1: held */
} corio__spin;

#define CORIO__SPIN_INIT {0}

static inline void corio__spin_init(corio__spin *s) {
    atomic_init(&s->v, 0);
}

static inline void corio__spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void corio__spin_lock(corio__spin *s) {
    unsigned n = 0;
    /* acquire: pairs with the release in corio__spin_unlock, so the critical
     * sections are ordered.  The waiting loads are relaxed: they only say
     * when to try again; the exchange that wins is the acquire. */
    while (atomic_exchange_explicit(&s->v, 1, memory_order_acquire) != 0) {
        while (atomic_load_explicit(&s->v, memory_order_relaxed) != 0) {
            if (++n < 64) corio__spin_pause();
            else sched_yield();
        }
    }
}

static inline void corio__spin_unlock(corio__spin *s) {
    atomic_store_explicit(&s->v, 0, memory_order_release);
}

#endif
