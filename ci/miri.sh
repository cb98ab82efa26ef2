#!/usr/bin/env bash
# Runs the unit tests of the modules that make no system calls (buffers and
# Slice, the op lifecycle, the parker, back-end selection) under Miri, which
# checks every raw-pointer access and every unsafe block they run. The
# buffer tests include exhaustive fills of every window of small buffers
# (src/buf/properties.rs), kept to sizes that run in about a minute.
#
#   ci/miri.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
for component in miri rust-src; do
    if ! rustup +nightly component list --installed | grep -q "^${component}"; then
        rustup +nightly component add "$component"
    fi
done
cargo +nightly miri setup
cargo +nightly miri test --all-features --lib -- buf:: driver::lifecycle driver::parker driver::select
