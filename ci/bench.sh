#!/usr/bin/env bash
# Regenerates the figures in BENCHMARKS.md: the criterion benches (each
# proactor back end beside its baselines in the same run), iobench runs,
# fio, servers inside tokio and smol (ci/bench-servers.sh), and the other
# io_uring runtimes (ci/bench-peers.sh).
# Not part of ci/test.sh: benchmarks on a shared machine are too noisy for a
# pass/fail check (ci/test.sh only builds them).
#
#   ci/bench.sh [SECONDS_PER_MEASUREMENT]     # default 3
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
# A fresh criterion home: no comparison with an earlier run in the output.
CRITERION_HOME=$(mktemp -d)
export CRITERION_HOME
trap 'rm -rf "$CRITERION_HOME"' EXIT
echo "# $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for bench in nop nop_threads randread echo accept send_zc; do
    cargo bench --quiet --features uring,tokio --bench "$bench" -- --warm-up-time 1 --measurement-time "$secs" 2>&1 |
        grep -E "^[a-z_]+/|thrpt|skipped" | sed 's/time:.*//' | paste -d' ' - - | sed 's/ \+/ /g'
done
cargo build --quiet --release --features uring --example iobench
for backend in uring poll; do
    for args in "--op nop --qd 32" "--op randread --qd 1" "--op randread --qd 32" \
        "--op echo --qd 64 --bs 4096" "--op echo --qd 1 --bs 64"; do
        # shellcheck disable=SC2086
        target/release/examples/iobench $args --secs "$secs" --backend "$backend" 2>/dev/null
    done
done

# O_DIRECT random reads against fio's io_uring engine on the same file, the
# same depth and block size, one after the other.
. ci/lib/packages.sh
need_packages fio:fio || true
file=${TMPDIR:-/tmp}/proactor-bench-direct.dat
[[ -f $file && $(stat -c %s "$file") -eq $((256 << 20)) ]] ||
    dd if=/dev/urandom of="$file" bs=1M count=256 status=none
if command -v fio >/dev/null; then
    fio --name=randread --filename="$file" --ioengine=io_uring --direct=1 --iodepth=32 \
        --bs=4k --rw=randread --size=256M --runtime="$secs" --time_based --output-format=terse \
        --terse-version=3 | awk -F';' '{printf "fio io_uring O_DIRECT qd32: %d IOPS, mean completion latency %.1f us\n", $8, $16}'
else
    echo "fio: not installed; the O_DIRECT comparison is skipped"
fi
for backend in uring poll; do
    target/release/examples/iobench --op randread --qd 32 --direct --file "$file" --size 256M \
        --secs "$secs" --backend "$backend" 2>/dev/null
done

# Servers inside tokio and smol, on their own sockets and on proactor's.
ci/bench-servers.sh "$((secs > 5 ? secs : 5))"

# proactor against tokio-uring, compio and monoio (benches/peers).
ci/bench-peers.sh "$secs"
