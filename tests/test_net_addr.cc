// tests/test_net_addr.cc - addresses as strings (corio/net.h): parsing and
// the reason for each refusal, formatting, name lookup, listening and
// dialling by name, abstract Unix sockets, peer names (suite NetAddr; it
// runs on both backends).
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "corio.h"
#include "support/task_helpers.h"

namespace {

class NetAddr : public TaskBase {};

std::string formatted(const char *addr) {
  sockaddr_storage ss;
  socklen_t len;
  int r = corio_addr_parse(addr, &ss, &len);
  if (r != 0) return "error " + std::to_string(r);
  char buf[160];
  r = corio_addr_format(reinterpret_cast<sockaddr *>(&ss), len, buf, sizeof buf);
  return r == 0 ? std::string(buf) : "format error " + std::to_string(r);
}

TEST_F(NetAddr, EveryNotationParsesAndFormatsBack) {
  EXPECT_EQ("127.0.0.1:45000", formatted("127.0.0.1:45000"));
  EXPECT_EQ("0.0.0.0:7002", formatted(":7002"));
  EXPECT_EQ("0.0.0.0:7002", formatted("7002"));
  EXPECT_EQ("0.0.0.0:0", formatted("0"));
  EXPECT_EQ("[::1]:80", formatted("[::1]:80"));
  EXPECT_EQ("[::]:0", formatted("[::]:0"));
  EXPECT_EQ("unix:/tmp/x.sock", formatted("unix:/tmp/x.sock"));
  EXPECT_EQ("unix:@corio-name", formatted("unix:@corio-name"));
  EXPECT_EQ(nullptr, corio_addr_error("127.0.0.1:1"));
  EXPECT_EQ(nullptr, corio_addr_error("unix:@x"));
  char small[4];
  sockaddr_storage ss;
  socklen_t len;
  ASSERT_EQ(0, corio_addr_parse("127.0.0.1:45000", &ss, &len));
  EXPECT_EQ(-ENOSPC, corio_addr_format(reinterpret_cast<sockaddr *>(&ss), len, small, sizeof small));
  EXPECT_EQ(-EINVAL, corio_addr_format(reinterpret_cast<sockaddr *>(&ss), 2, small, sizeof small));
  EXPECT_EQ(-EINVAL, corio_addr_parse("1:1", nullptr, &len));
}

struct Bad {
  const char *addr;
  int err;
  const char *why;  // a part of corio_addr_error's words
};

TEST_F(NetAddr, EachRefusalSaysWhatIsWrong) {
  std::string longpath = "unix:/" + std::string(200, 'a');
  std::string longname = "unix:@" + std::string(108, 'a');
  const Bad bad[] = {
      {"", -EINVAL, "empty address"},
      {"localhost", -EINVAL, "missing port"},
      {"127.0.0.1", -EINVAL, "missing port"},
      {"127.0.0.1:", -EINVAL, "missing port after ':'"},
      {"127.0.0.1:65536", -EINVAL, "out of range"},
      {"127.0.0.1:999999", -EINVAL, "out of range"},
      {"1.2.3.4:8x", -EINVAL, "not a number"},
      {"::1:80", -EINVAL, "brackets"},
      {"[::1]80", -EINVAL, "expected ':PORT' after ']'"},
      {"[::1:80", -EINVAL, "without ']'"},
      {"[1.2.3.4]:80", -EINVAL, "not an IPv6 address"},
      {"1.2.3:80", -EINVAL, "not an IPv4 address"},
      {"300.1.1.1:80", -EINVAL, "not an IPv4 address"},
      {"bad_host!:80", -EINVAL, "neither an IP address nor a valid name"},
      {"-lead.example:80", -EINVAL, "neither"},
      {"unix:", -EINVAL, "empty Unix path"},
      {"unix:@", -EINVAL, "empty abstract"},
      {"localhost:80", -EINVAL, "is a name"},
      {longpath.c_str(), -ENAMETOOLONG, "longer than 107"},
      {longname.c_str(), -ENAMETOOLONG, "longer than 107"},
  };
  for (const Bad &b : bad) {
    sockaddr_storage ss;
    socklen_t len;
    EXPECT_EQ(b.err, corio_addr_parse(b.addr, &ss, &len)) << b.addr;
    const char *why = corio_addr_error(b.addr);
    ASSERT_NE(nullptr, why) << b.addr;
    EXPECT_NE(nullptr, strstr(why, b.why)) << b.addr << ": " << why;
  }
  EXPECT_NE(nullptr, corio_addr_error(nullptr));
  // What corio_listen says for the same mistakes.
  EXPECT_EQ(-EINVAL, corio_listen("localhost", 0, 0));
  EXPECT_EQ(-EINVAL, corio_listen("::1:80", 0, 0));
}

bool is_loopback(const corio_sockaddr &a) {
  if (a.ss.ss_family == AF_INET)
    return ntohl(reinterpret_cast<const sockaddr_in *>(&a.ss)->sin_addr.s_addr) >> 24 == 127;
  if (a.ss.ss_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6 *>(&a.ss)->sin6_addr);
  return false;
}

// localhost is looked up (in the pool from a task, directly from a
// thread) and every address it has is a loopback one with the port asked.
TEST_F(NetAddr, NamesResolveFromTasksAndThreads) {
  corio_sockaddr out[8];
  int n = corio_addr_resolve("localhost:4242", out, 8);
  ASSERT_GE(n, 1);
  for (int i = 0; i < n; i++) {
    EXPECT_TRUE(is_loopback(out[i])) << i;
    in_port_t p = out[i].ss.ss_family == AF_INET
                      ? reinterpret_cast<sockaddr_in *>(&out[i].ss)->sin_port
                      : reinterpret_cast<sockaddr_in6 *>(&out[i].ss)->sin6_port;
    EXPECT_EQ(4242, ntohs(p));
  }
  EXPECT_EQ(1, corio_addr_resolve("10.1.2.3:9", out, 8));  // numeric: itself
  EXPECT_EQ(-EINVAL, corio_addr_resolve("localhost", out, 8));
  EXPECT_EQ(-EINVAL, corio_addr_resolve("localhost:1", out, 0));
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  EXPECT_EQ(n, I(run(rt, [&]() -> void * {
              corio_sockaddr in_task[8];
              return V(corio_addr_resolve("localhost:4242", in_task, 8));
            })));
}

// corio_listen and corio_dial take names and every notation: a listener on
// "localhost:0" is on 127.0.0.1 (the first IPv4 address), a dial of
// "localhost:PORT" reaches it whichever address the resolver lists first
// (the others are tried in turn), and the accepted socket's peer name is
// the dialler's local name.
TEST_F(NetAddr, ListenAndDialByNameAndPeerNames) {
  int lfd = corio_listen("localhost:0", 16, 0);
  ASSERT_GE(lfd, 0) << strerror(-lfd);
  char name[128];
  ASSERT_EQ(0, corio_sock_name(lfd, name, sizeof name));
  std::string lname = name;
  ASSERT_EQ(0u, lname.rfind("127.0.0.1:", 0)) << lname;
  std::string port = lname.substr(lname.find(':') + 1);
  EXPECT_EQ(-ENOTCONN, corio_peer_name(lfd, name, sizeof name));
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::string dialled_local, accepted_peer;
  void *r = run(rt, [&]() -> void * {
    int c = corio_dial(("localhost:" + port).c_str(), CORIO_MS(5000));
    if (c < 0) return V(c);
    int a = corio_accept(lfd, nullptr, nullptr, 0, CORIO_MS(5000));
    if (a < 0) return V(a);
    char buf[128];
    if (corio_sock_name(c, buf, sizeof buf) == 0) dialled_local = buf;
    if (corio_peer_name(a, buf, sizeof buf) == 0) accepted_peer = buf;
    corio_close(a);
    corio_close(c);
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  EXPECT_FALSE(dialled_local.empty());
  EXPECT_EQ(dialled_local, accepted_peer);
  close(lfd);
  // ":0": every interface, reachable at 127.0.0.1.
  lfd = corio_listen(":0", 16, 0);
  ASSERT_GE(lfd, 0);
  ASSERT_EQ(0, corio_sock_name(lfd, name, sizeof name));
  lname = name;
  ASSERT_EQ(0u, lname.rfind("0.0.0.0:", 0)) << lname;
  port = lname.substr(lname.find(':') + 1);
  EXPECT_EQ(0, I(run(rt, [&]() -> void * {
              int c = corio_dial(("127.0.0.1:" + port).c_str(), CORIO_MS(5000));
              if (c < 0) return V(c);
              corio_close(c);
              return V(0);
            })));
  close(lfd);
}

// An abstract Unix socket: no file, the name formats back with '@'.
TEST_F(NetAddr, AbstractUnixSocketsListenAndDial) {
  std::string addr = "unix:@corio-test-" + std::to_string(getpid());
  int lfd = corio_listen(addr.c_str(), 4, 0);
  ASSERT_GE(lfd, 0) << strerror(-lfd);
  char name[128];
  ASSERT_EQ(0, corio_sock_name(lfd, name, sizeof name));
  EXPECT_EQ(addr, std::string(name));
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  EXPECT_EQ(0, I(run(rt, [&]() -> void * {
              int c = corio_dial(addr.c_str(), CORIO_MS(5000));
              if (c < 0) return V(c);
              int a = corio_accept(lfd, nullptr, nullptr, 0, CORIO_MS(5000));
              if (a < 0) return V(a);
              char b[8] = {0};
              if (corio_send_all(c, "hi", 2, 0, CORIO_MS(5000), nullptr) != 2) return V(-1);
              if (corio_recv(a, b, sizeof b, 0, CORIO_MS(5000)) != 2) return V(-2);
              corio_close(a);
              corio_close(c);
              return V(strcmp(b, "hi") == 0 ? 0 : -3);
            })));
  close(lfd);
}

// A dial of a port nobody listens on, by name: every address is tried
// and refused, and the last refusal is the answer.
TEST_F(NetAddr, DialOfANameWithNoListenerIsRefused) {
  int lfd = corio_listen("127.0.0.1:0", 1, 0);
  ASSERT_GE(lfd, 0);
  char name[64];
  ASSERT_EQ(0, corio_sock_name(lfd, name, sizeof name));
  close(lfd);  // the port is free now (nobody listens)
  std::string port = std::string(name).substr(std::string(name).find(':') + 1);
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  EXPECT_EQ(-ECONNREFUSED,
            I(run(rt, [&]() -> void * { return V(corio_dial(("localhost:" + port).c_str(), CORIO_MS(5000))); })));
}

}  // namespace
