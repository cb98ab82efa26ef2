#!/usr/bin/env bash
# The whole test suite under AddressSanitizer (with LeakSanitizer), on both
# back ends (each test runs on both; the suite runs again with each
# PROACTOR_BACKEND for the process-wide driver). Any report fails the run.
#
#   ci/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! rustup +nightly component list --installed | grep -q '^rust-src'; then
    rustup +nightly component add rust-src
fi
target=$(rustc +nightly -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/asan}
# Any report aborts the test process, which fails its test.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
# Only the test targets: examples and doc tests are covered elsewhere.
base=(+nightly test -Zbuild-std --target "$target" --all-features)
# Every test runs under AddressSanitizer. The leak check covers the library
# and the test files below; the rest are tests of hostile use that make
# reference cycles through wakers or forget futures and stream halves with
# `mem::forget` on purpose, and run without it (a write into a forgotten
# buffer is still caught). An allocation too large to make (a 1 TiB file
# read whole) must come back as an error there, as it does without ASan.
leak_checked=(--lib --test bad_input --test buffers --test cancel --test cancel_storm
    --test compat --test compat_interop --test differential --test driver --test edge_inputs
    --test fallback --test fd_reuse --test fork --test fs --test fs_std --test net --test runtimes --test soak
    --test stress --test submitter_exit --test time)
no_leak_check=(--test hostile --test hostile_driver --test hostile_misc --test hyper
    --test notification --test streams --test unix_datagram --test host_tokio --test host_async_io
    --test hostile_tokio --test hostile_async_io --test hostile_submitter_exit --test hostile_file)
cargo "${base[@]}" "${leak_checked[@]}"
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1" cargo "${base[@]}" "${no_leak_check[@]}"
for backend in poll uring; do
    PROACTOR_BACKEND=$backend cargo "${base[@]}" --test runtimes --test stress
done
# Fault injection under the sanitizers too: failed submissions and short
# transfers must not make anything be freed early.
RUSTFLAGS="$RUSTFLAGS --cfg proactor_fault" CARGO_TARGET_DIR=$CARGO_TARGET_DIR-fault \
    cargo +nightly test -Zbuild-std --target "$target" --all-features --test fault
echo "sanitizers: no reports"
