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
#include <random>
#include <string>

#include "corio.h"
#include "support/round_watchdog.h"
#include "support/task_helpers.h"

namespace {

class SyncRace : public TaskBase {};

const std::chrono::seconds kRoundLimit{kSanitized ? 60 : 15};

// The round count: `full` (or `sanitized`), times CORIO_RACE_ROUNDS/100
// when that is set (a percentage, for long hunts and quick runs).
long rounds_of(long full, long sanitized) {
  long n = scaled(full, sanitized);
  if (const char *e = getenv("CORIO_RACE_ROUNDS")) n = n * strtol(e, nullptr, 10) / 100;
  return n < 1 ? 1 : n;
}

// A seed printed with the test, so that a failing run's choices can be
// repeated (CORIO_RACE_SEED).
unsigned race_seed() {
  unsigned s = static_cast<unsigned>(std::random_device{}());
  if (const char *e = getenv("CORIO_RACE_SEED")) s = static_cast<unsigned>(strtoul(e, nullptr, 10));
  printf("race seed %u (CORIO_RACE_SEED=%u repeats it)\n", s, s);
  return s;
}

void spin(long n) {
  for (long i = 0; i < n; i++) std::atomic_signal_fence(std::memory_order_seq_cst);
}

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
// waiting is woken, so none may be left behind.
void *cond_signaller(void *arg) {
  CondRound *r = static_cast<CondRound *>(arg);
  for (long i = 0; !r->go.load(std::memory_order_acquire) && i < 100000000; i++) {
    if (i % 64 == 63) corio_task_yield();
  }
  spin(r->jitter);
  corio_cond_signal(r->c);
  corio_cond_signal(r->c);
  corio_task_yield();
  corio_cond_broadcast(r->c);
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

}  // namespace
