/* io/ring.h - one io_uring per worker: the parker the scheduler sleeps in
 * (runtime/park.h) and the queue every I/O operation goes through.
 *
 * Ownership: the ring is created on its worker's thread and only that
 * thread submits to it or reaps it (IORING_SETUP_SINGLE_ISSUER where the
 * kernel has it).  A task submits on the ring of the worker it runs on now;
 * the completion comes back there and wakes the task there, from where it
 * may be stolen (DESIGN trap 4).  Other threads reach a ring only through
 * `permit` + the eventfd (unpark) and the cancel mailbox.
 *
 * user_data of every SQE: a pointer with a tag in its low 3 bits
 * (operations are 8-byte aligned) or a constant:
 *   op | TAG_OP       the operation's own completion
 *   op | TAG_TIMEOUT  its linked timeout's completion
 *   op | TAG_CANCEL+i the completion of a cancel aimed at it, sent for
 *                     its i-th reason (op.h: kill, timer, disarm)
 *   TAG_WAKE          the read of the wake-up eventfd
 * Every one of these an operation expects is counted in its `pending`, and
 * the operation (on its task's stack) is released only when all of them
 * have come back (op.c): no CQE ever names dead memory. */
#ifndef CORIO_IO_RING_H
#define CORIO_IO_RING_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/park.h"

#define CORIO__RING_ENTRIES 256u  /* SQ entries; the CQ gets twice (kernel default) */

enum {
    CORIO__TAG_OP = 0,
    CORIO__TAG_TIMEOUT = 1,
    CORIO__TAG_CANCEL = 2, /* 2, 3, 4: one per cancel reason (op.h) */
    CORIO__TAG_MASK = 7,
};
#define CORIO__UD_WAKE ((uint64_t)8 | 3) /* not an address: 8-aligned + 3 */

/* Submit when this many SQEs wait, or when the oldest has waited this many
 * scheduler passes; a worker with nothing to run submits at once. */
#define CORIO__RING_BATCH 32u
#define CORIO__RING_PASSES 8u

typedef struct corio__op corio__op;

/* One cancel request in a ring's mailbox: cancel the SQE `op | tag` (the
 * operation itself, or its own timer).  Each lives in its operation
 * (op.h), one per reason to cancel, so that none is ever in the list
 * twice. */
typedef struct corio__mail {
    corio__op *op;
    unsigned tag;             /* CORIO__TAG_OP or CORIO__TAG_TIMEOUT */
    struct corio__mail *next; /* under the ring's mail_lock */
} corio__mail;

typedef struct corio__ring {
    struct io_uring ring;
    unsigned index;          /* the worker's */
    unsigned setup_flags;    /* what the kernel accepted */
    /* ---- owner thread only ---- */
    unsigned queued;         /* SQEs filled and not submitted */
    unsigned passes;         /* due() calls since the oldest of them */
    bool wake_armed;         /* the eventfd read is in flight */
    uint64_t wake_buf;       /* its buffer (the kernel writes it) */
    /* ---- any thread ---- */
    int efd;                 /* wake-up eventfd (EFD_NONBLOCK) */
    /* Dekker pair with park (ring.c): unpark exchanges permit, then loads
     * sleeping; park stores sleeping, then exchanges permit; seq_cst. */
    _Atomic int permit;
    _Atomic int sleeping;
    /* Cancels of operations on this ring requested from other workers
     * (or by the owner itself when its SQ had no room). */
    pthread_mutex_t mail_lock;
    corio__mail *mail;       /* under mail_lock, linked through ->next */
    _Atomic int has_mail;    /* a hint, read on every pass (relaxed) */
    char tsan_sync;          /* address for TSan's release/acquire (trap 8) */
} corio__ring;

extern const corio__parker_ops corio__uring_parker;

/* Why a ring cannot be set up, for an errno of io_uring_setup ("" when
 * there is nothing to add to strerror). */
const char *corio__uring_setup_hint(int err);

/* The ring of the worker running the calling task, or NULL (a plain
 * thread, or a runtime on another backend).  Read it again after every
 * suspension. */
corio__ring *corio__ring_current(void);
/* `n` free SQEs of r (the caller's own ring) in out[], submitting what
 * waits if there is no room; false only if the kernel takes none now (the
 * caller yields and retries).  The caller fills them before it suspends:
 * they go to the kernel in one submission, in this order. */
bool corio__ring_sqes(corio__ring *r, unsigned n, struct io_uring_sqe **out);
/* n SQEs were filled (counted for the batch). */
static inline void corio__ring_filled(corio__ring *r, unsigned n) {
    if (r->queued == 0) r->passes = 0;
    r->queued += n;
}
/* Hand the cancel `m` to the ring's owner (from another worker, or from
 * the owner when no SQE is free now): submitted at its next poll. */
void corio__ring_mail_cancel(corio__ring *r, corio__mail *m);

#endif
