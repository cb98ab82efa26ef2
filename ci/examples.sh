#!/usr/bin/env bash
# Runs every example against real clients nobody here wrote (nc, socat,
# curl, wrk) and checks the output, once per back end. hyper_hello and
# proxy need the `tokio` feature; smol_hello runs with `async-io`.
#
#   ci/examples.sh            # automatic back end, then PROACTOR_BACKEND=poll
set -euo pipefail
cd "$(dirname "$0")/.."

. ci/lib/packages.sh
need_packages socat:socat nc:netcat-openbsd curl:curl wrk:wrk

cargo build --quiet --release --features uring,tokio,async-io --examples
bin=target/release/examples
work=$(mktemp -d)
server_pid=
running=()
cleanup() {
    for pid in "${running[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAILED: $*" >&2
    exit 1
}

# Starts a server example on a free port, with any further arguments;
# sets $port and $server_pid.
start_server() {
    local name=$1 log=$work/$1.log
    shift
    "$bin/$name" --addr 127.0.0.1:0 "$@" >"$log" 2>&1 &
    server_pid=$!
    running+=("$server_pid")
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on [a-z:/]*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
        [[ -n $port ]] && return 0
        sleep 0.05
    done
    cat "$log"
    fail "$name did not start"
}

# Ctrl-C the server ($2, else the last started) and check it shut down
# cleanly.
stop_server() {
    local name=$1 pid=${2:-$server_pid}
    kill -INT "$pid"
    local status=0 still=() other
    wait "$pid" || status=$?
    for other in "${running[@]}"; do [[ $other == "$pid" ]] || still+=("$other"); done
    running=("${still[@]}")
    cat "$work/$name.log"
    ((status == 0)) || fail "$name exited with $status after SIGINT"
    grep -q "shut down cleanly" "$work/$name.log" || fail "$name did not report a clean shutdown"
}

run_all() {
    echo "--- cat and cp"
    head -c 3000001 /dev/urandom >"$work/input"
    printf 'second file\n' >"$work/input2"
    "$bin/cat" "$work/input" "$work/input2" >"$work/cat.out"
    cat "$work/input" "$work/input2" | cmp - "$work/cat.out" || fail "cat output differs"
    if "$bin/cat" "$work/missing" 2>"$work/cat.err"; then fail "cat of a missing file succeeded"; fi
    grep -q "No such file" "$work/cat.err" || fail "cat did not explain the error"
    "$bin/cp" "$work/input" "$work/copy" --in-flight 16 --chunk 65536
    cmp "$work/input" "$work/copy" || fail "cp output differs"

    echo "--- grep against grep -rnHF"
    rm -rf "$work/tree"
    mkdir -p "$work/tree/sub/deeper" "$work/tree/many"
    printf 'alpha needle\nbeta\nneedle gamma\n' >"$work/tree/a.txt"
    printf 'no match here\n' >"$work/tree/sub/b.txt"
    for i in $(seq 300); do
        printf 'line %s\n' "$i"
        ((i % 50)) || printf 'a needle at %s\n' "$i"
    done >"$work/tree/sub/deeper/c.txt"
    # More entries than one read_dir batch.
    for i in $(seq 150); do printf 'file %s needle\n' "$i" >"$work/tree/many/f$i"; done
    ln -sfn a.txt "$work/tree/link.txt" # grep -r skips symlinks inside directories
    "$bin/grep" needle "$work/tree" "$work/input2" "$work/tree/link.txt" | sort >"$work/grep.out"
    grep -rnHF needle "$work/tree" "$work/input2" "$work/tree/link.txt" | sort >"$work/grep.want"
    diff "$work/grep.want" "$work/grep.out" || fail "grep output differs from grep -rnHF"
    [[ $(wc -l <"$work/grep.out") == 160 ]] || fail "grep found $(wc -l <"$work/grep.out") lines, not 160"
    status=0
    "$bin/grep" 'not in any file' "$work/tree" >/dev/null || status=$?
    ((status == 1)) || fail "grep with no match exited with $status, not 1"
    status=0
    "$bin/grep" needle "$work/missing" 2>"$work/grep.err" || status=$?
    ((status == 2)) || fail "grep of a missing path exited with $status, not 2"
    grep -q "No such file" "$work/grep.err" || fail "grep did not explain the error"

    echo "--- echo with nc and socat"
    start_server echo
    [[ $(printf 'hello\n' | nc -N 127.0.0.1 "$port") == hello ]] || fail "nc echo"
    [[ $(printf 'via socat\n' | socat - "TCP:127.0.0.1:$port") == "via socat" ]] || fail "socat echo"
    head -c 1000000 /dev/urandom >"$work/blob"
    socat "TCP:127.0.0.1:$port" - <"$work/blob" >"$work/blob.back"
    cmp "$work/blob" "$work/blob.back" || fail "1 MB through echo differs"
    for i in $(seq 32); do
        (printf 'client %s\n' "$i" | nc -N 127.0.0.1 "$port" >"$work/client.$i") &
    done
    wait $(jobs -p | grep -v "^$server_pid\$") 2>/dev/null || true
    for i in $(seq 32); do
        [[ $(cat "$work/client.$i") == "client $i" ]] || fail "client $i got '$(cat "$work/client.$i")'"
    done
    stop_server echo

    echo "--- http_hello with curl and wrk"
    start_server http_hello
    [[ $(curl -s "http://127.0.0.1:$port/") == "Hello, world!" ]] || fail "curl GET /"
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/missing") == 404 ]] || fail "curl 404"
    # Two requests, one connection: keep-alive works.
    connects=$(($(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "http://127.0.0.1:$port/" "http://127.0.0.1:$port/" | paste -sd+)))
    [[ $connects == 1 ]] || fail "keep-alive: $connects connections for two requests"
    wrk -t1 -c16 -d1s "http://127.0.0.1:$port/" | tee "$work/wrk.out"
    grep -q "Requests/sec" "$work/wrk.out" || fail "wrk did not run"
    if grep -q "Non-2xx\|Socket errors" "$work/wrk.out"; then fail "wrk saw errors"; fi
    stop_server http_hello

    echo "--- hyper_hello with curl and nc: keep-alive, 100-continue, 1 MB echo, pipelining, half-close"
    start_server hyper_hello
    local hyper_port=$port hyper_pid=$server_pid
    check_hyper_server "$hyper_port" "hyper_hello"

    echo "--- hyper_hello on a multi-thread runtime (2 workers): the same checks"
    start_server hyper_hello --workers 2
    check_hyper_server "$port" "hyper_hello --workers 2"
    stop_server hyper_hello
    start_server hyper_hello --workers 2 --serve echo
    socat "TCP:127.0.0.1:$port" - <"$work/blob" >"$work/blob.back"
    cmp "$work/blob" "$work/blob.back" || fail "hyper_hello --serve echo: 1 MB differs"
    stop_server hyper_hello

    echo "--- smol_hello (hyper and echo on smol) with curl, nc, wrk and socat: the same checks"
    start_server smol_hello
    check_hyper_server "$port" "smol_hello"
    stop_server smol_hello
    start_server smol_hello --serve echo
    socat "TCP:127.0.0.1:$port" - <"$work/blob" >"$work/blob.back"
    cmp "$work/blob" "$work/blob.back" || fail "smol_hello --serve echo: 1 MB differs"
    stop_server smol_hello

    echo "--- proxy (copy_bidirectional, then split halves) to hyper_hello and to echo, with curl and socat"
    start_server echo
    local echo_port=$port echo_pid=$server_pid
    for mode in "" --split; do
        start_server proxy --to "127.0.0.1:$hyper_port" $mode
        check_hyper_hello "$port" "proxy $mode to hyper_hello"
        stop_server proxy
        start_server proxy --to "127.0.0.1:$echo_port" $mode
        socat "TCP:127.0.0.1:$port" - <"$work/blob" >"$work/blob.proxied"
        cmp "$work/blob" "$work/blob.proxied" || fail "proxy $mode: 1 MB through echo differs"
        stop_server proxy
    done
    stop_server echo "$echo_pid"
    stop_server hyper_hello "$hyper_pid"
}

# What every route to hyper_hello on port $1 must do ($2 names the route).
check_hyper_hello() {
    local port=$1 what=$2
    [[ $(curl -s "http://127.0.0.1:$port/") == "Hello, world!" ]] || fail "$what: curl GET /"
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/missing") == 404 ]] || fail "$what: curl 404"
    connects=$(($(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "http://127.0.0.1:$port/" "http://127.0.0.1:$port/" | paste -sd+)))
    [[ $connects == 1 ]] || fail "$what: keep-alive: $connects connections for two requests"
    curl -sv -H 'Expect: 100-continue' --data-binary @"$work/blob" "http://127.0.0.1:$port/echo" \
        -o "$work/blob.echoed" 2>"$work/curl.err" || fail "$what: curl POST /echo"
    cmp "$work/blob" "$work/blob.echoed" || fail "$what: 1 MB echo differs"
    grep -q "^< HTTP/1.1 100 Continue" "$work/curl.err" || fail "$what: no 100 Continue"
}

# The same, plus what only a direct client of hyper sees: pipelining, a
# half-closed client, and wrk.
check_hyper_server() {
    local port=$1 what=$2
    check_hyper_hello "$port" "$what"
    [[ $(printf 'GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
        timeout 10 nc -N 127.0.0.1 "$port" | grep -c "Hello, world!") == 2 ]] || fail "$what: two pipelined requests"
    # nc -N shuts its side down after the request: the answer still comes.
    printf 'GET / HTTP/1.1\r\nHost: t\r\n\r\n' | timeout 10 nc -N 127.0.0.1 "$port" >"$work/half-closed.out" ||
        fail "$what: a half-closed client hung or failed"
    grep -q "Hello, world!" "$work/half-closed.out" || fail "$what: no answer to a half-closed client"
    wrk -t1 -c16 -d1s "http://127.0.0.1:$port/" | tee "$work/wrk.out"
    grep -q "Requests/sec" "$work/wrk.out" || fail "$what: wrk did not run"
    if grep -q "Non-2xx\|Socket errors" "$work/wrk.out"; then fail "$what: wrk saw errors"; fi
}

echo "=== examples, automatic back end"
run_all
echo "=== examples, PROACTOR_BACKEND=poll"
PROACTOR_BACKEND=poll run_all
echo "examples: all passed"
