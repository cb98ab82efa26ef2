#!/usr/bin/env bash
# proactor's test command: CI runs exactly this, and so can you.
#
#   ci/test.sh
#
# Formatting, clippy and checks on every feature set (cargo-hack), the
# minimum Rust, check and clippy for every other target, the test suite on every feature set, the suite again
# with each back end forced through PROACTOR_BACKEND, loom and Miri on the
# OS-free core, the suite under AddressSanitizer, fault injection, a short
# soak, a release-mode stress run, every example against real clients, the
# tour example on both back ends, the whole suite for Windows under Wine and
# for aarch64 Linux under qemu-user, and the docs with warnings denied.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# A run builds each thing once: no incremental caches, and debug info that
# keeps backtraces' lines but not variables, so the target dir stays small.
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
export CARGO_PROFILE_TEST_DEBUG=line-tables-only

# A step's own target dir is not used by any later step: it goes once the
# step passed, so the run's disk use peaks at one of them at a time.
drop() {
    rm -rf "${@/#/target/}"
}

step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%T)"; }

# A hung test fails its own step, by name, instead of running CI out of time.
within() {
    local limit=$1
    shift
    timeout --kill-after=30 "$limit" "$@" || {
        local rc=$?
        [ "$rc" -eq 124 ] && echo "step timed out after $limit: $*" >&2
        return "$rc"
    }
}

# Components this script uses; present on a standard rustup install.
for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
        rustup component add "$component"
    fi
done

# Each back end alone, and both with the optional integrations. Both back
# ends without them ("poll,uring") is checked and linted by ci/features.sh;
# its tests are those of the last set less the tokio and bytes ones, so the
# run is left out to keep CI's time for the Wine and qemu runs.
FEATURE_SETS=(
    "poll"
    "uring"
    "poll,uring,bytes,tokio"
)

step "cargo fmt --check"
cargo fmt --all -- --check

step "every feature set: cargo hack check and clippy -D warnings"
within 20m ci/features.sh
drop features

step "minimum supported Rust"
within 15m ci/msrv.sh
drop msrv

step "every target (macOS, Windows, FreeBSD, aarch64 Linux): check and clippy"
within 20m ci/cross.sh
drop cross

for features in "${FEATURE_SETS[@]}"; do
    step "tests, features {$features}"
    within 15m cargo test --no-default-features --features "$features"
done

for backend in poll uring; do
    step "tests, all features, PROACTOR_BACKEND=$backend"
    PROACTOR_BACKEND=$backend within 15m cargo test --all-features
done

step "loom: the op lifecycle and the parker, every interleaving"
within 15m ci/loom.sh
drop loom

step "miri: buffers, lifecycle, parker"
within 30m ci/miri.sh
drop miri

step "sanitizers: the suite under AddressSanitizer and LeakSanitizer"
within 25m ci/sanitize.sh
drop asan asan-fault

step "fault injection: per-op fallback, failed submissions, short transfers"
within 10m ci/fault.sh
drop fault

step "soak: 5 s of mixed traffic per back end, fds and RSS stable"
within 10m ci/soak.sh 5

step "stress: ping-pongs with two threads parked on one driver (release)"
PROACTOR_STRESS_ROUNDS=10 within 15m cargo test --release --all-features --test stress

step "benches build (figures come from ci/bench.sh, not from CI)"
cargo bench --features uring,tokio --no-run

step "examples against real clients (nc, socat, curl, wrk)"
within 15m ci/examples.sh

check_tour() {
    local want_backend=$1 out
    out=$(cargo run --quiet --release --features uring --example tour)
    printf '%s\n' "$out"
    grep -Eq "^back end: ($want_backend)\$" <<<"$out"
    if grep -q "^back end: poll" <<<"$out"; then
        grep -q "^why not io_uring: " <<<"$out"
    fi
    grep -q "all verified" <<<"$out"
    grep -q "^slept 100 ms" <<<"$out"
    grep -q "^done: 0 ops still held" <<<"$out"
}
step "tour example, automatic back end (io_uring unless this kernel forbids it)"
check_tour "io_uring|poll"
step "tour example, PROACTOR_BACKEND=poll"
(export PROACTOR_BACKEND=poll; check_tour poll)
step "tour example, PROACTOR_BACKEND=uring"
if (export PROACTOR_BACKEND=uring; cargo run --quiet --release --features uring --example tour >/dev/null 2>&1); then
    (export PROACTOR_BACKEND=uring; check_tour io_uring)
else
    echo "io_uring is not usable here: PROACTOR_BACKEND=uring must fail, and did"
fi

step "Windows: the whole suite under Wine (x86_64-pc-windows-gnu)"
within 25m ci/wine.sh
drop wine

step "aarch64 Linux: the whole suite under qemu-user (no io_uring there: the fallback)"
within 30m ci/qemu.sh
drop qemu

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features

step "docs as docs.rs builds them"
ci/docs.sh

step "all checks passed"
