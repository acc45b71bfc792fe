// Command echo is the Go peer of the echo benchmark (bench/run echo,
// docs/bench.md): a TCP echo server with one goroutine per connection.
//
// Usage:
//
//	echo [-listen HOST:PORT]      (also --listen; default 127.0.0.1:45000)
//
// Every byte received is written back; a connection is closed on EOF or on
// an error. The server runs until SIGINT or SIGTERM and then exits 0. The
// number of threads running goroutines is GOMAXPROCS (by default the CPU
// count).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:45000", "address to listen on, HOST:PORT")
	flag.Parse()

	// Go 1.19 and later raise the soft limit at start-up already; do it here
	// too so older toolchains behave the same.
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo: %v\n", err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			fmt.Fprintf(os.Stderr, "echo: accept: %v\n", err)
			continue
		}
		go serve(c)
	}
}
