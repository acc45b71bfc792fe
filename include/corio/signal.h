/* corio/signal.h - a task waits for one of a set of signals (SIGTERM,
 * SIGINT, SIGHUP, SIGUSR1, ...) and learns which one came, as Go's
 * signal.Notify and tokio's signal streams offer.
 *
 * What the program must do: block the signals in every thread, before any
 * of them arrives, with corio_signal_block in main() before
 * corio_rt_create and before any other thread is started (threads inherit
 * the mask of the thread that creates them: the workers, the timer and
 * blocking-pool threads, and the program's own).  A signal sent to the
 * process then stays pending in the kernel instead of running its default
 * action (SIGTERM, SIGINT and SIGHUP would end the process), until a task
 * waits for it.  Nothing is lost while no task waits: the next wait takes
 * it.  Standard signals do not queue, as everywhere: a second SIGUSR1
 * that comes while the first is still pending is merged with it;
 * real-time signals (SIGRTMIN..SIGRTMAX) queue.
 *
 * Each signal is taken by exactly one wait: several tasks waiting for the
 * same signal do not each get a copy (Go's signal.Notify does).  Fan it
 * out with a channel where several parties must learn of it.
 *
 * A signal sent to one thread (pthread_kill, tgkill) rather than to the
 * process (kill, the terminal's ^C, a service manager's SIGTERM) is
 * pending for that thread only, and only a wait that runs on that thread
 * sees it: a worker's, for a task waiting on that worker; never one sent
 * to a thread that is not a worker.  docs/api/signal.md has the details
 * and a shutdown example.
 *
 * The declarations need the POSIX signal types (sigset_t, siginfo_t): they
 * are visible by default (gnu modes, C++), and under a strict -std=c11
 * with _POSIX_C_SOURCE >= 199309L or _GNU_SOURCE defined before the first
 * include; without them this header declares nothing. */
#ifndef CORIO_SIGNAL_H
#define CORIO_SIGNAL_H

#include <signal.h>
#include <stdint.h>

#include "corio/common.h"

#ifndef CORIO_FOREVER
/** No timeout (the same value as in corio/io.h). */
#define CORIO_FOREVER ((int64_t)-1)
#endif

#if defined(SIG_BLOCK) && defined(SI_USER)

#ifdef __cplusplus
extern "C" {
#endif

/** Block the signals of `set` in the calling thread (pthread_sigmask
 *  SIG_BLOCK; signals already blocked stay blocked).  Call it in main()
 *  before corio_rt_create and before any other thread is started, so that
 *  every thread inherits the mask; never suspends.  Any plain thread.
 *  Errors: -EINVAL (set NULL or empty, or it holds SIGKILL or SIGSTOP,
 *  which cannot be blocked, or a signal that a thread raises on itself
 *  and that the kernel delivers even when blocked, killing the process:
 *  SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS), -EPERM (called on a
 *  worker thread, from a task: a worker's mask alone protects nothing). */
CORIO_API int corio_signal_block(const sigset_t *set);

/** Wait, from a task, for one signal of `set`, at most `timeout_ns`
 *  (CORIO_FOREVER or any negative value: no limit; 0: only take one that
 *  is pending), and take it: it is no longer pending.  Returns its number
 *  (> 0).  Suspends the task (its worker runs others); may resume on
 *  another worker.  Any task may call it, several at once: each signal is
 *  taken by one of them.  A signal taken as a kill or the deadline comes
 *  is returned (the next call sees the kill).
 *  Errors: -EPERM (not in a task), -EINVAL (set NULL or empty, a signal
 *  that corio_signal_block refuses, or a signal of `set` that is not
 *  blocked in the calling worker thread: the program did not block it
 *  before the runtime started), -ETIMEDOUT, -ECANCELED (the task was
 *  killed, before or while it waited: no signal was taken), -ENOTSUP (it
 *  would wait, on a runtime without I/O: CORIO_BACKEND_NONE), -EMFILE,
 *  -ENFILE, -ENOMEM (no descriptor for the wait: signalfd(2)), -EIO (a
 *  signalfd read that was not one whole record; not seen on Linux). */
CORIO_API int corio_signal_wait(const sigset_t *set, int64_t timeout_ns);

/** corio_signal_wait, and what the kernel says of the signal in *info
 *  (when not NULL, and only on success): si_signo, si_code (SI_USER for
 *  kill, SI_TKILL for pthread_kill, SI_QUEUE for sigqueue, SI_KERNEL...),
 *  si_pid and si_uid of the sender, si_value for SI_QUEUE, SI_MESGQ and
 *  SI_ASYNCIO, si_value and si_overrun for SI_TIMER (no sender), and
 *  si_pid, si_uid, si_status, si_utime and si_stime for SIGCHLD; every
 *  other field is 0.  Errors: those of corio_signal_wait. */
CORIO_API int corio_signal_waitinfo(const sigset_t *set, siginfo_t *info, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* the POSIX signal types */
#endif
