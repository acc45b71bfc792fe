// tests/test_task_behaviour.cc - the scheduler's whole-runtime behaviour:
// coroutines driven inside tasks (TaskCoro), fairness between tasks
// (TaskFairness), the runtime's metrics (TaskMetrics), and shutdown with
// parked tasks, at scale (TaskShutdown).
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

// ---- coroutines inside tasks ----------------------------------------------

// A coroutine that makes a scheduler call in the middle of every step:
// corio_task_yield (mode 0), corio_task_join on a task it spawns (mode 1),
// or corio_task_park until a plain thread unparks the task (mode 2: the
// wake goes through the injection queue, so either worker may resume it).
// Sent k, it yields 3k+1 (plus the joined task's 5k in mode 1).
struct Chain {
  int mode = 0;
  long sends = 0;
  corio_coro *self = nullptr;  // the coroutine that makes the calls
  corio_tid owner = 0;
  long steps = 0, migrations = 0, bad = 0;
};

void *chain_body(void *arg) {
  Chain *c = static_cast<Chain *>(arg);
  void *in = nullptr;
  if (corio_coro_yield(nullptr, &in) != 0) return V(-1);  // primed here
  for (;;) {
    intptr_t k = I(in);
    if (k == 0) return V(c->steps);
    int w0 = corio_task_worker();
    intptr_t extra = 0;
    if (c->mode == 0) {
      if (corio_task_yield() != 0) c->bad++;
    } else if (c->mode == 2) {
      if (corio_task_park() != 0) c->bad++;
    } else {
      corio_tid t = 0;
      if (corio_task_spawn(&t, yield_twice_then_return_arg, V(5 * k)) != 0) c->bad++;
      void *r = nullptr;
      if (corio_task_join(t, &r) != 0) c->bad++;
      extra = I(r);
    }
    // The chain resumes exactly here, maybe on another worker.
    int w1 = corio_task_worker();
    if (w0 != w1) c->migrations++;
    if (corio_coro_self() != c->self || corio_task_id() != c->owner) c->bad++;
    c->steps++;
    if (corio_coro_yield(V(3 * k + 1 + extra), &in) != 0) return V(-2);
  }
}

// A coroutine between the task and chain_body: task -> forward -> chain.
void *forward_body(void *arg) {
  Chain *c = static_cast<Chain *>(arg);
  corio_coro *inner = nullptr;
  if (corio_coro_create(&inner, chain_body, c, nullptr) != 0) return V(-1);
  c->self = inner;
  void *in = nullptr;
  void *result = V(-3);
  if (corio_coro_yield(nullptr, &in) == 0) {
    for (;;) {
      void *out = nullptr;
      int r = corio_coro_send(inner, in, &out);
      if (r == CORIO_FINISHED) {
        result = out;
        break;
      }
      if (r != CORIO_YIELDED || corio_coro_yield(out, &in) != 0) break;
    }
  }
  corio_coro_destroy(inner);
  return result;
}

struct Driver {
  Chain chain;
  bool nested = false;
  long errors = 0;
  std::atomic<bool> done{false};
};

void *drive_chain(void *arg) {
  Driver *d = static_cast<Driver *>(arg);
  Chain *c = &d->chain;
  c->owner = corio_task_id();
  corio_coro *co = nullptr;
  if (corio_coro_create(&co, d->nested ? forward_body : chain_body, c, nullptr) != 0) {
    d->errors++;
    return nullptr;
  }
  if (!d->nested) c->self = co;
  for (intptr_t k = 1; k <= c->sends; k++) {
    void *out = nullptr;
    int r = corio_coro_send(co, V(k), &out);
    intptr_t expect = 3 * k + 1 + (c->mode == 1 ? 5 * k : 0);
    if (r != CORIO_YIELDED || I(out) != expect) d->errors++;
  }
  void *out = nullptr;
  if (corio_coro_send(co, V(0), &out) != CORIO_FINISHED || I(out) != c->sends) d->errors++;
  if (corio_coro_destroy(co) != 0) d->errors++;
  d->done = true;
  return nullptr;
}

TEST_F(TaskCoro, SchedulerCallsInsideACoroutineResumeTheChainInPlace) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long sends = scaled(2000, 300);
  std::vector<std::unique_ptr<Driver>> drivers;
  std::vector<corio_tid> tids;
  for (int mode = 0; mode < 3; mode++)
    for (bool nested : {false, true})
      for (int copy = 0; copy < 2; copy++) {
        drivers.emplace_back(new Driver);
        Driver *d = drivers.back().get();
        d->chain.mode = mode;
        d->chain.sends = sends;
        d->nested = nested;
        corio_tid t = 0;
        ASSERT_EQ(0, corio_rt_spawn(rt, &t, drive_chain, d));
        tids.push_back(t);
      }
  // The waker of the mode-2 chains; an unpark that finds the task running
  // leaves a permit, so its next park returns at once: also a valid path.
  auto all_done = [&] {
    for (auto &d : drivers)
      if (!d->done.load()) return false;
    return true;
  };
  ASSERT_TRUE(eventually([&] {
    for (size_t i = 0; i < tids.size(); i++)
      if (drivers[i]->chain.mode == 2 && !drivers[i]->done.load()) corio_task_unpark(tids[i]);
    return all_done();
  }));
  for (corio_tid t : tids) join(rt, t);
  long migrations = 0;
  for (auto &d : drivers) {
    SCOPED_TRACE("mode " + std::to_string(d->chain.mode) + (d->nested ? " nested" : ""));
    EXPECT_EQ(0, d->errors);
    EXPECT_EQ(0, d->chain.bad);
    EXPECT_EQ(sends, d->chain.steps);
    migrations += d->chain.migrations;
  }
  RecordProperty("chain_migrations", static_cast<int>(migrations));
}

// A coroutine that parks its whole chain in the middle of a step.
struct Parked {
  std::atomic<corio_coro *> co{nullptr};
  std::atomic<int> inside{0};
  std::atomic<long> resumes{0};
  int park_r = 1;
};

void *parking_body(void *arg) {
  Parked *p = static_cast<Parked *>(arg);
  void *in = nullptr;
  if (corio_coro_yield(nullptr, &in) != 0) return V(-1);
  for (;;) {
    p->resumes++;
    if (I(in) == 0) return V(0);
    p->inside = 1;
    p->park_r = corio_task_park();  // the task and this coroutine suspend here
    p->inside = 0;
    if (corio_coro_yield(V(I(in) + 1), &in) != 0) return V(-2);
  }
}

TEST_F(TaskCoro, SendingToASuspendedChainIsEBUSY) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const int iters = static_cast<int>(scaled(200, 40));
  for (int it = 0; it < iters; it++) {
    SCOPED_TRACE("iteration " + std::to_string(it));
    Parked p;
    std::atomic<bool> plain_checked{false};
    int r1 = 9, r2 = 9, destroy_r = 9;
    void *out1 = nullptr, *out2 = nullptr;
    corio_tid owner = spawn(rt, [&]() -> void * {
      corio_coro *co = nullptr;
      if (corio_coro_create(&co, parking_body, &p, nullptr) != 0) return V(-1);
      p.co = co;
      r1 = corio_coro_send(co, V(10), &out1);  // parks inside, resumes, yields 11
      r2 = corio_coro_send(co, V(0), &out2);
      destroy_r = corio_coro_destroy(co);
      return nullptr;
    });
    int st = -1, s = 9, c = 9, d = 9, u = 9;
    long before = -1, after = -2;
    corio_tid intruder = spawn(rt, [&]() -> void * {
      yield_until([&] { return p.inside.load() == 1; });
      corio_coro *co = p.co.load();
      before = p.resumes.load();
      st = corio_coro_state(co);
      void *o = nullptr;
      s = corio_coro_send(co, V(99), &o);
      c = corio_coro_close(co);
      d = corio_coro_destroy(co);
      after = p.resumes.load();
      yield_until([&] { return plain_checked.load(); });
      u = corio_task_unpark(owner);
      return nullptr;
    });
    // A plain thread gets the same answer.
    ASSERT_TRUE(eventually([&] { return p.inside.load() == 1; }));
    void *o = nullptr;
    EXPECT_EQ(-EBUSY, corio_coro_send(p.co.load(), V(98), &o));
    plain_checked = true;
    ASSERT_EQ(0, corio_rt_wait_idle(rt));

    EXPECT_EQ(CORIO_CORO_RUNNING, st);
    EXPECT_EQ(-EBUSY, s);
    EXPECT_EQ(-EBUSY, c);
    EXPECT_EQ(-EBUSY, d);
    EXPECT_EQ(before, after) << "the coroutine was resumed a second time";
    EXPECT_EQ(0, u);
    EXPECT_EQ(0, p.park_r);
    EXPECT_EQ(CORIO_YIELDED, r1);
    EXPECT_EQ(11, I(out1));
    EXPECT_EQ(CORIO_FINISHED, r2);
    EXPECT_EQ(0, destroy_r);
    EXPECT_EQ(2, p.resumes.load());
    EXPECT_EQ(0, join(rt, owner));
    EXPECT_EQ(0, join(rt, intruder));
    if (HasFailure()) break;
  }
}

TEST_F(TaskCoro, KillReachesAChainParkedInACoroutine) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Parked p;
  int r1 = 9, destroy_r = 9;
  void *out = nullptr;
  corio_tid owner = spawn(rt, [&]() -> void * {
    corio_coro *co = nullptr;
    if (corio_coro_create(&co, parking_body, &p, nullptr) != 0) return V(-1);
    p.co = co;
    r1 = corio_coro_send(co, V(20), &out);  // the park inside fails: killed
    destroy_r = corio_coro_destroy(co);     // closes it at its next yield
    return V(7);
  });
  ASSERT_TRUE(eventually([&] { return p.inside.load() == 1; }));
  EXPECT_EQ(1, corio_task_kill(owner));
  EXPECT_EQ(7, join(rt, owner));
  EXPECT_EQ(-ECANCELED, p.park_r);
  EXPECT_EQ(CORIO_YIELDED, r1);  // the chain resumed in the coroutine, which went on
  EXPECT_EQ(21, I(out));
  EXPECT_EQ(0, destroy_r);
}

// ---- fairness ------------------------------------------------------------

TEST_F(TaskFairness, YieldingTaskDoesNotStarveAnInjectedOne) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  const long cap = 2000000;
  std::atomic<bool> flag{false};
  std::atomic<long> yields{0};
  corio_tid y = spawn(rt, [&]() -> void * {
    while (!flag.load() && yields.load() < cap) {
      yields++;
      if (corio_task_yield() != 0) break;
    }
    return V(yields.load());
  });
  ASSERT_TRUE(eventually([&] { return yields.load() > 0; }));
  corio_tid f = spawn(rt, [&]() -> void * {
    flag = true;
    return nullptr;
  });
  join(rt, f);
  EXPECT_LT(join(rt, y), cap) << "the injected task ran only after the yielder gave up";
  EXPECT_TRUE(flag.load());
}

// Two tasks that wake each other with unpark/park (each wake-up may go to
// the run-next slot) and a third that only yields.
struct PingPongFair {
  std::atomic<int> token{0};
  corio_tid tid[2] = {0, 0};
  std::atomic<bool> done{false};
  long cap = 0;
  long exchanges = 0;
  std::atomic<long> errors{0};
};

void *pingpong_body(PingPongFair *g, int self) {
  int other = 1 - self;
  for (long n = 0; n < g->cap && !g->done.load(); n++) {
    while (g->token.load() != self && !g->done.load())
      if (corio_task_park() != 0) g->errors++;
    if (g->done.load()) break;
    g->exchanges++;
    g->token.store(other);
    corio_task_unpark(g->tid[other]);
  }
  g->done = true;
  corio_task_unpark(g->tid[other]);  // let it see `done`; may be gone (-ESRCH)
  return nullptr;
}

TEST_F(TaskFairness, PingPongPairDoesNotStarveAYielder) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  PingPongFair g;
  g.cap = scaled(2000000, 500000);
  const long yields_needed = 100;
  long yields = 0;
  run(rt, [&]() -> void * {
    // One worker: nothing runs until this task waits in join, so the ids
    // are in place before either side starts.
    corio_tid z = tspawn([&]() -> void * {
      for (yields = 0; yields < yields_needed; yields++)
        if (corio_task_yield() != 0) break;
      g.done = true;
      return nullptr;
    });
    g.tid[0] = tspawn([&] { return pingpong_body(&g, 0); });
    g.tid[1] = tspawn([&] { return pingpong_body(&g, 1); });
    EXPECT_EQ(0, corio_task_join(z, nullptr));
    EXPECT_EQ(0, corio_task_join(g.tid[0], nullptr));
    EXPECT_EQ(0, corio_task_join(g.tid[1], nullptr));
    return nullptr;
  });
  EXPECT_EQ(yields_needed, yields);
  EXPECT_LT(g.exchanges, g.cap) << "the yielder only finished after the pair gave up";
  EXPECT_EQ(0, g.errors.load());
}

// ---- metrics -------------------------------------------------------------

TEST_F(TaskMetrics, CountsAddUp) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long m = scaled(2000, 500);
  void *bad = run(rt, [&]() -> void * {
    intptr_t errors = 0;
    std::vector<corio_tid> tids;
    for (long i = 0; i < m; i++) {
      corio_tid t = 0;
      // Each child yields once: two turns.
      if (corio_task_spawn(&t, yield_then_return_arg, V(i)) != 0) errors++;
      tids.push_back(t);
      if (tids.size() == 100) {  // batches, so that there is work to steal
        for (corio_tid u : tids)
          if (corio_task_join(u, nullptr) != 0) errors++;
        tids.clear();
      }
    }
    for (corio_tid u : tids)
      if (corio_task_join(u, nullptr) != 0) errors++;
    return V(errors);
  });
  EXPECT_EQ(0, I(bad));
  ASSERT_EQ(0, corio_rt_wait_idle(rt));
  corio_worker_metrics total{}, one{};
  for (unsigned w = 0; w < 2; w++) {
    ASSERT_EQ(0, corio_rt_metrics(rt, w, &one));
    total.tasks_run += one.tasks_run;
    total.spawned += one.spawned;
    total.steals += one.steals;
    total.stolen_tasks += one.stolen_tasks;
    total.stolen_from += one.stolen_from;
    total.inject_pops += one.inject_pops;
  }
  EXPECT_GE(total.tasks_run, static_cast<uint64_t>(2 * m + 1));
  // The children, spawned by a task; the parent came from this thread.
  EXPECT_EQ(static_cast<uint64_t>(m), total.spawned);
  EXPECT_EQ(total.stolen_tasks, total.stolen_from);
  EXPECT_LE(total.steals, total.stolen_tasks);
  EXPECT_GE(total.inject_pops, 1u);
  RecordProperty("steals", static_cast<int>(total.steals));

  EXPECT_EQ(-EINVAL, corio_rt_metrics(rt, 2, &one));
  EXPECT_EQ(-EINVAL, corio_rt_metrics(rt, UINT_MAX, &one));
}

// ---- shutdown and scale ---------------------------------------------------

TEST_F(TaskShutdown, ParkedTasksAreKilledAndShutdownReturns) {
  constexpr int kParked = 100;
  std::atomic<int> started{0}, ended{0}, cancelled{0}, spawn_refused{0};
  std::atomic<int> joiner_rc{1};
  {
    Rt rt(2);
    ASSERT_EQ(0, rt.rc());
    corio_tid first = 0;
    for (int i = 0; i < kParked; i++) {
      corio_tid t = spawn(rt, [&]() -> void * {
        started++;
        int r;
        while ((r = corio_task_park()) == 0) {
        }
        if (r == -ECANCELED) cancelled++;
        // The runtime refuses new tasks while it shuts down.
        corio_tid u = 0;
        if (corio_task_spawn(&u, return_arg, nullptr) == -ESHUTDOWN) spawn_refused++;
        ended++;
        return nullptr;
      });
      if (i == 0) first = t;
    }
    // One task waits in join on a parked one, one is detached.
    spawn(rt, [&]() -> void * {
      joiner_rc = corio_task_join(first, nullptr);
      return nullptr;
    });
    corio_tid d = spawn(rt, [] { return V(corio_task_park()); });
    EXPECT_EQ(0, corio_task_detach(d));
    ASSERT_TRUE(eventually([&] { return started.load() == kParked; }));
    EXPECT_EQ(0, rt.shutdown());
  }
  EXPECT_EQ(kParked, ended.load());
  EXPECT_EQ(kParked, cancelled.load());
  EXPECT_EQ(kParked, spawn_refused.load());
  // Either the kill reached the joiner first or its target ended first.
  EXPECT_TRUE(joiner_rc.load() == -ECANCELED || joiner_rc.load() == 0) << joiner_rc.load();
}

TEST_F(TaskShutdown, HundredThousandParkedTasks) {
  const long n = scaled(100000, 20000);
  Rt rt(2, CORIO_STACK_MIN);
  ASSERT_EQ(0, rt.rc());
  std::atomic<long> parked{0};
  struct Arg {
    std::atomic<long> *parked;
    long value;
  };
  std::unique_ptr<Arg[]> args(new Arg[n]);
  std::vector<corio_tid> tids(n);
  auto fn = [](void *a) -> void * {
    Arg *arg = static_cast<Arg *>(a);
    arg->parked->fetch_add(1);
    int r = corio_task_park();
    return r == 0 ? V(arg->value) : V(-1000000);
  };
  for (long i = 0; i < n; i++) {
    args[i] = Arg{&parked, i + 1};
    ASSERT_EQ(0, corio_rt_spawn(rt, &tids[i], fn, &args[i])) << "task " << i;
  }
  // All of them live at once, each in (or on its way into) park.
  ASSERT_TRUE(eventually([&] { return parked.load() == n; }));
  long errors = 0;
  for (long i = 0; i < n; i++)
    if (corio_task_unpark(tids[i]) != 0) errors++;
  long long sum = 0;
  for (long i = 0; i < n; i++) {
    void *v = nullptr;
    if (corio_rt_join(rt, tids[i], &v) != 0) errors++;
    sum += I(v);
  }
  EXPECT_EQ(0, errors);
  EXPECT_EQ(static_cast<long long>(n) * (n + 1) / 2, sum);
}

}  // namespace
