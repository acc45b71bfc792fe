/* runtime/chaos.c - the chaos mode's pauses (chaos.h). */
#define _GNU_SOURCE 1
#include "runtime/chaos.h"

#ifdef CORIO_CHAOS
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "runtime/spin.h"

static uint64_t seed;
static unsigned rate = 8;
static pthread_once_t once = PTHREAD_ONCE_INIT;
/* Numbers the threads in the order of their first point: thread k's
 * generator starts from the seed and k.  Relaxed: only a count. */
static _Atomic uint64_t threads;
static __thread uint64_t rng;

static void init(void) {
    const char *s = getenv("CORIO_CHAOS_SEED");
    if (s != NULL && *s != '\0') {
        seed = strtoull(s, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 40);
    }
    const char *r = getenv("CORIO_CHAOS_RATE");
    if (r != NULL && *r != '\0') rate = (unsigned)strtoul(r, NULL, 0);
    fprintf(stderr, "corio: chaos mode, seed %" PRIu64 " (CORIO_CHAOS_SEED=%" PRIu64
                    " repeats it), one point in %u pauses\n",
            seed, seed, rate);
}

/* splitmix64: spreads seed + k into a non-zero xorshift state. */
static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return z != 0 ? z : 1;
}

__attribute__((noinline)) void corio__chaos_at(unsigned one_in) {
    uint64_t x = rng;
    if (x == 0) {
        pthread_once(&once, init);
        x = mix(seed + atomic_fetch_add_explicit(&threads, 1, memory_order_relaxed));
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng = x;
    if (rate == 0 || one_in == 0 || (x >> 40) % one_in != 0) return;
    /* One pause in 16 gives the core away (the other thread runs a whole
     * slice in the window); the rest spin 0-2047 pauses (up to tens of
     * microseconds): long against a window of nanoseconds, short against
     * a test's rounds. */
    if ((x & 15) == 0) {
        sched_yield();
        return;
    }
    for (unsigned n = (unsigned)(x >> 4) & 2047; n > 0; n--) corio__spin_pause();
}
void corio__chaos(void) { corio__chaos_at(rate); }
#else
typedef int corio__chaos_off; /* an empty translation unit is not C */
#endif
