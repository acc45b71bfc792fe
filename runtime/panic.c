/* runtime/panic.c - fatal invariant reports.
 *
 * Only write(2) and abort(): these run in signal handlers (stack overflow)
 * and on corrupted state, where stdio could deadlock or allocate. */
#include "runtime/panic.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void corio__write_str(int fd, const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

void corio__write_u64(int fd, uint64_t v) {
    char buf[24];
    int i = (int)sizeof buf - 1;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    corio__write_str(fd, buf + i);
}

void corio__panic(const char *where, const char *what, uint64_t id) {
    corio__write_str(2, "corio: panic: ");
    corio__write_str(2, where);
    corio__write_str(2, ": ");
    corio__write_str(2, what);
    if (id != 0) {
        corio__write_str(2, " (id ");
        corio__write_u64(2, id);
        corio__write_str(2, ")");
    }
    corio__write_str(2, "\n");
    signal(SIGABRT, SIG_DFL);
    abort();
}
