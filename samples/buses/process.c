/* samples/buses/process.c - `buses --variant process`, as the course's:
 * the filters in another process, the buses sent to it over a socket pair
 * as frames (corio/frame.h), the course's sendto() and recvfrom():
 *
 *   parent:  expat --events--> buses_to_dicts --bus--> pack
 *              --frame--> socket pair
 *   child:   --frame--> unpack --bus--> filter_on_field("route","22")
 *              --> filter_on_field("direction","North Bound") --> bus_locations
 *
 * The child is this program again, `buses --child FILE`, started with
 * posix_spawn on /proc/self/exe with its end of the socket pair as stdin
 * (FILE only names the file in its messages).  Exec rather than a plain
 * fork: the child then starts from nothing, with no copy of the parent's
 * threads or locks, so that it can run its own corio runtime whatever the
 * parent has running (docs/frame.md, "Between processes"); and the child
 * mode can be fed a stream by hand, which is how the tests give it damaged
 * ones.
 *
 * Each side runs its part in a task of a one-worker runtime, so that
 * corio_frame_send and corio_frame_recv_alloc suspend the task in
 * io_uring (or epoll) rather than block.  As in the threaded variant the
 * parent sends packs of some 64 KiB of buses (bus.h, "buses as bytes"):
 * a frame costs system calls and two checksums, spread over hundreds of
 * buses.  The end of the input is the end of the stream (shutdown of the
 * parent's side): the child sees a clean end between frames, the seed's
 * EOFError, and closes its filters.
 *
 * Failures: the child explains its own (a damaged or truncated stream, a
 * malformed pack, a bus without a printed field) and exits with status 1.
 * The parent then finds the socket closed, stops parsing and, after
 * reaping the child, says how it ended; whenever the child fails, the
 * parent fails too.  BUSES_CHILD_DIE_AFTER=N in the environment makes the
 * child kill itself (SIGKILL) before reading frame N+1: the tests use it to
 * check what the parent says about a child that dies.
 */
#define _GNU_SOURCE 1 /* strsignal */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "variants.h"

extern char **environ;

/* A task's stack holds expat's parse with its handlers: more than the
 * default, which is sized for small tasks. */
#define TASK_STACK (256u * 1024u)

/* Run fn(arg) as the one task of a one-worker runtime.  0, or -1 after
 * saying why. */
static int run_in_task(bus_run *run, corio_task_fn fn, void *arg) {
    corio_rt *rt = NULL;
    corio_rt_opts o = {.workers = 1, .stack_size = TASK_STACK};
    int r = corio_rt_create(&rt, &o);
    if (r == 0) {
        r = corio_rt_run(rt, fn, arg, NULL);
        corio_rt_shutdown(rt);
    }
    if (r < 0) {
        bus_error(run, "running the corio runtime", r);
        return -1;
    }
    return 0;
}

/* ---- the parent ---------------------------------------------------------- */

typedef struct parent {
    bus_run *run;
    size_t batch;
    int fd;          /* our end of the socket pair */
    bool child_gone; /* a send found the child's end closed */
    int status;      /* of the parse */
} parent;

/* The pack stage's flush: one frame. */
static int send_pack(bus_packer *p) {
    parent *c = p->ctx;
    int r = corio_frame_send(c->fd, p->pack.p, p->pack.len, CORIO_FOREVER);
    p->pack.len = 0;
    if (r == -EPIPE || r == -ECONNRESET) {
        /* The child has gone: how it ended is the message, once reaped. */
        c->child_gone = true;
        c->run->reported = true;
    }
    return r;
}

/* The pack stage's end: the end of the stream, which closes the child's
 * filters. */
static int end_stream(bus_packer *p) {
    parent *c = p->ctx;
    return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void *parent_task(void *arg) {
    parent *c = arg;
    bus_packer packer = {.limit = BUS_PACK_LIMIT, .flush = send_pack, .end = end_stream, .ctx = c};
    corio_coro *pack = NULL;
    int r = bus_text_reserve(&packer.pack, packer.limit + 4096);
    if (r == 0) r = bus_start(&pack, bus_packer_body, &packer, "pack");
    if (r < 0) {
        bus_error(c->run, "creating the pipeline", r);
        c->status = -1;
    } else {
        c->status = bus_parse_into(c->run, c->batch, pack);
    }
    corio_coro_destroy(pack);
    bus_text_fini(&packer.pack);
    return NULL;
}

/* Start `buses --child -- PATH` with `fd` as its stdin.  0 or -errno. */
static int spawn_child(const bus_run *run, int fd, pid_t *pid) {
    posix_spawn_file_actions_t fa;
    int e = posix_spawn_file_actions_init(&fa);
    if (e != 0) return -e;
    e = posix_spawn_file_actions_adddup2(&fa, fd, STDIN_FILENO);
    if (e == 0) {
        char *argv[] = {(char *)run->prog, "--child", "--", (char *)run->path, NULL};
        e = posix_spawn(pid, "/proc/self/exe", &fa, NULL, argv, environ);
    }
    posix_spawn_file_actions_destroy(&fa);
    return -e;
}

/* Reap the child and say how it ended unless it succeeded.  0 or -1. */
static int reap_child(const parent *c, pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            bus_error(c->run, "waiting for the filter process", -errno);
            return -1;
        }
    }
    const char *prog = c->run->prog;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        if (!c->child_gone) return 0;
        fprintf(stderr, "%s: the filter process (pid %ld) ended before taking every bus\n", prog,
                (long)pid);
    } else if (WIFEXITED(st)) {
        fprintf(stderr, "%s: the filter process (pid %ld) failed with exit status %d\n", prog,
                (long)pid, WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
        fprintf(stderr, "%s: the filter process (pid %ld) was killed by signal %d (%s)\n", prog,
                (long)pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
    } else {
        fprintf(stderr, "%s: the filter process (pid %ld) ended with status 0x%x\n", prog,
                (long)pid, (unsigned)st);
    }
    return -1;
}

int bus_run_process(bus_run *run, size_t batch) {
    /* A socket pair rather than a pipe: sends to a closed peer fail with
     * EPIPE (MSG_NOSIGNAL) instead of raising SIGPIPE. */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        bus_error(run, "creating the socket pair", -errno);
        return -1;
    }
    pid_t pid;
    int r = spawn_child(run, sv[1], &pid);
    close(sv[1]); /* the child's now: its exit must be our end's EOF */
    if (r < 0) {
        close(sv[0]);
        bus_error(run, "starting the filter process", r);
        return -1;
    }
    parent c = {.run = run, .batch = batch, .fd = sv[0], .status = -1};
    int status = run_in_task(run, parent_task, &c) == 0 ? c.status : -1;
    /* Closed in any case, so that a child still reading sees the end. */
    close(sv[0]);
    int child = reap_child(&c, pid);
    return status == 0 && child == 0 ? 0 : -1;
}

/* ---- the child ----------------------------------------------------------- */

typedef struct child {
    bus_run *run;
    bus_chain chain;
    bus scratch;
    long die_after; /* BUSES_CHILD_DIE_AFTER, or -1 */
    int status;
} child;

/* Why frame `n` could not be read. */
static void stream_error(bus_run *run, int err, unsigned long n) {
    const char *why = err == -EBADMSG    ? "is damaged (bad magic, version or checksum)"
                      : err == -EPIPE    ? "is cut short: the stream ends inside it"
                      : err == -EMSGSIZE ? "is larger than a frame may be"
                                         : NULL;
    if (why != NULL)
        fprintf(stderr, "%s: %s: frame %lu from the parser %s\n", run->prog, run->path, n, why);
    else
        fprintf(stderr, "%s: %s: reading frame %lu from the parser: %s\n", run->prog, run->path,
                n, strerror(-err));
    run->reported = true;
}

static void *child_task(void *arg) {
    child *c = arg;
    bus_run *run = c->run;
    for (unsigned long frames = 0;; frames++) {
        if (c->die_after >= 0 && frames == (unsigned long)c->die_after) kill(getpid(), SIGKILL);
        void *buf;
        size_t len;
        /* The storage grows as a frame's bytes arrive, so the largest
         * limit costs nothing until a bus that large comes (one value of
         * the file may be megabytes). */
        int r = corio_frame_recv_alloc(STDIN_FILENO, &buf, &len, CORIO_FRAME_MAX_LIMIT,
                                       CORIO_FOREVER);
        if (r == CORIO_FRAME_EOF) break; /* except EOFError: target.close() */
        if (r < 0) {
            stream_error(run, r, frames + 1);
            return NULL;
        }
        r = bus_unpack_send(run, buf, len, &c->scratch, c->chain.by_route);
        free(buf);
        if (r < 0) {
            if (!run->reported) bus_error(run, run->path, r);
            return NULL;
        }
    }
    int r = bus_close(c->chain.by_route);
    if (r < 0) {
        if (!run->reported) bus_error(run, run->path, r);
        return NULL;
    }
    c->status = 0;
    return NULL;
}

int bus_run_child(bus_run *run) {
    child c = {.run = run, .die_after = -1, .status = -1};
    const char *die = getenv("BUSES_CHILD_DIE_AFTER");
    if (die != NULL && *die != '\0') c.die_after = strtol(die, NULL, 10);
    bus_init(&c.scratch);
    int r = bus_chain_start(&c.chain, run);
    int status = -1;
    if (r < 0) bus_error(run, "creating the pipeline", r);
    else if (run_in_task(run, child_task, &c) == 0) status = c.status;
    bus_chain_destroy(&c.chain);
    bus_fini(&c.scratch);
    return status;
}
