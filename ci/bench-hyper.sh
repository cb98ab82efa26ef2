#!/usr/bin/env bash
# hyper 1.x on a tokio current_thread runtime (examples/hyper_hello.rs),
# served on tokio's own TcpListener (the baseline) and on proactor's, with
# each back end, in one run: `wrk -t1 -c64` and `h2load --h1 -c64`, the
# server on core 0 and the client on core 1. Besides requests per second,
# perf counts the server's CPU time, context switches and io_uring_enter
# calls over the wrk run, reported per request.
#
#   ci/bench-hyper.sh [SECONDS]     # default 5
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v perf >/dev/null || need+=(linux-perf)
if ((${#need[@]})) && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; } ||
        echo "could not install ${need[*]}: those columns are skipped"
fi

cargo build --quiet --release --features uring,tokio --example hyper_hello
bin=target/release/examples/hyper_hello
work=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Starts the server pinned to core 0 with `--io $1` and PROACTOR_BACKEND=$2;
# sets $port and $server_pid.
start() {
    if [[ -n $2 ]]; then export PROACTOR_BACKEND=$2; else unset PROACTOR_BACKEND; fi
    taskset -c 0 "$bin" --addr 127.0.0.1:0 --io "$1" >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
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

printf '%-26s %10s %8s %12s %10s %10s %12s\n' "server" "wrk req/s" "ratio" "h2load req/s" "CPU us/req" "cs/req" "enters/req"
baseline=
for run in "tokio tokio's TcpListener" "proactor:uring proactor io_uring" "proactor:poll proactor poll"; do
    mode=${run%% *}
    label=${run#* }
    io=${mode%%:*}
    backend=${mode#*:}
    [[ $backend == "$mode" ]] && backend=
    start "$io" "$backend"
    url=http://127.0.0.1:$port/
    taskset -c 1 wrk -t1 -c64 -d1s "$url" >/dev/null # warm-up
    have_perf=0
    if command -v perf >/dev/null; then
        perf stat -x, -o "$work/perf.csv" -e task-clock,context-switches,syscalls:sys_enter_io_uring_enter \
            -p "$server_pid" 2>/dev/null &
        perf_pid=$!
        have_perf=1
        sleep 0.2
    fi
    taskset -c 1 wrk -t1 -c64 -d"${secs}s" "$url" >"$work/wrk.out"
    if ((have_perf)); then
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
    fi
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$work/wrk.out")
    requests=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
    h2=-
    if command -v h2load >/dev/null; then
        h2=$(taskset -c 1 h2load --h1 -c64 -n100000 "$url" 2>/dev/null |
            sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p')
    fi
    cpu=- cs=- enters=-
    if ((have_perf)) && [[ -s $work/perf.csv ]]; then
        cpu=$(awk -v ms="$(counted task-clock)" -v n="$requests" 'BEGIN { printf "%.2f", ms * 1000 / n }')
        cs=$(awk -v c="$(counted context-switches)" -v n="$requests" 'BEGIN { printf "%.3f", c / n }')
        enters=$(awk -v c="$(counted io_uring_enter)" -v n="$requests" 'BEGIN { printf "%.3f", c / n }')
    fi
    baseline=${baseline:-$rps}
    ratio=$(awk -v r="$rps" -v b="$baseline" 'BEGIN { printf "%.2fx", r / b }')
    printf '%-26s %10.0f %8s %12s %10s %10s %12s\n' "$label" "$rps" "$ratio" "$h2" "$cpu" "$cs" "$enters"
    stop
done
