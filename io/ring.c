/* io/ring.c - the io_uring parker: set-up with flag probing, the
 * submit/reap cycle on every scheduler pass, sleeping in the ring, wake-ups
 * from other threads, and the cancel mailbox (ring.h).
 *
 * Setup flags.  Tried in order, dropping one whenever the kernel answers
 * -EINVAL: SUBMIT_ALL (a bad SQE does not stop the rest of a batch),
 * COOP_TASKRUN|TASKRUN_FLAG (no interrupting IPIs; the kernel raises
 * IORING_SQ_TASKRUN when it has completions to post, and liburing's reap
 * enters the kernel to post them), SINGLE_ISSUER.  Not DEFER_TASKRUN:
 * measured on this kernel (DESIGN trap 4), it posts completions only when
 * the owner enters the kernel, so a task waiting on a busy worker would
 * wait for that worker's current task to yield; docs/io.md has the choice.
 *
 * The cycle.  Tasks only fill SQEs (op.c).  due(), on every scheduler
 * pass, is true when CORIO__RING_BATCH SQEs wait, when SQEs have waited
 * CORIO__RING_PASSES passes, when completions are posted, or when mail
 * came; the worker then calls poll(): one io_uring_enter for the batch,
 * then every posted completion is dispatched (op.c wakes its task onto
 * this worker's queue).  A worker with nothing to run polls before it
 * steals, and sleeps in io_uring_submit_and_wait_timeout, which submits
 * what waits in the same call.
 *
 * Wake-ups.  A pending read of an eventfd is always in the ring; unpark
 * writes the eventfd only when the owner sleeps or is about to (the
 * `sleeping` flag), so a busy runtime makes no such system calls.  The
 * permit/sleeping pair is Dekker's pattern (each side an RMW or seq_cst
 * store followed by a seq_cst load of the other's word): either unpark sees
 * `sleeping` and writes, or park's exchange sees the permit and does not
 * wait.  A write that meets no wait leaves the eventfd readable: the next
 * park returns at once, a spurious wake-up the contract allows. */
#define _GNU_SOURCE 1
#include "io/ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io/op.h"
#include "io/tsan.h"
#include "runtime/block.h"

/* ---- set-up ------------------------------------------------------------- */

static const unsigned try_flags[] = {
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
        IORING_SETUP_SINGLE_ISSUER,
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_SUBMIT_ALL,
    0,
};

const char *corio__uring_setup_hint(int err) {
    switch (err) {
    case -EPERM:
        return "io_uring is refused here (a seccomp filter, or kernel.io_uring_disabled)";
    case -ENOSYS:
        return "this kernel has no io_uring";
    case -ENOMEM:
        return "no memory for the ring (RLIMIT_MEMLOCK for a non-root user?)";
    case -EMFILE:
    case -ENFILE:
        return "out of file descriptors";
    default:
        return "";
    }
}

/* One line on stderr per process, naming the cause; the errno is returned
 * from corio_rt_create. */
static void report_setup_failure(unsigned index, int err) {
    static _Atomic int said;
    if (atomic_exchange_explicit(&said, 1, memory_order_relaxed)) return;
    fprintf(stderr, "corio: cannot set up io_uring on worker %u: %s%s%s\n", index, strerror(-err),
            corio__uring_setup_hint(err)[0] ? ": " : "", corio__uring_setup_hint(err));
}

static void arm_wake(corio__ring *r);

static int ring_create(void *ctx, unsigned index, void **out) {
    (void)ctx;
    corio__ring *r = calloc(1, sizeof *r);
    if (r == NULL) return -ENOMEM;
    r->index = index;
    int err = -EINVAL;
    for (size_t i = 0; i < sizeof try_flags / sizeof try_flags[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = try_flags[i];
        err = io_uring_queue_init_params(CORIO__RING_ENTRIES, &r->ring, &p);
        if (err != -EINVAL) {
            r->setup_flags = try_flags[i];
            break;
        }
    }
    if (err < 0) {
        report_setup_failure(index, err);
        free(r);
        return err;
    }
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0) {
        err = -errno;
        report_setup_failure(index, err);
        io_uring_queue_exit(&r->ring);
        free(r);
        return err;
    }
    pthread_mutex_init(&r->mail_lock, NULL);
    arm_wake(r);
    *out = r;
    return 0;
}

/* Every worker thread has ended: no task, no operation is left but the
 * eventfd read, which the ring's teardown cancels. */
static void ring_destroy(void *p) {
    corio__ring *r = p;
    io_uring_queue_exit(&r->ring);
    close(r->efd);
    pthread_mutex_destroy(&r->mail_lock);
    free(r);
}

/* ---- SQEs --------------------------------------------------------------- */

static int submit(corio__ring *r) {
    if (r->queued == 0 && io_uring_sq_ready(&r->ring) == 0) return 0;
    corio__tsan_release(&r->tsan_sync);
    int n = io_uring_submit(&r->ring);
    if (n >= 0) r->queued = io_uring_sq_ready(&r->ring);
    return n;
}

bool corio__ring_sqes(corio__ring *r, unsigned n, struct io_uring_sqe **out) {
    if (io_uring_sq_space_left(&r->ring) < n) {
        (void)submit(r);
        if (io_uring_sq_space_left(&r->ring) < n) return false;
    }
    /* In submission order: nothing else fills this ring meanwhile (only
     * its owner thread does, and the caller runs on it). */
    for (unsigned i = 0; i < n; i++) out[i] = io_uring_get_sqe(&r->ring);
    return true;
}

static void arm_wake(corio__ring *r) {
    struct io_uring_sqe *sqe;
    if (!corio__ring_sqes(r, 1, &sqe)) return; /* retried at the next reap */
    io_uring_prep_read(sqe, r->efd, &r->wake_buf, sizeof r->wake_buf, 0);
    io_uring_sqe_set_data64(sqe, CORIO__UD_WAKE);
    corio__ring_filled(r, 1);
    r->wake_armed = true;
}

/* ---- reaping ------------------------------------------------------------ */

static void take_mail(corio__ring *r) {
    atomic_store_explicit(&r->has_mail, 0, memory_order_relaxed);
    pthread_mutex_lock(&r->mail_lock);
    corio__mail *list = r->mail;
    r->mail = NULL;
    pthread_mutex_unlock(&r->mail_lock);
    while (list != NULL) {
        corio__mail *m = list;
        list = m->next; /* read before the cancel may end m's operation */
        corio__op_submit_cancel(r, m);
    }
}

/* Dispatch every completion posted now; returns how many tasks it woke. */
static int reap(corio__ring *r) {
    struct io_uring_cqe *cqes[64];
    int woken = 0;
    for (;;) {
        unsigned n = io_uring_peek_batch_cqe(&r->ring, cqes, 64);
        if (n == 0) break;
        corio__tsan_acquire(&r->tsan_sync);
        for (unsigned i = 0; i < n; i++) {
            uint64_t ud = cqes[i]->user_data;
            int res = cqes[i]->res;
            unsigned flags = cqes[i]->flags;
            if (ud == CORIO__UD_WAKE) {
                r->wake_armed = false;
                continue;
            }
            corio__op *op = (corio__op *)(uintptr_t)(ud & ~(uint64_t)CORIO__TAG_MASK);
            unsigned tag = (unsigned)(ud & CORIO__TAG_MASK);
            if (op == NULL) continue;
            if (corio__op_complete(op, tag, res, flags)) woken++;
        }
        io_uring_cq_advance(&r->ring, n);
        if (n < 64) break;
    }
    if (!r->wake_armed) arm_wake(r);
    return woken;
}

static bool ring_due(void *p) {
    corio__ring *r = p;
    if (r->queued != 0 && (r->queued >= CORIO__RING_BATCH || ++r->passes >= CORIO__RING_PASSES))
        return true;
    if (io_uring_cq_ready(&r->ring) != 0) return true;
    /* Completions the kernel holds back (COOP_TASKRUN) or could not post
     * (a full CQ: the kernel keeps them, NODROP) are flagged here. */
    unsigned sqf = IO_URING_READ_ONCE(*r->ring.sq.kflags);
    if (sqf & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) return true;
    return atomic_load_explicit(&r->has_mail, memory_order_relaxed) != 0;
}

static int ring_poll(void *p) {
    corio__ring *r = p;
    if (atomic_load_explicit(&r->has_mail, memory_order_relaxed)) take_mail(r);
    (void)submit(r);
    return reap(r);
}

/* ---- sleeping and waking ------------------------------------------------ */

static void ring_park(void *p, int64_t timeout_ns) {
    corio__ring *r = p;
    atomic_store_explicit(&r->sleeping, 1, memory_order_seq_cst);
    if (atomic_exchange_explicit(&r->permit, 0, memory_order_seq_cst) == 0 &&
        !atomic_load_explicit(&r->has_mail, memory_order_seq_cst) &&
        io_uring_cq_ready(&r->ring) == 0) {
        struct io_uring_cqe *cqe;
        corio__tsan_release(&r->tsan_sync);
        if (timeout_ns >= 0) {
            struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
                                           .tv_nsec = timeout_ns % 1000000000};
            (void)io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
        } else {
            (void)io_uring_submit_and_wait(&r->ring, 1);
        }
        r->queued = io_uring_sq_ready(&r->ring);
        /* A permit given while we waited is used up by this return. */
        atomic_exchange_explicit(&r->permit, 0, memory_order_relaxed);
    }
    atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
    (void)ring_poll(r);
}

static void ring_unpark(void *p) {
    corio__ring *r = p;
    if (atomic_exchange_explicit(&r->permit, 1, memory_order_seq_cst) != 0) return;
    if (atomic_load_explicit(&r->sleeping, memory_order_seq_cst)) {
        uint64_t one = 1;
        /* EAGAIN only when the counter is full: it is readable then. */
        ssize_t w = write(r->efd, &one, sizeof one);
        (void)w;
    }
}

void corio__ring_mail_cancel(corio__ring *r, corio__mail *m) {
    pthread_mutex_lock(&r->mail_lock);
    m->next = r->mail;
    r->mail = m;
    pthread_mutex_unlock(&r->mail_lock);
    /* seq_cst store, then unpark's exchange and load: pairs with park's
     * store of `sleeping` and load of has_mail (Dekker's pattern): a
     * sleeping owner is woken, a busy one sees the flag on its next pass. */
    atomic_store_explicit(&r->has_mail, 1, memory_order_seq_cst);
    ring_unpark(r);
}

corio__ring *corio__ring_current(void) {
    const corio__parker_ops *ops = NULL;
    void *p = corio__block_parker(&ops);
    return p != NULL && ops == &corio__uring_parker ? p : NULL;
}

const corio__parker_ops corio__uring_parker = {
    .create = ring_create,
    .destroy = ring_destroy,
    .park = ring_park,
    .unpark = ring_unpark,
    .poll = ring_poll,
    .due = ring_due,
    .name = "io_uring",
};
