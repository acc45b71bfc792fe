/* io/backend.c - corio_rt_create: the runtime (runtime/sched.c) over the
 * backend its options ask for.  runtime/ knows backends only as parker
 * tables (runtime/park.h); this file, above it, picks one, and maps a
 * worker's parker back to its backend for the I/O calls (io/backend.h). */
#include "io/backend.h"

#include <errno.h>
#include <time.h>

#include "corio/task.h"
#include "io/ring.h"
#include "runtime/block.h"
#include "runtime/sched.h"

static const corio__io_backend *const backends[] = {&corio__uring_backend};

const corio__io_backend *corio__io_current(void **p) {
    const corio__parker_ops *ops = NULL;
    *p = corio__block_parker(&ops);
    if (*p == NULL) return NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (backends[i]->parker == ops) return backends[i];
    return NULL;
}

int64_t corio__io_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int corio_rt_create(corio_rt **out, const corio_rt_opts *opts) {
    /* A parker installed by a test replaces every backend. */
    const corio__parker_ops *ops = corio__parker_get_default();
    if (ops == NULL) {
        int backend = opts != NULL ? opts->backend : CORIO_BACKEND_AUTO;
        switch (backend) {
        case CORIO_BACKEND_AUTO:
        case CORIO_BACKEND_IO_URING:
            ops = &corio__uring_parker;
            break;
        case CORIO_BACKEND_NONE:
            ops = &corio__cond_parker;
            break;
        default:
            return -EINVAL;
        }
    }
    return corio__rt_create_ops(out, opts, ops);
}
