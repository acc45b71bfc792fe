/* io/epoll.h - one epoll instance per worker: the parker the scheduler
 * sleeps in (runtime/park.h) and the place where a task waits for a
 * descriptor to become ready or for a deadline (a wait).
 *
 * A wait (corio__ewait, on the waiting task's stack) is registered by the
 * task itself, on the epoll of the worker it runs on at that moment (its
 * owner), with EPOLLONESHOT, and, when it has a deadline, in the owner's
 * timer heap.  Only the owner thread ever completes a wait: readiness and
 * deadlines are found in its poll/park, and a cancel asked from another
 * worker reaches it through a mailbox, as ring.c's.  Completing takes the
 * registration out (EPOLL_CTL_DEL, the heap) and wakes the task with the
 * block seam; the task may then be stolen and run anywhere.
 *
 * Lifetime, the same rule as an io_uring operation (op.h): `pending`
 * counts what may still name the wait (its completion, plus one for a
 * cancel in the owner's mailbox).  The decrement that reaches 0 sets
 * `done` (release) and wakes the task; the task leaves only after it
 * has read done (acquire).  The cancel's increment is a CAS from a value
 * above 0, so nothing names a wait that is over. */
#ifndef CORIO_IO_EPOLL_H
#define CORIO_IO_EPOLL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/timeheap.h"
#include "runtime/park.h"

typedef struct corio__task corio__task;
typedef struct corio__ewait corio__ewait;

typedef struct corio__epoll {
    int epfd;
    int efd;                 /* wake-up eventfd, in the epoll set */
    unsigned index;
    /* ---- owner thread only ---- */
    corio__theap timers;
    unsigned fd_waits;       /* registered descriptors */
    unsigned passes;         /* due() calls since the last poll */
    /* ---- any thread ---- */
    /* Dekker pair with park, as ring.h's: unpark exchanges permit, then
     * loads sleeping; park stores sleeping, then exchanges permit. */
    _Atomic int permit;
    _Atomic int sleeping;
    pthread_mutex_t mail_lock;
    corio__ewait *mail;      /* cancels from other workers, under mail_lock */
    _Atomic int has_mail;    /* a hint, read on every pass (relaxed) */
} corio__epoll;

struct corio__ewait {
    corio__theap_node timer; /* first: the heap hands back this address */
    corio__task *task;
    corio__epoll *ep;        /* the owner */
    int fd;                  /* registered descriptor (ours if dup'ed), -1: a timer only */
    bool dup;                /* fd is our dup of the caller's (EEXIST) */
    bool completed;          /* owner only */
    bool cancel_asked;       /* task only */
    int res;                 /* ready events, -ETIME, -ECANCELED (owner writes) */
    _Atomic unsigned pending;
    _Atomic int done;
    corio__ewait *mail_next;
};

extern const corio__parker_ops corio__epoll_parker;

/* Wait on `ep` (the calling task's worker's) until `fd` has one of
 * `events` (fd < 0: no descriptor, only the deadline), the CLOCK_MONOTONIC
 * `deadline` passes (-1: none) or the task is killed.  The ready events,
 * -ETIME, -ECANCELED, or the errno of the registration (-EPERM: a
 * descriptor epoll cannot wait on, such as a regular file). */
int corio__epoll_wait(corio__epoll *ep, int fd, unsigned events, int64_t deadline);

#endif
