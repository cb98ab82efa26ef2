#!/usr/bin/env bash
# The whole test suite for aarch64 Linux (aarch64-unknown-linux-gnu), run
# under qemu-user, with both back ends compiled in.
#
#   ci/qemu.sh                 every feature, every test binary and doc test
#   ci/qemu.sh --test net      arguments go to `cargo test`
#
# Installs what it needs (Debian's qemu-user-static and the aarch64 cross
# gcc and libc, the rustup target) and runs `cargo test` with qemu as the
# target's runner. qemu-user is not an aarch64 machine: what passes here is
# "tested under qemu", not "tested on aarch64 hardware".
#
# qemu-user answers io_uring_setup with ENOSYS, so this is also a real run
# of the fallback: the automatic choice must land on the readiness back end
# and say why, forcing io_uring must fail with a clear error, and every other
# test must pass on the readiness back end. Tests that need io_uring are
# skipped only because PROACTOR_TEST_SKIP_LOG is set, which this script alone
# does: each skip is written to that file with its reason, and counted below.
# Natively the variable is unset and a missing io_uring fails those tests.
#
# Tests that run their own binary again as a child cannot exec an aarch64
# binary without binfmt_misc, which would change the whole machine; instead
# they run the child through the same qemu command, which
# PROACTOR_TEST_RUNNER names (tests/common/mod.rs, `run_child`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

TARGET=aarch64-unknown-linux-gnu
SYSROOT=/usr/aarch64-linux-gnu

. ci/lib/packages.sh
need_packages qemu-aarch64-static:qemu-user-static aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
    "$SYSROOT/lib/libc.so.6:libc6-dev-arm64-cross"
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/qemu}
mkdir -p "$CARGO_TARGET_DIR"
target_dir=$(cd "$CARGO_TARGET_DIR" && pwd)

runner="qemu-aarch64-static -L $SYSROOT"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=$runner
export PROACTOR_TEST_RUNNER=$runner
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc

# In /tmp and writable by all: a test's child may run as nobody, who may not
# reach the target dir.
skips=$(mktemp /tmp/proactor-qemu-skips.XXXXXX)
trap 'rm -f "$skips"' EXIT
chmod a+rw "$skips"
export PROACTOR_TEST_SKIP_LOG=$skips

# The fallback, end to end: the automatic choice reports qemu's ENOSYS.
cargo build --quiet --release --target "$TARGET" --features uring --example tour
tour="$target_dir/$TARGET/release/examples/tour"
out=$($runner "$tour")
printf '%s\n' "$out"
grep -q "^back end: poll$" <<<"$out"
grep -q "^why not io_uring: .*ENOSYS" <<<"$out"
grep -q "all verified" <<<"$out"
if PROACTOR_BACKEND=uring $runner "$tour" >/dev/null 2>&1; then
    echo "PROACTOR_BACKEND=uring worked under qemu-user, which has no io_uring" >&2
    exit 1
fi

if (($#)); then
    cargo test --target "$TARGET" --all-features "$@"
else
    cargo test --target "$TARGET" --all-features
fi

echo "qemu: $(sort -u "$skips" | wc -l) skips, each for io_uring or what qemu-user lacks:"
sort -u "$skips" | sed 's/^/  /'
echo "qemu: the suite passed for $TARGET under $(qemu-aarch64-static --version | head -1)"
