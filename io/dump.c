/* io/dump.c - the task dump (corio/dump.h): every live task of a runtime,
 * what it does, and the stack of each waiting task.
 *
 * It lives above runtime/ and io/ because it names what both know: the
 * tasks and their states (runtime/task.h, state.h), their notes
 * (runtime/note.h) and the I/O calls (io/backend.h).
 *
 * Nothing is stopped.  Each task is looked at once:
 *   - its id and name are copied under its lock (the id table's slots are
 *     type-stable: a struct is never freed while the process runs);
 *   - its state word, notes and worker are relaxed loads: a snapshot;
 *   - a waiting task's stack is walked between two reads of its turn
 *     count (a seqlock: corio__turn_enter increments it, then a release
 *     fence, before the task runs again).  The walk reads the saved
 *     context and the frames with process_vm_readv(2) on this process,
 *     which fails instead of faulting on memory that is gone (a stack
 *     freed after the task ended) and is invisible to the sanitizers (the
 *     reads race with nothing the C memory model covers: they are
 *     validated by the count afterwards, and discarded when it moved).
 * The frames: x86-64's fcontext saves rbp at fctx + 0x30 and the
 * return address at fctx + 0x38 (jump_fcontext's prologue); from there
 * each frame holds the caller's rbp and a return address.  The walk
 * stops outside the context's stack, at a frame that does not go up, or
 * at 32 frames. */
#define _GNU_SOURCE 1
#include "corio/dump.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io/backend.h"
#include "runtime/note.h"
#include "runtime/sched.h"
#include "runtime/task.h"

#define MAX_FRAMES 32
#define LINE 512

typedef struct dumper {
    corio_rt *rt;
    corio_dump_fn fn;
    void *arg;
    int64_t now;   /* CLOCK_MONOTONIC_COARSE, for "waiting 1.2s" */
    int64_t mono;  /* CLOCK_MONOTONIC, for sleeps' deadlines */
    int shown;
} dumper;

static void emit(dumper *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(dumper *d, const char *fmt, ...) {
    char line[LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->fn(d->arg, line);
}

/* Read n bytes at addr of this process, or false (unmapped, refused). */
static bool peek(uintptr_t addr, void *out, size_t n) {
    struct iovec local = {.iov_base = out, .iov_len = n};
    struct iovec remote = {.iov_base = (void *)addr, .iov_len = n};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

/* What the note says, as "recv(fd 7)", "join of task 12", ... */
static void describe(const dumper *d, unsigned why, int64_t arg, char *buf, size_t len) {
    unsigned sub = why >> 8;
    switch (why & 0xff) {
    case CORIO__WHY_IO:
        snprintf(buf, len, "%s(fd %" PRId64 ")", corio__io_kind_name(sub), arg);
        break;
    case CORIO__WHY_SLEEP:
        if (arg < 0) snprintf(buf, len, "sleep");
        else snprintf(buf, len, "sleep, %.3fs left", (double)(arg - d->mono) / 1e9);
        break;
    case CORIO__WHY_JOIN: snprintf(buf, len, "join of task %" PRIu64, (uint64_t)arg); break;
    case CORIO__WHY_PARK: snprintf(buf, len, "park"); break;
    case CORIO__WHY_CHAN:
        snprintf(buf, len, "channel %s %#" PRIx64, sub ? "receive" : "send", (uint64_t)arg);
        break;
    case CORIO__WHY_SELECT: snprintf(buf, len, "select on %" PRId64 " cases", arg); break;
    case CORIO__WHY_MUTEX: snprintf(buf, len, "mutex %#" PRIx64, (uint64_t)arg); break;
    case CORIO__WHY_COND: snprintf(buf, len, "condition variable %#" PRIx64, (uint64_t)arg); break;
    case CORIO__WHY_SEM: snprintf(buf, len, "semaphore %#" PRIx64, (uint64_t)arg); break;
    case CORIO__WHY_TASKSET: snprintf(buf, len, "task set join %#" PRIx64, (uint64_t)arg); break;
    case CORIO__WHY_POOL: snprintf(buf, len, "blocking call in the pool"); break;
    case CORIO__WHY_CLOSE: snprintf(buf, len, "close(fd %" PRId64 "): its waiters leaving", arg); break;
    case CORIO__WHY_SEND: snprintf(buf, len, "synchronized send to coroutine %#" PRIx64, (uint64_t)arg); break;
    default: snprintf(buf, len, "nothing noted"); break;
    }
}

/* One frame, named as backtrace_symbols(3) does. */
static void frame(dumper *d, int i, uintptr_t pc) {
    Dl_info info;
    /* A return address points after its call: pc - 1 is inside it. */
    if (dladdr((void *)(pc - 1), &info) == 0 || info.dli_fname == NULL) {
        emit(d, "    #%d %#" PRIxPTR, i, pc);
        return;
    }
    const char *obj = strrchr(info.dli_fname, '/');
    obj = obj != NULL ? obj + 1 : info.dli_fname;
    if (info.dli_sname != NULL)
        emit(d, "    #%d %#" PRIxPTR " %s+%#" PRIxPTR " (%s)", i, pc, info.dli_sname,
             pc - (uintptr_t)info.dli_saddr, obj);
    else
        emit(d, "    #%d %#" PRIxPTR " (%s+%#" PRIxPTR ")", i, pc, obj,
             pc - (uintptr_t)info.dli_fbase);
}

/* The stack of a waiting task (state IDLE when its line began, turn
 * count `turns`).  The frames are gathered first and shown only if the
 * task did not run meanwhile. */
static void stack(dumper *d, corio__task *t, uint32_t turns) {
#if defined(__x86_64__)
    uintptr_t pcs[MAX_FRAMES];
    int n = 0;
    corio__ctx *top = NULL;
    void *fctx = NULL, *lo = NULL;
    size_t size = 0;
    if (!peek((uintptr_t)&t->top, &top, sizeof top) || top == NULL ||
        !peek((uintptr_t)&top->fctx, &fctx, sizeof fctx) ||
        !peek((uintptr_t)&top->stack_lo, &lo, sizeof lo) ||
        !peek((uintptr_t)&top->stack_size, &size, sizeof size) || fctx == NULL) {
        emit(d, "    (no stack: %s)", errno == EPERM || errno == ENOSYS
                                          ? "process_vm_readv is refused here"
                                          : "its context could not be read");
        return;
    }
    uintptr_t fp = 0, pc = 0;
    uintptr_t low = (uintptr_t)lo, high = low + size;
    if (peek((uintptr_t)fctx + 0x30, &fp, sizeof fp) &&
        peek((uintptr_t)fctx + 0x38, &pc, sizeof pc)) {
        pcs[n++] = pc;
        while (n < MAX_FRAMES && fp >= low && fp + 16 <= high && fp % 8 == 0) {
            uintptr_t next[2]; /* the caller's rbp, the return address */
            if (!peek(fp, next, sizeof next) || next[1] == 0) break;
            pcs[n++] = next[1];
            if (next[0] <= fp) break; /* frames go up the stack */
            fp = next[0];
        }
    }
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&t->turns, memory_order_relaxed) != turns) {
        emit(d, "    (moved: it ran while its stack was read)");
        return;
    }
    for (int i = 0; i < n; i++) frame(d, i, pcs[i]);
#else
    (void)t;
    (void)turns;
    emit(d, "    (stacks are walked on x86-64 only)");
#endif
}

static void one(corio__task *t, void *arg) {
    dumper *d = arg;
    char name[CORIO_TASK_NAME_MAX];
    corio__spin_lock(&t->lock);
    if (!t->live || t->rt != d->rt || t->finished) {
        corio__spin_unlock(&t->lock);
        return;
    }
    corio_tid id = corio__task_tid(t);
    if (t->name_gen == t->gen) memcpy(name, t->name, sizeof name);
    else name[0] = '\0';
    corio__spin_unlock(&t->lock);
    /* acquire: pairs with the release fence of corio__turn_enter. */
    uint32_t turns = atomic_load_explicit(&t->turns, memory_order_acquire);
    unsigned st = atomic_load_explicit(&t->state.word, memory_order_acquire);
    unsigned why = atomic_load_explicit(&t->note.why, memory_order_relaxed);
    int64_t warg = atomic_load_explicit(&t->note.arg, memory_order_relaxed);
    int64_t since = atomic_load_explicit(&t->note.since, memory_order_relaxed);
    int running = -1;
    for (unsigned i = 0; i < d->rt->nworkers; i++)
        if (atomic_load_explicit(&d->rt->workers[i].running, memory_order_relaxed) == t)
            running = (int)i;
    if (st & CORIO__S_DONE) return; /* ended just now */
    d->shown++;
    if (running >= 0) {
        emit(d, "task %" PRIu64 " \"%s\" running on worker %d", id, name, running);
    } else if (st & CORIO__S_ACTIVE) {
        emit(d, "task %" PRIu64 " \"%s\" ready%s", id, name, turns == 0 ? " (not started)" : "");
    } else {
        char what[160];
        describe(d, why, warg, what, sizeof what);
        double secs = (why & 0xff) != CORIO__WHY_NONE ? (double)(d->now - since) / 1e9 : 0;
        if (secs < 0) secs = 0;
        emit(d, "task %" PRIu64 " \"%s\" waiting %.3fs: %s", id, name, secs, what);
        stack(d, t, turns);
    }
}

int corio_rt_dump_with(corio_rt *rt, corio_dump_fn fn, void *arg) {
    if (rt == NULL || fn == NULL) return -EINVAL;
    dumper d = {.rt = rt, .fn = fn, .arg = arg, .now = corio__note_now(), .mono = corio__io_now()};
    corio_rt_stats s;
    (void)corio_rt_get_stats(rt, &s);
    emit(&d, "corio: dump of runtime %s, %u workers: %" PRIu64 " tasks alive (%" PRIu64
             " spawned, %" PRIu64 " finished)",
         corio_rt_backend(rt), rt->nworkers, s.tasks_alive, s.tasks_spawned, s.tasks_finished);
    corio__idtable_each(one, &d);
    emit(&d, "corio: end of dump (%d tasks)", d.shown);
    return d.shown;
}

typedef struct to_fd {
    int fd;
    int err;
} to_fd;

static void write_line(void *arg, const char *line) {
    to_fd *o = arg;
    if (o->err != 0) return;
    char buf[LINE + 1];
    size_t n = strlen(line);
    memcpy(buf, line, n);
    buf[n++] = '\n';
    for (size_t done = 0; done < n;) {
        ssize_t w = write(o->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            o->err = w < 0 ? -errno : -EIO;
            return;
        }
        done += (size_t)w;
    }
}

int corio_rt_dump(corio_rt *rt, int fd) {
    if (rt == NULL || fd < 0) return -EINVAL;
    to_fd o = {.fd = fd, .err = 0};
    int n = corio_rt_dump_with(rt, write_line, &o);
    return o.err != 0 ? o.err : n;
}
