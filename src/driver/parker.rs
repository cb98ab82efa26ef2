//! Parking a thread on a driver, shared by both back ends.
//!
//! At most one thread at a time holds the **turn**: it alone waits in the
//! kernel (`io_uring_enter` or the poller's wait) and takes completions out
//! of the kernel's queue. Threads that park while another holds the turn
//! wait on a condition variable until it comes back or they are unparked.
//!
//! Why only the holder takes completions: the holder's kernel wait ends when
//! a completion is *present* in the queue. If another thread could take that
//! completion between the holder's last check and its sleep, the holder
//! would sleep on with its wake-up gone.
//!
//! Unpark is cheap when nobody sleeps: an atomic store and two loads. The
//! kernel is only poked (eventfd write / `Poller::notify`) when the holder is
//! in the kernel, and the condition variable only when a thread waits on it.

use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use crate::sync::{fence, AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard};

#[derive(Debug)]
pub(crate) struct Parker {
    /// Set by `unpark`, consumed by the next `park`.
    token: AtomicBool,
    /// The turn holder is in (or about to enter) the kernel wait.
    kernel_sleeper: AtomicBool,
    /// Handed-out notification fds: an outside event loop may be blocked
    /// on the driver's fd, so every unpark must poke it.
    watchers: AtomicUsize,
    /// Threads waiting on `gate_changed`.
    gate_waiters: AtomicUsize,
    /// Whether a thread holds the turn.
    gate: Mutex<bool>,
    gate_changed: Condvar,
}

/// What the caller of [`Parker::park`] must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParkTurn {
    /// This thread holds the turn: block in the kernel for at most this long
    /// (`None`: until woken), take the completions, then
    /// [`Parker::leave_turn`].
    Kernel(Option<Duration>),
    /// This thread holds the turn but must not block (a wake-up is pending or
    /// the timeout is zero): take the completions without waiting, then
    /// [`Parker::leave_turn`].
    Poll,
    /// Another thread holds the turn and takes the completions: return
    /// without touching the kernel's queue.
    Return,
}

impl Default for Parker {
    fn default() -> Self {
        Parker {
            token: AtomicBool::new(false),
            kernel_sleeper: AtomicBool::new(false),
            gate_waiters: AtomicUsize::new(0),
            watchers: AtomicUsize::new(0),
            gate: Mutex::new(false),
            gate_changed: Condvar::new(),
        }
    }
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
    /// turn and this one is about to wait for it: work this thread deferred
    /// to its own kernel entry (batched submissions) must go out now, or the
    /// holder may wait for it forever.
    pub(crate) fn park(
        &self,
        timeout: Option<Duration>,
        still_idle: &dyn Fn() -> bool,
        before_waiting: &dyn Fn(),
    ) -> ParkTurn {
        let mut held = self.gate();
        if !*held {
            *held = true;
            drop(held);
            if timeout == Some(Duration::ZERO) {
                self.token.store(false, SeqCst);
                return ParkTurn::Poll;
            }
            self.kernel_sleeper.store(true, SeqCst);
            // Store-then-load against `unpark`'s store-then-load (Dekker):
            // at least one side sees the other. The fences make that hold
            // in every memory model, loom's included.
            fence(SeqCst);
            if self.token.swap(false, SeqCst) || !still_idle() {
                self.kernel_sleeper.store(false, SeqCst);
                return ParkTurn::Poll;
            }
            return ParkTurn::Kernel(timeout);
        }
        if timeout == Some(Duration::ZERO) {
            drop(held);
            before_waiting();
            return ParkTurn::Return;
        }
        // Another thread holds the turn: wait for it to come back.
        drop(held);
        before_waiting();
        let mut held = self.gate();
        self.gate_waiters.fetch_add(1, SeqCst);
        fence(SeqCst);
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        while *held && !self.token.load(SeqCst) && still_idle() {
            let wait = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => break,
                },
                None => Duration::from_secs(3600),
            };
            held = self
                .gate_changed
                .wait_timeout(held, wait)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
        }
        self.gate_waiters.fetch_sub(1, SeqCst);
        // A wake-up seen here is this thread's: consume it, or the next
        // park would return at once, and again, while the holder sleeps.
        self.token.store(false, SeqCst);
        ParkTurn::Return
    }

    /// Takes the turn if nobody holds it, for a short dispatch without
    /// waiting. Returns whether it was taken; if so, call
    /// [`Parker::leave_turn`] after.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn try_take_turn(&self) -> bool {
        let mut held = self.gate();
        if *held {
            return false;
        }
        *held = true;
        true
    }

    /// The turn holder is back from the kernel wait but still holds the
    /// turn (to take the completions). From here `unpark` needs no poke:
    /// wakers woken while the completions are dispatched, usually this
    /// thread's own, would otherwise make it wake itself through the kernel.
    pub(crate) fn left_kernel(&self) {
        self.kernel_sleeper.store(false, SeqCst);
    }

    /// Whether the turn holder is in (or about to enter) the kernel wait.
    /// Read after pushing a submission: `false` means the holder enters
    /// the kernel (and so submits what was pushed) after the read, if at
    /// all.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn in_kernel(&self) -> bool {
        self.kernel_sleeper.load(SeqCst)
    }

    /// Whether an outside event loop watches the driver's notification fd:
    /// then a wake-up must reach that fd, not only a thread in the kernel.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn is_watched(&self) -> bool {
        self.watchers.load(SeqCst) > 0
    }

    /// The turn holder is done: out of the kernel, completions taken.
    pub(crate) fn leave_turn(&self) {
        self.left_kernel();
        let mut held = self.gate();
        *held = false;
        drop(held);
        if self.gate_waiters.load(SeqCst) > 0 {
            self.gate_changed.notify_all();
        }
    }

    /// Wakes every parked thread. Returns whether the kernel must be poked
    /// (the caller does that: eventfd write or `Poller::notify`): the turn
    /// holder is in the kernel, or an outside event loop watches the
    /// driver's notification fd.
    #[must_use]
    pub(crate) fn unpark(&self) -> bool {
        self.token.store(true, SeqCst);
        fence(SeqCst);
        if self.gate_waiters.load(SeqCst) > 0 {
            drop(self.gate());
            self.gate_changed.notify_all();
        }
        self.kernel_sleeper.load(SeqCst) || self.watchers.load(SeqCst) > 0
    }

    /// An outside event loop starts (`true`) or stops (`false`) watching
    /// the driver's notification fd.
    #[cfg_attr(
        not(any(
            target_os = "linux",
            target_os = "android",
            target_os = "illumos",
            target_os = "solaris",
            target_vendor = "apple",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "dragonfly"
        )),
        allow(dead_code)
    )]
    pub(crate) fn set_watched(&self, watched: bool) {
        if watched {
            self.watchers.fetch_add(1, SeqCst);
        } else {
            self.watchers.fetch_sub(1, SeqCst);
        }
    }
}

/// The turn, held: left when dropped, also on unwinding, so a panic while
/// holding it never wedges the threads that park after.
#[derive(Debug)]
pub(crate) struct HeldTurn<'a> {
    parker: &'a Parker,
}

impl<'a> HeldTurn<'a> {
    /// The turn [`Parker::park`] gave this thread
    /// ([`ParkTurn::Kernel`] or [`ParkTurn::Poll`]).
    pub(crate) fn taken(parker: &'a Parker) -> Self {
        HeldTurn { parker }
    }

    /// [`Parker::try_take_turn`], guarded.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn try_take(parker: &'a Parker) -> Option<Self> {
        parker.try_take_turn().then_some(HeldTurn { parker })
    }
}

impl Drop for HeldTurn<'_> {
    fn drop(&mut self) {
        self.parker.leave_turn();
    }
}

#[cfg(all(test, not(proactor_loom)))]
mod tests {
    use super::*;

    fn park(parker: &Parker, idle: bool) -> ParkTurn {
        parker.park(None, &|| idle, &|| {})
    }

    #[test]
    fn unpark_before_park_makes_park_return() {
        let parker = Parker::default();
        assert!(!parker.unpark(), "nobody in the kernel: no poke needed");
        assert_eq!(park(&parker, true), ParkTurn::Poll);
        parker.leave_turn();
        // The token was consumed.
        assert_eq!(park(&parker, true), ParkTurn::Kernel(None));
        assert!(parker.unpark(), "a kernel sleeper must be poked");
        parker.leave_turn();
    }

    #[test]
    fn no_poke_while_the_holder_dispatches() {
        let parker = Parker::default();
        assert_eq!(park(&parker, true), ParkTurn::Kernel(None));
        assert!(parker.unpark(), "in the kernel: poke");
        parker.left_kernel();
        // Wakers woken while the holder dispatches completions (its own
        // future's, usually) must not make it wake itself via the kernel.
        assert!(!parker.unpark(), "back from the kernel: no poke");
        parker.leave_turn();
        assert_eq!(park(&parker, true), ParkTurn::Poll, "the wake-up is kept");
        parker.leave_turn();
    }

    #[test]
    fn second_parker_returns_when_the_holder_leaves() {
        let parker = std::sync::Arc::new(Parker::default());
        assert_eq!(park(&parker, true), ParkTurn::Kernel(None));
        let p = parker.clone();
        let second = std::thread::spawn(move || park(&p, true));
        std::thread::sleep(Duration::from_millis(20));
        parker.leave_turn();
        assert_eq!(second.join().unwrap(), ParkTurn::Return);
    }

    #[test]
    fn a_waiter_consumes_its_wake_up() {
        let parker = std::sync::Arc::new(Parker::default());
        assert_eq!(park(&parker, true), ParkTurn::Kernel(None));
        let p = parker.clone();
        let waiter = std::thread::spawn(move || {
            let turn = park(&p, true);
            // The holder is still in: a token left set would make every
            // later park return at once (a spin).
            (turn, p.token.load(SeqCst))
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(parker.unpark());
        assert_eq!(waiter.join().unwrap(), (ParkTurn::Return, false));
        parker.leave_turn();
    }

    #[test]
    fn not_idle_means_no_kernel_wait() {
        let parker = Parker::default();
        assert_eq!(park(&parker, false), ParkTurn::Poll);
        assert!(!parker.kernel_sleeper.load(SeqCst));
        parker.leave_turn();
        assert!(parker.try_take_turn());
        assert!(!parker.try_take_turn(), "one holder at a time");
        parker.leave_turn();
    }
}
