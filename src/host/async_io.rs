//! async-io (smol, async-std): the process-wide driver, dispatched by
//! async-io's reactor instead of a thread of proactor's.
//!
//! Where it applies: [`Driver::current`] with no `block_on` driver on the
//! thread and no tokio runtime around it (a tokio runtime comes first: its
//! own reactor dispatches its own driver) returns the process-wide driver.
//! With this feature that driver's notification fd is registered with
//! async-io's reactor when the driver is made, and no `proactor-driver`
//! thread is started. Completions are then taken, and their futures woken,
//! by whichever thread runs async-io's reactor: the `async-io` thread, or a
//! thread inside `async_io::block_on` (`smol::block_on`) that waits on it.
//!
//! # Design: a dispatcher polled by its own waker
//!
//! async-io has no executor to spawn a dispatcher task on, so the
//! dispatcher is a small state machine ([`Machine`]) that its own waker
//! polls: the reactor wakes it when the notification fd turns readable (an
//! `Async::readable_owned` future) or when the deadline `dispatch` returned
//! passes (an `async_io::Timer`), and `wake` runs one round in place:
//! `dispatch`, then re-arm the readiness future and the timer with that
//! same waker. An atomic state (idle / running / woken while running)
//! makes sure one thread at a time polls the machine and that a wake-up
//! during a round is a further round, never lost.
//!
//! What the reactor allows inside such a `wake` (read from async-io 2's
//! `reactor.rs`): wakers are woken after the reactor has let go of its
//! source table and of every source's lock, but while the thread still
//! holds the reactor's own lock (the right to wait for events). A round
//! only touches what does not take that lock: the source's per-direction
//! lock (re-arming), the timer queue, `Poller::notify`. The readiness
//! future used is the slab-slot kind (`readable_owned`), which replaces its
//! waker silently; `poll_readable` would wake the replaced waker with the
//! source locked, and a round run from there would lock it again.
//!
//! A panicking waker of an operation is user code failing inside
//! `dispatch`: the driver resumes the panic only once every other waker ran
//! and it is consistent, the round catches it, and the dispatcher carries
//! on (the reactor also catches panics of the wakers it calls).
//!
//! # What it costs
//!
//! - No thread of proactor's and no hop between threads per completion:
//!   the thread that learns of the readiness dispatches and wakes.
//! - A round runs on the reactor's thread while it holds the reactor's
//!   lock: other threads in `async_io::block_on` wait for events meanwhile
//!   (a round is a non-blocking reap plus the wakers it calls).
//! - While a thread inside `async_io::block_on` is busy running futures,
//!   the `async-io` thread waits on the reactor with back-off (async-io's
//!   own latency model, the same for its sockets and timers).
//! - Submissions are not batched per scheduler tick as under tokio:
//!   async-io has no tick to flush at, and waking the reactor to flush
//!   would cost the system call saved. Each operation submitted outside
//!   proactor's own `block_on` enters the kernel when it is submitted.
//! - proactor's own `block_on` on this driver (`proactor::block_on` with
//!   no driver entered) no longer batches its submissions until it parks:
//!   the reactor waits on the ring's fd, which queued submissions do not
//!   make readable, so a thread that blocks before it parks (a nested
//!   executor) would leave them unsubmitted for good.
//! - A readiness back end timer costs an `async_io::Timer` (one entry in
//!   the reactor's timer map) re-armed when the earliest deadline changes.
//!
//! If the reactor cannot take the driver (no fd left for its poller, say)
//! the driver gets its `proactor-driver` thread as without this feature.
//! So does a forked child (async-io's reactor would be its parent's), and
//! so does the driver if async-io itself keeps panicking in a round.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use ::async_io::{Async, ReadableOwned, Timer};

use crate::{Driver, NotificationFd};

/// No thread polls the machine.
const IDLE: u8 = 0;
/// A thread polls the machine.
const RUNNING: u8 = 1;
/// A thread polls the machine and was woken meanwhile: it polls again.
const WOKEN: u8 = 2;

/// Rounds one `wake` runs in a row before it lets the reactor go on (the
/// deadline keeps coming due, say) and comes back on a short timer.
const ROUNDS: usize = 16;

/// How soon to try again after `dispatch` failed or the fd could not be
/// watched.
const RETRY: Duration = Duration::from_millis(1);

/// The id of the process whose async-io reactor dispatches a driver of
/// ours; 0 if none does yet.
static HOSTED_BY: AtomicU32 = AtomicU32::new(0);

/// Has async-io's reactor dispatch `driver` for as long as the process
/// lives. `false` if it cannot: the caller drives it some other way.
pub(crate) fn host(driver: &Driver) -> bool {
    let pid = std::process::id();
    // A forked child inherits the parent's reactor (its epoll fd is the
    // parent's, its thread did not survive the fork): no use.
    match HOSTED_BY.compare_exchange(0, pid, SeqCst, SeqCst) {
        Ok(_) => {}
        Err(hosted) if hosted == pid => {}
        Err(_) => return false,
    }
    let Some(notified) = register(driver.notification_fd()) else {
        return false;
    };
    let dispatcher = Arc::new(Dispatcher {
        state: AtomicU8::new(IDLE),
        machine: Mutex::new(Machine {
            driver: driver.clone(),
            notified: Arc::new(notified),
            readable: None,
            timer: Timer::never(),
            deadline: None,
            armed: None,
            due: false,
        }),
        threaded: AtomicBool::new(false),
    });
    // The first round only arms the readiness future and the timer (a new
    // driver has nothing to dispatch): from then on the dispatcher lives
    // in the reactor, as the waker of both, for the rest of the process.
    dispatcher.wake();
    true
}

/// Registers the fd with async-io's reactor. Building the reactor panics
/// when it cannot get a poller or start its thread: that is caught here,
/// and the caller then drives the driver itself.
fn register(fd: NotificationFd) -> Option<Async<NotificationFd>> {
    // No `unsafe` here: async-io 2's `Async::new_nonblocking` is safe and
    // asks only `AsFd` (`IoSafe` is for its read and write traits, which
    // this never uses). The invariant it relies on still holds, and is why
    // the fd is handed over owned: the fd registered must stay open and
    // the same file until `Async` deregisters it, and the `NotificationFd`
    // keeps its driver, and so the ring's or poller's fd, alive and
    // unchanged for as long as the `Async` holds it (it is dropped after
    // the deregistration). `new_nonblocking`, not `new`: the fd is only
    // waited on, never read, and its flags are the driver's.
    catch_unwind(AssertUnwindSafe(|| Async::new_nonblocking(fd).ok()))
        .ok()
        .flatten()
}

/// The dispatcher: its waker is the one the reactor holds, and waking it
/// runs the machine.
struct Dispatcher {
    /// [`IDLE`], [`RUNNING`] or [`WOKEN`].
    state: AtomicU8,
    /// Locked only by the thread that moved `state` off [`IDLE`]: never
    /// contended.
    machine: Mutex<Machine>,
    /// The driver got a thread of its own (async-io kept failing).
    threaded: AtomicBool,
}

impl Wake for Dispatcher {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.load(SeqCst);
        loop {
            let next = match state {
                IDLE => RUNNING,
                RUNNING => WOKEN,
                _ => return,
            };
            match self.state.compare_exchange(state, next, SeqCst, SeqCst) {
                Ok(IDLE) => break,
                // The thread polling the machine will poll it again.
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut panics = 0;
        loop {
            let polled = {
                let mut machine = self.machine.lock().unwrap_or_else(PoisonError::into_inner);
                catch_unwind(AssertUnwindSafe(|| machine.poll(&mut cx)))
            };
            if polled.is_err() {
                // Not `dispatch` (the machine catches that) but async-io
                // failing: the machine was left with nothing armed. Try
                // again, a few times; then the driver gets the thread it
                // has without this feature, so that its operations still
                // complete.
                panics += 1;
                if panics < 3 {
                    continue;
                }
                if !self.threaded.swap(true, SeqCst) {
                    let machine = self.machine.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = crate::driver::start_parker_thread(&machine.driver);
                }
            }
            match self.state.compare_exchange(RUNNING, IDLE, SeqCst, SeqCst) {
                Ok(_) => return,
                // Woken during the round: whatever woke it may be newer than
                // what the round saw.
                Err(_) => self.state.store(RUNNING, SeqCst),
            }
        }
    }
}

/// Waits for the notification fd or the deadline, and dispatches.
struct Machine {
    driver: Driver,
    notified: Arc<Async<NotificationFd>>,
    /// The armed wait for readability; `None` once it fired.
    readable: Option<ReadableOwned<NotificationFd>>,
    /// Fires at `deadline`.
    timer: Timer,
    /// When `dispatch` must run again even if the fd stays quiet.
    deadline: Option<Instant>,
    /// The instant `timer` is set to.
    armed: Option<Instant>,
    /// The deadline came due while the machine was not to dispatch again
    /// at once: the next poll dispatches.
    due: bool,
}

impl Machine {
    /// Rounds of dispatch while the fd is readable or the deadline due,
    /// then re-arms both with `cx`'s waker.
    fn poll(&mut self, cx: &mut Context<'_>) {
        // Taken out first so that a panic below leaves nothing stale armed:
        // the next poll arms afresh.
        let mut readable = self.readable.take();
        for _ in 0..ROUNDS {
            let mut due = std::mem::take(&mut self.due);
            let mut watched = true;
            let wait = readable.get_or_insert_with(|| self.notified.clone().readable_owned());
            match Pin::new(wait).poll(cx) {
                Poll::Ready(Ok(())) => {
                    readable = None;
                    due = true;
                }
                Poll::Ready(Err(_)) => {
                    // The reactor could not watch the fd: dispatch anyway,
                    // and try again soon.
                    readable = None;
                    due = true;
                    watched = false;
                }
                Poll::Pending => {}
            }
            if self.timer_fired(cx) {
                due = true;
            }
            if !due {
                self.readable = readable;
                return;
            }
            let dispatched = catch_unwind(AssertUnwindSafe(|| self.driver.dispatch()));
            let retry = Instant::now() + RETRY;
            let mut deadline = match dispatched {
                Ok(Ok(deadline)) => deadline,
                // A broken kernel interface, or a panicking waker (reported
                // by the panic hook; every other waker ran): come back soon.
                Ok(Err(_)) | Err(_) => Some(retry),
            };
            if !watched {
                deadline = Some(deadline.map_or(retry, |at| at.min(retry)));
            }
            self.set_deadline(deadline);
            if !watched {
                // Not re-armed in this call: the timer comes back for it.
                self.arm_timer(cx);
                return;
            }
        }
        // Still due after every round: let the reactor go on, come back soon.
        self.readable = readable;
        self.set_deadline(Some(Instant::now() + RETRY));
        self.arm_timer(cx);
    }

    /// Sets the timer to `deadline`, if it is not already set there.
    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
        if self.armed == deadline {
            return;
        }
        match deadline {
            Some(at) => self.timer.set_at(at),
            None => self.timer.clear(),
        }
        self.armed = deadline;
    }

    /// Polls the timer (so that it holds `cx`'s waker): whether the
    /// deadline passed. A timer fires once: it is set again by the next
    /// [`set_deadline`](Self::set_deadline).
    fn timer_fired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deadline.is_none() || Pin::new(&mut self.timer).poll(cx).is_pending() {
            return false;
        }
        self.deadline = None;
        self.armed = None;
        true
    }

    /// Arms the timer on the way out of a poll; if the deadline passed
    /// already, the machine is woken for another poll, which dispatches.
    fn arm_timer(&mut self, cx: &mut Context<'_>) {
        if self.timer_fired(cx) {
            self.due = true;
            cx.waker().wake_by_ref();
        }
    }
}
