// tests/test_task_join_timeout.cc - joins with a deadline (suite
// TaskJoinTimeout): corio_task_join_timeout from a task and
// corio_rt_join_timeout from a plain thread.  A join that times out leaves
// the task joinable; one that races the task's end either gets the result
// or times out and leaves it for a later join, never both and never
// neither; a kill of the joiner ends the wait; bad ids err as join does.
//
// The race rounds are bounded by count (CORIO_RACE_ROUNDS scales them);
// a lost wake-up aborts through the round watchdog, which names the round.
// The chaos preset runs this suite with random pauses at the race points.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "corio.h"
#include "support/race_rounds.h"
#include "support/round_watchdog.h"
#include "support/task_helpers.h"

namespace {

class TaskJoinTimeout : public TaskBase {};

constexpr int64_t kShort = CORIO_MS(20);
constexpr int64_t kLong = CORIO_MS(60000);

// A task that waits (parked) until `go`, then returns `value`.
struct Gate {
  std::atomic<bool> go{false};
  std::atomic<corio_tid> tid{0};
  intptr_t value = 0;
};

void *gated(void *arg) {
  Gate *g = static_cast<Gate *>(arg);
  g->tid.store(corio_task_id());
  while (!g->go.load()) {
    if (corio_task_park() == -ECANCELED) return V(-1);
  }
  return V(g->value);
}

// Spawns `gated` on `rt`, to return `value`; its id.
corio_tid spawn_gated(corio_rt *rt, Gate &g, intptr_t value) {
  g.value = value;
  corio_tid t = 0;
  EXPECT_EQ(0, corio_rt_spawn(rt, &t, gated, &g));
  return t;
}

void open_gate(Gate &g, corio_tid t) {
  g.go.store(true);
  corio_task_unpark(t);
}

TEST_F(TaskJoinTimeout, TimesOutWhileTheTaskRunsThenAJoinGetsTheResult) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Gate g;
  corio_tid t = spawn_gated(rt, g, 42);
  void *res = run(rt, [&]() -> void * {
    void *r = V(-999);
    EXPECT_EQ(-ETIMEDOUT, corio_task_join_timeout(t, &r, kShort));
    EXPECT_EQ(-999, I(r)) << "*result is written only on success";
    EXPECT_EQ(-ETIMEDOUT, corio_task_join_timeout(t, &r, 0)) << "0 only looks";
    return nullptr;
  });
  EXPECT_EQ(nullptr, res);
  // A plain thread's timed join, the same way.
  void *r = V(-999);
  EXPECT_EQ(-ETIMEDOUT, corio_rt_join_timeout(rt, t, &r, kShort));
  EXPECT_EQ(-ETIMEDOUT, corio_rt_join_timeout(rt, t, &r, 0));
  EXPECT_EQ(-999, I(r));
  // Still joinable: the next join, timed, gets the result.
  res = run(rt, [&]() -> void * {
    open_gate(g, t);
    void *got = V(-999);
    EXPECT_EQ(0, corio_task_join_timeout(t, &got, kLong));
    return got;
  });
  EXPECT_EQ(42, I(res));
  EXPECT_EQ(-ESRCH, corio_rt_join_timeout(rt, t, &r, 0)) << "joined once, gone";
}

TEST_F(TaskJoinTimeout, ThreadJoinTimesOutThenTheTaskIsStillJoinable) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  Gate g;
  corio_tid t = spawn_gated(rt, g, 7);
  void *r = V(-999);
  EXPECT_EQ(-ETIMEDOUT, corio_rt_join_timeout(rt, t, &r, kShort));
  ASSERT_TRUE(eventually([&] { return g.tid.load() == t; }));
  open_gate(g, t);
  EXPECT_EQ(0, corio_rt_join_timeout(rt, t, &r, kLong));
  EXPECT_EQ(7, I(r));
}

TEST_F(TaskJoinTimeout, FinishedTaskIsJoinedEvenWithZeroTimeout) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_tid a = 0, b = 0;
  ASSERT_EQ(0, corio_rt_spawn(rt, &a, return_arg, V(5)));
  ASSERT_EQ(0, corio_rt_spawn(rt, &b, return_arg, V(6)));
  ASSERT_EQ(0, corio_rt_wait_idle(rt));
  void *r = nullptr;
  EXPECT_EQ(0, corio_rt_join_timeout(rt, a, &r, 0));
  EXPECT_EQ(5, I(r));
  void *res = run(rt, [&]() -> void * {
    void *got = nullptr;
    EXPECT_EQ(0, corio_task_join_timeout(b, &got, 0));
    return got;
  });
  EXPECT_EQ(6, I(res));
  // A negative timeout other than CORIO_FOREVER is no timeout either.
  Gate g;
  corio_tid c = spawn_gated(rt, g, 9);
  res = run(rt, [&]() -> void * {
    corio_tid opener = tspawn([&]() -> void * {
      corio_sleep_ms(5);  // the joiner has begun its wait by then, most likely
      while (g.tid.load() != c) corio_task_yield();
      open_gate(g, c);
      return nullptr;
    });
    void *got = nullptr;
    EXPECT_EQ(0, corio_task_join_timeout(c, &got, -5));
    EXPECT_EQ(0, corio_task_join(opener, nullptr));
    return got;
  });
  EXPECT_EQ(9, I(res));
}

TEST_F(TaskJoinTimeout, KillOfTheJoinerGivesECANCELEDAndLeavesTheTaskJoinable) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Gate g;
  corio_tid target = spawn_gated(rt, g, 11);
  std::atomic<bool> joining{false};
  corio_tid joiner = spawn(rt, [&]() -> void * {
    joining.store(true);
    void *r = V(-999);
    int rc = corio_task_join_timeout(target, &r, kLong);
    EXPECT_EQ(-999, I(r));
    return V(rc);
  });
  ASSERT_TRUE(eventually([&] { return joining.load(); }));
  EXPECT_EQ(1, corio_task_kill(joiner));
  EXPECT_EQ(-ECANCELED, join(rt, joiner));
  // A joiner killed before its call returns -ECANCELED at once.
  void *res = run(rt, [&]() -> void * {
    corio_task_kill(corio_task_id());
    return V(corio_task_join_timeout(target, nullptr, kLong));
  });
  EXPECT_EQ(-ECANCELED, I(res));
  ASSERT_TRUE(eventually([&] { return g.tid.load() == target; }));
  open_gate(g, target);
  EXPECT_EQ(11, join(rt, target));
}

TEST_F(TaskJoinTimeout, BadIdsErrAsJoinDoes) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Rt other(1);
  ASSERT_EQ(0, other.rc());
  Gate g;
  corio_tid detached = 0, done = 0, foreign = 0;
  ASSERT_EQ(0, corio_rt_spawn(rt, &detached, gated, &g));
  ASSERT_EQ(0, corio_task_detach(detached));
  ASSERT_EQ(0, corio_rt_spawn(rt, &done, return_arg, V(1)));
  EXPECT_EQ(1, join(rt, done));  // `done` is stale from here on
  ASSERT_EQ(0, corio_rt_spawn(other, &foreign, return_arg, V(2)));
  void *res = run(rt, [&]() -> void * {
    EXPECT_EQ(-EINVAL, corio_task_join_timeout(detached, nullptr, kShort));
    EXPECT_EQ(-ESRCH, corio_task_join_timeout(done, nullptr, kShort));
    EXPECT_EQ(-ESRCH, corio_task_join_timeout(0, nullptr, 0));
    EXPECT_EQ(-EDEADLK, corio_task_join_timeout(corio_task_id(), nullptr, kShort));
    EXPECT_EQ(-EPERM, corio_rt_join_timeout(corio_task_runtime(), done, nullptr, 0));
    return nullptr;
  });
  EXPECT_EQ(nullptr, res);
  EXPECT_EQ(-EPERM, corio_task_join_timeout(done, nullptr, kShort));
  EXPECT_EQ(-EINVAL, corio_rt_join_timeout(nullptr, done, nullptr, 0));
  EXPECT_EQ(-EINVAL, corio_rt_join_timeout(rt, detached, nullptr, kShort));
  EXPECT_EQ(-ESRCH, corio_rt_join_timeout(rt, done, nullptr, kShort));
  EXPECT_EQ(-ESRCH, corio_rt_join_timeout(rt, foreign, nullptr, kShort)) << "another runtime's";
  EXPECT_EQ(2, join(other, foreign));
  ASSERT_TRUE(eventually([&] { return g.tid.load() == detached; }));
  open_gate(g, detached);
}

// ---- the task ends just at the deadline -------------------------------------

struct EndRound {
  long spin = 0;  // how long the target computes before it returns
  intptr_t value = 0;
};

void *end_after_spin(void *arg) {
  EndRound *e = static_cast<EndRound *>(arg);
  spin(e->spin);
  return V(e->value);
}

struct JoinerRound {
  corio_tid target = 0;
  int64_t timeout = 0;
  long spin = 0;       // how long the joiner computes before it joins
  void *got = V(-999);  // the timed join's result (written only on success)
};

void *timed_joiner(void *arg) {
  JoinerRound *j = static_cast<JoinerRound *>(arg);
  spin(j->spin);
  return V(corio_task_join_timeout(j->target, &j->got, j->timeout));
}

// A small timeout (0 to 40 us, a quarter of them 0) against a target that
// ends after 0 to about 20 us, on two workers: whatever came first, the
// round ends with the result taken exactly once.
int64_t tiny_timeout(std::mt19937 &rng) {
  return rng() % 4 == 0 ? 0 : static_cast<int64_t>(rng() % 40000);
}

// Checks a round's outcome: `rc`/`got` from the timed join; then the
// plain thread joins what is left.  Returns which outcome it was: 0 the
// timed join got the result, 1 it timed out, 2 the joiner was killed.
int settle(corio_rt *rt, long round, corio_tid target, intptr_t want, intptr_t rc, void *got) {
  void *again = V(-999);
  int r2 = corio_rt_join(rt, target, &again);
  if (rc == 0) {
    EXPECT_EQ(want, I(got)) << "round " << round;
    EXPECT_EQ(-ESRCH, r2) << "round " << round << ": joined twice";
    return 0;
  }
  EXPECT_TRUE(rc == -ETIMEDOUT || rc == -ECANCELED) << "round " << round << ": " << rc;
  EXPECT_EQ(0, r2) << "round " << round << ": the result is lost";
  EXPECT_EQ(want, I(again)) << "round " << round;
  return rc == -ETIMEDOUT ? 1 : 2;
}

// The rounds: each spawns a target that ends after a random spin (0 to
// about 20 us) and gives it to `timed_join(target, timeout, rng, &got)`,
// which joins it with that timeout and returns the join's code (and may
// kill the joiner); then the round is settled.  `outcome` counts joined,
// timed out, joiner killed.
template <class TimedJoin>
void deadline_rounds(TimedJoin timed_join, long outcome[3]) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::mt19937 rng(race_seed());
  const long rounds = rounds_of(10000, 5000);
  RoundWatchdog wd(kRoundLimit);
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    EndRound e{static_cast<long>(rng() % 20000), i + 1};
    corio_tid target = 0;
    ASSERT_EQ(0, corio_rt_spawn(rt, &target, end_after_spin, &e));
    int64_t timeout = tiny_timeout(rng);
    wd.waiting_for("the timed join (timeout " + std::to_string(timeout) + " ns)");
    void *got = V(-999);
    intptr_t rc = timed_join(rt.get(), target, timeout, rng, &got);
    if (rc != 0) {
      EXPECT_EQ(-999, I(got)) << "round " << i << ": *result written on " << rc;
    }
    wd.waiting_for("the target");
    outcome[settle(rt, i, target, e.value, rc, got)]++;
    if (::testing::Test::HasFailure()) break;
  }
  printf("%ld rounds: %ld joined, %ld timed out, %ld joiners killed\n", rounds, outcome[0],
         outcome[1], outcome[2]);
  EXPECT_GT(outcome[0], 0);
  EXPECT_GT(outcome[1], 0);
}

// From a task, a quarter of the joiners also killed at a random moment.
TEST_F(TaskJoinTimeout, TaskEndingAtTheDeadlineIsJoinedExactlyOnce) {
  long outcome[3] = {0, 0, 0};
  deadline_rounds(
      [](corio_rt *rt, corio_tid target, int64_t timeout, std::mt19937 &rng, void **got) {
        JoinerRound j;
        j.target = target;
        j.timeout = timeout;
        j.spin = static_cast<long>(rng() % 10000);
        corio_tid joiner = 0;
        EXPECT_EQ(0, corio_rt_spawn(rt, &joiner, timed_joiner, &j));
        if (rng() % 4 == 0) {
          spin(static_cast<long>(rng() % 20000));
          corio_task_kill(joiner);
        }
        intptr_t rc = join_or_error(rt, joiner);  // -ECANCELED also when killed before it ran
        *got = j.got;
        return rc;
      },
      outcome);
}

// The same race with the plain thread's timed join.
TEST_F(TaskJoinTimeout, ThreadJoinAtTheDeadlineIsJoinedExactlyOnce) {
  long outcome[3] = {0, 0, 0};
  deadline_rounds(
      [](corio_rt *rt, corio_tid target, int64_t timeout, std::mt19937 &rng, void **got) {
        spin(static_cast<long>(rng() % 10000));
        return static_cast<intptr_t>(corio_rt_join_timeout(rt, target, got, timeout));
      },
      outcome);
  EXPECT_EQ(0, outcome[2]);
}

}  // namespace
