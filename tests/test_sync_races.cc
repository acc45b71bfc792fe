// tests/test_sync_races.cc - tight rounds of the sync objects' races (suite
// SyncRace): a wake that meets a kill of the task it wakes, and a close or
// broadcast whose woken waiters destroy the object at once.
//
// Rounds are bounded by count (CORIO_RACE_ROUNDS scales them), never by
// time; a lost wake-up aborts through the round watchdog, which names the
// round and what was being waited for.  The chaos preset runs this suite
// with random pauses at the race points (docs/build.md).
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "corio.h"
#include "support/race_rounds.h"
#include "support/round_watchdog.h"
#include "support/task_helpers.h"

namespace {

class SyncRace : public TaskBase {};

// ---- a wake that meets a kill ----------------------------------------------

struct CondRound {
  corio_mutex *m = nullptr;
  corio_cond *c = nullptr;
  std::atomic<int> arrived{0};
  std::atomic<bool> go{false};
  long jitter = 0;
};

struct CondWaiter {
  CondRound *r;
  int64_t timeout;
};

void *cond_waiter(void *arg) {
  CondWaiter *w = static_cast<CondWaiter *>(arg);
  if (corio_mutex_lock(w->r->m, -1) != 0) return V(-1000);
  w->r->arrived.fetch_add(1);
  int r = corio_cond_wait(w->r->c, w->r->m, w->timeout);
  // Held again on every return (sync.h), a kill included.
  if (corio_mutex_unlock(w->r->m) != 0) return V(-1001);
  return V(r);
}

// Waits for the go, then signals twice and broadcasts: every waiter still
// waiting is woken, so none may be left behind.  The signals race the
// kills without the mutex; the broadcast is made holding it, so that a
// waiter that counted itself in (under the mutex) but had not yet queued
// on the condition cannot miss it.
void *cond_signaller(void *arg) {
  CondRound *r = static_cast<CondRound *>(arg);
  for (long i = 0; !r->go.load(std::memory_order_acquire) && i < 100000000; i++) {
    if (i % 64 == 63) corio_task_yield();
  }
  spin(r->jitter);
  corio_cond_signal(r->c);
  corio_cond_signal(r->c);
  corio_task_yield();
  if (corio_mutex_lock(r->m, -1) != 0) return V(-1);
  corio_cond_broadcast(r->c);
  corio_mutex_unlock(r->m);
  return nullptr;
}

// Four tasks in corio_cond_wait (some with short timeouts), about two
// thirds of them killed while a task on the other worker signals: each waiter
// ends, with the mutex given back, whatever came first (the signal, its
// timeout, the kill).  A wake whose state-word update was skipped because
// the word already said "notified" left a killed waiter parked for ever
// after the signal had claimed it.
TEST_F(SyncRace, KilledCondWaitersNeverMissASignal) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::mt19937 rng(race_seed());
  const long rounds = rounds_of(20000, 2000);
  RoundWatchdog wd(kRoundLimit);
  CondRound r;
  ASSERT_EQ(0, corio_mutex_create(&r.m));
  ASSERT_EQ(0, corio_cond_create(&r.c));
  long killed = 0, signalled = 0, timed_out = 0;
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    r.arrived = 0;
    r.go = false;
    r.jitter = static_cast<long>(rng() % 400);
    CondWaiter ws[4];
    corio_tid tids[4];
    for (int k = 0; k < 4; k++) {
      ws[k] = {&r, rng() % 3 == 0 ? static_cast<int64_t>(rng() % 50) * 1000 : -1};
      ASSERT_EQ(0, corio_rt_spawn(rt, &tids[k], cond_waiter, &ws[k]));
    }
    corio_tid sig;
    ASSERT_EQ(0, corio_rt_spawn(rt, &sig, cond_signaller, &r));
    wd.waiting_for("the four waiters to take the mutex");
    ASSERT_TRUE(eventually([&] { return r.arrived.load() == 4; }));
    unsigned kill_mask = rng() % 81;  // base 3 digits: kill where the digit is not 0
    long kill_jitter = static_cast<long>(rng() % 400);
    r.go.store(true, std::memory_order_release);
    spin(kill_jitter);
    // Twice: the second kill finds the victim queued by the first (or
    // running) and sets "notified" on it, the word a signal then meets.
    for (int pass = 0; pass < 2; pass++) {
      for (int k = 0, m = static_cast<int>(kill_mask); k < 4; k++, m /= 3) {
        if (m % 3 != 0) corio_task_kill(tids[k]);
      }
    }
    for (int k = 0; k < 4; k++) {
      wd.waiting_for("cond waiter " + std::to_string(k) + " (task " + std::to_string(tids[k]) +
                     ", timeout " + std::to_string(ws[k].timeout) + " ns)");
      intptr_t res = join_or_error(rt, tids[k]);
      ASSERT_TRUE(res == 0 || res == -ETIMEDOUT || res == -ECANCELED)
          << "round " << i << " waiter " << k << ": " << res;
      killed += res == -ECANCELED;
      signalled += res == 0;
      timed_out += res == -ETIMEDOUT;
    }
    wd.waiting_for("the signaller");
    ASSERT_EQ(0, join_or_error(rt, sig));
  }
  printf("%ld rounds: %ld signalled, %ld timed out, %ld killed\n", rounds, signalled, timed_out,
         killed);
  EXPECT_GT(signalled, 0);
  EXPECT_GT(killed, 0);
  EXPECT_EQ(0, corio_cond_destroy(r.c));
  EXPECT_EQ(0, corio_mutex_destroy(r.m));
}

struct SemRound {
  corio_sem *s = nullptr;
  std::atomic<bool> go{false};
  long jitter = 0;
};

void *sem_taker(void *arg) { return V(corio_sem_acquire(static_cast<SemRound *>(arg)->s, -1)); }

void *sem_giver(void *arg) {
  SemRound *r = static_cast<SemRound *>(arg);
  for (long i = 0; !r->go.load(std::memory_order_acquire) && i < 100000000; i++) {
    if (i % 64 == 63) corio_task_yield();
  }
  spin(r->jitter);
  return V(corio_sem_release(r->s));
}

// A kill of a task waiting on a semaphore, and at once a release by a task
// on the other worker: the waiter either got the permit (and the count is
// 0) or was cancelled (and the permit is still there) - and it always ends.
TEST_F(SyncRace, KillThenReleaseNeverStrandsASemaphoreWaiter) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::mt19937 rng(race_seed());
  const long rounds = rounds_of(50000, 5000);
  RoundWatchdog wd(kRoundLimit);
  SemRound r;
  ASSERT_EQ(0, corio_sem_create(&r.s, 0));
  long got = 0, cancelled = 0;
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    r.go = false;
    r.jitter = static_cast<long>(rng() % 300);
    corio_tid taker, giver;
    ASSERT_EQ(0, corio_rt_spawn(rt, &taker, sem_taker, &r));
    ASSERT_EQ(0, corio_rt_spawn(rt, &giver, sem_giver, &r));
    long kill_jitter = static_cast<long>(rng() % 300);
    r.go.store(true, std::memory_order_release);
    spin(kill_jitter);
    corio_task_kill(taker);
    corio_task_kill(taker);  // the second one sets "notified" (see above)
    wd.waiting_for("the semaphore's waiter (task " + std::to_string(taker) + ")");
    intptr_t res = join_or_error(rt, taker);
    wd.waiting_for("the releaser");
    ASSERT_EQ(0, join_or_error(rt, giver));
    unsigned v = corio_sem_value(r.s);
    if (res == 0) {
      ASSERT_EQ(0u, v) << "round " << i;
      got++;
    } else {
      ASSERT_EQ(-ECANCELED, res) << "round " << i;
      ASSERT_EQ(1u, v) << "round " << i << ": the permit was lost";
      ASSERT_EQ(0, corio_sem_try_acquire(r.s));
      cancelled++;
    }
  }
  printf("%ld rounds: %ld got the permit, %ld cancelled\n", rounds, got, cancelled);
  EXPECT_GT(cancelled, 0);
  EXPECT_EQ(0, corio_sem_destroy(r.s));
}

// ---- a wake of a whole batch, and the object destroyed at once ------------

// Exactly a batch's worth of waiters or more (the wakers once woke 64, then
// took the object's lock again for the rest).
constexpr int kBatchWaiters = 64;

struct ChanRound {
  corio_chan *ch = nullptr;
  std::atomic<int> arrived{0};
  std::atomic<int> destroyed{0};
  std::mutex lock;
};

// Frees the object as soon as nobody waits on it any more (its destroy
// says -EBUSY before that), from the first woken waiter that finds it so;
// the test's lock only keeps two of them from freeing it twice.
template <class Destroy>
void destroy_when_free(std::mutex &lock, std::atomic<int> &destroyed, Destroy destroy) {
  std::lock_guard<std::mutex> l(lock);
  if (destroyed.load() == 0 && destroy() == 0) destroyed.store(1);
}

// Receives until the close, then frees the channel as early as allowed.
void *chan_first_free_destroys(void *arg) {
  ChanRound *r = static_cast<ChanRound *>(arg);
  r->arrived.fetch_add(1);
  int res = corio_chan_recv(r->ch, nullptr, -1);
  destroy_when_free(r->lock, r->destroyed, [r] { return corio_chan_destroy(r->ch); });
  return V(res);
}

// On one worker a receiver runs from its count to its park in recv without
// a switch, so a task of that worker that sees every receiver counted
// knows that each one waits in the channel's queue: only then is the
// close made (a receiver still on its way into recv when another one
// freed the channel would use it after the free).
struct AllQueued {
  ChanRound *r;
  int n;
  std::atomic<bool> seen{false};
};

void *see_all_queued(void *arg) {
  AllQueued *q = static_cast<AllQueued *>(arg);
  for (long i = 0; q->r->arrived.load() < q->n && i < 100000000; i++) corio_task_yield();
  q->seen = q->r->arrived.load() == q->n;
  return nullptr;
}

// A close (from a plain thread) that wakes 64 receivers touches nothing of
// the channel after its last wake: the first of them to return frees it
// (an ASan build reported a use after free: the closer took the channel's
// lock again after a full batch).
TEST_F(SyncRace, CloseWakesAFullBatchAndAReceiverFreesTheChannelAtOnce) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  const long rounds = rounds_of(300, 40);
  RoundWatchdog wd(kRoundLimit);
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    ChanRound r;
    ASSERT_EQ(0, corio_chan_create(&r.ch, sizeof(int), 0));
    const int n = kBatchWaiters + static_cast<int>(i % 2);  // 64, then 65
    std::vector<corio_tid> tids(n);
    for (int k = 0; k < n; k++) ASSERT_EQ(0, corio_rt_spawn(rt, &tids[k], chan_first_free_destroys, &r));
    AllQueued q{&r, n};
    corio_tid marker;
    ASSERT_EQ(0, corio_rt_spawn(rt, &marker, see_all_queued, &q));
    wd.waiting_for("the receivers to queue");
    ASSERT_EQ(0, join_or_error(rt, marker));
    ASSERT_TRUE(q.seen.load());
    wd.waiting_for("the close");
    ASSERT_EQ(0, corio_chan_close(r.ch));
    for (int k = 0; k < n; k++) {
      wd.waiting_for("receiver " + std::to_string(k));
      ASSERT_EQ(CORIO_CHAN_CLOSED, join_or_error(rt, tids[k])) << "round " << i;
    }
    ASSERT_EQ(1, r.destroyed.load());
  }
}

struct CondBatch {
  corio_mutex *m = nullptr;
  corio_cond *c = nullptr;
  std::atomic<int> arrived{0};
  std::atomic<int> destroyed{0};
  std::mutex lock;
};

// POSIX allows destroying a condition variable as soon as no thread waits
// on it, a broadcast's woken waiters included; so does corio_cond_destroy.
void *cond_first_free_destroys(void *arg) {
  CondBatch *r = static_cast<CondBatch *>(arg);
  corio_mutex_lock(r->m, -1);
  r->arrived.fetch_add(1);
  int res = corio_cond_wait(r->c, r->m, -1);
  corio_mutex_unlock(r->m);
  destroy_when_free(r->lock, r->destroyed, [r] { return corio_cond_destroy(r->c); });
  return V(res);
}

TEST_F(SyncRace, BroadcastToAFullBatchAndAWaiterFreesTheConditionAtOnce) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long rounds = rounds_of(300, 40);
  RoundWatchdog wd(kRoundLimit);
  corio_mutex *m;
  ASSERT_EQ(0, corio_mutex_create(&m));
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    CondBatch r;
    r.m = m;
    ASSERT_EQ(0, corio_cond_create(&r.c));
    const int n = kBatchWaiters + static_cast<int>(i % 2);
    std::vector<corio_tid> tids(n);
    for (int k = 0; k < n; k++) ASSERT_EQ(0, corio_rt_spawn(rt, &tids[k], cond_first_free_destroys, &r));
    wd.waiting_for("the waiters to start");
    ASSERT_TRUE(eventually([&] { return r.arrived.load() == n; }));
    // Every waiter queued itself before it let the mutex go: once the
    // mutex is free after the last arrival, all n wait on the condition.
    wd.waiting_for("the mutex");
    ASSERT_TRUE(eventually([&] {
      if (corio_mutex_trylock(m) != 0) return false;
      corio_mutex_unlock(m);
      return true;
    }));
    wd.waiting_for("the broadcast");
    ASSERT_EQ(n, corio_cond_broadcast(r.c));
    for (int k = 0; k < n; k++) {
      wd.waiting_for("waiter " + std::to_string(k));
      ASSERT_EQ(0, join_or_error(rt, tids[k])) << "round " << i;
    }
    ASSERT_EQ(1, r.destroyed.load());
  }
  EXPECT_EQ(0, corio_mutex_destroy(m));
}

// ---- two joins of one group --------------------------------------------------

int group_child(void *arg) {
  for (int i = 0; i < 3; i++) corio_task_yield();
  static_cast<std::atomic<int> *>(arg)->fetch_add(1);
  return 0;
}

struct GroupRound {
  corio_group *g = nullptr;
  std::atomic<bool> go{false};
};

void *group_joiner(void *arg) {
  GroupRound *r = static_cast<GroupRound *>(arg);
  for (long i = 0; !r->go.load(std::memory_order_acquire) && i < 100000000; i++) {
    if (i % 64 == 63) corio_task_yield();
  }
  return V(corio_group_join(r->g));
}

// Two tasks join one group at the same moment: one joins every child
// (0), the other gets -EINVAL at once, as the API says; before, both
// walked the list and freed the same children (ASan: double free).
TEST_F(SyncRace, TwoJoinsOfOneGroupJoinItOnce) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long rounds = rounds_of(20000, 2000);
  RoundWatchdog wd(kRoundLimit);
  for (long i = 0; i < rounds; i++) {
    wd.round(i);
    GroupRound r;
    std::atomic<int> ran{0};
    ASSERT_EQ(0, corio_group_create(&r.g, rt));
    for (int k = 0; k < 3; k++) ASSERT_EQ(0, corio_group_spawn(r.g, group_child, &ran));
    corio_tid a, b;
    ASSERT_EQ(0, corio_rt_spawn(rt, &a, group_joiner, &r));
    ASSERT_EQ(0, corio_rt_spawn(rt, &b, group_joiner, &r));
    r.go.store(true, std::memory_order_release);
    wd.waiting_for("the two joiners");
    intptr_t ra = join_or_error(rt, a), rb = join_or_error(rt, b);
    ASSERT_TRUE((ra == 0 && rb == -EINVAL) || (ra == -EINVAL && rb == 0))
        << "round " << i << ": " << ra << ", " << rb;
    ASSERT_EQ(3, ran.load());
    ASSERT_EQ(-EINVAL, corio_group_join(r.g));  // and after it, too
    ASSERT_EQ(0, corio_group_destroy(r.g));
  }
}

// ---- destroy while a timed-out waiter is still inside its call -------------

struct Inside {
  corio_chan *ch = nullptr;
  corio_sem *sem = nullptr;
  corio_mutex *mu = nullptr;
  int kind = 0;  // 0 channel, 1 semaphore, 2 mutex
  std::atomic<bool> hog_running{false}, hog_stop{false};
};

void *timed_waiter(void *arg) {
  Inside *in = static_cast<Inside *>(arg);
  int r = in->kind == 0   ? corio_chan_recv(in->ch, nullptr, CORIO_MS(20))
          : in->kind == 1 ? corio_sem_acquire(in->sem, CORIO_MS(20))
                          : corio_mutex_lock(in->mu, CORIO_MS(20));
  return V(r);
}

// Spawned after the waiter on a one-worker runtime: it runs once the
// waiter has parked in its call (queued on the object), and holds the
// worker without yielding until told to stop.
void *hog(void *arg) {
  Inside *in = static_cast<Inside *>(arg);
  in->hog_running = true;
  while (!in->hog_stop.load()) std::atomic_signal_fence(std::memory_order_seq_cst);
  return nullptr;
}

// A waiter whose timeout passed while its worker was busy is decided but
// still inside its call: it will lock the object once more to leave the
// queue.  A peer's operation meanwhile must not unlink it for it, and the
// object's destroy must say -EBUSY until the waiter has returned (it
// returned 0 and freed the object under the waiter: ASan, use after free).
TEST_F(SyncRace, DestroyWaitsForATimedOutWaiterToLeave) {
  for (int kind = 0; kind < 3; kind++) {
    SCOPED_TRACE(kind == 0 ? "channel" : kind == 1 ? "semaphore" : "mutex");
    Rt rt(1);
    ASSERT_EQ(0, rt.rc());
    Inside in;
    in.kind = kind;
    ASSERT_EQ(0, corio_chan_create(&in.ch, sizeof(int), 0));
    ASSERT_EQ(0, corio_sem_create(&in.sem, 0));
    ASSERT_EQ(0, corio_mutex_create(&in.mu));
    if (kind == 2) {
      ASSERT_EQ(0, corio_mutex_trylock(in.mu));  // held by this thread
    }
    auto destroy = [&]() {
      return kind == 0 ? corio_chan_destroy(in.ch) : kind == 1 ? corio_sem_destroy(in.sem)
                                                               : corio_mutex_destroy(in.mu);
    };
    corio_tid w, h;
    ASSERT_EQ(0, corio_rt_spawn(rt, &w, timed_waiter, &in));
    ASSERT_EQ(0, corio_rt_spawn(rt, &h, hog, &in));
    ASSERT_TRUE(eventually([&] { return in.hog_running.load(); }));  // the waiter is queued
    // Its 20 ms timeout passes (the timer thread decides the wait); it
    // cannot run.  Long against the timer thread being late under load.
    std::this_thread::sleep_for(milliseconds(kSanitized ? 1000 : 300));
    // The peer's operation finds no undecided waiter.
    int one = 1;
    if (kind == 0) {
      EXPECT_EQ(-EAGAIN, corio_chan_try_send(in.ch, &one));
    }
    if (kind == 1) {
      EXPECT_EQ(0, corio_sem_release(in.sem));
    }
    if (kind == 2) {
      EXPECT_EQ(0, corio_mutex_unlock(in.mu));
    }
    EXPECT_EQ(-EBUSY, destroy()) << "destroyed while the waiter is still inside its call";
    in.hog_stop = true;
    EXPECT_EQ(-ETIMEDOUT, join_or_error(rt, w));
    EXPECT_EQ(0, join_or_error(rt, h));
    if (kind == 1) {
      EXPECT_EQ(1u, corio_sem_value(in.sem));  // the permit stayed
    }
    if (kind != 0) {
      EXPECT_EQ(0, corio_chan_destroy(in.ch));
    }
    if (kind != 1) {
      EXPECT_EQ(0, corio_sem_destroy(in.sem));
    }
    if (kind != 2) {
      EXPECT_EQ(0, corio_mutex_destroy(in.mu));
    }
    EXPECT_EQ(0, destroy());
  }
}

}  // namespace
