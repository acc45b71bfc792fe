/* runtime/spin.h - a tiny spinlock for very short critical sections (a
 * task's join/kill bookkeeping).  Workers must not block in the kernel, so
 * a contended lock spins with a pause, then yields the CPU. */
#ifndef CORIO_RUNTIME_SPIN_H
#define CORIO_RUNTIME_SPIN_H

#include <sched.h>
#include <stdatomic.h>

typedef struct corio__spin {
    atomic_flag f;
} corio__spin;

#define CORIO__SPIN_INIT {ATOMIC_FLAG_INIT}

static inline void corio__spin_lock(corio__spin *s) {
    unsigned n = 0;
    /* acquire: pairs with the release in corio__spin_unlock, so the critical
     * sections are ordered. */
    while (atomic_flag_test_and_set_explicit(&s->f, memory_order_acquire)) {
        if (++n < 64) __builtin_ia32_pause();
        else sched_yield();
    }
}

static inline void corio__spin_unlock(corio__spin *s) {
    atomic_flag_clear_explicit(&s->f, memory_order_release);
}

#endif
