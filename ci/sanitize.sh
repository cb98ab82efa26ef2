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
test_args=(+nightly test -Zbuild-std --target "$target" --all-features --lib --tests)
# Tests that forget a future or a stream half with `mem::forget` leak what
# it holds on purpose: they run apart, with AddressSanitizer but without
# the leak check (a write into a forgotten buffer must still be caught).
forgetting=(forgotten_future_keeps_its_buffer_alive a_forgotten_half_leaks_but_breaks_nothing)
skips=()
for name in "${forgetting[@]}"; do skips+=(--skip "$name"); done
cargo "${test_args[@]}" -- "${skips[@]}"
for name in "${forgetting[@]}"; do
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1" cargo "${test_args[@]}" -- "$name"
done
for backend in poll uring; do
    PROACTOR_BACKEND=$backend cargo "${test_args[@]}" --test runtimes --test stress
done
# Fault injection under the sanitizers too: failed submissions and short
# transfers must not make anything be freed early.
RUSTFLAGS="$RUSTFLAGS --cfg proactor_fault" CARGO_TARGET_DIR=$CARGO_TARGET_DIR-fault \
    cargo +nightly test -Zbuild-std --target "$target" --all-features --test fault
echo "sanitizers: no reports"
