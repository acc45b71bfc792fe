// tests/test_samples_pyos.cc - end-to-end tests of the task programs in
// samples/pyos/ (multitask, taskexit, gettid,
// killtask, waittask).  Each program is run as a child process; with one
// worker its output must be the seed's, line for line, and with more
// workers the same lines in any order.  Task ids are corio's, not the
// seed's 1 and 2: outputs are compared under a one-to-one renaming of the
// ids.  The binaries are found from this test's own path:
// <build>/tests/<this> runs <build>/samples/pyos/<program>.  Every wait is
// bounded: a child that outlives its deadline is killed and the test fails
// (the runner is tests/support/child.h).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/child.h"

namespace {

using corio_test::build_dir;
using corio_test::Result;
using corio_test::StdinFile;

std::string sample(const std::string &name) { return build_dir() + "/samples/pyos/" + name; }

// Run argv with stdin from /dev/null; collect stdout and stderr; kill the
// child if it has not exited by the deadline.
Result run(const std::vector<std::string> &argv) {
  return corio_test::run(argv, StdinFile{"/dev/null"});
}

// ---- comparing outputs modulo task ids -----------------------------------

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) v.push_back(line);
  return v;
}

bool is_number(const std::string &w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return isdigit(static_cast<unsigned char>(c)); });
}

// The distinct ids (words made of digits) of `lines`, in order of first use.
std::vector<std::string> ids_of(const std::vector<std::string> &lines) {
  std::vector<std::string> ids;
  for (const std::string &line : lines) {
    std::istringstream in(line);
    std::string w;
    while (in >> w)
      if (is_number(w) && std::find(ids.begin(), ids.end(), w) == ids.end()) ids.push_back(w);
  }
  return ids;
}

std::vector<std::string> rename_ids(const std::vector<std::string> &lines,
                                const std::map<std::string, std::string> &to) {
  std::vector<std::string> out;
  for (const std::string &line : lines) {
    std::istringstream in(line);
    std::string w, renamed;
    while (in >> w) {
      auto it = to.find(w);
      if (!renamed.empty()) renamed += ' ';
      renamed += it != to.end() ? it->second : w;
    }
    out.push_back(renamed);
  }
  return out;
}

// True when some one-to-one renaming of the actual ids to the expected ones
// makes `actual` equal `expected`: in order, or as multisets (any order).
bool same_modulo_ids(const std::string &expected_text, const std::string &actual_text,
                     bool in_order) {
  std::vector<std::string> expected = lines_of(expected_text), actual = lines_of(actual_text);
  if (expected.size() != actual.size()) return false;
  std::vector<std::string> want = ids_of(expected), have = ids_of(actual);
  if (want.size() != have.size()) return false;
  for (const std::string &id : have)
    if (id == "0") return false;  // never a task's id
  if (!in_order) std::sort(expected.begin(), expected.end());
  std::vector<size_t> perm(have.size());
  for (size_t i = 0; i < perm.size(); i++) perm[i] = i;
  do {
    std::map<std::string, std::string> to;
    for (size_t i = 0; i < have.size(); i++) to[have[i]] = want[perm[i]];
    std::vector<std::string> got = rename_ids(actual, to);
    if (!in_order) std::sort(got.begin(), got.end());
    if (got == expected) return true;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return false;
}

// ---- what the seed prints ------------------------------------------------

std::string times(int n, const std::string &s) {
  std::string r;
  for (int i = 0; i < n; i++) r += s;
  return r;
}

// multitask (with the loops bounded to three turns each).
const std::string kMultitask = times(3, "I'm foo\nI'm bar\n");

// taskexit.
const std::string kTaskexit = times(5, "I'm foo\nI'm bar\n") + "I'm foo\n" +
                              "Task 2 terminated\n" + times(4, "I'm foo\n") +
                              "Task 1 terminated\n";

// gettid.
const std::string kGettid = times(5, "I'm foo 1\nI'm bar 2\n") + "Task 1 terminated\n" +
                            times(5, "I'm bar 2\n") + "Task 2 terminated\n";

// killtask.
const std::string kKilltask =
    times(5, "I'm foo 2\n") + "Task 2 terminated\nmain done\nTask 1 terminated\n";

// waittask.
const std::string kWaittask = "Waiting for child\n" + times(5, "I'm foo 2\n") +
                              "Task 2 terminated\nChild done\nTask 1 terminated\n";

struct Program {
  const char *name;
  const std::string *seed;
};

const Program kPrograms[] = {
    {"multitask", &kMultitask}, {"taskexit", &kTaskexit}, {"gettid", &kGettid},
    {"killtask", &kKilltask},   {"waittask", &kWaittask},
};

class SamplesPyos : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const Program &p : kPrograms)
      ASSERT_EQ(0, access(sample(p.name).c_str(), X_OK))
          << sample(p.name) << " is missing: build the samples (the default target) first";
  }

  // One worker: exactly the seed's lines, in the seed's order (several
  // runs: the order must not depend on timing).
  void check_one_worker(const Program &p) {
    for (int run_no = 0; run_no < 3; run_no++) {
      for (const std::vector<std::string> &argv :
           {std::vector<std::string>{sample(p.name)},
            std::vector<std::string>{sample(p.name), "--workers", "1"}}) {
        Result r = run(argv);
        ASSERT_TRUE(r.exited_with(0)) << p.name << ": " << r;
        EXPECT_EQ("", r.err) << p.name;
        EXPECT_TRUE(same_modulo_ids(*p.seed, r.out, true))
            << p.name << " printed:\n" << r.out << "the seed prints:\n" << *p.seed;
      }
    }
  }

  // N workers: the seed's lines, in any order.
  void check_workers(const Program &p, const char *workers, int runs) {
    for (int run_no = 0; run_no < runs; run_no++) {
      Result r = run({sample(p.name), "--workers", workers});
      ASSERT_TRUE(r.exited_with(0)) << p.name << " --workers " << workers << ": " << r;
      EXPECT_EQ("", r.err) << p.name;
      EXPECT_TRUE(same_modulo_ids(*p.seed, r.out, false))
          << p.name << " --workers " << workers << " printed:\n"
          << r.out << "the seed prints (in some order):\n" << *p.seed;
    }
  }

  void check(const char *name) {
    for (const Program &p : kPrograms) {
      if (strcmp(p.name, name) != 0) continue;
      check_one_worker(p);
      if (HasFatalFailure()) return;
      check_workers(p, "2", 10);
      if (HasFatalFailure()) return;
      check_workers(p, "4", 3);  // more workers than this machine may have CPUs
      return;
    }
    FAIL() << "no program " << name;
  }
};

// ---- the comparison itself ---------------------------------------------------

TEST(SamplesPyosCompare, RenamesIdsOneToOne) {
  EXPECT_TRUE(same_modulo_ids("I'm foo 1\nTask 1 terminated\n",
                              "I'm foo 4294967297\nTask 4294967297 terminated\n", true));
  // Two ids may not both map to the same one, nor one to two.
  EXPECT_FALSE(same_modulo_ids("a 1\nb 1\n", "a 7\nb 8\n", true));
  EXPECT_FALSE(same_modulo_ids("a 1\nb 2\n", "a 7\nb 7\n", true));
  // Order matters only when asked for.
  EXPECT_FALSE(same_modulo_ids("a 1\nb 2\n", "b 8\na 7\n", true));
  EXPECT_TRUE(same_modulo_ids("a 1\nb 2\n", "b 8\na 7\n", false));
  EXPECT_TRUE(same_modulo_ids(kGettid, kGettid, true));
  // Swapped roles are not a renaming: foo's id is not bar's.
  EXPECT_FALSE(same_modulo_ids("I'm foo 1\nI'm bar 2\nTask 1 terminated\n",
                               "I'm foo 5\nI'm bar 6\nTask 6 terminated\n", false));
  EXPECT_FALSE(same_modulo_ids(kKilltask, kKilltask + "I'm foo 2\n", false));
  EXPECT_FALSE(same_modulo_ids("Task 1 terminated\n", "Task 0 terminated\n", true));
}

// ---- the programs ------------------------------------------------------------

TEST_F(SamplesPyos, Multitask) { check("multitask"); }
TEST_F(SamplesPyos, Taskexit) { check("taskexit"); }
TEST_F(SamplesPyos, Gettid) { check("gettid"); }
TEST_F(SamplesPyos, Killtask) { check("killtask"); }
TEST_F(SamplesPyos, Waittask) { check("waittask"); }

TEST_F(SamplesPyos, IdsAreDistinctAndNonzero) {
  // gettid prints two ids, killtask and waittask a parent's and a child's.
  for (const char *name : {"gettid", "killtask", "waittask"}) {
    Result r = run({sample(name), "--workers", "2"});
    ASSERT_TRUE(r.exited_with(0)) << name << ": " << r;
    std::vector<std::string> ids = ids_of(lines_of(r.out));
    EXPECT_EQ(2u, ids.size()) << name << ":\n" << r.out;
    for (const std::string &id : ids) EXPECT_NE("0", id) << name;
  }
}

TEST_F(SamplesPyos, CommandLine) {
  for (const Program &p : kPrograms) {
    const std::string usage = std::string("usage: ") + p.name + " [--workers N]\n";
    Result r = run({sample(p.name), "--help"});
    EXPECT_TRUE(r.exited_with(0)) << r;
    EXPECT_EQ(usage, r.out);

    r = run({sample(p.name), "--workers=2"});
    EXPECT_TRUE(r.exited_with(0)) << r;
    EXPECT_TRUE(same_modulo_ids(*p.seed, r.out, false)) << r;

    for (const std::vector<std::string> &bad :
         {std::vector<std::string>{sample(p.name), "--workers"},
          std::vector<std::string>{sample(p.name), "--workers", "0"},
          std::vector<std::string>{sample(p.name), "--workers", "two"},
          std::vector<std::string>{sample(p.name), "--workers", "-1"},
          std::vector<std::string>{sample(p.name), "--workers", "5000"},
          std::vector<std::string>{sample(p.name), "--verbose"}}) {
      r = run(bad);
      EXPECT_TRUE(r.exited_with(2)) << r;
      EXPECT_EQ("", r.out) << r;
      EXPECT_NE(std::string::npos, r.err.find(usage)) << r;
    }
  }
}

}  // namespace
