// tests/test_task_stress.cc - the scheduler under races: tasks moving
// between workers, join and kill of tasks running on the other worker or
// just spawned or just finishing, spawns from several plain threads, and
// the waking of an idle worker (suite TaskStress).
//
// Every test makes its own runtime and shuts it down.  Stress tests are
// bounded by iteration counts (scaled down under sanitizers), never by wall
// time, and assert only deterministic results: where a task runs is
// observed (corio_task_worker) but never asserted.  A watchdog aborts a
// test that hangs and names it, so a lost wake-up shows up as such rather
// than as a bare ctest timeout.
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "corio.h"
#include "support/task_helpers.h"

namespace {

// ---- across workers, and races -------------------------------------------

TEST_F(TaskStress, JoinAndKillTasksRunningOnTheOtherWorker) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const int iters = static_cast<int>(scaled(200, 40));
  int joined_elsewhere = 0, killed_elsewhere = 0, bad = 0;
  run(rt, [&]() -> void * {
    for (int it = 0; it < iters; it++) {
      // Join a task that runs (and ends by itself) meanwhile.
      Spinner s1;
      s1.limit = 300;
      corio_tid t1 = 0;
      if (corio_task_spawn(&t1, spinner_body, &s1) != 0) bad++;
      spread();
      yield_until([&] { return s1.count.load() > 0; }, 1000000);
      yield_until([&] { return s1.worker.load() != corio_task_worker(); }, 100);
      if (s1.worker.load() != corio_task_worker()) joined_elsewhere++;
      void *v = nullptr;
      if (corio_task_join(t1, &v) != 0 || I(v) != 300 || s1.cancelled.load()) bad++;

      // Kill a task that runs until killed.
      Spinner s2;
      corio_tid t2 = 0;
      if (corio_task_spawn(&t2, spinner_body, &s2) != 0) bad++;
      spread();
      yield_until([&] { return s2.count.load() > 0; }, 1000000);
      yield_until([&] { return s2.worker.load() != corio_task_worker(); }, 100);
      if (s2.worker.load() != corio_task_worker()) killed_elsewhere++;
      if (corio_task_kill(t2) != 1) bad++;
      long after = s2.count.load();
      if (corio_task_join(t2, &v) != 0 || I(v) > after + 1 || !s2.cancelled.load()) bad++;
    }
    return nullptr;
  });
  EXPECT_EQ(0, bad);
  RecordProperty("joined_on_the_other_worker", joined_elsewhere);
  RecordProperty("killed_on_the_other_worker", killed_elsewhere);
}

TEST_F(TaskStress, SpawnThenJoinAtOnce) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long n = scaled(10000, 2000);
  // From a task: the child may end before, during or after the join.
  void *bad = run(rt, [&]() -> void * {
    intptr_t errors = 0;
    for (long i = 0; i < n; i++) {
      corio_tid t = 0;
      corio_task_fn fn = i % 2 == 0 ? return_arg : yield_then_return_arg;
      if (corio_task_spawn(&t, fn, V(i + 1)) != 0) {
        errors++;
        continue;
      }
      void *v = nullptr;
      if (corio_task_join(t, &v) != 0 || I(v) != i + 1) errors++;
    }
    return V(errors);
  });
  EXPECT_EQ(0, I(bad));
  // From a plain thread.
  long errors = 0;
  for (long i = 0; i < n / 4; i++) {
    corio_tid t = 0;
    if (corio_rt_spawn(rt, &t, i % 2 == 0 ? return_arg : yield_then_return_arg, V(i + 1)) != 0) {
      errors++;
      continue;
    }
    void *v = nullptr;
    if (corio_rt_join(rt, t, &v) != 0 || I(v) != i + 1) errors++;
  }
  EXPECT_EQ(0, errors);
}

// Marks that it ran, yields once, and says how the yield came back.
void *mark_yield_child(void *arg) {
  static_cast<std::atomic<int> *>(arg)->store(1);
  return V(corio_task_yield() == -ECANCELED ? 2 : 1);
}

// Marks that it ran and returns at once (no suspension point).
void *mark_child(void *arg) {
  static_cast<std::atomic<int> *>(arg)->store(1);
  return V(1);
}

TEST_F(TaskStress, KillRightAfterSpawnWhileThievesSteal) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long n = scaled(20000, 4000);
  const long batch = 64;
  std::unique_ptr<std::atomic<int>[]> ran(new std::atomic<int>[n]);
  for (long i = 0; i < n; i++) ran[i] = 0;
  long never_ran = 0, killed = 0, normal = 0, bad = 0;
  run(rt, [&]() -> void * {
    std::vector<corio_tid> tids(batch);
    std::vector<int> kills(batch);
    for (long base = 0, round = 0; base < n; base += batch, round++) {
      long m = std::min(batch, n - base);
      // 0: kill each right after its spawn (it is in the run-next slot);
      // 1: kill each right after the next spawn pushed it to the ring, where
      //    the other worker may be stealing it or running it;
      // 2: spawn the whole batch, wait (spinning, so that this worker runs
      //    none of them) until the other worker has taken some, then kill
      //    them all while it steals and runs them.
      int mode = static_cast<int>(round % 3);
      for (long i = 0; i < m; i++) {
        if (corio_task_spawn(&tids[i], mark_yield_child, &ran[base + i]) != 0) bad++;
        if (mode == 0) kills[i] = corio_task_kill(tids[i]);
        if (mode == 1 && i > 0) kills[i - 1] = corio_task_kill(tids[i - 1]);
      }
      if (mode == 1) kills[m - 1] = corio_task_kill(tids[m - 1]);
      if (mode == 2) {
        for (long spin = 0; spin < 2000000 && ran[base].load() == 0; spin++) {
        }
        for (long i = 0; i < m; i++) kills[i] = corio_task_kill(tids[i]);
      }
      for (long i = 0; i < m; i++) {
        void *v = V(-1);
        int jr = corio_task_join(tids[i], &v);
        // -ECANCELED (and NULL): it was killed before it ever ran.
        if (jr != 0 && !(jr == -ECANCELED && v == nullptr)) {
          bad++;
          continue;
        }
        int k = kills[i];
        bool did_run = ran[base + i].load() != 0;
        if (k != 0 && k != 1) bad++;
        if (v == nullptr) {
          never_ran++;
          if (did_run || k != 1) bad++;
        } else if (I(v) == 2) {
          killed++;
          if (!did_run || k != 1) bad++;
        } else if (I(v) == 1) {
          normal++;
          if (!did_run) bad++;
        } else {
          bad++;
        }
      }
    }
    return nullptr;
  });
  EXPECT_EQ(0, bad);
  EXPECT_EQ(n, never_ran + killed + normal);
  RecordProperty("never_ran", static_cast<int>(never_ran));
  RecordProperty("killed_at_yield", static_cast<int>(killed));
  RecordProperty("normal", static_cast<int>(normal));
}

TEST_F(TaskStress, KillTasksThatAreFinishingOrFinished) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  // Finished for sure.
  std::vector<corio_tid> done;
  for (int i = 0; i < 200; i++) {
    corio_tid t = 0;
    ASSERT_EQ(0, corio_rt_spawn(rt, &t, return_arg, V(i + 1)));
    done.push_back(t);
  }
  ASSERT_EQ(0, corio_rt_wait_idle(rt));
  for (corio_tid t : done) EXPECT_EQ(0, corio_task_kill(t));
  for (int i = 0; i < 200; i++) EXPECT_EQ(i + 1, join(rt, done[i]));

  // Maybe finishing right now: the kill races with the end.
  const long n = scaled(5000, 1000);
  std::unique_ptr<std::atomic<int>[]> ran(new std::atomic<int>[n]);
  long bad = 0;
  for (long i = 0; i < n; i++) {
    ran[i] = 0;
    corio_tid t = 0;
    if (corio_rt_spawn(rt, &t, mark_child, &ran[i]) != 0) {
      bad++;
      continue;
    }
    int k = corio_task_kill(t);
    void *v = V(-1);
    int jr = corio_rt_join(rt, t, &v);
    if (jr != 0 && jr != -ECANCELED) bad++;
    bool did_run = ran[i].load() != 0;
    if ((jr == -ECANCELED) == did_run) bad++;  // -ECANCELED <=> it never ran
    if (k != 0 && k != 1) bad++;
    if (did_run != (v != nullptr)) bad++;  // never ran <=> NULL
    if (k == 0 && v == nullptr) bad++;     // ended before the kill: it ran
  }
  EXPECT_EQ(0, bad);
}

TEST_F(TaskStress, SpawnFromFourPlainThreads) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long n = scaled(10000, 2500);
  std::atomic<long> errors{0};
  std::atomic<long long> sum{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; th++)
    threads.emplace_back([&, th] {
      std::vector<corio_tid> tids(n);
      for (long j = 0; j < n; j++) {
        corio_task_fn fn = j % 3 == 0 ? yield_then_return_arg : return_arg;
        if (corio_rt_spawn(rt, &tids[j], fn, V(th * n + j + 1)) != 0) errors++;
      }
      long long mine = 0;
      for (long j = 0; j < n; j++) {
        void *v = nullptr;
        if (corio_rt_join(rt, tids[j], &v) != 0) errors++;
        mine += I(v);
      }
      sum += mine;
    });
  for (std::thread &t : threads) t.join();
  const long long total = 4 * n;
  EXPECT_EQ(0, errors.load());
  EXPECT_EQ(total * (total + 1) / 2, sum.load());
}

// A task that yields goes back on its worker's ring, where a thief can take
// it; if the other worker sleeps meanwhile, the yield must wake it
// (requeue_yielded in worker.c), or two runnable tasks taking turns on one
// worker would keep it to themselves for good while the sleeper never runs.
TEST_F(TaskStress, IdleWorkerIsWokenForYieldedWork) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  // Let both workers find nothing to do and go to sleep.
  std::this_thread::sleep_for(milliseconds(100));
  const long turns = scaled(200000, 50000);
  run(rt, [&]() -> void * {
    Spinner s;
    s.limit = turns;
    corio_tid t = 0;
    EXPECT_EQ(0, corio_task_spawn(&t, spinner_body, &s));
    for (long i = 0; i < turns; i++) corio_task_yield();
    EXPECT_EQ(0, corio_task_join(t, nullptr));
    return nullptr;
  });
  for (unsigned w = 0; w < 2; w++) {
    corio_worker_metrics m{};
    ASSERT_EQ(0, corio_rt_metrics(rt, w, &m));
    EXPECT_GT(m.tasks_run, 0u) << "worker " << w << " slept through " << 2 * turns
                               << " turns of two runnable tasks";
  }
}

}  // namespace
