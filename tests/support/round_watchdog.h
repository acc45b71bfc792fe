// tests/support/round_watchdog.h - a watchdog for tight race rounds: the
// test says which round it is in and what it waits for now; when a round
// makes no progress for `limit`, the process aborts with that line (which
// test, which round, what was awaited), so a lost wake-up is named instead
// of stalling ctest until its timeout.
//
// Header-only, for the race suites; every member is inline.
#ifndef CORIO_TESTS_SUPPORT_ROUND_WATCHDOG_H
#define CORIO_TESTS_SUPPORT_ROUND_WATCHDOG_H

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace {

class RoundWatchdog {
 public:
  explicit RoundWatchdog(std::chrono::seconds limit) : limit_(limit), thread_([this] { watch(); }) {}
  ~RoundWatchdog() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  RoundWatchdog(const RoundWatchdog &) = delete;
  RoundWatchdog &operator=(const RoundWatchdog &) = delete;

  // A new round began (progress).
  void round(long r) {
    std::lock_guard<std::mutex> l(m_);
    round_ = r;
    ++ticks_;
  }
  // What the test waits for now (progress too): named if it hangs.
  void waiting_for(std::string what) {
    std::lock_guard<std::mutex> l(m_);
    what_ = std::move(what);
    ++ticks_;
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> l(m_);
    unsigned long seen = ticks_;
    auto since = std::chrono::steady_clock::now();
    while (!stop_) {
      cv_.wait_for(l, std::chrono::milliseconds(100));
      if (stop_) break;
      if (ticks_ != seen) {
        seen = ticks_;
        since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - since > limit_) {
        const ::testing::TestInfo *ti = ::testing::UnitTest::GetInstance()->current_test_info();
        fprintf(stderr, "round watchdog: %s.%s hung in round %ld for %lld s, waiting for %s\n",
                ti != nullptr ? ti->test_suite_name() : "?", ti != nullptr ? ti->name() : "?",
                round_, static_cast<long long>(limit_.count()), what_.c_str());
        fflush(stderr);
        std::abort();
      }
    }
  }
  std::chrono::seconds limit_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  long round_ = -1;
  unsigned long ticks_ = 0;
  std::string what_ = "nothing yet";
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

#endif  // CORIO_TESTS_SUPPORT_ROUND_WATCHDOG_H
