// tests/test_io_interrupt.cc - calls the kernel runs blocking (a connect to
// a listener whose backlog is full, the open of a FIFO that waits for its
// peer) ended by a timeout, a kill or a shutdown: the call says why it
// ended (-ETIMEDOUT, -ECANCELED), never the kernel's "interrupted"; and calls
// with the largest timeouts, which mean "no deadline" in effect.
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "support/task_helpers.h"

namespace {

class IoInterrupt : public TaskBase {};

// A hang guard for one call, not a speed check.
const auto kBounded = std::chrono::seconds(kSanitized ? 20 : 5);

// A Unix stream listener (abstract name) whose backlog is full: listen(fd,
// 0) and non-blocking connects until the kernel refuses one.  A blocking
// connect to it waits in the kernel until an accept makes room.
struct FullListener {
  int lfd = -1;
  sockaddr_un addr{};
  socklen_t len = 0;
  std::vector<int> queued;

  FullListener() {
    static std::atomic<int> seq{0};
    std::string name = "corio-full-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path + 1, name.data(), name.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr *>(&addr), len) != 0 || listen(lfd, 0) != 0)
      return;
    for (int i = 0; i < 64; i++) {
      int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (connect(c, reinterpret_cast<sockaddr *>(&addr), len) != 0) {
        full = errno == EAGAIN;
        close(c);
        break;
      }
      queued.push_back(c);
    }
  }
  ~FullListener() {
    for (int c : queued) close(c);
    if (lfd >= 0) close(lfd);
  }
  const sockaddr *sa() const { return reinterpret_cast<const sockaddr *>(&addr); }
  // A blocking connect that waits (from a task: in the kernel or polling).
  int connect_from_task(int64_t timeout_ns) const {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    int r = corio_connect(s, sa(), len, timeout_ns);
    close(s);
    return r;
  }
  bool full = false;
};

TEST_F(IoInterrupt, ConnectToAFullBacklogTimesOut) {
  FullListener l;
  ASSERT_TRUE(l.full);
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  for (int round = 0; round < 3; round++) {
    auto t0 = Clock::now();
    void *r = run(rt, [&]() -> void * { return V(l.connect_from_task(CORIO_MS(50))); });
    EXPECT_EQ(-ETIMEDOUT, I(r)) << "round " << round << ": " << strerror(static_cast<int>(-I(r)));
    EXPECT_LT(Clock::now() - t0, kBounded);
  }
  // A caller that retries on EINTR until its deadline ends at the deadline.
  auto t0 = Clock::now();
  void *r = run(rt, [&]() -> void * {
    int64_t left = CORIO_MS(50);
    int res;
    do {
      res = l.connect_from_task(left);
      left = CORIO_MS(1);  // the deadline is near; bounded by kBounded below
    } while (res == -EINTR && Clock::now() - t0 < kBounded);
    return V(res);
  });
  EXPECT_EQ(-ETIMEDOUT, I(r));
  EXPECT_LT(Clock::now() - t0, kBounded);
}

// Timeouts so short that they may fire before the kernel has handed the
// connect to the io-wq worker in which it blocks: every call still ends,
// with -ETIMEDOUT.
TEST_F(IoInterrupt, ConnectWithATinyTimeoutEnds) {
  FullListener l;
  ASSERT_TRUE(l.full);
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  for (int64_t ns : {int64_t{0}, int64_t{1000}, int64_t{50000}}) {
    for (int round = 0; round < 10; round++) {
      std::atomic<int> ended{0};
      corio_tid t = spawn(rt, [&]() -> void * {
        int r = l.connect_from_task(ns);
        ended = 1;
        return V(r);
      });
      bool done = eventually([&] { return ended.load() != 0; }, milliseconds(kBounded));
      EXPECT_TRUE(done) << "a connect with timeout " << ns << " ns did not end";
      while (ended.load() == 0) {  // release it: room in the backlog
        int a = accept4(l.lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (a >= 0) l.queued.push_back(a);
        std::this_thread::sleep_for(milliseconds(1));
      }
      intptr_t r = join(rt, t);
      if (!done) return;  // the backlog is no longer full
      EXPECT_EQ(-ETIMEDOUT, r) << "timeout " << ns << " ns, round " << round;
    }
  }
}

// Spawn `body`, wait until it has started and had time to block, kill it
// from a task (or from this thread), and return what it returned.  If it
// does not end within kBounded, `release` is called (a peer that lets the
// call complete), so a hang fails the test instead of stopping it.
intptr_t kill_blocked(corio_rt *rt, corio_tid t, std::atomic<int> &started,
                      std::atomic<int> &ended, bool from_task, const std::function<void()> &release) {
  EXPECT_TRUE(eventually([&] { return started.load() != 0; }));
  std::this_thread::sleep_for(milliseconds(50));  // into the kernel (not asserted)
  if (from_task) {
    void *kr = nullptr;
    EXPECT_EQ(0, corio_rt_run(
                     rt,
                     [](void *a) -> void * {
                       return V(corio_task_kill(*static_cast<corio_tid *>(a)));
                     },
                     &t, &kr));
    EXPECT_GE(I(kr), 0);
  } else {
    EXPECT_GE(corio_task_kill(t), 0);
  }
  bool done = eventually([&] { return ended.load() != 0; }, milliseconds(kBounded));
  EXPECT_TRUE(done) << "the killed call did not return";
  if (!done) release();
  void *res = nullptr;
  EXPECT_EQ(0, corio_rt_join(rt, t, &res));
  return I(res);
}

TEST_F(IoInterrupt, ConnectToAFullBacklogKilled) {
  FullListener l;
  ASSERT_TRUE(l.full);
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  for (int round = 0; round < 4; round++) {
    std::atomic<int> started{0}, ended{0};
    corio_tid t = spawn(rt, [&]() -> void * {
      started = 1;
      int r = l.connect_from_task(round % 2 ? CORIO_MS(60000) : CORIO_FOREVER);
      ended = 1;
      return V(r);
    });
    intptr_t r = kill_blocked(rt, t, started, ended, round < 2, [&] {
      int a = accept4(l.lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (a >= 0) l.queued.push_back(a);
    });
    EXPECT_EQ(-ECANCELED, r) << "round " << round << ": " << strerror(static_cast<int>(-r));
  }
}

TEST_F(IoInterrupt, ShutdownEndsAConnectBlockedInTheKernel) {
  FullListener l;
  ASSERT_TRUE(l.full);
  constexpr int kTasks = 4;
  std::atomic<int> started{0};
  std::atomic<int> results[kTasks];
  for (auto &r : results) r = 1;
  corio_rt *rt = nullptr;
  corio_rt_opts o{};
  o.workers = 2;
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  for (int i = 0; i < kTasks; i++) {
    corio_tid t = spawn(rt, [&, i]() -> void * {
      started++;
      results[i] = l.connect_from_task(i % 2 ? CORIO_MS(60000) : CORIO_FOREVER);
      return nullptr;
    });
    ASSERT_EQ(0, corio_task_detach(t));
  }
  ASSERT_TRUE(eventually([&] { return started.load() == kTasks; }));
  std::this_thread::sleep_for(milliseconds(50));
  // A shutdown that does not end the connects would hang here: a thread
  // makes room in the backlog after kBounded so that it ends anyway.
  std::atomic<bool> shut{false};
  std::thread guard([&] {
    auto end = Clock::now() + kBounded;
    while (!shut && Clock::now() < end) std::this_thread::sleep_for(milliseconds(1));
    while (!shut) {
      int a = accept4(l.lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (a >= 0) close(a);
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  auto t0 = Clock::now();
  EXPECT_EQ(0, corio_rt_shutdown(rt));
  shut = true;
  guard.join();
  EXPECT_LT(Clock::now() - t0, kBounded) << "shutdown waited for the connects";
  for (int i = 0; i < kTasks; i++)
    EXPECT_EQ(-ECANCELED, results[i].load()) << "task " << i;
}

// ---- a FIFO opened without O_NONBLOCK waits for its peer -------------------

struct Fifo {
  std::string dir, path;
  Fifo() {
    char tmpl[] = "/tmp/corio-fifo-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir = tmpl;
    path = dir + "/f";
    if (mkfifo(path.c_str(), 0600) != 0) path.clear();
  }
  ~Fifo() {
    if (!path.empty()) unlink(path.c_str());
    if (!dir.empty()) rmdir(dir.c_str());
  }
  // The other end, opened without waiting (a reader always can; a writer
  // once a reader is there); -1 if it cannot now.
  int peer(int mode) const { return open(path.c_str(), mode | O_NONBLOCK | O_CLOEXEC); }
};

int other(int mode) { return mode == O_RDONLY ? O_WRONLY : O_RDONLY; }

TEST_F(IoInterrupt, FifoOpenWaitsForItsPeer) {
  Fifo f;
  ASSERT_FALSE(f.path.empty());
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  for (int c = 0; c < 4; c++) {
    int mode = c % 2 ? O_WRONLY : O_RDONLY;
    int64_t timeout = c < 2 ? CORIO_FOREVER : CORIO_MS(60000);  // a timer left to disarm
    std::atomic<bool> peer_opening{false};
    std::atomic<int> peer_fd{-1};
    std::thread peer([&] {
      std::this_thread::sleep_for(milliseconds(50));
      peer_opening = true;
      auto end = Clock::now() + kBounded;
      int fd;
      while ((fd = f.peer(other(mode))) < 0 && Clock::now() < end)
        std::this_thread::sleep_for(milliseconds(1));
      peer_fd = fd;
    });
    bool opened_after_peer = false;
    void *r = run(rt, [&]() -> void * {
      int fd = corio_openat(AT_FDCWD, f.path.c_str(), mode, 0, timeout);
      opened_after_peer = peer_opening.load();
      return V(fd);
    });
    peer.join();
    int fd = static_cast<int>(I(r));
    EXPECT_GE(fd, 0) << (mode == O_RDONLY ? "O_RDONLY: " : "O_WRONLY: ") << strerror(-fd);
    EXPECT_TRUE(opened_after_peer) << (mode == O_RDONLY ? "O_RDONLY" : "O_WRONLY")
                                   << " returned before its peer opened";
    ASSERT_GE(peer_fd.load(), 0);
    if (fd >= 0) {
      // The two ends are one pipe: a byte goes through.
      int wfd = mode == O_RDONLY ? peer_fd.load() : fd;
      int rfd = mode == O_RDONLY ? fd : peer_fd.load();
      EXPECT_EQ(1, write(wfd, "x", 1));
      void *n = run(rt, [&]() -> void * {
        char c = 0;
        ssize_t k = corio_read(rfd, &c, 1, CORIO_MS(5000));
        return V(k == 1 && c == 'x' ? 1 : k);
      });
      EXPECT_EQ(1, I(n));
      close(fd);
    }
    close(peer_fd);
  }
}

TEST_F(IoInterrupt, FifoOpenWithoutPeerTimesOut) {
  Fifo f;
  ASSERT_FALSE(f.path.empty());
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  for (int mode : {O_RDONLY, O_WRONLY}) {
    std::atomic<int> ended{0};
    corio_tid t = spawn(rt, [&]() -> void * {
      int fd = corio_openat(AT_FDCWD, f.path.c_str(), mode, 0, CORIO_MS(50));
      ended = 1;
      if (fd >= 0) close(fd);
      return V(fd);
    });
    bool done = eventually([&] { return ended.load() != 0; }, milliseconds(kBounded));
    EXPECT_TRUE(done) << "the open did not time out";
    int pfd = -1;
    if (!done) {  // release it
      while (ended.load() == 0) {
        if (pfd < 0) pfd = f.peer(other(mode));
        std::this_thread::sleep_for(milliseconds(1));
      }
    }
    EXPECT_EQ(-ETIMEDOUT, join(rt, t)) << (mode == O_RDONLY ? "O_RDONLY" : "O_WRONLY");
    if (pfd >= 0) close(pfd);
  }
}

TEST_F(IoInterrupt, FifoOpenWithoutPeerKilled) {
  Fifo f;
  ASSERT_FALSE(f.path.empty());
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  // No timeout, a long one, and the largest ones (no deadline in effect).
  const int64_t timeouts[] = {CORIO_FOREVER, CORIO_FOREVER, CORIO_MS(60000), CORIO_MS(60000),
                              INT64_MAX,     INT64_MAX - 1};
  int round = 0;
  for (int64_t timeout : timeouts) {
    int mode = round % 2 ? O_WRONLY : O_RDONLY;
    std::atomic<int> started{0}, ended{0};
    corio_tid t = spawn(rt, [&]() -> void * {
      started = 1;
      int fd = corio_openat(AT_FDCWD, f.path.c_str(), mode, 0, timeout);
      ended = 1;
      if (fd >= 0) close(fd);
      return V(fd);
    });
    std::vector<int> peers;
    intptr_t r = kill_blocked(rt, t, started, ended, round % 2 == 0, [&] {
      while (ended.load() == 0) {
        int p = f.peer(other(mode));
        if (p >= 0) peers.push_back(p);
        std::this_thread::sleep_for(milliseconds(1));
      }
    });
    EXPECT_EQ(-ECANCELED, r) << "round " << round << ": " << strerror(static_cast<int>(-r));
    for (int p : peers) close(p);
    round++;
  }
}

// ---- the largest timeouts ----------------------------------------------------

// Each call with timeout INT64_MAX or INT64_MAX - 1 completes as it would
// without one (a deadline past the clock's range is none).  Under UBSan a
// deadline computed as now + timeout overflows and stops the test.
TEST_F(IoInterrupt, LargestTimeoutsMeanNoDeadline) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  for (int64_t big : {INT64_MAX, INT64_MAX - 1}) {
    int sv[2];
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    std::thread peer([&] {
      std::this_thread::sleep_for(milliseconds(20));
      EXPECT_EQ(4, write(sv[1], "abcd", 4));
    });
    void *r = run(rt, [&]() -> void * {
      char b[8];
      if (corio_poll(sv[0], POLLIN, big) <= 0) return V(-100);
      if (corio_recv(sv[0], b, 2, 0, big) != 2) return V(-101);
      if (corio_recv_all(sv[0], b, 2, 0, big, nullptr) != 2) return V(-102);
      if (corio_send(sv[0], "ef", 2, 0, big) != 2) return V(-103);
      if (corio_send_all(sv[0], "gh", 2, 0, big, nullptr) != 2) return V(-104);
      if (corio_write(sv[0], "ij", 2, big) != 2) return V(-105);
      if (corio_read(sv[1], b, 6, big) != 6) return V(-106);
      return V(0);
    });
    peer.join();
    EXPECT_EQ(0, I(r)) << "big " << big;
    close(sv[0]);
    close(sv[1]);

    int lfd = corio_listen("127.0.0.1:0", 16, 0);
    ASSERT_GE(lfd, 0);
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    ASSERT_EQ(0, getsockname(lfd, reinterpret_cast<sockaddr *>(&ss), &sl));
    r = run(rt, [&]() -> void * {
      int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int c = corio_connect(s, reinterpret_cast<sockaddr *>(&ss), sl, big);
      int a = c == 0 ? corio_accept(lfd, nullptr, nullptr, 0, big) : -1;
      close(s);
      if (a >= 0) close(a);
      return V(c != 0 ? c : a >= 0 ? 0 : a);
    });
    EXPECT_EQ(0, I(r)) << "big " << big;
    close(lfd);

    // A sleep of the longest time, ended by a kill (the FIFO open with
    // the largest timeouts: FifoOpenWithoutPeerKilled).
    std::atomic<int> started{0}, ended{0};
    corio_tid t = spawn(rt, [&]() -> void * {
      started = 1;
      int res = corio_sleep_ns(big);
      ended = 1;
      return V(res);
    });
    EXPECT_EQ(-ECANCELED, kill_blocked(rt, t, started, ended, false, [] {})) << "sleep " << big;
  }
  // corio_sleep_ms of the longest time it takes.
  std::atomic<int> started{0}, ended{0};
  corio_tid t = spawn(rt, [&]() -> void * {
    started = 1;
    int res = corio_sleep_ms(INT64_MAX / 1000000);
    ended = 1;
    return V(res);
  });
  EXPECT_EQ(-ECANCELED, kill_blocked(rt, t, started, ended, true, [] {}));
}

}  // namespace
