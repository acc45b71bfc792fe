/* io/fdclose.h - corio_close ends every wait on its descriptor.
 *
 * Why it is needed: io_uring holds a reference to the file of every
 * operation in flight, so close(2) of the number does not end a recv or an
 * accept waiting on it (it waits on for data that never comes), and on
 * epoll a closed number simply never becomes ready.  A server that closes
 * its listener to stop accepting would keep its acceptor asleep forever.
 *
 * So every task waiting inside a corio call on descriptor `fd` is listed
 * here for the length of its wait (a watch, on the task's stack), and
 * corio__fd_close:
 *   1. marks `fd` as closing, flags every watch on it and wakes its task;
 *      the task cancels its wait as a kill does (op.c, epoll.c) and its
 *      call returns -EBADF (the result stands when the call completed
 *      first: bytes read before the close are the caller's);
 *   2. waits until the last of those tasks has left its wait: its
 *      operation is over and the kernel holds none of its buffers;
 *   3. closes the number, then removes the mark.
 * A wait that begins on `fd` while it is marked waits for step 3 to end
 * (yielding) and then runs on whatever the number names by then (closed:
 * -EBADF from the kernel; given to a new file by an accept or an open on
 * another thread: that file, as the caller of the accept meant).  It must
 * not fail with -EBADF at once: between the close(2) and the removal of
 * the mark another worker may accept a connection under the same number.
 *
 * Ordering: every decision (add a watch, flag the watches of a close,
 * remove a watch, count the watches a close still waits for) is made under
 * the lock of the descriptor's bucket.  A watch added before the close
 * takes the lock is flagged by it; one added after sees the mark.  There
 * is no window between two unlocked stores and loads (the store-buffer
 * race a flag pair would have).  The flag is also read by its task
 * without the lock, in its wait loop: a release store before the wake,
 * acquire load by the task (the wake orders it as well).
 *
 * Only tasks' waits inside corio calls are seen: a close(2) of the number
 * by the program, or a plain thread blocked in read(2), is not. */
#ifndef CORIO_IO_FDCLOSE_H
#define CORIO_IO_FDCLOSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct corio__task corio__task;

typedef struct corio__fdwatch {
    struct corio__fdwatch *next, **pprev; /* the bucket's list (under its lock) */
    corio__task *task;
    int fd;
    _Atomic int closed; /* a corio_close of fd began: leave the wait */
} corio__fdwatch;

/* List the calling task as waiting on `fd` (>= 0).  0; 1 when it had to
 * wait for a close of `fd` to end first: it suspended, and the task may
 * run on another worker now (read per-worker state again: DESIGN trap 1);
 * or -ECANCELED when the task was killed during that wait.  Tasks only. */
int corio__fdwatch_add(corio__fdwatch *w, int fd);
/* Take the watch off its list (and let a close that waits for it go on).
 * Never suspends. */
void corio__fdwatch_del(corio__fdwatch *w);

static inline bool corio__fdwatch_closed(const corio__fdwatch *w) {
    return w != NULL && atomic_load_explicit(&w->closed, memory_order_acquire) != 0;
}

/* corio_close's protocol (above), with `do_close(fd)` as step 3; its
 * result.  A close of `fd` that finds another one under way waits for it
 * (yielding) and then closes what the number names by then, as a wait
 * does (a number reused at once by a new file is that file's close; a
 * true double close gets -EBADF from the kernel).  Suspends; a kill does
 * not stop it (the descriptor is always closed).  Tasks only. */
int corio__fd_close(int fd, int (*do_close)(int fd));

#endif
