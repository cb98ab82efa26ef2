//! Parking a thread on a driver, shared by both back ends.
//!
//! At most one thread at a time blocks in the kernel (`io_uring_enter` or the
//! poller's wait). Others that park meanwhile wait on a condition variable
//! until that thread comes back or they are unparked: both back ends'
//! completion queues are drained by whoever wakes, and the wakers that run
//! then re-poll the right futures.
//!
//! Unpark is cheap when nobody sleeps: an atomic store and two loads. The
//! kernel is only poked (eventfd write / `Poller::notify`) when a thread is
//! blocked there, and the condition variable only when a thread waits on it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub(crate) struct Parker {
    /// Set by `unpark`, consumed by the next `park` that would block.
    token: AtomicBool,
    /// A thread is in (or about to enter) the kernel wait.
    kernel_sleeper: AtomicBool,
    /// Threads waiting on `gate_changed`.
    gate_waiters: AtomicUsize,
    /// Whether a thread holds the kernel wait.
    gate: Mutex<bool>,
    gate_changed: Condvar,
}

/// What the caller of [`Parker::park`] must do.
pub(crate) enum ParkTurn {
    /// Block in the kernel for at most this long (`None`: until woken), then
    /// call [`Parker::leave_kernel`].
    Kernel(Option<Duration>),
    /// Do not block: another thread was woken meanwhile or a wake-up is
    /// pending. Reap completions without waiting.
    Return,
}

impl Parker {
    fn gate(&self) -> MutexGuard<'_, bool> {
        self.gate
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Decides how this thread parks. `still_idle` is checked after the
    /// thread is visible to `unpark`, so a wake-up racing with the decision
    /// is never lost. `before_waiting` runs when another thread holds the
    /// kernel wait and this one is about to wait for it: work this thread
    /// deferred to its own kernel entry (batched submissions) must go out
    /// now, or the other thread may wait for it forever.
    pub(crate) fn park(
        &self,
        timeout: Option<Duration>,
        still_idle: &dyn Fn() -> bool,
        before_waiting: &dyn Fn(),
    ) -> ParkTurn {
        if timeout == Some(Duration::ZERO) {
            return ParkTurn::Return;
        }
        let mut in_kernel = self.gate();
        if !*in_kernel {
            *in_kernel = true;
            self.kernel_sleeper.store(true, SeqCst);
            drop(in_kernel);
            if self.token.swap(false, SeqCst) || !still_idle() {
                self.leave_kernel();
                return ParkTurn::Return;
            }
            return ParkTurn::Kernel(timeout);
        }
        // Another thread is in the kernel: wait for it to come back.
        drop(in_kernel);
        before_waiting();
        let mut in_kernel = self.gate();
        self.gate_waiters.fetch_add(1, SeqCst);
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        while *in_kernel && !self.token.load(SeqCst) && still_idle() {
            let wait = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => break,
                },
                None => Duration::from_secs(3600),
            };
            in_kernel = self
                .gate_changed
                .wait_timeout(in_kernel, wait)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
        }
        self.gate_waiters.fetch_sub(1, SeqCst);
        ParkTurn::Return
    }

    /// The kernel waiter is back.
    pub(crate) fn leave_kernel(&self) {
        self.kernel_sleeper.store(false, SeqCst);
        let mut in_kernel = self.gate();
        *in_kernel = false;
        drop(in_kernel);
        if self.gate_waiters.load(SeqCst) > 0 {
            self.gate_changed.notify_all();
        }
    }

    /// Wakes every parked thread. Returns whether the kernel waiter must be
    /// poked (the caller does that: eventfd write or `Poller::notify`).
    #[must_use]
    pub(crate) fn unpark(&self) -> bool {
        self.token.store(true, SeqCst);
        if self.gate_waiters.load(SeqCst) > 0 {
            drop(self.gate());
            self.gate_changed.notify_all();
        }
        self.kernel_sleeper.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpark_before_park_makes_park_return() {
        let parker = Parker::default();
        assert!(!parker.unpark(), "nobody in the kernel: no poke needed");
        assert!(matches!(
            parker.park(None, &|| true, &|| {}),
            ParkTurn::Return
        ));
        // The token was consumed.
        assert!(matches!(
            parker.park(None, &|| true, &|| {}),
            ParkTurn::Kernel(None)
        ));
        assert!(parker.unpark(), "a kernel sleeper must be poked");
        parker.leave_kernel();
    }

    #[test]
    fn second_parker_returns_when_first_leaves() {
        let parker = std::sync::Arc::new(Parker::default());
        assert!(matches!(
            parker.park(None, &|| true, &|| {}),
            ParkTurn::Kernel(None)
        ));
        let p = parker.clone();
        let second =
            std::thread::spawn(move || matches!(p.park(None, &|| true, &|| {}), ParkTurn::Return));
        std::thread::sleep(Duration::from_millis(20));
        parker.leave_kernel();
        assert!(second.join().unwrap());
    }

    #[test]
    fn not_idle_means_no_kernel_wait() {
        let parker = Parker::default();
        assert!(matches!(
            parker.park(None, &|| false, &|| {}),
            ParkTurn::Return
        ));
        assert!(!parker.kernel_sleeper.load(SeqCst));
    }
}
