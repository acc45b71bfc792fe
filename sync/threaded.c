/* sync/threaded.c - the course's threaded() target.
 *
 * The seed's version is a Thread subclass with a Queue: send() puts the
 * item in the queue, the thread's run() takes items and sends them to the
 * target; close() puts a sentinel.  Here the bridge is itself a coroutine
 * (so it is a target like any other: a pipeline stage sends to it without
 * knowing), the queue is a bounded corio_chan of messages, and the thread
 * is a plain pthread driving the target with corio_coro_send.
 *
 *   sender --send--> bridge coroutine --chan (bounded)--> thread --send--> target
 *
 * A message is a value or a thrown error, so throw keeps its place among
 * the items.  Backpressure is the channel's: a full queue parks the
 * sending task (or blocks a sending thread) inside the bridge's send.
 *
 * The end: closing the bridge closes the channel; the thread sends what
 * is still queued, closes the target and exits; the bridge joins it (in
 * the blocking-call pool when the closer is a task) before its close
 * returns.  If the target finishes early (its send returns
 * CORIO_FINISHED, or an error) the thread stops forwarding and counts
 * what it drops; the bridge's next send sees that, finishes the bridge
 * and returns CORIO_FINISHED with the dropped count (later sends get
 * -EPIPE, as with any finished coroutine). */
#define _GNU_SOURCE 1 /* pthread_setname_np */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "corio/sync.h"

typedef struct msg {
    int code;    /* 0: value; < 0: thrown error */
    void *value;
} msg;

typedef struct bridge {
    corio_coro *target;
    corio_chan *ch;
    pthread_t thread;
    /* Set by the thread when the target ended (release: the dropped count
     * it wrote before is visible to the bridge's acquire load). */
    _Atomic bool ended;
    uintptr_t dropped;
} bridge;

static void *forward_main(void *arg) {
    bridge *b = arg;
    (void)pthread_setname_np(pthread_self(), "corio-threaded");
    msg m;
    bool live = true;
    while (corio_chan_recv(b->ch, &m, CORIO_FOREVER) == 0) {
        if (!live) {
            b->dropped++;
            continue;
        }
        int r = m.code == 0 ? corio_coro_send(b->target, m.value, NULL)
                            : corio_coro_throw(b->target, m.code, NULL);
        if (r != CORIO_YIELDED) {
            /* The target finished (or refused): no one takes the rest. */
            live = false;
            if (r < 0) b->dropped++; /* this item was not taken */
            atomic_store_explicit(&b->ended, true, memory_order_release);
        }
    }
    if (live) corio_coro_close(b->target);
    return NULL;
}

static void *join_forwarder(void *arg) {
    pthread_join(((bridge *)arg)->thread, NULL);
    return NULL;
}

/* Closes the channel and waits for the thread; returns the dropped count.
 * The thread may be waiting for a task of the closer's own runtime (the
 * target hands the items on to one), so a task must not join it on its
 * worker (DESIGN trap 5: on one worker that never ends).  The join runs
 * in the blocking-call pool, which suspends only the closing task; it is
 * never interrupted, a kill included, so the thread is always reaped
 * before the bridge is freed.  A plain thread just joins (corio_blocking
 * calls fn there); only when the pool can start no thread at all does a
 * task join on its worker, as the last resort. */
static uintptr_t finish(bridge *b) {
    corio_chan_close(b->ch);
    if (corio_blocking(join_forwarder, b, NULL) == -EAGAIN) pthread_join(b->thread, NULL);
    uintptr_t dropped = b->dropped;
    corio_chan_destroy(b->ch);
    free(b);
    return dropped;
}

static void *bridge_main(void *arg) {
    bridge *b = arg;
    /* What each send gets in *out: NULL when its item is queued, or
     * (void *)-ECANCELED when the sending task was killed while the queue
     * was full (that item is not queued; the bridge stays usable). */
    void *status = NULL;
    for (;;) {
        void *v = NULL;
        int code = corio_coro_yield(status, &v);
        if (code == -ECANCELED) break; /* close */
        if (atomic_load_explicit(&b->ended, memory_order_acquire)) break;
        msg m = {.code = code, .value = v};
        int r = corio_chan_send(b->ch, &m, CORIO_FOREVER);
        status = r == 0 ? NULL : (void *)(intptr_t)r;
    }
    return (void *)finish(b);
}

int corio_threaded(corio_coro **out, corio_coro *target, size_t capacity) {
    if (out == NULL || target == NULL) return -EINVAL;
    if (capacity == 0) capacity = 64;
    bridge *b = calloc(1, sizeof *b);
    if (b == NULL) return -ENOMEM;
    b->target = target;
    int r = corio_chan_create(&b->ch, sizeof(msg), capacity);
    if (r < 0) {
        free(b);
        return r;
    }
    r = pthread_create(&b->thread, NULL, forward_main, b);
    if (r != 0) {
        corio_chan_destroy(b->ch);
        free(b);
        return -EAGAIN;
    }
    r = corio_coro_create(out, bridge_main, b, NULL);
    if (r < 0) {
        corio_chan_close(b->ch);
        pthread_join(b->thread, NULL);
        corio_coro_close(target);
        corio_chan_destroy(b->ch);
        free(b);
        return r;
    }
    return 0;
}
