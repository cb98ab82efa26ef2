#!/usr/bin/env bash
# Checks the library on its declared minimum Rust (`rust-version` in
# Cargo.toml), with every feature.
#
#   ci/msrv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
[[ -n $msrv ]] || { echo "no rust-version in Cargo.toml" >&2; exit 1; }
if ! rustup toolchain list | grep -q "^$msrv"; then
    rustup toolchain install "$msrv" --profile minimal
fi
# The lock file may name dependency versions newer than the MSRV supports
# for dev-dependencies; the library itself is what must build.
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/msrv} cargo "+$msrv" check --all-features --lib
echo "msrv: builds on Rust $msrv"
