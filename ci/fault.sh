#!/usr/bin/env bash
# Fault injection: builds with `--cfg proactor_fault` and runs tests/fault.rs
# on both back ends: per-op fallback for every optional opcode, and failed
# submissions (EINTR, EAGAIN, EBUSY) plus short transfers on seeded
# schedules. Prints how many faults were injected.
#
#   ci/fault.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg proactor_fault"
# A separate target dir: the cfg changes the crate's build.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/fault}
cargo test --all-features --test fault --test fault_submit -- --nocapture
# Link opcodes hidden: hard and symbolic links made on the pool match std.
cargo test --all-features --test fs_std links_match_std_on_the_pool
# SPLICE and TEE hidden: the attempts run on the pool, the waits stay the driver's.
cargo test --all-features --test splice without_the_opcodes_splice_and_tee_run_on_the_pool
# SEND_ZC (multishot receive) and SOCKET (provided-buffer rings) hidden: recv_stream's older paths.
cargo test --all-features --test recv_stream_hostile older_kernels_paths_lose_nothing
