// tests/test_io_cancel.cc - kills of tasks blocked in I/O (the operation is
// cancelled on the ring that holds it, and the task's stack buffer is not
// touched once the call has returned: run under ASan), shutdown with tasks
// blocked in I/O, a task that migrates between two I/O calls, and a ring
// that cannot be set up.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "support/task_helpers.h"

namespace {

class IoCancel : public TaskBase {};

// What a victim blocked in `op` ends with; the kill may land before its
// call starts (-ECANCELED at once), while it waits (cancelled), or before
// its first turn (the join says -ECANCELED).
enum class Op { PipeRead, Accept, Sleep, Poll };

void *victim(Op op, int fd, std::atomic<int> *started) {
  started->fetch_add(1);
  char buf[256];  // on the task's stack: the kernel must be done with it
  memset(buf, 0x5a, sizeof buf);
  long r = 0;
  switch (op) {
  case Op::PipeRead: r = corio_read(fd, buf, sizeof buf, CORIO_FOREVER); break;
  case Op::Accept: r = corio_accept(fd, nullptr, nullptr, 0, CORIO_FOREVER); break;
  case Op::Sleep: r = corio_sleep_ms(3600 * 1000); break;
  case Op::Poll: r = corio_poll(fd, POLLIN, CORIO_FOREVER); break;
  }
  // Nothing was written into the buffer by a cancelled read.
  for (char c : buf)
    if (c != 0x5a) return V(-9999);
  return V(r);
}

struct Victim {
  Op op;
  int fd;
  std::atomic<int> *started;
};
void *victim_tramp(void *a) {
  auto *v = static_cast<Victim *>(a);
  return victim(v->op, v->fd, v->started);
}

// Kill `rounds` victims blocked in `op`: from a task (on either worker:
// the kill may come from the ring that holds the operation or from the
// other one) or from this plain thread.
void kill_many(corio_rt *rt, Op op, int fd, long rounds, bool from_task) {
  std::atomic<int> started{0};
  Victim v{op, fd, &started};
  long cancelled = 0, before_start = 0;
  for (long i = 0; i < rounds; i++) {
    corio_tid t = 0;
    ASSERT_EQ(0, corio_rt_spawn(rt, &t, victim_tramp, &v));
    // Let it block most of the time; sometimes kill at once.
    if (i % 4 != 0) {
      int want = static_cast<int>(i + 1);
      while (started.load() < want && (i % 8) != 1) std::this_thread::yield();
      if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    if (from_task) {
      struct K {
        corio_tid t;
      } k{t};
      void *kr = nullptr;
      ASSERT_EQ(0, corio_rt_run(
                       rt, [](void *a) -> void * { return V(corio_task_kill(static_cast<K *>(a)->t)); },
                       &k, &kr));
      ASSERT_GE(I(kr), 0);
    } else {
      ASSERT_GE(corio_task_kill(t), 0);
    }
    void *res = nullptr;
    int jr = corio_rt_join(rt, t, &res);
    if (jr == -ECANCELED) {
      before_start++;
      started.fetch_add(1);  // it never ran: keep the count in step
      continue;
    }
    ASSERT_EQ(0, jr);
    ASSERT_EQ(-ECANCELED, I(res)) << "round " << i;
    cancelled++;
  }
  EXPECT_EQ(rounds, cancelled + before_start);
  EXPECT_GT(cancelled, 0);
}

TEST_F(IoCancel, KillOfATaskReadingIntoAStackBuffer) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int p[2];
  ASSERT_EQ(0, pipe(p));
  long n = scaled(3000, 400);
  kill_many(rt, Op::PipeRead, p[0], n, true);
  kill_many(rt, Op::PipeRead, p[0], n, false);
  // The pipe is still usable, and no cancelled read took data.
  EXPECT_EQ(3, write(p[1], "xyz", 3));
  void *r = run(rt, [&]() -> void * {
    char b[8];
    return V(corio_read(p[0], b, sizeof b, CORIO_MS(5000)));
  });
  EXPECT_EQ(3, I(r));
  close(p[0]);
  close(p[1]);
}

TEST_F(IoCancel, KillOfATaskBlockedInAccept) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int lfd = corio_listen("127.0.0.1:0", 16, 0);
  ASSERT_GE(lfd, 0);
  long n = scaled(2000, 300);
  kill_many(rt, Op::Accept, lfd, n, true);
  kill_many(rt, Op::Accept, lfd, n, false);
  close(lfd);
}

TEST_F(IoCancel, KillOfASleepingOrPollingTask) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int p[2];
  ASSERT_EQ(0, pipe(p));
  long n = scaled(2000, 300);
  kill_many(rt, Op::Sleep, -1, n, true);
  kill_many(rt, Op::Sleep, -1, n, false);
  kill_many(rt, Op::Poll, p[0], n, false);
  close(p[0]);
  close(p[1]);
}

TEST_F(IoCancel, ShutdownCancelsTasksBlockedInIo) {
  int p[2];
  ASSERT_EQ(0, pipe(p));
  int lfd = corio_listen("127.0.0.1:0", 16, 0);
  ASSERT_GE(lfd, 0);
  std::atomic<int> started{0};
  Victim vs[3] = {{Op::PipeRead, p[0], &started}, {Op::Accept, lfd, &started},
                  {Op::Sleep, -1, &started}};
  for (int round = 0; round < scaled(20, 5); round++) {
    corio_rt *rt = nullptr;
    corio_rt_opts o{};
    o.workers = 2;
    ASSERT_EQ(0, corio_rt_create(&rt, &o));
    started = 0;
    for (int i = 0; i < 60; i++) {
      corio_tid t;
      ASSERT_EQ(0, corio_rt_spawn(rt, &t, victim_tramp, &vs[i % 3]));
      ASSERT_EQ(0, corio_task_detach(t));
    }
    ASSERT_TRUE(eventually([&] { return started.load() == 60; }));
    auto t0 = Clock::now();
    ASSERT_EQ(0, corio_rt_shutdown(rt));  // returns: every operation was cancelled
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(20));
  }
  close(p[0]);
  close(p[1]);
  close(lfd);
}

// A task woken by a completion on one worker, stolen by the other, and
// submitting its next operation there: each call completes on the ring it
// was submitted on, whatever worker the task runs on afterwards.
TEST_F(IoCancel, TaskMigratesBetweenTwoIoCalls) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  const long rounds = scaled(400, 100);
  std::atomic<long> moved{0};
  void *r = run(rt, [&]() -> void * {
    // A peer task echoes everything back.
    corio_tid peer = tspawn([&]() -> void * {
      char b[64];
      for (;;) {
        ssize_t n = corio_recv(sv[1], b, sizeof b, 0, CORIO_FOREVER);
        if (n <= 0) return V(0);
        if (corio_send_all(sv[1], b, (size_t)n, 0, CORIO_FOREVER, nullptr) != n) return V(-1);
      }
    });
    for (long i = 0; i < rounds; i++) {
      char out[16], in[16];
      snprintf(out, sizeof out, "m%014ld", i);
      int w0 = corio_task_worker();
      if (corio_send_all(sv[0], out, 16, 0, CORIO_MS(10000), nullptr) != 16) return V(-2);
      if (corio_recv_all(sv[0], in, 16, 0, CORIO_MS(10000), nullptr) != 16) return V(-3);
      if (memcmp(in, out, 16) != 0) return V(-4);
      // Make this worker busy with a child that spins without yielding,
      // queued in front of us: the other worker steals us meanwhile.
      corio_tid hog = tspawn([]() -> void * {
        auto end = Clock::now() + std::chrono::microseconds(kSanitized ? 3000 : 1000);
        while (Clock::now() < end) {
        }
        return V(0);
      });
      corio_task_yield();
      if (corio_task_worker() != w0) moved++;
      // The next I/O, maybe on the other worker's ring.
      if (corio_send_all(sv[0], out, 16, 0, CORIO_MS(10000), nullptr) != 16) return V(-5);
      if (corio_recv_all(sv[0], in, 16, 0, CORIO_MS(10000), nullptr) != 16) return V(-6);
      if (memcmp(in, out, 16) != 0) return V(-7);
      corio_task_join(hog, nullptr);
    }
    shutdown(sv[0], SHUT_WR);
    corio_task_join(peer, nullptr);
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  // Not every round migrates (the thief may be asleep), but with a busy
  // worker beside an idle one, many must.
  EXPECT_GT(moved.load(), 0);
  printf("migrated between two I/O calls in %ld of %ld rounds\n", moved.load(), rounds);
  close(sv[0]);
  close(sv[1]);
}

// ---- a ring that cannot be set up --------------------------------------------

// Runs `setup` and then corio_rt_create (with `backend`) in a child
// process; returns the child's exit status (the negated errno of
// corio_rt_create, or 0) and its stderr.
std::pair<int, std::string> create_in_child(void (*setup)(), int backend) {
  int errp[2];
  if (pipe(errp) != 0) return {-1, ""};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(errp[1], 2);
    close(errp[0]);
    setup();
    corio_rt *rt = nullptr;
    corio_rt_opts o{};
    o.workers = 2;
    o.backend = backend;
    int r = corio_rt_create(&rt, &o);
    if (r == 0) corio_rt_shutdown(rt);
    _exit(-r);
  }
  close(errp[1]);
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = read(errp[0], buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(n));
  close(errp[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, err};
}

// io_uring_setup fails with EPERM, as under Docker's default profile.
void deny_io_uring() {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(200);
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(201);
}

TEST(IoSetup, RefusedIoUringFailsCreateWithOneLineWhenForced) {
  auto [code, err] = create_in_child(deny_io_uring, CORIO_BACKEND_IO_URING);
  EXPECT_EQ(EPERM, code) << err;
  EXPECT_NE(std::string::npos, err.find("cannot set up io_uring")) << err;
  EXPECT_NE(std::string::npos, err.find("seccomp")) << err;
  // One line, however many workers failed.
  EXPECT_EQ(1, std::count(err.begin(), err.end(), '\n')) << err;
}

// A non-root user whose locked-memory limit cannot hold a ring: the kernel
// charges ring memory to RLIMIT_MEMLOCK without CAP_IPC_LOCK.
void no_locked_memory() {
  struct rlimit rl = {0, 0};
  if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0) _exit(210);
  if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(211);
}

TEST(IoSetup, NoLockedMemoryFailsCreateWithENOMEMWhenForced) {
  auto [code, err] = create_in_child(no_locked_memory, CORIO_BACKEND_IO_URING);
  EXPECT_EQ(ENOMEM, code) << err;
  EXPECT_NE(std::string::npos, err.find("RLIMIT_MEMLOCK")) << err;
}

TEST(IoSetup, NoLockedMemoryFallsBackToEpoll) {
  auto [code, err] = create_in_child(no_locked_memory, CORIO_BACKEND_AUTO);
  EXPECT_EQ(0, code) << err;
}

// What the child of the fallback test checks, as its exit status.
int fallback_child() {
  corio_rt *rt = nullptr;
  corio_rt_opts o{};
  o.workers = 2;
  if (corio_rt_create(&rt, &o) != 0) return 100;
  if (strcmp(corio_rt_backend(rt), "epoll") != 0) return 101;
  int lfd = corio_listen("127.0.0.1:0", 16, 0);
  char addr[64];
  if (lfd < 0 || corio_sock_name(lfd, addr, sizeof addr) != 0) return 102;
  struct Ctx {
    int lfd;
    const char *addr;
  } c{lfd, addr};
  void *res = nullptr;
  int r = corio_rt_run(
      rt,
      [](void *a) -> void * {
        auto *c = static_cast<Ctx *>(a);
        corio_tid srv;
        // The server: accept one connection and echo what comes.
        if (corio_task_spawn(
                &srv,
                [](void *a) -> void * {
                  int fd = corio_accept(static_cast<Ctx *>(a)->lfd, nullptr, nullptr, 0,
                                        CORIO_MS(5000));
                  if (fd < 0) return V(fd);
                  char b[64];
                  ssize_t n;
                  while ((n = corio_recv(fd, b, sizeof b, 0, CORIO_MS(5000))) > 0)
                    if (corio_send_all(fd, b, static_cast<size_t>(n), 0, CORIO_MS(5000),
                                       nullptr) < 0)
                      break;
                  corio_close(fd);
                  return V(n);
                },
                c) != 0)
          return V(-1);
        int fd = corio_dial(c->addr, CORIO_MS(5000));
        if (fd < 0) return V(fd);
        char b[5] = {0};
        ssize_t n = corio_send_all(fd, "hello", 5, 0, CORIO_MS(5000), nullptr);
        if (n == 5) n = corio_recv_all(fd, b, 5, 0, CORIO_MS(5000), nullptr);
        corio_close(fd);
        void *sr = nullptr;
        corio_task_join(srv, &sr);
        return V(n == 5 && memcmp(b, "hello", 5) == 0 && I(sr) == 0 ? 1 : -2);
      },
      &c, &res);
  close(lfd);
  corio_rt_shutdown(rt);
  return r == 0 && I(res) == 1 ? 0 : 103;
}

// Docker's default profile: io_uring_setup fails with EPERM.  An auto
// runtime runs on epoll, says so in one line, and serves an echo round trip.
TEST(IoSetup, RefusedIoUringFallsBackToEpollAndServes) {
  if (getenv("CORIO_BACKEND") != nullptr) unsetenv("CORIO_BACKEND"); // the child decides alone
  auto [code, err] = create_in_child([] {
    deny_io_uring();
    _exit(fallback_child());
  }, CORIO_BACKEND_AUTO);
  EXPECT_EQ(0, code) << err;
  EXPECT_NE(std::string::npos, err.find("corio: backend epoll (io_uring refused")) << err;
  EXPECT_NE(std::string::npos, err.find("seccomp")) << err;
  EXPECT_EQ(1, std::count(err.begin(), err.end(), '\n')) << err;
}

TEST(IoSetup, NoBackendStillRunsWhereIoUringIsRefused) {
  auto [code, err] = create_in_child([] {
    deny_io_uring();
    corio_rt *rt = nullptr;
    corio_rt_opts o{};
    o.workers = 1;
    o.backend = CORIO_BACKEND_NONE;
    int r = corio_rt_create(&rt, &o);
    if (r != 0) _exit(100);
    void *res = nullptr;
    if (corio_rt_run(rt, [](void *) -> void * { return V(7); }, nullptr, &res) != 0) _exit(101);
    corio_rt_shutdown(rt);
    _exit(I(res) == 7 ? 0 : 102);
  }, CORIO_BACKEND_NONE);
  EXPECT_EQ(0, code) << err;
}

}  // namespace
