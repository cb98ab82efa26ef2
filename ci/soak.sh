#!/usr/bin/env bash
# Soak: mixed file, TCP, timer and cancellation traffic on each back end,
# reporting ops done, fd count and RSS at the start and the end; fails if
# fds or RSS are not stable.
#
#   ci/soak.sh [SECONDS]      # per back end, default 60
set -euo pipefail
cd "$(dirname "$0")/.."
export PROACTOR_SOAK_SECS=${1:-60}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --all-features --test soak -- --nocapture --test-threads=1 >"$log" 2>&1 || status=$?
grep -oE "soak (io_uring|poll): .*" "$log" || true
grep -E "test result|panicked" "$log" || true
exit "$status"
