/* tests/slot/slot_stress.c - the run-next slot's owner/thief exclusion
 * (runtime/slot.h) under tight rounds.
 *
 * The owner puts items into the slot and takes them back, as a worker does
 * on every spawn and turn; a thief keeps stealing whatever it sees, as an
 * idle worker does (without the grace period, so the two collide as often
 * as possible).  Every item must come out exactly once: from the owner's
 * take, as the previous occupant returned by a put, or from a steal.  An
 * exclusion that let both sides take the same item counts it twice; one
 * that lost an item counts it zero times.  Run with CORIO_NO_MEMBARRIER=1
 * too (the fence fallback).  Prints "N passed, M failed". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/slot.h"

static corio__slot slot;
static long rounds;
static _Atomic unsigned char *seen; /* times each item came out */
static _Atomic int done;
static _Atomic long stolen;

static corio__task *item(long i) { return (corio__task *)(uintptr_t)((i + 1) * 8); }
static long index_of(corio__task *t) { return (long)((uintptr_t)t / 8) - 1; }

static void out(corio__task *t) {
    if (t != NULL) atomic_fetch_add_explicit(&seen[index_of(t)], 1, memory_order_relaxed);
}

static void *thief(void *arg) {
    (void)arg;
    while (!atomic_load(&done)) {
        corio__task *t = corio__slot_peek(&slot);
        if (t == NULL) continue;
        corio__task *got = corio__slot_steal(&slot, t);
        if (got != NULL) {
            out(got);
            atomic_fetch_add_explicit(&stolen, 1, memory_order_relaxed);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atol(argv[1]) : 1000000;
    seen = calloc((size_t)rounds, 1);
    if (seen == NULL) return 1;
    corio__asym_init();
    pthread_t th;
    pthread_create(&th, NULL, thief, NULL);
    for (long i = 0; i < rounds; i++) {
        out(corio__slot_put(&slot, item(i)));
        /* Take back two of three: the slot is full a third of the time
         * when the next put comes, so puts displace items too. */
        if (i % 3 != 2) out(corio__slot_take(&slot));
    }
    out(corio__slot_take(&slot));
    atomic_store(&done, 1);
    pthread_join(th, NULL);
    long twice = 0, lost = 0;
    for (long i = 0; i < rounds; i++) {
        unsigned n = atomic_load(&seen[i]);
        if (n == 0) lost++;
        if (n > 1) twice++;
    }
    int failed = lost != 0 || twice != 0;
    printf("slot stress (%s): %ld items, %ld stolen, %ld lost, %ld taken twice\n",
           atomic_load(&corio__asym_ok) ? "membarrier" : "fences", rounds, atomic_load(&stolen),
           lost, twice);
    printf("%d passed, %d failed\n", failed ? 0 : 1, failed);
    return failed;
}
