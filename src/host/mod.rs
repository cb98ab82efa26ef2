//! Host runtimes: operations polled inside a runtime run on a driver that
//! the runtime's own event loop dispatches, through nothing but the
//! driver's public hook (its notification fd and `dispatch`), so
//! completions are taken and futures woken on the runtime's threads, with
//! no thread of proactor's and no hop between threads. With `async-io`,
//! the process-wide driver is dispatched the same way by async-io's
//! reactor, instead of by a thread of its own.

use crate::Driver;

cfg_notification_fd! {
    #[cfg(feature = "tokio")]
    mod tokio;

    /// The driver of the host runtime this thread runs in, if it has one.
    pub(crate) fn current_driver() -> Option<Driver> {
        #[cfg(feature = "tokio")]
        if let Some(driver) = tokio::current_driver() {
            return Some(driver);
        }
        None
    }

    #[cfg(feature = "async-io")]
    mod async_io;

    /// Has a host's reactor dispatch the process-wide `driver`, for the
    /// rest of the process. `false`: none can, and the caller starts a
    /// thread to drive it.
    pub(crate) fn host_process_driver(driver: &Driver) -> bool {
        #[cfg(feature = "async-io")]
        if async_io::host(driver) {
            return true;
        }
        let _ = driver;
        false
    }
}

cfg_no_notification_fd! {
    /// No host runtime can wait on a driver here.
    pub(crate) fn current_driver() -> Option<Driver> {
        None
    }

    /// No host's reactor can wait on a driver here: the caller starts a
    /// thread to drive the process-wide one.
    pub(crate) fn host_process_driver(_driver: &Driver) -> bool {
        false
    }
}
