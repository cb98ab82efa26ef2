//! With fault injection (`--cfg proactor_fault`, run by ci/fault.sh):
//! io_uring's EBUSY retry reaps other futures' completions inside an
//! unrelated submission, and must not run their wakers' panics there.
#![cfg(all(proactor_fault, target_os = "linux", feature = "uring"))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use common::{poll_with, FnWaker};
use proactor::op::{Op, Timeout};

/// Future X's waker panics. Its completion sits in the CQ when future Y is
/// first polled and its submission meets EBUSY: the driver reaps and runs
/// X's waker inside Y's poll. The panic comes out of Y's poll, and Y's
/// operation, in flight, is orphaned: its future thinks it finished, so
/// dropping it cancels nothing, and the slot stays for ever.
#[test]
fn ebusy_retry_runs_a_foreign_panicking_waker_inside_submit() {
    let _serial = common::serial();
    let driver = common::driver(proactor::Backend::IoUring);
    let mut x = Op::with_driver(Timeout::new(Duration::from_millis(1)), driver.clone());
    let hostile = FnWaker::waker(|| panic!("X's hostile waker"), || {});
    assert!(poll_with(&mut x, &hostile).is_pending());
    drop(hostile);
    std::thread::sleep(Duration::from_millis(20)); // X's CQE is in the ring

    // One EBUSY: the retry reaps X's completion, then Y's entry goes in.
    proactor::fault::fail_next_submissions(libc::EBUSY, 1);
    let mut y = Op::with_driver(Timeout::new(Duration::from_secs(60)), driver.clone());
    let polled = catch_unwind(AssertUnwindSafe(|| {
        poll_with(&mut y, &FnWaker::waker(|| {}, || {}))
    }));
    proactor::fault::fail_next_submissions(0, 0);
    let y_panicked = polled.is_err();
    drop(y);
    drop(x);
    let d = driver.clone();
    let settled = common::park_until(&d, Duration::from_secs(3), || d.in_flight() == 0);
    assert!(
        !y_panicked && settled,
        "Y's poll panicked with X's waker panic: {y_panicked}; in_flight afterwards: {}",
        driver.in_flight()
    );
}
