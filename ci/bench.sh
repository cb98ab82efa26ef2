#!/usr/bin/env bash
# Regenerates the figures in BENCHMARKS.md: the criterion benches (each
# proactor back end beside its baselines in the same run) and iobench runs.
# Not part of ci/test.sh: benchmarks on a shared machine are too noisy for a
# pass/fail check (ci/test.sh only builds them).
#
#   ci/bench.sh [SECONDS_PER_MEASUREMENT]     # default 3
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
echo "# $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for bench in nop randread; do
    cargo bench --quiet --features uring --bench "$bench" -- --warm-up-time 1 --measurement-time "$secs" 2>&1 |
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
