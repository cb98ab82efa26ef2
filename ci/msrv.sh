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
# The lock file names the newest versions, which may need a newer Rust
# than the MSRV: dev-dependencies, and optional ones such as tokio (which
# the `tokio` feature builds). So the library is checked in a copy whose
# lock file is resolved afresh, preferring versions whose rust-version the
# MSRV meets, as a user on that Rust gets them (cargo >= 1.84 resolves so).
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
tar --exclude=./target --exclude=./.git -cf - . | tar -xf - -C "$copy"
CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo generate-lockfile --quiet --manifest-path "$copy/Cargo.toml"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/msrv} cargo "+$msrv" check --all-features --lib --manifest-path "$copy/Cargo.toml"
echo "msrv: builds on Rust $msrv"
