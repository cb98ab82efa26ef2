#!/usr/bin/env bash
# Every combination of features: `cargo hack check --feature-powerset` on all
# targets (a set with no back end must fail with the compile_error naming
# the features, and is checked for exactly that), then clippy on each set
# that has a back end.
#
#   ci/features.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-hack >/dev/null || cargo install cargo-hack --locked
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/features}

# No back end: a clear build-time error, not a pile of type errors.
if out=$(cargo check --no-default-features --lib 2>&1); then
    echo "a build with no back end must fail" >&2
    exit 1
fi
grep -q "enable the \`poll\` feature" <<<"$out" || { echo "$out" >&2; exit 1; }
if out=$(cargo check --no-default-features --features bytes --lib 2>&1); then
    echo "a build with only \`bytes\` must fail" >&2
    exit 1
fi

# Every set with a back end builds, on every target kind.
cargo hack check --feature-powerset --exclude-features default --at-least-one-of poll,uring --all-targets
cargo hack clippy --feature-powerset --exclude-features default --at-least-one-of poll,uring --all-targets -- -D warnings
echo "features: every feature set checked"
