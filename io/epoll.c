/* io/epoll.c - the epoll parker: one epoll instance per worker, an eventfd
 * for wake-ups, a timer heap whose earliest deadline bounds epoll_wait,
 * waits on descriptors and deadlines, and the cancel mailbox (epoll.h).
 *
 * The cycle.  Tasks register their own waits (below).  due(), on every
 * scheduler pass, is true when cancel mail came, or when waits exist and
 * CORIO__EPOLL_PASSES passes went by since the last poll: readiness is
 * not visible without a system call (unlike a completion ring), so a busy
 * worker looks every few passes rather than on every one.  poll() takes
 * the mail, collects ready descriptors with a zero timeout (only when
 * some are registered) and fires the deadlines that passed.  park() does
 * the same after sleeping in epoll_pwait2 until the earliest deadline.
 *
 * Registrations (epoll_fd.h).  A wait joins the record of its descriptor
 * number and arms the number's EPOLLONESHOT registration for the union of
 * the interests of the record's waits; an event names the record (number
 * and generation), never a wait.  dispatch() wakes the waits of the
 * record that the event concerns and arms the registration again for
 * those left.  A wait that ends by its deadline or a cancel only leaves
 * the record: what is armed for it may still report once, and finds no
 * wait to wake.  Registrations are never deleted.
 *
 * Wake-ups.  The eventfd is in the epoll set (level-triggered); unpark
 * writes it only when the owner sleeps or is about to, and the owner
 * drains it when it reports.  permit/sleeping is the Dekker pair of
 * ring.c, with the same seq_cst argument: either unpark sees `sleeping`
 * and writes, or park's exchange sees the permit and does not wait. */
#define _GNU_SOURCE 1
#include "io/epoll.h"
#include "io/fdclose.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "io/backend.h"
#include "runtime/block.h"
#include "runtime/chaos.h"

#define CORIO__EPOLL_PASSES 8u
#define CORIO__EPOLL_BATCH 64

/* ---- set-up ------------------------------------------------------------- */

static int ep_create(void *ctx, unsigned index, void **out) {
    (void)ctx;
    corio__epoll *ep = calloc(1, sizeof *ep);
    if (ep == NULL) return -ENOMEM;
    ep->index = index;
    ep->epfd = epoll_create1(EPOLL_CLOEXEC);
    ep->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int err = 0;
    if (ep->epfd < 0 || ep->efd < 0) err = -errno;
    if (err == 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CORIO__EFD_WAKE};
        if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ep->efd, &ev) < 0) err = -errno;
    }
    if (err != 0) {
        if (ep->epfd >= 0) close(ep->epfd);
        if (ep->efd >= 0) close(ep->efd);
        free(ep);
        return err;
    }
    pthread_mutex_init(&ep->mail_lock, NULL);
    *out = ep;
    return 0;
}

/* Every worker thread has ended: no task, no wait is left. */
static void ep_destroy(void *p) {
    corio__epoll *ep = p;
    close(ep->epfd);
    close(ep->efd);
    corio__theap_free(&ep->timers);
    corio__efd_free(&ep->fds);
    pthread_mutex_destroy(&ep->mail_lock);
    free(ep);
}

/* ---- completing a wait (owner thread) ----------------------------------- */

/* One of the references counted in w->pending is gone; the last one ends
 * the wait.  True when it woke the task (w must not be touched again). */
static bool unref(corio__ewait *w) {
    corio__task *t = w->task; /* read before the decrement: after it w may be gone */
    /* acq_rel: the owner's writes (res) reach whoever ends the wait, and
     * the end is published to the task by done's release. */
    if (atomic_fetch_sub_explicit(&w->pending, 1, memory_order_acq_rel) != 1) return false;
    atomic_store_explicit(&w->done, 1, memory_order_release);
    corio__block_wake(t);
    return true;
}

static void rec_link(corio__efd *r, corio__ewait *w) {
    w->rec = r;
    w->next = r->waits;
    w->pprev = &r->waits;
    if (r->waits != NULL) r->waits->pprev = &w->next;
    r->waits = w;
}

static void rec_unlink(corio__ewait *w) {
    *w->pprev = w->next;
    if (w->next != NULL) w->next->pprev = w->pprev;
    w->rec = NULL;
}

/* What the record's waits ask for together. */
static unsigned rec_interest(const corio__efd *r) {
    unsigned ev = 0;
    for (const corio__ewait *w = r->waits; w != NULL; w = w->next) ev |= w->events;
    return ev;
}

/* The wait ends with `res`: it leaves its record and the heap, then the
 * completion's reference goes.  Leaving the record makes no system call:
 * the registration stays as it is (an event it still reports finds this
 * wait gone), and the waits left keep theirs.  A wait completes once;
 * later causes (a deadline after readiness, a cancel after either) find
 * it completed. */
static bool complete(corio__epoll *ep, corio__ewait *w, int res) {
    if (w->completed) return false;
    w->completed = true;
    if (w->rec != NULL) {
        rec_unlink(w);
        ep->fd_waits--;
    }
    corio__theap_remove(&ep->timers, &w->timer);
    w->res = res;
    return unref(w);
}

static void take_mail(corio__epoll *ep, int *woken) {
    atomic_store_explicit(&ep->has_mail, 0, memory_order_relaxed);
    pthread_mutex_lock(&ep->mail_lock);
    corio__ewait *list = ep->mail;
    ep->mail = NULL;
    pthread_mutex_unlock(&ep->mail_lock);
    while (list != NULL) {
        corio__ewait *w = list;
        list = w->mail_next; /* read before the wait may end */
        if (complete(ep, w, -ECANCELED)) ++*woken;
        if (unref(w)) ++*woken; /* the mail's own reference */
    }
}

static void fire_timers(corio__epoll *ep, int *woken) {
    corio__theap_node *n = corio__theap_top(&ep->timers);
    if (n == NULL) return;
    int64_t now = corio__io_now();
    while ((n = corio__theap_top(&ep->timers)) != NULL && n->deadline <= now) {
        corio__ewait *w = (corio__ewait *)(void *)((char *)n - offsetof(corio__ewait, timer));
        if (complete(ep, w, -ETIMEDOUT)) ++*woken;
    }
}

/* An event of the current registration of record r (fd): EPOLLONESHOT
 * has disarmed it.  Every wait that asked for one of the events (all of
 * them on EPOLLERR/EPOLLHUP) is woken; the registration is armed again
 * for the waits left.  If that fails, the number was closed (EBADF) or
 * the kernel is out of room: the waits left are woken with POLLNVAL or
 * the error, and their calls find out what happened by trying. */
static void fire_record(corio__epoll *ep, corio__efd *r, int fd, unsigned events, int *woken) {
    corio__ewait *w = r->waits;
    while (w != NULL) {
        corio__ewait *next = w->next; /* read before w may end */
        unsigned mine = events & (w->events | EPOLLERR | EPOLLHUP);
        if (mine != 0) {
            CORIO__CHAOS();
            if (complete(ep, w, (int)mine)) ++*woken;
        }
        w = next;
    }
    if (r->waits == NULL) return;
    int err = corio__efd_arm(ep->epfd, r, fd, rec_interest(r));
    if (err == 0) return;
    int res = err == -EBADF ? POLLNVAL : err;
    while ((w = r->waits) != NULL)
        if (complete(ep, w, res)) ++*woken;
}

static void dispatch(corio__epoll *ep, const struct epoll_event *evs, int n, int *woken) {
    for (int i = 0; i < n; i++) {
        uint64_t key = evs[i].data.u64;
        if (key == CORIO__EFD_WAKE) {
            uint64_t v;
            ssize_t r = read(ep->efd, &v, sizeof v); /* EAGAIN: already drained */
            (void)r;
            continue;
        }
        /* The event's record, or NULL when its generation is not the
         * record's: a registration of a file this number no longer has (the
         * file outlived the number, or the number was reused), stale.  A
         * current one fired once (EPOLLONESHOT) and is re-armed only in
         * fire_record, after this batch was collected: no second event of
         * it is in this batch. */
        corio__efd *r = corio__efd_lookup(&ep->fds, key);
        CORIO__CHAOS();
        if (r != NULL) fire_record(ep, r, corio__efd_key_fd(key), evs[i].events, woken);
    }
}

/* Collect ready descriptors waiting at most `timeout_ns` (0: none, < 0:
 * no limit). */
static void collect(corio__epoll *ep, int64_t timeout_ns, int *woken) {
    struct epoll_event evs[CORIO__EPOLL_BATCH];
    int n;
    if (timeout_ns == 0) {
        n = epoll_wait(ep->epfd, evs, CORIO__EPOLL_BATCH, 0);
    } else {
        struct timespec ts = {.tv_sec = timeout_ns / 1000000000,
                              .tv_nsec = timeout_ns % 1000000000};
        n = epoll_pwait2(ep->epfd, evs, CORIO__EPOLL_BATCH, timeout_ns < 0 ? NULL : &ts, NULL);
        if (n < 0 && errno == ENOSYS) { /* before Linux 5.11: milliseconds, rounded up */
            int ms = timeout_ns < 0 ? -1
                     : timeout_ns > (int64_t)1000000 * 86400000 ? 86400000
                                                                : (int)((timeout_ns + 999999) / 1000000);
            n = epoll_wait(ep->epfd, evs, CORIO__EPOLL_BATCH, ms);
        }
    }
    /* A full batch may have left more: take them all now, so that tasks
     * woken together queue together (a task woken in a later pass would
     * find the first ones on their second turn already). */
    while (n == CORIO__EPOLL_BATCH) {
        dispatch(ep, evs, n, woken);
        n = epoll_wait(ep->epfd, evs, CORIO__EPOLL_BATCH, 0);
    }
    if (n > 0) dispatch(ep, evs, n, woken);
}

static int ep_poll(void *p) {
    corio__epoll *ep = p;
    int woken = 0;
    ep->passes = 0;
    if (atomic_load_explicit(&ep->has_mail, memory_order_relaxed)) take_mail(ep, &woken);
    if (ep->fd_waits != 0) collect(ep, 0, &woken);
    fire_timers(ep, &woken);
    return woken;
}

static bool ep_due(void *p) {
    corio__epoll *ep = p;
    if (atomic_load_explicit(&ep->has_mail, memory_order_relaxed)) return true;
    return (ep->fd_waits != 0 || ep->timers.len != 0) && ++ep->passes >= CORIO__EPOLL_PASSES;
}

/* ---- sleeping and waking ------------------------------------------------ */

static void ep_park(void *p, int64_t timeout_ns) {
    corio__epoll *ep = p;
    int woken = 0;
    atomic_store_explicit(&ep->sleeping, 1, memory_order_seq_cst);
    if (atomic_exchange_explicit(&ep->permit, 0, memory_order_seq_cst) == 0 &&
        !atomic_load_explicit(&ep->has_mail, memory_order_seq_cst)) {
        corio__theap_node *n = corio__theap_top(&ep->timers);
        if (n != NULL) {
            int64_t left = n->deadline - corio__io_now();
            if (left < 0) left = 0;
            if (timeout_ns < 0 || left < timeout_ns) timeout_ns = left;
        }
        collect(ep, timeout_ns, &woken);
        /* A permit given while we waited is used up by this return. */
        atomic_exchange_explicit(&ep->permit, 0, memory_order_relaxed);
    }
    atomic_store_explicit(&ep->sleeping, 0, memory_order_relaxed);
    (void)ep_poll(ep);
}

static void ep_unpark(void *p) {
    corio__epoll *ep = p;
    if (atomic_exchange_explicit(&ep->permit, 1, memory_order_seq_cst) != 0) return;
    if (atomic_load_explicit(&ep->sleeping, memory_order_seq_cst)) {
        uint64_t one = 1;
        /* EAGAIN only when the counter is full: it is readable then. */
        ssize_t w = write(ep->efd, &one, sizeof one);
        (void)w;
    }
}

/* ---- the waiting task --------------------------------------------------- */

/* The task, killed while w is registered: the owner takes it out.  On the
 * owner's own thread that is done here; from another worker, through the
 * owner's mailbox, with a reference for the mail taken first (only while
 * the wait is not over: epoll.h). */
static void ask_cancel(corio__ewait *w) {
    w->cancel_asked = true;
    void *cur = NULL;
    (void)corio__io_current(&cur);
    if (cur == w->ep) {
        (void)complete(w->ep, w, -ECANCELED);
        return;
    }
    /* acq_rel: pairs with the owner's decrements (unref). */
    unsigned p = atomic_load_explicit(&w->pending, memory_order_acquire);
    do {
        if (p == 0) return;
    } while (!atomic_compare_exchange_weak_explicit(&w->pending, &p, p + 1, memory_order_acq_rel,
                                                    memory_order_acquire));
    corio__epoll *ep = w->ep;
    pthread_mutex_lock(&ep->mail_lock);
    w->mail_next = ep->mail;
    ep->mail = w;
    pthread_mutex_unlock(&ep->mail_lock);
    /* seq_cst store, then unpark's exchange and load: pairs with park's
     * store of `sleeping` and load of has_mail (Dekker's pattern). */
    atomic_store_explicit(&ep->has_mail, 1, memory_order_seq_cst);
    ep_unpark(ep);
}

/* Join the record of fd and arm its registration for every wait on it,
 * this one included.  Always armed anew, even when the interest is
 * already armed: the number may name another file than the one the
 * earlier waits armed (closed and reused), and the MOD (or the ADD after
 * ENOENT) is what makes sure this wait's file is registered. */
static int join_fd(corio__epoll *ep, corio__ewait *w, int fd, unsigned events) {
    corio__efd *r = corio__efd_get(&ep->fds, fd);
    if (r == NULL) return -ENOMEM;
    /* Only readiness bits: the flags of the upper bits (EPOLLET,
     * EPOLLEXCLUSIVE...) are the registration's business, not a wait's. */
    w->events = events & (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM |
                          EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP);
    rec_link(r, w);
    int err = corio__efd_arm(ep->epfd, r, fd, rec_interest(r));
    if (err < 0) {
        rec_unlink(w);
        return err;
    }
    ep->fd_waits++;
    return 0;
}

int corio__epoll_wait(corio__epoll *ep, int fd, unsigned events, int64_t deadline,
                      const corio__fdwatch *watch) {
    corio__task *t = corio__block_self();
    if (corio__block_killed(t)) return -ECANCELED;
    if (corio__fdwatch_closed(watch)) return -EBADF;
    corio__ewait w = {.task = t, .ep = ep, .rec = NULL};
    w.timer.idx = CORIO__HEAP_NONE;
    w.timer.deadline = deadline;
    atomic_init(&w.pending, 1);
    atomic_init(&w.done, 0);
    /* w joins its record on the owner's thread (we run on it now), and
     * nothing runs the owner's poll before this task suspends: no event
     * can reach w before it is complete and on its record. */
    if (fd >= 0) {
        int r = join_fd(ep, &w, fd, events);
        if (r < 0) return r;
    }
    if (deadline >= 0 && corio__theap_push(&ep->timers, &w.timer) < 0) {
        if (w.rec != NULL) { /* taken off at once, as a completion would */
            rec_unlink(&w);
            ep->fd_waits--;
        }
        return -ENOMEM;
    }
    /* acquire: pairs with the release of the last reference (unref). */
    bool closed = false;
    while (!atomic_load_explicit(&w.done, memory_order_acquire)) {
        if (!w.cancel_asked && corio__block_killed(t)) {
            ask_cancel(&w);
        } else if (!w.cancel_asked && corio__fdwatch_closed(watch)) {
            closed = true; /* corio_close of fd: cancelled as a kill is */
            ask_cancel(&w);
        } else {
            corio__block_suspend();
        }
    }
    /* Ready first: the events stand, and the next wait sees the close. */
    return closed && w.res == -ECANCELED ? -EBADF : w.res;
}

const corio__parker_ops corio__epoll_parker = {
    .create = ep_create,
    .destroy = ep_destroy,
    .park = ep_park,
    .unpark = ep_unpark,
    .poll = ep_poll,
    .due = ep_due,
    .name = "epoll",
};
