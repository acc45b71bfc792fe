// Command timers is the Go side of the timers benchmark (bench/run timers).
//
// N goroutines (-n, default 100000) each sleep once with time.Sleep for a
// delay uniform in [1 ms, -max-ms] (default 100), drawn from splitmix64 with
// the same fixed seed as bench/timers.c (goroutine i gets the i-th draw).
// Each measures its lateness, wake time - (start + delay), on the monotonic
// clock into its own slot. The resident memory per sleeping goroutine is the
// VmRSS growth (/proc/self/status) from just before the goroutines are
// started to the moment the main goroutine sees that all N have entered
// their sleep (a counter polled every 1 ms), / N, in bytes.
//
// It prints exactly one line of JSON on stdout:
//
//	{"impl":"go","workers":2,"tasks":100000,"mean_us":...,"p50_us":...,"p99_us":...,
//	 "max_us":...,"min_us":...,"early":0,"rss_per_task_bytes":...,"spawn_ms":...,
//	 "sample_ms":...,"asleep_at_sample":...,"total_ms":...}
//
// The number of worker threads is set by the caller through GOMAXPROCS; the
// value in effect is reported as "workers".
//
// Usage:
//
//	GOMAXPROCS=2 timers [-n N] [-max-ms M]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// timerSeed is TIMER_SEED in bench/timers.c.
const timerSeed uint64 = 0x636f72696f54494d

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "timers: "+format+"\n", args...)
	os.Exit(1)
}

func splitmix64(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func vmRSSKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				if v, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
					return v // the kernel reports kB (KiB)
				}
			}
		}
	}
	fail("no VmRSS in /proc/self/status")
	return 0
}

// rankUs is the nearest-rank percentile p of sorted (ns), in µs.
func rankUs(sorted []int64, p float64) float64 {
	n := len(sorted)
	k := int(float64(n)*p + 0.999999999)
	if k < 1 {
		k = 1
	}
	if k > n {
		k = n
	}
	return float64(sorted[k-1]) / 1e3
}

func main() {
	n := flag.Int("n", 100000, "goroutines")
	maxMs := flag.Int("max-ms", 100, "longest sleep in ms; sleeps are uniform in [1, max-ms] ms")
	flag.Parse()
	if *n < 1 || *maxMs < 1 {
		fmt.Fprintln(os.Stderr, "timers: -n and -max-ms must be at least 1")
		os.Exit(2)
	}
	N := *n

	delays := make([]int64, N)
	late := make([]int64, N)
	s := timerSeed
	span := uint64(*maxMs-1)*1000000 + 1
	for i := range delays {
		delays[i] = 1000000 + int64(splitmix64(&s)%span)
	}
	var entered, woken int64
	var wg sync.WaitGroup
	wg.Add(N)

	debug.FreeOSMemory()
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	before := vmRSSKiB()

	t0 := time.Now()
	for i := 0; i < N; i++ {
		go func(i int) {
			d := delays[i]
			atomic.AddInt64(&entered, 1)
			start := time.Now()
			time.Sleep(time.Duration(d))
			late[i] = int64(time.Since(start)) - d
			atomic.AddInt64(&woken, 1)
			wg.Done()
		}(i)
	}
	t1 := time.Now()
	for atomic.LoadInt64(&entered) < int64(N) {
		time.Sleep(time.Millisecond)
	}
	after := vmRSSKiB()
	awake := atomic.LoadInt64(&woken)
	t2 := time.Now()
	wg.Wait()
	t3 := time.Now()

	sum := 0.0
	early := 0
	for _, v := range late {
		sum += float64(v)
		if v < 0 {
			early++
		}
	}
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	mean := sum / float64(N) / 1e3
	fmt.Printf("{\"impl\":\"go\",\"workers\":%d,\"tasks\":%d,\"mean_us\":%.3f,\"p50_us\":%.3f,"+
		"\"p99_us\":%.3f,\"max_us\":%.3f,\"min_us\":%.3f,\"early\":%d,"+
		"\"rss_per_task_bytes\":%.1f,\"spawn_ms\":%.3f,\"sample_ms\":%.3f,"+
		"\"asleep_at_sample\":%d,\"total_ms\":%.3f}\n",
		runtime.GOMAXPROCS(0), N, mean, rankUs(late, 0.50), rankUs(late, 0.99),
		float64(late[N-1])/1e3, float64(late[0])/1e3, early,
		float64(after-before)*1024/float64(N), ms(t1.Sub(t0)), ms(t2.Sub(t0)),
		int64(N)-awake, ms(t3.Sub(t0)))
}
