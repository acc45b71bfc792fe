// tests/test_frame.cc - framed messages (corio/frame.h): the CRC-32C and
// the header layout, the decoder fed in every kind of piece (one byte at a
// time, random chunks, whole streams), its errors (bad magic, version,
// checksums, oversized, truncated) and its storage bound; then frames over
// descriptors between two tasks (socketpair, pipe), timeouts, closed
// readers, and between processes: a forked child running its own runtime,
// and this binary exec'd as an echo child (the hook at the bottom).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "corio/frame.h"
#include "support/child.h"
#include "support/task_helpers.h"

extern char **environ;

namespace {

using Bytes = std::vector<unsigned char>;

class FrameCodec : public ::testing::Test {};
// The helpers below run task bodies for the fixtures: body() is theirs.
class FrameTasks : public TaskBase {
 public:
  void *keep(Body b) { return body(std::move(b)); }
};
class FrameIo : public FrameTasks {};
class FrameProcess : public FrameTasks {};

constexpr size_t H = CORIO_FRAME_HEADER_SIZE;

// Deterministic contents that differ by size and position.
Bytes payload(size_t n, unsigned seed = 1) {
  Bytes b(n);
  uint32_t x = 2654435761u * (seed + static_cast<uint32_t>(n));
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    b[i] = static_cast<unsigned char>(x >> 24);
  }
  return b;
}

// p[0..len) holds exactly `want` (memcmp may not be given the null data()
// of an empty vector, even for 0 bytes).
bool same(const void *p, size_t len, const Bytes &want) {
  return len == want.size() && (len == 0 || memcmp(p, want.data(), len) == 0);
}

// header + payload, as the sender writes them.
Bytes frame(const Bytes &p) {
  Bytes f(H);
  EXPECT_EQ(0, corio_frame_header(f.data(), p.data(), p.size()));
  f.insert(f.end(), p.begin(), p.end());
  return f;
}

// The sizes of the round trips: the edges of the header, of the one-send
// socket path (4 KiB), of pipe buffers and of the decoder's growth steps,
// up to several MiB.
std::vector<size_t> round_trip_sizes() {
  std::vector<size_t> s;
  for (size_t n = 0; n <= 40; n++) s.push_back(n);
  for (size_t p = 64; p <= (size_t{4} << 20); p *= 2)
    for (size_t d : {p - 1, p, p + 1}) s.push_back(d);
  for (size_t n : {size_t{4080}, size_t{4081}, size_t{(6u << 20) + 5}}) s.push_back(n);
  return s;
}

struct Decoder {
  explicit Decoder(size_t max = 0) { EXPECT_EQ(0, corio_frame_decoder_create(&d, max)); }
  ~Decoder() { corio_frame_decoder_destroy(d); }
  Decoder(const Decoder &) = delete;
  Decoder &operator=(const Decoder &) = delete;
  operator corio_frame_decoder *() const { return d; }
  Bytes held() const {
    const void *p = nullptr;
    size_t n = 0;
    EXPECT_EQ(0, corio_frame_decoder_frame(d, &p, &n));
    EXPECT_NE(nullptr, p);
    const unsigned char *b = static_cast<const unsigned char *>(p);
    return Bytes(b, b + n);
  }
  corio_frame_decoder *d = nullptr;
};

// Feeds `stream` in pieces whose sizes `next_piece` picks; the frames it
// yields, in order.  The stream must be whole frames.
template <class Piece>
std::vector<Bytes> decode_all(const Bytes &stream, Piece next_piece, size_t max = 0) {
  Decoder d(max);
  std::vector<Bytes> out;
  size_t off = 0;
  while (off < stream.size()) {
    size_t k = std::min(next_piece(), stream.size() - off);
    size_t want = corio_frame_decoder_want(d);
    size_t used = 0;
    int r = corio_frame_decoder_feed(d, stream.data() + off, k, &used);
    EXPECT_GE(r, 0) << "at " << off;
    if (r < 0) break;
    EXPECT_LE(used, k);
    if (r == CORIO_FRAME_GOT) {
      out.push_back(d.held());
    } else {
      EXPECT_EQ(k, used);  // no frame: everything was taken
      if (k < want) {
        EXPECT_EQ(want - k, corio_frame_decoder_want(d));
      }
    }
    off += used;
  }
  EXPECT_EQ(CORIO_FRAME_EOF, corio_frame_decoder_end(d));
  return out;
}

// ---- codec ----------------------------------------------------------------

TEST_F(FrameCodec, Crc32cKnownAnswers) {
  EXPECT_EQ(0xE3069283u, corio_frame_crc32c(0, "123456789", 9));
  EXPECT_EQ(0u, corio_frame_crc32c(0, "", 0));
  // RFC 3720 B.4: 32 bytes of zeros, of 0xFF, and 0..31.
  unsigned char b[32];
  memset(b, 0, sizeof b);
  EXPECT_EQ(0x8A9136AAu, corio_frame_crc32c(0, b, sizeof b));
  memset(b, 0xff, sizeof b);
  EXPECT_EQ(0x62A8AB43u, corio_frame_crc32c(0, b, sizeof b));
  for (int i = 0; i < 32; i++) b[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(0x46DD794Eu, corio_frame_crc32c(0, b, sizeof b));
  // Continued in pieces of every split, it is the same CRC.
  Bytes p = payload(1000);
  uint32_t whole = corio_frame_crc32c(0, p.data(), p.size());
  for (size_t cut = 0; cut <= 37; cut++)
    EXPECT_EQ(whole, corio_frame_crc32c(corio_frame_crc32c(0, p.data(), cut), p.data() + cut,
                                        p.size() - cut));
}

TEST_F(FrameCodec, HeaderLayout) {
  unsigned char h[H];
  ASSERT_EQ(0, corio_frame_header(h, "abc", 3));
  EXPECT_EQ(0, memcmp(h, "CRF", 3));
  EXPECT_EQ(CORIO_FRAME_VERSION, h[3]);
  EXPECT_EQ(3, h[4]);
  EXPECT_EQ(0, h[5] | h[6] | h[7]);
  uint32_t crc = corio_frame_crc32c(0, "abc", 3), hcrc = corio_frame_crc32c(0, h, 12);
  for (int i = 0; i < 4; i++) {
    EXPECT_EQ(static_cast<unsigned char>(crc >> (8 * i)), h[8 + i]);
    EXPECT_EQ(static_cast<unsigned char>(hcrc >> (8 * i)), h[12 + i]);
  }
  ASSERT_EQ(0, corio_frame_header(h, "x", 0));  // an empty payload: CRC 0
  EXPECT_EQ(0, h[8] | h[9] | h[10] | h[11]);
  EXPECT_EQ(-EINVAL, corio_frame_header(nullptr, "abc", 3));
  EXPECT_EQ(-EINVAL, corio_frame_header(h, nullptr, 3));
  EXPECT_EQ(0, corio_frame_header(h, nullptr, 0));
  if (sizeof(size_t) > 4) {
    // Refused from the length alone: the payload is not read.
    EXPECT_EQ(-EMSGSIZE, corio_frame_header(h, "abc", CORIO_FRAME_MAX_LIMIT + 1));
    corio_frame_decoder *d = nullptr;
    EXPECT_EQ(-EINVAL, corio_frame_decoder_create(&d, CORIO_FRAME_MAX_LIMIT + 1));
  }
}

TEST_F(FrameCodec, DecoderOneByteAtATime) {
  Bytes stream;
  std::vector<Bytes> sent;
  for (size_t n : {0, 1, 2, 15, 16, 17, 0, 1000, 70000, 0, 200000}) {
    sent.push_back(payload(n, static_cast<unsigned>(sent.size())));
    Bytes f = frame(sent.back());
    stream.insert(stream.end(), f.begin(), f.end());
  }
  EXPECT_EQ(sent, decode_all(stream, [] { return size_t{1}; }));
}

TEST_F(FrameCodec, DecoderRandomPiecesAndWholeStreams) {
  std::mt19937 rng(7);
  Bytes stream;
  std::vector<Bytes> sent;
  for (int i = 0; i < 300; i++) {
    size_t n = rng() % 3 == 0 ? rng() % 20 : rng() % 100000;
    sent.push_back(payload(n, static_cast<unsigned>(i)));
    Bytes f = frame(sent.back());
    stream.insert(stream.end(), f.begin(), f.end());
  }
  EXPECT_EQ(sent, decode_all(stream, [&] { return size_t{1} + rng() % 70000; }));
  EXPECT_EQ(sent, decode_all(stream, [&] { return size_t{1} + rng() % 40; }));
  EXPECT_EQ(sent, decode_all(stream, [&] { return stream.size(); }));
}

TEST_F(FrameCodec, BadMagicFailsAtTheFirstWrongByte) {
  Decoder d;
  size_t used = 99;
  EXPECT_EQ(-EBADMSG, corio_frame_decoder_feed(d, "GET / HTTP/1.1\r\n", 16, &used));
  EXPECT_EQ(1u, used);
  // Sticky: nothing more is taken, until reset.
  EXPECT_EQ(-EBADMSG, corio_frame_decoder_feed(d, "CRF", 3, &used));
  EXPECT_EQ(0u, used);
  EXPECT_EQ(-EBADMSG, corio_frame_decoder_end(d));
  EXPECT_EQ(0u, corio_frame_decoder_want(d));
  const void *p;
  size_t n;
  EXPECT_EQ(-EAGAIN, corio_frame_decoder_frame(d, &p, &n));
  ASSERT_EQ(0, corio_frame_decoder_reset(d));
  EXPECT_EQ(-EBADMSG, corio_frame_decoder_feed(d, "CRX", 3, &used));
  EXPECT_EQ(3u, used);
  ASSERT_EQ(0, corio_frame_decoder_reset(d));
  Bytes f = frame(payload(5));
  EXPECT_EQ(CORIO_FRAME_GOT, corio_frame_decoder_feed(d, f.data(), f.size(), &used));
  EXPECT_EQ(f.size(), used);
  EXPECT_EQ(payload(5), d.held());
}

// A header with `version` and a header CRC that matches it, so that only
// the version is wrong.
Bytes header_with_version(unsigned char version, const Bytes &p) {
  Bytes f = frame(p);
  f[3] = version;
  uint32_t hcrc = corio_frame_crc32c(0, f.data(), 12);
  for (int i = 0; i < 4; i++) f[12 + i] = static_cast<unsigned char>(hcrc >> (8 * i));
  return f;
}

TEST_F(FrameCodec, UnknownVersionIsBadMessage) {
  for (unsigned char v : {0, 2, 255}) {
    Decoder d;
    Bytes f = header_with_version(v, payload(10));
    size_t used = 0;
    EXPECT_EQ(-EBADMSG, corio_frame_decoder_feed(d, f.data(), f.size(), &used));
    EXPECT_EQ(4u, used);
  }
}

TEST_F(FrameCodec, EveryBitFlipIsCaught) {
  Bytes good = frame(payload(300));
  for (size_t bit = 0; bit < good.size() * 8; bit++) {
    Bytes f = good;
    f[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    Decoder d;
    size_t used = 0;
    int r = corio_frame_decoder_feed(d, f.data(), f.size(), &used);
    // A flip in the length can only make it bigger than the default max
    // for the top bits; the header CRC is checked first, so it is
    // -EBADMSG whatever the length says.
    ASSERT_EQ(-EBADMSG, r) << "bit " << bit;
    if (bit / 8 >= H) {
      EXPECT_EQ(f.size(), used);  // found at the payload's end
    } else if (bit / 8 >= 4) {
      EXPECT_EQ(H, used);  // found when the header is complete
    }
  }
}

TEST_F(FrameCodec, OversizedIsRefusedBeforeAnyStorage) {
  Decoder d(1000);
  Bytes ok = frame(payload(1000)), big = frame(payload(1001));
  size_t used = 0;
  EXPECT_EQ(CORIO_FRAME_GOT, corio_frame_decoder_feed(d, ok.data(), ok.size(), &used));
  Decoder e(1000);
  EXPECT_EQ(-EMSGSIZE, corio_frame_decoder_feed(e, big.data(), big.size(), &used));
  EXPECT_EQ(H, used);
  EXPECT_EQ(0u, corio_frame_decoder_capacity(e));
  EXPECT_EQ(-EMSGSIZE, corio_frame_decoder_end(e));
  // The largest length the format has, announced to a default decoder.
  Bytes h(H);
  ASSERT_EQ(0, corio_frame_header(h.data(), "x", 1));
  h[4] = h[5] = h[6] = h[7] = 0xff;
  uint32_t hcrc = corio_frame_crc32c(0, h.data(), 12);
  for (int i = 0; i < 4; i++) h[12 + i] = static_cast<unsigned char>(hcrc >> (8 * i));
  Decoder f;
  EXPECT_EQ(-EMSGSIZE, corio_frame_decoder_feed(f, h.data(), h.size(), &used));
  EXPECT_EQ(0u, corio_frame_decoder_capacity(f));
}

TEST_F(FrameCodec, StorageGrowsWithArrivingBytesAndNeverPastTheMax) {
  const size_t big = CORIO_FRAME_MAX_DEFAULT;
  Bytes p = payload(big), f = frame(p);
  Decoder d;
  size_t used = 0;
  // A header announcing 16 MiB and 10 bytes of payload: small storage.
  ASSERT_EQ(0, corio_frame_decoder_feed(d, f.data(), H + 10, &used));
  EXPECT_LE(corio_frame_decoder_capacity(d), size_t{64} * 1024);
  EXPECT_EQ(H + 10, corio_frame_decoder_pending(d));
  EXPECT_EQ(-EPIPE, corio_frame_decoder_end(d));  // a stream ending here is truncated
  size_t off = H + 10;
  while (off < f.size()) {
    size_t k = std::min<size_t>(1 << 20, f.size() - off);
    int r = corio_frame_decoder_feed(d, f.data() + off, k, &used);
    ASSERT_GE(r, 0);
    off += used;
    EXPECT_LE(corio_frame_decoder_capacity(d), big);
    EXPECT_LE(corio_frame_decoder_capacity(d), 2 * (off - H) + size_t{64} * 1024);
  }
  EXPECT_EQ(big, corio_frame_decoder_capacity(d));
  EXPECT_TRUE(d.held() == p);
  // The next, small frame gives the big storage back.
  Bytes s = frame(payload(10));
  ASSERT_EQ(CORIO_FRAME_GOT, corio_frame_decoder_feed(d, s.data(), s.size(), &used));
  EXPECT_LE(corio_frame_decoder_capacity(d), size_t{64} * 1024);
  // A decoder of max 100 never holds more than 100.
  Decoder m(100);
  Bytes f100 = frame(payload(100));
  ASSERT_EQ(CORIO_FRAME_GOT, corio_frame_decoder_feed(m, f100.data(), f100.size(), &used));
  EXPECT_EQ(100u, corio_frame_decoder_capacity(m));
}

TEST_F(FrameCodec, EndSaysWhereTheStreamStopped) {
  Decoder d;
  EXPECT_EQ(CORIO_FRAME_EOF, corio_frame_decoder_end(d));
  Bytes f = frame(payload(50));
  for (size_t cut = 1; cut < f.size(); cut++) {
    corio_frame_decoder_reset(d);
    ASSERT_EQ(0, corio_frame_decoder_feed(d, f.data(), cut, nullptr));
    EXPECT_EQ(-EPIPE, corio_frame_decoder_end(d)) << cut;
    EXPECT_EQ(cut, corio_frame_decoder_pending(d));
  }
  corio_frame_decoder_reset(d);
  ASSERT_EQ(CORIO_FRAME_GOT, corio_frame_decoder_feed(d, f.data(), f.size(), nullptr));
  EXPECT_EQ(CORIO_FRAME_EOF, corio_frame_decoder_end(d));
  EXPECT_EQ(0u, corio_frame_decoder_pending(d));
}

TEST_F(FrameCodec, BadArguments) {
  EXPECT_EQ(-EINVAL, corio_frame_decoder_create(nullptr, 0));
  EXPECT_EQ(0, corio_frame_decoder_destroy(nullptr));
  EXPECT_EQ(-EINVAL, corio_frame_decoder_feed(nullptr, "x", 1, nullptr));
  Decoder d;
  EXPECT_EQ(-EINVAL, corio_frame_decoder_feed(d, nullptr, 1, nullptr));
  EXPECT_EQ(0, corio_frame_decoder_feed(d, nullptr, 0, nullptr));
  EXPECT_EQ(-EINVAL, corio_frame_decoder_frame(d, nullptr, nullptr));
  EXPECT_EQ(-EINVAL, corio_frame_decoder_end(nullptr));
  EXPECT_EQ(-EINVAL, corio_frame_decoder_reset(nullptr));
  EXPECT_EQ(0u, corio_frame_decoder_want(nullptr));
  EXPECT_EQ(0u, corio_frame_decoder_pending(nullptr));
  EXPECT_EQ(0u, corio_frame_decoder_capacity(nullptr));
}

// ---- over descriptors, between tasks ------------------------------------------

// Sends every size of round_trip_sizes() on wfd, then closes it; receives
// them on rfd, alternating the two receive calls, and expects EOF after.
// Both sides are tasks on a 2-worker runtime.
void round_trip(FrameTasks *t, corio_rt *rt, int rfd, int wfd) {
  std::vector<size_t> sizes = round_trip_sizes();
  std::atomic<int> bad{0};
  corio_tid sender = 0, receiver = 0;
  ASSERT_EQ(0, corio_rt_spawn(rt, &sender, tramp, t->keep([&]() -> void * {
    for (size_t i = 0; i < sizes.size(); i++) {
      Bytes p = payload(sizes[i], static_cast<unsigned>(i));
      int r = corio_frame_send(wfd, p.data(), p.size(), CORIO_MS(30000));
      if (r != 0) return V(r);
    }
    close(wfd);
    return V(0);
  })));
  ASSERT_EQ(0, corio_rt_spawn(rt, &receiver, tramp, t->keep([&]() -> void * {
    Bytes buf(size_t{7} << 20);
    for (size_t i = 0; i < sizes.size(); i++) {
      Bytes want = payload(sizes[i], static_cast<unsigned>(i));
      size_t len = 12345;
      if (i % 2 == 0) {
        int r = corio_frame_recv(rfd, buf.data(), buf.size(), &len, CORIO_MS(30000));
        if (r != CORIO_FRAME_GOT) return V(-1000000 - static_cast<long>(i) * 1000 + r);
        if (!same(buf.data(), len, want)) bad++;
      } else {
        void *p = nullptr;
        int r = corio_frame_recv_alloc(rfd, &p, &len, size_t{7} << 20, CORIO_MS(30000));
        if (r != CORIO_FRAME_GOT) return V(-1000000 - static_cast<long>(i) * 1000 + r);
        if (p == nullptr || !same(p, len, want)) bad++;
        free(p);
      }
    }
    size_t len = 12345;
    int r = corio_frame_recv(rfd, buf.data(), buf.size(), &len, CORIO_MS(30000));
    if (r != CORIO_FRAME_EOF || len != 0) return V(-2000 + r);
    return V(static_cast<long>(sizes.size()));
  })));
  void *res = nullptr;
  EXPECT_EQ(0, corio_rt_join(rt, sender, &res));
  EXPECT_EQ(0, I(res));
  EXPECT_EQ(0, corio_rt_join(rt, receiver, &res));
  EXPECT_EQ(static_cast<long>(sizes.size()), I(res));
  EXPECT_EQ(0, bad.load());
}

// round_trip over a new socketpair or pipe (fds[0] read, fds[1] write).
void round_trip_over(FrameTasks *t, bool use_pipe) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int fds[2];
  ASSERT_EQ(0, use_pipe ? pipe2(fds, O_CLOEXEC)
                        : socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
  round_trip(t, rt, fds[0], fds[1]);  // closes fds[1]
  close(fds[0]);
}

TEST_F(FrameIo, RoundTripsOverASocketpairBetweenTwoTasks) { round_trip_over(this, false); }

TEST_F(FrameIo, RoundTripsOverAPipeBetweenTwoTasks) { round_trip_over(this, true); }

TEST_F(FrameIo, RecvReadsNothingPastItsFrame) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  // Three frames and a tail in one write: each recv takes one frame.
  Bytes all;
  for (size_t n : {3, 0, 5000}) {
    Bytes f = frame(payload(n));
    all.insert(all.end(), f.begin(), f.end());
  }
  all.insert(all.end(), {'t', 'a', 'i', 'l'});
  ASSERT_EQ(static_cast<ssize_t>(all.size()), write(sv[1], all.data(), all.size()));
  void *r = run(rt, [&]() -> void * {
    unsigned char buf[8192];
    for (size_t n : {3, 0, 5000}) {
      size_t len = 0;
      if (corio_frame_recv(sv[0], buf, sizeof buf, &len, CORIO_MS(5000)) != CORIO_FRAME_GOT ||
          !same(buf, len, payload(n)))
        return V(1);
    }
    char tail[8] = {0};
    if (corio_read(sv[0], tail, sizeof tail, CORIO_MS(5000)) != 4) return V(2);
    return V(memcmp(tail, "tail", 4) == 0 ? 0 : 3);
  });
  EXPECT_EQ(0, I(r));
  close(sv[0]);
  close(sv[1]);
}

// What one corio_frame_recv and one corio_frame_recv_alloc say about
// `bytes` written raw to a socket whose writer then shuts down.
struct RecvOutcome {
  int recv = 0, alloc = 0;
  bool alloc_buf_null = false;
};

RecvOutcome recv_raw(FrameTasks *t, corio_rt *rt, const Bytes &bytes, size_t cap, size_t max) {
  RecvOutcome o;
  for (int alloc = 0; alloc < 2; alloc++) {
    int sv[2];
    EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    if (!bytes.empty()) {
      EXPECT_EQ(static_cast<ssize_t>(bytes.size()), write(sv[1], bytes.data(), bytes.size()));
    }
    shutdown(sv[1], SHUT_WR);
    void *res = nullptr;
    EXPECT_EQ(0, corio_rt_run(rt, tramp, t->keep([&]() -> void * {
      size_t len = 0;
      if (alloc == 0) {
        Bytes buf(cap);
        return V(corio_frame_recv(sv[0], buf.data(), cap, &len, CORIO_MS(5000)));
      }
      void *p = reinterpret_cast<void *>(1);
      int r = corio_frame_recv_alloc(sv[0], &p, &len, max, CORIO_MS(5000));
      o.alloc_buf_null = p == nullptr;
      free(p);
      return V(r);
    }), &res));
    (alloc == 0 ? o.recv : o.alloc) = static_cast<int>(I(res));
    close(sv[0]);
    close(sv[1]);
  }
  return o;
}

TEST_F(FrameIo, TruncatedOversizedAndCorruptedStreams) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  Bytes f = frame(payload(3000));
  // Nothing at all: a clean end.
  RecvOutcome o = recv_raw(this, rt, {}, 4096, 0);
  EXPECT_EQ(CORIO_FRAME_EOF, o.recv);
  EXPECT_EQ(CORIO_FRAME_EOF, o.alloc);
  EXPECT_TRUE(o.alloc_buf_null);
  // Cut in the header, at its end, in the payload, one byte short.
  for (size_t cut : {size_t{1}, size_t{7}, H, H + 1, size_t{1500}, f.size() - 1}) {
    o = recv_raw(this, rt, Bytes(f.begin(), f.begin() + static_cast<long>(cut)), 4096, 0);
    EXPECT_EQ(-EPIPE, o.recv) << cut;
    EXPECT_EQ(-EPIPE, o.alloc) << cut;
    EXPECT_TRUE(o.alloc_buf_null);
  }
  // Larger than the receiver allows.
  o = recv_raw(this, rt, f, 2999, 2999);
  EXPECT_EQ(-EMSGSIZE, o.recv);
  EXPECT_EQ(-EMSGSIZE, o.alloc);
  o = recv_raw(this, rt, f, 3000, 3000);
  EXPECT_EQ(CORIO_FRAME_GOT, o.recv);
  EXPECT_EQ(CORIO_FRAME_GOT, o.alloc);
  // A damaged byte in the header and in the payload; a wrong version.
  for (size_t at : {size_t{0}, size_t{3}, size_t{5}, size_t{9}, size_t{14}, H + 100}) {
    Bytes g = f;
    g[at] ^= 0x20;
    o = recv_raw(this, rt, g, 4096, 0);
    EXPECT_EQ(-EBADMSG, o.recv) << at;
    EXPECT_EQ(-EBADMSG, o.alloc) << at;
  }
  o = recv_raw(this, rt, header_with_version(2, payload(3000)), 4096, 0);
  EXPECT_EQ(-EBADMSG, o.recv);
  EXPECT_EQ(-EBADMSG, o.alloc);
  // Not frames at all.
  std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  o = recv_raw(this, rt, Bytes(http.begin(), http.end()), 4096, 0);
  EXPECT_EQ(-EBADMSG, o.recv);
  EXPECT_EQ(-EBADMSG, o.alloc);
}

TEST_F(FrameIo, TimeoutsSayWhetherTheStreamIsStillInStep) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  void *r = run(rt, [&]() -> void * {
    unsigned char buf[64];
    size_t len = 99;
    // Nothing came: -ETIMEDOUT with nothing taken; the next call works.
    if (corio_frame_recv(sv[0], buf, sizeof buf, &len, CORIO_MS(20)) != -ETIMEDOUT || len != 0)
      return V(1);
    if (corio_frame_send(sv[1], "hi", 2, CORIO_MS(5000)) != 0) return V(2);
    if (corio_frame_recv(sv[0], buf, sizeof buf, &len, CORIO_MS(5000)) != CORIO_FRAME_GOT ||
        len != 2 || memcmp(buf, "hi", 2) != 0)
      return V(3);
    // Only the header came: -ETIMEDOUT with 16 bytes lost.
    Bytes f = frame(payload(10));
    if (write(sv[1], f.data(), H) != static_cast<ssize_t>(H)) return V(4);
    void *p = nullptr;
    if (corio_frame_recv_alloc(sv[0], &p, &len, 0, CORIO_MS(20)) != -ETIMEDOUT || len != H ||
        p != nullptr)
      return V(5);
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  close(sv[0]);
  close(sv[1]);
}

TEST_F(FrameIo, ClosedReaderGivesEpipeWithoutSigpipe) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  // A socket: MSG_NOSIGNAL, so SIGPIPE is left at its default (fatal).
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  close(sv[0]);
  Bytes big = payload(100000);
  void *r = run(rt, [&]() -> void * {
    int a = corio_frame_send(sv[1], "x", 1, CORIO_MS(5000));
    int b = corio_frame_send(sv[1], big.data(), big.size(), CORIO_MS(5000));
    return V(a == -EPIPE && b == -EPIPE ? 0 : 1);
  });
  EXPECT_EQ(0, I(r));
  close(sv[1]);
  // A pipe: write(2) raises SIGPIPE, as documented; ignored here.
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
  close(p[0]);
  struct sigaction ign {}, old {};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &old);
  r = run(rt, [&]() -> void * { return V(corio_frame_send(p[1], "x", 1, CORIO_MS(5000))); });
  EXPECT_EQ(-EPIPE, I(r));
  sigaction(SIGPIPE, &old, nullptr);
  close(p[1]);
}

TEST_F(FrameIo, ArgumentsAndPlainThreads) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  unsigned char buf[8];
  size_t len = 0;
  void *p = nullptr;
  // Not from a task: the I/O layer refuses, and so do these.
  EXPECT_EQ(-EPERM, corio_frame_send(sv[1], "x", 1, CORIO_FOREVER));
  EXPECT_EQ(-EPERM, corio_frame_recv(sv[0], buf, sizeof buf, &len, CORIO_FOREVER));
  EXPECT_EQ(-EPERM, corio_frame_recv_alloc(sv[0], &p, &len, 0, CORIO_FOREVER));
  EXPECT_EQ(-EINVAL, corio_frame_send(sv[1], nullptr, 1, CORIO_FOREVER));
  EXPECT_EQ(-EINVAL, corio_frame_recv(sv[0], buf, sizeof buf, nullptr, CORIO_FOREVER));
  EXPECT_EQ(-EINVAL, corio_frame_recv(sv[0], nullptr, 1, &len, CORIO_FOREVER));
  EXPECT_EQ(-EINVAL, corio_frame_recv_alloc(sv[0], nullptr, &len, 0, CORIO_FOREVER));
  if (sizeof(size_t) > 4) {
    EXPECT_EQ(-EINVAL,
              corio_frame_recv_alloc(sv[0], &p, &len, CORIO_FRAME_MAX_LIMIT + 1, CORIO_FOREVER));
    EXPECT_EQ(-EMSGSIZE, corio_frame_send(sv[1], buf, CORIO_FRAME_MAX_LIMIT + 1, CORIO_FOREVER));
  }
  close(sv[0]);
  close(sv[1]);
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  void *r = run(rt, [&]() -> void * {
    return V(corio_frame_send(-1, "x", 1, CORIO_FOREVER) == -EBADF &&
                     corio_frame_recv(-1, buf, sizeof buf, &len, CORIO_FOREVER) == -EBADF
                 ? 0
                 : 1);
  });
  EXPECT_EQ(0, I(r));
}

// ---- between processes --------------------------------------------------------

// The echo side of the process tests: receives frames on rfd and sends
// each back on wfd until a clean end, on a runtime of its own.  Returns
// the exit status: 0, or 10 + the first error (negated) for a failure.
int echo_frames(int rfd, int wfd) {
  corio_rt_opts o{};
  o.workers = 1;
  corio_rt *rt = nullptr;
  if (corio_rt_create(&rt, &o) != 0) return 2;
  struct Fds {
    int r, w;
  } fds{rfd, wfd};
  void *res = nullptr;
  int rc = corio_rt_run(
      rt,
      [](void *a) -> void * {
        Fds *f = static_cast<Fds *>(a);
        for (;;) {
          void *p = nullptr;
          size_t len = 0;
          int r = corio_frame_recv_alloc(f->r, &p, &len, size_t{8} << 20, CORIO_MS(60000));
          if (r == CORIO_FRAME_EOF) return V(0);
          if (r < 0) return V(r);
          r = corio_frame_send(f->w, p, len, CORIO_MS(60000));
          free(p);
          if (r < 0) return V(r);
        }
      },
      &fds, &res);
  close(wfd);
  corio_rt_shutdown(rt);
  if (rc != 0) return 3;
  return I(res) == 0 ? 0 : static_cast<int>(10 - I(res)) & 0xff;
}

// The parent side: sends every size to the child on wfd and expects each
// back on rfd, then ends its side of wfd (shutdown on a socket, which rfd
// may be too; close on a pipe) and expects the child's clean end.
void talk_to_echo(FrameTasks *t, corio_rt *rt, int rfd, int wfd) {
  std::vector<size_t> sizes = round_trip_sizes();
  sizes.pop_back();  // the child's max is 8 MiB; 6 MiB stays in
  void *res = nullptr;
  ASSERT_EQ(0, corio_rt_run(rt, tramp, t->keep([&]() -> void * {
    // The writer and the reader are separate tasks: a frame of MiBs fills
    // both pipes' buffers while the child is still echoing it.
    corio_tid writer = 0;
    if (corio_task_spawn(&writer, tramp, t->keep([&]() -> void * {
          for (size_t i = 0; i < sizes.size(); i++) {
            Bytes p = payload(sizes[i], static_cast<unsigned>(i));
            int r = corio_frame_send(wfd, p.data(), p.size(), CORIO_MS(60000));
            if (r != 0) return V(r);
          }
          if (shutdown(wfd, SHUT_WR) != 0) close(wfd);
          return V(0);
        })) != 0)
      return V(-1);
    long bad = 0;
    void *p = nullptr;
    size_t len = 0;
    for (size_t i = 0; i < sizes.size(); i++) {
      int r = corio_frame_recv_alloc(rfd, &p, &len, size_t{8} << 20, CORIO_MS(60000));
      if (r != CORIO_FRAME_GOT) return V(-1000 + r);
      Bytes want = payload(sizes[i], static_cast<unsigned>(i));
      if (p == nullptr || !same(p, len, want)) bad++;
      free(p);
    }
    if (corio_frame_recv_alloc(rfd, &p, &len, 0, CORIO_MS(60000)) != CORIO_FRAME_EOF) bad += 1000;
    void *wr = nullptr;
    if (corio_task_join(writer, &wr) != 0 || wr != nullptr) bad += 100000;
    return V(bad);
  }), &res));
  EXPECT_EQ(0, I(res));
}

void expect_child_exit_0(pid_t pid) {
  corio_test::Result r;
  corio_test::reap_until(pid, corio_test::Clock::now() + corio_test::kDeadline * 4, &r);
  EXPECT_TRUE(r.exited_with(0)) << r;
}

// fork() without exec: corio has no fork handlers, so the child may use it
// only when no runtime is alive in the parent at the fork (no worker
// thread can hold one of its locks then).  This process has run and shut
// down a runtime before, as a real parent would have.
TEST_F(FrameProcess, ForkedChildRunsItsOwnRuntimeAndEchoes) {
#ifdef CORIO_TSAN
  // TSan's runtime refuses new threads in the child of a multi-threaded
  // process ("starting new threads after multi-threaded fork is not
  // supported"), and gtest's process has the watchdog thread.
  GTEST_SKIP() << "TSan does not support threads after a multi-threaded fork";
#endif
  {
    Rt before(2);
    ASSERT_EQ(0, before.rc());
    EXPECT_EQ(0, I(run(before, []() -> void * { return V(corio_sleep_ms(1)); })));
  }
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    corio_test::child_default_sigpipe_own_group();
    close(sv[0]);
    _exit(echo_frames(sv[1], sv[1]));
  }
  close(sv[1]);
  {
    Rt rt(2);
    ASSERT_EQ(0, rt.rc());
    talk_to_echo(this, rt, sv[0], sv[0]);
  }
  close(sv[0]);
  expect_child_exit_0(pid);
}

// While a runtime runs here, the child execs this very binary, whose hook
// (below) runs echo_frames on the two pipes named in the environment.
TEST_F(FrameProcess, ExecedChildEchoesOverPipesWhileARuntimeRuns) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int to_child[2], from_child[2];
  ASSERT_EQ(0, pipe2(to_child, O_CLOEXEC));
  ASSERT_EQ(0, pipe2(from_child, O_CLOEXEC));
  // Everything exec needs is built before the fork: between fork and exec
  // the child may only make async-signal-safe calls.
  std::string self = "/proc/self/exe";
  std::vector<std::string> env;
  for (char **e = environ; *e != nullptr; e++) env.push_back(*e);
  env.push_back("CORIO_FRAME_ECHO_FDS=3,4");
  std::vector<char *> envp;
  for (std::string &s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args{self};
  std::vector<char *> argv = corio_test::exec_args(args);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    corio_test::child_default_sigpipe_own_group();
    // dup2 clears close-on-exec on the copies; 3 and 4 may be taken by
    // the originals, so go through high numbers first.
    if (dup2(to_child[0], 100) < 0 || dup2(from_child[1], 101) < 0 || dup2(100, 3) < 0 ||
        dup2(101, 4) < 0)
      _exit(126);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  talk_to_echo(this, rt, from_child[0], to_child[1]);
  close(from_child[0]);
  expect_child_exit_0(pid);
}

// Before main: when started as the echo child, be only that.
struct EchoChildHook {
  EchoChildHook() {
    const char *e = getenv("CORIO_FRAME_ECHO_FDS");
    int r = -1, w = -1;
    if (e != nullptr && sscanf(e, "%d,%d", &r, &w) == 2) _exit(echo_frames(r, w));
  }
} echo_child_hook;

}  // namespace
