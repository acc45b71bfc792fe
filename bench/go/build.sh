#!/bin/sh
# Build the Go peers of the benchmarks, offline.
#
#   bench/go/build.sh OUTDIR      -> OUTDIR/sched (sched.go), OUTDIR/echo (echo.go),
#                                    OUTDIR/timers (timers.go), OUTDIR/chan (chan.go)
#
# Standard library only: modules and the module proxy are switched off, so
# no network access is needed. The build cache lives under <repo>/build
# unless GOCACHE is already set. Prints nothing on success.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

if ! command -v go >/dev/null 2>&1; then
    echo "$0: 'go' not found in PATH; install Go (e.g. Debian's golang-go) to build the Go benchmark peers" >&2
    exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

GOCACHE=${GOCACHE:-$root/build/go-cache}
export GOCACHE
export GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local GOTELEMETRY=off CGO_ENABLED=0

cd "$here"
go build -o "$out/sched" sched.go
go build -o "$out/echo" echo.go
go build -o "$out/timers" timers.go
go build -o "$out/chan" chan.go
