/* bench/echo.c - the echo benchmark (seed): corio's echo server against
 * five hand-written peers, under one load client (docs/bench.md, "echo").
 *
 *   echo [--json] [--seconds S] [--connections N] [--size BYTES]
 *
 * (--runs N and --iters N are accepted and ignored, so that `bench/run all`
 * can pass the other benchmarks' options.)
 *
 * For each server in turn: start it on a free loopback port, wait until it
 * accepts, read its CPU time (utime + stime, /proc/PID/stat), run the load
 * client for S seconds (default 5) with N connections (900) sending
 * BYTES-byte messages (1024), read its CPU time and peak RSS (VmHWM) again,
 * stop it with SIGTERM and check that it exits 0.
 *
 * Servers, in row order: corio at 1 and 2 workers, threads, epoll, uring,
 * uring-tuned, go.  Paths (<build> is the parent of this executable's dir):
 *   corio   CORIO_BENCH_ECHO_SERVER, else <build>/samples/echo/echo_server
 *   peers   <build>/bench/peers/{threads,epoll,uring,uring-tuned}
 *   go      CORIO_BENCH_GO_ECHO (empty: not built), else <build>/bench/go/echo
 *   client  CORIO_ECHO_CLIENT, else <build>/samples/echo/echo_client, else
 *           the check client <build>/bench/peers/echo_check
 * A missing corio server or Go peer skips its rows (said on stderr); a
 * server or client that fails makes the exit status 1, the other rows still
 * run. */
#define _GNU_SOURCE 1
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS 8

typedef struct server {
    const char *impl;
    unsigned workers;  /* reported; for corio also passed as --workers */
    char path[PATH_MAX];
    int is_corio, is_go;
} server;

typedef struct result {
    double msgs, msgs_per_s, p99_us, server_us_per_msg, rss_kb;
} result;

static int JSON;
static double SECONDS = 5;
static long CONNECTIONS = 900, SIZE = 1024;

static __attribute__((format(printf, 1, 2))) void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("echo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static __attribute__((noreturn)) void usage(int status) {
    fprintf(stderr,
            "usage: echo [--json] [--seconds S] [--connections N] [--size BYTES]\n"
            "  --json           one JSON object on one line of stdout (docs/bench.md)\n"
            "  --seconds S      load per server (default 5)\n"
            "  --connections N  client connections (default 900)\n"
            "  --size BYTES     message size (default 1024)\n");
    exit(status);
}

static double parse_pos(const char *s) {
    char *end;
    double v = s != NULL ? strtod(s, &end) : 0;
    if (s == NULL || *end != '\0' || !(v > 0) || v > 1e9) usage(2);
    return v;
}

static int executable(const char *p) { return p[0] != '\0' && access(p, X_OK) == 0; }

/* out = a followed by b (b may be ""); a path that does not fit is fatal. */
static void path_cat(char out[PATH_MAX], const char *a, const char *b) {
    int n = snprintf(out, PATH_MAX, "%s%s", a, b);
    if (n < 0 || n >= PATH_MAX) bench_fail("path too long");
}

/* <build>: two levels above /proc/self/exe (<build>/bench/echo). */
static void build_dir(char out[PATH_MAX]) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) bench_fail("readlink /proc/self/exe");
    self[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(self, '/');
        if (slash == NULL || slash == self) bench_fail("unexpected executable path");
        *slash = '\0';
    }
    path_cat(out, self, "");
}

/* A loopback port nothing is bound to (nor in TIME_WAIT on) right now. */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        bench_fail("no free port");
    close(fd);
    return ntohs(a.sin_port);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Exited already?  Reaps it and stores the wait status. */
static int exited(pid_t pid, int *status) { return waitpid(pid, status, WNOHANG) == pid; }

static void describe_exit(const char *impl, int st) {
    if (WIFEXITED(st))
        note("%s server exited with status %d", impl, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        note("%s server killed by signal %d", impl, WTERMSIG(st));
}

/* Poll connect() until the server accepts (10 s at most). */
static int wait_accepting(pid_t pid, const char *impl, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 1000; i++) {
        int st;
        if (exited(pid, &st)) {
            describe_exit(impl, st);
            return -1;
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0) close(fd);
        if (ok) return 0;
        sleep_ms(10);
    }
    note("%s server does not accept on port %d after 10 s", impl, port);
    return -1;
}

/* utime + stime of pid in clock ticks (fields 14 and 15 of /proc/PID/stat). */
static long long cpu_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL) return -1;
    long long ut, st;
    /* after ')': state(3) ppid pgrp session tty_nr tpgid flags minflt
     * cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

/* VmHWM of pid in kB, or -1. */
static long vm_hwm_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

static pid_t spawn(char *const argv[], int stdout_fd, const char *gomaxprocs) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) bench_fail("fork");
    if (pid == 0) {
        if (stdout_fd >= 0) dup2(stdout_fd, 1);
        else dup2(2, 1); /* a server's stdout must not mix into ours */
        if (gomaxprocs != NULL) setenv("GOMAXPROCS", gomaxprocs, 1);
        execv(argv[0], argv);
        fprintf(stderr, "echo: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Run the client against port; on success fill r's client figures from its
 * last "result:" line.  Returns 0 on success. */
static int run_client(const char *client, int port, result *r) {
    char target[32], conns[32], size[32], secs[32];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    snprintf(conns, sizeof conns, "%ld", CONNECTIONS);
    snprintf(size, sizeof size, "%ld", SIZE);
    snprintf(secs, sizeof secs, "%g", SECONDS);
    char *argv[] = {(char *)client, "--connect", target, "--connections", conns,
                    "--size", size, "--seconds", secs, NULL};
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0) bench_fail("pipe");
    pid_t pid = spawn(argv, fd[1], NULL);
    close(fd[1]);

    /* Keep the tail of its stdout; give up 60 s after the run should end. */
    static char out[1 << 16];
    size_t len = 0;
    int timed_out = 0;
    time_t give_up = time(NULL) + (time_t)SECONDS + 60;
    for (;;) {
        struct pollfd p = {fd[0], POLLIN, 0};
        int n = poll(&p, 1, 1000);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            if (time(NULL) > give_up) {
                timed_out = 1;
                kill(pid, SIGKILL);
                break;
            }
            continue;
        }
        if (len == sizeof out - 1) { /* keep the second half */
            memmove(out, out + sizeof out / 2, len - sizeof out / 2);
            len -= sizeof out / 2;
        }
        ssize_t k = read(fd[0], out + len, sizeof out - 1 - len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        len += (size_t)k;
    }
    out[len] = '\0';
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        note("the client did not finish within 60 s of the end of the run; killed");
        return -1;
    }

    char *line = NULL;
    for (char *p = out; (p = strstr(p, "result:")) != NULL; p++)
        if (p == out || p[-1] == '\n') line = p;
    double msgs = -1, mps = -1, p99 = -1, errors = -1;
    if (line != NULL) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) *nl = '\0';
        for (char *tok = strtok(line + 7, " "); tok != NULL; tok = strtok(NULL, " ")) {
            double v;
            char key[32];
            if (sscanf(tok, "%31[^=]=%lf", key, &v) != 2) continue;
            if (strcmp(key, "msgs") == 0) msgs = v;
            else if (strcmp(key, "msgs_per_s") == 0) mps = v;
            else if (strcmp(key, "p99_us") == 0) p99 = v;
            else if (strcmp(key, "errors") == 0) errors = v;
        }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        note("the client failed (%s %d)%s%s", WIFEXITED(st) ? "exit status" : "signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), line != NULL ? ": " : "",
             line != NULL ? line : "");
        return -1;
    }
    if (msgs <= 0 || mps < 0 || p99 < 0 || errors != 0) {
        note("the client's result line is missing or incomplete, or reports errors");
        return -1;
    }
    r->msgs = msgs;
    r->msgs_per_s = mps;
    r->p99_us = p99;
    return 0;
}

/* Stop the server with SIGTERM; returns 0 when it exited with status 0
 * within 10 s (it is killed otherwise). */
static int stop_server(pid_t pid, const char *impl) {
    kill(pid, SIGTERM);
    int st;
    for (int i = 0; i < 1000; i++) {
        if (exited(pid, &st)) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
            describe_exit(impl, st);
            return -1;
        }
        sleep_ms(10);
    }
    note("%s server still running 10 s after SIGTERM; killed", impl);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static int run_server(const server *s, const char *client, result *r) {
    int port = free_port();
    char listen[32], workers[16];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(workers, sizeof workers, "%u", s->workers);
    char *argv[] = {(char *)s->path, "--listen", listen, NULL, NULL, NULL};
    if (s->is_corio) {
        argv[3] = "--workers";
        argv[4] = workers;
    }
    pid_t pid = spawn(argv, -1, s->is_go ? workers : NULL);
    if (wait_accepting(pid, s->impl, port) != 0) {
        int st;
        if (!exited(pid, &st)) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
        return -1;
    }
    long long t0 = cpu_ticks(pid);
    int rc = run_client(client, port, r);
    long long t1 = cpu_ticks(pid);
    long hwm = vm_hwm_kb(pid);
    if (stop_server(pid, s->impl) != 0) rc = -1;
    if (rc != 0) return -1;
    if (t0 < 0 || t1 < 0 || hwm < 0) {
        note("%s: could not read /proc/%d (the server died?)", s->impl, (int)pid);
        return -1;
    }
    r->server_us_per_msg = (double)(t1 - t0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / r->msgs;
    r->rss_kb = (double)hwm;
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--json") == 0) {
            JSON = 1;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) usage(0);
        if (strcmp(argv[i], "--seconds") == 0) SECONDS = parse_pos(v);
        else if (strcmp(argv[i], "--connections") == 0) CONNECTIONS = (long)parse_pos(v);
        else if (strcmp(argv[i], "--size") == 0) SIZE = (long)parse_pos(v);
        else if (strcmp(argv[i], "--runs") == 0 || strcmp(argv[i], "--iters") == 0) parse_pos(v);
        else usage(2);
        i++;
    }
    signal(SIGPIPE, SIG_IGN);

    char build[PATH_MAX];
    build_dir(build);
    long ncpu = 0;
    sscanf(bench_machine(), "%ld", &ncpu);
    if (ncpu <= 0) ncpu = 1;

    char client[PATH_MAX];
    const char *env = getenv("CORIO_ECHO_CLIENT");
    if (env != NULL && env[0] != '\0') {
        path_cat(client, env, "");
    } else {
        path_cat(client, build, "/samples/echo/echo_client");
        if (!executable(client)) {
            note("no corio echo_client at %s; using the check client bench/peers/echo_check", client);
            path_cat(client, build, "/bench/peers/echo_check");
        }
    }
    if (!executable(client)) {
        note("no load client at %s", client);
        return 1;
    }

    server servers[MAX_ROWS];
    size_t ns = 0;
    char corio[PATH_MAX];
    env = getenv("CORIO_BENCH_ECHO_SERVER");
    if (env != NULL) path_cat(corio, env, "");
    else path_cat(corio, build, "/samples/echo/echo_server");
    if (executable(corio)) {
        for (unsigned w = 1; w <= 2; w++) {
            servers[ns] = (server){.impl = "corio", .workers = w, .is_corio = 1};
            path_cat(servers[ns++].path, corio, "");
        }
    } else {
        note("corio rows skipped: %s%s (samples/echo not built yet?)",
             corio[0] != '\0' ? "no echo server at " : "CORIO_BENCH_ECHO_SERVER is empty", corio);
    }
    static const char *const peers[] = {"threads", "epoll", "uring", "uring-tuned"};
    for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
        /* threads: one thread per connection; the rest are single-threaded */
        servers[ns] = (server){.impl = peers[i], .workers = i == 0 ? (unsigned)CONNECTIONS : 1};
        char dir[PATH_MAX];
        path_cat(dir, build, "/bench/peers/");
        path_cat(servers[ns++].path, dir, peers[i]);
    }
    env = getenv("CORIO_BENCH_GO_ECHO");
    char go[PATH_MAX];
    if (env != NULL) path_cat(go, env, "");
    else path_cat(go, build, "/bench/go/echo");
    if (executable(go)) {
        servers[ns] = (server){.impl = "go", .workers = (unsigned)ncpu, .is_go = 1};
        path_cat(servers[ns++].path, go, "");
    } else {
        note("go row skipped: no Go peer%s%s (is `go` installed? see bench/go/README.md)",
             go[0] != '\0' ? " at " : "", go);
    }

    char case_name[64];
    snprintf(case_name, sizeof case_name, "echo-%ldx%ld", CONNECTIONS, SIZE);
    result res[MAX_ROWS];
    int ok[MAX_ROWS], status = 0;
    for (size_t i = 0; i < ns; i++) {
        note("%s (workers %u): %gs, %ld connections x %ld bytes ...", servers[i].impl,
             servers[i].workers, SECONDS, CONNECTIONS, SIZE);
        ok[i] = run_server(&servers[i], client, &res[i]) == 0;
        if (!ok[i]) {
            note("%s (workers %u) failed; row left out", servers[i].impl, servers[i].workers);
            status = 1;
        }
    }

    if (JSON) {
        bench_row rows[MAX_ROWS];
        size_t n = 0;
        for (size_t i = 0; i < ns; i++) {
            if (!ok[i]) continue;
            bench_row *r = &rows[n++];
            *r = (bench_row){case_name, servers[i].impl, res[i].msgs_per_s, "msgs/s", "higher", 0, {{0}}};
            bench_row_extra(r, "workers", servers[i].workers);
            bench_row_extra(r, "p99_us", res[i].p99_us);
            bench_row_extra(r, "server_us_per_msg", res[i].server_us_per_msg);
            bench_row_extra(r, "rss_kb", res[i].rss_kb);
        }
        bench_json("echo", rows, n);
        return status;
    }

    printf("echo: %s, %ld connections, each sending a %ld-byte message and reading the echo, repeated\n",
           case_name, CONNECTIONS, SIZE);
    printf("machine: %s\n", bench_machine());
    printf("method: %g s per server, client %s; server CPU = utime+stime from /proc/PID/stat,\n"
           "        rss = VmHWM at the end of the run\n\n", SECONDS, client);
    printf("%-12s %7s %10s %9s %17s %8s\n", "impl", "workers", "msgs/s", "p99_us", "server_us_per_msg",
           "rss_kb");
    for (size_t i = 0; i < ns; i++) {
        if (!ok[i]) {
            printf("%-12s %7u %10s\n", servers[i].impl, servers[i].workers, "failed");
            continue;
        }
        printf("%-12s %7u %10.0f %9.0f %17.2f %8.0f\n", servers[i].impl, servers[i].workers,
               res[i].msgs_per_s, res[i].p99_us, res[i].server_us_per_msg, res[i].rss_kb);
    }
    int have_corio = 0;
    for (size_t i = 0; i < ns; i++) have_corio |= servers[i].is_corio && ok[i];
    if (!have_corio) {
        printf("\nno corio rows, no ratios\n");
        return status;
    }
    printf("\ncorio / peer: msgs/s (higher: corio faster), server_us_per_msg (lower: corio cheaper)\n");
    printf("%-12s", "peer");
    for (size_t c = 0; c < ns; c++)
        if (servers[c].is_corio && ok[c]) printf("  %9s w%u %9s w%u", "msgs/s", servers[c].workers, "us/msg", servers[c].workers);
    printf("\n");
    for (size_t p = 0; p < ns; p++) {
        if (servers[p].is_corio || !ok[p]) continue;
        printf("%-12s", servers[p].impl);
        for (size_t c = 0; c < ns; c++)
            if (servers[c].is_corio && ok[c])
                printf("  %11.2fx %11.2fx", res[c].msgs_per_s / res[p].msgs_per_s,
                       res[c].server_us_per_msg / res[p].server_us_per_msg);
        printf("\n");
    }
    return status;
}
