/* io/fdclose.c - the watches of the waits on each descriptor, and the
 * close that ends them (the protocol is in fdclose.h). */
#include "io/fdclose.h"

#include <errno.h>
#include <stddef.h>

#include "corio/task.h"
#include "runtime/block.h"
#include "runtime/chaos.h"
#include "runtime/spin.h"
#include "runtime/wait.h"
#include "runtime/task.h"

/* A close under way: the mark of its descriptor. */
typedef struct closer {
    struct closer *next;
    int fd;
    unsigned left;    /* flagged watches not yet removed (under the lock) */
    corio__wait wait; /* the closing task's, decided by the last removal */
} closer;

/* Descriptors hashed by number: numbers are handed out lowest first, so
 * the low bits spread them.  A bucket is touched twice per wait (add,
 * remove) by the task that waits, and by a close of one of its numbers:
 * one line each, so two workers' waits on different buckets never share
 * a line. */
#define NBUCKETS 64u

typedef struct __attribute__((aligned(64))) bucket {
    corio__spin lock;
    corio__fdwatch *watches;
    closer *closers;
} bucket;

static bucket buckets[NBUCKETS]; /* zeroed: unlocked, empty */

static bucket *bucket_of(int fd) { return &buckets[(unsigned)fd % NBUCKETS]; }

static closer *closing(const bucket *b, int fd) {
    for (closer *c = b->closers; c != NULL; c = c->next)
        if (c->fd == fd) return c;
    return NULL;
}

int corio__fdwatch_add(corio__fdwatch *w, int fd) {
    w->task = corio__block_self();
    w->fd = fd;
    atomic_init(&w->closed, 0);
    bucket *b = bucket_of(fd);
    for (int yielded = 0;; yielded = 1) {
        corio__spin_lock(&b->lock);
        if (closing(b, fd) == NULL) {
            w->pprev = &b->watches;
            w->next = b->watches;
            if (w->next != NULL) w->next->pprev = &w->next;
            b->watches = w;
            corio__spin_unlock(&b->lock);
            return yielded;
        }
        corio__spin_unlock(&b->lock);
        /* Closing now: the wait starts after the close (fdclose.h).  The
         * close is a few steps of another task, which this lets run. */
        if (corio_task_yield() == -ECANCELED) return -ECANCELED;
    }
}

void corio__fdwatch_del(corio__fdwatch *w) {
    bucket *b = bucket_of(w->fd);
    corio__wait *last = NULL;
    CORIO__CHAOS();
    corio__spin_lock(&b->lock);
    *w->pprev = w->next;
    if (w->next != NULL) w->next->pprev = w->pprev;
    /* relaxed: the flag is written under this lock, which orders it. */
    if (atomic_load_explicit(&w->closed, memory_order_relaxed)) {
        /* A flagged watch outlives no close: its closer waits for it. */
        closer *c = closing(b, w->fd);
        if (--c->left == 0 && corio__wait_decide(&c->wait, 1)) last = &c->wait;
    }
    corio__spin_unlock(&b->lock);
    /* After the unlock: the closer cannot leave before this done, so its
     * wait stays valid; it then takes the lock again itself. */
    if (last != NULL) corio__wait_done(last);
}

int corio__fd_close(int fd, int (*do_close)(int fd)) {
    bucket *b = bucket_of(fd);
    closer c = {.fd = fd, .left = 0};
    corio__wait_init(&c.wait);
    corio__spin_lock(&b->lock);
    while (closing(b, fd) != NULL) {
        /* Another close of the number is under way: this one comes after
         * it and closes what the number names then.  Not -EBADF at once:
         * between that close(2) and the removal of its mark, another
         * worker may have been given the number for a new file (an
         * accept, a pipe), and this close is of that file; refusing it
         * would leak the file.  A true double close then gets -EBADF
         * from the kernel.  Not killable (a close always happens): the
         * yield's -ECANCELED is left for the next call. */
        corio__spin_unlock(&b->lock);
        (void)corio_task_yield();
        corio__spin_lock(&b->lock);
    }
    c.next = b->closers;
    b->closers = &c;
    for (corio__fdwatch *w = b->watches; w != NULL; w = w->next) {
        if (w->fd != fd) continue;
        /* release: pairs with the task's acquire in its wait loop. */
        atomic_store_explicit(&w->closed, 1, memory_order_release);
        c.left++;
        /* Under the lock: the task cannot leave its wait (its removal
         * takes this lock), so it cannot end, nor its runtime be freed,
         * while it is woken (runtime/block.h's lifetime rule). */
        corio__block_wake(w->task);
    }
    unsigned flagged = c.left;
    corio__spin_unlock(&b->lock);
    CORIO__CHAOS();
    /* Not killable: the descriptor is closed whatever happens.  Each
     * flagged task cancels its wait and leaves: the time of one cancel. */
    if (flagged > 0) {
        corio__note_set(corio__task_note(c.wait.task), CORIO__WHY_CLOSE, 0, fd);
        (void)corio__wait_block(&c.wait, -1, false);
        corio__note_clear(corio__task_note(c.wait.task));
    }
    int r = do_close(fd);
    corio__spin_lock(&b->lock);
    closer **pp = &b->closers;
    while (*pp != &c) pp = &(*pp)->next;
    *pp = c.next;
    corio__spin_unlock(&b->lock);
    return r;
}
