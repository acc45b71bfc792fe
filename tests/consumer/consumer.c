/* tests/consumer/consumer.c - a program that uses corio as an installed
 * package would be used: it starts a runtime, runs a task that does I/O
 * (a line through a pipe, written by one task and read by another with a
 * stream), and checks what came through.  Built against the installed
 * package by scripts/check-consumer, five ways (tests/consumer/README.md);
 * it prints one line and exits 0 when everything worked. */
#define _GNU_SOURCE 1 /* pipe2 */
#include <corio.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int consumer_cxx_check(void); /* consumer_cxx.cc: the header from C++ */

static int fds[2];

static void *writer(void *arg) {
    (void)arg;
    const char line[] = "hello from a task\n";
    ssize_t n = corio_write(fds[1], line, sizeof line - 1, CORIO_MS(5000));
    corio_close(fds[1]);
    return (void *)(intptr_t)n;
}

static void *reader(void *arg) {
    char *out = arg;
    corio_tid w;
    if (corio_task_spawn(&w, writer, NULL) != 0) return (void *)1;
    corio_stream *s;
    if (corio_stream_create(&s, fds[0], NULL) != 0) return (void *)2;
    size_t len = 0;
    int r = corio_stream_read_line(s, out, 64, &len, CORIO_MS(5000));
    corio_stream_destroy(s);
    void *wrote = NULL;
    if (corio_task_join(w, &wrote) != 0 || (intptr_t)wrote != 18) return (void *)3;
    return (void *)(intptr_t)(r == 1 ? 0 : 4);
}

int main(void) {
    if (consumer_cxx_check() != 0) {
        fprintf(stderr, "consumer: the C++ check failed\n");
        return 1;
    }
    if (pipe2(fds, O_CLOEXEC) != 0) return 1;
    corio_rt *rt;
    int r = corio_rt_create(&rt, NULL);
    if (r != 0) {
        fprintf(stderr, "consumer: corio_rt_create: %s\n", strerror(-r));
        return 1;
    }
    char line[64] = "";
    void *res = (void *)1;
    r = corio_rt_run(rt, reader, line, &res);
    const char *backend = corio_rt_backend(rt);
    if (corio_rt_shutdown(rt) != 0 || r != 0 || res != NULL ||
        strcmp(line, "hello from a task") != 0) {
        fprintf(stderr, "consumer: failed (run %d, result %ld, line '%s')\n", r, (long)(intptr_t)res,
                line);
        return 1;
    }
    close(fds[0]);
    printf("consumer: ok (%s, backend %s)\n", line, backend);
    return 0;
}
