// tests/test_sync_send.cc - the seed's bridges between coroutines, tasks
// and threads (corio/sync.h): the synchronized send (suite SyncSend: the
// course's concurrent senders, arrival order, timeouts, kills, close and throw
// taking their turn, the course's cycle) and threaded() (suite Threaded:
// forwarding to a coroutine driven by another thread, backpressure, close,
// a target that finishes early).
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "corio.h"
#include "support/round_watchdog.h"
#include "support/task_helpers.h"

namespace {

class SyncSend : public TaskBase {
 protected:
  // A task sends 0 into `co`, which makes the sink sleep inside it (the
  // task's chain suspends while it holds the coroutine): `co` is busy
  // until the returned task's send returns.
  corio_tid hold(corio_rt *rt, corio_coro *co) {
    corio_tid t = spawn(rt, [co]() -> void * {
      return V(corio_coro_send_wait(co, V(0), nullptr, CORIO_FOREVER));
    });
    EXPECT_TRUE(eventually([&] { return corio_coro_state(co) == CORIO_CORO_RUNNING; }));
    return t;
  }
};
class Threaded : public TaskBase {};

// A target that records what it receives.  In a task, value % 16 == 0
// makes it suspend the whole chain (a scheduler yield) while it holds the
// coroutine: concurrent senders then find it busy.
struct Sink {
  std::vector<long> got;  // written only by the one running the body
  std::atomic<long> closes{0};
  std::atomic<long> throws{0};
  long hold_ms = 0;       // sleep (in a task) on value 0
  long finish_after = -1; // return after this many items
};

void *sink_body(void *arg) {
  Sink *s = static_cast<Sink *>(arg);
  for (;;) {
    void *in = nullptr;
    int r = corio_coro_yield(nullptr, &in);
    if (r == -ECANCELED) {
      s->closes++;
      return nullptr;
    }
    if (r < 0) {
      s->throws++;
      s->got.push_back(r);
      continue;
    }
    long v = static_cast<long>(I(in));
    s->got.push_back(v);
    if (corio_task_id() != 0) {
      if (v == 0 && s->hold_ms > 0) corio_sleep_ms(s->hold_ms);
      else if (v % 16 == 0) corio_task_yield();
    }
    if (s->finish_after > 0 && long(s->got.size()) >= s->finish_after) return V(99);
  }
}

TEST_F(SyncSend, UncontendedIsAPlainSend) {
  Sink s;
  corio_coro *co;
  ASSERT_EQ(0, corio_coro_create(&co, sink_body, &s, nullptr));
  void *out = V(5);
  EXPECT_EQ(CORIO_YIELDED, corio_coro_send_wait(co, V(1), &out, CORIO_FOREVER));
  EXPECT_EQ(nullptr, out);
  EXPECT_EQ(CORIO_YIELDED, corio_coro_send_wait(co, V(2), nullptr, 0));  // timeout 0: free, so it runs
  EXPECT_EQ(CORIO_YIELDED, corio_coro_throw_wait(co, -EIO, nullptr, CORIO_FOREVER));
  EXPECT_EQ(-EINVAL, corio_coro_throw_wait(co, 5, nullptr, CORIO_FOREVER));
  EXPECT_EQ(0, corio_coro_close_wait(co, CORIO_FOREVER));
  EXPECT_EQ(1, s.closes.load());
  EXPECT_EQ(-EPIPE, corio_coro_send_wait(co, V(3), nullptr, CORIO_FOREVER));
  EXPECT_EQ(0, corio_coro_close_wait(co, CORIO_FOREVER));  // already finished
  EXPECT_EQ(-EINVAL, corio_coro_send_wait(nullptr, V(3), nullptr, CORIO_FOREVER));
  ASSERT_EQ(3u, s.got.size());
  EXPECT_EQ(1, s.got[0]);
  EXPECT_EQ(2, s.got[1]);
  EXPECT_EQ(-EIO, s.got[2]);
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// A send into a coroutine already on the caller's chain is a
// cycle; it fails at once (it would wait for itself for ever).
void *self_sender(void *arg) {
  corio_coro **me = static_cast<corio_coro **>(arg);
  void *in;
  corio_coro_yield(nullptr, &in);
  int r = corio_coro_send_wait(*me, V(1), nullptr, CORIO_FOREVER);
  corio_coro_yield(V(r), &in);
  return nullptr;
}

struct Pair {
  corio_coro *a = nullptr, *b = nullptr;
};

void *pair_a(void *arg) {  // a sends to b, which sends back to a
  Pair *p = static_cast<Pair *>(arg);
  void *in, *out = nullptr;
  corio_coro_yield(nullptr, &in);
  corio_coro_send_wait(p->b, V(1), &out, CORIO_FOREVER);
  corio_coro_yield(out, &in);
  return nullptr;
}

void *pair_b(void *arg) {
  Pair *p = static_cast<Pair *>(arg);
  void *in;
  corio_coro_yield(nullptr, &in);
  int r = corio_coro_send_wait(p->a, V(2), nullptr, CORIO_FOREVER);
  corio_coro_yield(V(r), &in);
  return nullptr;
}

TEST_F(SyncSend, ACycleFailsAtOnceWithEDEADLK) {
  corio_coro *me;
  ASSERT_EQ(0, corio_coro_create(&me, self_sender, &me, nullptr));
  void *out = nullptr;
  ASSERT_EQ(CORIO_YIELDED, corio_coro_send(me, nullptr, &out));
  EXPECT_EQ(-EDEADLK, I(out));
  EXPECT_EQ(0, corio_coro_destroy(me));
  Pair p;
  ASSERT_EQ(0, corio_coro_create(&p.a, pair_a, &p, nullptr));
  ASSERT_EQ(0, corio_coro_create(&p.b, pair_b, &p, nullptr));
  out = nullptr;
  ASSERT_EQ(CORIO_YIELDED, corio_coro_send_wait(p.a, nullptr, &out, CORIO_FOREVER));
  EXPECT_EQ(-EDEADLK, I(out));  // b's send to a, which is resuming b
  EXPECT_EQ(0, corio_coro_destroy(p.a));
  EXPECT_EQ(0, corio_coro_destroy(p.b));
}

// The course's crash, made safe: plain threads and tasks on two workers all
// send into one coroutine at once (tasks suspend inside it now and then,
// so it is often busy); every send succeeds and every item arrives
// exactly once.
TEST_F(SyncSend, ManyThreadsAndTasksIntoOneTargetEachItemOnce) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Sink s;
  corio_coro *co;
  ASSERT_EQ(0, corio_coro_create(&co, sink_body, &s, nullptr));
  const int task_senders = 4, thread_senders = 3;
  const long per = scaled(20000, 2000);
  std::atomic<long> failed{0};
  auto sender = [&](int k) {
    for (long i = 0; i < per; i++) {
      long v = 1 + k * per + i;  // never 0: no hold
      if (corio_coro_send_wait(co, V(v), nullptr, CORIO_FOREVER) != CORIO_YIELDED) failed++;
    }
  };
  std::vector<corio_tid> ts;
  for (int k = 0; k < task_senders; k++)
    ts.push_back(spawn(rt, [&, k]() -> void * {
      sender(k);
      return nullptr;
    }));
  std::vector<std::thread> th;
  for (int k = 0; k < thread_senders; k++) th.emplace_back(sender, task_senders + k);
  for (auto &t : th) t.join();
  for (auto t : ts) join(rt, t);
  EXPECT_EQ(0, failed.load());
  const long total = per * (task_senders + thread_senders);
  ASSERT_EQ(size_t(total), s.got.size());
  std::vector<int> seen(total + 1);
  for (long v : s.got) {
    ASSERT_GE(v, 1);
    ASSERT_LE(v, total);
    seen[v]++;
  }
  long wrong = 0;
  for (long v = 1; v <= total; v++) wrong += seen[v] != 1;
  EXPECT_EQ(0, wrong);
  // Each sender's own items arrive in its order (one sender waits for its
  // previous send to return before the next).
  std::vector<long> last(task_senders + thread_senders, 0);
  for (long v : s.got) {
    int k = int((v - 1) / per);
    ASSERT_LT(last[k], v);
    last[k] = v;
  }
  EXPECT_EQ(0, corio_coro_close_wait(co, CORIO_FOREVER));
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// The hand-over race in tight rounds: two plain threads send into one
// coroutine as fast as they can.  A waiter that queues just as the owner
// gives the coroutine back must be seen by one of the two (the
// asymmetric Dekker pair of runtime/turn.c): a miss leaves it asleep with
// the coroutine free, and the watchdog names the hang.
TEST_F(SyncSend, TwoThreadsInTightRoundsNeverStrandAWaiter) {
  Sink s;
  corio_coro *co;
  ASSERT_EQ(0, corio_coro_create(&co, sink_body, &s, nullptr));
  const long per = scaled(300000, 20000);
  std::atomic<long> failed{0};
  auto sender = [&](long base) {
    for (long i = 0; i < per; i++)
      if (corio_coro_send_wait(co, V(base + i), nullptr, CORIO_FOREVER) != CORIO_YIELDED) failed++;
  };
  std::thread a(sender, 1), b(sender, 1 + per);
  a.join();
  b.join();
  EXPECT_EQ(0, failed.load());
  EXPECT_EQ(size_t(2 * per), s.got.size());
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// A holder keeps the target busy (its task sleeps inside it); senders that
// arrive one after the other are served in that order; close and throw
// queue like sends.
TEST_F(SyncSend, WaitersAreServedInArrivalOrderAndCloseTakesItsTurn) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Sink s;
  s.hold_ms = 200;
  corio_coro *co;
  ASSERT_EQ(0, corio_coro_create(&co, sink_body, &s, nullptr));
  std::vector<corio_tid> ts;
  ts.push_back(hold(rt, co));
  EXPECT_EQ(-EBUSY, corio_coro_send(co, V(100), nullptr));  // the plain send refuses
  std::atomic<int> arrived{0};
  for (int i = 1; i <= 5; i++) {
    ts.push_back(spawn(rt, [&, i]() -> void * {
      arrived++;
      if (i == 3) return V(corio_coro_throw_wait(co, -EIO, nullptr, CORIO_FOREVER));
      return V(corio_coro_send_wait(co, V(i), nullptr, CORIO_FOREVER));
    }));
    ASSERT_TRUE(eventually([&] { return arrived.load() == i; }));
    std::this_thread::sleep_for(milliseconds(10));  // into the queue
  }
  // A plain thread queues a close last.
  std::atomic<int> closed{1};
  std::thread closer([&] { closed = corio_coro_close_wait(co, CORIO_FOREVER); });
  std::this_thread::sleep_for(milliseconds(10));
  // And one more send after the close: it finds the coroutine finished.
  corio_tid late = spawn(rt, [&]() -> void * {
    return V(corio_coro_send_wait(co, V(6), nullptr, CORIO_FOREVER));
  });
  closer.join();
  for (auto t : ts) EXPECT_EQ(CORIO_YIELDED, join(rt, t));
  EXPECT_EQ(0, closed.load());
  EXPECT_EQ(-EPIPE, join(rt, late));
  ASSERT_EQ(6u, s.got.size());
  EXPECT_EQ(0, s.got[0]);
  EXPECT_EQ(1, s.got[1]);
  EXPECT_EQ(2, s.got[2]);
  EXPECT_EQ(-EIO, s.got[3]);
  EXPECT_EQ(4, s.got[4]);
  EXPECT_EQ(5, s.got[5]);
  EXPECT_EQ(1, s.closes.load());
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// Waiters that time out or are killed leave the queue: their items never
// arrive, and the coroutine is handed on to the next waiter (or becomes
// free) all the same.
TEST_F(SyncSend, TimeoutAndKillLeaveTheQueueWithoutSending) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Sink s;
  s.hold_ms = 150;
  corio_coro *co;
  ASSERT_EQ(0, corio_coro_create(&co, sink_body, &s, nullptr));
  corio_tid holder = hold(rt, co);
  EXPECT_EQ(-ETIMEDOUT, corio_coro_send_wait(co, V(7), nullptr, 0));  // only tries
  corio_tid timed = spawn(rt, [&]() -> void * {
    return V(corio_coro_send_wait(co, V(8), nullptr, CORIO_MS(20)));
  });
  std::atomic<bool> started{false};
  corio_tid killed = spawn(rt, [&]() -> void * {
    started = true;
    return V(corio_coro_send_wait(co, V(9), nullptr, CORIO_FOREVER));
  });
  int thread_r = 1;
  std::thread th([&] { thread_r = corio_coro_send_wait(co, V(10), nullptr, CORIO_MS(30)); });
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  std::this_thread::sleep_for(milliseconds(10));
  corio_task_kill(killed);
  EXPECT_EQ(-ETIMEDOUT, join(rt, timed));
  EXPECT_EQ(-ECANCELED, join_or_error(rt, killed));
  th.join();
  EXPECT_EQ(-ETIMEDOUT, thread_r);
  EXPECT_EQ(CORIO_YIELDED, join(rt, holder));
  // Free again, and only the holder's item arrived.
  EXPECT_EQ(CORIO_YIELDED, corio_coro_send_wait(co, V(11), nullptr, 0));
  ASSERT_EQ(2u, s.got.size());
  EXPECT_EQ(0, s.got[0]);
  EXPECT_EQ(11, s.got[1]);
  EXPECT_EQ(CORIO_CORO_SUSPENDED, corio_coro_state(co));
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// The holder's item ends the coroutine: everyone queued gets -EPIPE.
TEST_F(SyncSend, WaitersOfACoroutineThatFinishesGetEPIPE) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Sink s;
  s.hold_ms = 100;
  s.finish_after = 1;
  corio_coro *co;
  ASSERT_EQ(0, corio_coro_create(&co, sink_body, &s, nullptr));
  corio_tid holder = hold(rt, co);
  std::vector<corio_tid> ws;
  for (int i = 0; i < 5; i++)
    ws.push_back(spawn(rt, [&, i]() -> void * {
      return V(corio_coro_send_wait(co, V(i + 1), nullptr, CORIO_FOREVER));
    }));
  int thread_r = 1;
  std::thread th([&] { thread_r = corio_coro_send_wait(co, V(50), nullptr, CORIO_FOREVER); });
  EXPECT_EQ(CORIO_FINISHED, join(rt, holder));
  for (auto w : ws) EXPECT_EQ(-EPIPE, join(rt, w));
  th.join();
  EXPECT_EQ(-EPIPE, thread_r);
  EXPECT_EQ(1u, s.got.size());
  void *res = nullptr;
  EXPECT_EQ(0, corio_coro_result(co, &res));
  EXPECT_EQ(99, I(res));
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// Tight rounds: three senders (two tasks, one thread) race into one
// target while one task sender is killed.  Each item arrives exactly when
// its send said so: YIELDED (delivered once) or -ECANCELED (not at all).
TEST_F(SyncSend, KillRacingTheHandOverNeverLosesOrDuplicates) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Sink s;
  corio_coro *co;
  ASSERT_EQ(0, corio_coro_create(&co, sink_body, &s, nullptr));
  const long rounds = scaled(10000, 1000);
  long expected = 0, cancelled = 0;
  for (long i = 0; i < rounds; i++) {
    long base = 1 + i * 4;
    corio_tid a = spawn(rt, [&, base]() -> void * {
      return V(corio_coro_send_wait(co, V(base), nullptr, CORIO_FOREVER));
    });
    std::atomic<bool> started{false};
    corio_tid b = spawn(rt, [&, base]() -> void * {
      started = true;
      return V(corio_coro_send_wait(co, V(base + 1), nullptr, CORIO_FOREVER));
    });
    // Odd rounds: b is on its way in (or queued, or inside) when killed.
    if (i % 2) {
      ASSERT_TRUE(eventually([&] { return started.load(); }));
    }
    for (long j = 0; j < (i * 7) % 300; j++) std::atomic_signal_fence(std::memory_order_seq_cst);
    corio_task_kill(b);
    int tr = corio_coro_send_wait(co, V(base + 2), nullptr, CORIO_FOREVER);
    intptr_t ra = join_or_error(rt, a), rb = join_or_error(rt, b);
    ASSERT_EQ(CORIO_YIELDED, tr);
    ASSERT_EQ(CORIO_YIELDED, ra);
    ASSERT_TRUE(rb == CORIO_YIELDED || rb == -ECANCELED) << rb;
    expected += 2 + (rb == CORIO_YIELDED);
    cancelled += rb != CORIO_YIELDED;
    // What arrived this round: base, base+2, and base+1 only if sent.
    long n1 = 0, n0 = 0, n2 = 0;
    for (size_t k = s.got.size() >= 3 ? s.got.size() - 3 : 0; k < s.got.size(); k++) {
      n0 += s.got[k] == base;
      n1 += s.got[k] == base + 1;
      n2 += s.got[k] == base + 2;
    }
    ASSERT_EQ(1, n0);
    ASSERT_EQ(1, n2);
    ASSERT_EQ(rb == CORIO_YIELDED ? 1 : 0, n1) << "round " << i;
  }
  EXPECT_EQ(size_t(expected), s.got.size());
  printf("sync-send kill race: %ld of %ld sends cancelled\n", cancelled, rounds);
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// ---- threaded() -------------------------------------------------------------

struct Recorder {
  std::vector<long> got;
  std::vector<int> codes;
  std::thread::id thread;
  std::atomic<bool> closed{false};
  std::atomic<bool> gate{true};  // false: the body waits before each item
  long finish_after = -1;
};

void *recorder_body(void *arg) {
  Recorder *r = static_cast<Recorder *>(arg);
  for (;;) {
    void *in = nullptr;
    int code = corio_coro_yield(nullptr, &in);
    if (code == -ECANCELED) {
      r->closed = true;
      return nullptr;
    }
    while (!r->gate.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    r->thread = std::this_thread::get_id();
    r->codes.push_back(code);
    r->got.push_back(static_cast<long>(I(in)));
    if (r->finish_after > 0 && long(r->got.size()) >= r->finish_after) return nullptr;
  }
}

TEST_F(Threaded, ForwardsInOrderOnAnotherThreadAndCloseWaits) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Recorder rec;
  corio_coro *target, *bridge;
  ASSERT_EQ(0, corio_coro_create(&target, recorder_body, &rec, nullptr));
  EXPECT_EQ(-EINVAL, corio_threaded(nullptr, target, 0));
  EXPECT_EQ(-EINVAL, corio_threaded(&bridge, nullptr, 0));
  ASSERT_EQ(0, corio_threaded(&bridge, target, 8));
  const long n = scaled(100000, 10000);
  void *r = run(rt, [&]() -> void * {
    for (long i = 1; i <= n; i++) {
      void *out = V(-1);
      if (corio_coro_send(bridge, V(i), &out) != CORIO_YIELDED || out != nullptr) return V(i);
      if (i == n / 2 && corio_coro_throw(bridge, -EIO, nullptr) != CORIO_YIELDED) return V(-2);
    }
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  EXPECT_EQ(0, corio_coro_close(bridge));
  // close returned: everything was delivered, the target closed, the
  // thread joined.
  EXPECT_TRUE(rec.closed.load());
  ASSERT_EQ(size_t(n + 1), rec.got.size());
  long k = 1;
  for (size_t i = 0; i < rec.got.size(); i++) {
    if (rec.codes[i] != 0) {
      EXPECT_EQ(-EIO, rec.codes[i]);
      EXPECT_EQ(size_t(n / 2), i);  // the throw kept its place
      continue;
    }
    ASSERT_EQ(k, rec.got[i]);
    k++;
  }
  EXPECT_NE(std::this_thread::get_id(), rec.thread);
  EXPECT_EQ(0, corio_coro_destroy(bridge));
  EXPECT_EQ(0, corio_coro_destroy(target));
}

// A full queue makes the sender wait: with the target stalled, a plain
// thread gets exactly capacity + 1 items out (one in the target, the rest
// queued) and then waits until the target moves again.
TEST_F(Threaded, AFullQueueMakesTheSenderWait) {
  Recorder rec;
  rec.gate = false;
  corio_coro *target, *bridge;
  ASSERT_EQ(0, corio_coro_create(&target, recorder_body, &rec, nullptr));
  ASSERT_EQ(0, corio_threaded(&bridge, target, 4));
  std::atomic<long> sent{0};
  std::thread producer([&] {
    for (long i = 1; i <= 20; i++) {
      if (corio_coro_send(bridge, V(i), nullptr) != CORIO_YIELDED) return;
      sent++;
    }
  });
  std::this_thread::sleep_for(milliseconds(100));
  // 1 taken by the stalled target + 4 queued; the 6th send waits.
  EXPECT_EQ(5, sent.load());
  rec.gate = true;
  producer.join();
  EXPECT_EQ(20, sent.load());
  EXPECT_EQ(0, corio_coro_destroy(bridge));  // closes: drains, closes target
  EXPECT_EQ(20u, rec.got.size());
  EXPECT_TRUE(rec.closed.load());
  EXPECT_EQ(0, corio_coro_destroy(target));
}

// The target returns after 3 items: the bridge drops (and counts) the
// rest, and a later send finishes the bridge with that count.
TEST_F(Threaded, ATargetThatFinishesEarlyFinishesTheBridge) {
  Recorder rec;
  rec.finish_after = 3;
  corio_coro *target, *bridge;
  ASSERT_EQ(0, corio_coro_create(&target, recorder_body, &rec, nullptr));
  ASSERT_EQ(0, corio_threaded(&bridge, target, 16));
  long queued = 0;
  int r = CORIO_YIELDED;
  void *out = nullptr;
  for (long i = 1; i <= 1000 && r == CORIO_YIELDED; i++) {
    r = corio_coro_send(bridge, V(i), &out);
    if (r == CORIO_YIELDED) queued++;
    if (i == 10) std::this_thread::sleep_for(milliseconds(50));  // let it finish
  }
  ASSERT_EQ(CORIO_FINISHED, r);
  EXPECT_EQ(3u, rec.got.size());
  EXPECT_EQ(queued - 3, long(I(out))) << "every queued item is delivered or counted";
  EXPECT_EQ(-EPIPE, corio_coro_send(bridge, V(1), nullptr));
  EXPECT_FALSE(rec.closed.load());  // it returned on its own
  EXPECT_EQ(0, corio_coro_destroy(bridge));
  EXPECT_EQ(0, corio_coro_destroy(target));
}

// The target hands each item to a task of the runtime through a
// rendezvous channel, so the bridge's thread waits for that task.
struct HandOn {
  corio_chan *ch = nullptr;
};

void *hand_on_body(void *arg) {
  HandOn *h = static_cast<HandOn *>(arg);
  for (;;) {
    void *in = nullptr;
    if (corio_coro_yield(nullptr, &in) != 0) return nullptr;  // closed
    long v = static_cast<long>(I(in));
    if (corio_chan_send(h->ch, &v, CORIO_FOREVER) != 0) return nullptr;
  }
}

// A task closes the bridge on a one-worker runtime while items are still
// queued for a target that hands them to another task of that runtime:
// the close waits for the bridge's thread without holding the worker (it
// used to join the thread on the worker, so the receiving task never ran
// and the close never returned).
TEST_F(Threaded, CloseFromATaskLetsTheOtherTasksOfItsWorkerRun) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  RoundWatchdog wd(std::chrono::seconds(kSanitized ? 60 : 15));
  HandOn h;
  ASSERT_EQ(0, corio_chan_create(&h.ch, sizeof(long), 0));
  corio_coro *target, *bridge;
  ASSERT_EQ(0, corio_coro_create(&target, hand_on_body, &h, nullptr));
  ASSERT_EQ(0, corio_threaded(&bridge, target, 8));
  const long n = 200;
  std::atomic<long> got{0}, sum{0};
  corio_tid consumer = spawn(rt, [&]() -> void * {
    long v;
    while (corio_chan_recv(h.ch, &v, CORIO_FOREVER) == 0) {
      got++;
      sum += v;
    }
    return nullptr;
  });
  corio_tid producer = spawn(rt, [&]() -> void * {
    for (long i = 1; i <= n; i++) {
      if (corio_coro_send(bridge, V(i), nullptr) != CORIO_YIELDED) return V(-i);
    }
    return V(corio_coro_close(bridge));  // from the task, items still queued
  });
  wd.round(0);
  wd.waiting_for("the task that closes the bridge (one worker)");
  EXPECT_EQ(0, join(rt, producer));
  EXPECT_EQ(n, got.load());
  EXPECT_EQ(n * (n + 1) / 2, sum.load());
  EXPECT_EQ(0, corio_chan_close(h.ch));
  wd.waiting_for("the receiving task");
  EXPECT_EQ(0, join(rt, consumer));
  EXPECT_EQ(0, corio_coro_destroy(bridge));
  EXPECT_EQ(0, corio_coro_destroy(target));
  EXPECT_EQ(0, corio_chan_destroy(h.ch));
}

}  // namespace
