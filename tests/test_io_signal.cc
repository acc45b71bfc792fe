// tests/test_io_signal.cc - signals in tasks (suite IoSignal,
// corio/signal.h): a task waiting for a set gets the signal that came and
// which one, whatever thread sent it; a signal sent while nobody waits is
// kept for the next wait; timeouts, kills and the program's mistakes give
// their errors; a thread-directed signal is seen only on its thread; many
// signals to many waiters on two workers are each taken exactly once.
//
// This program blocks its signals in a static initializer, before main()
// and before any thread exists (gtest's, the runtime's, the watchdog's), as
// docs/api/signal.md asks of a program: every thread inherits the mask, so
// a signal that no task takes stays pending instead of ending the test.
// Each test leaves nothing pending for the next (drain()).  Runs on both
// backends (the epoll.* entries, tests/CMakeLists.txt).
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "corio.h"
#include "support/race_rounds.h"
#include "support/round_watchdog.h"
#include "support/task_helpers.h"

namespace {

sigset_t set_of(std::initializer_list<int> sigs) {
  sigset_t s;
  sigemptyset(&s);
  for (int n : sigs) sigaddset(&s, n);
  return s;
}

int rt_sig() { return SIGRTMIN + 1; }

// Every signal this program sends, blocked before main().
sigset_t all_used() { return set_of({SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, rt_sig()}); }

const int kBlocked = [] {
  sigset_t s = all_used();
  return corio_signal_block(&s);
}();

// Takes (in this thread) every signal of the set still pending here or for
// the process, so that no test leaves one to the next.
void drain() {
  sigset_t s = all_used();
  struct timespec zero = {0, 0};
  while (sigtimedwait(&s, nullptr, &zero) > 0) {
  }
}

class IoSignal : public TaskBase {
 protected:
  void SetUp() override {
    ASSERT_EQ(0, kBlocked);
    drain();
  }
  void TearDown() override { drain(); }
};

constexpr int64_t kLong = CORIO_MS(60000);

// A task that says it is about to wait, then waits for `set`.
struct Waiter {
  sigset_t set;
  int64_t timeout = kLong;
  std::atomic<bool> waiting{false};
  siginfo_t info{};
  std::atomic<pthread_t> thread{};
};

void *wait_for(void *arg) {
  Waiter *w = static_cast<Waiter *>(arg);
  w->thread.store(pthread_self());
  w->waiting.store(true);
  return V(corio_signal_waitinfo(&w->set, &w->info, w->timeout));
}

// Sent from another thread once the waiter has said it waits (and a little
// later, so that it is most likely parked in its wait by then).
template <class Send>
void send_when_waiting(Waiter &w, Send send) {
  ASSERT_TRUE(eventually([&] { return w.waiting.load(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::thread([&] { send(); }).join();
}

TEST_F(IoSignal, ProcessSignalFromAnotherThreadWakesTheWaiter) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  for (int sig : {SIGTERM, SIGUSR1}) {
    Waiter w;
    w.set = set_of({SIGTERM, SIGUSR1, SIGHUP});
    corio_tid t = 0;
    ASSERT_EQ(0, corio_rt_spawn(rt, &t, wait_for, &w));
    send_when_waiting(w, [sig] { EXPECT_EQ(0, kill(getpid(), sig)); });
    EXPECT_EQ(sig, join(rt, t));
    EXPECT_EQ(sig, w.info.si_signo);
    EXPECT_EQ(SI_USER, w.info.si_code);
    EXPECT_EQ(getpid(), w.info.si_pid);
    EXPECT_EQ(getuid(), w.info.si_uid);
  }
}

void *sleep_a_little(void *) {
  corio_sleep_ms(50);
  return nullptr;
}

void *nothing(void *) { return nullptr; }

// corio's own helper threads (the timer thread, the blocking-call pool)
// live on after the runtime that started them.  One started while the
// program had not blocked a signal yet must not be where that signal is
// delivered later: it would run the default action (here: end the
// process) instead of waking the task that waits for it.
TEST_F(IoSignal, HelperThreadsStartedBeforeTheBlockNeverTakeTheSignal) {
  sigset_t usr2 = set_of({SIGUSR2});
  ASSERT_EQ(0, pthread_sigmask(SIG_UNBLOCK, &usr2, nullptr));
  {
    Rt first(1);  // its workers, and the helpers they start, see SIGUSR2 open
    ASSERT_EQ(0, first.rc());
    run(first, [&]() -> void * {
      corio_tid t = tspawn([]() -> void * { return sleep_a_little(nullptr); });
      EXPECT_EQ(-ETIMEDOUT, corio_task_join_timeout(t, nullptr, CORIO_MS(1)));  // the timer thread
      EXPECT_EQ(0, corio_task_join(t, nullptr));
      EXPECT_EQ(0, corio_blocking(nothing, nullptr, nullptr));  // a pool thread
      return nullptr;
    });
  }
  ASSERT_EQ(0, corio_signal_block(&usr2));
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  Waiter w;
  w.set = usr2;
  corio_tid t = 0;
  ASSERT_EQ(0, corio_rt_spawn(rt, &t, wait_for, &w));
  send_when_waiting(w, [] { EXPECT_EQ(0, kill(getpid(), SIGUSR2)); });
  EXPECT_EQ(SIGUSR2, join(rt, t));
}

TEST_F(IoSignal, SignalSentBeforeTheWaitIsNotLost) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ASSERT_EQ(0, kill(getpid(), SIGHUP));  // nobody waits: it stays pending
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sigset_t hup = set_of({SIGHUP});
  void *res = run(rt, [&]() -> void * { return V(corio_signal_wait(&hup, kLong)); });
  EXPECT_EQ(SIGHUP, I(res));
  // With a timeout of 0: taken if pending, else -ETIMEDOUT at once.
  ASSERT_EQ(0, kill(getpid(), SIGHUP));
  res = run(rt, [&]() -> void * {
    int first = corio_signal_wait(&hup, 0);
    int second = corio_signal_wait(&hup, 0);
    EXPECT_EQ(-ETIMEDOUT, second);
    return V(first);
  });
  EXPECT_EQ(SIGHUP, I(res));
}

TEST_F(IoSignal, StandardSignalsMergeWhilePendingRealTimeOnesQueue) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  ASSERT_EQ(0, kill(getpid(), SIGUSR2));
  ASSERT_EQ(0, kill(getpid(), SIGUSR2));
  for (int i = 0; i < 3; i++) {
    union sigval v;
    v.sival_int = 100 + i;
    ASSERT_EQ(0, sigqueue(getpid(), rt_sig(), v));
  }
  void *res = run(rt, [&]() -> void * {
    sigset_t usr2 = set_of({SIGUSR2});
    sigset_t rt1 = set_of({rt_sig()});
    EXPECT_EQ(SIGUSR2, corio_signal_wait(&usr2, 0));
    EXPECT_EQ(-ETIMEDOUT, corio_signal_wait(&usr2, 0)) << "two kills, one pending signal";
    for (int i = 0; i < 3; i++) {
      siginfo_t info;
      EXPECT_EQ(rt_sig(), corio_signal_waitinfo(&rt1, &info, 0));
      EXPECT_EQ(SI_QUEUE, info.si_code);
      EXPECT_EQ(100 + i, info.si_value.sival_int) << "queued in order";
      EXPECT_EQ(getpid(), info.si_pid);
    }
    EXPECT_EQ(-ETIMEDOUT, corio_signal_wait(&rt1, 0));
    return nullptr;
  });
  EXPECT_EQ(nullptr, res);
}

// pthread_kill makes a signal pending on one thread.  A wait reads the
// process's pending signals and its own thread's: so the one sent to the
// worker (the only one: the task runs there) is taken, and the one sent
// to this plain thread is not, and stays pending here.
TEST_F(IoSignal, ThreadDirectedSignalIsSeenOnlyOnItsThread) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  Waiter w;
  w.set = set_of({SIGUSR1, SIGUSR2});
  corio_tid t = 0;
  ASSERT_EQ(0, corio_rt_spawn(rt, &t, wait_for, &w));
  send_when_waiting(w, [&] { EXPECT_EQ(0, pthread_kill(w.thread.load(), SIGUSR2)); });
  EXPECT_EQ(SIGUSR2, join(rt, t));
  EXPECT_EQ(SI_TKILL, w.info.si_code);
  EXPECT_EQ(getpid(), w.info.si_pid);

  Waiter other;
  other.set = set_of({SIGUSR1});
  other.timeout = CORIO_MS(100);
  ASSERT_EQ(0, corio_rt_spawn(rt, &t, wait_for, &other));
  ASSERT_TRUE(eventually([&] { return other.waiting.load(); }));
  ASSERT_EQ(0, pthread_kill(pthread_self(), SIGUSR1));
  EXPECT_EQ(-ETIMEDOUT, join(rt, t));
  sigset_t pending;
  ASSERT_EQ(0, sigpending(&pending));
  EXPECT_EQ(1, sigismember(&pending, SIGUSR1)) << "still pending on this thread";
  sigset_t usr1 = set_of({SIGUSR1});
  struct timespec zero = {0, 0};
  EXPECT_EQ(SIGUSR1, sigtimedwait(&usr1, nullptr, &zero));
}

TEST_F(IoSignal, TimeoutIsETIMEDOUT) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  void *res = run(rt, [&]() -> void * {
    sigset_t s = set_of({SIGUSR1, SIGTERM});
    EXPECT_EQ(-ETIMEDOUT, corio_signal_wait(&s, 0));
    return V(corio_signal_wait(&s, CORIO_MS(20)));
  });
  EXPECT_EQ(-ETIMEDOUT, I(res));
}

TEST_F(IoSignal, KillIsECANCELEDAndTakesNothing) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Waiter w;
  w.set = set_of({SIGINT});
  corio_tid t = 0;
  ASSERT_EQ(0, corio_rt_spawn(rt, &t, wait_for, &w));
  ASSERT_TRUE(eventually([&] { return w.waiting.load(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(1, corio_task_kill(t));
  EXPECT_EQ(-ECANCELED, join(rt, t));
  // A killed task's wait leaves a pending signal to the next wait.
  ASSERT_EQ(0, kill(getpid(), SIGINT));
  sigset_t intr = set_of({SIGINT});
  void *res = run(rt, [&]() -> void * {
    corio_task_kill(corio_task_id());
    return V(corio_signal_wait(&intr, kLong));
  });
  EXPECT_EQ(-ECANCELED, I(res));
  res = run(rt, [&]() -> void * { return V(corio_signal_wait(&intr, 0)); });
  EXPECT_EQ(SIGINT, I(res));
  // The shutdown ends a wait as a kill does.
  Waiter last;
  last.set = set_of({SIGTERM});
  ASSERT_EQ(0, corio_rt_spawn(rt, &t, wait_for, &last));
  ASSERT_TRUE(eventually([&] { return last.waiting.load(); }));
  EXPECT_EQ(0, rt.shutdown());
}

TEST_F(IoSignal, SetsTheProgramDidNotBlockAreEINVAL) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  void *res = run(rt, [&]() -> void * {
    sigset_t winch = set_of({SIGWINCH});  // not blocked in this program
    sigset_t mixed = set_of({SIGTERM, SIGWINCH});
    sigset_t empty = set_of({});
    EXPECT_EQ(-EINVAL, corio_signal_wait(&winch, 0));
    EXPECT_EQ(-EINVAL, corio_signal_wait(&mixed, kLong));
    EXPECT_EQ(-EINVAL, corio_signal_wait(&empty, kLong));
    EXPECT_EQ(-EINVAL, corio_signal_wait(nullptr, kLong));
    for (int bad : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) {
      sigset_t s = set_of({SIGTERM, bad});
      EXPECT_EQ(-EINVAL, corio_signal_wait(&s, 0)) << bad;
    }
    sigset_t term = set_of({SIGTERM});
    EXPECT_EQ(-EPERM, corio_signal_block(&term)) << "a worker's mask alone protects nothing";
    return nullptr;
  });
  EXPECT_EQ(nullptr, res);
}

TEST_F(IoSignal, BlockRefusesWhatCannotBeWaitedForAndBlocksTheRest) {
  std::thread([] {
    sigset_t empty = set_of({});
    EXPECT_EQ(-EINVAL, corio_signal_block(nullptr));
    EXPECT_EQ(-EINVAL, corio_signal_block(&empty));
    for (int bad : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) {
      sigset_t s = set_of({SIGWINCH, bad});
      EXPECT_EQ(-EINVAL, corio_signal_block(&s)) << bad;
    }
    sigset_t cur;
    ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, nullptr, &cur));
    EXPECT_EQ(0, sigismember(&cur, SIGWINCH)) << "a refused set blocks nothing";
    EXPECT_EQ(1, sigismember(&cur, SIGTERM)) << "inherited from main()";
    sigset_t winch = set_of({SIGWINCH});
    EXPECT_EQ(0, corio_signal_block(&winch));
    ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, nullptr, &cur));
    EXPECT_EQ(1, sigismember(&cur, SIGWINCH));
    EXPECT_EQ(1, sigismember(&cur, SIGTERM)) << "added to, not replaced";
  }).join();
}

TEST_F(IoSignal, OutsideATaskIsEPERM) {
  sigset_t s = set_of({SIGUSR1});
  EXPECT_EQ(-EPERM, corio_signal_wait(&s, 0));
  siginfo_t info;
  EXPECT_EQ(-EPERM, corio_signal_waitinfo(&s, &info, kLong));
}

TEST_F(IoSignal, RuntimeWithoutIoTakesPendingSignalsButCannotWait) {
  corio_rt *rt = nullptr;
  corio_rt_opts o{};
  o.workers = 1;
  o.backend = CORIO_BACKEND_NONE;
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  ASSERT_EQ(0, kill(getpid(), SIGUSR1));
  sigset_t usr1 = set_of({SIGUSR1});
  void *res = run(rt, [&]() -> void * {
    EXPECT_EQ(SIGUSR1, corio_signal_wait(&usr1, kLong));
    return V(corio_signal_wait(&usr1, kLong));
  });
  EXPECT_EQ(-ENOTSUP, I(res));
  EXPECT_EQ(0, corio_rt_shutdown(rt));
}

// ---- many signals, many waiters -------------------------------------------

struct Rounds {
  std::mutex m;
  std::condition_variable cv;
  long taken = 0;                // signals taken so far (under m)
  std::vector<int> by_round;     // which signal each round's value came with
  std::vector<int> times_taken;  // how often each round's value was taken
};

struct Counter {
  Rounds *r = nullptr;
  long took = 0;
};

// Waits for the set until killed; each signal carries its round's number.
void *counting_waiter(void *arg) {
  Counter *c = static_cast<Counter *>(arg);
  sigset_t s = set_of({SIGUSR1, SIGUSR2, SIGHUP, SIGTERM});
  for (;;) {
    siginfo_t info;
    int sig = corio_signal_waitinfo(&s, &info, kLong);
    if (sig < 0) return V(sig == -ECANCELED ? c->took : -1);
    c->took++;
    Rounds *r = c->r;
    std::lock_guard<std::mutex> l(r->m);
    long round = info.si_value.sival_int;
    if (round >= 0 && round < static_cast<long>(r->times_taken.size())) {
      r->times_taken[static_cast<size_t>(round)]++;
      r->by_round[static_cast<size_t>(round)] = sig;
    }
    r->taken++;
    r->cv.notify_all();
  }
}

// Four tasks on two workers wait for the same set, and a plain thread
// sends one signal to the process per round, the next only once that one
// was taken (a standard signal sent while another of its number is still
// pending would merge with it).  Every wait's signalfd is woken by every
// signal, so all four race for each: exactly one read takes it, the rest
// find nothing and wait again.  Each round's value is taken exactly once,
// with the number it was sent with.
TEST_F(IoSignal, EachSignalIsTakenByExactlyOneOfManyWaiters) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long rounds = rounds_of(10000, 10000);
  RoundWatchdog wd(kRoundLimit);
  Rounds r;
  r.by_round.assign(static_cast<size_t>(rounds), 0);
  r.times_taken.assign(static_cast<size_t>(rounds), 0);
  Counter counters[4];
  corio_tid tids[4];
  for (int k = 0; k < 4; k++) {
    counters[k].r = &r;
    ASSERT_EQ(0, corio_rt_spawn(rt, &tids[k], counting_waiter, &counters[k]));
  }
  const int sigs[] = {SIGUSR1, SIGUSR2, SIGHUP, SIGTERM};
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    union sigval v;
    v.sival_int = static_cast<int>(i);
    ASSERT_EQ(0, sigqueue(getpid(), sigs[i % 4], v));
    wd.waiting_for("round " + std::to_string(i) + "'s signal to be taken");
    std::unique_lock<std::mutex> l(r.m);
    r.cv.wait(l, [&] { return r.taken > i; });
    ASSERT_EQ(i + 1, r.taken) << "a signal taken twice";
  }
  wd.waiting_for("the waiters to end");
  long sum = 0;
  for (int k = 0; k < 4; k++) {
    EXPECT_EQ(1, corio_task_kill(tids[k]));
    intptr_t took = join(rt, tids[k]);
    EXPECT_GE(took, 0);
    sum += took;
    printf("waiter %d took %ld\n", k, static_cast<long>(took));
  }
  EXPECT_EQ(rounds, sum);
  for (long i = 0; i < rounds; i++) {
    ASSERT_EQ(1, r.times_taken[static_cast<size_t>(i)]) << "round " << i;
    ASSERT_EQ(sigs[i % 4], r.by_round[static_cast<size_t>(i)]) << "round " << i;
  }
}

}  // namespace
