// tests/test_io_close.cc - corio_close ends every wait on its descriptor
// (suite IoClose): a read, six accepts on one listener, a send on a full
// socket, a poll and a stream's line read each return -EBADF; the number
// is closed once they have left; a wait that begins during the close runs
// after it (a number reused at once by a new file works); a killed task's
// close still closes; bad calls err.  Run on both backends (the epoll
// copy is registered by tests/CMakeLists.txt) and in the chaos preset.
//
// The race rounds are bounded by count (CORIO_RACE_ROUNDS scales them); a
// lost wake-up aborts through the round watchdog, which names the round
// and what it waited for.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support/race_rounds.h"
#include "support/round_watchdog.h"
#include "support/task_helpers.h"

namespace {

// Is `fd` closed now?  (Nothing else in the test opens descriptors while
// this is asked, so the number is not reused in between.)
bool is_closed(int fd) { return fcntl(fd, F_GETFD) < 0 && errno == EBADF; }

// Waits (yielding) until `n` tasks said they are about to block, then a
// little longer, so that they are inside their calls: the result is
// -EBADF either way (a call that starts after the close finds the number
// closed), so the sleep only makes the test exercise the wake-up.
void settle(std::atomic<int> &entered, int n) {
  ASSERT_TRUE(yield_until([&] { return entered.load() >= n; }));
  corio_sleep_ns(CORIO_MS(20));
}

class IoClose : public TaskBase {
 protected:
  // A reader blocked in corio_read(timeout) on an empty pipe, closed by
  // another task (killed first when `kill_closer`): the reader's result.
  intptr_t read_ended_by_close(unsigned workers, int64_t timeout, bool kill_closer) {
    Rt rt(workers);
    EXPECT_EQ(0, rt.rc());
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    std::atomic<int> entered{0};
    void *r = run(rt, [&]() -> void * {
      corio_tid reader = tspawn([&]() -> void * {
        char c;
        entered++;
        return V(corio_read(p[0], &c, 1, timeout));
      });
      settle(entered, 1);
      if (kill_closer) {
        EXPECT_EQ(1, corio_task_kill(corio_task_id()));
      }
      EXPECT_EQ(0, corio_close(p[0])) << "a close is not cancelled by a kill";
      EXPECT_TRUE(is_closed(p[0]));
      // A killed task's join says -ECANCELED: the plain thread joins.
      return V(reader);
    });
    intptr_t res = join(rt, static_cast<corio_tid>(I(r)));
    close(p[1]);
    return res;
  }
};

TEST_F(IoClose, WakesARead) { EXPECT_EQ(-EBADF, read_ended_by_close(2, CORIO_FOREVER, false)); }

TEST_F(IoClose, ATimedWaitIsWokenBeforeItsTimeout) {
  auto t0 = Clock::now();
  EXPECT_EQ(-EBADF, read_ended_by_close(1, CORIO_MS(60000), false));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(30)) << "woken by the close, not the timeout";
}

TEST_F(IoClose, AKilledTasksCloseStillClosesAndWakes) {
  EXPECT_EQ(-EBADF, read_ended_by_close(2, CORIO_FOREVER, true));
}

TEST_F(IoClose, WakesEveryAcceptOnAListener) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int l = corio_listen("127.0.0.1:0", 16, 0);
  ASSERT_GE(l, 0);
  constexpr int kAcceptors = 6;
  std::atomic<int> entered{0};
  std::atomic<int> badf{0};
  std::atomic<unsigned> workers{0};
  std::vector<corio_tid> ids(kAcceptors);
  for (int i = 0; i < kAcceptors; i++) {
    // From this thread: the tasks start on whichever worker takes them.
    ids[i] = spawn(rt, [&]() -> void * {
      workers.fetch_or(1u << corio_task_worker());
      entered++;
      int c = corio_accept(l, nullptr, nullptr, 0, CORIO_FOREVER);
      if (c == -EBADF) badf++;
      else if (c >= 0) close(c);
      return V(c);
    });
  }
  ASSERT_TRUE(eventually([&] { return entered.load() == kAcceptors; }));
  void *r = run(rt, [&]() -> void * {
    corio_sleep_ns(CORIO_MS(20));
    return V(corio_close(l));
  });
  EXPECT_EQ(0, I(r));
  for (corio_tid t : ids) EXPECT_EQ(-EBADF, join(rt, t));
  EXPECT_EQ(kAcceptors, badf.load());
  printf("acceptors ran on workers mask %#x\n", workers.load());
}

TEST_F(IoClose, WakesASendOnAFullSocket) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  int small = 4096;
  ASSERT_EQ(0, setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small));
  std::atomic<int> entered{0};
  std::vector<char> big(4 << 20, 'x');
  void *r = run(rt, [&]() -> void * {
    corio_tid sender = tspawn([&]() -> void * {
      entered++;
      size_t sent = 0;
      ssize_t n = corio_send_all(sv[0], big.data(), big.size(), 0, CORIO_FOREVER, &sent);
      EXPECT_LT(sent, big.size());
      return V(n);
    });
    settle(entered, 1);
    EXPECT_EQ(0, corio_close(sv[0]));
    void *res = nullptr;
    EXPECT_EQ(0, corio_task_join(sender, &res));
    return res;
  });
  EXPECT_EQ(-EBADF, I(r));
  close(sv[1]);
}

TEST_F(IoClose, WakesAPollAndAStreamLineRead) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  // Half a line: the stream has bytes buffered and waits for the rest.
  ASSERT_EQ(5, write(sv[1], "hello", 5));
  corio_stream *s = nullptr;
  ASSERT_EQ(0, corio_stream_create(&s, sv[0], nullptr));
  std::atomic<int> entered{0};
  void *r = run(rt, [&]() -> void * {
    corio_tid poller = tspawn([&]() -> void * {
      entered++;
      return V(corio_poll(sv[0], POLLPRI, CORIO_FOREVER));
    });
    corio_tid liner = tspawn([&]() -> void * {
      char line[64];
      entered++;
      return V(corio_stream_read_line(s, line, sizeof line, nullptr, CORIO_FOREVER));
    });
    settle(entered, 2);
    EXPECT_EQ(0, corio_close(sv[0]));
    void *a = nullptr, *b = nullptr;
    EXPECT_EQ(0, corio_task_join(poller, &a));
    EXPECT_EQ(0, corio_task_join(liner, &b));
    EXPECT_EQ(-EBADF, I(a)) << "poll";
    EXPECT_EQ(-EBADF, I(b)) << "read_line";
    return nullptr;
  });
  EXPECT_EQ(nullptr, r);
  corio_stream_destroy(s);
  close(sv[1]);
}

TEST_F(IoClose, CallsAfterTheCloseAndSecondClosesSayEBADF) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  void *r = run(rt, [&]() -> void * {
    int p[2];
    EXPECT_EQ(0, pipe2(p, O_CLOEXEC));
    EXPECT_EQ(0, corio_close(p[0]));
    char c;
    EXPECT_EQ(-EBADF, corio_read(p[0], &c, 1, CORIO_MS(1000)));
    EXPECT_EQ(-EBADF, corio_close(p[0]));
    EXPECT_EQ(-EBADF, corio_close(-1));
    EXPECT_EQ(0, corio_close(p[1]));
    return nullptr;
  });
  EXPECT_EQ(nullptr, r);
  // From a plain thread: not a task.
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  EXPECT_EQ(-EPERM, corio_close(p[0]));
  EXPECT_FALSE(is_closed(p[0]));
  close(p[0]);
  close(p[1]);
}

// Two tasks close one number at once: one closes it, the other is told
// -EBADF (as a second close(2) would), and the reader is woken once.
TEST_F(IoClose, TwoClosesAtOnceCloseOnce) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long rounds = rounds_of(2000, 500);
  RoundWatchdog wd(kRoundLimit);
  for (long round = 0; round < rounds; round++) {
    wd.round(round);
    int p[2];
    ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
    std::atomic<int> entered{0};
    std::atomic<int> zero{0}, badf{0};
    corio_tid reader = spawn(rt, [&]() -> void * {
      char c;
      entered++;
      return V(corio_read(p[0], &c, 1, CORIO_FOREVER));
    });
    auto closer = [&]() -> void * {
      entered++;
      yield_until([&] { return entered.load() >= 3; });
      int c = corio_close(p[0]);
      if (c == 0) zero++;
      else if (c == -EBADF) badf++;
      return V(c);
    };
    corio_tid c1 = spawn(rt, closer);
    corio_tid c2 = spawn(rt, closer);
    wd.waiting_for("the reader's corio_read");
    EXPECT_EQ(-EBADF, join(rt, reader)) << "round " << round;
    wd.waiting_for("the closers");
    join(rt, c1);
    join(rt, c2);
    ASSERT_EQ(1, zero.load()) << "round " << round;
    ASSERT_EQ(1, badf.load()) << "round " << round;
    close(p[1]);
  }
}

// The tight rounds: a reader on one end of a socket pair, a closer that
// closes it after a random spin or yield, and sometimes a writer that
// sends one byte meanwhile.  The reader gets the byte (its call completed
// first) or -EBADF, never anything else, and never hangs.
TEST_F(IoClose, RacesWithTheReaderNeverLoseItsWakeUp) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::mt19937 rng(race_seed());
  const long rounds = rounds_of(20000, 3000);
  RoundWatchdog wd(kRoundLimit);
  long got_byte = 0, got_badf = 0;
  for (long round = 0; round < rounds; round++) {
    wd.round(round);
    int sv[2];
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    long jitter = static_cast<long>(rng() % 2000);
    bool yield_first = rng() % 2 == 0;
    bool write_too = rng() % 4 == 0;
    std::atomic<int> go{0};
    corio_tid reader = spawn(rt, [&]() -> void * {
      char c;
      go++;
      return V(corio_recv(sv[0], &c, 1, 0, CORIO_FOREVER));
    });
    corio_tid closer = spawn(rt, [&]() -> void * {
      yield_until([&] { return go.load() >= 1; }, 1000);
      if (yield_first) corio_task_yield();
      spin(jitter);
      return V(corio_close(sv[0]));
    });
    if (write_too) {
      spin(jitter / 2);
      (void)!send(sv[1], "z", 1, MSG_NOSIGNAL);
    }
    wd.waiting_for("corio_recv");
    intptr_t res = join(rt, reader);
    if (res == 1) got_byte++;
    else if (res == -EBADF) got_badf++;
    else ADD_FAILURE() << "round " << round << ": the reader got " << res;
    wd.waiting_for("corio_close");
    EXPECT_EQ(0, join(rt, closer)) << "round " << round;
    close(sv[1]);
    if (HasFailure()) break;
  }
  printf("%ld rounds: %ld reads got the byte, %ld were ended by the close\n", rounds, got_byte,
         got_badf);
  EXPECT_GT(got_badf, 0);
}

// A number closed by corio_close and given at once to a new file (here an
// eventfd, on another task) while the close may still be finishing: a
// wait on the new file must work (a timeout), never say -EBADF because
// the old file's close was under way.
TEST_F(IoClose, ANumberReusedDuringTheCloseIsANewFile) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long rounds = rounds_of(5000, 1000);
  RoundWatchdog wd(kRoundLimit);
  long reused = 0;
  for (long round = 0; round < rounds; round++) {
    wd.round(round);
    int old = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(old, 0);
    std::atomic<int> entered{0};
    std::atomic<int> closing{0};
    corio_tid reader = spawn(rt, [&]() -> void * {
      uint64_t v;
      entered++;
      return V(corio_read(old, &v, sizeof v, CORIO_FOREVER));
    });
    corio_tid closer = spawn(rt, [&]() -> void * {
      yield_until([&] { return entered.load() >= 1; }, 1000);
      closing = 1;
      return V(corio_close(old));
    });
    corio_tid newcomer = spawn(rt, [&]() -> void * {
      yield_until([&] { return closing.load() == 1; }, 100000);
      // The lowest free number: the old one as soon as its close(2) ran.
      int fd = -1;
      for (int i = 0; i < 200; i++) {
        fd = eventfd(0, EFD_CLOEXEC);
        if (fd == old || fd < 0) break;
        close(fd);
        fd = -1;
        corio_task_yield();
      }
      if (fd != old) return V(1); // the close took longer: nothing to check
      uint64_t v;
      ssize_t n = corio_read(fd, &v, sizeof v, 0);
      corio_close(fd);
      return V(n);
    });
    wd.waiting_for("the reader");
    EXPECT_EQ(-EBADF, join(rt, reader)) << "round " << round;
    wd.waiting_for("the closer");
    EXPECT_EQ(0, join(rt, closer)) << "round " << round;
    wd.waiting_for("the task that reuses the number");
    intptr_t n = join(rt, newcomer);
    if (n != 1) {
      reused++;
      ASSERT_EQ(-ETIMEDOUT, n) << "round " << round << ": a wait on the reused number";
    }
  }
  printf("%ld rounds, the number was reused by the new file in %ld\n", rounds, reused);
  EXPECT_GT(reused, 0);
}

}  // namespace

namespace {

int open_fds() {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (dirent *e = readdir(d))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1;  // the directory's own descriptor
}

// Tasks on both workers open pipes and close both ends with corio_close,
// as fast as they can: a number freed by one close is taken at once by
// another task's pipe2, often while the first close has not finished.
// Every close must close its file (0), and none may be lost.
TEST_F(IoClose, ANumberReusedDuringAnotherCloseIsClosedToo) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const int before = open_fds();
  constexpr int kTasks = 4;
  const long rounds = rounds_of(5000, 1000);
  std::atomic<long> bad{0};
  RoundWatchdog wd(kRoundLimit);
  wd.waiting_for("the closing tasks");
  std::vector<corio_tid> ids;
  for (int i = 0; i < kTasks; i++)
    ids.push_back(spawn(rt, [&]() -> void * {
      for (long r = 0; r < rounds; r++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) return V(-errno);
        for (int end : p)
          if (corio_close(end) != 0) bad++;
      }
      return nullptr;
    }));
  for (corio_tid t : ids) EXPECT_EQ(0, join(rt, t));
  EXPECT_EQ(0, bad.load()) << "closes that failed (each one a descriptor leaked)";
  EXPECT_EQ(before, open_fds());
}

// Readers of one blocking pipe on both workers, one byte for all of them:
// the one that loses the race to it must wait again, not block its worker
// in read(2) (which also kept the close below from ever returning).
TEST_F(IoClose, ReadersOfABlockingPipeRacingForOneByteAllLeaveOnClose) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long rounds = rounds_of(2000, 300);
  RoundWatchdog wd(kRoundLimit);
  long got = 0;
  for (long round = 0; round < rounds; round++) {
    wd.round(round);
    int p[2];
    ASSERT_EQ(0, pipe2(p, O_CLOEXEC));  // blocking on both ends
    std::atomic<int> entered{0};
    std::vector<corio_tid> readers;
    for (int i = 0; i < 4; i++)
      readers.push_back(spawn(rt, [&]() -> void * {
        char c;
        entered++;
        return V(corio_read(p[0], &c, 1, CORIO_FOREVER));
      }));
    ASSERT_TRUE(eventually([&] { return entered.load() == 4; }));
    ASSERT_EQ(1, write(p[1], "x", 1));
    corio_tid closer = spawn(rt, [&]() -> void * {
      corio_sleep_ns(CORIO_MS(1));
      return V(corio_close(p[0]));
    });
    wd.waiting_for("the closer");
    EXPECT_EQ(0, join(rt, closer)) << "round " << round;
    wd.waiting_for("the readers");
    int ones = 0;
    for (corio_tid t : readers) {
      intptr_t r = join(rt, t);
      if (r == 1) ones++;
      else EXPECT_EQ(-EBADF, r) << "round " << round;
    }
    EXPECT_EQ(1, ones) << "round " << round << ": one reader gets the byte";
    got += ones;
    close(p[1]);
    if (HasFailure()) break;
  }
  printf("%ld rounds\n", got);
}

}  // namespace
