#!/usr/bin/env bash
# Checks and lints every target proactor supports, from this machine: the
# readiness back end alone, with the io_uring feature (which compiles to
# nothing off Linux), and with the async-io integration (nothing where a
# driver has no fd to wait on, such as Windows). Type-checking needs only each target's standard
# library, which rustup installs; nothing is linked or run.
#
#   ci/cross.sh                  every target
#   ci/cross.sh x86_64-pc-windows-msvc
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

TARGETS=(
    x86_64-apple-darwin
    aarch64-apple-darwin
    x86_64-pc-windows-msvc
    x86_64-unknown-freebsd
    aarch64-unknown-linux-gnu
)
if (($#)); then TARGETS=("$@"); fi
FEATURE_SETS=("poll" "poll,uring" "poll,uring,async-io")

installed=$(rustup target list --installed)
for target in "${TARGETS[@]}"; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target"
done

# One target directory for all, kept apart from the host build.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cross}
for target in "${TARGETS[@]}"; do
    for features in "${FEATURE_SETS[@]}"; do
        printf -- '--- %s, features {%s}\n' "$target" "$features"
        cargo check --quiet --target "$target" --no-default-features \
            --features "$features" --all-targets
        cargo clippy --quiet --target "$target" --no-default-features \
            --features "$features" --all-targets -- -D warnings
    done
done
echo "cross: ${TARGETS[*]} check and lint clean with {${FEATURE_SETS[*]}}"
