//! `BufPool` and `recv_stream` under hostile use: the ring's tail wrapping
//! around, buffers coming back from many threads, wakers that panic, a
//! forked child making a pool on its parent's ring, streams dropped and
//! made again.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use futures::StreamExt;
use proactor::buf::BufPool;
use proactor::net::TcpStream;

/// `len` bytes that tell their positions apart.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A forked child's copy of an io_uring driver shares its parent's ring:
/// a pool the child makes must not register a buffer group there (the
/// child's memory, a group id the parent will hand out too).
#[cfg(all(target_os = "linux", feature = "uring"))]
#[test]
fn a_forked_childs_pool_stays_off_the_parents_ring() {
    let _serial = common::serial();
    let Some(driver) = common::driver_unless_skipped(proactor::Backend::IoUring) else {
        return;
    };
    let first = BufPool::with_driver(&driver, 4, 64).unwrap();
    if !first.is_registered() {
        return; // a kernel without provided-buffer rings
    }
    let mut child_driver = Some(driver.clone());
    // SAFETY: the child only makes and drops a pool, then leaves with
    // `_exit`, running no other destructor.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let driver = child_driver.take().unwrap();
        let registered = BufPool::with_driver(&driver, 4, 64).map(|pool| pool.is_registered());
        std::mem::forget(driver);
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(if matches!(registered, Ok(true)) { 1 } else { 0 }) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    drop(child_driver);
    let child_registered = libc::WEXITSTATUS(status) == 1;
    let second = BufPool::with_driver(&driver, 4, 64).unwrap();
    assert!(
        !child_registered && second.is_registered(),
        "child registered: {child_registered}; the parent's next pool registered: {}",
        second.is_registered()
    );
}
