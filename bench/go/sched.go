// Command sched is the Go side of the scheduler benchmark (bench/run sched).
//
// It runs one case per invocation and prints exactly one line of JSON on
// stdout:
//
//	{"case":"skynet","impl":"go","workers":2,"value":123.456,"unit":"ms","better":"lower"}
//
// The number of worker threads is set by the caller through the GOMAXPROCS
// environment variable; the value in effect is reported as "workers".
//
// Timed cases run one untimed warm-up and then -reps timed repetitions
// (default 5); the reported value is the median of the timed repetitions.
// A forced GC runs before every repetition, outside the timed region, so
// that one repetition's garbage is not collected on the next one's clock.
// The memory case (idle-1m) is measured once, in a fresh process.
//
// Usage:
//
//	GOMAXPROCS=2 sched -case NAME [-n N] [-reps R]
//
// Diagnostics go to stderr; on a failed self-check nothing is printed on
// stdout and the exit status is 1.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type result struct {
	Case    string  `json:"case"`
	Impl    string  `json:"impl"`
	Workers int     `json:"workers"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Better  string  `json:"better"`
}

type benchCase struct {
	defaultN int
	unit     string
	timed    bool
	// run performs one repetition with parameter n and returns the value
	// in the case's unit.
	run func(n int) float64
}

var cases = map[string]benchCase{
	"spawn-many":    {1000000, "ns/task", true, spawnMany},
	"skynet":        {1000000, "ms", true, skynet},
	"yield-many":    {10000000, "ns/yield", true, yieldMany},
	"chained-spawn": {1000000, "ns/hop", true, chainedSpawn},
	"fib30":         {30, "ms", true, fibCase},
	"idle-1m":       {1000000, "KiB/task", false, idleMany},
}

func caseNames() string {
	names := make([]string, 0, len(cases))
	for k := range cases {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "sched: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	name := flag.String("case", "", "case to run: "+caseNames())
	n := flag.Int("n", 0, "size parameter (0 = the case's default)")
	reps := flag.Int("reps", 5, "timed repetitions after one warm-up (median is reported)")
	flag.Parse()

	c, ok := cases[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "sched: unknown or missing -case %q (known: %s)\n", *name, caseNames())
		os.Exit(2)
	}
	if *n <= 0 {
		*n = c.defaultN
	}
	if *reps < 1 {
		*reps = 1
	}

	var value float64
	if c.timed {
		c.run(*n) // warm-up: grows the heap, fills goroutine free lists
		vals := make([]float64, *reps)
		for i := range vals {
			runtime.GC()
			vals[i] = c.run(*n)
		}
		value = median(vals)
	} else {
		value = c.run(*n)
	}

	out, err := json.Marshal(result{
		Case:    *name,
		Impl:    "go",
		Workers: runtime.GOMAXPROCS(0),
		Value:   math.Round(value*1000) / 1000,
		Unit:    c.unit,
		Better:  "lower",
	})
	if err != nil {
		fail("%v", err)
	}
	fmt.Println(string(out))
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func nsPer(d time.Duration, count int) float64 {
	return float64(d.Nanoseconds()) / float64(count)
}

func ms(d time.Duration) float64 {
	return float64(d.Nanoseconds()) / 1e6
}

// spawn-many: n empty goroutines started from the main goroutine and waited
// for with one WaitGroup. Value: wall time / n.
func spawnMany(n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return nsPer(time.Since(t0), n)
}

// skynet: a 10-ary tree of goroutines with n leaves (n must be a power of
// 10). A leaf returns its number, an inner node sums its 10 children. Each
// node receives its children's results on its own channel, buffered so
// that a finished child never waits for its parent (like a joined task
// whose result is read after it has ended). Value: wall time in ms.
func skynetNode(out chan<- int64, num, size int64) {
	if size == 1 {
		out <- num
		return
	}
	const div = 10
	sub := size / div
	rc := make(chan int64, div)
	for i := int64(0); i < div; i++ {
		go skynetNode(rc, num+i*sub, sub)
	}
	var sum int64
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	out <- sum
}

func skynet(n int) float64 {
	size := int64(n)
	for s := size; s > 1; s /= 10 {
		if s%10 != 0 {
			fail("skynet: -n must be a power of 10, got %d", n)
		}
	}
	want := size * (size - 1) / 2
	t0 := time.Now()
	rc := make(chan int64, 1)
	go skynetNode(rc, 0, size)
	got := <-rc
	d := time.Since(t0)
	if got != want {
		fail("skynet: sum %d, want %d", got, want)
	}
	return ms(d)
}

// yield-many: yieldGoroutines goroutines, each calling runtime.Gosched()
// n/yieldGoroutines times. They are all created and parked on a start
// gate first, so the timed region holds the yields only (and the final
// wake-ups and exits). Value: wall time / total yields.
const yieldGoroutines = 100

func yieldMany(n int) float64 {
	g := yieldGoroutines
	if n < g {
		g = n
	}
	per := n / g
	total := per * g
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(g)
	done.Add(g)
	for i := 0; i < g; i++ {
		go func() {
			ready.Done()
			<-start
			for j := 0; j < per; j++ {
				runtime.Gosched()
			}
			done.Done()
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	return nsPer(time.Since(t0), total)
}

// chained-spawn: goroutine i spawns goroutine i-1 and exits at once; the
// last one (i == 0) closes done. n hops in total, strictly sequential
// dependency-wise. Value: wall time / n.
func hop(i int, done chan<- struct{}) {
	if i == 0 {
		close(done)
		return
	}
	go hop(i-1, done)
}

func chainedSpawn(n int) float64 {
	done := make(chan struct{})
	t0 := time.Now()
	go hop(n, done)
	<-done
	return nsPer(time.Since(t0), n)
}

// fib30: fork-join fib(n). Every call with n >= 2 spawns a goroutine for
// fib(n-1), computes fib(n-2) itself, then joins on the child's result
// through a 1-buffered channel. fib(30) spawns 1,346,268 goroutines.
// Value: wall time in ms.
func fib(n int) int {
	if n < 2 {
		return n
	}
	c := make(chan int, 1)
	go func() { c <- fib(n - 1) }()
	y := fib(n - 2)
	return <-c + y
}

func fibSeq(n int) int {
	a, b := 0, 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a
}

func fibCase(n int) float64 {
	if n > 40 {
		fail("fib30: -n %d is too large", n)
	}
	want := fibSeq(n)
	t0 := time.Now()
	got := fib(n)
	d := time.Since(t0)
	if got != want {
		fail("fib30: fib(%d) = %d, want %d", n, got, want)
	}
	return ms(d)
}

// idle-1m: n goroutines, each blocked receiving on one shared channel.
// Value: (VmRSS with all of them parked - VmRSS before spawning) / n, in
// KiB, both readings taken after runtime.GC() and a short settle. Then the
// channel is closed, all goroutines run to completion, and the program
// exits normally.
func vmRSSKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fail("idle-1m: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				v, err := strconv.ParseInt(fields[1], 10, 64)
				if err == nil {
					return v // the kernel reports kB (KiB)
				}
			}
		}
	}
	fail("idle-1m: no VmRSS in /proc/self/status")
	return 0
}

func settledRSS() int64 {
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	return vmRSSKiB()
}

func idleMany(n int) float64 {
	debug.FreeOSMemory()
	before := settledRSS()

	release := make(chan struct{})
	var parked, finished sync.WaitGroup
	parked.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			parked.Done()
			<-release
			finished.Done()
		}()
	}
	parked.Wait()
	after := settledRSS()

	close(release)
	finished.Wait()
	return float64(after-before) / float64(n)
}
