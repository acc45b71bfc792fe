/* runtime/asym.c - the heavy side of the asymmetric fence (asym.h). */
#define _GNU_SOURCE 1
#include "runtime/asym.h"

#include "runtime/panic.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic int corio__asym_ok;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void do_init(void) {
    /* CORIO_NO_MEMBARRIER=1 forces the fence fallback (tests run both). */
    const char *e = getenv("CORIO_NO_MEMBARRIER");
    if (e != NULL && *e != '\0' && *e != '0') return;
    long r = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    if (r == 0) atomic_store_explicit(&corio__asym_ok, 1, memory_order_relaxed);
}

void corio__asym_init(void) { pthread_once(&once, do_init); }

void corio__asym_heavy(void) {
    if (atomic_load_explicit(&corio__asym_ok, memory_order_relaxed) &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
        /* The kernel's barrier on the other threads; and ours. */
        atomic_thread_fence(memory_order_seq_cst);
        return;
    }
    /* Registered, yet refused (it cannot be unregistered, so this is not
     * expected): the light side still only has a compiler barrier, so
     * there is no safe fallback. */
    if (atomic_load_explicit(&corio__asym_ok, memory_order_relaxed))
        corio__panic(__func__, "membarrier failed after registration", 0);
    atomic_thread_fence(memory_order_seq_cst);
}
