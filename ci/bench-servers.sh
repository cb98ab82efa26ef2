#!/usr/bin/env bash
# Servers inside the runtimes users already run, each beside the same server
# on that runtime's own sockets, in one run:
#   - hyper 1.x on tokio current_thread (examples/hyper_hello.rs), tokio's
#     TcpListener against proactor's; the same on tokio multi_thread with 2
#     workers (server on both cores, so its CPU per request is the figure);
#   - hyper 1.x on a smol executor (examples/smol_hello.rs), smol::net
#     against proactor's (dispatched by async-io's reactor);
#   - a TCP echo on the same smol executor, smol::net against proactor's;
#     and on tokio multi_thread with 2 workers, tokio's sockets against
#     proactor's (`hyper_hello --serve echo`).
# Proactor runs with each back end. The server is pinned to core 0, the
# client to core 1: `wrk -t1 -c64` and `h2load --h1 -c64` for HTTP,
# `iobench --op echo --qd 64 --bs 4096 --connect` for the echo. Besides
# requests per second, perf counts the server process's CPU time (every
# thread: async-io's reactor thread and io_uring's kernel workers too),
# context switches and io_uring_enter calls over the measured run, reported
# per request (per round trip for the echo).
#
#   ci/bench-servers.sh [SECONDS]     # default 5
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}

. ci/lib/packages.sh
need_packages wrk:wrk h2load:nghttp2-client perf:linux-perf ||
    echo "could not install them: those columns are skipped"

cargo build --quiet --release --features uring,tokio,async-io --example hyper_hello --example smol_hello --example iobench
bin=target/release/examples
work=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Starts `$bin/$2` with the further arguments pinned to $server_cores
# (core 0 unless set) and PROACTOR_BACKEND=$1 (none if empty); sets $port
# and $server_pid.
start() {
    if [[ -n $1 ]]; then export PROACTOR_BACKEND=$1; else unset PROACTOR_BACKEND; fi
    local name=$2
    shift 2
    taskset -c "${server_cores:-0}" "$bin/$name" --addr 127.0.0.1:0 "$@" >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on [a-z:/]*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
        [[ -n $port ]] && return 0
        sleep 0.05
    done
    cat "$work/server.log" >&2
    exit 1
}

stop() {
    kill -INT "$server_pid"
    wait "$server_pid" || true
    server_pid=
}

# The value of perf's CSV line for event $1 in $work/perf.csv.
counted() {
    awk -F, -v event="$1" '$3 ~ event { print $1 }' "$work/perf.csv" | head -1
}

# Runs the load $1 (http or echo) against the server on $port for $secs
# seconds under perf; sets $rate (requests or round trips per second),
# $count (how many), $h2, $cpu, $cs and $enters.
measure() {
    local have_perf=0 perf_pid
    if command -v perf >/dev/null; then
        perf stat -x, -o "$work/perf.csv" -e task-clock,context-switches,syscalls:sys_enter_io_uring_enter \
            -p "$server_pid" 2>/dev/null &
        perf_pid=$!
        have_perf=1
        sleep 0.2
    fi
    if [[ $1 == http ]]; then
        taskset -c 1 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$port/" >"$work/load.out"
        rate=$(awk '/^Requests\/sec/ { print $2 }' "$work/load.out")
        count=$(awk '/requests in/ { print $1 }' "$work/load.out")
    else
        taskset -c 1 "$bin/iobench" --op echo --qd 64 --bs 4096 --secs "$secs" --backend uring \
            --connect "127.0.0.1:$port" 2>/dev/null >"$work/load.out"
        rate=$(sed -n 's/.* \([0-9]*\) ops\/s.*/\1/p' "$work/load.out")
        count=$(sed -n 's/.*: \([0-9]*\) ops in .*/\1/p' "$work/load.out")
    fi
    if ((have_perf)); then
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
    fi
    h2=-
    if [[ $1 == http ]] && command -v h2load >/dev/null; then
        h2=$(taskset -c 1 h2load --h1 -c64 -n100000 "http://127.0.0.1:$port/" 2>/dev/null |
            sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p')
    fi
    cpu=- cs=- enters=-
    if ((have_perf)) && [[ -s $work/perf.csv ]]; then
        cpu=$(awk -v ms="$(counted task-clock)" -v n="$count" 'BEGIN { printf "%.2f", ms * 1000 / n }')
        cs=$(awk -v c="$(counted context-switches)" -v n="$count" 'BEGIN { printf "%.3f", c / n }')
        enters=$(awk -v c="$(counted io_uring_enter)" -v n="$count" 'BEGIN { printf "%.3f", c / n }')
    fi
}

# One table: $1 its title, $2 the load, $3 the example, $4 the baseline's
# `--io`, then the further arguments of the example.
suite() {
    local title=$1 load=$2 name=$3 native=$4
    shift 4
    echo "## $title"
    printf '%-24s %10s %8s %12s %10s %10s %12s\n' "server" "$load/s" "ratio" "h2load req/s" "CPU us/op" "cs/op" "enters/op"
    local baseline= run io backend label ratio
    for run in "$native:" "proactor:uring" "proactor:poll"; do
        io=${run%%:*}
        backend=${run#*:}
        label=${backend:+proactor $backend}
        label=${label:-$native\'s sockets}
        start "$backend" "$name" --io "$io" "$@"
        if [[ $load == http ]]; then
            taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null # warm-up
        fi
        measure "$load"
        baseline=${baseline:-$rate}
        ratio=$(awk -v r="$rate" -v b="$baseline" 'BEGIN { printf "%.2fx", r / b }')
        printf '%-24s %10.0f %8s %12s %10s %10s %12s\n' "$label" "$rate" "$ratio" "$h2" "$cpu" "$cs" "$enters"
        stop
    done
}

suite "hyper on tokio current_thread" http hyper_hello tokio
server_cores=0,1 suite "hyper on tokio multi_thread, 2 workers on both cores (wrk shares core 1)" http hyper_hello tokio --workers 2
server_cores=0,1 suite "TCP echo, 64 connections x 4 KiB, on tokio multi_thread, 2 workers on both cores" echo hyper_hello tokio --workers 2 --serve echo
suite "hyper on a smol LocalExecutor" http smol_hello smol --serve http
suite "TCP echo, 64 connections x 4 KiB, on a smol LocalExecutor" echo smol_hello smol --serve echo
