// tests/test_samples_echo.cc - fault tests of the echo server
// (samples/echo/echo_server.c) run as a child process: a client that
// resets mid-message, a half-close, a client that sends and never reads, a
// long run of connect/close, a writer of one byte at a time, a 4 MiB
// message, running out of descriptors, and the graceful stop.  The server
// listens on 127.0.0.1:0 and the test reads the port from its "listening
// on" line; the clients are plain blocking sockets (with send and receive
// timeouts) in the test's threads.  Nothing echoed may be wrong or lost for
// a client that stays, and every test ends with a SIGTERM after which the
// server must exit 0 with its stats line.  The binary is found from this
// test's own path: <build>/tests/<this> runs <build>/samples/echo/
// echo_server (the runner is tests/support/server_child.h).  Every wait is
// bounded.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/child.h"
#include "support/server_child.h"
#include "support/task_helpers.h"

namespace {

using corio_test::build_dir;
using corio_test::process_cpu_seconds;
using corio_test::process_rss_kib;
using corio_test::Result;
using corio_test::ServerChild;
using std::chrono::seconds;

// One send or receive of a client: a stalled server fails the test here.
const seconds kIoTimeout{kSanitized ? 30 : 5};
// From the start to the "listening on" line.
const seconds kStartLimit{kSanitized ? 60 : 10};
// The default drain time of the tests, and how long a stop may take beyond
// the server's drain time before the server counts as hung.
constexpr long kDrainMs = 200;
const milliseconds kStopMargin{kSanitized ? 30000 : 5000};
// How far a graceful stop may go beyond the drain time.
const milliseconds kStopPromptness{kSanitized ? 10000 : 1500};

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

std::string server_path() { return build_dir() + "/samples/echo/echo_server"; }

// n bytes of a xorshift sequence: misplaced, lost or repeated bytes show.
std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

// Equal, or where they first differ (not the 4 MiB in full).
::testing::AssertionResult same_bytes(const std::string &want, const std::string &got) {
  if (want == got) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) i++;
  return ::testing::AssertionFailure() << "expected " << want.size() << " bytes, got "
                                       << got.size() << "; first difference at byte " << i;
}

std::string errno_text(const char *what) { return std::string(what) + ": " + strerror(errno); }

// ---- clients ---------------------------------------------------------------

// A client socket, closed at scope exit.
class Conn {
 public:
  Conn() = default;
  explicit Conn(int fd) : fd_(fd) {}
  ~Conn() { close(); }
  Conn(Conn &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Conn &operator=(Conn &&o) noexcept {
    if (this != &o) {
      close();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Conn(const Conn &) = delete;
  Conn &operator=(const Conn &) = delete;

  int fd() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Close with SO_LINGER {1, 0}: the peer gets a RST, not a FIN.
  void reset() {
    struct linger lg = {1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close();
  }

 private:
  int fd_ = -1;
};

// A blocking TCP connection to 127.0.0.1:port with send and receive (and
// connect) timeouts of kIoTimeout; -errno on failure.
int dial_fd(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct timeval tv = {static_cast<time_t>(kIoTimeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<struct sockaddr *>(&sa), sizeof sa) < 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

Conn dial(int port) {
  int fd = dial_fd(port);
  EXPECT_GE(fd, 0) << "connect to port " << port << ": " << strerror(-fd);
  return Conn(fd < 0 ? -1 : fd);
}

// All of data[0, len), in send() calls of at most `chunk` bytes.
::testing::AssertionResult send_all(int fd, const char *data, size_t len,
                                    size_t chunk = SIZE_MAX) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = send(fd, data + done, std::min(len - done, chunk), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return ::testing::AssertionFailure()
             << errno_text("send") << " after " << done << " of " << len << " bytes";
    done += static_cast<size_t>(n);
  }
  return ::testing::AssertionSuccess();
}

// Exactly len bytes into *out (appended).
::testing::AssertionResult recv_exact(int fd, size_t len, std::string *out) {
  char buf[64 * 1024];
  size_t got = 0;
  while (got < len) {
    ssize_t n = recv(fd, buf, std::min(len - got, sizeof buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0)
      return ::testing::AssertionFailure() << "EOF after " << got << " of " << len << " bytes";
    if (n < 0)
      return ::testing::AssertionFailure()
             << errno_text("recv") << " after " << got << " of " << len << " bytes";
    out->append(buf, static_cast<size_t>(n));
    got += static_cast<size_t>(n);
  }
  return ::testing::AssertionSuccess();
}

// Send msg, read its echo, compare.  Only for messages that fit in the
// socket buffers (the send completes before the read starts).
::testing::AssertionResult round_trip(int fd, const std::string &msg) {
  ::testing::AssertionResult r = send_all(fd, msg.data(), msg.size());
  if (!r) return r;
  std::string got;
  r = recv_exact(fd, msg.size(), &got);
  if (!r) return r;
  return same_bytes(msg, got);
}

// Data of any size: a thread sends it (in send() calls of at most `chunk`
// bytes, then shutdown(SHUT_WR) if half_close) while this one reads the
// echo, so that neither side waits for the other; the echo must be
// byte-exact (then EOF, if half_close).
::testing::AssertionResult exchange(int fd, const std::string &data, size_t chunk,
                                    bool half_close = false) {
  std::string send_error;
  std::thread writer([&] {
    ::testing::AssertionResult r = send_all(fd, data.data(), data.size(), chunk);
    if (!r) send_error = r.message();
    if (half_close && shutdown(fd, SHUT_WR) < 0) send_error = errno_text("shutdown");
  });
  std::string got;
  ::testing::AssertionResult r = recv_exact(fd, data.size(), &got);
  if (r && half_close) {
    char c;
    ssize_t n;
    do {
      n = recv(fd, &c, 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n != 0)
      r = ::testing::AssertionFailure()
          << "after the echo: " << (n > 0 ? "an extra byte" : errno_text("recv")) << ", not EOF";
  }
  writer.join();
  if (!send_error.empty()) return ::testing::AssertionFailure() << "writer: " << send_error;
  if (!r) return r;
  return same_bytes(data, got);
}

// Reads, without blocking, what arrives on fds[i] into got[i] (up to `want`
// bytes each; fds[i] < 0 is skipped) for at most `limit`, returning early
// once done() holds.  An EOF or error on a client is a test failure.
template <class Pred>
void gather(const std::vector<int> &fds, std::vector<std::string> *got, size_t want,
            milliseconds limit, Pred done) {
  Clock::time_point end = Clock::now() + limit;
  std::vector<struct pollfd> p;
  std::vector<size_t> which;
  std::vector<bool> dead(fds.size(), false);
  while (!done() && Clock::now() < end) {
    p.clear();
    which.clear();
    for (size_t i = 0; i < fds.size(); i++) {
      if (fds[i] < 0 || dead[i] || (*got)[i].size() >= want) continue;
      p.push_back({fds[i], POLLIN, 0});
      which.push_back(i);
    }
    int k = poll(p.data(), p.size(), 20);  // also just waits when p is empty
    for (size_t j = 0; k > 0 && j < p.size(); j++) {
      if (p[j].revents == 0) continue;
      size_t i = which[j];
      char buf[256];
      ssize_t n = recv(fds[i], buf, std::min(sizeof buf, want - (*got)[i].size()), MSG_DONTWAIT);
      if (n > 0) {
        (*got)[i].append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        ADD_FAILURE() << "client " << i << ": " << (n == 0 ? "EOF" : errno_text("recv"));
        dead[i] = true;
      }
    }
  }
}

// ---- the server ------------------------------------------------------------

using Stats = std::map<std::string, std::string>;

// A field of the stats line as a number; -1 when it is missing.
long long num(const Stats &s, const std::string &key) {
  auto it = s.find(key);
  return it == s.end() ? -1 : std::stoll(it->second);
}

class SamplesEcho : public ::testing::Test {
 protected:
  // Starts the server on a free port of 127.0.0.1 with two workers; port_
  // is the one it reports.  nofile > 0: its RLIMIT_NOFILE.
  void start(long drain_ms = kDrainMs, rlim_t nofile = 0) {
    drain_ms_ = drain_ms;
    server_.reset(new ServerChild({server_path(), "--listen", "127.0.0.1:0", "--workers", "2",
                                   "--drain-ms", std::to_string(drain_ms)},
                                  nofile));
    ASSERT_GT(server_->pid(), 0);
    const std::string mark = "echo_server: listening on ";
    std::string line = server_->wait_line(mark, Clock::now() + kStartLimit);
    ASSERT_FALSE(line.empty()) << "no \"listening on\" line; the log:\n" << server_->log();
    std::string addr = line.substr(line.find(mark) + mark.size());
    addr = addr.substr(0, addr.find(','));
    size_t colon = addr.rfind(':');
    ASSERT_NE(std::string::npos, colon) << line;
    port_ = std::atoi(addr.c_str() + colon + 1);
    ASSERT_GT(port_, 0) << line;
  }

  // The end of every test: SIGTERM; the server must exit 0 within its drain
  // time and a margin, with exactly one stats line.  Its fields.
  Stats stop() {
    Clock::time_point t0 = Clock::now();
    Result r = server_->stop(SIGTERM, milliseconds(drain_ms_) + kStopMargin);
    stop_time_ = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    return check_stopped(r);
  }

  Stats check_stopped(const Result &r) {
    EXPECT_TRUE(r.exited_with(0)) << r;
    const std::string mark = "echo_server: stats: ";
    size_t lines = 0;
    Stats s;
    std::istringstream in(r.err);
    std::string line;
    while (std::getline(in, line)) {
      size_t at = line.find(mark);
      if (at == std::string::npos) continue;
      lines++;
      std::istringstream fields(line.substr(at + mark.size()));
      std::string kv;
      while (fields >> kv) {
        size_t eq = kv.find('=');
        if (eq != std::string::npos) s[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    }
    EXPECT_EQ(1u, lines) << r;
    EXPECT_EQ("TERM", s["signal"]) << r;
    EXPECT_EQ(0, num(s, "shutdown")) << r;
    // The backend it ran on: the one the environment forces (this suite
    // runs again with CORIO_BACKEND=epoll), else io_uring.
    const char *env = getenv("CORIO_BACKEND");
    EXPECT_EQ(env != nullptr ? env : "io_uring", s["backend"]) << r;
    return s;
  }

  pid_t pid() const { return server_->pid(); }

  std::unique_ptr<ServerChild> server_;
  int port_ = 0;
  long drain_ms_ = kDrainMs;
  milliseconds stop_time_{0};

 private:
  Watchdog watchdog_;
};

// ---- the faults ------------------------------------------------------------

// Clients that send half a message and reset (some once the server has
// echoed the half and waits in recv, some at once, some while the server
// is still sending to them): the server goes on, and two clients that stay
// are echoed correctly between every two resets.
TEST_F(SamplesEcho, ResetMidMessageLeavesOthersServed) {
  ASSERT_NO_FATAL_FAILURE(start());
  Conn a = dial(port_), b = dial(port_);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(round_trip(a.fd(), pattern(1000, 1)));
  ASSERT_TRUE(round_trip(b.fd(), pattern(1000, 2)));
  const int resets = static_cast<int>(scaled(60, 24));
  int waited_for_echo = 0;
  for (int i = 0; i < resets; i++) {
    Conn r = dial(port_);
    ASSERT_TRUE(r.ok());
    std::string msg = pattern(32 * KiB, static_cast<uint32_t>(100 + i));
    switch (i % 3) {
      case 0: {  // the half, its echo, then the reset: the server is in recv
        ASSERT_TRUE(send_all(r.fd(), msg.data(), msg.size() / 2));
        std::string got;
        ASSERT_TRUE(recv_exact(r.fd(), msg.size() / 2, &got));
        ASSERT_TRUE(same_bytes(msg.substr(0, msg.size() / 2), got));
        waited_for_echo++;
        break;
      }
      case 1:  // the half and the reset at once
        ASSERT_TRUE(send_all(r.fd(), msg.data(), msg.size() / 2));
        break;
      default: {  // as much as fits without reading: the server is in send
        std::string big = pattern(1 * MiB, static_cast<uint32_t>(i));
        size_t sent = 0;
        while (sent < big.size()) {
          ssize_t n = send(r.fd(), big.data() + sent, big.size() - sent,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n <= 0) break;
          sent += static_cast<size_t>(n);
        }
        EXPECT_GT(sent, 0u);
        break;
      }
    }
    r.reset();
    ASSERT_TRUE(round_trip(a.fd(), pattern(1000 + static_cast<size_t>(i), 3 * i)));
    ASSERT_TRUE(round_trip(b.fd(), pattern(5000, 3 * i + 1)));
  }
  ASSERT_TRUE(exchange(a.fd(), pattern(256 * KiB, 7), 64 * KiB));
  ASSERT_TRUE(exchange(b.fd(), pattern(256 * KiB, 8), 64 * KiB));
  a.close();
  b.close();
  Stats s = stop();
  EXPECT_EQ(resets + 2, num(s, "accepted"));
  // A RST that finds the task waiting in recv is counted as a reset.
  EXPECT_GE(num(s, "resets"), waited_for_echo);
}

// A client that sends N bytes and then shuts down its write side still
// gets all N bytes back, then EOF.
TEST_F(SamplesEcho, HalfCloseGetsEverythingEchoedThenEof) {
  ASSERT_NO_FATAL_FAILURE(start());
  Conn c = dial(port_);
  ASSERT_TRUE(c.ok());
  const std::string data = pattern(200 * KiB, 11);
  EXPECT_TRUE(exchange(c.fd(), data, 16 * KiB, /*half_close=*/true));
  c.close();
  Stats s = stop();
  EXPECT_EQ(static_cast<long long>(data.size()), num(s, "bytes_echoed"));
}

// A client that sends and never reads: once the socket buffers are full
// the server stops reading from it (its send blocks), its memory stays
// bounded, and another client is served all along.
TEST_F(SamplesEcho, ClientThatNeverReadsKeepsMemoryBoundedAndOthersServed) {
  ASSERT_NO_FATAL_FAILURE(start());
  Conn other = dial(port_);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(exchange(other.fd(), pattern(256 * KiB, 1), 64 * KiB));  // warm
  const long rss0 = process_rss_kib(pid());
  ASSERT_GT(rss0, 0);

  std::atomic<bool> done{false};
  std::atomic<long> trips{0};
  std::string trip_error;
  std::thread served([&] {
    for (uint32_t i = 0; !done.load(); i++) {
      ::testing::AssertionResult r = round_trip(other.fd(), pattern(4096, i));
      if (!r) {
        trip_error = r.message();
        break;
      }
      trips++;
    }
  });

  Conn slow = dial(port_);
  ASSERT_TRUE(slow.ok());
  const size_t limit = 50 * MiB;
  const std::string chunk = pattern(256 * KiB, 5);
  size_t pushed = 0;
  bool blocked = false;
  long rss_max = rss0;
  std::string push_error;
  Clock::time_point end = Clock::now() + seconds(kSanitized ? 120 : 30);
  while (pushed < limit && Clock::now() < end) {
    ssize_t n = send(slow.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      pushed += static_cast<size_t>(n);
      rss_max = std::max(rss_max, process_rss_kib(pid()));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      struct pollfd p = {slow.fd(), POLLOUT, 0};
      if (poll(&p, 1, 1000) == 0) {  // no room for a second: it is blocked
        blocked = true;
        break;
      }
      continue;
    }
    push_error = errno_text("send");
    break;
  }
  const long trips_during = trips.load();
  rss_max = std::max(rss_max, process_rss_kib(pid()));
  // And the other client is still served while the slow one sits there.
  EXPECT_TRUE(eventually([&] { return trips.load() >= trips_during + 20 || !trip_error.empty(); },
                         milliseconds(kSanitized ? 60000 : 10000)));
  done = true;
  served.join();

  EXPECT_TRUE(push_error.empty()) << push_error;
  EXPECT_TRUE(blocked || pushed >= limit) << "pushed " << pushed << " bytes";
  EXPECT_TRUE(trip_error.empty()) << trip_error;
  EXPECT_GT(trips_during, 0) << "no round trip of the other client during the push";
  EXPECT_LT(rss_max - rss0, static_cast<long>(32 * KiB))
      << "VmRSS " << rss0 << " KiB before, up to " << rss_max << " KiB after " << pushed
      << " bytes pushed by a client that never reads";
  RecordProperty("pushed_bytes", std::to_string(pushed));
  RecordProperty("rss_growth_kib", std::to_string(rss_max - rss0));

  slow.close();
  ASSERT_TRUE(round_trip(other.fd(), pattern(1000, 99)));
  other.close();
  stop();
}

// Thousands of connections opened and closed in a row, then one that
// echoes: every one of them was accepted, and the server still works.
TEST_F(SamplesEcho, ManyConnectCloseInARowThenStillEchoes) {
  ASSERT_NO_FATAL_FAILURE(start());
  const long n = scaled(10000, 2000);
  for (long i = 0; i < n; i++) {
    int fd = dial_fd(port_);
    ASSERT_GE(fd, 0) << "connection " << i << ": " << strerror(-fd);
    close(fd);
  }
  Conn c = dial(port_);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(exchange(c.fd(), pattern(64 * KiB, 3), 16 * KiB));
  c.close();
  Stats s = stop();
  // The accept queue is FIFO: the last one served means all were accepted.
  EXPECT_EQ(n + 1, num(s, "accepted"));
}

// A writer of one byte per send() (TCP_NODELAY: one segment each) gets
// every byte back, in order.
TEST_F(SamplesEcho, OneByteAtATimeEchoedInOrder) {
  ASSERT_NO_FATAL_FAILURE(start());
  Conn c = dial(port_);
  ASSERT_TRUE(c.ok());
  int one = 1;
  ASSERT_EQ(0, setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
  const std::string data = pattern(2000, 21);
  EXPECT_TRUE(exchange(c.fd(), data, 1));
  c.close();
  Stats s = stop();
  EXPECT_EQ(2000, num(s, "bytes_echoed"));
}

// A 4 MiB message, sent and read concurrently, comes back byte-exact.
TEST_F(SamplesEcho, FourMiBMessageEchoedExactly) {
  ASSERT_NO_FATAL_FAILURE(start());
  Conn c = dial(port_);
  ASSERT_TRUE(c.ok());
  const std::string data = pattern(4 * MiB, 31);
  EXPECT_TRUE(exchange(c.fd(), data, 64 * KiB));
  c.close();
  Stats s = stop();
  EXPECT_EQ(static_cast<long long>(data.size()), num(s, "bytes_echoed"));
}

// Out of descriptors (RLIMIT_NOFILE 256, 300 clients): the clients accepted
// are echoed; the rest wait in the backlog; the condition is logged at most
// about once a second and the server does not spin; once clients leave,
// the waiting ones are accepted and echoed.
TEST_F(SamplesEcho, OutOfDescriptorsLoggedRateLimitedNoSpinAndRecovers) {
  ASSERT_NO_FATAL_FAILURE(start(kDrainMs, 256));
  const size_t clients = 300, msg_len = 32;
  std::vector<Conn> conns;
  std::vector<int> fds;
  std::vector<std::string> msgs, got(clients);
  for (size_t i = 0; i < clients; i++) {
    conns.push_back(dial(port_));
    ASSERT_TRUE(conns.back().ok()) << "client " << i;
    fds.push_back(conns.back().fd());
    msgs.push_back(pattern(msg_len, static_cast<uint32_t>(1000 + i)));
    ASSERT_TRUE(send_all(fds.back(), msgs.back().data(), msg_len)) << "client " << i;
  }
  auto echoed = [&] {
    size_t k = 0;
    for (const std::string &g : got) k += g.size() == msg_len;
    return k;
  };
  std::string first = server_->wait_line("echo_server: accept:", Clock::now() + kStartLimit);
  ASSERT_FALSE(first.empty()) << "no \"accept:\" line; the log:\n" << server_->log();
  // Those accepted answer at once; wait until the count settles.
  const milliseconds settle{kSanitized ? 1500 : 300};
  size_t last = SIZE_MAX;
  Clock::time_point changed = Clock::now();
  gather(fds, &got, msg_len, milliseconds(kSanitized ? 60000 : 10000), [&] {
    size_t k = echoed();
    if (k != last) {
      last = k;
      changed = Clock::now();
    }
    return Clock::now() - changed >= settle;
  });
  const size_t accepted = echoed();
  ASSERT_GT(accepted, 0u);
  ASSERT_LT(accepted, clients) << "all accepted: the limit did not bite";
  for (size_t i = 0; i < clients; i++) {
    if (i < accepted) {  // the backlog is FIFO: the first ones
      EXPECT_TRUE(same_bytes(msgs[i], got[i])) << "client " << i;
    } else {
      EXPECT_EQ(0u, got[i].size()) << "client " << i << " of " << accepted << " accepted";
    }
  }

  // Two seconds out of descriptors: few log lines, little CPU, nobody else
  // accepted (the gathering goes on meanwhile).
  const size_t lines0 = server_->count_lines("echo_server: accept:");
  const double cpu0 = process_cpu_seconds(pid());
  auto never = [] { return false; };
  gather(fds, &got, msg_len, milliseconds(1000), never);
  const double cpu1 = process_cpu_seconds(pid());
  gather(fds, &got, msg_len, milliseconds(1000), never);
  const size_t lines1 = server_->count_lines("echo_server: accept:");
  EXPECT_LE(lines1 - lines0, 3u) << server_->log();
  ASSERT_GE(cpu0, 0);
  EXPECT_LT(cpu1 - cpu0, 0.5) << "CPU seconds in one second out of descriptors";
  EXPECT_EQ(accepted, echoed());

  // Free enough descriptors for every waiting client (at least 100).
  const size_t waiting = clients - accepted;
  const size_t closing = std::min(accepted, std::max<size_t>(100, waiting + 20));
  for (size_t i = 0; i < closing; i++) {
    conns[i].close();
    fds[i] = -1;
  }
  gather(fds, &got, msg_len, milliseconds(kSanitized ? 60000 : 10000),
         [&] { return echoed() == clients; });  // the closed ones had theirs
  // (ASSERTs: one timeout each, not one per client.)
  for (size_t i = closing; i < clients; i++)
    ASSERT_TRUE(same_bytes(msgs[i], got[i])) << "client " << i << " (" << waiting << " waited)";
  for (size_t i = closing; i < clients; i++)
    ASSERT_TRUE(round_trip(fds[i], pattern(4000, static_cast<uint32_t>(i)))) << "client " << i;
  conns.clear();
  Stats s = stop();
  EXPECT_EQ(static_cast<long long>(clients), num(s, "accepted"));
  EXPECT_GT(num(s, "fd_exhausted"), 0);
  RecordProperty("accepted_at_limit", std::to_string(accepted));
}

// SIGTERM with idle connections open: the server waits the drain time for
// them, then cancels them and exits 0 with its stats line, promptly.
TEST_F(SamplesEcho, SigtermWithIdleConnectionsExitsAfterTheDrainTime) {
  const long drain = 300;
  ASSERT_NO_FATAL_FAILURE(start(drain));
  const int idle = 8;
  std::vector<Conn> conns;
  for (int i = 0; i < idle; i++) {
    conns.push_back(dial(port_));
    ASSERT_TRUE(conns.back().ok());
    ASSERT_TRUE(round_trip(conns.back().fd(), pattern(100, static_cast<uint32_t>(i))));
  }
  Stats s = stop();
  EXPECT_GE(stop_time_.count(), drain - 10);  // the idle ones got their drain time
  EXPECT_LT(stop_time_.count(), drain + kStopPromptness.count());
  EXPECT_EQ(idle, num(s, "cancelled_at_exit"));
  EXPECT_EQ(idle, num(s, "accepted"));
  for (Conn &c : conns) {  // closed by the server: EOF (or a reset), not silence
    char ch;
    ssize_t n = recv(c.fd(), &ch, 1, 0);
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << strerror(errno);
  }
}

// SIGTERM with connections open that go on and then close: they are still
// served during the drain, new connections are refused, and the server
// exits as soon as they are gone, long before the drain time.
TEST_F(SamplesEcho, SigtermDrainServesOpenConnectionsAndEndsWhenTheyClose) {
  const long drain = 20000;
  ASSERT_NO_FATAL_FAILURE(start(drain));
  std::vector<Conn> conns;
  for (int i = 0; i < 4; i++) {
    conns.push_back(dial(port_));
    ASSERT_TRUE(conns.back().ok());
    ASSERT_TRUE(round_trip(conns.back().fd(), pattern(100, static_cast<uint32_t>(i))));
  }
  server_->send_signal(SIGTERM);
  // The listening socket closes first.
  EXPECT_TRUE(eventually(
      [&] {
        int fd = dial_fd(port_);
        if (fd >= 0) close(fd);
        return fd == -ECONNREFUSED;
      },
      milliseconds(kSanitized ? 60000 : 10000)));
  for (size_t i = 0; i < conns.size(); i++)
    ASSERT_TRUE(exchange(conns[i].fd(), pattern(64 * KiB, static_cast<uint32_t>(50 + i)), 8 * KiB));
  Clock::time_point t0 = Clock::now();
  conns.clear();
  Result r = server_->reap(milliseconds(drain) + kStopMargin);
  milliseconds took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  Stats s = check_stopped(r);
  EXPECT_LT(took.count(), kStopPromptness.count()) << "after the last connection closed";
  EXPECT_EQ(0, num(s, "cancelled_at_exit"));
}

}  // namespace

// SIGQUIT with 900 connections open: the task dump lists every connection
// task by name ("conn 127.0.0.1:PORT"), waiting in recv on its descriptor,
// with its stack up through corio_stream_borrow (named: exported; the
// sample's own static functions show as offsets); SIGUSR1 prints
// the counters; the server serves on through both.
TEST_F(SamplesEcho, SigquitDumpsEveryTaskAndSigusr1PrintsCountersWhileServing) {
  ASSERT_NO_FATAL_FAILURE(start());
  const int kConns = static_cast<int>(scaled(900, 300));
  std::vector<Conn> conns;
  for (int i = 0; i < kConns; i++) {
    conns.push_back(dial(port_));
    ASSERT_TRUE(conns.back().ok()) << "connection " << i;
  }
  // Every one accepted and waiting: a round trip on each.
  for (int i = 0; i < kConns; i++)
    ASSERT_TRUE(round_trip(conns[static_cast<size_t>(i)].fd(), pattern(16, static_cast<uint32_t>(i))));
  server_->send_signal(SIGQUIT);
  auto deadline = Clock::now() + std::chrono::seconds(kSanitized ? 120 : 30);
  ASSERT_NE("", server_->wait_line("corio: end of dump", deadline)) << server_->log();
  const std::string log = server_->log();
  size_t conn_lines = 0, in_recv = 0, stacks = 0;
  std::istringstream in(log);
  std::string line, prev;
  while (std::getline(in, line)) {
    if (line.rfind("task ", 0) == 0 && line.find("\"conn 127.0.0.1:") != std::string::npos) {
      conn_lines++;
      if (line.find(" waiting ") != std::string::npos && line.find(": recv(fd ") != std::string::npos)
        in_recv++;
    }
    if (line.find(" corio_stream_borrow+0x") != std::string::npos) stacks++;
  }
  EXPECT_EQ(static_cast<size_t>(kConns), conn_lines) << log.substr(0, 4000);
  EXPECT_EQ(static_cast<size_t>(kConns), in_recv) << log.substr(0, 4000);
  EXPECT_EQ(static_cast<size_t>(kConns), stacks) << "a corio_stream_borrow frame per connection";
  EXPECT_EQ(1u, server_->count_lines("\"acceptor\" waiting ")) << log.substr(0, 4000);
  // Still serving, then the counters on SIGUSR1.
  for (int i = 0; i < kConns; i += 97)
    ASSERT_TRUE(round_trip(conns[static_cast<size_t>(i)].fd(), pattern(64, 7)));
  server_->send_signal(SIGUSR1);
  std::string counters = server_->wait_line("echo_server: stats (SIGUSR1):", deadline);
  ASSERT_NE("", counters) << server_->log();
  EXPECT_NE(std::string::npos, counters.find(" open=" + std::to_string(kConns) + " ")) << counters;
  ASSERT_TRUE(round_trip(conns[0].fd(), pattern(64, 8)));
  conns.clear();
  Stats s = stop();
  EXPECT_EQ(kConns, num(s, "accepted"));
}
