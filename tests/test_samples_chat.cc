// tests/test_samples_chat.cc - the chat server (samples/chat/chat_server.c)
// as a child process: 250 clients x 20 lines all delivered to every other
// client in one order, a client that never reads cut off while the others
// get everything, an over-long line answered and dropped, and the shutdown
// on SIGTERM and SIGINT with clients connected.  The clients are
// non-blocking sockets driven by one poll loop in the test; every wait is
// bounded.  Suite SampleChat; it runs on both backends.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/child.h"
#include "support/server_child.h"
#include "support/task_helpers.h"

namespace {

using corio_test::build_dir;
using corio_test::Result;
using corio_test::ServerChild;

class SampleChat : public TaskBase {};

const auto kLimit = std::chrono::seconds(kSanitized ? 120 : 40);

struct Client {
  int fd = -1;
  std::string in;                  // received bytes not yet a whole line
  std::vector<std::string> lines;  // whole lines received
  std::string out;                 // still to send
  bool eof = false;
  explicit Client(int port, int rcvbuf = 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(0, connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a)) << strerror(errno);
    fcntl(fd, F_SETFL, O_NONBLOCK);
  }
  ~Client() {
    if (fd >= 0) close(fd);
  }
  void pump_in() {
    char buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
      in.append(buf, static_cast<size_t>(n));
      size_t at;
      while ((at = in.find('\n')) != std::string::npos) {
        lines.push_back(in.substr(0, at));
        in.erase(0, at + 1);
      }
    }
    if (n == 0 || (n < 0 && errno != EAGAIN)) eof = true;
  }
  void pump_out() {
    while (!out.empty()) {
      ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      out.erase(0, static_cast<size_t>(n));
    }
  }
};

using Clients = std::vector<std::unique_ptr<Client>>;

// Polls every client that is not at its end (reading; writing what it has
// to send, except those in `mute`, which never read) until done() or the
// limit.  True when done() came.
template <class Done>
bool pump(Clients &cs, Done done, std::chrono::seconds limit = kLimit, size_t mute = SIZE_MAX) {
  auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > end) return false;
    std::vector<pollfd> p;
    std::vector<size_t> who;
    for (size_t i = 0; i < cs.size(); i++) {
      if (cs[i]->eof) continue;
      short ev = i == mute ? 0 : POLLIN;
      if (!cs[i]->out.empty()) ev |= POLLOUT;
      if (ev == 0) continue;
      p.push_back({cs[i]->fd, ev, 0});
      who.push_back(i);
    }
    if (poll(p.data(), p.size(), 20) < 0) return false;
    for (size_t k = 0; k < p.size(); k++) {
      Client &c = *cs[who[k]];
      if (p[k].revents & POLLOUT) c.pump_out();
      if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) c.pump_in();
    }
  }
  return true;
}

struct Server {
  ServerChild child;
  int port = 0;
  explicit Server(std::vector<std::string> extra = {})
      : child(args(std::move(extra))) {
    std::string l = child.wait_line("listening on", Clock::now() + kLimit);
    size_t at = l.find("127.0.0.1:");
    EXPECT_NE(std::string::npos, at) << child.log();
    if (at != std::string::npos) port = atoi(l.c_str() + at + 10);
  }
  static std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> a = {build_dir() + "/samples/chat/chat_server", "--listen",
                                  "127.0.0.1:0", "--workers", "2"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

// Connects n clients and waits until the server has every one of them in
// its room: client 0 says "sync" until all others have heard it (a line
// reaches only those in the room when it is sent).  Sync lines are dropped.
Clients join_room(int port, size_t n, int rcvbuf_last = 0) {
  Clients cs;
  for (size_t i = 0; i < n; i++)
    cs.push_back(std::make_unique<Client>(port, i + 1 == n ? rcvbuf_last : 0));
  for (int round = 0; round < 500; round++) {
    cs[0]->out += "sync\n";
    pump(cs, [] { return false; }, std::chrono::seconds(0));
    bool all = pump(
        cs,
        [&] {
          for (size_t i = 1; i < n; i++)
            if (cs[i]->lines.empty()) return false;
          return true;
        },
        std::chrono::seconds(1));
    if (all) break;
  }
  // Let the last sync lines arrive, then forget them.
  pump(cs, [] { return false; }, std::chrono::seconds(0));
  for (auto &c : cs) {
    if (c != cs[0]) {
      EXPECT_FALSE(c->lines.empty()) << "a client never joined";
    }
    c->lines.clear();
  }
  return cs;
}

std::vector<std::string> without_sync(const std::vector<std::string> &v) {
  std::vector<std::string> r;
  for (auto &s : v)
    if (s != "sync") r.push_back(s);
  return r;
}

TEST_F(SampleChat, EveryLineOf250ClientsReachesEveryOtherClientInOneOrder) {
  // A queue that holds every line a client is sent here (249 x 20): on a
  // loaded machine the test's one reading thread may fall behind by more
  // than the default 4096, and the cut-off is the next test's subject.
  Server sv({"--queue", "8192"});
  ASSERT_GT(sv.port, 0);
  const size_t n = kSanitized ? 100 : 250, lines = 20;
  Clients cs = join_room(sv.port, n);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < lines; j++) cs[i]->out += "c" + std::to_string(i) + " " + std::to_string(j) + "\n";
  const size_t want = (n - 1) * lines;
  bool ok = pump(cs, [&] {
    for (auto &c : cs)
      if (without_sync(c->lines).size() < want) return false;
    return true;
  });
  if (!ok) {
    std::string counts;
    for (size_t i = 0; i < n; i++)
      if (without_sync(cs[i]->lines).size() < want)
        counts += " c" + std::to_string(i) + "=" + std::to_string(without_sync(cs[i]->lines).size()) +
                  (cs[i]->eof ? "(ended)" : "") + "/out" + std::to_string(cs[i]->out.size());
    FAIL() << "not every line arrived in time; short:" << counts << "\n" << sv.child.log();
  }
  std::vector<std::string> ref = without_sync(cs[0]->lines);
  for (size_t i = 0; i < n; i++) {
    std::vector<std::string> got = without_sync(cs[i]->lines);
    ASSERT_EQ(want, got.size()) << "client " << i;
    // Each sender's lines in the order sent, none from itself.
    std::map<size_t, size_t> next;
    for (auto &l : got) {
      size_t from = std::stoul(l.substr(1)), seq = std::stoul(l.substr(l.find(' ') + 1));
      ASSERT_NE(i, from) << "client " << i << " got its own line";
      ASSERT_EQ(next[from], seq) << "client " << i << ": line from " << from << " out of order";
      next[from]++;
    }
    // One order for all: client i's lines, less those of client 0 and i,
    // come in the same order as client 0's.
    std::vector<std::string> a, b;
    auto keep = [&](const std::string &l) {
      size_t from = std::stoul(l.substr(1));
      return from != 0 && from != i;
    };
    for (auto &l : ref)
      if (keep(l)) a.push_back(l);
    for (auto &l : got)
      if (keep(l)) b.push_back(l);
    ASSERT_TRUE(a == b) << "client " << i << " saw another order than client 0";
  }
  cs.clear();
  Result r = sv.child.stop(SIGTERM, kLimit);
  EXPECT_TRUE(r.exited_with(0)) << r;
  EXPECT_NE(std::string::npos, r.err.find("cut_off=0")) << r;
}

TEST_F(SampleChat, AClientThatNeverReadsIsCutOffAndTheOthersGetEverything) {
  Server sv({"--queue", "1024"});
  ASSERT_GT(sv.port, 0);
  const size_t n = 6, lines = 3000;
  // The last client reads nothing once joined, with a small receive buffer.
  Clients cs = join_room(sv.port, n, 4096);
  const size_t mute = n - 1;
  std::string pad(100, 'p');
  // In rounds of 100 lines per sender, each round read by every reader
  // before the next is sent: the readers keep up, the mute one does not.
  const size_t round = 100;
  for (size_t from = 0; from < lines; from += round) {
    for (size_t i = 0; i + 1 < n; i++)
      for (size_t j = from; j < from + round; j++)
        cs[i]->out += "c" + std::to_string(i) + " " + std::to_string(j) + " " + pad + "\n";
    const size_t want = (n - 2) * (from + round);
    bool ok = pump(
        cs,
        [&] {
          for (size_t i = 0; i + 1 < n; i++)
            if (without_sync(cs[i]->lines).size() < want) return false;
          return true;
        },
        kLimit, mute);
    ASSERT_TRUE(ok) << "the readers did not get every line of round " << from / round << "\n"
                    << sv.child.log();
  }
  const size_t want = (n - 2) * lines;
  for (size_t i = 0; i + 1 < n; i++) EXPECT_EQ(want, without_sync(cs[i]->lines).size()) << i;
  EXPECT_TRUE(sv.child.wait_line("cut off", Clock::now() + kLimit) != "") << sv.child.log();
  EXPECT_EQ(1u, sv.child.count_lines("cut off")) << sv.child.log();
  // The cut-off client's connection ends: reading now gets its end.
  EXPECT_TRUE(pump(cs, [&] { return cs[mute]->eof; })) << "the slow client was not disconnected";
  cs.clear();
  Result r = sv.child.stop(SIGINT, kLimit);
  EXPECT_TRUE(r.exited_with(0)) << r;
  EXPECT_NE(std::string::npos, r.err.find("cut_off=1")) << r;
}

TEST_F(SampleChat, ALineOverTheLimitIsAnsweredAndDropped) {
  Server sv({"--max-line", "64"});
  ASSERT_GT(sv.port, 0);
  Clients cs = join_room(sv.port, 2);
  cs[0]->out += std::string(200, 'x') + "\nshort\n";
  ASSERT_TRUE(pump(cs, [&] { return !cs[0]->lines.empty() && !without_sync(cs[1]->lines).empty(); }))
      << sv.child.log();
  EXPECT_EQ("! line too long", cs[0]->lines[0]);
  EXPECT_EQ(std::vector<std::string>{"short"}, without_sync(cs[1]->lines));
  cs.clear();
  Result r = sv.child.stop(SIGTERM, kLimit);
  EXPECT_TRUE(r.exited_with(0)) << r;
}

void shutdown_with_clients(int sig) {
  Server sv;
  ASSERT_GT(sv.port, 0);
  Clients cs = join_room(sv.port, 10);
  cs[3]->out += "last words\n";
  ASSERT_TRUE(pump(cs, [&] { return !without_sync(cs[4]->lines).empty(); }));
  sv.child.send_signal(sig);
  // Every client is told, then its connection ends.
  ASSERT_TRUE(pump(cs, [&] {
    for (auto &c : cs)
      if (!c->eof) return false;
    return true;
  })) << sv.child.log();
  for (size_t i = 0; i < cs.size(); i++) {
    ASSERT_FALSE(cs[i]->lines.empty()) << i;
    EXPECT_EQ("server shutting down", cs[i]->lines.back()) << "client " << i;
  }
  Result r = sv.child.reap(kLimit);
  EXPECT_TRUE(r.exited_with(0)) << r;
  EXPECT_NE(std::string::npos, r.err.find(sig == SIGINT ? "SIGINT" : "SIGTERM")) << r;
}

TEST_F(SampleChat, SIGTERMTellsEveryClientAndExitsZero) { shutdown_with_clients(SIGTERM); }
TEST_F(SampleChat, SIGINTTellsEveryClientAndExitsZero) { shutdown_with_clients(SIGINT); }

}  // namespace
