/* runtime/panic.h - the one way corio stops on a broken internal invariant.
 * User mistakes never come here: they get a negative errno. */
#ifndef CORIO_RUNTIME_PANIC_H
#define CORIO_RUNTIME_PANIC_H

#include <stdint.h>

/* Writes "corio: panic: <where>: <what>" (and the id when nonzero) to
 * stderr with write(2) only, then aborts.  Safe in a signal handler. */
__attribute__((noreturn, cold)) void corio__panic(const char *where, const char *what,
                                                  uint64_t id);

/* Async-signal-safe write of a NUL-terminated string / an unsigned number. */
void corio__write_str(int fd, const char *s);
void corio__write_u64(int fd, uint64_t v);

#define CORIO_ASSERT(cond, what, id)                                   \
    do {                                                               \
        if (__builtin_expect(!(cond), 0)) corio__panic(__func__, what, id); \
    } while (0)

#endif
