//! Skipping a test, counted, in the one place that allows it: a run under
//! an emulator (ci/qemu.sh) that lacks what the test needs, such as
//! io_uring (qemu-user answers `io_uring_setup` with ENOSYS) or a system
//! call qemu-user does not implement.
//!
//! The mode is opt-in: only a run that sets `PROACTOR_TEST_SKIP_LOG` to a
//! file's path has it, and each skip appends a line to that file naming the
//! test and the reason, so the script reports every one. Without the
//! variable (every native run) nothing is ever skipped: a missing io_uring
//! or a failing system call fails the test, as it must.
//!
//! Shared by the integration tests (`tests/common`) and the library's unit
//! tests (`src/lib.rs` includes this file), so both count skips alike.
#![allow(dead_code)]

use std::io::Write;

/// The variable that turns the mode on and names the log.
pub const SKIP_LOG_VAR: &str = "PROACTOR_TEST_SKIP_LOG";

/// Whether this run may skip tests (the variable is set).
pub fn skips_allowed() -> bool {
    std::env::var_os(SKIP_LOG_VAR).is_some()
}

/// In a run that allows skips, records that the running test skips
/// `what` because of `reason`, and returns true: the caller returns (or
/// leaves that part out). Otherwise returns false and records nothing: the
/// caller goes on, and fails where the thing it needs is missing.
pub fn skipped(what: &str, reason: &dyn std::fmt::Display) -> bool {
    let Some(path) = std::env::var_os(SKIP_LOG_VAR) else {
        return false;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed thread)")
        .to_owned();
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    // The test binary's name carries cargo's hash suffix: drop it.
    let binary = binary.rsplit_once('-').map_or(&*binary, |(name, _)| name);
    let line = format!("{binary} {test}: {what}: {reason}\n");
    // One write of one line in append mode: lines from tests running at
    // once, or from child processes, do not interleave.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut log| log.write_all(line.as_bytes()))
        .expect("write the skip log");
    true
}
