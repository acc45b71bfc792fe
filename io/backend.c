/* io/backend.c - corio_rt_create: the runtime (runtime/sched.c) over the
 * backend its options ask for.  runtime/ knows backends only as parker
 * tables (runtime/park.h); this file, above it, picks one, and maps a
 * worker's parker back to its backend for the I/O calls (io/backend.h).
 *
 * Selection (docs/io.md): a backend named in the options; else the one
 * the environment's CORIO_BACKEND names (io_uring, epoll); else io_uring
 * when a ring can be set up (a probe ring on this thread; the workers'
 * rings then probe their flags and drop refused ones: ring.c), else
 * epoll.  A runtime whose rings fail after the probe passed (the locked
 * memory ran out at worker 5) is created again on epoll.  One line on
 * stderr says what runs and why, except in the plain case (io_uring by
 * default, where it works), which corio_rt_backend tells as well. */
#define _GNU_SOURCE 1
#include "io/backend.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corio/task.h"
#include "io/epoll.h"
#include "io/ring.h"
#include "runtime/block.h"
#include "runtime/note.h"
#include "runtime/wait.h"
#include "runtime/sched.h"

static const corio__io_backend *const backends[] = {&corio__uring_backend,
                                                    &corio__epoll_backend};

const corio__io_backend *corio__io_current(void **p) {
    const corio__parker_ops *ops = NULL;
    *p = corio__block_parker(&ops);
    if (*p == NULL) return NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (backends[i]->parker == ops) return backends[i];
    return NULL;
}

const char *corio__io_kind_name(unsigned kind) {
    static const char *const names[] = {
        [CORIO__IO_READ] = "read",       [CORIO__IO_WRITE] = "write",
        [CORIO__IO_READV] = "readv",     [CORIO__IO_WRITEV] = "writev",
        [CORIO__IO_FSYNC] = "fsync",     [CORIO__IO_OPENAT] = "openat",
        [CORIO__IO_CLOSE] = "close",     [CORIO__IO_RECV] = "recv",
        [CORIO__IO_SEND] = "send",       [CORIO__IO_SENDMSG] = "sendmsg",
        [CORIO__IO_ACCEPT] = "accept",   [CORIO__IO_CONNECT] = "connect",
        [CORIO__IO_SHUTDOWN] = "shutdown", [CORIO__IO_POLL] = "poll",
        [CORIO__IO_SLEEP] = "sleep",
    };
    return kind < sizeof names / sizeof names[0] && names[kind] != NULL ? names[kind] : "io";
}

void corio__io_note(const corio__io_req *rq) {
    if (rq->kind == CORIO__IO_SLEEP) corio__note_wait(CORIO__WHY_SLEEP, rq->kind, corio__deadline(rq->ns));
    else corio__note_wait(CORIO__WHY_IO, rq->kind, rq->fd);
}

int64_t corio__io_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t corio__io_left(int64_t deadline) {
    if (deadline < 0) return CORIO_FOREVER;
    int64_t l = deadline - corio__io_now();
    return l > 0 ? l : 0;
}

/* The choice line: printed when it differs from the last one printed, so
 * a process that creates many runtimes says it once. */
static void say(const char *backend, const char *why) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char last[256];
    char line[256];
    snprintf(line, sizeof line, "corio: backend %s (%s)\n", backend, why);
    pthread_mutex_lock(&lock);
    if (strcmp(line, last) != 0) {
        fputs(line, stderr);
        memcpy(last, line, sizeof line);
    }
    pthread_mutex_unlock(&lock);
}

/* CORIO_BACKEND from the environment: a CORIO_BACKEND_* value, or AUTO
 * when unset (an unknown value is said and ignored). */
static int env_backend(void) {
    const char *s = getenv("CORIO_BACKEND");
    if (s == NULL || *s == '\0') return CORIO_BACKEND_AUTO;
    if (strcmp(s, "io_uring") == 0) return CORIO_BACKEND_IO_URING;
    if (strcmp(s, "epoll") == 0) return CORIO_BACKEND_EPOLL;
    say("auto", "CORIO_BACKEND is neither io_uring nor epoll: ignored");
    return CORIO_BACKEND_AUTO;
}

/* Can a ring be set up here?  0 or the errno (a small ring, no flags:
 * the workers' rings probe flags themselves). */
static int probe_uring(void) {
    struct io_uring r;
    int err = io_uring_queue_init(4, &r, 0);
    if (err == 0) io_uring_queue_exit(&r);
    return err;
}

static void say_fallback(int err, const char *when) {
    char why[200];
    const char *hint = corio__uring_setup_hint(err);
    snprintf(why, sizeof why, "io_uring %s: %s%s%s", when, strerror(-err), hint[0] ? ", " : "",
             hint);
    say("epoll", why);
}

int corio_rt_create(corio_rt **out, const corio_rt_opts *opts) {
    /* A parker installed by a test replaces every backend. */
    const corio__parker_ops *ops = corio__parker_get_default();
    if (ops != NULL) return corio__rt_create_ops(out, opts, ops);
    int backend = opts != NULL ? opts->backend : CORIO_BACKEND_AUTO;
    int forced_by_env = backend == CORIO_BACKEND_AUTO && (backend = env_backend()) != 0;
    switch (backend) {
    case CORIO_BACKEND_NONE:
        return corio__rt_create_ops(out, opts, &corio__cond_parker);
    case CORIO_BACKEND_IO_URING: {
        int r = corio__rt_create_ops(out, opts, &corio__uring_parker);
        if (r == 0) say("io_uring", forced_by_env ? "CORIO_BACKEND=io_uring" : "asked for");
        return r;
    }
    case CORIO_BACKEND_EPOLL: {
        int r = corio__rt_create_ops(out, opts, &corio__epoll_parker);
        if (r == 0) say("epoll", forced_by_env ? "CORIO_BACKEND=epoll" : "asked for");
        return r;
    }
    case CORIO_BACKEND_AUTO:
        break;
    default:
        return -EINVAL;
    }
    if (out == NULL) return -EINVAL;
    int err = probe_uring();
    if (err == 0) {
        err = corio__rt_create_ops(out, opts, &corio__uring_parker);
        /* The plain case says nothing: programs whose stderr is their
         * output (samples/pyos) stay as they were. */
        if (err == 0) return 0;
        /* Errors of the runtime itself are not the backend's to fix. */
        if (err == -EINVAL || err == -EAGAIN) return err;
        say_fallback(err, "failed at a worker");
    } else {
        say_fallback(err, "refused");
    }
    return corio__rt_create_ops(out, opts, &corio__epoll_parker);
}
