#!/usr/bin/env bash
# Proves the fallback where io_uring is forbidden: run inside a container
# with Docker's default seccomp profile, which blocks io_uring_setup.
#
#   docker run --rm -v "$PWD:/src" -w /src rust:1-bookworm ci/seccomp.sh
#
# The automatic choice must be the readiness back end and must name the
# errno that forced it; forcing io_uring must fail with that error; and the
# suite must pass on the readiness back end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

out=$(cargo run --quiet --release --features uring --example tour)
printf '%s\n' "$out"
grep -q '^back end: poll$' <<<"$out" || {
    echo "seccomp: io_uring was chosen; is this really a seccomp sandbox?" >&2
    exit 1
}
grep -Eq '^why not io_uring: .*(EPERM|ENOSYS)' <<<"$out"

if PROACTOR_BACKEND=uring cargo run --quiet --release --features uring --example tour; then
    echo "seccomp: forcing io_uring must fail here" >&2
    exit 1
fi

cargo test --no-default-features --features poll
cargo test --all-features --test fallback
echo "seccomp: fell back to the readiness back end, with its reason"
