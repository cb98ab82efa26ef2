//! Drivers and `fork(2)`. A forked child inherits its parent's drivers as
//! copies of memory, but their kernel objects stay shared: the io_uring
//! ring (its queues are mapped shared), the epoll instance, the eventfd. A
//! child that used them would take the parent's completions, cancel its
//! operations or remove its registrations, and the parent's results would
//! land in the child's copy of the op table, where they mean nothing.
//!
//! So a driver belongs to the process that made it. In a forked child, an
//! inherited driver refuses new operations and parks with an error, hands
//! back the child's copies of operations in flight with that error, and
//! its drop touches none of the shared kernel objects. The child makes
//! drivers of its own (the process-wide driver is made anew).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Once;

/// Forks this process has been through (0 in the original process).
static FORKS: AtomicU64 = AtomicU64::new(0);

#[cfg(unix)]
extern "C" fn count_fork_in_child() {
    FORKS.fetch_add(1, Relaxed);
}

/// The process's fork count, for a driver made now to remember.
pub(crate) fn generation() -> u64 {
    static WATCH: Once = Once::new();
    WATCH.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a handler that only increments an atomic, which
        // is allowed in a child after fork; nothing to unregister.
        unsafe {
            libc::pthread_atfork(None, None, Some(count_fork_in_child));
        }
    });
    FORKS.load(Relaxed)
}

/// Whether a driver made in `generation` is now in a forked child.
pub(crate) fn is_inherited(generation: u64) -> bool {
    FORKS.load(Relaxed) != generation
}

/// The error an inherited driver answers with.
pub(crate) fn inherited_error() -> io::Error {
    io::Error::other(
        "this driver belongs to the parent process: a forked child needs a driver of its own",
    )
}
