/* io/backend.c - corio_rt_create: the runtime (runtime/sched.c) over the
 * backend its options ask for.  runtime/ knows backends only as parker
 * tables (runtime/park.h); this file, above it, picks one. */
#include <errno.h>

#include "corio/task.h"
#include "io/ring.h"
#include "runtime/sched.h"

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
