//! Deferred submission for a driver dispatched by an outside event loop:
//! the operations submitted during one scheduler tick wait in the
//! submission queue, and the loop's flush task hands them to the kernel
//! together, one system call for the tick instead of one per operation.
//!
//! Only io_uring queues submissions; the readiness back end performs each
//! operation's first attempt at once and has nothing to defer.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Mutex;
use std::task::Waker;

use super::shared::lock;

/// Whether submissions wait for a flush task, and how to wake it.
#[derive(Debug, Default)]
pub(crate) struct Deferral {
    /// Submissions wait for the flush task.
    active: AtomicBool,
    /// A submission is waiting and the flush task was woken for it.
    requested: AtomicBool,
    /// The flush task's waker.
    flusher: Mutex<Option<Waker>>,
}

impl Deferral {
    /// Makes submissions wait for the task of `waker` (`Some`), or go to
    /// the kernel at once again (`None`). The flush task calls this each
    /// time it waits.
    #[allow(dead_code)] // used by the host integrations, which not every build or platform has
    pub(crate) fn set_flusher(&self, waker: Option<&Waker>) {
        let mut flusher = lock(&self.flusher);
        match waker {
            Some(waker) => {
                if !flusher
                    .as_ref()
                    .is_some_and(|current| current.will_wake(waker))
                {
                    // The replaced waker is dropped after the lock.
                    let _replaced = flusher.replace(waker.clone());
                    drop(flusher);
                }
                self.active.store(true, SeqCst);
            }
            None => {
                self.active.store(false, SeqCst);
                let _gone = flusher.take();
                drop(flusher);
            }
        }
    }

    /// A submission was queued. Returns whether it may wait for the flush
    /// task (which is then woken, once per flush); `false`: submit now.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn defer(&self) -> bool {
        if !self.active.load(SeqCst) {
            return false;
        }
        if self.requested.swap(true, SeqCst) {
            return true;
        }
        let waker = lock(&self.flusher).clone();
        match waker {
            // Woken outside the lock: a waker is user code.
            Some(waker) => {
                waker.wake();
                true
            }
            None => {
                self.requested.store(false, SeqCst);
                false
            }
        }
    }

    /// The flush task is about to submit: whether a flush was asked for.
    /// Submissions after this ask again.
    #[allow(dead_code)] // used by the host integrations, which not every build or platform has
    pub(crate) fn take_request(&self) -> bool {
        self.requested.swap(false, SeqCst)
    }
}
