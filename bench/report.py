#!/usr/bin/env python3
"""bench/report.py - the benchmark report (docs/bench.md, "report").

    bench/report.py [--out PATH.md] [--readme README.md] FILE...
    bench/report.py meta [--out PATH.md] [-- ARGS...]

The first form reads JSON lines from each FILE ("-" is stdin) and writes
the Markdown report PATH.md (default bench/report.md) and, in the folder of
the same name without ".md" (bench/report/), one gnuplot data file, script
and PNG chart per benchmark.  Three kinds of line are understood:

  {"bench": NAME, "machine": ..., "rows": [...]}   a benchmark's --json line
  {"meta": {...}}                                  the machine and commit,
                                                   as `meta` prints them
  {"run": NAME, "status": RC, "seconds": S, "log": PATH}
                                                   how a benchmark's run
                                                   ended (bench/run report)

Anything else is skipped with a note in the report.  A benchmark with a run
line and no result line is reported as failed, with the end of its log; a
peer that is missing gives "n/a" cells.  With no meta line the machine is
described as it is now.  --readme also replaces the block between the
bench-summary markers of that file with the summary table.

The second form prints the meta line for the machine and the commit as they
are now: bench/run report writes it before the first benchmark runs.  ARGS
are the arguments the benchmarks are given; --out names the report, whose
files do not count as changes to the tree.

Standard library only.
"""

import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

BEGIN = "<!-- bench-summary:begin -->"
END = "<!-- bench-summary:end -->"

# What each benchmark compares.  "subjects" are corio's rows (the left side
# of every ratio), "peers" the implementations they are measured against, in
# column order; a peer that did not run still gets its column ("n/a").
# "headline" is (peer, metric, words) for the summary: the geometric mean of
# subject/peer over the rows, on "value" or on the named extra key.
# "metrics" are extra keys given a table of their own.  A subject row is
# compared with the peer's row of the same case and "workers"; with
# "any_workers", with the peer's only row of the case whatever its workers.  A benchmark not
# listed here compares "corio" with every other impl it prints.
BENCHES = {
    "switch": {
        "title": "one coroutine round trip (send + yield) against bare fcontext switches",
        "subjects": ["corio"],
        "peers": ["raw", "raw-call"],
        "value": "time of one round trip",
        "headline": ("raw", None, "round trip"),
    },
    "pipeline": {
        "title": "a send through grep -> null: coroutines against callbacks, plain calls and Python",
        "subjects": ["corio", "sync-send"],
        "peers": ["callback", "direct", "python"],
        "value": "time of one send through the pipeline",
        "headline": ("python", None, "send"),
    },
    "sched": {
        "title": "corio tasks against Go goroutines: spawn, fork-join, yield, idle memory",
        "subjects": ["corio"],
        "peers": ["go"],
        "value": "each case's own figure (time per task, per yield, per hop, per run, or memory per parked task)",
        "headline": ("go", None, "every case and worker count"),
    },
    "echo": {
        "title": "echo server, many connections: corio against threads, epoll, io_uring and Go",
        "subjects": ["corio"],
        "peers": ["threads", "epoll", "uring", "uring-tuned", "go"],
        # Each peer runs once, with its own number of threads; both corio
        # rows are compared with it.
        "any_workers": True,
        "headline": ("go", "server_us_per_msg", "server CPU per message"),
        "value": "messages per second through each server, as the load client counts them",
        "metrics": [
            ("server_us_per_msg", "Server CPU time per message", "us/msg", "lower"),
            ("p99_us", "p99 latency of one message (send to full echo)", "us", "lower"),
        ],
    },
    "timers": {
        "title": "sleeping tasks: lateness and memory against Go's time.Sleep",
        "subjects": ["corio"],
        "peers": ["go"],
        "headline": ("go", None, "p99 lateness"),
        "value": "p99 lateness of a sleep",
        "metrics": [
            ("p50_us", "p50 lateness of a sleep", "us", "lower"),
            ("rss_per_task_bytes", "RSS per task (read with asleep_at_sample, docs/bench.md)", "bytes/task", "lower"),
        ],
    },
    "buses": {
        "title": "the XML bus pipeline as whole programs: coroutines against plain calls, threads, processes and Python",
        "subjects": ["corio"],
        "peers": ["direct", "threaded", "process", "python-expat", "python-iterparse"],
        "headline": ("direct", None, "throughput"),
        "value": "MB of XML per second of wall time, start-up included",
        "metrics": [("cpu_ms", "CPU time of the whole program", "ms", "lower")],
    },
    "chan": {
        "title": "unbuffered channels against Go's",
        "subjects": ["corio"],
        "peers": ["go"],
        "value": "time per round trip (ping-pong) or per item (fan-in)",
        "headline": ("go", None, "every case"),
    },
    "stream": {
        "title": "the buffered stream against the raw calls in a line echo server",
        "subjects": ["stream", "borrow"],
        "peers": ["raw"],
        "value": "the server process's CPU time (user + system) per line",
        "headline": ("raw", None, "server CPU per line"),
    },
}


# ---------------------------------------------------------------- meta

def _run(argv, cwd=None):
    try:
        p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def _first_line(s):
    return s.splitlines()[0].strip() if s else None


def collect_meta(args, out_path):
    m = {}
    model, cores, sockets, cpus = None, set(), set(), 0
    try:
        with open("/proc/cpuinfo") as f:
            phys = core = None
            for line in f:
                k, _, v = line.partition(":")
                k, v = k.strip(), v.strip()
                if k == "processor":
                    cpus += 1
                elif k in ("model name", "Hardware", "cpu model") and model is None and v:
                    model = v
                elif k == "physical id":
                    phys = v
                    sockets.add(v)
                elif k == "core id":
                    core = v
                    cores.add((phys, core))
    except OSError:
        pass
    m["cpu"] = model or "unknown"
    m["cpus_online"] = os.cpu_count() or cpus or None
    try:
        m["cpus_usable"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        m["cpus_usable"] = None
    m["physical_cores"] = len(cores) or None
    m["sockets"] = len(sockets) or None
    m["kernel"] = os.uname().release
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    m["memory_kib"] = int(line.split()[1])
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        m["loadavg"] = ["%.2f" % x for x in os.getloadavg()]
    except OSError:
        pass
    m["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    m["commit"] = _run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    if m["commit"]:
        excl = []
        out = os.path.abspath(out_path)
        for p in (out, os.path.splitext(out)[0]):
            rel = os.path.relpath(p, ROOT)
            if not rel.startswith(".."):
                excl.append(":(exclude)" + rel)
        st = _run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."] + excl, cwd=ROOT)
        m["dirty"] = bool(st) if st is not None else None
    cc = None
    cache = os.path.join(ROOT, "build", "bench", "CMakeCache.txt")
    if os.environ.get("CORIO_BENCH_BUILD_DIR"):
        cache = os.path.join(os.environ["CORIO_BENCH_BUILD_DIR"], "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_C_COMPILER:"):
                    cc = line.split("=", 1)[1].strip()
                    break
    except OSError:
        pass
    m["compiler"] = _first_line(_run([cc or "cc", "--version"]))
    m["go"] = _first_line(_run(["go", "version"]))
    m["python"] = _first_line(_run([os.environ.get("CORIO_BENCH_PYTHON") or "python3", "--version"]))
    if args is not None:
        m["args"] = list(args)
    return m


# ---------------------------------------------------------------- input

class Bench:
    def __init__(self, name):
        self.name = name
        self.result = None      # the benchmark's JSON object
        self.run = None         # {"status": ..., "seconds": ..., "log": ...}
        self.log_dir = None     # where a relative log path is found
        self.notes = []


def clean_row(r):
    """The row with case, impl and unit as strings and better as "lower",
    "higher" or missing, whatever the input had; figures are checked where
    they are used (num)."""
    r = dict(r)
    for k, default in (("case", "?"), ("impl", "?"), ("unit", "?")):
        v = r.get(k)
        if not isinstance(v, str):
            r[k] = default if v is None else json.dumps(v)
    if r.get("better") not in ("lower", "higher"):
        r.pop("better", None)
    return r


def read_inputs(paths):
    meta, benches, order, skipped = None, {}, [], []

    def bench(name):
        if name not in benches:
            benches[name] = Bench(name)
            order.append(name)
        return benches[name]

    for path in paths:
        try:
            if path == "-":
                text, base = sys.stdin.read(), os.getcwd()
            else:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                base = os.path.dirname(os.path.abspath(path))
        except OSError as e:
            skipped.append("%s: %s" % (path, e.strerror))
            continue
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                skipped.append("%s:%d: not JSON: %s" % (path, n, line[:80]))
                continue
            if not isinstance(obj, dict):
                skipped.append("%s:%d: not a JSON object" % (path, n))
            elif isinstance(obj.get("meta"), dict):
                meta = obj["meta"]
            elif isinstance(obj.get("run"), str):
                b = bench(obj["run"])
                b.run = obj
                b.log_dir = base
            elif isinstance(obj.get("bench"), str):
                b = bench(obj["bench"])
                if b.result is not None:
                    b.notes.append("more than one result line; the last one is reported")
                rows = obj.get("rows")
                if not isinstance(rows, list):
                    b.notes.append("its result line has no list of rows")
                    rows = []
                obj["rows"] = [clean_row(r) for r in rows if isinstance(r, dict)]
                if not isinstance(obj.get("machine"), str):
                    obj["machine"] = "?"
                b.result = obj
            else:
                skipped.append("%s:%d: neither a result, a run nor a meta line" % (path, n))
    # Known benchmarks in bench/run's order, then any others as met.
    known = [n for n in BENCHES if n in benches]
    return meta, [benches[n] for n in known + [n for n in order if n not in BENCHES]], skipped


# ---------------------------------------------------------------- numbers

def num(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v if math.isfinite(v) else None


def fmt(v):
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 1000 or v == int(v):
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    return "%.2f" % v


def fmt_ratio(r):
    return "n/a" if r is None else "%.2f×" % r


def ratio(a, b):
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def md(s):
    """Text for a table cell."""
    return str(s).replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------- tables

def config(b):
    c = BENCHES.get(b.name)
    if c is not None:
        return c
    impls = []
    for r in (b.result or {}).get("rows", []):
        i = r.get("impl")
        if isinstance(i, str) and i != "corio" and i not in impls:
            impls.append(i)
    return {"title": "", "subjects": ["corio"], "peers": impls, "headline": (impls[0], None, "every case") if impls else None}


def workers(r):
    w = num(r.get("workers"))
    return None if w is None else int(w) if w == int(w) else w


def metric(r, key):
    return num(r.get("value")) if key is None else num(r.get(key))


def build_lines(b, key):
    """The comparison lines of one table: each is a dict with the case, the
    subject impl, its workers, its row (None: the subject did not run) and,
    per peer, the peer's row matched to it."""
    c = config(b)
    rows = [r for r in b.result["rows"] if metric(r, key) is not None or key is None]
    subjects = list(c["subjects"])
    peers = list(c["peers"])
    for r in rows:
        i = r.get("impl")
        if isinstance(i, str) and i not in subjects and i not in peers:
            peers.append(i)
    cases = []
    for r in rows:
        if r.get("case") not in cases:
            cases.append(r.get("case"))
    lines = []
    for case in cases:
        in_case = [r for r in rows if r.get("case") == case]

        def match(peer, w):
            cand = [r for r in in_case if r.get("impl") == peer]
            same = [r for r in cand if workers(r) == w]
            if same:
                return same[0]
            if len(cand) != 1:
                return None
            if c.get("any_workers") or w is None or workers(cand[0]) is None:
                return cand[0]
            return None

        for s in subjects:
            srows = [r for r in in_case if r.get("impl") == s]
            if srows:
                for r in srows:
                    w = workers(r)
                    lines.append({"case": case, "subject": s, "workers": w, "row": r,
                                  "peers": {p: match(p, w) for p in peers}})
            elif s == subjects[0] or any(r.get("impl") == s for r in rows):
                # The subject is missing here: show the peers' figures.
                prows = [r for r in in_case if r.get("impl") in peers]
                ws = []
                if not all(sum(1 for r in prows if r.get("impl") == p) <= 1 for p in peers):
                    for r in prows:
                        if workers(r) not in ws:
                            ws.append(workers(r))
                for w in ws or [None]:
                    lines.append({"case": case, "subject": s, "workers": w, "row": None,
                                  "peers": {p: match(p, w) for p in peers}})
    return lines, subjects, peers


def unit_of(line, key, label):
    if key is not None:
        return label
    r = line["row"] or next((p for p in line["peers"].values() if p), None)
    return (r or {}).get("unit", "?")


def better_of(lines, key, better):
    if key is not None:
        return better
    seen = set()
    for l in lines:
        for r in [l["row"]] + list(l["peers"].values()):
            if r and r.get("better") in ("lower", "higher"):
                seen.add(r["better"])
    return seen.pop() if len(seen) == 1 else ("mixed" if seen else "lower")


def line_label(l, multi_subject):
    s = str(l["case"])
    if l["workers"] is not None:
        s += " w%s" % l["workers"]
    if multi_subject:
        s += " " + l["subject"]
    return s


def line_ratio(l, p, key):
    pr = l["peers"].get(p)
    if l["row"] is None or pr is None:
        return None
    if key is None and l["row"].get("unit") != pr.get("unit"):
        return None
    return ratio(metric(l["row"], key), metric(pr, key))


def table(b, lines, subjects, peers, key, label):
    has_w = any(l["workers"] is not None for l in lines) or any(
        workers(r) is not None for l in lines for r in l["peers"].values() if r)
    multi = len(subjects) > 1 or subjects != ["corio"]
    head = ["case"] + (["workers"] if has_w else []) + ["unit"]
    head += ["impl", "value"] if multi else ["corio"]
    for p in peers:
        head += [p, ("impl/" if multi else "corio/") + p]
    left = 2 + (1 if has_w else 0) + (1 if multi else 0)
    out = ["| " + " | ".join(md(h) for h in head) + " |",
           "|" + "|".join("---" if i < left else "--:" for i in range(len(head))) + "|"]
    flags = set()
    for l in lines:
        cells = [md(l["case"])]
        if has_w:
            cells.append("" if l["workers"] is None else str(l["workers"]))
        cells.append(md(unit_of(l, key, label)))
        if multi:
            cells.append(md(l["subject"]))
        cells.append(fmt(metric(l["row"], key)) if l["row"] else "n/a")
        for p in peers:
            pr = l["peers"].get(p)
            if pr is None:
                cells += ["n/a", "n/a"]
                continue
            v = fmt(metric(pr, key))
            pw = workers(pr)
            if has_w and pw is not None and pw != l["workers"]:
                v += " (%s w)" % pw
                flags.add("w")
            cells += [v, fmt_ratio(line_ratio(l, p, key))]
        if "n/a" in cells:
            flags.add("n/a")
        out.append("| " + " | ".join(cells) + " |")
    return out, flags


def table_notes(flags):
    n = []
    if "n/a" in flags:
        n.append("n/a: that implementation did not run (or gave no figure), so there is no ratio.")
    if "w" in flags:
        n.append("\"(N w)\": the peer's row with N workers, the only one it has.")
    return " ".join(n)


def direction(better):
    if better == "lower":
        return "lower is better, so below 1× corio's side is faster or smaller"
    if better == "higher":
        return "higher is better, so above 1× corio's side is faster"
    return "the rows differ in which way is better: see each row's unit"


def headline(b):
    """(text, ratio cell, better) of the summary line."""
    c = config(b)
    if not b.result or not b.result["rows"] or not c.get("headline"):
        return None
    peer, key, words = c["headline"]
    label = key
    for k, _, unit, _ in c.get("metrics", []):
        if k == key:
            label = unit
    lines, subjects, _ = build_lines(b, key)
    subj = subjects[0]
    lines = [l for l in lines if l["subject"] == subj]
    rs = [line_ratio(l, peer, key) for l in lines]
    units = sorted({unit_of(l, key, label) for l in lines if l["row"]})
    what = "%s / %s: %s" % (subj, peer, words)
    if 1 <= len(units) <= 2:
        what += " (%s)" % ", ".join(units)
    g = geomean(rs)
    have = [r for r in rs if r is not None]
    rows = lambda n: "%d row%s" % (n, "" if n == 1 else "s")
    if g is None:
        why = "no %s rows" % subj if not any(l["row"] for l in lines) else "%s did not run" % peer
        cell = "n/a (%s)" % why
    elif len(rs) == 1:
        cell = fmt_ratio(g)
    elif len(have) == 1:
        cell = "%s (1 row; %s n/a)" % (fmt_ratio(g), rows(len(rs) - 1))
    else:
        cell = "%s (geometric mean of %s, %s to %s%s)" % (
            fmt_ratio(g), rows(len(have)), fmt_ratio(min(have)), fmt_ratio(max(have)),
            "; %s n/a" % rows(len(rs) - len(have)) if len(have) < len(rs) else "")
    better = better_of(lines, key, next((bt for k, _, _, bt in c.get("metrics", []) if k == key), None))
    return what, cell, better


# ---------------------------------------------------------------- charts

_terminal = {}


def gnuplot_terminal(gp):
    """pngcairo when this gnuplot has it, else png (libgd)."""
    if gp not in _terminal:
        cairo = "pngcairo size 960,540 font ',10'"
        if gp is None:
            _terminal[gp] = cairo
        else:
            try:
                p = subprocess.run([gp, "-e", "set terminal pngcairo"], capture_output=True,
                                   text=True, timeout=30)
                ok = p.returncode == 0 and not p.stderr.strip()
            except (OSError, subprocess.SubprocessError):
                ok = False
            _terminal[gp] = cairo if ok else "png size 960,540"
    return _terminal[gp]


def chart(b, lines, subjects, peers, chart_dir, gp):
    """Writes NAME.dat and NAME.gp and runs gnuplot.  Returns (png path or
    None, a note)."""
    for ext in (".png", ".dat", ".gp"):
        try:
            os.remove(os.path.join(chart_dir, b.name + ext))
        except OSError:
            pass
    have = [p for p in peers if any(line_ratio(l, p, None) is not None for l in lines)]
    if not have:
        return None, "no chart: no ratio to draw (no corio row or no peer ran)"
    multi = len(subjects) > 1 or subjects != ["corio"]
    name = b.name
    dat = os.path.join(chart_dir, name + ".dat")
    png = os.path.join(chart_dir, name + ".png")
    with open(dat, "w") as f:
        f.write("# %s: corio/peer ratio per row (NaN: n/a); columns: label %s\n" % (name, " ".join(have)))
        for l in lines:
            label = line_label(l, multi).replace('"', "'")
            vals = []
            for p in have:
                r = line_ratio(l, p, None)
                vals.append("NaN" if r is None else "%.6g" % r)
            f.write('"%s" %s\n' % (label, " ".join(vals)))
    better = better_of(lines, None, None)
    side = {"lower": "below 1: corio's side faster or smaller",
            "higher": "above 1: corio's side faster"}.get(better, "see the table for which way is better")
    ratios = [line_ratio(l, p, None) for l in lines for p in have]
    ratios = [r for r in ratios if r is not None]
    lo = min(ratios + [1.0])
    hi = max(ratios + [1.0])
    lo, hi = lo / 1.6, hi * 1.6
    titles = ["'%s'" % (("impl/" if multi else "corio/") + p).replace("'", "") for p in have]
    plots = []
    for i, p in enumerate(have):
        plots.append("'%s.dat' using %d:xtic(1) title %s" % (name, i + 2, titles[i]))
    # The ratio above each bar: bar i of k sits (i - (k-1)/2) / (k+1) from
    # the middle of its cluster (gap 1).
    k = len(have)
    for i in range(k):
        plots.append("'%s.dat' using ($0 + %g):%d:(sprintf('%%.2f', column(%d))) "
                     "with labels offset 0,0.6 font ',8' notitle" % (name, (i - (k - 1) / 2) / (k + 1), i + 2, i + 2))
    nice = [m * 10 ** e for e in range(-3, 4) for m in (1, 1.5, 2, 3, 5, 7)]
    tics = [t for t in nice if lo <= t <= hi]
    if len(tics) > 12:
        tics = [t for t in tics if str(t).lstrip("0.").startswith(("1", "2", "5"))]
    script = [
        "# %s: written by bench/report.py; run `gnuplot %s.gp` in this folder" % (name, name),
        "set terminal %s" % gnuplot_terminal(gp),
        "set output '%s.png'" % name,
        "set title \"%s: corio / peer (log scale; %s)\"" % (name, side),
        "set datafile missing 'NaN'",
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1",
        "set boxwidth 0.9",
        "set xrange [-0.6:%g]" % (len(lines) - 0.4),
        "set logscale y",
        "set yrange [%.3g:%.3g]" % (lo, hi),
        "set ylabel 'corio / peer'",
        "set ytics (%s)" % ", ".join('"%g×" %g' % (t, t) for t in tics),
        "set grid ytics",
        "set key outside right top",
        "set xtics rotate by -25 scale 0",
        "set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb 'black'",
        "plot " + ", \\\n     ".join(plots),
        "",
    ]
    with open(os.path.join(chart_dir, name + ".gp"), "w") as f:
        f.write("\n".join(script))
    if gp is None:
        return None, "no chart: gnuplot is not installed (scripts/deps installs gnuplot-nox); " \
                     "`gnuplot %s.gp` in %s draws it" % (name, shown_path(chart_dir))
    try:
        p = subprocess.run([gp, name + ".gp"], cwd=chart_dir, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return None, "no chart: gnuplot failed: %s" % e
    if p.returncode != 0 or not os.path.exists(png):
        return None, "no chart: gnuplot failed: %s" % (_first_line(p.stderr) or "status %d" % p.returncode)
    return png, None


# ---------------------------------------------------------------- report

def log_tail(b, n=15):
    log = (b.run or {}).get("log")
    if not isinstance(log, str) or not log:
        return None
    path = log if os.path.isabs(log) else os.path.join(b.log_dir or ".", log)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    return lines[-n:]


def run_status(b):
    """None when the run is fine, else words for what went wrong."""
    st = (b.run or {}).get("status")
    if b.result is None:
        if b.run is None:
            return "no result"
        if st == 124 or st == 137:
            return "timed out (after %s s)" % b.run.get("timeout", "?")
        return "failed (exit status %s), no result" % st
    if isinstance(st, int) and st != 0:
        return "exited with status %d: some rows may be missing" % st
    return None


def describe_meta(m):
    def text(k, default="unknown"):
        v = m.get(k)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and v != "":
            return str(v)
        return default

    def count(k):
        v = m.get(k)
        return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None

    def words(k):
        v = m.get(k)
        return [str(x) for x in v] if isinstance(v, list) else None

    rows = [("date", text("date"))]
    c = text("commit")
    if m.get("dirty") is True:
        c += " (dirty: uncommitted changes)"
    rows.append(("commit", c))
    rows.append(("CPU", text("cpu")))
    cores = []
    online, usable, phys, sockets = count("cpus_online"), count("cpus_usable"), count("physical_cores"), count("sockets")
    if online:
        cores.append("%d logical CPUs" % online)
    if usable and usable != online:
        cores.append("%d usable by the benchmarks" % usable)
    if phys:
        cores.append("%d physical cores" % phys + (" on %d sockets" % sockets if (sockets or 1) > 1 else ""))
    rows.append(("cores", ", ".join(cores) or "unknown"))
    rows.append(("kernel", text("kernel")))
    kib = count("memory_kib")
    rows.append(("memory", "%.1f GiB" % (kib / 1048576) if kib else "unknown"))
    if words("loadavg"):
        rows.append(("load average at the start", " ".join(words("loadavg"))))
    tools = [text(k) for k in ("compiler", "go", "python") if text(k, "")]
    if tools:
        rows.append(("tools", "; ".join(tools)))
    if words("args") is not None:
        rows.append(("arguments", " ".join(words("args")) or "(defaults)"))
    return rows


def summary_table(benches):
    out = ["| benchmark | headline | corio / peer | corio better when |",
           "|---|---|---|---|"]
    for b in benches:
        st = run_status(b)
        h = headline(b)
        if b.result is None:
            out.append("| [%s](#%s) | %s | n/a | |" % (b.name, b.name, md(st)))
            continue
        if h is None:
            out.append("| [%s](#%s) | (no headline) | n/a | |" % (b.name, b.name))
            continue
        what, cell, better = h
        if st:
            cell += "; %s" % st.split(":")[0]
        when = {"lower": "below 1×", "higher": "above 1×"}.get(better, "see the section")
        out.append("| [%s](#%s) | %s | %s | %s |" % (b.name, b.name, md(what), md(cell), when))
    return out


def shown_path(p):
    """p relative to the repository root when it is inside it."""
    rel = os.path.relpath(os.path.abspath(p), ROOT)
    return p if rel.startswith("..") else rel


def write_report(meta, benches, skipped, out_path, meta_now):
    chart_dir = os.path.splitext(out_path)[0]
    os.makedirs(chart_dir, exist_ok=True)
    rel_dir = os.path.relpath(chart_dir, os.path.dirname(os.path.abspath(out_path)))
    gp = shutil.which("gnuplot")
    L = ["# corio benchmark report", ""]
    L += ["Written by `bench/run report` (docs/bench.md, \"report\"): every benchmark was run "
          "with `--json` in one sitting on this machine, each beside its peers. A ratio is "
          "corio's figure divided by the peer's, in the unit of the row.", ""]
    L += ["| | |", "|---|---|"]
    for k, v in describe_meta(meta or meta_now):
        L.append("| %s | %s |" % (k, md(v)))
    if meta is None:
        L.append("| note | no meta line in the input: machine and commit as of when the report was written |")
    L.append("")
    results = os.path.join(chart_dir, "results.jsonl")
    if os.path.exists(results):
        again = "bench/report.py %s" % shown_path(results)
        if os.path.abspath(out_path) != os.path.join(HERE, "report.md"):
            again = "bench/report.py --out %s %s" % (shown_path(out_path), shown_path(results))
        L += ["The raw JSON lines are in [%s](%s); `%s` writes this report again from them."
              % (os.path.join(rel_dir, "results.jsonl"), os.path.join(rel_dir, "results.jsonl"), again), ""]
    if not benches:
        L += ["**No benchmark results were found in the input.**", ""]
    L += ["## Summary", "", BEGIN]
    L += summary_table(benches)
    L += [END, "",
          "Each headline is the geometric mean of corio/peer over the benchmark's rows "
          "against the peer named (docs/bench.md, \"report\").", ""]
    for b in benches:
        c = config(b)
        L += ["## %s" % b.name, ""]
        if c.get("title"):
            L += [c["title"][0].upper() + c["title"][1:] + ". See docs/bench.md, \"%s\"." % b.name, ""]
        st = run_status(b)
        if st:
            L += ["**%s%s.**" % (st[0].upper(), st[1:]), ""]
        for n in b.notes:
            L += ["Note: %s." % n, ""]
        if b.result is None:
            tail = log_tail(b)
            if tail:
                L += ["The end of its log (%s):" % b.run.get("log"), "", "```"] + tail + ["```", ""]
            continue
        if b.run and isinstance(b.run.get("seconds"), (int, float)):
            L += ["Ran for %s s. Machine as the benchmark saw it: %s." % (b.run["seconds"], b.result.get("machine", "?")), ""]
        lines, subjects, peers = build_lines(b, None)
        if not lines:
            L += ["No rows.", ""]
            continue
        better = better_of(lines, None, None)
        if c.get("value"):
            L += ["Figure: %s." % c["value"], ""]
        t, flags = table(b, lines, subjects, peers, None, None)
        L += t
        L += ["", ("Ratio: %s / peer; %s. %s" %
                   (" or ".join(subjects), direction(better), table_notes(flags))).strip(), ""]
        for key, title, unit, bt in c.get("metrics", []):
            ml, ms, mp = build_lines(b, key)
            if not any(l["row"] and metric(l["row"], key) is not None for l in ml):
                continue
            L += ["%s (extra key `%s`):" % (title, key), ""]
            t, flags = table(b, ml, ms, mp, key, unit)
            L += t
            L += ["", ("Ratio: %s. %s" % (direction(bt), table_notes(flags))).strip(), ""]
        png, note = chart(b, lines, subjects, peers, chart_dir, gp)
        if png:
            rel = os.path.join(rel_dir, os.path.basename(png))
            L += ["![%s: corio / peer](%s)" % (b.name, rel), ""]
        else:
            L += ["_%s._" % (note[0].upper() + note[1:]), ""]
    if skipped:
        L += ["## Input lines skipped", ""] + ["- %s" % md(s) for s in skipped[:50]]
        if len(skipped) > 50:
            L.append("- ... and %d more" % (len(skipped) - 50))
        L.append("")
    with open(out_path + ".tmp", "w") as f:
        f.write("\n".join(L))
    os.replace(out_path + ".tmp", out_path)
    return summary_table(benches)


def update_readme(path, summary, meta, out_path):
    with open(path) as f:
        text = f.read()
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise SystemExit("report: %s has no %s ... %s block" % (path, BEGIN, END))
    m = meta or {}
    src = "From `%s` of %s, commit %s%s, %s." % (
        shown_path(out_path), m.get("date", "?"), m.get("commit", "?"), " (dirty)" if m.get("dirty") else "", m.get("cpu", "?"))
    # The benchmark links point into the report.
    rel = os.path.relpath(os.path.abspath(out_path), os.path.dirname(os.path.abspath(path)))
    summary = [l.replace("](#", "](%s#" % rel) for l in summary]
    block = BEGIN + "\n" + "\n".join(summary) + "\n\n" + src + "\n"
    with open(path, "w") as f:
        f.write(text[:i] + block + text[j:])


def main(argv):
    out = os.path.join(HERE, "report.md")
    readme = None
    if argv and argv[0] == "meta":
        argv = argv[1:]
        args = []
        while argv:
            a = argv.pop(0)
            if a == "--out" and argv:
                out = argv.pop(0)
            elif a == "--":
                args = argv
                break
            else:
                print("usage: bench/report.py meta [--out PATH.md] [-- ARGS...]", file=sys.stderr)
                return 2
        print(json.dumps({"meta": collect_meta(args, out)}))
        return 0
    files = []
    while argv:
        a = argv.pop(0)
        if a == "--out" and argv:
            out = argv.pop(0)
        elif a == "--readme" and argv:
            readme = argv.pop(0)
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("--"):
            print("usage: bench/report.py [--out PATH.md] [--readme README.md] FILE...", file=sys.stderr)
            return 2
        else:
            files.append(a)
    if not files:
        print("usage: bench/report.py [--out PATH.md] [--readme README.md] FILE...", file=sys.stderr)
        return 2
    meta, benches, skipped = read_inputs(files)
    summary = write_report(meta, benches, skipped, out, None if meta else collect_meta(None, out))
    if readme:
        update_readme(readme, summary, meta, out)
    print("report: wrote %s" % out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
