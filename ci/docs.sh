#!/usr/bin/env bash
# Builds the docs as docs.rs does: nightly, every feature, `--cfg docsrs`
# (so back-end-specific items carry their `doc(cfg)` badges), warnings denied.
#
#   ci/docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
RUSTDOCFLAGS="-D warnings --cfg docsrs" CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/docsrs} \
    cargo +nightly doc --no-deps --all-features
echo "docs: built with --cfg docsrs"
