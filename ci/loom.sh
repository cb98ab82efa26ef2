#!/usr/bin/env bash
# Model-checks the op lifecycle (complete vs cancel vs re-poll vs teardown)
# and the parker (unpark racing park, two parkers) with loom: every
# interleaving, up to LOOM_MAX_PREEMPTIONS preemptions.
#
#   ci/loom.sh
#
# The cfg is `proactor_loom`, not `loom`: under a plain `--cfg loom` other
# crates in the tree (concurrent-queue) switch to loom types they were not
# built with.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg proactor_loom"
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3}
# A separate target dir: the cfg changes every crate's build.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/loom}
cargo test --release --all-features --lib loom_
