//! A process forks while a driver has operations in flight. The child
//! shares the ring / the epoll instance with the parent, and its copy of
//! the driver must neither disturb the parent's operations nor take their
//! completions.
// fork(2) is a Unix notion.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{finishes_within, poll_with, FnWaker};
use proactor::op::{Op, Read};

/// Forks; the child runs `child` and `_exit(0)`s; the parent waits for it.
fn fork_and_wait(child: impl FnOnce()) {
    // SAFETY: the child only runs `child` (drops) and exits without
    // running destructors or atexit handlers.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        child();
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid);
}

both_backends! {
    /// The parent's pending read must still complete after a forked child
    /// dropped its copy of the read's future (only that).
    fn forked_child_dropping_a_future_cancels_the_parents_op(driver) {
        let (rx, tx) = common::pipe();
        let mut read = Op::with_driver(Read::new(rx, Vec::with_capacity(16)), driver.clone());
        let waker = FnWaker::waker(|| {}, || {});
        assert!(poll_with(&mut read, &waker).is_pending());
        // Into the kernel / the poller.
        driver.park(Some(Duration::ZERO)).unwrap();
        let mut read = Some(read);
        let mut child_driver = Some(driver.clone());
        fork_and_wait(|| {
            drop(read.take());
            std::mem::forget(child_driver.take());
        });
        let read = read.unwrap();
        // The parent's own handle (the child forgot its copy).
        drop(child_driver);
        // SAFETY: writes 5 bytes from a live buffer into our pipe.
        let n = unsafe { libc::write(std::os::fd::AsRawFd::as_raw_fd(&tx), b"hello".as_ptr().cast(), 5) };
        assert_eq!(n, 5);
        let d = driver.clone();
        let (result, buf) = finishes_within(Duration::from_secs(5), "the parent's read after the fork", move || {
            d.block_on(read)
        });
        assert_eq!(result.expect("the parent's read failed"), 5, "{buf:?}");
        assert_eq!(buf, b"hello");
    }
}

/// io_uring: after a fork, parent and child share the ring, and their op
/// tables are copies, so they hand out the same `user_data` keys. A child
/// that submits one operation makes its completion land in the parent's
/// completion queue under the key of an unrelated parent operation, which
/// then "completes" with the child's result: here a read on an empty pipe
/// reports 5 bytes it never read, and `set_init` exposes whatever the
/// buffer held (uninitialised memory for a fresh `Vec`).
#[cfg(feature = "uring")]
#[test]
fn forked_child_completion_lands_in_a_parent_op() {
    let _serial = common::serial();
    let Some(driver) = common::driver_unless_skipped(proactor::Backend::IoUring) else {
        return;
    };
    // Warm up: slot 0 used and freed, so both sides allocate the same key.
    driver
        .block_on(Op::with_driver(proactor::op::Nop::new(), driver.clone()))
        .unwrap();
    let (child_rx, child_tx) = common::pipe();
    // SAFETY: writes 5 bytes from a live buffer into our pipe.
    unsafe {
        libc::write(
            std::os::fd::AsRawFd::as_raw_fd(&child_tx),
            b"child".as_ptr().cast(),
            5,
        )
    };
    let (parent_rx, _parent_tx) = common::pipe(); // never written
    let d = driver.clone();
    fork_and_wait(move || {
        // The child reads its own pipe (data ready: completes at once).
        let mut read = Op::with_driver(Read::new(child_rx, Vec::with_capacity(16)), d.clone());
        let _ = poll_with(&mut read, &FnWaker::waker(|| {}, || {}));
        std::mem::forget(read);
        std::mem::forget(d);
    });
    // The parent reads its empty pipe, with a buffer whose spare capacity
    // holds a marker (standing for uninitialised memory).
    let mut buf: Vec<u8> = Vec::with_capacity(16);
    // SAFETY: writes within the capacity; len stays 0.
    unsafe { std::ptr::write_bytes(buf.as_mut_ptr(), 0xAA, 16) };
    let read = Op::with_driver(Read::new(parent_rx, buf), driver.clone());
    let d = driver.clone();
    let outcome = finishes_within(Duration::from_millis(1500), "parent read", move || {
        d.block_on(proactor::time::timeout(Duration::from_millis(500), read))
    });
    match outcome {
        Err(_elapsed) => {} // correct: nothing was written to the parent's pipe
        Ok((result, buf)) => {
            panic!("the parent's read on an empty pipe completed: {result:?}, buf = {buf:02x?}")
        }
    }
}
