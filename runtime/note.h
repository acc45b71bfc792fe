/* runtime/note.h - what a task is doing, noted for the task dump
 * (corio/dump.h, runtime/dump.c).
 *
 * Each blocking call notes why it waits just before its wait and clears
 * the note after it (corio__note_wait, corio__note_done); the worker
 * counts the task's turns and says where it runs (corio__turn_enter,
 * sched.h; the count lives in the task's hot lines, runtime/task.h).
 * The fields are written by the task and its worker and read
 * by a dump on any thread, so they are atomics, all relaxed: a dump is a
 * snapshot that may be a moment stale, and nothing else reads them.  The
 * cost on the waits' path is three relaxed stores and a read of the
 * coarse clock (a few nanoseconds, from the vDSO), on the task's last
 * cache line, which nothing else on a turn's path touches. */
#ifndef CORIO_RUNTIME_NOTE_H
#define CORIO_RUNTIME_NOTE_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Why a task waits (the low byte of corio__note.why). */
enum corio__why {
    CORIO__WHY_NONE = 0,
    CORIO__WHY_IO,      /* sub: the corio__io_kind (io/backend.h); arg: fd */
    CORIO__WHY_SLEEP,   /* arg: the deadline (CLOCK_MONOTONIC ns) */
    CORIO__WHY_JOIN,    /* arg: the task id */
    CORIO__WHY_PARK,
    CORIO__WHY_CHAN,    /* sub: 0 send, 1 receive; arg: the channel */
    CORIO__WHY_SELECT,
    CORIO__WHY_MUTEX,   /* arg: the mutex */
    CORIO__WHY_COND,    /* arg: the condition variable */
    CORIO__WHY_SEM,     /* arg: the semaphore */
    CORIO__WHY_TASKSET, /* arg: the task set */
    CORIO__WHY_POOL,    /* a blocking call in the pool */
    CORIO__WHY_CLOSE,   /* arg: fd (corio_close waits for its waiters) */
    CORIO__WHY_SEND,    /* a synchronized send; arg: the coroutine */
};

typedef struct corio__note {
    _Atomic uint32_t why;   /* enum corio__why | sub << 8 */
    _Atomic int64_t arg;
    _Atomic int64_t since;  /* when the wait began (CLOCK_MONOTONIC_COARSE ns) */
} corio__note;

/* CLOCK_MONOTONIC_COARSE in nanoseconds (the notes' clock). */
static inline int64_t corio__note_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Note that the task owning `n` (NULL: a plain thread, nothing noted)
 * waits for `why`; inline, for the waits on hot paths (a channel's). */
static inline void corio__note_set(corio__note *n, unsigned why, unsigned sub, int64_t arg) {
    if (n == NULL) return;
    atomic_store_explicit(&n->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&n->since, corio__note_now(), memory_order_relaxed);
    atomic_store_explicit(&n->why, why | sub << 8, memory_order_relaxed);
}
/* Its wait is over. */
static inline void corio__note_clear(corio__note *n) {
    if (n != NULL) atomic_store_explicit(&n->why, CORIO__WHY_NONE, memory_order_relaxed);
}

/* The same for the calling task, found afresh (out of line: DESIGN trap
 * 1); nothing outside a task. */
void corio__note_wait(unsigned why, unsigned sub, int64_t arg);
void corio__note_done(void);

#endif
