// Command chan is the Go side of the channel benchmark (bench/run chan):
// the shapes of bench/chan.c on unbuffered Go channels of uint64.
//
//	chan -case NAME [-n N] [-reps R]
//
// Cases: ping-pong-same-worker (GOMAXPROCS 1), ping-pong-cross-worker and
// fan-in-8 (GOMAXPROCS 2); the program sets GOMAXPROCS itself. One untimed
// warm-up at n/10, then the median of -reps timed runs (a GC before each,
// outside the clock). It prints one line on stdout:
//
//	{"case":"fan-in-8","impl":"go","workers":2,"value":123.456,"unit":"ns"}
//
// value is wall ns per round trip (ping-pong) or per item (fan-in-8). A
// failed check prints the reason on stderr and exits with status 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

const fanSenders = 8

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "chan (go): "+format+"\n", args...)
	os.Exit(1)
}

// pingPong: goroutine P sends i on a, Q answers i+1 on b; one untimed round
// first, then n timed ones. Wall ns per round trip.
func pingPong(n int) float64 {
	a, b := make(chan uint64), make(chan uint64)
	go func() {
		for i := 0; i <= n; i++ {
			b <- <-a + 1
		}
	}()
	var t0 time.Time
	for i := 0; i <= n; i++ {
		if i == 1 {
			t0 = time.Now()
		}
		a <- uint64(i)
		if v := <-b; v != uint64(i)+1 {
			die("ping-pong: sent %d, got back %d", i, v)
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

// fanIn: 8 sender goroutines share items 0..n-1, one receiver goroutine
// takes all n from one channel; the clock runs from before the goroutines
// start until all have ended. Wall ns per item.
func fanIn(n int) float64 {
	ch := make(chan uint64)
	var wg sync.WaitGroup
	var sum uint64
	t0 := time.Now()
	wg.Add(fanSenders + 1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			sum += <-ch
		}
	}()
	first := 0
	for k := 0; k < fanSenders; k++ {
		count := n / fanSenders
		if k < n%fanSenders {
			count++
		}
		go func(lo, hi uint64) {
			defer wg.Done()
			for v := lo; v < hi; v++ {
				ch <- v
			}
		}(uint64(first), uint64(first+count))
		first += count
	}
	wg.Wait()
	d := time.Since(t0)
	if want := uint64(n) * uint64(n-1) / 2; sum != want {
		die("fan-in: the items add up to %d, want %d", sum, want)
	}
	return float64(d.Nanoseconds()) / float64(n)
}

func main() {
	name := flag.String("case", "", "ping-pong-same-worker, ping-pong-cross-worker or fan-in-8")
	n := flag.Int("n", 1000000, "round trips or items per run")
	reps := flag.Int("reps", 5, "timed runs after the warm-up (the median is printed)")
	flag.Parse()

	run, procs := pingPong, 2
	switch *name {
	case "ping-pong-same-worker":
		procs = 1
	case "ping-pong-cross-worker":
	case "fan-in-8":
		run = fanIn
	default:
		fmt.Fprintf(os.Stderr, "chan (go): unknown or missing -case %q\n", *name)
		os.Exit(2)
	}
	if *n < 1 || *reps < 1 {
		fmt.Fprintln(os.Stderr, "chan (go): -n and -reps must be positive")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(procs)

	warm := *n / 10
	if warm < 1 {
		warm = 1
	}
	run(warm)
	v := make([]float64, *reps)
	for i := range v {
		runtime.GC()
		v[i] = run(*n)
	}
	sort.Float64s(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + med) / 2
	}
	fmt.Printf("{\"case\":%q,\"impl\":\"go\",\"workers\":%d,\"value\":%.3f,\"unit\":\"ns\"}\n",
		*name, runtime.GOMAXPROCS(0), med)
}
