// tests/support/task_helpers.h - what the scheduler suites (test_task.cc,
// test_task_stress.cc, test_task_behaviour.cc) share: the sanitizer scaling
// (scaled()), the V()/I() casts, the Watchdog, the Rt runtime wrapper,
// lambda task bodies (tramp), the small task functions, the bounded waits
// eventually() and yield_until(), the Spinner task, and the TaskBase
// fixture with its per-suite subclasses.
//
// Header-only: every test file is its own executable and includes this
// once; everything here is in an anonymous namespace, and free functions
// are inline so that a file that uses only some of them builds warning-free.
#ifndef CORIO_TESTS_SUPPORT_TASK_HELPERS_H
#define CORIO_TESTS_SUPPORT_TASK_HELPERS_H

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "corio.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TASK_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TASK_TEST_SANITIZED 1
#endif
#endif
#if !defined(TASK_TEST_SANITIZED) && (defined(CORIO_ASAN) || defined(CORIO_TSAN))
#define TASK_TEST_SANITIZED 1
#endif

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((intptr_t)(p))

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

#ifdef TASK_TEST_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

constexpr long scaled(long full, long sanitized) { return kSanitized ? sanitized : full; }

// Below the ctest timeout (60 s, 240 s under sanitizers), so that a hang is
// reported by the watchdog with the test's name.
const std::chrono::seconds kWatchdog{kSanitized ? 200 : 50};
// ---- helpers -------------------------------------------------------------

// Aborts the process, naming the test, if it is still running after
// kWatchdog.  Lives in the fixture, so it also covers the shutdown at the
// end of the test body.
class Watchdog {
 public:
  Watchdog()
      : name_(current_test()), thread_([this] {
          std::unique_lock<std::mutex> l(m_);
          if (!cv_.wait_for(l, kWatchdog, [this] { return done_; })) {
            fprintf(stderr, "watchdog: %s still running after %lld s: a task or a join hangs\n",
                    name_.c_str(), static_cast<long long>(kWatchdog.count()));
            fflush(stderr);
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> l(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog &) = delete;
  Watchdog &operator=(const Watchdog &) = delete;

 private:
  static std::string current_test() {
    const ::testing::TestInfo *ti = ::testing::UnitTest::GetInstance()->current_test_info();
    return ti == nullptr ? std::string("?")
                         : std::string(ti->test_suite_name()) + "." + ti->name();
  }
  std::string name_;
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// A runtime with `workers` workers, shut down (and checked) at scope exit.
class Rt {
 public:
  explicit Rt(unsigned workers, size_t stack_size = 0) {
    corio_rt_opts o{};
    o.workers = workers;
    o.stack_size = stack_size;
    rc_ = corio_rt_create(&rt_, &o);
    if (rc_ != 0) rt_ = nullptr;
  }
  ~Rt() {
    if (rt_ != nullptr) {
      EXPECT_EQ(0, corio_rt_shutdown(rt_));
    }
  }
  Rt(const Rt &) = delete;
  Rt &operator=(const Rt &) = delete;

  int rc() const { return rc_; }
  corio_rt *get() const { return rt_; }
  operator corio_rt *() const { return rt_; }
  int shutdown() {
    corio_rt *r = rt_;
    rt_ = nullptr;
    return corio_rt_shutdown(r);
  }

 private:
  corio_rt *rt_ = nullptr;
  int rc_ = 0;
};

// Task bodies written as lambdas: a Body lives in the fixture (stable
// address, freed after the runtime is gone) and `tramp` calls it.
using Body = std::function<void *()>;

inline void *tramp(void *arg) { return (*static_cast<Body *>(arg))(); }

inline void *return_arg(void *arg) { return arg; }

inline void *yield_then_return_arg(void *arg) {
  corio_task_yield();
  return arg;
}

inline void *yield_twice_then_return_arg(void *arg) {
  corio_task_yield();
  corio_task_yield();
  return arg;
}

// Called by a task right after corio_task_spawn: spawns (and detaches) a
// task that does nothing.  The new one takes this worker's run-next slot
// and pushes the previous occupant (the task just spawned) to the ring,
// which wakes an idle worker that may steal it: a way to get tasks onto the
// other worker without asserting that they get there.
inline void spread() {
  corio_tid t = 0;
  if (corio_task_spawn(&t, return_arg, nullptr) == 0) corio_task_detach(t);
}

// Waits of a plain thread for something tasks do: bounded, polling.
template <class Pred>
bool eventually(Pred pred, milliseconds limit = milliseconds(kSanitized ? 120000 : 30000)) {
  auto end = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

// The same inside a task: yield until pred() holds, at most `cap` times.
template <class Pred>
bool yield_until(Pred pred, long cap = 20000000) {
  for (long i = 0; i < cap; i++) {
    if (pred()) return true;
    if (corio_task_yield() < 0) break;
  }
  return pred();
}

class TaskBase : public ::testing::Test {
 protected:
  // Thread-safe: tasks on any worker may add bodies.
  void *body(Body b) {
    std::lock_guard<std::mutex> l(bodies_lock_);
    bodies_.push_back(std::move(b));
    return &bodies_.back();
  }
  // Spawn from a plain thread; the test fails (not crashes) on an error.
  corio_tid spawn(corio_rt *rt, Body b) {
    corio_tid t = 0;
    int r = corio_rt_spawn(rt, &t, tramp, body(std::move(b)));
    EXPECT_EQ(0, r);
    EXPECT_NE(0u, t);
    return t;
  }
  // Spawn from a task.
  corio_tid tspawn(Body b) {
    corio_tid t = 0;
    int r = corio_task_spawn(&t, tramp, body(std::move(b)));
    EXPECT_EQ(0, r);
    return t;
  }
  // corio_rt_run: the body as a task, waited for from this thread.
  void *run(corio_rt *rt, Body b) {
    void *res = V(-999);
    int r = corio_rt_run(rt, tramp, body(std::move(b)), &res);
    EXPECT_EQ(0, r);
    return res;
  }
  // The task's result, or the join's error: a task killed before it ever
  // ran is joined with -ECANCELED (its body never ran).
  static intptr_t join_or_error(corio_rt *rt, corio_tid t) {
    void *res = nullptr;
    int r = corio_rt_join(rt, t, &res);
    return r < 0 ? r : I(res);
  }
  intptr_t join(corio_rt *rt, corio_tid t) {
    void *res = V(-999);
    int r = corio_rt_join(rt, t, &res);
    EXPECT_EQ(0, r) << "corio_rt_join(" << t << ")";
    return I(res);
  }

 private:
  std::mutex bodies_lock_;
  std::deque<Body> bodies_;  // outlives every runtime a test makes
  Watchdog watchdog_;        // destroyed first: bodies stay valid while it runs
};

class Task : public TaskBase {};
class TaskJoin : public TaskBase {};
class TaskKill : public TaskBase {};
class TaskPark : public TaskBase {};
class TaskStress : public TaskBase {};
class TaskCoro : public TaskBase {};
class TaskFairness : public TaskBase {};
class TaskMetrics : public TaskBase {};
class TaskShutdown : public TaskBase {};

// A task that yields in a loop until killed (or `limit` yields), publishing
// where it runs.
struct Spinner {
  std::atomic<long> count{0};
  std::atomic<int> worker{-1};
  std::atomic<bool> cancelled{false};
  long limit = 50000000;
};

inline void *spinner_body(void *arg) {
  Spinner *s = static_cast<Spinner *>(arg);
  for (long i = 0; i < s->limit; i++) {
    s->worker.store(corio_task_worker());
    s->count.fetch_add(1);
    if (corio_task_yield() == -ECANCELED) {
      s->cancelled = true;
      break;
    }
  }
  return V(s->count.load());
}

}  // namespace

#endif  // CORIO_TESTS_SUPPORT_TASK_HELPERS_H
