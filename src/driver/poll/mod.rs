//! The readiness back end (feature `poll`): epoll on Linux (its own thin
//! layer, see `epoll`), kqueue, event ports or IOCP through the `polling`
//! crate elsewhere.
//!
//! Each operation says how to run it ([`Readiness`]):
//! - fds with readiness (pipes, sockets): the non-blocking system call runs
//!   at once; on `WouldBlock` the operation waits for a oneshot readiness
//!   event on its fd and runs again. Any number of operations may wait on one
//!   fd, in either direction: the fd is registered once with the union of
//!   their interests.
//! - operations that may block (regular files, `open`, `fsync`, `statx`,
//!   `close`): the bounded blocking pool, whose results come back through
//!   `Poller::notify`.
//! - timers: a deadline queue that bounds how long a park may block.
//! - deadlines of operations (`Op::with_timeout`): a second queue beside the
//!   timers; one that passes while its operation waits ends the wait, and
//!   the operation completes with `TimedOut`. Operations on the pool are
//!   not interrupted: the deadline does not apply to them.
//!
//! Lock order: `waits`, then the op table. No lock is held while a thread is
//! blocked in the poller, and wakers are woken (and dropped) after every
//! lock and the parker's turn are released (see the `shared` module for
//! where user code runs).

#[cfg(target_os = "linux")]
mod epoll;
mod waits;

/// The poller and its event types: epoll itself on Linux, where `polling`'s
/// wait costs five system calls (see `epoll`); `polling` elsewhere.
mod poller {
    #[cfg(target_os = "linux")]
    pub(super) use super::epoll::{Event, Events, Poller};
    #[cfg(not(target_os = "linux"))]
    pub(super) use polling::{Event, Events, Poller};
}

use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use poller::{Events, Poller};

use super::lifecycle::{CancelOutcome, CompleteOutcome, OpKey, OpTable};
use super::parker::{HeldTurn, ParkTurn, Parker};
use super::pool::{BlockingPool, PoolCompletions, Unpark};
use super::shared::{
    cancel_inherited, lock, poll_inherited, poll_slot, remove_unstarted, submit_to_pool, Dispatch, SharedTable,
};
use super::{sealed, Backend, Builder, CompletionDriver};
use crate::op::{downcast, timed_out, BoxedOp, OpCode, OpId, Readiness, Submission};
use waits::Waits;

/// A driver on the readiness back end. Cheap to clone; clones share one
/// poller.
///
/// ```
/// use proactor::driver::{CompletionDriver, PollDriver};
/// use proactor::op::{Nop, Op};
/// use proactor::{Backend, Builder};
///
/// # fn main() -> std::io::Result<()> {
/// let driver = PollDriver::new(&Builder::new())?;
/// assert_eq!(driver.backend(), Backend::Poll);
/// driver.block_on(Op::with_driver(Nop::new(), driver.clone()))?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PollDriver {
    shared: Arc<Shared>,
}

/// A handle to a [`PollDriver`] that does not keep it alive.
#[derive(Clone)]
#[allow(dead_code)] // used by the host integrations, which not every build or platform has
pub(crate) struct WeakPollDriver(std::sync::Weak<Shared>);

#[allow(dead_code)] // used by the host integrations, which not every build or platform has
impl WeakPollDriver {
    pub(crate) fn upgrade(&self) -> Option<PollDriver> {
        self.0.upgrade().map(|shared| PollDriver { shared })
    }
}

#[allow(dead_code)] // used by the host integrations, which not every build or platform has
impl PollDriver {
    /// A handle that does not keep the driver alive.
    pub(crate) fn downgrade(&self) -> WeakPollDriver {
        WeakPollDriver(Arc::downgrade(&self.shared))
    }

    /// How many handles keep the driver alive (clones of it, and of the
    /// [`Driver`](crate::Driver)s and operations that hold one).
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.shared)
    }
}

static_assertions::assert_impl_all!(PollDriver: Send, Sync, Clone);

struct PollerWakeup {
    parker: Parker,
    poller: Arc<Poller>,
}

impl Unpark for PollerWakeup {
    fn unpark(&self) {
        if self.parker.unpark() {
            // A failed notify leaves the waiter to its timeout; nothing
            // better can be done from here.
            let _ = self.poller.notify();
        }
    }
}

struct Shared {
    poller: Arc<Poller>,
    waits: Mutex<Waits>,
    table: SharedTable,
    wakeup: Arc<PollerWakeup>,
    events: Mutex<Events>,
    pool: BlockingPool,
    pool_done: Arc<PoolCompletions>,
    /// Set once an operation gets a deadline: from then on, an operation
    /// that ends after a retry takes the waits' lock to drop its deadline.
    /// Drivers that never see one skip that lock.
    uses_deadlines: AtomicBool,
    /// The process's fork count when the driver was made (see `fork`).
    generation: u64,
}

impl fmt::Debug for PollDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollDriver")
            .field("in_flight", &self.in_flight())
            .field("pool", &self.shared.pool)
            .finish()
    }
}

impl PollDriver {
    /// A driver with its own poller, sized by `builder` (the back-end choice
    /// in `builder` is ignored).
    ///
    /// ```
    /// use proactor::driver::{CompletionDriver, PollDriver};
    /// use proactor::{Backend, Builder};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let builder = Builder::new().force(Backend::IoUring).entries(64);
    /// let driver = PollDriver::new(&builder)?; // `force` is ignored
    /// assert_eq!(driver.backend(), Backend::Poll);
    /// assert_eq!(driver.in_flight(), 0);
    /// # Ok(()) }
    /// ```
    pub fn new(builder: &Builder) -> io::Result<PollDriver> {
        let poller = Arc::new(Poller::new()?);
        let wakeup = Arc::new(PollerWakeup {
            parker: Parker::default(),
            poller: poller.clone(),
        });
        // As many as an io_uring submission queue may hold: a larger
        // request would only allocate a huge event buffer (or abort).
        let entries = builder.entries.min(MAX_EVENTS_PER_WAIT) as usize;
        let capacity = NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN);
        Ok(PollDriver {
            shared: Arc::new(Shared {
                poller,
                waits: Mutex::new(Waits::default()),
                table: Mutex::new(OpTable::default()),
                pool_done: PoolCompletions::new(wakeup.clone()),
                generation: super::fork::generation(),
                wakeup,
                events: Mutex::new(Events::with_capacity(capacity)),
                pool: BlockingPool::new(builder.blocking_threads),
                uses_deadlines: AtomicBool::new(false),
            }),
        })
    }

    /// Runs `fut` to completion on this thread; see [`Driver::block_on`](crate::Driver::block_on).
    ///
    /// ```
    /// use proactor::driver::PollDriver;
    /// use proactor::op::{Nop, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = PollDriver::new(&proactor::Builder::new())?;
    /// let n = driver.block_on(async {
    ///     Op::with_driver(Nop::new(), driver.clone()).await?;
    ///     Ok::<_, std::io::Error>(7)
    /// })?;
    /// assert_eq!(n, 7);
    /// # Ok(()) }
    /// ```
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        super::block_on_with(self, fut)
    }
}

/// Most events gathered per wait, whatever `Builder::entries` asks.
const MAX_EVENTS_PER_WAIT: u32 = 32768;

fn would_block(result: &io::Result<usize>) -> bool {
    matches!(result, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

fn cancelled() -> io::Result<usize> {
    Err(io::Error::from_raw_os_error(libc::ECANCELED))
}

impl Shared {
    /// Whether this is a forked child's copy of the driver (see `fork`).
    fn inherited(&self) -> bool {
        super::fork::is_inherited(self.generation)
    }

    /// Submits `op`; `deadline`: the instant it times out, if it waits
    /// (see `Op::with_timeout`).
    fn submit_op<O: OpCode>(&self, mut op: Box<O>, waker: &Waker, deadline: Option<Instant>) -> Submission<O> {
        if self.inherited() {
            return Submission::Done(Err(super::fork::inherited_error()), op);
        }
        if let Err(error) = super::check_bound(&*op, self as *const Shared as usize) {
            return Submission::Done(Err(error), op);
        }
        match op.readiness() {
            Readiness::Now => Submission::Done(op.perform(), op),
            // A pool thread cannot be interrupted: no deadline applies.
            Readiness::Blocking => match op.try_now() {
                Some(result) => Submission::Done(result, op),
                None => submit_to_pool(&self.table, &self.pool, &self.pool_done, op, Some(waker)),
            },
            Readiness::Fd { fd, interest } => {
                let result = op.perform();
                if !would_block(&result) {
                    return Submission::Done(result, op);
                }
                if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
                    return Submission::Done(Err(timed_out()), op);
                }
                let waker = waker.clone();
                let mut waits = lock(&self.waits);
                let key = lock(&self.table).insert_waiting(op, Some(waker));
                let waiting = waits.wait_fd(&self.poller, key, fd, interest);
                let earliest = match (&waiting, deadline) {
                    (Ok(()), Some(deadline)) => self.set_deadline(&mut waits, key, deadline),
                    _ => false,
                };
                drop(waits);
                if earliest {
                    // A parked thread may be waiting past this deadline.
                    self.wakeup.unpark();
                }
                match waiting {
                    Ok(()) => Submission::InFlight(OpId(key)),
                    Err(error) => Submission::Done(Err(error), downcast(remove_unstarted(&self.table, key))),
                }
            }
            Readiness::Timer(duration) => {
                let fires = Instant::now().checked_add(duration);
                if duration.is_zero() {
                    return Submission::Done(Ok(0), op);
                }
                // The deadline comes first: the timer only waits for it.
                let timed_out_first = match (deadline, fires) {
                    (Some(deadline), Some(fires)) => deadline < fires,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if timed_out_first {
                    let deadline = deadline.expect("checked just above");
                    if deadline <= Instant::now() {
                        return Submission::Done(Err(timed_out()), op);
                    }
                    let waker = waker.clone();
                    let mut waits = lock(&self.waits);
                    let key = lock(&self.table).insert_waiting(op, Some(waker));
                    waits.add_forever(key);
                    let earliest = self.set_deadline(&mut waits, key, deadline);
                    drop(waits);
                    if earliest {
                        self.wakeup.unpark();
                    }
                    return Submission::InFlight(OpId(key));
                }
                let Some(fires) = fires else {
                    // Beyond the clock's range: it never fires.
                    return self.hold_forever(op, waker);
                };
                let waker = waker.clone();
                let mut waits = lock(&self.waits);
                let key = lock(&self.table).insert_waiting(op, Some(waker));
                let earliest = waits.add_timer(key, fires);
                drop(waits);
                if earliest {
                    // A parked thread may be waiting past this deadline.
                    self.wakeup.unpark();
                }
                Submission::InFlight(OpId(key))
            }
        }
    }

    /// Gives waiting `key` its deadline; returns whether it is now the
    /// earliest time anything is due.
    fn set_deadline(&self, waits: &mut Waits, key: OpKey, deadline: Instant) -> bool {
        self.uses_deadlines.store(true, Ordering::Release);
        waits.set_deadline(key, deadline)
    }

    /// An operation that only ends when cancelled.
    fn hold_forever<O: OpCode>(&self, op: Box<O>, waker: &Waker) -> Submission<O> {
        // Cloned before any lock: a waker's clone is user code.
        let waker = waker.clone();
        let mut waits = lock(&self.waits);
        let key = lock(&self.table).insert_waiting(op, Some(waker));
        waits.add_forever(key);
        Submission::InFlight(OpId(key))
    }

    fn cancel(&self, id: OpId) {
        if self.inherited() {
            // The epoll instance is the parent's too: not a word to it.
            return cancel_inherited(&self.table, id);
        }
        let mut cleanup: Option<(io::Result<usize>, BoxedOp)> = None;
        // The future's waker, dropped once the locks are released.
        let mut _displaced = None;
        {
            let mut waits = lock(&self.waits);
            let mut table = lock(&self.table);
            let lent = table.is_lent(id.0);
            match table.cancel(id.0) {
                CancelOutcome::Finished(result, op) => cleanup = Some((result, op)),
                CancelOutcome::InFlight(waker) => {
                    _displaced = waker;
                    // Removed from its wait: no result will ever come, so
                    // resolve it now. Not found: an event already took it
                    // and will complete it. On the pool (lent): cleaned up
                    // when it comes back.
                    if !lent && waits.remove(&self.poller, id.0) {
                        if let CompleteOutcome::Orphaned(result, op) = table.complete(id.0, cancelled(), None) {
                            cleanup = Some((result, op));
                        }
                    }
                }
                CancelOutcome::Unknown => {}
            }
        }
        if let Some((result, op)) = cleanup {
            op.cleanup_erased(result);
        }
    }

    /// Runs again an operation whose fd became ready; what ends goes to
    /// `dispatch`.
    fn retry(&self, key: OpKey, dispatch: &mut Dispatch) {
        let Some(mut op) = lock(&self.table).lend(key) else {
            return;
        };
        let result = op.perform();
        if would_block(&result) {
            let Readiness::Fd { fd, interest } = op.readiness() else {
                unreachable!("only fd operations wait for readiness")
            };
            let mut waits = lock(&self.waits);
            let mut table = lock(&self.table);
            match table.give_back(key, op) {
                // The future is gone: nothing waits for this any more.
                Some(op) => {
                    waits.clear_deadline(key);
                    drop((table, waits));
                    dispatch.clean_up(cancelled(), op);
                }
                // Its deadline passed while it was being retried.
                None if waits.deadline_passed(key, Instant::now()) => {
                    waits.clear_deadline(key);
                    let op = table.lend(key).expect("given back just above");
                    drop((table, waits));
                    dispatch.store(&self.table, [(key, Err(timed_out()), Some(op))]);
                }
                None => {
                    if let Err(error) = waits.wait_fd(&self.poller, key, fd, interest) {
                        waits.clear_deadline(key);
                        let op = table.lend(key).expect("given back just above");
                        drop((table, waits));
                        dispatch.store(&self.table, [(key, Err(error), Some(op))]);
                    }
                }
            }
            return;
        }
        if self.uses_deadlines.load(Ordering::Acquire) {
            lock(&self.waits).clear_deadline(key);
        }
        dispatch.store(&self.table, [(key, result, Some(op))]);
    }

    /// Ends the timers that are due, and the waits whose deadline passed;
    /// returns the next time one is due.
    fn fire_timers(&self, dispatch: &mut Dispatch) -> Option<Instant> {
        let now = Instant::now();
        let (expired, timed_out_keys, next) = {
            let mut waits = lock(&self.waits);
            let timed_out_keys = waits.expired_deadlines(&self.poller, now);
            let (expired, next) = waits.expired_timers(now);
            (expired, timed_out_keys, next)
        };
        if !expired.is_empty() {
            dispatch.store(&self.table, expired.into_iter().map(|key| (key, Ok(0), None)));
        }
        if !timed_out_keys.is_empty() {
            dispatch.store(&self.table, timed_out_keys.into_iter().map(|key| (key, Err(timed_out()), None)));
        }
        next
    }

    /// Blocks until an fd is ready, a timer is due, a pool job is back or
    /// `unpark` is called, then completes what is ready. Wakers run after
    /// the turn is left; a panicking one is resumed here once the rest ran.
    /// Returns the next timer's deadline.
    fn park(&self, timeout: Option<Duration>, still_idle: &dyn Fn() -> bool) -> io::Result<Option<Instant>> {
        if self.inherited() {
            return Err(super::fork::inherited_error());
        }
        // Woken before the decision to block: their futures may be polled
        // (and end this park) instead of waiting for the next event.
        let mut due = Dispatch::default();
        due.collect_pool(&self.table, &self.pool_done);
        let next_timer = self.fire_timers(&mut due);
        due.run();
        let timeout = match next_timer {
            Some(deadline) => {
                let until_timer = deadline.saturating_duration_since(Instant::now());
                Some(timeout.map_or(until_timer, |t| t.min(until_timer)))
            }
            None => timeout,
        };
        let parker = &self.wakeup.parker;
        let wait_for = match parker.park(timeout, still_idle, &|| {}) {
            ParkTurn::Kernel(timeout) => Some(timeout),
            ParkTurn::Poll => Some(Some(Duration::ZERO)),
            ParkTurn::Return => None,
        };
        let mut result = Ok(());
        let mut dispatch = Dispatch::default();
        if let Some(timeout) = wait_for {
            let held = HeldTurn::taken(parker);
            let mut ready = Vec::new();
            {
                let mut events = lock(&self.events);
                loop {
                    events.clear();
                    result = self.poller.wait(&mut events, timeout).map(drop);
                    ready.extend(events.iter().map(|ev| (ev.key, ev.readable, ev.writable)));
                    // A wait that must not block drains: an outside loop
                    // watching the poller's fd with edge triggering gets
                    // no new edge while events are left behind.
                    let drained = events.len() < events.capacity().get();
                    if timeout != Some(Duration::ZERO) || result.is_err() || drained {
                        break;
                    }
                }
            }
            drop(held);
            for (key, readable, writable) in ready {
                let keys = lock(&self.waits).ready(&self.poller, key, readable, writable);
                for key in keys {
                    self.retry(key, &mut dispatch);
                }
            }
        }
        dispatch.collect_pool(&self.table, &self.pool_done);
        let next_timer = self.fire_timers(&mut dispatch);
        dispatch.run();
        result.map(|()| next_timer)
    }
}

/// How many times a dropped driver on Windows takes the completions of the
/// AFD polls it cancelled, a millisecond apart (see `Shared::drop`).
#[cfg(windows)]
const CANCELLED_POLL_ROUNDS: usize = 10;

impl Drop for Shared {
    fn drop(&mut self) {
        if self.inherited() {
            // A forked child's copy: the epoll instance is the parent's, so
            // its registrations stay; the child's copies of the operations
            // are the child's own memory, freed here.
            drop(lock(&self.table).drain());
            return;
        }
        // Every slot left is cancelled (its future is gone). Fd waits and
        // timers end here; pool jobs are waited for, since a pool thread
        // may still be using their buffers.
        let waiting = lock(&self.waits).drain(&self.poller);
        let mut dispatch = Dispatch::default();
        dispatch.store(&self.table, waiting.into_iter().map(|key| (key, cancelled(), None)));
        dispatch.run_detached();
        // On IOCP, deleting a socket cancels its AFD poll, and the poll's
        // packet (with the AFD handle it holds) is let go only when a wait
        // takes the cancel's completion: a poller dropped first leaks one
        // handle. A cancel's completion is posted asynchronously, so the
        // waits that do not block are repeated for a few milliseconds.
        #[cfg(windows)]
        {
            let mut events = lock(&self.events);
            for _ in 0..CANCELLED_POLL_ROUNDS {
                let _ = self.poller.wait(&mut events, Some(Duration::ZERO));
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        // Dropped inside one of its own pool jobs: that job comes back only
        // after this returns, so it is not waited for.
        if let Some(key) = super::pool::job_running_here(&self.pool_done) {
            lock(&self.table).abandon_lent(key);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut dispatch = Dispatch::default();
            dispatch.collect_pool(&self.table, &self.pool_done);
            dispatch.run_detached();
            if lock(&self.table).is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                std::mem::forget(lock(&self.table).drain());
                return;
            }
            let mut events = lock(&self.events);
            let _ = self.poller.wait(&mut events, Some(Duration::from_millis(10)));
        }
    }
}

impl PollDriver {
    /// Whether this is a forked child's copy of its parent's driver.
    pub(crate) fn is_inherited(&self) -> bool {
        self.shared.inherited()
    }
}

impl sealed::Sealed for PollDriver {
    fn identity(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }
    fn park_until(&self, woken: &AtomicBool) -> io::Result<()> {
        self.shared.park(None, &|| !woken.load(Ordering::SeqCst)).map(drop)
    }
    fn flush(&self) {}
    fn submit_with_deadline<O: OpCode>(&self, op: Box<O>, waker: &Waker, timeout: Duration) -> Submission<O> {
        // Beyond the clock's range: no deadline.
        self.shared.submit_op(op, waker, Instant::now().checked_add(timeout))
    }
}

impl CompletionDriver for PollDriver {
    fn backend(&self) -> Backend {
        Backend::Poll
    }

    fn submit<O: OpCode>(&self, op: Box<O>, waker: &Waker) -> Submission<O> {
        self.shared.submit_op(op, waker, None)
    }

    fn poll_op<O: OpCode>(&self, id: OpId, cx: &mut Context<'_>) -> Poll<(io::Result<usize>, Box<O>)> {
        if self.shared.inherited() {
            return poll_inherited(&self.shared.table, id);
        }
        poll_slot(&self.shared.table, id, cx)
    }

    fn cancel_op(&self, id: OpId) {
        self.shared.cancel(id)
    }

    fn park(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.shared.park(timeout, &|| true).map(drop)
    }

    fn unpark(&self) {
        self.shared.wakeup.unpark()
    }

    fn in_flight(&self) -> usize {
        lock(&self.shared.table).len()
    }

    fn dispatch(&self) -> io::Result<Option<Instant>> {
        self.shared.park(Some(Duration::ZERO), &|| true)
    }
}

cfg_notification_fd! {
    impl PollDriver {
        /// The poller's fd (epoll, kqueue, event port): readable while events
        /// wait in it, a `Poller::notify` included.
        pub(crate) fn notification_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            std::os::fd::AsFd::as_fd(&*self.shared.poller)
        }

        /// See [`Parker::set_watched`].
        pub(crate) fn set_watched(&self, watched: bool) {
            self.shared.wakeup.parker.set_watched(watched);
        }
    }
}
