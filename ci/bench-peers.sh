#!/usr/bin/env bash
# proactor against the runtimes a user would pick instead (tokio-uring,
# compio, monoio), a hand-written io-uring loop and a std pread loop, on the
# same work (benches/peers): NOPs and random 4 KiB page-cache reads, 32 and
# 1 in flight. Every figure comes from a fresh process; each is the median
# of three, and the ratio is against the raw io-uring loop of the same run.
#
#   ci/bench-peers.sh [SECONDS]     # per figure, default 3
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
export CARGO_TARGET_DIR=$PWD/target/peers
cargo build --quiet --release --manifest-path benches/peers/Cargo.toml
bin=$CARGO_TARGET_DIR/release/proactor-peers
libs=(raw proactor-uring proactor-poll tokio-uring compio monoio pread)

# The median of three runs of the figure for "$@".
median() {
    for _ in 1 2 3; do "$bin" "$@" --secs "$secs"; done | sort -n | sed -n 2p
}

printf '%-24s' "work"
for lib in "${libs[@]}"; do printf ' %16s' "$lib"; done
echo
for work in "nop 32" "nop 1" "randread 32" "randread 1"; do
    read -r op qd <<<"$work"
    printf '%-24s' "$op, $qd in flight"
    raw=
    for lib in "${libs[@]}"; do
        rate=$(median --lib "$lib" --op "$op" --qd "$qd")
        raw=${raw:-$rate}
        if [[ $rate == - ]]; then
            printf ' %16s' "-"
        else
            printf ' %16s' "$(awk -v r="$rate" -v b="$raw" 'BEGIN { printf "%.2fM %.2fx", r / 1e6, r / b }')"
        fi
    done
    echo
done
