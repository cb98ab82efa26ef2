//! Drivers that nothing drives any more while futures or I/O objects of
//! theirs live on: a tokio runtime's driver after the runtime shut down, a
//! per-thread driver after its thread exited. Where drivers wait on an fd,
//! the orphanage's one thread drives them all; elsewhere, or when the
//! orphanage cannot be had, each gets a thread of its own.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crate::Driver;

cfg_notification_fd! {
    /// Drives `driver` from the orphanage's thread until nothing else
    /// holds it.
    pub(crate) fn adopt(driver: Driver) {
        super::orphanage::adopt(driver);
    }
}
cfg_no_notification_fd! {
    /// Drives `driver` from a thread of proactor's until nothing else
    /// holds it.
    pub(crate) fn adopt(driver: Driver) {
        drive_on_own_thread(driver);
    }
}

/// Drives `driver` from a thread of its own, parked on it, until nothing
/// else holds it; from the calling thread if no thread can be started.
pub(crate) fn drive_on_own_thread(driver: Driver) {
    let for_thread = driver.clone();
    let started = std::thread::Builder::new()
        .name("proactor-orphan".into())
        .spawn(move || drive_alone(for_thread));
    // The closure, and its handle, went with a failed spawn.
    if started.is_err() {
        drive_alone(driver);
    }
}

/// Parks on `driver` until this is its last handle.
fn drive_alone(driver: Driver) {
    while driver.handles() > 1 {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            driver.park(Some(Duration::from_millis(50)))
        }));
    }
}
