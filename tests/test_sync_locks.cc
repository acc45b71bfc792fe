// tests/test_sync_locks.cc - mutex, condition variable, semaphore, task
// group and the blocking-call pool (corio/sync.h); suites Mutex, Cond,
// Sem, Group, Blocking.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "corio.h"
#include "support/child.h"
#include "support/task_helpers.h"

namespace {

class LockBase : public TaskBase {
 protected:
  // Tight rounds of a kill racing a hand-over: `victim` waits for the
  // resource (returns 0 once it had it and gave it back, or its error),
  // `give` makes it available, `check` asserts afterwards that it was not
  // lost.  Odd rounds kill the victim while it is queueing or queued, even
  // ones often before it runs.  Returns how often the victim won.
  template <class Victim, class Give, class Check>
  long kill_race(corio_rt *rt, Victim victim, Give give, Check check) {
    const long rounds = scaled(10000, 1000);
    long got = 0;
    for (long i = 0; i < rounds; i++) {
      std::atomic<bool> started{false};
      corio_tid v = spawn(rt, [&]() -> void * {
        started = true;
        return V(victim());
      });
      if (i % 2) {
        EXPECT_TRUE(eventually([&] { return started.load(); }));
      }
      for (long j = 0; j < (i * 11) % 600; j++) std::atomic_signal_fence(std::memory_order_seq_cst);
      corio_task_kill(v);
      give();
      intptr_t r = join_or_error(rt, v);
      EXPECT_TRUE(r == 0 || r == -ECANCELED) << r;
      got += r == 0;
      if (!check(i)) return -1;
    }
    return got;
  }
};

class Mutex : public LockBase {};
class Cond : public TaskBase {};
class Sem : public LockBase {};
class Group : public TaskBase {};
class Blocking : public TaskBase {};

TEST_F(Mutex, ErrorsAndTrylock) {
  corio_mutex *m;
  EXPECT_EQ(-EINVAL, corio_mutex_create(nullptr));
  ASSERT_EQ(0, corio_mutex_create(&m));
  EXPECT_EQ(-EPERM, corio_mutex_unlock(m));
  EXPECT_EQ(0, corio_mutex_trylock(m));
  EXPECT_EQ(-EBUSY, corio_mutex_trylock(m));
  EXPECT_EQ(-ETIMEDOUT, corio_mutex_lock(m, 0));
  auto t0 = Clock::now();
  EXPECT_EQ(-ETIMEDOUT, corio_mutex_lock(m, CORIO_MS(20)));
  EXPECT_GE(Clock::now() - t0, milliseconds(19));
  EXPECT_EQ(-EBUSY, corio_mutex_destroy(m));
  EXPECT_EQ(0, corio_mutex_unlock(m));
  EXPECT_EQ(0, corio_mutex_destroy(m));
}

// Tasks that suspend while holding the lock (the reason a task mutex
// exists) and plain threads: the counter is never torn, and nobody is in
// the critical section with anyone else.
TEST_F(Mutex, ExcludesTasksAndThreadsAcrossSuspensions) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_mutex *m;
  ASSERT_EQ(0, corio_mutex_create(&m));
  long counter = 0;
  std::atomic<int> inside{0}, overlap{0};
  const long per = scaled(20000, 2000);
  auto work = [&](bool task, long i) {
    if (corio_mutex_lock(m, CORIO_FOREVER) != 0) {
      overlap++;
      return;
    }
    if (inside.fetch_add(1) != 0) overlap++;
    long c = counter;
    if (task && i % 64 == 0) corio_task_yield();  // suspend holding it
    counter = c + 1;
    inside--;
    corio_mutex_unlock(m);
  };
  std::vector<corio_tid> ts;
  for (int k = 0; k < 4; k++)
    ts.push_back(spawn(rt, [&]() -> void * {
      for (long i = 0; i < per; i++) work(true, i);
      return nullptr;
    }));
  std::thread th([&] {
    for (long i = 0; i < per; i++) work(false, i);
  });
  th.join();
  for (auto t : ts) join(rt, t);
  EXPECT_EQ(0, overlap.load());
  EXPECT_EQ(5 * per, counter);
  EXPECT_EQ(0, corio_mutex_destroy(m));
}

// Waiters get the mutex in arrival order.
TEST_F(Mutex, WaitersAreServedInArrivalOrder) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  corio_mutex *m;
  ASSERT_EQ(0, corio_mutex_create(&m));
  ASSERT_EQ(0, corio_mutex_lock(m, CORIO_FOREVER));
  std::vector<int> order;
  std::atomic<int> queued{0};
  std::vector<corio_tid> ts;
  for (int i = 0; i < 8; i++) {
    ts.push_back(spawn(rt, [&, i]() -> void * {
      queued++;
      if (corio_mutex_lock(m, CORIO_FOREVER) != 0) return V(-1);
      order.push_back(i);
      corio_mutex_unlock(m);
      return nullptr;
    }));
    // One at a time into the queue: the next starts after this one waits.
    ASSERT_TRUE(eventually([&] { return queued.load() == i + 1; }));
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(0, corio_mutex_unlock(m));
  for (auto t : ts) EXPECT_EQ(0, join(rt, t));
  ASSERT_EQ(8u, order.size());
  for (int i = 0; i < 8; i++) EXPECT_EQ(i, order[i]);
  EXPECT_EQ(0, corio_mutex_destroy(m));
}

// A waiter killed (or timed out) in the queue never gets the mutex: the
// unlock racing the kill hands it either to the victim (which then holds
// it and must unlock) or to nobody; the mutex is never lost.
// A waiter killed in the queue never gets the mutex: the unlock racing the
// kill hands it either to the victim (which then holds it and must unlock)
// or to nobody; the mutex is never lost.
TEST_F(Mutex, KillOfAWaiterRacingAnUnlockNeverLosesTheMutex) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_mutex *m;
  ASSERT_EQ(0, corio_mutex_create(&m));
  ASSERT_EQ(0, corio_mutex_lock(m, CORIO_FOREVER));
  long got = kill_race(
      rt,
      [&] {
        int r = corio_mutex_lock(m, CORIO_FOREVER);
        if (r == 0) corio_mutex_unlock(m);
        return r;
      },
      [&] { EXPECT_EQ(0, corio_mutex_unlock(m)); },
      [&](long i) {
        // Free again (whoever had it gave it back): take it for the next round.
        int r = corio_mutex_lock(m, CORIO_MS(20000));
        EXPECT_EQ(0, r) << "round " << i;
        return r == 0;
      });
  ASSERT_GE(got, 0);
  printf("mutex kill race: the victim locked in %ld rounds\n", got);
  EXPECT_EQ(0, corio_mutex_unlock(m));
  EXPECT_EQ(0, corio_mutex_destroy(m));
}

// A mutex and a condition variable, destroyed (and checked) at scope exit.
struct MutexAndCond {
  corio_mutex *m = nullptr;
  corio_cond *c = nullptr;
  MutexAndCond() {
    EXPECT_EQ(0, corio_mutex_create(&m));
    EXPECT_EQ(0, corio_cond_create(&c));
  }
  ~MutexAndCond() {
    EXPECT_EQ(0, corio_cond_destroy(c));
    EXPECT_EQ(0, corio_mutex_destroy(m));
  }
};

TEST_F(Cond, SignalWakesOneBroadcastAllAndTheMutexIsHeld) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  MutexAndCond mc;
  corio_mutex *m = mc.m;
  corio_cond *c = mc.c;
  EXPECT_EQ(-EPERM, corio_cond_wait(c, m, 0));  // m not locked
  int ready = 0, woke = 0;
  const int n = 6;
  std::atomic<int> waiting{0};
  std::vector<corio_tid> ts;
  for (int i = 0; i < n; i++)
    ts.push_back(spawn(rt, [&]() -> void * {
      corio_mutex_lock(m, CORIO_FOREVER);
      waiting++;
      while (ready == 0)
        if (corio_cond_wait(c, m, CORIO_FOREVER) != 0) break;
      ready--;
      woke++;
      // The mutex is held here: unlocking succeeds exactly once.
      return V(corio_mutex_unlock(m));
    }));
  ASSERT_TRUE(eventually([&] { return waiting.load() == n; }));
  std::this_thread::sleep_for(milliseconds(20));
  corio_mutex_lock(m, CORIO_FOREVER);
  ready = 1;
  EXPECT_EQ(1, corio_cond_signal(c));
  corio_mutex_unlock(m);
  ASSERT_TRUE(eventually([&] {
    corio_mutex_lock(m, CORIO_FOREVER);
    int w = woke;
    corio_mutex_unlock(m);
    return w == 1;
  }));
  corio_mutex_lock(m, CORIO_FOREVER);
  ready = n - 1;
  EXPECT_EQ(n - 1, corio_cond_broadcast(c));
  corio_mutex_unlock(m);
  for (auto t : ts) EXPECT_EQ(0, join(rt, t));
  EXPECT_EQ(n, woke);
  EXPECT_EQ(0, corio_cond_signal(c));  // nobody left
}

// A broadcast wakes its waiters as a batch, behind everything queued, in
// the order they waited (corio__wait_done_all).  Hand-offs one after the
// other would put each in the run-next slot and push the one before it to
// the ring: the last woken would run first.  One worker, so the run order
// is the scheduler's and the test can see it.
TEST_F(Cond, BroadcastWakesTheWaitersInTheOrderTheyWaited) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  MutexAndCond mc;
  corio_mutex *m = mc.m;
  corio_cond *c = mc.c;
  const int n = 6;
  std::vector<int> waited, woke;  // one worker: no two tasks at once
  bool go = false;
  void *r = run(rt, [&]() -> void * {
    std::vector<corio_tid> ts;
    for (int i = 0; i < n; i++)
      ts.push_back(tspawn([&, i]() -> void * {
        if (corio_mutex_lock(m, CORIO_FOREVER) != 0) return V(-1);
        waited.push_back(i);
        while (!go)
          if (corio_cond_wait(c, m, CORIO_FOREVER) != 0) break;
        woke.push_back(i);
        return V(corio_mutex_unlock(m));
      }));
    if (!yield_until([&] { return waited.size() == size_t(n); })) return V(-2);
    go = true;
    if (corio_cond_broadcast(c) != n) return V(-3);
    for (auto t : ts) {
      void *res = V(-4);
      if (corio_task_join(t, &res) != 0 || res != nullptr) return V(-5);
    }
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  ASSERT_EQ(size_t(n), woke.size());
  EXPECT_EQ(waited, woke);
}

TEST_F(Cond, TimeoutAndKillReturnWithTheMutexHeld) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  corio_mutex *m;
  corio_cond *c;
  ASSERT_EQ(0, corio_mutex_create(&m));
  ASSERT_EQ(0, corio_cond_create(&c));
  corio_tid t = spawn(rt, [&]() -> void * {
    corio_mutex_lock(m, CORIO_FOREVER);
    int r1 = corio_cond_wait(c, m, CORIO_MS(10));
    int r2 = corio_cond_wait(c, m, CORIO_FOREVER);  // killed in here
    int u = corio_mutex_unlock(m);
    return V(r1 == -ETIMEDOUT && r2 == -ECANCELED && u == 0 ? 0 : -1);
  });
  std::this_thread::sleep_for(milliseconds(50));
  // The victim waits in the condition, not holding m: we can take it.
  ASSERT_EQ(0, corio_mutex_lock(m, CORIO_MS(20000)));
  corio_task_kill(t);
  std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(0, corio_mutex_unlock(m));  // the victim relocks after this
  EXPECT_EQ(0, join(rt, t));
  EXPECT_EQ(0, corio_cond_destroy(c));
  EXPECT_EQ(0, corio_mutex_destroy(m));
}

// A producer/consumer queue on mutex + cond between tasks and a thread:
// no lost wake-up (the test would hang) and every item once.
TEST_F(Cond, ProducerConsumerLosesNoWakeUp) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_mutex *m;
  corio_cond *nonempty;
  ASSERT_EQ(0, corio_mutex_create(&m));
  ASSERT_EQ(0, corio_cond_create(&nonempty));
  std::vector<long> q;
  const long n = scaled(100000, 10000);
  long sum = 0;
  corio_tid consumer = spawn(rt, [&]() -> void * {
    for (long k = 0; k < 2 * n; k++) {
      corio_mutex_lock(m, CORIO_FOREVER);
      while (q.empty()) corio_cond_wait(nonempty, m, CORIO_FOREVER);
      sum += q.back();
      q.pop_back();
      corio_mutex_unlock(m);
    }
    return nullptr;
  });
  auto produce = [&] {
    for (long i = 1; i <= n; i++) {
      corio_mutex_lock(m, CORIO_FOREVER);
      q.push_back(i);
      corio_cond_signal(nonempty);
      corio_mutex_unlock(m);
    }
  };
  corio_tid producer = spawn(rt, [&]() -> void * {
    produce();
    return nullptr;
  });
  std::thread th(produce);
  th.join();
  join(rt, producer);
  join(rt, consumer);
  EXPECT_EQ(n * (n + 1), sum);
  EXPECT_EQ(0, corio_cond_destroy(nonempty));
  EXPECT_EQ(0, corio_mutex_destroy(m));
}

TEST_F(Sem, CountsAndBoundsConcurrency) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_sem *s;
  ASSERT_EQ(0, corio_sem_create(&s, 3));
  EXPECT_EQ(3u, corio_sem_value(s));
  std::atomic<int> inside{0}, max_inside{0};
  std::vector<corio_tid> ts;
  const long per = scaled(5000, 500);
  for (int k = 0; k < 8; k++)
    ts.push_back(spawn(rt, [&]() -> void * {
      for (long i = 0; i < per; i++) {
        if (corio_sem_acquire(s, CORIO_FOREVER) != 0) return V(-1);
        int now = ++inside;
        int mx = max_inside.load();
        while (now > mx && !max_inside.compare_exchange_weak(mx, now)) {
        }
        corio_task_yield();
        inside--;
        corio_sem_release(s);
      }
      return nullptr;
    }));
  for (auto t : ts) EXPECT_EQ(0, join(rt, t));
  EXPECT_LE(max_inside.load(), 3);
  EXPECT_GE(max_inside.load(), 2);  // 8 tasks on 2 workers do overlap
  EXPECT_EQ(3u, corio_sem_value(s));
  for (int i = 0; i < 3; i++) EXPECT_EQ(0, corio_sem_try_acquire(s));
  EXPECT_EQ(-EAGAIN, corio_sem_try_acquire(s));
  EXPECT_EQ(-ETIMEDOUT, corio_sem_acquire(s, CORIO_MS(10)));
  EXPECT_EQ(0, corio_sem_destroy(s));
  ASSERT_EQ(0, corio_sem_create(&s, UINT32_MAX));
  EXPECT_EQ(-EOVERFLOW, corio_sem_release(s));
  EXPECT_EQ(0, corio_sem_destroy(s));
}

// A release racing a kill of the waiter: the unit goes to the victim (who
// gives it back) or stays in the semaphore; it is never lost.
TEST_F(Sem, KillOfAWaiterRacingAReleaseNeverLosesAUnit) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_sem *s;
  ASSERT_EQ(0, corio_sem_create(&s, 0));
  long got = kill_race(
      rt,
      [&] {
        int r = corio_sem_acquire(s, CORIO_FOREVER);
        if (r == 0) corio_sem_release(s);
        return r;
      },
      [&] { EXPECT_EQ(0, corio_sem_release(s)); },
      [&](long i) {
        EXPECT_EQ(1u, corio_sem_value(s)) << "round " << i;
        return corio_sem_try_acquire(s) == 0;
      });
  ASSERT_GE(got, 0);
  printf("sem kill race: the victim acquired in %ld rounds\n", got);
  EXPECT_EQ(0, corio_sem_destroy(s));
}

// ---- task groups ----------------------------------------------------------

struct GroupArg {
  std::atomic<int> *ran;
  std::atomic<int> *cancelled;
  int fail_with;  // 0: succeed after a long wait; < 0: fail at once
};

int group_child(void *a) {
  GroupArg *g = static_cast<GroupArg *>(a);
  (*g->ran)++;
  if (g->fail_with < 0) {
    corio_sleep_ms(5);
    return g->fail_with;
  }
  // Waits "for ever" unless the group kills it.
  int r = corio_sleep_ms(20000);
  if (r == -ECANCELED) (*g->cancelled)++;
  return r < 0 ? r : 0;
}

int quick_child(void *a) {
  static_cast<std::atomic<int> *>(a)->fetch_add(1);
  corio_task_yield();
  return 0;
}

TEST_F(Group, JoinWaitsForAllChildren) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_group *g;
  EXPECT_EQ(-EINVAL, corio_group_create(&g, nullptr));  // no task: no runtime
  ASSERT_EQ(0, corio_group_create(&g, rt));
  std::atomic<int> n{0};
  for (int i = 0; i < 100; i++) ASSERT_EQ(0, corio_group_spawn(g, quick_child, &n));
  EXPECT_EQ(-EBUSY, corio_group_destroy(g));
  EXPECT_EQ(0, corio_group_join(g));  // from a plain thread
  EXPECT_EQ(100, n.load());
  EXPECT_EQ(-EINVAL, corio_group_join(g));
  EXPECT_EQ(-EINVAL, corio_group_spawn(g, quick_child, &n));
  EXPECT_EQ(0, corio_group_destroy(g));
}

TEST_F(Group, FirstFailureCancelsTheRestAndIsReturned) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::atomic<int> ran{0}, cancelled{0};
  GroupArg waiters{&ran, &cancelled, 0}, failer{&ran, &cancelled, -EIO};
  void *r = run(rt, [&]() -> void * {
    corio_group *g;
    if (corio_group_create(&g, nullptr) != 0) return V(-1000);
    for (int i = 0; i < 10; i++) corio_group_spawn(g, group_child, &waiters);
    corio_group_spawn(g, group_child, &failer);
    int jr = corio_group_join(g);
    // After a failure nothing more can be spawned into it.
    int sr = corio_group_spawn(g, group_child, &waiters);
    corio_group_destroy(g);
    return V(jr == -EIO && sr == -EINVAL ? 0 : -1);
  });
  EXPECT_EQ(0, I(r));
  EXPECT_EQ(11, ran.load());
  EXPECT_EQ(10, cancelled.load());
}

TEST_F(Group, CancelKillsEveryChildAndSpawnIsRefusedAfter) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::atomic<int> ran{0}, cancelled{0};
  GroupArg waiters{&ran, &cancelled, 0};
  corio_group *g;
  ASSERT_EQ(0, corio_group_create(&g, rt));
  for (int i = 0; i < 10; i++) ASSERT_EQ(0, corio_group_spawn(g, group_child, &waiters));
  ASSERT_TRUE(eventually([&] { return ran.load() == 10; }));
  EXPECT_EQ(0, corio_group_cancel(g));
  EXPECT_EQ(-ECANCELED, corio_group_spawn(g, group_child, &waiters));
  EXPECT_EQ(-ECANCELED, corio_group_join(g));
  EXPECT_EQ(10, cancelled.load());
  EXPECT_EQ(0, corio_group_destroy(g));
}

// A joiner killed while it joins cancels the group and still returns only
// after every child has ended (none outlives the join).
TEST_F(Group, KilledJoinerCancelsAndStillWaitsForTheChildren) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::atomic<int> ran{0}, cancelled{0}, alive_at_return{-1};
  GroupArg waiters{&ran, &cancelled, 0};
  corio_tid j = spawn(rt, [&]() -> void * {
    corio_group *g;
    if (corio_group_create(&g, nullptr) != 0) return V(-1000);
    for (int i = 0; i < 5; i++) corio_group_spawn(g, group_child, &waiters);
    int r = corio_group_join(g);
    alive_at_return = ran.load() - cancelled.load();
    corio_group_destroy(g);
    return V(r);
  });
  ASSERT_TRUE(eventually([&] { return ran.load() == 5; }));
  corio_task_kill(j);
  EXPECT_EQ(-ECANCELED, join(rt, j));
  EXPECT_EQ(5, cancelled.load());
  EXPECT_EQ(0, alive_at_return.load());
}

// Children spawning siblings into their own group while it is joined.
int spawning_child(void *a);
struct Tree {
  corio_group *g;
  std::atomic<int> made{0};
  int depth;
};
struct Node {
  Tree *t;
  int depth;
};
int spawning_child(void *a) {
  Node *n = static_cast<Node *>(a);
  n->t->made++;
  if (n->depth < n->t->depth) {
    for (int i = 0; i < 2; i++) {
      Node *c = new Node{n->t, n->depth + 1};
      if (corio_group_spawn(n->t->g, spawning_child, c) != 0) delete c;
    }
  }
  delete n;
  return 0;
}

TEST_F(Group, ChildrenMaySpawnIntoTheirGroupDuringTheJoin) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Tree t;
  t.depth = 8;
  ASSERT_EQ(0, corio_group_create(&t.g, rt));
  ASSERT_EQ(0, corio_group_spawn(t.g, spawning_child, new Node{&t, 0}));
  EXPECT_EQ(0, corio_group_join(t.g));
  EXPECT_EQ((1 << 9) - 1, t.made.load());  // a full binary tree of depth 8
  EXPECT_EQ(0, corio_group_destroy(t.g));
}

// ---- blocking-call pool -----------------------------------------------------

void *slow_call(void *arg) {
  usleep(static_cast<useconds_t>(I(arg)));
  return V(I(arg) + 1);
}

// 8 tasks on 1 worker each call a 50 ms blocking function: the worker
// stays free (a ticker task keeps running meanwhile) and the calls run in
// parallel on helper threads.
TEST_F(Blocking, SuspendsOnlyTheCallerAndRunsInParallel) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  std::atomic<bool> stop{false};
  std::atomic<long> ticks{0};
  corio_tid ticker = spawn(rt, [&]() -> void * {
    while (!stop.load()) {
      ticks++;
      corio_sleep_ms(1);
    }
    return nullptr;
  });
  std::vector<corio_tid> ts;
  auto t0 = Clock::now();
  for (int i = 0; i < 8; i++)
    ts.push_back(spawn(rt, [&]() -> void * {
      void *res = nullptr;
      int r = corio_blocking(slow_call, V(50000), &res);
      return V(r == 0 ? I(res) : r);
    }));
  for (auto t : ts) EXPECT_EQ(50001, join(rt, t));
  auto took = Clock::now() - t0;
  stop = true;
  join(rt, ticker);
  // Serially it would be 400 ms; in parallel about 50.
  EXPECT_LT(took, milliseconds(kSanitized ? 390 : 300));
  EXPECT_GT(ticks.load(), 10) << "the worker was blocked";
  unsigned total = 0, idle = 0;
  EXPECT_EQ(0, corio_blocking_threads(&total, &idle));
  EXPECT_GE(total, 2u);
  EXPECT_LE(total, 64u);
  EXPECT_EQ(-EINVAL, corio_blocking(nullptr, nullptr, nullptr));
}

// From a plain thread the function is simply called.
TEST_F(Blocking, PlainThreadCallsInline) {
  void *res = nullptr;
  EXPECT_EQ(0, corio_blocking(slow_call, V(1), &res));
  EXPECT_EQ(2, I(res));
}

struct KillCall {
  std::atomic<bool> entered{false}, release{false}, returned{false};
};

void *held_call(void *arg) {
  KillCall *k = static_cast<KillCall *>(arg);
  k->entered = true;
  while (!k->release.load()) usleep(100);
  k->returned = true;
  return V(7);
}

// A kill does not interrupt the call; the caller learns of it when the
// call returns, and still gets the result.
TEST_F(Blocking, KillIsReportedWhenTheCallReturns) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  KillCall k;
  std::atomic<bool> returned_at_exit{false};
  std::atomic<intptr_t> res{0};
  corio_tid t = spawn(rt, [&]() -> void * {
    void *v = nullptr;
    int r = corio_blocking(held_call, &k, &v);
    returned_at_exit = k.returned.load();
    res = I(v);
    return V(r);
  });
  ASSERT_TRUE(eventually([&] { return k.entered.load(); }));
  corio_task_kill(t);
  std::this_thread::sleep_for(milliseconds(20));
  k.release = true;
  EXPECT_EQ(-ECANCELED, join(rt, t));
  EXPECT_TRUE(returned_at_exit.load());
  EXPECT_EQ(7, res.load());
}

}  // namespace

namespace {

// The pool's limit and idle time are read once per process, so this runs
// in a child of its own (the same test binary, filtered to the test below,
// with the environment set).
TEST_F(Blocking, GrowsToItsLimitAndShrinksWhenIdle) {
  const char *self = "/proc/self/exe";
  char path[4096];
  ssize_t n = readlink(self, path, sizeof path - 1);
  ASSERT_GT(n, 0);
  path[n] = '\0';
  setenv("CORIO_BLOCKING_THREADS", "3", 1);
  setenv("CORIO_BLOCKING_IDLE_MS", "100", 1);
  setenv("CORIO_TEST_POOL_CHILD", "1", 1);
  corio_test::Child c({path, "--gtest_filter=Blocking.LimitAndIdleInAChild"}, "");
  corio_test::Result r = c.finish();
  unsetenv("CORIO_TEST_POOL_CHILD");
  EXPECT_TRUE(r.exited_with(0)) << r;
  EXPECT_NE(std::string::npos, r.out.find("[  PASSED  ] 1 test")) << r;
}

TEST_F(Blocking, LimitAndIdleInAChild) {
  if (getenv("CORIO_TEST_POOL_CHILD") == nullptr) GTEST_SKIP() << "run by GrowsToItsLimitAndShrinksWhenIdle";
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::atomic<unsigned> max_total{0};
  std::vector<corio_tid> ts;
  auto t0 = Clock::now();
  for (int i = 0; i < 9; i++)
    ts.push_back(spawn(rt, [&]() -> void * {
      void *res = nullptr;
      int r = corio_blocking(slow_call, V(30000), &res);
      unsigned total = 0;
      corio_blocking_threads(&total, nullptr);
      unsigned m = max_total.load();
      while (total > m && !max_total.compare_exchange_weak(m, total)) {
      }
      return V(r == 0 ? I(res) : r);
    }));
  for (auto t : ts) EXPECT_EQ(30001, join(rt, t));
  // Nine 30 ms calls on at most 3 threads: at least three rounds.
  EXPECT_GE(Clock::now() - t0, milliseconds(89));
  EXPECT_EQ(3u, max_total.load());
  // Idle for 100 ms: every thread exits.
  EXPECT_TRUE(eventually([] {
    unsigned total = 99;
    corio_blocking_threads(&total, nullptr);
    return total == 0;
  }, milliseconds(5000)));
}

}  // namespace
