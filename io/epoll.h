/* io/epoll.h - one epoll instance per worker: the parker the scheduler
 * sleeps in (runtime/park.h) and the place where a task waits for a
 * descriptor to become ready or for a deadline (a wait).
 *
 * A wait (corio__ewait, on the waiting task's stack) is made by the task
 * itself, on the epoll of the worker it runs on at that moment (its
 * owner): it joins the owner's record of its descriptor number
 * (io/epoll_fd.h), which arms the number's registration for the union of
 * the interests of the waits on it, and, when it has a deadline, the
 * owner's timer heap.  Only the owner thread ever completes a wait:
 * readiness and deadlines are found in its poll/park, and a cancel asked
 * from another worker reaches it through a mailbox, as ring.c's.
 * Completing takes the wait off its record and out of the heap (no system
 * call: the registration stays, disarmed or armed for the waits left) and
 * wakes the task with the block seam; the task may then be stolen and run
 * anywhere.  An event names a record (number and generation), never a
 * wait, so nothing the kernel reports can reach a wait that is over.
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

#include "io/epoll_fd.h"
#include "io/fdclose.h"
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
    corio__efd_table fds;    /* a record per descriptor number (epoll_fd.h) */
    unsigned fd_waits;       /* waits on records */
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
    corio__efd *rec;         /* the record it is on, NULL: a timer only */
    corio__ewait *next;      /* rec's list of waits (owner only) */
    corio__ewait **pprev;
    unsigned events;         /* what it waits for (EPOLLIN, EPOLLOUT, ...) */
    bool completed;          /* owner only */
    bool cancel_asked;       /* task only */
    int res;                 /* its ready events, -ETIMEDOUT, -ECANCELED (owner writes) */
    _Atomic unsigned pending;
    _Atomic int done;
    corio__ewait *mail_next;
};

extern const corio__parker_ops corio__epoll_parker;

/* Wait on `ep` (the calling task's worker's) until `fd` has one of
 * `events` (fd < 0: no descriptor, only the deadline), the CLOCK_MONOTONIC
 * `deadline` passes (-1: none) or the task is killed.  The ready events,
 * -ETIMEDOUT, -ECANCELED, or the errno of the registration (-EPERM: a
 * descriptor epoll cannot wait on, such as a regular file).  The ready
 * events are those of `events` that were reported, plus EPOLLERR and
 * EPOLLHUP (POLLNVAL when the number was closed under the wait), or
 * -EBADF when corio_close flagged `watch` (the call's watch of fd, or
 * NULL: io/fdclose.h). */
int corio__epoll_wait(corio__epoll *ep, int fd, unsigned events, int64_t deadline,
                      const corio__fdwatch *watch);

#endif
