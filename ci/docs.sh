#!/usr/bin/env bash
# Builds the docs the way docs.rs does (nightly, --cfg docsrs, so back-end
# and OS-specific items carry their doc(cfg) badges), warnings denied, for
# each target docs.rs builds ([package.metadata.docs.rs] in Cargo.toml).
#
#   ci/docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
targets=$(sed -n 's/^targets = \[\(.*\)\]/\1/p' Cargo.toml | tr -d '",')
[[ -n $targets ]] || { echo "no docs.rs targets in Cargo.toml" >&2; exit 1; }
installed=$(rustup +nightly target list --installed)
for target in $targets; do
    grep -qx "$target" <<<"$installed" || rustup target add --toolchain nightly "$target"
    RUSTDOCFLAGS="-D warnings --cfg docsrs" CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/docsrs} \
        cargo +nightly doc --quiet --no-deps --all-features --target "$target"
    echo "docs: $target built with --cfg docsrs"
done
