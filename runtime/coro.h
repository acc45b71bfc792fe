/* runtime/coro.h - the coroutine object, shared with the scheduler (a task
 * resumes a chain at its innermost coroutine). */
#ifndef CORIO_RUNTIME_CORO_H
#define CORIO_RUNTIME_CORO_H

#include <stdatomic.h>
#include <stdbool.h>

#include "corio/coro.h"
#include "runtime/context.h"

struct corio_coro {
    corio__ctx ctx;          /* must stay first: ctx <-> coro by cast */
    /* enum corio_coro_state.  Acquire/release: the CAS that takes a
     * SUSPENDED coroutine to RUNNING (acq_rel) pairs with the release store
     * of SUSPENDED/FINISHED by the previous resumer, so a resumer on another
     * thread sees everything the coroutine and its last resumer wrote. */
    _Atomic int state;
    corio_coro_fn fn;
    void *arg;
    corio__ctx *caller;      /* who resumed us; valid while RUNNING */
    void *transfer;          /* value in (send) and out (yield/return) */
    int code;                /* what the pending yield returns */
    bool returned;           /* set by the body's exit, read by the resumer */
};

#endif
