#!/usr/bin/env python3
"""bench/py/pipeline_send.py [--runs N] [--iters N] - the course's micro
benchmark in Python 3: send 'python is nice' into grep('python', null()),
generator coroutines, --iters times (1,000,000 as in the course).

It is timed as bench/pipeline.c times corio's row: thread CPU time
(time.thread_time), one warm-up run of iters/10 sends, then the median of
--runs runs.  Prints one number: nanoseconds per send."""
import argparse
import statistics
import time
import timeit

from coroutine import coroutine  # bench/py/coroutine.py


@coroutine
def grep(pattern, target):
    while True:
        line = (yield)
        if pattern in line:
            target.send(line)


@coroutine
def null():
    while True:
        item = (yield)  # noqa: F841 (the course's sink keeps nothing)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=7)
    ap.add_argument('--iters', type=int, default=1000000)
    a = ap.parse_args()
    line = 'python is nice'
    p1 = grep('python', null())
    t = timeit.Timer("p1.send(line)", globals={'p1': p1, 'line': line},
                     timer=time.thread_time)
    t.timeit(number=max(a.iters // 10, 1))
    runs = [t.timeit(number=a.iters) for _ in range(a.runs)]
    print("%.3f" % (statistics.median(runs) / a.iters * 1e9))


if __name__ == '__main__':
    main()
