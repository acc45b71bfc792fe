// tests/test_io_stream.cc - the buffered stream of corio/stream.h and the
// vectored writes of corio/io.h (corio_sendv, corio_writev_all): lines cut
// anywhere by the sender, records over the limit (an error the caller
// answers, nothing taken), exact reads and peeks that a timeout does not
// break, borrowing chunks in place, the buffered writer and its sticky
// errors, short writes, pipes and files, and a reader and a writer task on
// one stream.  Suite IoStream; it runs on both backends.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "support/task_helpers.h"

namespace {

class IoStream : public TaskBase {};

struct Pair {
  int fd[2] = {-1, -1};
  Pair() { EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd)); }
  ~Pair() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
  void close_end(int i) {
    close(fd[i]);
    fd[i] = -1;
  }
};

corio_stream *make(int fd, size_t rbuf = 0, size_t wbuf = 0) {
  corio_stream_opts o{};
  o.read_buffer = rbuf;
  o.write_buffer = wbuf;
  corio_stream *s = nullptr;
  EXPECT_EQ(0, corio_stream_create(&s, fd, &o));
  return s;
}

// Sends `data` in pieces of 1, 2, 3, ... bytes (cycling up to 7), each its
// own send, with a yield between: every line boundary, and "\r\n" itself,
// falls inside a receive somewhere.
void send_in_pieces(int fd, const std::string &data) {
  size_t at = 0, piece = 1;
  while (at < data.size()) {
    size_t n = std::min(piece, data.size() - at);
    EXPECT_EQ(static_cast<ssize_t>(n), corio_send_all(fd, data.data() + at, n, 0, CORIO_FOREVER, nullptr));
    at += n;
    piece = piece % 7 + 1;
    corio_task_yield();
  }
}

TEST_F(IoStream, LinesCutAnywhereComeWholeWithoutTheirNewline) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  std::string data;
  std::vector<std::string> want;
  for (int i = 0; i < 300; i++) {
    std::string line = "line " + std::to_string(i) + std::string(static_cast<size_t>(i % 50), 'x');
    want.push_back(line);
    data += line + (i % 3 == 0 ? "\r\n" : "\n");
  }
  want.push_back("");  // an empty line
  data += "\n";
  want.push_back("last line without newline");
  data += "last line without newline";
  void *r = run(rt, [&]() -> void * {
    corio_tid w = tspawn([&]() -> void * {
      send_in_pieces(p.fd[1], data);
      shutdown(p.fd[1], SHUT_WR);
      return nullptr;
    });
    corio_stream *s = make(p.fd[0], 128);
    char buf[256];
    size_t len = 0;
    size_t got = 0;
    int rc;
    while ((rc = corio_stream_read_line(s, buf, sizeof buf, &len, CORIO_FOREVER)) == 1) {
      EXPECT_LT(got, want.size());
      if (got < want.size()) {
        EXPECT_EQ(want[got], std::string(buf, len)) << "line " << got;
        EXPECT_EQ(len, strlen(buf));  // NUL-terminated
      }
      got++;
    }
    EXPECT_EQ(0, rc);  // the end, not an error
    EXPECT_EQ(want.size(), got);
    EXPECT_EQ(0, corio_stream_read_line(s, buf, sizeof buf, &len, CORIO_FOREVER));  // stays ended
    corio_stream_destroy(s);
    corio_task_join(w, nullptr);
    return V(got);
  });
  EXPECT_EQ(static_cast<intptr_t>(want.size()), I(r));
}

TEST_F(IoStream, ALineOverTheLimitIsEMSGSIZEAndNothingIsTaken) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  std::string longline(100, 'L');
  std::string data = "short\n" + longline + "\n" + "medium line\nafter\n";
  ASSERT_EQ(static_cast<ssize_t>(data.size()), write(p.fd[1], data.data(), data.size()));
  p.close_end(1);
  run(rt, [&]() -> void * {
    corio_stream *s = make(p.fd[0], 64);  // the read buffer bounds a line
    char buf[256];
    size_t len = 0;
    EXPECT_EQ(1, corio_stream_read_line(s, buf, sizeof buf, &len, CORIO_FOREVER));
    EXPECT_STREQ("short", buf);
    // 101 bytes with its newline: above the 64-byte buffer.
    EXPECT_EQ(-EMSGSIZE, corio_stream_read_line(s, buf, sizeof buf, &len, CORIO_FOREVER));
    EXPECT_EQ(-EMSGSIZE, corio_stream_read_line(s, buf, sizeof buf, &len, CORIO_FOREVER));
    // Nothing was taken: the first 10 bytes of the long line come next.
    EXPECT_EQ(10, corio_stream_read(s, buf, 10, CORIO_FOREVER));
    EXPECT_EQ(std::string(10, 'L'), std::string(buf, 10));
    // The caller drops the rest of it: 90 L's and the newline.
    EXPECT_EQ(91, corio_stream_skip_until(s, '\n', CORIO_FOREVER));
    // A line that fits the buffer but not the caller's array: refused,
    // then read whole with a larger array.
    char small[8];
    EXPECT_EQ(-EMSGSIZE, corio_stream_read_line(s, small, sizeof small, &len, CORIO_FOREVER));
    EXPECT_EQ(1, corio_stream_read_line(s, buf, sizeof buf, &len, CORIO_FOREVER));
    EXPECT_STREQ("medium line", buf);
    EXPECT_EQ(6, corio_stream_read_until(s, '\n', buf, sizeof buf, CORIO_FOREVER));
    EXPECT_EQ(0, memcmp("after\n", buf, 6));  // the delimiter is kept
    EXPECT_EQ(0, corio_stream_read_until(s, '\n', buf, sizeof buf, CORIO_FOREVER));
    corio_stream_destroy(s);
    return nullptr;
  });
}

TEST_F(IoStream, ATimedOutReadTakesNothingAndTheNextGetsEverything) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  run(rt, [&]() -> void * {
    corio_stream *s = make(p.fd[0], 256);
    char buf[64];
    size_t len = 0;
    // Half a line, then nothing: the line read times out ...
    EXPECT_EQ(3, corio_send(p.fd[1], "hal", 3, 0, CORIO_FOREVER));
    EXPECT_EQ(-ETIMEDOUT, corio_stream_read_line(s, buf, sizeof buf, &len, CORIO_MS(20)));
    EXPECT_EQ(3u, corio_stream_buffered(s));  // ... and keeps what came
    EXPECT_EQ(3, corio_send(p.fd[1], "f\nX", 3, 0, CORIO_FOREVER));
    EXPECT_EQ(1, corio_stream_read_line(s, buf, sizeof buf, &len, CORIO_FOREVER));
    EXPECT_STREQ("half", buf);
    // An exact read of 5 with 1 byte there: times out, takes nothing.
    EXPECT_EQ(-ETIMEDOUT, corio_stream_read_full(s, buf, 5, CORIO_MS(20), nullptr));
    EXPECT_EQ(1u, corio_stream_buffered(s));
    const void *pk = nullptr;
    EXPECT_EQ(-ETIMEDOUT, corio_stream_peek(s, &pk, 3, CORIO_MS(10)));
    EXPECT_EQ(4, corio_send(p.fd[1], "YZWV", 4, 0, CORIO_FOREVER));
    EXPECT_GE(corio_stream_peek(s, &pk, 3, CORIO_FOREVER), 3);
    EXPECT_EQ(0, memcmp("XYZ", pk, 3));  // peeked, not taken
    size_t got = 99;
    EXPECT_EQ(5, corio_stream_read_full(s, buf, 5, CORIO_FOREVER, &got));
    EXPECT_EQ(5u, got);
    EXPECT_EQ(0, memcmp("XYZWV", buf, 5));
    // The peer ends in the middle of an exact read: -EPIPE; at the start: 0.
    EXPECT_EQ(2, corio_send(p.fd[1], "ab", 2, 0, CORIO_FOREVER));
    shutdown(p.fd[1], SHUT_WR);
    EXPECT_EQ(-EPIPE, corio_stream_read_full(s, buf, 5, CORIO_FOREVER, &got));
    EXPECT_EQ(2u, corio_stream_buffered(s));  // still there to be read
    EXPECT_EQ(2, corio_stream_read(s, buf, sizeof buf, CORIO_FOREVER));
    EXPECT_EQ(0, corio_stream_read_full(s, buf, 5, CORIO_FOREVER, &got));
    EXPECT_EQ(0, corio_stream_read(s, buf, sizeof buf, CORIO_FOREVER));
    corio_stream_destroy(s);
    return nullptr;
  });
}

TEST_F(IoStream, AnExactReadLargerThanTheBufferGoesStraightIn) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  std::string data(200000, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 7 + i / 251);
  run(rt, [&]() -> void * {
    corio_tid w = tspawn([&]() -> void * {
      send_in_pieces(p.fd[1], data.substr(0, 50));
      EXPECT_EQ(static_cast<ssize_t>(data.size() - 50),
                corio_send_all(p.fd[1], data.data() + 50, data.size() - 50, 0, CORIO_FOREVER, nullptr));
      return nullptr;
    });
    corio_stream *s = make(p.fd[0], 64);
    std::string head(10, '\0'), rest(data.size() - 10, '\0');
    EXPECT_EQ(10, corio_stream_read_full(s, &head[0], 10, CORIO_FOREVER, nullptr));
    size_t got = 0;
    EXPECT_EQ(static_cast<ssize_t>(rest.size()),
              corio_stream_read_full(s, &rest[0], rest.size(), CORIO_FOREVER, &got));
    EXPECT_EQ(rest.size(), got);
    EXPECT_TRUE(head + rest == data);
    corio_task_join(w, nullptr);
    corio_stream_destroy(s);
    return nullptr;
  });
}

TEST_F(IoStream, ABorrowedChunkIsLentInPlaceUntilReleased) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  ASSERT_EQ(10, write(p.fd[1], "0123456789", 10));
  run(rt, [&]() -> void * {
    corio_stream *s = make(p.fd[0], 64);
    const void *c = nullptr;
    char buf[16];
    EXPECT_EQ(-EINVAL, corio_stream_release(s, 0));  // nothing lent
    ssize_t n = corio_stream_borrow(s, &c, CORIO_FOREVER);
    EXPECT_EQ(10, n);
    EXPECT_EQ(0, memcmp("0123456789", c, 10));
    // While lent, the read side is the borrower's.
    EXPECT_EQ(-EBUSY, corio_stream_read(s, buf, sizeof buf, CORIO_FOREVER));
    EXPECT_EQ(-EBUSY, corio_stream_borrow(s, &c, CORIO_FOREVER));
    EXPECT_EQ(-EINVAL, corio_stream_release(s, 11));  // more than lent
    EXPECT_EQ(0, corio_stream_release(s, 4));
    // The rest is read again.
    EXPECT_EQ(6, corio_stream_borrow(s, &c, CORIO_FOREVER));
    EXPECT_EQ(0, memcmp("456789", c, 6));
    EXPECT_EQ(0, corio_stream_release(s, 6));
    EXPECT_EQ(-ETIMEDOUT, corio_stream_borrow(s, &c, CORIO_MS(10)));
    EXPECT_EQ(2, write(p.fd[1], "ab", 2));
    EXPECT_EQ(2, corio_stream_borrow(s, &c, CORIO_FOREVER));
    EXPECT_EQ(0, corio_stream_release(s, 0));  // used none: all of it again
    EXPECT_EQ(2, corio_stream_read(s, buf, sizeof buf, CORIO_FOREVER));
    p.close_end(1);
    EXPECT_EQ(0, corio_stream_borrow(s, &c, CORIO_FOREVER));  // the end
    corio_stream_destroy(s);
    return nullptr;
  });
}

// recv without waiting: what the peer has received so far.
std::string drain_now(int fd) {
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) got.append(buf, static_cast<size_t>(n));
  return got;
}

TEST_F(IoStream, WritesStayBufferedUntilAFlushAndLargeOnesGoOutInOrder) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  run(rt, [&]() -> void * {
    corio_stream *s = make(p.fd[0], 0, 64);
    EXPECT_EQ(6, corio_stream_write(s, "hello ", 6, CORIO_FOREVER));
    EXPECT_EQ(4, corio_stream_printf(s, CORIO_FOREVER, "%s%d", "wor", 1));
    EXPECT_EQ(10u, corio_stream_pending(s));
    EXPECT_EQ("", drain_now(p.fd[1]));  // nothing sent yet
    EXPECT_EQ(0, corio_stream_flush(s, CORIO_FOREVER));
    EXPECT_EQ(0u, corio_stream_pending(s));
    EXPECT_EQ("hello wor1", drain_now(p.fd[1]));
    // Filling the buffer sends what was there, then buffers the new bytes.
    std::string a(40, 'a'), b(40, 'b');
    EXPECT_EQ(40, corio_stream_write(s, a.data(), a.size(), CORIO_FOREVER));
    EXPECT_EQ(40, corio_stream_write(s, b.data(), b.size(), CORIO_FOREVER));
    EXPECT_EQ(40u, corio_stream_pending(s));
    EXPECT_EQ(a, drain_now(p.fd[1]));
    // A write of the buffer's size or more goes out at once, behind them.
    std::string big(100, 'B');
    EXPECT_EQ(100, corio_stream_write(s, big.data(), big.size(), CORIO_FOREVER));
    EXPECT_EQ(0u, corio_stream_pending(s));
    EXPECT_EQ(b + big, drain_now(p.fd[1]));
    // printf longer than the buffer.
    std::string longs(150, 'p');
    EXPECT_EQ(153, corio_stream_printf(s, CORIO_FOREVER, "<%s>\n", longs.c_str()));
    EXPECT_EQ(3, corio_stream_puts(s, "end", CORIO_FOREVER));
    EXPECT_EQ(0, corio_stream_flush(s, CORIO_FOREVER));
    EXPECT_EQ("<" + longs + ">\nend", drain_now(p.fd[1]));
    corio_stream_destroy(s);
    return nullptr;
  });
}

TEST_F(IoStream, AClosedPeerIsEPIPEOnceAndForeverWithoutSIGPIPE) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  p.close_end(1);
  run(rt, [&]() -> void * {
    corio_stream *s = make(p.fd[0], 0, 64);
    EXPECT_EQ(3, corio_stream_write(s, "abc", 3, CORIO_FOREVER));  // buffered: fine
    EXPECT_EQ(-EPIPE, corio_stream_flush(s, CORIO_FOREVER));       // no SIGPIPE: we are alive
    EXPECT_EQ(3u, corio_stream_pending(s));                        // not sent
    EXPECT_EQ(-EPIPE, corio_stream_write(s, "d", 1, CORIO_FOREVER));  // sticky
    EXPECT_EQ(-EPIPE, corio_stream_flush(s, CORIO_FOREVER));
    EXPECT_EQ(-EPIPE, corio_stream_printf(s, CORIO_FOREVER, "x"));
    corio_stream_destroy(s);
    return nullptr;
  });
}

TEST_F(IoStream, WritevAllLoopsOverShortWritesAndSaysWhatIsLeftOnATimeout) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  int sz = 4096;
  ASSERT_EQ(0, setsockopt(p.fd[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz));
  std::string parts[3] = {std::string(300000, 'x'), std::string(7, 'y'), std::string(500000, 'z')};
  for (size_t i = 0; i < parts[0].size(); i++) parts[0][i] = static_cast<char>('a' + i % 26);
  size_t total = parts[0].size() + parts[1].size() + parts[2].size();
  run(rt, [&]() -> void * {
    std::string got;
    corio_tid r = tspawn([&]() -> void * {
      char buf[3000];  // small reads: the writer's sends come back short
      while (got.size() < total) {
        ssize_t n = corio_recv(p.fd[1], buf, sizeof buf, 0, CORIO_FOREVER);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      return nullptr;
    });
    struct iovec iov[4] = {{nullptr, 0},
                           {&parts[0][0], parts[0].size()},
                           {&parts[1][0], parts[1].size()},
                           {&parts[2][0], parts[2].size()}};
    size_t sent = 0;
    EXPECT_EQ(static_cast<ssize_t>(total), corio_writev_all(p.fd[0], iov, 4, CORIO_FOREVER, &sent));
    EXPECT_EQ(total, sent);
    for (auto &v : iov) EXPECT_EQ(0u, v.iov_len);  // nothing left
    corio_task_join(r, nullptr);
    EXPECT_TRUE(got == parts[0] + parts[1] + parts[2]);
    // Nobody reads now: a timeout, and iov says exactly what did not go.
    struct iovec again[2] = {{&parts[0][0], parts[0].size()}, {&parts[2][0], parts[2].size()}};
    ssize_t rc = corio_writev_all(p.fd[0], again, 2, CORIO_MS(30), &sent);
    EXPECT_EQ(-ETIMEDOUT, rc);
    EXPECT_LT(sent, parts[0].size() + parts[2].size());
    EXPECT_EQ(parts[0].size() + parts[2].size(), sent + again[0].iov_len + again[1].iov_len);
    EXPECT_EQ(-EINVAL, corio_writev_all(p.fd[0], nullptr, 1, CORIO_FOREVER, nullptr));
    EXPECT_EQ(-EINVAL, corio_writev_all(p.fd[0], iov, -1, CORIO_FOREVER, nullptr));
    EXPECT_EQ(0, corio_writev_all(p.fd[0], iov, 0, CORIO_FOREVER, nullptr));
    return nullptr;
  });
}

TEST_F(IoStream, PipesAndFilesWorkToo) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int pp[2];
  ASSERT_EQ(0, pipe(pp));
  char path[] = "/tmp/corio-stream-XXXXXX";
  int f = mkstemp(path);
  ASSERT_GE(f, 0);
  unlink(path);
  run(rt, [&]() -> void * {
    // A pipe: writev_all falls back to writev; the stream writes with it.
    corio_tid w = tspawn([&]() -> void * {
      corio_stream *ws = make(pp[1], 0, 32);
      for (int i = 0; i < 1000; i++) EXPECT_GT(corio_stream_printf(ws, CORIO_FOREVER, "pipe %d\n", i), 0);
      EXPECT_EQ(0, corio_stream_flush(ws, CORIO_FOREVER));
      corio_stream_destroy(ws);
      close(pp[1]);
      return nullptr;
    });
    corio_stream *rs = make(pp[0], 16);
    char buf[32];
    int n = 0;
    while (corio_stream_read_line(rs, buf, sizeof buf, nullptr, CORIO_FOREVER) == 1) {
      EXPECT_EQ("pipe " + std::to_string(n), std::string(buf));
      n++;
    }
    EXPECT_EQ(1000, n);
    corio_task_join(w, nullptr);
    corio_stream_destroy(rs);
    // A regular file, at its position.
    corio_stream *fs = make(f);
    EXPECT_EQ(13, corio_stream_puts(fs, "one\ntwo\nthree", CORIO_FOREVER));
    EXPECT_EQ(0, corio_stream_flush(fs, CORIO_FOREVER));
    corio_stream_destroy(fs);
    EXPECT_EQ(0, lseek(f, 0, SEEK_SET));
    fs = make(f);
    EXPECT_EQ(1, corio_stream_read_line(fs, buf, sizeof buf, nullptr, CORIO_FOREVER));
    EXPECT_STREQ("one", buf);
    EXPECT_EQ(1, corio_stream_read_line(fs, buf, sizeof buf, nullptr, CORIO_FOREVER));
    EXPECT_EQ(1, corio_stream_read_line(fs, buf, sizeof buf, nullptr, CORIO_FOREVER));
    EXPECT_STREQ("three", buf);
    EXPECT_EQ(0, corio_stream_read_line(fs, buf, sizeof buf, nullptr, CORIO_FOREVER));
    corio_stream_destroy(fs);
    return nullptr;
  });
  close(pp[0]);
  close(f);
}

// One task reads lines from the stream while another writes to it: the
// two sides share nothing but the descriptor (TSan checks that).  The peer
// echoes every line back, so what the reader gets is what the writer sent.
TEST_F(IoStream, AReaderTaskAndAWriterTaskShareOneStream) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Pair p;
  const int lines = static_cast<int>(scaled(20000, 3000));
  intptr_t r = I(run(rt, [&]() -> void * {
    corio_tid echo = tspawn([&]() -> void * {
      char buf[4096];
      ssize_t n;
      while ((n = corio_recv(p.fd[1], buf, sizeof buf, 0, CORIO_FOREVER)) > 0)
        corio_send_all(p.fd[1], buf, static_cast<size_t>(n), 0, CORIO_FOREVER, nullptr);
      shutdown(p.fd[1], SHUT_WR);
      return nullptr;
    });
    corio_stream *s = make(p.fd[0], 512, 512);
    corio_tid writer = tspawn([&]() -> void * {
      for (int i = 0; i < lines; i++) {
        if (corio_stream_printf(s, CORIO_FOREVER, "%d\n", i) < 0) return V(-1);
        if (i % 97 == 0 && corio_stream_flush(s, CORIO_FOREVER) != 0) return V(-2);
      }
      if (corio_stream_flush(s, CORIO_FOREVER) != 0) return V(-3);
      shutdown(p.fd[0], SHUT_WR);
      return nullptr;
    });
    char buf[32];
    int next = 0, bad = 0;
    while (corio_stream_read_line(s, buf, sizeof buf, nullptr, CORIO_FOREVER) == 1) {
      if (atoi(buf) != next) bad++;
      next++;
    }
    void *wr = nullptr;
    corio_task_join(writer, &wr);
    corio_task_join(echo, nullptr);
    corio_stream_destroy(s);
    EXPECT_EQ(nullptr, wr);
    EXPECT_EQ(0, bad);
    return V(next);
  }));
  EXPECT_EQ(lines, r);
}

// A last record without a delimiter that exactly fills the caller's
// limit is a record, not -EMSGSIZE: the end of the stream, not more bytes,
// follows (the stream receives once more to find out).
TEST_F(IoStream, ALastLineExactlyAtTheLimitIsALine) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  Pair q;
  ASSERT_EQ(12, write(q.fd[1], "abc\n12345678", 12));
  q.close_end(1);
  run(rt, [&]() -> void * {
    corio_stream *s = make(q.fd[0], 64);
    char buf[8];
    size_t len = 0;
    EXPECT_EQ(1, corio_stream_read_line(s, buf, 5, &len, CORIO_FOREVER));  // "abc\n": cap - 1
    EXPECT_STREQ("abc", buf);
    EXPECT_EQ(-EMSGSIZE, corio_stream_read_until(s, '\n', buf, 7, CORIO_FOREVER));  // 8 > 7
    EXPECT_EQ(1, corio_stream_read(s, buf, 1, CORIO_FOREVER));
    EXPECT_EQ(7, corio_stream_read_until(s, '\n', buf, 7, CORIO_FOREVER));  // 7 of cap 7, then the end
    EXPECT_EQ(0, memcmp("2345678", buf, 7));
    EXPECT_EQ(0, corio_stream_read_until(s, '\n', buf, 7, CORIO_FOREVER));
    corio_stream_destroy(s);
    return nullptr;
  });
}

TEST_F(IoStream, BadArgumentsAndPlainThreads) {
  corio_stream *s = nullptr;
  EXPECT_EQ(-EINVAL, corio_stream_create(nullptr, 0, nullptr));
  EXPECT_EQ(-EINVAL, corio_stream_create(&s, -1, nullptr));
  corio_stream_opts o{};
  o.read_buffer = CORIO_STREAM_MAX + 1;
  EXPECT_EQ(-EINVAL, corio_stream_create(&s, 0, &o));
  EXPECT_EQ(0, corio_stream_destroy(nullptr));
  EXPECT_EQ(-1, corio_stream_fd(nullptr));
  Pair p;
  ASSERT_EQ(0, corio_stream_create(&s, p.fd[0], nullptr));
  EXPECT_EQ(p.fd[0], corio_stream_fd(s));
  char buf[8];
  // A plain thread may not wait: -EPERM, as every I/O call.
  EXPECT_EQ(-EPERM, corio_stream_read(s, buf, sizeof buf, CORIO_FOREVER));
  EXPECT_EQ(-EINVAL, corio_stream_read_line(s, buf, 1, nullptr, CORIO_FOREVER));
  EXPECT_EQ(-EINVAL, corio_stream_read_until(s, '\n', nullptr, 8, CORIO_FOREVER));
  const void *c;
  EXPECT_EQ(-EMSGSIZE, corio_stream_peek(s, &c, 16 << 10 | 1, CORIO_FOREVER));
  EXPECT_EQ(0, corio_stream_peek(s, &c, 0, CORIO_FOREVER));  // nothing buffered, no wait
  EXPECT_EQ(-EINVAL, corio_stream_puts(s, nullptr, CORIO_FOREVER));
  // Empty reads and writes with no buffer are no-ops, not undefined.
  EXPECT_EQ(0, corio_stream_read_full(s, nullptr, 0, CORIO_FOREVER, nullptr));
  EXPECT_EQ(0, corio_stream_write(s, nullptr, 0, CORIO_FOREVER));
  // A flush that could not start (a plain thread) sent nothing: it does
  // not break the stream.
  EXPECT_EQ(3, corio_stream_write(s, "abc", 3, CORIO_FOREVER));
  EXPECT_EQ(-EPERM, corio_stream_flush(s, CORIO_FOREVER));
  EXPECT_EQ(3u, corio_stream_pending(s));
  EXPECT_EQ(1, corio_stream_write(s, "d", 1, CORIO_FOREVER));  // not sticky
  EXPECT_EQ(0, corio_stream_destroy(s));
}

}  // namespace
