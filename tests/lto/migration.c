/* tests/lto/migration.c - the TLS rule under link-time optimisation.
 *
 * This program is linked with the runtime's sources compiled with -flto
 * (tests/CMakeLists.txt), the build in which the compiler sees across
 * files and could inline a suspending function into a caller's loop and
 * keep a thread-local address from before a switch (DESIGN trap 1).  Two
 * tasks on two workers hand a token back and forth by park/unpark, and a
 * third keeps yielding, so tasks keep resuming on the other worker.  After
 * every suspension each task checks that the runtime still knows who it
 * is (corio_task_id) and where it runs (corio_task_worker, against the
 * worker's own record).  One of the two waits inside a coroutine of its
 * chain, so the inline send and yield are checked across migration too,
 * and two more tasks play ping-pong over channels (corio__wait_block).
 * Prints "N passed, M failed".
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "corio.h"

#define ROUNDS 200000

static corio_tid ids[2];
static _Atomic int turn;
static _Atomic long wrong, migrations;

/* Player 1 waits for its turn inside a coroutine of its chain: the task
 * sends to it (the inline send of corio/coro_fast.h in this build), the
 * body parks the task until the turn comes (the chain may be stolen while
 * it waits) and yields back (the inline yield).  Both sides check who and
 * where they are after every switch. */
static void *waiter(void *arg) {
    int me = (int)(intptr_t)arg;
    corio_coro *self = corio_coro_self();
    for (;;) {
        while (atomic_load(&turn) != me) {
            if (corio_task_park() < 0) return NULL;
            if (corio_coro_self() != self) atomic_fetch_add(&wrong, 1);
            if (corio_task_id() != ids[me]) atomic_fetch_add(&wrong, 1);
        }
        int w = corio_task_worker();
        if (w < 0 || w > 1) atomic_fetch_add(&wrong, 1);
        if (corio_coro_yield(NULL, NULL) < 0) return NULL;
        if (corio_coro_self() != self) atomic_fetch_add(&wrong, 1);
    }
}

static int wait_turn(int me, corio_coro *co) {
    if (co == NULL) {
        while (atomic_load(&turn) != me)
            if (corio_task_park() < 0) return -1;
        return 0;
    }
    int r = corio_coro_send(co, NULL, NULL);
    if (r != CORIO_YIELDED) return -1;
    if (corio_coro_self() != NULL) atomic_fetch_add(&wrong, 1);
    return 0;
}

static void *player(void *arg) {
    int me = (int)(intptr_t)arg;
    corio_coro *co = NULL;
    if (me == 1 && corio_gen_create(&co, waiter, arg, NULL) < 0) return NULL;
    int where = corio_task_worker();
    for (int i = 0; i < ROUNDS; i++) {
        if (wait_turn(me, co) < 0) return NULL;
        if (corio_task_id() != ids[me]) atomic_fetch_add(&wrong, 1);
        int now = corio_task_worker();
        if (now < 0 || now > 1) atomic_fetch_add(&wrong, 1);
        if (now != where) atomic_fetch_add(&migrations, 1);
        where = now;
        atomic_store(&turn, 1 - me);
        corio_task_unpark(ids[1 - me]);
        if (i % 3 == 0) corio_task_yield();
    }
    if (co != NULL) corio_coro_destroy(co);
    return NULL;
}

/* Two more tasks play ping-pong over unbuffered channels: each receive
 * parks inside corio__wait_block, which loops around its park with the
 * thread the switch returns (no TLS read after a switch); here that loop
 * is compiled with LTO beside its callers. */
static corio_chan *pings[2];

static void *chan_player(void *arg) {
    int me = (int)(intptr_t)arg; /* 0 sends first on pings[0]; 1 answers on pings[1] */
    corio_tid id = corio_task_id();
    for (long i = 0; i < ROUNDS / 4; i++) {
        long v = i;
        if (me == 0 && corio_chan_send(pings[0], &v, CORIO_FOREVER) != 0) return NULL;
        if (corio_chan_recv(pings[1 - me], &v, CORIO_FOREVER) != 0) return NULL;
        if (v != i || corio_task_id() != id) atomic_fetch_add(&wrong, 1);
        int w = corio_task_worker();
        if (w < 0 || w > 1) atomic_fetch_add(&wrong, 1);
        if (me == 1 && corio_chan_send(pings[1], &v, CORIO_FOREVER) != 0) return NULL;
        if (i % 7 == 0) corio_task_yield();
    }
    return (void *)1;
}

static void *yielder(void *arg) {
    (void)arg;
    corio_tid me = corio_task_id();
    for (int i = 0; i < ROUNDS; i++) {
        if (corio_task_yield() < 0) break;
        if (corio_task_id() != me) atomic_fetch_add(&wrong, 1);
        if (atomic_load(&turn) == 2) break;
    }
    return NULL;
}

int main(void) {
    corio_rt *rt;
    corio_rt_opts o = {0};
    o.workers = 2;
    if (corio_rt_create(&rt, &o) < 0) return 1;
    atomic_store(&turn, -1);
    corio_tid y, cp[2];
    if (corio_chan_create(&pings[0], sizeof(long), 0) < 0) return 1;
    if (corio_chan_create(&pings[1], sizeof(long), 0) < 0) return 1;
    for (int i = 0; i < 2; i++)
        if (corio_rt_spawn(rt, &cp[i], chan_player, (void *)(intptr_t)i) < 0) return 1;
    if (corio_rt_spawn(rt, &ids[0], player, (void *)0) < 0) return 1;
    if (corio_rt_spawn(rt, &ids[1], player, (void *)1) < 0) return 1;
    if (corio_rt_spawn(rt, &y, yielder, NULL) < 0) return 1;
    atomic_store(&turn, 0);
    corio_task_unpark(ids[0]);
    int failed = 0;
    for (int i = 0; i < 2; i++)
        if (corio_rt_join(rt, ids[i], NULL) != 0) failed++;
    atomic_store(&turn, 2);
    if (corio_rt_join(rt, y, NULL) != 0) failed++;
    for (int i = 0; i < 2; i++) {
        void *res = NULL;
        if (corio_rt_join(rt, cp[i], &res) != 0 || res != (void *)1) failed++;
    }
    corio_rt_shutdown(rt);
    corio_chan_destroy(pings[0]);
    corio_chan_destroy(pings[1]);
    if (atomic_load(&wrong) != 0) failed++;
    printf("lto migration: %d rounds, %ld resumes on another worker, %ld wrong answers\n", ROUNDS,
           atomic_load(&migrations), atomic_load(&wrong));
    printf("%d passed, %d failed\n", failed == 0 ? 1 : 0, failed);
    return failed == 0 ? 0 : 1;
}
