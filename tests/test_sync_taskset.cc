// tests/test_sync_taskset.cc - task sets (corio/sync.h, suite TaskSet):
// finished children are forgotten, a cancel reaches every live child (also
// one killed before it ever ran), joins wait with a deadline, and the last
// child's wake leaves the set free to be destroyed at once.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "corio.h"
#include "support/round_watchdog.h"
#include "support/task_helpers.h"

namespace {

class TaskSet : public TaskBase {};

struct Counts {
  std::atomic<long> ran{0};
  std::atomic<long> cancelled{0};
};

void *quick_child(void *arg) {
  static_cast<Counts *>(arg)->ran.fetch_add(1);
  return nullptr;
}

// Sleeps until killed (at most 60 s).
void *sleeper_child(void *arg) {
  Counts *c = static_cast<Counts *>(arg);
  c->ran.fetch_add(1);
  if (corio_sleep_ns(CORIO_MS(60000)) == -ECANCELED) c->cancelled.fetch_add(1);
  return nullptr;
}

TEST_F(TaskSet, ErrorsAndAnEmptySet) {
  corio_taskset *s;
  EXPECT_EQ(-EINVAL, corio_taskset_create(nullptr, nullptr));
  EXPECT_EQ(-EINVAL, corio_taskset_create(&s, nullptr));  // no runtime here
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  ASSERT_EQ(0, corio_taskset_create(&s, rt));
  EXPECT_EQ(-EINVAL, corio_taskset_spawn(nullptr, nullptr, quick_child, nullptr));
  EXPECT_EQ(-EINVAL, corio_taskset_spawn(s, nullptr, nullptr, nullptr));
  EXPECT_EQ(-EINVAL, corio_taskset_join(nullptr, 0));
  EXPECT_EQ(-EINVAL, corio_taskset_cancel(nullptr));
  EXPECT_EQ(0, corio_taskset_join(s, 0));
  EXPECT_EQ(0, corio_taskset_join(s, CORIO_FOREVER));
  EXPECT_EQ(0u, corio_taskset_len(s));
  EXPECT_EQ(0, corio_taskset_destroy(s));
  EXPECT_EQ(0, corio_taskset_destroy(nullptr));
}

// An acceptor-like task spawns 20,000 short children one after another:
// each is forgotten when it ends (the live count stays small, and nothing
// leaks: the ASan build checks), and the join sees them all gone.
TEST_F(TaskSet, FinishedChildrenAreForgotten) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_taskset *s;
  ASSERT_EQ(0, corio_taskset_create(&s, rt));
  Counts c;
  const long n = scaled(20000, 3000);
  std::atomic<size_t> most{0};
  EXPECT_EQ(0, I(run(rt, [&]() -> void * {
              for (long i = 0; i < n; i++) {
                if (corio_taskset_spawn(s, nullptr, quick_child, &c) != 0) return V(-1);
                size_t live = corio_taskset_len(s);
                if (live > most) most = live;
                if (i % 16 == 15) corio_task_yield();  // let them run
              }
              return V(corio_taskset_join(s, CORIO_FOREVER));
            })));
  EXPECT_EQ(n, c.ran.load());
  EXPECT_EQ(0u, corio_taskset_len(s));
  EXPECT_LT(most.load(), static_cast<size_t>(n));  // never all of them at once
  EXPECT_EQ(0, corio_taskset_destroy(s));
}

// Children sleeping in an I/O wait: a join with a deadline times out, a
// cancel wakes every one of them with -ECANCELED, and the next join ends.
TEST_F(TaskSet, JoinWithADeadlineThenCancelThenJoin) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_taskset *s;
  ASSERT_EQ(0, corio_taskset_create(&s, rt));
  Counts c;
  const int n = 50;
  corio_tid first = 0;
  for (int i = 0; i < n; i++) ASSERT_EQ(0, corio_taskset_spawn(s, i == 0 ? &first : nullptr, sleeper_child, &c));
  EXPECT_NE(0u, first);
  ASSERT_TRUE(eventually([&] { return c.ran.load() == n; }));
  EXPECT_EQ(static_cast<size_t>(n), corio_taskset_len(s));
  EXPECT_EQ(-EBUSY, corio_taskset_destroy(s));
  auto t0 = Clock::now();
  EXPECT_EQ(-ETIMEDOUT, corio_taskset_join(s, CORIO_MS(30)));  // a plain thread
  EXPECT_GE(Clock::now() - t0, milliseconds(29));
  EXPECT_EQ(-ETIMEDOUT, corio_taskset_join(s, 0));
  // A task joins with a deadline too.
  EXPECT_EQ(-ETIMEDOUT, I(run(rt, [&]() -> void * { return V(corio_taskset_join(s, CORIO_MS(10))); })));
  EXPECT_EQ(0, corio_taskset_cancel(s));
  EXPECT_EQ(0, corio_taskset_join(s, CORIO_MS(20000)));
  EXPECT_EQ(n, c.cancelled.load());
  EXPECT_EQ(0u, corio_taskset_len(s));
  EXPECT_EQ(0, corio_taskset_destroy(s));
}

struct CancelRound {
  corio_taskset *s = nullptr;
  Counts c;
};

// Spawns then cancels at once, round after round: children killed before
// their first turn never run their body, and the set must still learn
// that they ended (else the join below hangs: the round watchdog names it).
TEST_F(TaskSet, ChildrenKilledBeforeTheyRanStillLeaveTheSet) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  RoundWatchdog wd(std::chrono::seconds(kSanitized ? 60 : 15));
  const long rounds = scaled(3000, 300);
  long never_ran = 0;
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    CancelRound r;
    ASSERT_EQ(0, corio_taskset_create(&r.s, rt));
    for (int k = 0; k < 8; k++) ASSERT_EQ(0, corio_taskset_spawn(r.s, nullptr, sleeper_child, &r.c));
    ASSERT_EQ(0, corio_taskset_cancel(r.s));
    wd.waiting_for("the join after a cancel");
    ASSERT_EQ(0, corio_taskset_join(r.s, CORIO_FOREVER)) << "round " << i;
    ASSERT_EQ(0u, corio_taskset_len(r.s));
    never_ran += 8 - r.c.ran.load();
    ASSERT_EQ(0, corio_taskset_destroy(r.s));
  }
  printf("%ld of %ld children were killed before they ran\n", never_ran, rounds * 8);
  EXPECT_GT(never_ran, 0);  // the path this test is about was taken
}

struct JoinRound {
  corio_taskset *s = nullptr;
  std::atomic<int> destroyed{0};
  std::atomic<bool> go{false};
  std::atomic<int> returned{0};
};

void *gated_child(void *arg) {
  JoinRound *r = static_cast<JoinRound *>(arg);
  for (long i = 0; !r->go.load() && i < 100000000; i++) corio_task_yield();
  return nullptr;
}

void *joiner_then_destroy(void *arg) {
  JoinRound *r = static_cast<JoinRound *>(arg);
  int j = corio_taskset_join(r->s, CORIO_FOREVER);
  // The second joiner back frees the set at once: no call of the test's
  // is in progress on it then, but the child that woke the joiners may
  // still be inside its wake-up (ASan sees any touch of the set after).
  if (r->returned.fetch_add(1) == 1 && corio_taskset_destroy(r->s) == 0) r->destroyed.fetch_add(1);
  return V(j);
}

// Two joiners wait for the last child (or find the set empty); the child's
// wake of them is the last thing it does with the set, so a joiner may
// free the set as soon as both joins returned.
TEST_F(TaskSet, TheLastChildWakesEveryJoinerAndLetsThemFreeTheSet) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  RoundWatchdog wd(std::chrono::seconds(kSanitized ? 60 : 15));
  const long rounds = scaled(3000, 300);
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    JoinRound r;
    ASSERT_EQ(0, corio_taskset_create(&r.s, rt));
    ASSERT_EQ(0, corio_taskset_spawn(r.s, nullptr, gated_child, &r));
    ASSERT_EQ(0, corio_taskset_spawn(r.s, nullptr, gated_child, &r));
    corio_tid a, b;
    ASSERT_EQ(0, corio_rt_spawn(rt, &a, joiner_then_destroy, &r));
    ASSERT_EQ(0, corio_rt_spawn(rt, &b, joiner_then_destroy, &r));
    r.go = true;
    wd.waiting_for("the joiners");
    ASSERT_EQ(0, join_or_error(rt, a)) << "round " << i;
    ASSERT_EQ(0, join_or_error(rt, b)) << "round " << i;
    ASSERT_EQ(1, r.destroyed.load()) << "round " << i;
  }
}

// A runtime shut down while its set still has children: the shutdown's
// kill ends them (those that never ran too), the set learns of every end,
// and it can be joined and freed afterwards.
TEST_F(TaskSet, ShutdownEndsTheChildrenAndLeavesTheSetEmpty) {
  corio_taskset *s;
  Counts c;
  {
    Rt rt(2);
    ASSERT_EQ(0, rt.rc());
    ASSERT_EQ(0, corio_taskset_create(&s, rt));
    for (int i = 0; i < 40; i++) ASSERT_EQ(0, corio_taskset_spawn(s, nullptr, sleeper_child, &c));
    ASSERT_TRUE(eventually([&] { return c.ran.load() >= 10; }));
    EXPECT_EQ(0, rt.shutdown());
  }
  EXPECT_EQ(0u, corio_taskset_len(s));
  EXPECT_EQ(0, corio_taskset_join(s, 0));
  EXPECT_EQ(c.ran.load(), c.cancelled.load());  // every one that ran was killed in its sleep
  EXPECT_EQ(0, corio_taskset_destroy(s));
}

}  // namespace
