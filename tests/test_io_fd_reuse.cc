// tests/test_io_fd_reuse.cc - what users do with descriptors while tasks
// wait on them, on the default backend and on epoll (tests/CMakeLists.txt
// runs this suite again with CORIO_BACKEND=epoll): a number closed and
// reused by another task's socket while a wait on it is still parked; a
// file that outlives the number a wait used (a dup), after which the dead
// wait's stack is reused by a live task; a second waiter on one descriptor
// when no descriptor number is left; several tasks accepting on one
// listener on one worker; timeouts too large to add to the clock.
//
// Each loop names its round and step on a hang (HangWatch below) instead
// of running into the ctest timeout.
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "support/task_helpers.h"

#if defined(__SANITIZE_THREAD__)
#define FD_REUSE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FD_REUSE_TSAN 1
#endif
#endif

namespace {

#ifdef FD_REUSE_TSAN
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

class FdReuse : public TaskBase {};

// Aborts the process when the step set last with at() is still going
// after its limit, naming the test, the round and the step.
class HangWatch {
 public:
  HangWatch() : test_(name()), thread_([this] { loop(); }) {}
  ~HangWatch() {
    {
      std::lock_guard<std::mutex> l(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  HangWatch(const HangWatch &) = delete;
  HangWatch &operator=(const HangWatch &) = delete;

  // The step now running; `limit` seconds from now it counts as a hang.
  void at(long round, const char *what, long limit_s = kSanitized ? 90 : 20) {
    std::lock_guard<std::mutex> l(m_);
    round_ = round;
    what_ = what;
    end_ = Clock::now() + std::chrono::seconds(limit_s);
  }

 private:
  static std::string name() {
    const ::testing::TestInfo *ti = ::testing::UnitTest::GetInstance()->current_test_info();
    return ti == nullptr ? std::string("?") : std::string(ti->test_suite_name()) + "." + ti->name();
  }
  void loop() {
    std::unique_lock<std::mutex> l(m_);
    while (!done_) {
      cv_.wait_for(l, milliseconds(50));
      if (!done_ && what_ != nullptr && Clock::now() > end_) {
        fprintf(stderr, "hang: %s: round %ld: %s\n", test_.c_str(), round_, what_);
        fflush(stderr);
        std::abort();
      }
    }
  }
  std::string test_;
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  long round_ = -1;
  const char *what_ = nullptr;
  Clock::time_point end_{};
  std::thread thread_;  // last: starts once the members above exist
};

// A number closed and taken again by another socket while a wait on it is
// parked (one worker, so both waits are on one epoll instance): the first
// wait's timeout must not take the second task's registration with it.
TEST_F(FdReuse, ClosedNumberReusedWhileAnotherTaskWaits) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  HangWatch hang;
  const long rounds = scaled(20, 10);
  std::atomic<long> reused{0};
  void *r = run(rt, [&]() -> void * {
    for (long i = 0; i < rounds; i++) {
      int x[2], y[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x) != 0) return V(-1);
      std::atomic<bool> a_in{false};
      hang.at(i, "task A: recv on the first socket (20 ms timeout)");
      corio_tid a = tspawn([&]() -> void * {
        char c;
        a_in = true;
        return V(corio_recv(x[0], &c, 1, 0, CORIO_MS(20)));
      });
      // One worker: A has run up to its wait when we see the flag.
      if (!yield_until([&] { return a_in.load(); })) return V(-2);
      int num = x[0];
      close(x[0]);
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, y) != 0) return V(-3);
      if (y[0] == num) reused++;
      std::atomic<bool> b_in{false};
      corio_tid b = tspawn([&]() -> void * {
        char c = 0;
        b_in = true;
        ssize_t n = corio_recv(y[0], &c, 1, 0, CORIO_MS(5000));
        return V(n == 1 && c == 'z' ? 1 : n == 1 ? -1000 : n);
      });
      if (!yield_until([&] { return b_in.load(); })) return V(-4);
      hang.at(i, "task A's recv did not end at its timeout");
      void *ra = nullptr;
      if (corio_task_join(a, &ra) != 0) return V(-5);
      // A's wait is over; B's wait on the same number must still hear.
      if (send(y[1], "z", 1, MSG_NOSIGNAL) != 1) return V(-6);
      hang.at(i, "task B: recv on the reused number");
      void *rb = nullptr;
      if (corio_task_join(b, &rb) != 0) return V(-7);
      if (I(rb) != 1) {
        ADD_FAILURE() << "round " << i << ": task B's recv on the reused number " << y[0]
                      << " returned " << I(rb) << " (A's returned " << I(ra) << ")";
        return V(-8);
      }
      close(x[1]);
      close(y[0]);
      close(y[1]);
    }
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  // Most rounds must really reuse the number, or the test tests nothing.
  if (I(r) == 0) {
    EXPECT_GE(reused.load(), rounds / 2);
  }
}

// The victim of the next test: a zeroed buffer on its stack, which covers
// where the previous task's wait lived, while it sleeps twice.  Returns
// the number of bytes of the buffer that changed, or -1000 - the error of
// a sleep.
__attribute__((noinline)) long zeroed_stack_sleeper(std::atomic<bool> *in) {
  volatile char buf[16384];
  for (size_t k = 0; k < sizeof buf; k++) buf[k] = 0;
  in->store(true);
  int r1 = corio_sleep_ms(20);  // the stale readiness arrives meanwhile
  int r2 = corio_sleep_ms(1);   // the timers still fire
  long changed = 0;
  for (size_t k = 0; k < sizeof buf; k++) changed += buf[k] != 0;
  if (r1 != 0) return -1000 + r1;
  if (r2 != 0) return -1000 + r2;
  return changed;
}

// A file that outlives the number its wait used: the user dup'ed it, the
// number is closed while the wait is parked, the wait ends by its timeout.
// Readiness of that file later must reach nothing of the dead wait: the
// next task on the same worker reuses its stack (a zeroed buffer that must
// stay zero) and sleeps (its timers must fire).
TEST_F(FdReuse, DupedFileOutlivesItsNumber) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  HangWatch hang;
  const long rounds = scaled(50, 20);
  void *r = run(rt, [&]() -> void * {
    for (long i = 0; i < rounds; i++) {
      int s[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) != 0) return V(-1);
      int keep = fcntl(s[0], F_DUPFD_CLOEXEC, 0);  // the file outlives s[0]
      if (keep < 0) return V(-2);
      std::atomic<bool> a_in{false};
      hang.at(i, "task A: recv on the dup'ed socket (5 ms timeout)");
      corio_tid a = tspawn([&]() -> void * {
        char c;
        a_in = true;
        return V(corio_recv(s[0], &c, 1, 0, CORIO_MS(5)));
      });
      if (!yield_until([&] { return a_in.load(); })) return V(-3);
      close(s[0]);
      void *ra = nullptr;
      if (corio_task_join(a, &ra) != 0) return V(-4);
      std::atomic<bool> c_in{false};
      hang.at(i, "task C (zeroed stack buffer) sleeping 20 ms + 1 ms: its timers never fired");
      corio_tid c = tspawn([&]() -> void * { return V(zeroed_stack_sleeper(&c_in)); });
      if (!yield_until([&] { return c_in.load(); })) return V(-5);
      // The file of A's old number becomes readable while C sleeps.
      if (send(s[1], "x", 1, MSG_NOSIGNAL) != 1) return V(-6);
      void *rc = nullptr;
      if (corio_task_join(c, &rc) != 0) return V(-7);
      if (I(rc) != 0) {
        ADD_FAILURE() << "round " << i << ": task C's stack buffer or sleeps: " << I(rc)
                      << " (bytes changed, or -1000 - the sleep's error)";
        return V(-8);
      }
      close(keep);
      close(s[1]);
    }
    return V(0);
  });
  EXPECT_EQ(0, I(r));
}

// The two cases above as a race, on two workers: drivers close numbers
// that tasks wait on (polls with short timeouts), with and without a dup
// keeping the file, while other tasks take the numbers again and must hear
// their data; files kept by a dup become ready after their waits ended.
// Whatever lands on which worker, every receiver gets its byte.
TEST_F(FdReuse, ReuseChurnOnTwoWorkers) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  HangWatch hang;
  const int kDrivers = 4;
  const long rounds = scaled(10000, 2000) / kDrivers;
  std::atomic<long> done{0};
  std::atomic<int> finished{0};
  std::vector<corio_tid> drivers;
  struct Finish {
    std::atomic<int> *n;
    ~Finish() { n->fetch_add(1); }
  };
  for (int d = 0; d < kDrivers; d++)
    drivers.push_back(spawn(rt, [&, d]() -> void * {
      Finish fin{&finished};
      for (long i = 0; i < rounds; i++) {
        int x[2], y[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x) != 0) return V(-1);
        int keep = (i & 1) ? fcntl(x[0], F_DUPFD_CLOEXEC, 0) : -1;
        corio_tid a = tspawn([&x, i]() -> void * {
          return V(corio_poll(x[0], POLLIN, CORIO_MS(1 + i % 3)));
        });
        if (i % 3 != 0) corio_task_yield();
        // TSan reports a number closed in one thread while another thread
        // may still pass it to a system call (A may not have started yet,
        // on the other worker): a race indeed, the one this test makes on
        // purpose.  Under TSan, A ends first; the dup'ed files still
        // linger and the numbers are still taken again on either worker.
        void *ra = nullptr, *rb = nullptr;
        if (kTsan && corio_task_join(a, &ra) != 0) return V(-8);
        close(x[0]);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, y) != 0) return V(-2);
        corio_tid b = tspawn([&y]() -> void * {
          char c = 0;
          ssize_t n = corio_recv(y[0], &c, 1, 0, CORIO_MS(10000));
          return V(n == 1 && c == 'z' ? 1 : n == 1 ? -1000 : n);
        });
        if (i % 2 != 0) corio_task_yield();
        if (send(y[1], "z", 1, MSG_NOSIGNAL) != 1) return V(-3);
        if (!kTsan && corio_task_join(a, &ra) != 0) return V(-4);
        // The kept file becomes ready after its wait ended.
        if (keep >= 0 && send(x[1], "s", 1, MSG_NOSIGNAL) != 1) return V(-5);
        if (corio_task_join(b, &rb) != 0) return V(-6);
        if (I(rb) != 1) {
          ADD_FAILURE() << "driver " << d << ", round " << i << ": the receiver on " << y[0]
                        << " returned " << I(rb);
          return V(-7);
        }
        corio_task_yield();
        if (keep >= 0) close(keep);
        close(x[1]);
        close(y[0]);
        close(y[1]);
        done++;
      }
      return V(0);
    }));
  // The round count is the progress: a round that does not end (a task
  // that never wakes, a worker stuck in a call) stops it.
  long last = -1;
  while (finished.load() != kDrivers) {
    long now = done.load();
    if (now != last) {
      last = now;
      hang.at(now, "no round of the drivers ended for a while (rounds ended so far: the number above)");
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  for (int d = 0; d < kDrivers; d++) EXPECT_EQ(0, join(rt, drivers[d])) << "driver " << d;
  EXPECT_EQ(rounds * kDrivers, done.load());
}

// Lowers RLIMIT_NOFILE (soft) so that no descriptor number is free, and
// puts the old limit back on destruction.
class NoFreeNumber {
 public:
  NoFreeNumber() {
    getrlimit(RLIMIT_NOFILE, &old_);
    int lowest = fcntl(0, F_DUPFD_CLOEXEC, 0);  // the lowest free number
    if (lowest >= 0) close(lowest);
    struct rlimit l = old_;
    l.rlim_cur = static_cast<rlim_t>(lowest);
    ok_ = lowest >= 0 && setrlimit(RLIMIT_NOFILE, &l) == 0;
  }
  ~NoFreeNumber() { restore(); }
  void restore() {
    if (ok_) setrlimit(RLIMIT_NOFILE, &old_);
    ok_ = false;
  }
  bool ok() const { return ok_; }

 private:
  struct rlimit old_{};
  bool ok_ = false;
};

// Two readers and a poller on one socket on one worker, with no descriptor
// number free: recv(2) never says EMFILE, and neither may corio_recv.
TEST_F(FdReuse, SecondWaiterAtTheDescriptorLimit) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  HangWatch hang;
  const long rounds = scaled(20, 10);
  void *r = run(rt, [&]() -> void * {
    for (long i = 0; i < rounds; i++) {
      int s[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) != 0) return V(-1);
      std::atomic<int> in{0};
      std::vector<corio_tid> readers;
      NoFreeNumber limit;
      if (!limit.ok()) return V(-2);
      hang.at(i, "two readers and a poller on one socket at the descriptor limit");
      for (int k = 0; k < 2; k++)
        readers.push_back(tspawn([&]() -> void * {
          char c = 0;
          in++;
          return V(corio_recv(s[0], &c, 1, 0, CORIO_MS(10000)));
        }));
      corio_tid poller = tspawn([&]() -> void * {
        in++;
        return V(corio_poll(s[0], POLLOUT, CORIO_MS(10000)));
      });
      // One worker: each has reached its wait when the count says so.
      if (!yield_until([&] { return in.load() == 3; })) return V(-3);
      corio_task_yield();
      limit.restore();
      void *rp = nullptr;
      if (corio_task_join(poller, &rp) != 0) return V(-4);
      if ((I(rp) & POLLOUT) == 0) {
        ADD_FAILURE() << "round " << i << ": corio_poll(POLLOUT) beside a reader: " << I(rp);
        return V(-5);
      }
      const char two[2] = {'a', 'b'};
      for (int k = 0; k < 2; k++)
        if (send(s[1], &two[k], 1, MSG_NOSIGNAL) != 1) return V(-6);
      for (int k = 0; k < 2; k++) {
        void *rr = nullptr;
        if (corio_task_join(readers[k], &rr) != 0) return V(-7);
        if (I(rr) != 1) {
          ADD_FAILURE() << "round " << i << ": reader " << k << " returned " << I(rr)
                        << " (1 byte expected)";
          return V(-8);
        }
      }
      close(s[0]);
      close(s[1]);
    }
    return V(0);
  });
  EXPECT_EQ(0, I(r));
}

// Four tasks accept on one corio_listen socket, on one worker and on two;
// three connections arrive one at a time.  Each is taken by one of them
// while the others go on waiting, a fifth task keeps running, and at the
// end the accepter left over ends when killed: no accepter may block its
// worker in accept(2) (the one left over would never see its kill).
TEST_F(FdReuse, AcceptersOnOneListenerNeverBlockTheWorker) {
  HangWatch hang;
  const int kAccepters = 4;
  for (unsigned workers = 1; workers <= 2; workers++) {
    Rt rt(workers);
    ASSERT_EQ(0, rt.rc());
    const long rounds = workers == 1 ? scaled(10, 5) : scaled(200, 50);
    for (long i = 0; i < rounds; i++) {
      int lfd = corio_listen("127.0.0.1:0", 16, 0);
      ASSERT_GE(lfd, 0);
      if (i == 0) {
        EXPECT_NE(0, fcntl(lfd, F_GETFL) & O_NONBLOCK) << "corio_listen: a non-blocking socket";
      }
      char addr[64];
      ASSERT_EQ(0, corio_sock_name(lfd, addr, sizeof addr));
      struct sockaddr_storage ss;
      socklen_t sl;
      ASSERT_EQ(0, corio_addr_parse(addr, &ss, &sl));
      std::atomic<long> ticks{0};
      std::atomic<bool> stop{false};
      std::atomic<int> in{0}, accepted{0};
      hang.at(i, workers == 1 ? "1 worker: starting the ticker and the accepters"
                              : "2 workers: starting the ticker and the accepters");
      corio_tid ticker = spawn(rt, [&]() -> void * {
        while (!stop.load()) {
          ticks++;
          if (corio_task_yield() < 0) break;
        }
        return V(0);
      });
      std::vector<corio_tid> acc;
      for (int k = 0; k < kAccepters; k++)
        acc.push_back(spawn(rt, [&]() -> void * {
          in++;
          int c = corio_accept(lfd, nullptr, nullptr, 0, CORIO_FOREVER);
          if (c >= 0) {
            accepted++;
            close(c);
          }
          return V(c >= 0 ? 0 : c);
        }));
      ASSERT_TRUE(eventually([&] { return in.load() == kAccepters; }));
      std::vector<int> clients;
      static const char *const kStep[2][3] = {
          {"1 worker: connection 1 not accepted, or the worker stopped running its other task",
           "1 worker: connection 2 not accepted, or the worker stopped running its other task",
           "1 worker: connection 3 not accepted, or the worker stopped running its other task"},
          {"2 workers: connection 1 not accepted, or no worker runs the other task",
           "2 workers: connection 2 not accepted, or no worker runs the other task",
           "2 workers: connection 3 not accepted, or no worker runs the other task"}};
      for (int k = 0; k < kAccepters - 1; k++) {
        hang.at(i, kStep[workers - 1][k]);
        int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(c, 0);
        ASSERT_EQ(0, connect(c, reinterpret_cast<struct sockaddr *>(&ss), sl));
        clients.push_back(c);
        while (accepted.load() != k + 1) std::this_thread::sleep_for(std::chrono::microseconds(50));
        long t0 = ticks.load();
        while (ticks.load() < t0 + 100) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      // The one left over ends when killed; one blocked in accept(2) would not.
      hang.at(i, workers == 1 ? "1 worker: the accepter left over did not end when killed"
                              : "2 workers: the accepter left over did not end when killed "
                                "(its worker blocked in accept?)");
      void *killed = run(rt, [&]() -> void * {
        for (corio_tid t : acc) (void)corio_task_kill(t);
        return V(0);
      });
      EXPECT_EQ(0, I(killed));
      int ok = 0, cancelled = 0;
      for (int k = 0; k < kAccepters; k++) {
        intptr_t r = join_or_error(rt, acc[k]);
        ok += r == 0;
        cancelled += r == -ECANCELED;
      }
      EXPECT_EQ(kAccepters - 1, ok) << "round " << i << ", " << workers << " worker(s)";
      EXPECT_EQ(1, cancelled) << "round " << i << ", " << workers << " worker(s)";
      stop = true;
      join(rt, ticker);
      for (int c : clients) close(c);
      close(lfd);
      if (HasFailure()) return;
    }
  }
}

// Timeouts near INT64_MAX: the deadline (now + timeout) would overflow;
// it saturates (no deadline) and the calls behave as with CORIO_FOREVER.
TEST_F(FdReuse, HugeTimeoutsSaturate) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  int s[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
  void *r = run(rt, [&]() -> void * {
    corio_tid w = tspawn([&]() -> void * {
      if (corio_sleep_ms(5) != 0) return V(-1);
      return V(send(s[1], "q", 1, MSG_NOSIGNAL));
    });
    char c = 0;
    EXPECT_EQ(1, corio_recv(s[0], &c, 1, 0, INT64_MAX));
    EXPECT_EQ('q', c);
    EXPECT_EQ(POLLOUT, corio_poll(s[0], POLLOUT, INT64_MAX - 1) & POLLOUT);
    EXPECT_EQ(1, corio_send(s[0], "p", 1, 0, INT64_MAX));
    corio_task_join(w, nullptr);
    std::atomic<bool> in{false};
    corio_tid sleeper = tspawn([&]() -> void * {
      in = true;
      return V(corio_sleep_ns(INT64_MAX));
    });
    EXPECT_TRUE(yield_until([&] { return in.load(); }));
    EXPECT_EQ(0, corio_sleep_ms(5));  // the sleep did not end at once
    EXPECT_EQ(1, corio_task_kill(sleeper));  // still sleeping
    void *rs = nullptr;
    EXPECT_EQ(0, corio_task_join(sleeper, &rs));
    EXPECT_EQ(-ECANCELED, I(rs));
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  close(s[0]);
  close(s[1]);
}

}  // namespace
