// tests/test_timeouts.cc - the one timeout error (docs/errors.md, "One
// timeout error"): every call of the public API that takes a timeout
// returns -ETIMEDOUT when it passes, whatever the module: I/O (io.h,
// net.h), streams, frames, the sync objects, joins and signal waits.  Suite Timeouts; it runs
// on both backends (the I/O side differs between them).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/task_helpers.h"

namespace {

class Timeouts : public TaskBase {};

TEST_F(Timeouts, EveryTimedCallSaysETIMEDOUT) {
  sigset_t usr2;  // blocked before the runtime's threads start (signal.h)
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  ASSERT_EQ(0, corio_signal_block(&usr2));
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  int lfd = corio_listen("127.0.0.1:0", 0, 0);
  ASSERT_GE(lfd, 0);
  const int64_t t = CORIO_MS(10);
  run(rt, [&]() -> void * {
    char buf[16];
    // corio/io.h
    EXPECT_EQ(-ETIMEDOUT, corio_recv(sv[0], buf, sizeof buf, 0, t));
    EXPECT_EQ(-ETIMEDOUT, corio_read(sv[0], buf, sizeof buf, t));
    EXPECT_EQ(-ETIMEDOUT, corio_recv_all(sv[0], buf, 4, 0, t, nullptr));
    EXPECT_EQ(-ETIMEDOUT, corio_poll(sv[0], POLLIN, t));
    EXPECT_EQ(-ETIMEDOUT, corio_accept(lfd, nullptr, nullptr, 0, t));
    // corio/stream.h
    corio_stream *s = nullptr;
    EXPECT_EQ(0, corio_stream_create(&s, sv[0], nullptr));
    EXPECT_EQ(-ETIMEDOUT, corio_stream_read_line(s, buf, sizeof buf, nullptr, t));
    const void *c;
    EXPECT_EQ(-ETIMEDOUT, corio_stream_borrow(s, &c, t));
    corio_stream_destroy(s);
    // corio/frame.h
    size_t len = 0;
    EXPECT_EQ(-ETIMEDOUT, corio_frame_recv(sv[0], buf, sizeof buf, &len, t));
    // corio/sync.h
    corio_chan *ch = nullptr;
    EXPECT_EQ(0, corio_chan_create(&ch, sizeof(int), 1));
    int v = 0;
    EXPECT_EQ(-ETIMEDOUT, corio_chan_recv(ch, &v, t));
    EXPECT_EQ(0, corio_chan_send(ch, &v, t));
    EXPECT_EQ(-ETIMEDOUT, corio_chan_send(ch, &v, t));  // full
    EXPECT_EQ(0, corio_chan_destroy(ch));
    corio_sem *sem = nullptr;
    EXPECT_EQ(0, corio_sem_create(&sem, 0));
    EXPECT_EQ(-ETIMEDOUT, corio_sem_acquire(sem, t));
    EXPECT_EQ(0, corio_sem_destroy(sem));
    corio_mutex *m = nullptr;
    EXPECT_EQ(0, corio_mutex_create(&m));
    EXPECT_EQ(0, corio_mutex_lock(m, t));
    corio_tid other = tspawn([&]() -> void * { return V(corio_mutex_lock(m, t)); });
    void *r = nullptr;
    EXPECT_EQ(0, corio_task_join(other, &r));
    EXPECT_EQ(-ETIMEDOUT, I(r));
    corio_cond *cv = nullptr;
    EXPECT_EQ(0, corio_cond_create(&cv));
    EXPECT_EQ(-ETIMEDOUT, corio_cond_wait(cv, m, t));
    EXPECT_EQ(0, corio_mutex_unlock(m));
    EXPECT_EQ(0, corio_cond_destroy(cv));
    EXPECT_EQ(0, corio_mutex_destroy(m));
    corio_taskset *ts = nullptr;
    EXPECT_EQ(0, corio_taskset_create(&ts, nullptr));
    EXPECT_EQ(0, corio_taskset_spawn(ts, nullptr, tramp, body([]() -> void * {
      corio_sleep_ms(200);
      return nullptr;
    })));
    EXPECT_EQ(-ETIMEDOUT, corio_taskset_join(ts, t));
    EXPECT_EQ(0, corio_taskset_join(ts, CORIO_FOREVER));
    EXPECT_EQ(0, corio_taskset_destroy(ts));
    // corio/task.h, corio/signal.h
    corio_tid sleeper = tspawn([]() -> void * {
      corio_sleep_ms(200);
      return V(7);
    });
    EXPECT_EQ(-ETIMEDOUT, corio_task_join_timeout(sleeper, &r, t));
    EXPECT_EQ(0, corio_task_join(sleeper, &r));
    EXPECT_EQ(7, I(r));
    EXPECT_EQ(-ETIMEDOUT, corio_signal_wait(&usr2, t));
    return nullptr;
  });
  close(lfd);
  close(sv[0]);
  close(sv[1]);
}

}  // namespace
