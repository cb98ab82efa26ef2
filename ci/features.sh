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

# Every set with a back end builds, on every target kind. Sets of at most
# two features (`--depth 2`: each back end alone, both together, and each
# with each add-on feature), then all of them at once. The add-ons
# (`bytes`, `tokio`, `async-io`) add trait implementations and host
# integrations that meet only in `Driver::current`'s order (tokio, then
# async-io), which the set of all features builds, so the full powerset
# (doubling with every feature to come) would only add sets like
# {poll, bytes, tokio} whose parts these already build with each back end
# and all together.
for lint in check clippy; do
    args=()
    [[ $lint == clippy ]] && args=(-- -D warnings)
    cargo hack "$lint" --feature-powerset --depth 2 --exclude-features default \
        --at-least-one-of poll,uring --all-targets "${args[@]}"
    cargo "$lint" --all-features --all-targets "${args[@]}"
done
echo "features: every feature set checked"
