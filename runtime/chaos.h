/* runtime/chaos.h - the chaos mode: random short pauses and yields at the
 * points where two threads race (the state word's transitions, the wait
 * primitive's claim and done, the epoll backend's register and unregister).
 *
 * A race whose window is a few nanoseconds is hit once in millions of
 * rounds on an idle machine; a pause of a few microseconds inside that
 * window, now and then, makes it a matter of thousands.  Built in only
 * with the CMake option CORIO_CHAOS=ON (the `chaos` preset, which runs the
 * race suites); otherwise CORIO__CHAOS() is nothing at all.
 *
 * At run time (docs/build.md, "The chaos mode"):
 *   CORIO_CHAOS_SEED=N  the seed of every thread's choices (default: from
 *                       the clock; printed once to stderr, so a failing
 *                       run can be repeated with the same choices per
 *                       thread, though the threads' interleaving is the
 *                       kernel's)
 *   CORIO_CHAOS_RATE=K  about one point in K pauses (default 8; 0: none)
 *
 * The call is a plain function in its own file, never inlined: it reads
 * its thread's generator from TLS afresh each time (DESIGN trap 1) and
 * never switches. */
#ifndef CORIO_RUNTIME_CHAOS_H
#define CORIO_RUNTIME_CHAOS_H

#ifdef CORIO_CHAOS
#ifdef __cplusplus
extern "C" {
#endif
void corio__chaos(void);
/* A pause taken about once in `one_in` calls (the store-buffer model of
 * state.h pauses more often than the plain points). */
void corio__chaos_at(unsigned one_in);
#ifdef __cplusplus
}
#endif
#define CORIO__CHAOS() corio__chaos()
#else
#define CORIO__CHAOS() ((void)0)
#endif

#endif
