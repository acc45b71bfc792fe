// tests/test_samples_bridges.cc - end-to-end tests of samples/bridges/
// (docs/tour.md).  cocrash: threads and tasks sending into one
// coroutine print every line exactly once, each sender's lines in its own
// order, and exit 0; the unsynchronized variant never prints a line twice
// or crashes, and reports its refusals.  Binaries are found from this
// test's path (<build>/tests/<this> runs <build>/samples/bridges/<prog>).
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/child.h"

namespace {

using corio_test::build_dir;
using corio_test::Result;
using corio_test::StdinFile;

std::string sample(const std::string &name) { return build_dir() + "/samples/bridges/" + name; }

Result run(const std::vector<std::string> &argv) {
  return corio_test::run(argv, StdinFile{"/dev/null"});
}

// "<sender> <i>" lines: per sender, the numbers in the order printed.
std::map<std::string, std::vector<long>> by_sender(const std::string &out, long *bad) {
  std::map<std::string, std::vector<long>> m;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string who;
    long i = -1;
    if (!(l >> who >> i) || i < 0) {
      ++*bad;
      continue;
    }
    m[who].push_back(i);
  }
  return m;
}

TEST(SamplesBridges, CocrashPrintsEveryLineOnceAndExitsZero) {
  Result r = run({sample("cocrash"), "--threads", "4", "--tasks", "3", "--items", "5000"});
  ASSERT_TRUE(r.exited_with(0)) << r;
  long bad = 0;
  auto m = by_sender(r.out, &bad);
  EXPECT_EQ(0, bad);
  ASSERT_EQ(7u, m.size());
  for (auto &[who, nums] : m) {
    ASSERT_EQ(5000u, nums.size()) << who;
    for (long i = 0; i < 5000; i++) ASSERT_EQ(i, nums[i]) << who << ": lost, doubled or reordered";
  }
}

TEST(SamplesBridges, CocrashPlainSendRefusesInsteadOfCrashing) {
  Result r = run({sample("cocrash"), "--plain", "--threads", "4", "--tasks", "0", "--items", "20000"});
  ASSERT_TRUE(r.exited_with(0) || r.exited_with(1)) << r;
  long bad = 0;
  auto m = by_sender(r.out, &bad);
  EXPECT_EQ(0, bad);
  long printed = 0;
  for (auto &[who, nums] : m) {
    printed += long(nums.size());
    for (size_t k = 1; k < nums.size(); k++) ASSERT_LT(nums[k - 1], nums[k]) << who;
  }
  if (r.exited_with(1)) {
    EXPECT_NE(std::string::npos, r.err.find("refused")) << r;
    EXPECT_LT(printed, 80000);
  } else {
    EXPECT_EQ(80000, printed);
  }
}

TEST(SamplesBridges, CocrashRejectsBadArguments) {
  EXPECT_TRUE(run({sample("cocrash"), "--threads"}).exited_with(2));
  EXPECT_TRUE(run({sample("cocrash"), "--items", "-3"}).exited_with(2));
  EXPECT_TRUE(run({sample("cocrash"), "--bogus"}).exited_with(2));
}

}  // namespace
