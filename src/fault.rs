//! Fault injection for tests, compiled only with `--cfg proactor_fault`
//! (`ci/fault.sh`). It reaches into the thin layer where proactor meets the
//! kernel:
//!
//! - **opcodes**: [`hide_opcode`] makes the driver believe the kernel lacks
//!   an opcode, so operations take the per-op fallback to the blocking pool;
//! - **submission**: [`fail_submissions`] makes `io_uring_enter` report
//!   EINTR, EAGAIN or EBUSY on a seeded schedule, before the kernel sees the
//!   call (what the kernel does for those errors: nothing was consumed);
//!   [`refuse_submissions`] makes it fail for good, with an error the driver
//!   does not retry, so operations that find the queue full come back
//!   unsubmitted; [`fail_next_submissions`] fails just the next few calls
//!   with one chosen error;
//! - **short transfers**: [`short_transfers`] caps read, write, send and
//!   receive lengths to a seeded random part of the buffer, so the kernel
//!   returns short counts.
//!
//! - **old kernels**: [`hide_ext_arg`] makes the io_uring driver time its
//!   waits as kernels before 5.11 must (no `IORING_ENTER_EXT_ARG`: a timeout
//!   operation per timed wait); [`hide_sparse_tables`] makes rings made
//!   afterwards answer as kernels before 5.19 do when asked for a sparse
//!   table of registered buffers or files (EINVAL).
//!
//! [`counts`] reports how many faults were injected.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

static HIDDEN: [AtomicBool; 256] = [const { AtomicBool::new(false) }; 256];

/// Makes the driver treat `opcode` as missing from the kernel.
pub fn hide_opcode(opcode: u8) {
    HIDDEN[usize::from(opcode)].store(true, Relaxed);
}

/// Undoes every [`hide_opcode`].
pub fn reveal_opcodes() {
    for hidden in &HIDDEN {
        hidden.store(false, Relaxed);
    }
}

pub(crate) fn is_hidden(opcode: u8) -> bool {
    HIDDEN[usize::from(opcode)].load(Relaxed)
}

/// A small seeded generator (xorshift64*): schedules are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

struct Schedule {
    rng: Rng,
    /// Inject on one call in `every` (0: never).
    every: u64,
}

static SUBMIT: Mutex<Option<Schedule>> = Mutex::new(None);
static SHORT: Mutex<Option<Schedule>> = Mutex::new(None);
static SUBMIT_FAULTS: AtomicU64 = AtomicU64::new(0);
static SHORT_FAULTS: AtomicU64 = AtomicU64::new(0);

fn schedule(seed: u64, every: u64) -> Option<Schedule> {
    (every > 0).then_some(Schedule {
        rng: Rng(seed | 1),
        every,
    })
}

/// About one `io_uring_enter` in `every` fails with EINTR, EAGAIN or EBUSY,
/// chosen by `seed`. `every == 0` turns it off.
pub fn fail_submissions(seed: u64, every: u64) {
    *SUBMIT.lock().unwrap_or_else(|p| p.into_inner()) = schedule(seed, every);
}

static REFUSED_WITH: AtomicI32 = AtomicI32::new(0);

/// Every `io_uring_enter` fails with `errno` until `refuse_submissions(0)`:
/// meant for an error the driver does not retry (ENXIO, EOWNERDEAD: a ring
/// the kernel takes no more work on), so an operation whose push finds the
/// submission queue full gets this error and comes back unsubmitted.
pub fn refuse_submissions(errno: i32) {
    REFUSED_WITH.store(errno, Relaxed);
}

static FAIL_NEXT: Mutex<(i32, u64)> = Mutex::new((0, 0));

/// The next `count` calls to `io_uring_enter` fail with `errno`, then calls
/// reach the kernel again: for errors the driver retries (EBUSY, EAGAIN,
/// EINTR), which [`refuse_submissions`] would make it retry for ever.
pub fn fail_next_submissions(errno: i32, count: u64) {
    *FAIL_NEXT.lock().unwrap_or_else(|p| p.into_inner()) = (errno, count);
}

/// About one transfer in `every` is cut to a random shorter length, chosen
/// by `seed`. `every == 0` turns it off.
pub fn short_transfers(seed: u64, every: u64) {
    *SHORT.lock().unwrap_or_else(|p| p.into_inner()) = schedule(seed, every);
}

static EXT_ARG_HIDDEN: AtomicBool = AtomicBool::new(false);

/// Makes the io_uring driver behave as on a kernel without
/// `IORING_ENTER_EXT_ARG` (`true`), or as the kernel is (`false`).
pub fn hide_ext_arg(hidden: bool) {
    EXT_ARG_HIDDEN.store(hidden, Relaxed);
}

pub(crate) fn is_ext_arg_hidden() -> bool {
    EXT_ARG_HIDDEN.load(Relaxed)
}

static SPARSE_TABLES_HIDDEN: AtomicBool = AtomicBool::new(false);

/// Makes the io_uring driver behave as on a kernel without sparse tables of
/// registered buffers and files (`true`; checked when a ring first needs
/// its table), or as the kernel is (`false`).
pub fn hide_sparse_tables(hidden: bool) {
    SPARSE_TABLES_HIDDEN.store(hidden, Relaxed);
}

#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) fn are_sparse_tables_hidden() -> bool {
    SPARSE_TABLES_HIDDEN.load(Relaxed)
}

static POOL_RUNS: AtomicU64 = AtomicU64::new(0);

/// Operations the blocking pool has run so far (to check that a fallback
/// really took place).
pub fn pool_runs() -> u64 {
    POOL_RUNS.load(Relaxed)
}

pub(crate) fn note_pool_run() {
    POOL_RUNS.fetch_add(1, Relaxed);
}

/// Faults injected so far: (failed submissions, shortened transfers).
pub fn counts() -> (u64, u64) {
    (SUBMIT_FAULTS.load(Relaxed), SHORT_FAULTS.load(Relaxed))
}

/// The errno this submission fails with, if the schedule says so.
pub(crate) fn submit_error() -> Option<i32> {
    let refused_with = REFUSED_WITH.load(Relaxed);
    if refused_with != 0 {
        SUBMIT_FAULTS.fetch_add(1, Relaxed);
        return Some(refused_with);
    }
    {
        let mut next = FAIL_NEXT.lock().unwrap_or_else(|p| p.into_inner());
        if next.1 > 0 {
            next.1 -= 1;
            SUBMIT_FAULTS.fetch_add(1, Relaxed);
            return Some(next.0);
        }
    }
    let mut guard = SUBMIT.lock().unwrap_or_else(|p| p.into_inner());
    let schedule = guard.as_mut()?;
    let roll = schedule.rng.next();
    if roll % schedule.every != 0 {
        return None;
    }
    SUBMIT_FAULTS.fetch_add(1, Relaxed);
    Some([libc::EINTR, libc::EAGAIN, libc::EBUSY][(roll / schedule.every % 3) as usize])
}

/// The length to transfer instead of `len`, if the schedule says so.
pub(crate) fn shorten(len: u32) -> u32 {
    if len <= 1 {
        return len;
    }
    let mut guard = SHORT.lock().unwrap_or_else(|p| p.into_inner());
    let Some(schedule) = guard.as_mut() else {
        return len;
    };
    let roll = schedule.rng.next();
    if roll % schedule.every != 0 {
        return len;
    }
    SHORT_FAULTS.fetch_add(1, Relaxed);
    1 + (roll / schedule.every % u64::from(len - 1)) as u32
}
