/* bench/spawn.c - running a program from a benchmark (see spawn.h). */
#define _GNU_SOURCE 1
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* Open `path` (or /dev/null) onto `fd` in the child.  Only async-signal-safe
 * calls: this runs between fork and exec. */
static int redirect(const char *path, int flags, int fd) {
    int f = open(path != NULL ? path : "/dev/null", flags | O_CLOEXEC, 0644);
    if (f < 0 || dup2(f, fd) < 0) return -1;
    close(f);
    return 0;
}

int bench_spawn(char *const argv[], const char *out_path, const char *err_path, bench_child *c) {
    fflush(stdout);
    fflush(stderr);
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        if (redirect(NULL, O_RDONLY, 0) < 0 || redirect(out_path, O_WRONLY | O_CREAT | O_TRUNC, 1) < 0 ||
            redirect(err_path, O_WRONLY | O_CREAT | O_TRUNC, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) return -errno;
    }
    uint64_t t1 = bench_now_ns();
    c->status = status;
    c->wall_ms = (double)(t1 - t0) / 1e6;
    c->cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    return 0;
}

int bench_exited_with(const bench_child *c, int code) {
    return WIFEXITED(c->status) && WEXITSTATUS(c->status) == code;
}

char *bench_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *p = realloc(buf, cap * 2);
        if (p == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (buf == NULL || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len != NULL) *len = n;
    return buf;
}

int bench_temp_file(const char *tag, char *path, size_t size) {
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(path, size, "%s/corio-bench-%s-XXXXXX",
                     tmp != NULL && *tmp != '\0' ? tmp : "/tmp", tag);
    if (n < 0 || (size_t)n >= size) return -ENAMETOOLONG;
    int fd = mkstemp(path);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}
