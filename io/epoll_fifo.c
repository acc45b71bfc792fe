/* io/epoll_fifo.c - the epoll backend's open of a FIFO that must wait for
 * its peer (openat without O_NONBLOCK), with a deadline and a kill.
 *
 * openat(2) of a FIFO blocks until the other end is opened, and nothing
 * can be polled for meanwhile, so the open runs in the blocking-call
 * pool, which no timeout or kill interrupts.  To still end at the
 * deadline or the kill, as the io_uring backend does, the pool call is
 * made by a helper task and the caller waits for it on a semaphore, with
 * the deadline and killably.  If the wait ends first, the caller releases
 * the blocked open itself: it opens the FIFO's other end without waiting
 * (a reader always can; a writer can once the blocked reader is there),
 * which completes the open; then it joins the helper, closes both
 * descriptors and returns -ETIMEDOUT or -ECANCELED.  An open that succeeded
 * at that very moment is closed too: the call reports its deadline. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corio/sync.h"
#include "corio/task.h"
#include "io/backend.h"
#include "io/epoll_fifo.h"
#include "runtime/task.h"

typedef struct fifo_open {
    const corio__io_req *rq;
    corio_sem *done;
    ssize_t fd; /* the open's result, written before `done` is released */
} fifo_open;

static void *open_blocking(void *arg) {
    const corio__io_req *rq = arg;
    int fd = openat(rq->fd, rq->path, rq->flags, rq->mode);
    return (void *)(intptr_t)(fd < 0 ? -errno : fd);
}

/* The helper task: the open in the pool, then the result. */
static void *opener(void *arg) {
    fifo_open *f = arg;
    void *res = (void *)(intptr_t)-ECANCELED;
    int r = corio_blocking(open_blocking, (void *)f->rq, &res);
    /* -ECANCELED from corio_blocking: killed while the open ran; its
     * result still counts (the descriptor must not leak). */
    f->fd = r < 0 && r != -ECANCELED ? r : (ssize_t)(intptr_t)res;
    corio_sem_release(f->done);
    return NULL;
}

bool corio__epoll_fifo_waits(const corio__io_req *rq) {
    int acc = rq->flags & O_ACCMODE;
    if ((rq->flags & O_NONBLOCK) || (rq->flags & O_PATH) || (acc != O_RDONLY && acc != O_WRONLY))
        return false; /* O_RDWR never waits for a peer */
    struct stat st;
    int at = (rq->flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;
    return fstatat(rq->fd, rq->path, &st, at) == 0 && S_ISFIFO(st.st_mode);
}

ssize_t corio__epoll_fifo_open(const corio__io_req *rq, int64_t timeout_ns) {
    fifo_open f = {.rq = rq, .fd = -ECANCELED};
    int r = corio_sem_create(&f.done, 0);
    if (r < 0) return r;
    corio_tid h;
    r = corio_task_spawn(&h, opener, &f);
    if (r < 0) {
        corio_sem_destroy(f.done);
        return r;
    }
    int w = corio_sem_acquire(f.done, timeout_ns);
    int poke = -1;
    if (w != 0) {
        /* The deadline or a kill came first: release the open.  While the
         * helper lives (a kill of it is harmless: the pool call is never
         * interrupted, and reports a kill only once it returned), open the
         * other end without waiting; a writer's poke fails (ENXIO) until
         * the blocked reader is there. */
        int other = (rq->flags & O_ACCMODE) == O_RDONLY ? O_WRONLY : O_RDONLY;
        while (poke < 0 && corio_task_kill(h) == 1) {
            poke = openat(rq->fd, rq->path, other | O_NONBLOCK | O_CLOEXEC);
            if (poke < 0) (void)corio_task_yield(); /* killed: it still yields */
        }
    }
    (void)corio__task_join_unkillable(h, NULL);
    if (poke >= 0) close(poke);
    corio_sem_destroy(f.done);
    if (w == 0) return f.fd;
    if (f.fd >= 0) close(f.fd);
    return w;
}
