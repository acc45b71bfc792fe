#!/usr/bin/env bash
# samples/pipelines/demo.sh BUILD_DIR - a short tour of the pipeline programs
# on a generated log file: countdown, grep, printer, then
# follow, copipe, broadcast and broadcast-shared tailing a log that a
# background writer appends to.  Every follower stops after --max-lines, and
# every wait is bounded, so the tour ends in a few seconds.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
bin=$1/samples/pipelines
for p in countdown follow grep printer copipe broadcast broadcast-shared; do
    if [ ! -x "$bin/$p" ]; then
        echo "$0: $bin/$p is missing: build the samples first" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/corio-demo.XXXXXX")
tmp=$(cd "$tmp" && pwd -P) # as /proc/PID/fd shows it
trap 'rm -rf "$tmp"' EXIT
log=$tmp/access-log

header() { printf '\n== %s ==\n' "$*"; }

# The lines the writer appends, a web server's log.
requests=(
    "GET /index.html"
    "GET /python/index.html"
    "GET /ply/index.html"
    "GET /swig/index.html"
    "GET /about.html"
    "GET /python/ply/swig.html"
)

# Wait until process $1 has the log open at its end (follow seeks there at
# start-up); lines written earlier would be skipped, as tail -f skips them.
wait_at_end() {
    local pid=$1 size fd i
    size=$(stat -c %s "$log")
    for ((i = 0; i < 500; i++)); do # 5 seconds at most
        for fd in /proc/"$pid"/fd/*; do
            if [ "$(readlink "$fd" 2>/dev/null)" = "$log" ] &&
               grep -qx "pos:[[:space:]]*$size" /proc/"$pid"/fdinfo/"${fd##*/}" 2>/dev/null; then
                return 0
            fi
        done
        sleep 0.01
    done
    echo "$0: process $pid never opened $log" >&2
    return 1
}

# Wait for process $1 to exit, 10 seconds at most; then kill it.
wait_bounded() {
    local pid=$1 i
    for ((i = 0; i < 1000; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" # its exit status
            return
        fi
        sleep 0.01
    done
    echo "$0: process $pid did not finish; killing it" >&2
    kill "$pid"
    wait "$pid" || true
    return 1
}

# tail_demo CMD...: run a follow program on the log (it must stop after
# ${#requests[@]} lines), append the requests while it runs, wait for it.
tail_demo() {
    printf '%s\n' "GET /old/request.html" > "$log" # before the follower: skipped
    "$@" &
    local pid=$! r
    wait_at_end "$pid" || { kill "$pid"; wait "$pid" || true; return 1; }
    for r in "${requests[@]}"; do
        printf '%s\n' "$r" >> "$log"
        sleep 0.05
    done
    wait_bounded "$pid"
}

header "countdown 5 (a generator)"
"$bin/countdown" 5

header "grep python < lines (a coroutine fed with send, then closed)"
printf '%s\n' "Yeah, but no, but yeah, but no" "A series of tubes" \
    "python generators rock!" | "$bin/grep" python

header "printer < lines (the sink)"
printf '%s\n' "a line" "another line" | "$bin/printer"

n=${#requests[@]}
header "follow access-log --max-lines $n (tail -f as a generator)"
tail_demo "$bin/follow" "$log" --max-lines "$n"

header "copipe access-log python (follow -> grep -> printer)"
tail_demo "$bin/copipe" "$log" python --max-lines "$n"

header "broadcast access-log (follow -> broadcast -> 3 x grep -> printer)"
tail_demo "$bin/broadcast" "$log" --max-lines "$n"

header "broadcast-shared access-log (the three greps share one printer)"
tail_demo "$bin/broadcast-shared" "$log" --max-lines "$n"

header "broadcast access-log --pattern index --pattern html"
tail_demo "$bin/broadcast" "$log" --pattern index --pattern html --max-lines "$n"
