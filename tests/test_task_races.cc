// tests/test_task_races.cc - tight rounds of the scheduler's racing
// operations (suite TaskRace): a kill that meets a task just starting to
// park on another worker, spawns and plain-thread joins racing a shutdown,
// and a child waiting in the run-next slot while its parent computes.
//
// Each race is run many times in a row, bounded by a round count (scaled
// down under the sanitizers), never by wall time.  A lost wake-up shows up
// as a hang: the fixture's watchdog then aborts the process and names the
// test.  What is asserted is deterministic: every round ends, and every
// result is one of the outcomes the API allows.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "corio.h"
#include "support/task_helpers.h"

namespace {

class TaskRace : public TaskBase {};

// ---- a kill that meets a park ----------------------------------------------

// Parks until killed; returns 2 when park said -ECANCELED.
void *park_until_killed(void *arg) {
  static_cast<std::atomic<long> *>(arg)->fetch_add(1);
  for (;;) {
    int r = corio_task_park();
    if (r == -ECANCELED) return V(2);
    if (r != 0) return V(3);
  }
}

struct KillOrder {
  corio_tid victim = 0;
  long jitter = 0;
  std::atomic<int> result{0};
};

// Waits `jitter` spins (so that over the rounds the kill lands anywhere in
// the few microseconds the other worker takes to steal and start the
// victim), then kills.
void *killer(void *arg) {
  KillOrder *k = static_cast<KillOrder *>(arg);
  for (long i = 0; i < k->jitter; i++) std::atomic_signal_fence(std::memory_order_seq_cst);
  k->result.store(corio_task_kill(k->victim));
  return nullptr;
}

// The victim is spawned into the run-next slot; spawning the killer pushes
// the victim to the ring, where the other worker (woken for it) steals it,
// while this worker runs the killer as soon as the main task joins.  So the
// victim starts and parks on one worker while the kill lands from the
// other.  A kill that both sides miss (the killer sees the victim still
// queued, the victim does not see the kill) leaves the victim parked for
// good and the join hangs.
TEST_F(TaskRace, KillOfATaskStartingToParkOnAnotherWorkerIsNeverLost) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const long rounds = scaled(500000, 30000);
  std::atomic<long> started{0};
  long bad = 0, cancelled = 0, unrun = 0;
  run(rt, [&]() -> void * {
    for (long i = 0; i < rounds; i++) {
      KillOrder k;
      k.jitter = (i * 7919) % 8192;
      if (corio_task_spawn(&k.victim, park_until_killed, &started) != 0) {
        bad++;
        continue;
      }
      corio_tid kt = 0;
      if (corio_task_spawn(&kt, killer, &k) != 0) bad++;
      void *v = V(-1);
      int r = corio_task_join(k.victim, &v);
      if (r == -ECANCELED && v == nullptr) {
        unrun++;  // killed before it ever ran
      } else if (r == 0 && I(v) == 2) {
        cancelled++;
      } else {
        bad++;
      }
      if (corio_task_join(kt, nullptr) != 0) bad++;
      if (k.result.load() != 1) bad++;
    }
    return nullptr;
  });
  EXPECT_EQ(0, bad);
  EXPECT_EQ(rounds, cancelled + unrun);
  EXPECT_EQ(cancelled, started.load());
  RecordProperty("victims_that_ran", static_cast<int>(cancelled));
}

// ---- shutdown races -----------------------------------------------------------

// Waits (bounded) until the thread `tid` of this process has started and
// is asleep in the kernel (state S in /proc).
bool thread_blocks(std::atomic<pid_t> &tid) {
  for (int i = 0; i < 200000; i++) {
    pid_t t = tid.load();
    if (t != 0) {
      char path[64];
      snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(t));
      if (FILE *f = fopen(path, "r")) {
        char buf[512];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *p = strrchr(buf, ')');  // the state follows the command
        if (p != nullptr && p[1] == ' ' && p[2] == 'S') {
          // Asleep twice, a millisecond apart: blocked in the join, not in
          // a passing lock.
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          if (FILE *g = fopen(path, "r")) {
            n = fread(buf, 1, sizeof buf - 1, g);
            fclose(g);
            buf[n] = 0;
            p = strrchr(buf, ')');
            if (p != nullptr && p[1] == ' ' && p[2] == 'S') return true;
          }
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return false;
}

struct Storm {
  std::atomic<bool> spawner_saw_shutdown{false};
  std::atomic<long> children{0};
  std::atomic<long> refused{0};
};

// Spawns children that park until killed, until spawning is refused.
void *storm_root(void *arg) {
  Storm *s = static_cast<Storm *>(arg);
  for (;;) {
    corio_tid t = 0;
    int r = corio_task_spawn(&t, park_until_killed, &s->children);
    if (r != 0) {
      if (r == -ESHUTDOWN || r == -ECANCELED) s->refused++;
      return V(r);
    }
    corio_task_detach(t);
    if (corio_task_yield() == -ECANCELED) {
      // Killed: keep spawning until the runtime refuses; a child spawned
      // now must still be killed by the shutdown.
      for (int j = 0; j < 8; j++) {
        if (corio_task_spawn(&t, park_until_killed, &s->children) != 0) break;
        corio_task_detach(t);
      }
      return V(1);
    }
  }
}

// Holds the shutdown (which waits for every task) until the plain-thread
// spawner has been refused once: so that spawner never calls into a runtime
// whose shutdown has returned, while its calls race every earlier step.
void *hold_until_spawner_refused(void *arg) {
  Storm *s = static_cast<Storm *>(arg);
  while (!s->spawner_saw_shutdown.load()) {
    if (corio_task_yield() < 0) std::this_thread::yield();
  }
  return nullptr;
}

// Tasks spawn parking children while the runtime shuts down; a plain thread
// spawns too, and another plain thread is blocked joining a parked task.
// Every child, however late its spawn, must be killed (or refused), the
// joiner must get its result, and shutdown must return: a child published
// after the shutdown's kill scan passed its slot would park for good and
// hang the shutdown; a joiner still touching the task after the id table
// is freed is a use after free (ASan).
TEST_F(TaskRace, SpawnStormsAndAJoinerRaceShutdown) {
  const long rounds = scaled(300, 100);
  std::atomic<long> bad{0};
  for (long round = 0; round < rounds; round++) {
    corio_rt *rt = nullptr;
    corio_rt_opts o{};
    o.workers = 2;
    ASSERT_EQ(0, corio_rt_create(&rt, &o));
    Storm s;
    std::atomic<long> parked{0};
    for (int i = 0; i < 2; i++) {
      corio_tid t = 0;
      if (corio_rt_spawn(rt, &t, storm_root, &s) != 0) bad++;
      corio_task_detach(t);
    }
    corio_tid hold = 0;
    if (corio_rt_spawn(rt, &hold, hold_until_spawner_refused, &s) != 0) bad++;
    corio_task_detach(hold);
    corio_tid target = 0;
    if (corio_rt_spawn(rt, &target, park_until_killed, &parked) != 0) bad++;
    std::atomic<int> join_rc{1};
    std::atomic<pid_t> joiner_tid{0};
    void *join_v = nullptr;
    std::thread joiner([&] {
      joiner_tid = static_cast<pid_t>(syscall(SYS_gettid));
      join_rc = corio_rt_join(rt, target, &join_v);
    });
    // The join must have begun before the shutdown (a call that starts
    // after corio_rt_shutdown has returned uses a freed runtime): wait
    // until the joiner blocks, which it does only once registered.
    if (!thread_blocks(joiner_tid)) bad++;
    std::thread spawner([&] {
      for (;;) {
        corio_tid t = 0;
        int r = corio_rt_spawn(rt, &t, park_until_killed, &s.children);
        if (r == -ESHUTDOWN) break;
        if (r != 0) {
          bad++;
          break;
        }
        corio_task_detach(t);
      }
      s.spawner_saw_shutdown = true;
    });
    // Let the storm grow a little (round-dependent, so the shutdown lands
    // at different points of it).
    for (long spin = 0; spin < (round % 16) * 2000; spin++) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    if (corio_rt_shutdown(rt) != 0) bad++;
    joiner.join();
    spawner.join();
    // Killed while parked (2), or before it ever ran (-ECANCELED, NULL);
    // a joiner the machine delayed past the whole shutdown (the sanitizers'
    // own locks can put it to sleep before it registers) is refused.
    int jr = join_rc.load();
    if (!((jr == 0 && I(join_v) == 2) || (jr == -ECANCELED && join_v == nullptr) ||
          jr == -ESHUTDOWN || jr == -ESRCH))
      bad++;
  }
  EXPECT_EQ(0, bad.load());
}

// ---- the run-next slot ----------------------------------------------------------

void *set_flag(void *arg) {
  static_cast<std::atomic<int> *>(arg)->store(1);
  return nullptr;
}

// A task spawns a child (into this worker's run-next slot) and then
// computes without a suspension point.  The other worker is idle: it must
// take the child and run it meanwhile, not leave it in the slot until the
// parent suspends.
TEST_F(TaskRace, ChildInTheRunNextSlotRunsWhileItsParentComputes) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  const int rounds = static_cast<int>(scaled(20, 5));
  int ran_meanwhile = 0;
  for (int i = 0; i < rounds; i++) {
    // Both workers asleep first.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::atomic<int> flag{0};
    void *seen = run(rt, [&]() -> void * {
      corio_tid t = 0;
      if (corio_task_spawn(&t, set_flag, &flag) != 0) return V(-1);
      // Compute for up to 2 s (no suspension point) or until the child ran.
      auto end = Clock::now() + std::chrono::seconds(2);
      while (flag.load() == 0 && Clock::now() < end) {
      }
      int saw = flag.load();
      corio_task_join(t, nullptr);
      return V(saw);
    });
    if (I(seen) == 1) ran_meanwhile++;
  }
  EXPECT_EQ(rounds, ran_meanwhile);
}

}  // namespace

// ---- runtime work on small task stacks ------------------------------------------

// Uses about `depth` KiB of stack, then yields, spawns and joins from there:
// whatever the runtime does on a task's stack must fit in what is left.
// The direct yield switches from a task's stack to the next task's; it
// must not map stacks, finish tasks or take the injection lock there.
__attribute__((noinline)) intptr_t deep_then_sched(int depth, int rounds) {
  volatile char pad[1024];
  pad[0] = static_cast<char>(depth);
  if (depth > 0) return deep_then_sched(depth - 1, rounds) + pad[0] - static_cast<char>(depth);
  intptr_t bad = 0;
  for (int i = 0; i < rounds; i++) {
    if (corio_task_yield() != 0) bad++;
    corio_tid t = 0;
    if (corio_task_spawn(&t, return_arg, V(i + 1)) != 0) {
      bad++;
      continue;
    }
    void *v = nullptr;
    if (corio_task_join(t, &v) != 0 || I(v) != i + 1) bad++;
  }
  return bad;
}

void *small_stack_task(void *arg) {
  // 16 KiB stacks (20 KiB usable): 10 KiB of frames, the rest for corio.
  return V(deep_then_sched(10, static_cast<int>(I(arg))));
}

TEST_F(TaskRace, SmallestStacksYieldSpawnAndJoinInALoop) {
  Rt rt(2, CORIO_STACK_MIN);
  ASSERT_EQ(0, rt.rc());
  const int rounds = static_cast<int>(scaled(5000, 1000));
  std::vector<corio_tid> tids(4);
  for (corio_tid &t : tids) ASSERT_EQ(0, corio_rt_spawn(rt, &t, small_stack_task, V(rounds)));
  for (corio_tid t : tids) EXPECT_EQ(0, join(rt, t));
}

