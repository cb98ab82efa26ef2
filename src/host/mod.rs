//! Host runtimes: operations polled inside a runtime run on a driver that
//! the runtime's own event loop dispatches, through nothing but the
//! driver's public hook (its notification fd and `dispatch`), so
//! completions are taken and futures woken on the runtime's threads, with
//! no thread of proactor's and no hop between threads.

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
}

cfg_no_notification_fd! {
    /// No host runtime can wait on a driver here.
    pub(crate) fn current_driver() -> Option<Driver> {
        None
    }
}
