/* io/signal.c - signals in tasks (corio/signal.h, docs/api/signal.md).
 *
 * A wait is a signalfd(2) for the set, made by the waiting task, waited
 * for with corio_poll and read with read(2) on the worker thread, then
 * closed.  Why this shape:
 *
 * - The kernel keeps the signal.  A signal blocked in every thread stays
 *   pending (process-wide, or on its target thread) until a signalfd read
 *   or a sigwait takes it, so a signal that comes while no task waits is
 *   simply there for the next wait, and the wait needs no state of its
 *   own between calls: one descriptor per call, closed before it returns.
 *   A handler that writes to a pipe (tokio's way) would have to install a
 *   process-wide handler, count what came while nobody waited, and
 *   replace whatever disposition the program had; the mask is the
 *   program's own choice and corio_signal_block states it.
 * - The read is made by the worker thread itself, never by the ring: a
 *   signalfd read dequeues from the signal state of the task that reads,
 *   and an io_uring read punted to an io-wq kernel worker would read that
 *   worker's.  A poll is safe: io_uring evaluates it in the context of
 *   the ring's owner, the worker that submitted it (its first check at
 *   submission, later ones in its task work), and epoll in that of the
 *   worker that calls epoll_wait; both see the process's pending signals
 *   and the worker's own.
 * - A wake is only a hint.  Every signalfd of the process is woken by every
 *   signal, and several tasks may wait for the same one: the read decides,
 *   and exactly one read dequeues each pending signal.  A read that finds
 *   nothing (another wait took it; or the signal is pending on another
 *   thread, see below) waits again, until the deadline.
 * - A thread-directed signal (pthread_kill, tgkill) is pending on its
 *   target thread only.  signalfd reads the reader's own pending signals
 *   and the process's, so only a wait whose read runs on that thread can
 *   take it; sent to a worker, it waits there for a task that waits on
 *   that worker.  Measured on 6.18 (poll(2) and an io_uring poll alike):
 *   a signal sent with pthread_kill to another thread leaves the poll of a
 *   signalfd not ready and its read at EAGAIN; sent to the reader's
 *   thread, or to the process, it is read.
 *
 * errno is read in the non-inlined take() right after the read: errno is a
 * thread-local object, and its address must not be kept across the
 * corio_poll, after which the task may run on another thread (DESIGN
 * trap 1). */
#define _GNU_SOURCE 1
#include "corio/signal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "corio/io.h"
#include "runtime/block.h"
#include "runtime/wait.h"

/* Signals a set may not hold: SIGKILL and SIGSTOP cannot be blocked (the
 * kernel drops them from a mask without a word), and the faults a thread
 * raises on itself are forced through a blocked mask (the kernel unblocks
 * them and kills the process), so waiting for them would never work, and
 * blocking SIGSEGV would only hide corio's stack-overflow report. */
static const int refused[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};

/* 0 for a set that may be blocked and waited for, else -EINVAL.  Empty is
 * found by walking the numbers: glibc 2.36's sigisemptyset says "empty"
 * for a set that holds any one of the signals 34 to 64 alone (measured;
 * SIGRTMIN+1 is 35). */
static int check_set(const sigset_t *set) {
    if (set == NULL) return -EINVAL;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (sigismember(set, refused[i]) == 1) return -EINVAL;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(set, s) == 1) return 0;
    return -EINVAL; /* empty */
}

int corio_signal_block(const sigset_t *set) {
    int r = check_set(set);
    if (r < 0) return r;
    if (corio__block_self() != NULL) return -EPERM;
    return -pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Is every signal of `set` blocked in the calling thread? */
static bool blocked_here(const sigset_t *set) {
    sigset_t cur;
    if (pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0) return false;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(set, s) == 1 && sigismember(&cur, s) != 1) return false;
    return true;
}

/* What the kernel said of the signal, as siginfo_t has it for its kind
 * (the fields overlap in a union: only those of the signal's layout). */
static void fill_info(siginfo_t *info, const struct signalfd_siginfo *si) {
    memset(info, 0, sizeof *info);
    info->si_signo = (int)si->ssi_signo;
    info->si_errno = si->ssi_errno;
    info->si_code = si->ssi_code;
    if (si->ssi_signo == SIGCHLD && si->ssi_code > 0) { /* CLD_EXITED, ... */
        info->si_pid = (pid_t)si->ssi_pid;
        info->si_uid = (uid_t)si->ssi_uid;
        info->si_status = si->ssi_status;
        info->si_utime = (clock_t)si->ssi_utime;
        info->si_stime = (clock_t)si->ssi_stime;
        return;
    }
    /* ssi_ptr holds the whole union sigval (ssi_int is its int view). */
    union sigval v = {.sival_ptr = (void *)(uintptr_t)si->ssi_ptr};
    if (si->ssi_code == SI_TIMER) {
        info->si_overrun = (int)si->ssi_overrun;
        info->si_value = v;
        return;
    }
    info->si_pid = (pid_t)si->ssi_pid;
    info->si_uid = (uid_t)si->ssi_uid;
    if (si->ssi_code == SI_QUEUE || si->ssi_code == SI_MESGQ || si->ssi_code == SI_ASYNCIO)
        info->si_value = v;
}

/* One non-blocking read: the signal's number (> 0), or a negative errno
 * (-EAGAIN: nothing pending that this thread may take). */
__attribute__((noinline)) static int take(int fd, siginfo_t *info) {
    struct signalfd_siginfo si;
    ssize_t n = read(fd, &si, sizeof si);
    if (n < 0) return -errno;
    if (n != (ssize_t)sizeof si) return -EIO; /* the kernel's record size: never seen */
    if (info != NULL) fill_info(info, &si);
    return (int)si.ssi_signo;
}

int corio_signal_waitinfo(const sigset_t *set, siginfo_t *info, int64_t timeout_ns) {
    corio__task *self = corio__block_self();
    if (self == NULL) return -EPERM;
    int r = check_set(set);
    if (r < 0) return r;
    if (!blocked_here(set)) return -EINVAL;
    /* Before anything is taken: a killed task leaves a pending signal to
     * the next wait. */
    if (corio__block_killed(self)) return -ECANCELED;
    int64_t deadline = corio__deadline(timeout_ns);
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return -errno;
    for (;;) {
        r = take(fd, info);
        if (r > 0) break; /* taken: ours, even if a kill came meanwhile */
        if (r == -EINTR) continue;
        if (r != -EAGAIN) break;
        int64_t left = CORIO_FOREVER;
        if (deadline >= 0) {
            left = deadline - corio__now_ns();
            if (left <= 0) {
                r = -ETIMEDOUT;
                break;
            }
        }
        /* A wake is a hint: the read above decides (file comment). */
        r = corio_poll(fd, POLLIN, left);
        if (r < 0) break; /* -ETIMEDOUT, -ECANCELED, -ENOTSUP */
    }
    close(fd);
    return r;
}

int corio_signal_wait(const sigset_t *set, int64_t timeout_ns) {
    return corio_signal_waitinfo(set, NULL, timeout_ns);
}
