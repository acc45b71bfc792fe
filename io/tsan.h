/* io/tsan.h - TSan's view of data the kernel hands between threads.
 *
 * TSan does not see the ordering a ring gives (a submission by one thread,
 * a completion reaped by another, a message through the ring), so data
 * passed that way would be reported as a race that is not one.  Every
 * submit releases the ring's sync address and every reap acquires it
 * (DESIGN trap 8; one address per ring is enough: feasibility.md §3).
 * Outside TSan builds these are nothing. */
#ifndef CORIO_IO_TSAN_H
#define CORIO_IO_TSAN_H

#if defined(CORIO_TSAN)
#include <sanitizer/tsan_interface.h>
#define corio__tsan_release(addr) __tsan_release(addr)
#define corio__tsan_acquire(addr) __tsan_acquire(addr)
#else
#define corio__tsan_release(addr) ((void)(addr))
#define corio__tsan_acquire(addr) ((void)(addr))
#endif

#endif
