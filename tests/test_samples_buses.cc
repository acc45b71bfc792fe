// tests/test_samples_buses.cc - end-to-end tests of samples/buses/ (the
// course's bus pipeline): gen_buses must be deterministic, and every variant of
// buses must print exactly the North Bound #22 buses of a file, whatever the
// order of the fields, however expat splits their text (entities, CDATA,
// comments, values longer than a read block, batches of one event), and must
// fail with the line number on a broken file.  The process variant's child
// (`buses --child`) is also fed damaged streams by hand, and a child that
// dies must make the parent fail.  The expected lines are
// computed here without expat: from a hand-written file whose answer is
// known, and from generated files by plain string search (their layout is
// one field a line).  The binaries are found from this test's own path:
// <build>/tests/<this> runs <build>/samples/buses/<program>.  Every run is
// bounded by the runner of tests/support/child.h.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "corio.h"
#include "support/child.h"

namespace {

using corio_test::build_dir;
using corio_test::Result;
using corio_test::StdinFile;

std::string sample(const std::string &name) { return build_dir() + "/samples/buses/" + name; }

Result run(const std::vector<std::string> &argv) {
  return corio_test::run(argv, StdinFile{"/dev/null"});
}

// The variants that must agree.
const std::vector<std::vector<std::string>> kVariants = {
    {"--variant", "coroutine"},
    {"--variant", "direct"},
    {"--variant", "threaded"},
    {"--variant", "process"},
    {},                                 // the default: coroutine
    {"--variant", "coroutine", "--batch", "1"},  // one send per event
    {"--variant", "coroutine", "--batch", "3"},  // a bus spans many batches
    {"--variant", "threaded", "--batch", "3"},
    {"--variant", "process", "--batch", "3"},
};

// buses with the options `v` on `path`.
Result run_buses(const std::vector<std::string> &v, const std::string &path) {
  std::vector<std::string> argv = {sample("buses")};
  argv.insert(argv.end(), v.begin(), v.end());
  argv.push_back(path);
  return run(argv);
}

std::string joined(const std::vector<std::string> &v) {
  std::string s;
  for (const std::string &w : v) s += (s.empty() ? "" : " ") + w;
  return s.empty() ? "(default)" : s;
}

class SamplesBuses : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char *p : {"buses", "gen_buses"})
      ASSERT_EQ(0, access(sample(p).c_str(), X_OK))
          << sample(p) << " is missing: build the samples (the default target) first";
  }

  void TearDown() override {
    for (const std::string &p : files_) unlink(p.c_str());
  }

  // A new file holding `contents`, removed after the test.
  std::string file(const std::string &contents) {
    const char *tmp = getenv("TMPDIR");
    std::string name = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                       "/corio-buses-XXXXXX";
    int fd = mkstemp(&name[0]);
    EXPECT_GE(fd, 0) << strerror(errno);
    if (fd < 0) return "/nonexistent";
    files_.push_back(name);
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t n = write(fd, contents.data() + done, contents.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fd);
    EXPECT_EQ(contents.size(), done);
    return name;
  }

  // gen_buses --mb MB --seed SEED -, its stdout.
  std::string generate(const std::string &mb, const std::string &seed) {
    Result r = run({sample("gen_buses"), "--mb", mb, "--seed", seed, "-"});
    EXPECT_TRUE(r.exited_with(0)) << r;
    EXPECT_EQ("", r.err);
    return r.out;
  }

  // Every variant of kVariants on `path` prints `expected`, and nothing on
  // stderr.
  void expect_all_variants(const std::string &path, const std::string &expected) {
    for (const std::vector<std::string> &v : kVariants) {
      Result r = run_buses(v, path);
      EXPECT_TRUE(r.exited_with(0)) << joined(v) << "\n" << r;
      EXPECT_EQ(expected, r.out) << joined(v);
      EXPECT_EQ("", r.err) << joined(v);
    }
  }

  // Every variant fails on `path` with a message naming `line`.
  void expect_all_fail_at(const std::string &path, unsigned long line) {
    for (const std::vector<std::string> &v : kVariants) {
      Result r = run_buses(v, path);
      EXPECT_TRUE(r.exited_with(1)) << joined(v) << "\n" << r;
      EXPECT_NE(std::string::npos, r.err.find("XML error at line " + std::to_string(line) + ","))
          << joined(v) << "\n" << r;
      EXPECT_NE(std::string::npos, r.err.find(path)) << r;
    }
  }

 private:
  std::vector<std::string> files_;
};

// ---- the expected answer, without expat ----------------------------------

// The text between <name> and </name> in `bus`, or "" (the generator writes
// each field once, on a line of its own), with its escapes undone.
std::string field_of(const std::string &bus, const std::string &name) {
  std::string open = "<" + name + ">", close = "</" + name + ">";
  size_t a = bus.find(open);
  if (a == std::string::npos) return "";
  a += open.size();
  std::string v = bus.substr(a, bus.find(close, a) - a);
  if (v.compare(0, 9, "<![CDATA[") == 0) return v.substr(9, v.size() - 12);
  for (const std::pair<std::string, std::string> &e :
       std::vector<std::pair<std::string, std::string>>{{"&#32;", " "}, {"&amp;", "&"}}) {
    for (size_t p; (p = v.find(e.first)) != std::string::npos;) v.replace(p, e.first.size(), e.second);
  }
  return v;
}

// The output of buses for a generated file.
std::string expected_for_generated(const std::string &xml, size_t *nbuses) {
  std::string out;
  *nbuses = 0;
  const std::string open = "\t<bus>\n", close = "\t</bus>\n";
  for (size_t a = xml.find(open); a != std::string::npos; a = xml.find(open, a)) {
    size_t b = xml.find(close, a);
    if (b == std::string::npos) break;
    std::string bus = xml.substr(a, b - a);
    a = b;
    ++*nbuses;
    if (field_of(bus, "route") != "22" || field_of(bus, "direction") != "North Bound") continue;
    out += "22," + field_of(bus, "id") + ",\"North Bound\"," + field_of(bus, "latitude") + "," +
           field_of(bus, "longitude") + "\n";
  }
  return out;
}

// ---- gen_buses --------------------------------------------------------------

TEST_F(SamplesBuses, GeneratorIsDeterministic) {
  std::string a = generate("0.3", "7"), b = generate("0.3", "7"), c = generate("0.3", "8");
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "the same seed gave different files";
  EXPECT_FALSE(a == c) << "seeds 7 and 8 gave the same file";
  // About the size asked for (10^6 bytes a MB), in the course's shape.
  EXPECT_GE(a.size(), 300000u);
  EXPECT_LT(a.size(), 301000u);
  EXPECT_EQ(0u, a.find("<?xml version=\"1.0\"?>\n<buses>\n\t<bus>\n\t\t<"));
  EXPECT_EQ(a.size() - 9, a.rfind("</buses>\n"));
  // What it promises to contain: CDATA, escapes, a character reference.
  EXPECT_NE(std::string::npos, a.find("<finalStop><![CDATA[Paulina & Howard Terminal]]>"));
  EXPECT_NE(std::string::npos, a.find("&amp;"));
  EXPECT_NE(std::string::npos, a.find("<direction>North&#32;Bound</direction>"));

  // A file and stdout get the same bytes; the default is 30 MB.
  std::string path = file("");
  Result r = run({sample("gen_buses"), "--seed", "7", "--mb", "0.3", path});
  ASSERT_TRUE(r.exited_with(0)) << r;
  std::ifstream in(path, std::ios::binary);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_TRUE(a == got.str());
}

TEST_F(SamplesBuses, GeneratorRejectsBadArguments) {
  for (const std::vector<std::string> &args : std::vector<std::vector<std::string>>{
           {}, {"--mb", "0", "-"}, {"--mb", "x", "-"}, {"--seed", "-1", "-"}, {"--mb"},
           {"--frob", "-"}, {"a", "b"}}) {
    std::vector<std::string> argv = {sample("gen_buses")};
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = run(argv);
    EXPECT_TRUE(r.exited_with(2)) << joined(args) << "\n" << r;
    EXPECT_NE(std::string::npos, r.err.find("usage: gen_buses")) << r;
  }
  Result r = run({sample("gen_buses"), "--mb", "0.01", "/nonexistent/dir/out.xml"});
  EXPECT_TRUE(r.exited_with(1)) << r;
  EXPECT_NE(std::string::npos, r.err.find("/nonexistent/dir/out.xml")) << r;
}

// ---- buses on generated files ----------------------------------------------

TEST_F(SamplesBuses, GeneratedFileAllVariantsAgree) {
  for (const char *seed : {"1", "2"}) {
    std::string xml = generate("1", seed);
    size_t nbuses;
    std::string expected = expected_for_generated(xml, &nbuses);
    ASSERT_GT(nbuses, 2000u);
    // About one bus in 32 is a North Bound 22: dozens of lines.
    ASSERT_GT(std::count(expected.begin(), expected.end(), '\n'), 20) << expected;
    expect_all_variants(file(xml), expected);
  }
}

TEST_F(SamplesBuses, TruncatedFileFailsWithItsLastLine) {
  std::string xml = generate("0.05", "3");
  // Cut inside a line, after a few dozen buses.
  size_t cut = xml.find("<latitude>", xml.size() / 2) + 5;
  std::string head = xml.substr(0, cut);
  unsigned long line = 1 + static_cast<unsigned long>(std::count(head.begin(), head.end(), '\n'));
  expect_all_fail_at(file(head), line);
  // Cut after a whole line: the file ends with the elements still open.
  head = xml.substr(0, xml.find('\n', xml.size() / 2) + 1);
  line = 1 + static_cast<unsigned long>(std::count(head.begin(), head.end(), '\n'));
  expect_all_fail_at(file(head), line);
}

// ---- buses on hand-written files -------------------------------------------

// Route-22 North Bound buses written every way XML allows, and buses that
// must not match.  The expected lines are written out by hand.
const char kHandWritten[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- CTA bus locations -->\n"
    "<buses time=\"20090326 10:00\">\n"
    "\t<bus>\n"  // the course's order, except the stop: CDATA
    "\t\t<id>7574</id><route>22</route><color>#3300ff</color>\n"
    "\t\t<revenue>true</revenue><direction>North Bound</direction>\n"
    "\t\t<latitude>41.925682067871094</latitude><longitude>-87.63092803955078</longitude>\n"
    "\t\t<finalStop><![CDATA[Paulina & Howard Terminal]]></finalStop>\n"
    "\t</bus>\n"
    "\t<bus number=\"2\">\n"  // reversed, an attribute, references, CDATA id
    "\t\t<longitude>-87.6730209876751</longitude>\n"
    "\t\t<latitude>42.01851969751819</latitude>\n"
    "\t\t<direction>North&#32;Bo&#x75;nd</direction>\n"
    "\t\t<route>&#50;2</route>\n"
    "\t\t<id><![CDATA[16]]>29</id>\n"
    "\t</bus>\n"
    "\t<bus><route>222</route><direction>North Bound</direction><id>1</id>"
    "<latitude>1</latitude><longitude>1</longitude></bus>\n"
    "\t<bus><route>22</route><direction>South Bound</direction><id>2</id>"
    "<latitude>2</latitude><longitude>2</longitude></bus>\n"
    "\t<bus><route>22</route><direction>north bound</direction><id>3</id>"
    "<latitude>3</latitude><longitude>3</longitude></bus>\n"
    "\t<bus><route> 22</route><direction>North Bound</direction><id>4</id>"
    "<latitude>4</latitude><longitude>4</longitude></bus>\n"
    "\t<bus>\n"  // a comment and a line break split the values; escapes
    "\t\t<route>2<!-- two -->2</route>\n"
    "\t\t<direction>North\n"
    "Bound</direction>\n"  // "North\nBound": no match
    "\t\t<id>5</id><latitude>5</latitude><longitude>5</longitude>\n"
    "\t</bus>\n"
    "\t<bus>\n"
    "\t\t<route>9</route>\n"  // repeated: the last value counts, as in a dict
    "\t\t<id>A&amp;B&lt;C&gt;&quot;</id>\n"
    "\t\t<latitude>41.8<!-- split -->80481123924255</latitude>\n"
    "\t\t<direction>North Bound</direction>\n"
    "\t\t<longitude>-87.62948191165924</longitude>\n"
    "\t\t<route>22</route>\n"
    "\t</bus>\n"
    "\t<notabus><route>22</route><direction>North Bound</direction></notabus>\n"
    "</buses>\n";

const char kHandWrittenExpected[] =
    "22,7574,\"North Bound\",41.925682067871094,-87.63092803955078\n"
    "22,1629,\"North Bound\",42.01851969751819,-87.6730209876751\n"
    "22,A&B<C>\",\"North Bound\",41.880481123924255,-87.62948191165924\n";

TEST_F(SamplesBuses, HandWrittenFileExactLines) {
  expect_all_variants(file(kHandWritten), kHandWrittenExpected);
}

TEST_F(SamplesBuses, FileWithoutMatches) {
  expect_all_variants(file("<buses><bus><route>22</route><direction>South Bound</direction>"
                           "</bus></buses>"),
                      "");
  expect_all_variants(file("<buses/>"), "");
}

// A value far longer than a read block (1 MiB) and than any piece expat
// hands over at once, in a file of one line.
TEST_F(SamplesBuses, LongValueIsJoined) {
  std::string lon = "-87." + std::string(3 << 20, '7');
  std::string stop;
  for (int i = 0; i < 20000; i++) stop += "Clark &amp; Lake <![CDATA[& ]]>";
  std::string xml = "<buses><bus><finalStop>" + stop + "</finalStop><longitude>" + lon +
                    "</longitude><id>42</id><route>22</route><latitude>41.9</latitude>"
                    "<direction>North Bound</direction></bus></buses>";
  expect_all_variants(file(xml), "22,42,\"North Bound\",41.9," + lon + "\n");
}

TEST_F(SamplesBuses, MalformedFileFailsWithTheLine) {
  expect_all_fail_at(file("<buses>\n"
                          "\t<bus>\n"
                          "\t\t<id>1</id>\n"
                          "\t\t<route>22</rout>\n"
                          "\t</bus>\n"
                          "</buses>\n"),
                     4);
  expect_all_fail_at(file("<buses>\n<bus><id>1 & 2</id></bus>\n</buses>\n"), 2);
  expect_all_fail_at(file("<buses>\n</buses>\n<buses/>\n"), 3);  // two roots
  expect_all_fail_at(file(""), 1);                               // no element
}

TEST_F(SamplesBuses, MissingFieldIsAnError) {
  std::string path = file("<buses><bus><route>22</route><direction>North Bound</direction>"
                          "<id>5</id><longitude>1</longitude></bus></buses>");
  for (const std::vector<std::string> &v : kVariants) {
    Result r = run_buses(v, path);
    EXPECT_TRUE(r.exited_with(1)) << joined(v) << "\n" << r;
    EXPECT_NE(std::string::npos, r.err.find("bus #1 (id 5) has no <latitude>")) << r;
  }
}

TEST_F(SamplesBuses, MissingFileIsAnError) {
  for (const char *variant : {"coroutine", "direct", "threaded", "process"}) {
    Result r = run({sample("buses"), "--variant", variant, "/nonexistent/allroutes.xml"});
    EXPECT_TRUE(r.exited_with(1)) << r;
    EXPECT_EQ("", r.out);
    EXPECT_NE(std::string::npos, r.err.find("/nonexistent/allroutes.xml: No such file")) << r;
  }
}

TEST_F(SamplesBuses, BadCommandLines) {
  for (const std::vector<std::string> &args : std::vector<std::vector<std::string>>{
           {}, {"--variant", "bogus", "f"}, {"--variant"}, {"--batch", "0", "f"},
           {"--batch", "x", "f"}, {"--frob", "f"}, {"a", "b"}}) {
    std::vector<std::string> argv = {sample("buses")};
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = run(argv);
    EXPECT_TRUE(r.exited_with(2)) << joined(args) << "\n" << r;
    EXPECT_NE(std::string::npos, r.err.find("usage: buses")) << r;
  }
  Result r = run({sample("buses"), "--help"});
  EXPECT_TRUE(r.exited_with(0)) << r;
  EXPECT_NE(std::string::npos, r.out.find("usage: buses")) << r;
}

// A bus without a printed field in the middle of a file of many packs: the
// threaded and process variants find it on the other side while the parse
// goes on, and must stop with the lines before it printed.
TEST_F(SamplesBuses, MissingFieldInTheMiddleStopsEveryVariant) {
  std::string xml = generate("1", "4");
  // The first match after a third of the file loses its latitude.
  const std::string open = "\t<bus>\n", close = "\t</bus>\n";
  size_t a = xml.find(open, xml.size() / 3);
  std::string bus;
  for (;; a = xml.find(open, a + 1)) {
    ASSERT_NE(std::string::npos, a);
    bus = xml.substr(a, xml.find(close, a) - a);
    if (field_of(bus, "route") == "22" && field_of(bus, "direction") == "North Bound") break;
  }
  std::string id = field_of(bus, "id");
  size_t lat = xml.find("\t\t<latitude>", a);
  xml.erase(lat, xml.find('\n', lat) + 1 - lat);
  size_t nbuses;
  std::string before = expected_for_generated(xml.substr(0, a), &nbuses);
  std::string path = file(xml);
  std::string message = "bus #" + std::to_string(nbuses + 1) + " (id " + id + ") has no <latitude>";
  for (const std::vector<std::string> &v : kVariants) {
    Result r = run_buses(v, path);
    EXPECT_TRUE(r.exited_with(1)) << joined(v) << "\n" << r;
    EXPECT_EQ(before, r.out) << joined(v);
    EXPECT_NE(std::string::npos, r.err.find(message)) << joined(v) << "\n" << r;
  }
}

// process: a child that dies, before the first frame or in the middle of the
// stream, makes the parent fail and say how the child ended.
TEST_F(SamplesBuses, ProcessChildThatDiesFailsTheParent) {
  std::string path = file(generate("1", "5"));
  for (const char *after : {"0", "2"}) {
    Result r = run({"/usr/bin/env", std::string("BUSES_CHILD_DIE_AFTER=") + after, sample("buses"),
                    "--variant", "process", path});
    EXPECT_TRUE(r.exited_with(1)) << after << "\n" << r;
    EXPECT_NE(std::string::npos, r.err.find("the filter process (pid ")) << r;
    EXPECT_NE(std::string::npos, r.err.find("was killed by signal 9")) << r;
  }
}

// The pack of bus.h for one bus with these fields: number (8 bytes), field
// count (4), then each name and value as a length (4), the bytes, a NUL.
std::string le(uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; i++) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string pack(uint64_t number, const std::vector<std::pair<std::string, std::string>> &fields) {
  std::string s = le(number, 8) + le(fields.size(), 4);
  for (const std::pair<std::string, std::string> &f : fields)
    s += le(f.first.size(), 4) + f.first + '\0' + le(f.second.size(), 4) + f.second + '\0';
  return s;
}

std::string frame(const std::string &payload) {
  unsigned char hdr[CORIO_FRAME_HEADER_SIZE];
  EXPECT_EQ(0, corio_frame_header(hdr, payload.data(), payload.size()));
  return std::string(reinterpret_cast<char *>(hdr), sizeof hdr) + payload;
}

// `buses --child FILE` reads frames of packs from stdin: the process
// variant's other side, fed by hand.  A clean end closes the filters; a
// damaged, truncated or malformed stream is an error that says so.
TEST_F(SamplesBuses, ProcessChildReadsFramesAndRejectsDamagedStreams) {
  const std::vector<std::pair<std::string, std::string>> match = {
      {"route", "22"}, {"id", "7"}, {"direction", "North Bound"}, {"latitude", "41.9"},
      {"longitude", "-87.6"}};
  const std::string line = "22,7,\"North Bound\",41.9,-87.6\n";
  std::string good = frame(pack(1, match) + pack(2, {{"route", "9"}})) + frame(pack(3, match));
  auto child = [&](const std::string &input) {
    return corio_test::run({sample("buses"), "--child", "--", "in.xml"}, input);
  };

  Result r = child(good);
  EXPECT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ(line + line, r.out);
  EXPECT_EQ("", r.err);
  r = child("");
  EXPECT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("", r.out);

  struct Case {
    std::string input, out, message;
  };
  std::string flipped = good;
  flipped[good.size() - 3] ^= 0x10;  // the second frame's payload
  std::string bad_pack = pack(1, match);
  bad_pack.resize(bad_pack.size() - 1);  // the last NUL is missing
  for (const Case &c : std::vector<Case>{
           {"not a frame", "", "in.xml: frame 1 from the parser is damaged"},
           {good.substr(0, good.size() - 5), line, "in.xml: frame 2 from the parser is cut short"},
           {good.substr(0, 7), "", "in.xml: frame 1 from the parser is cut short"},
           {flipped, line, "in.xml: frame 2 from the parser is damaged"},
           {frame(bad_pack), "", "in.xml: malformed bus message"},
           {frame(pack(1, {{"", "x"}})), "", "in.xml: malformed bus message"},
           {frame(pack(1, {{"route", "22"}, {"direction", "North Bound"}})), "",
            "in.xml: bus #1 (id missing) has no <id>"},
       }) {
    r = child(c.input);
    EXPECT_TRUE(r.exited_with(1)) << c.message << "\n" << r;
    EXPECT_EQ(c.out, r.out) << c.message;
    EXPECT_NE(std::string::npos, r.err.find(c.message)) << r;
  }
}

}  // namespace
