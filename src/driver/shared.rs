//! Steps both back ends take the same way around their op table, and the
//! one place where a driver runs user code.
//!
//! # Where user code runs
//!
//! A driver calls code it did not write in three places: a future's waker
//! (`wake`, and `drop` when a poll replaces it or the future is cancelled),
//! the cleanup of a result nobody will take (an op's buffers, whose `Drop`
//! may be a user type's), and `Blocking` jobs on the pool. None of them runs
//! under a driver lock or while the thread holds the parker's turn: results
//! are stored under the lock into a [`Dispatch`], which is run once every
//! lock and the turn are released. A panic in one waker or cleanup does not
//! stop the others; the first panic is resumed on the dispatching thread
//! once all of them ran, when the driver is consistent again. Pool jobs
//! catch their own panics (see the pool).

use std::any::Any;
use std::cell::Cell;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

#[cfg(all(target_os = "linux", feature = "uring"))]
use super::lifecycle::ShotOutcome;
use super::lifecycle::{CompleteOutcome, Discard, OpKey, OpTable, Polled, Posted};
use super::pool::{run_on_pool, BlockingPool, PoolCompletions};
use crate::op::{downcast, BoxedOp, OpCode, OpId, Submission};

/// The op table of a driver, behind its lock.
pub(crate) type SharedTable = Mutex<OpTable<BoxedOp, Resubmit>>;

/// What a slot keeps to submit its operation again: io_uring's entry, as
/// the kernel first got it, and its deadline (see
/// [`OpTable::resubmission`]).
#[cfg(all(target_os = "linux", feature = "uring"))]
#[derive(Default)]
pub(crate) struct Resubmit {
    /// The entry, without the `IO_LINK` flag a deadline adds to it.
    pub(crate) entry: Option<io_uring::squeue::Entry>,
    /// When its linked timeout fires (`Op::with_timeout`), if it has one:
    /// a kernel ECANCELED from then on is that timeout, and before it the
    /// kernel's own (see the io_uring back end's `resubmit_or_store`).
    pub(crate) deadline: Option<std::time::Instant>,
}
/// What a slot keeps to submit its operation again: nothing, for the
/// readiness back end retries from the operation itself.
#[cfg(not(all(target_os = "linux", feature = "uring")))]
pub(crate) type Resubmit = ();

/// Locks `mutex`, ignoring poison: every critical section here leaves the
/// data consistent before anything that can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

thread_local! {
    /// A spare vector for [`Dispatch`], so completing allocates nothing once
    /// warm.
    static SPARE_WAKERS: Cell<Vec<Waker>> = const { Cell::new(Vec::new()) };
}

/// Runs pieces of user code one after another, each caught, and resumes the
/// first panic only once all of them have run.
#[derive(Default)]
pub(crate) struct PanicGuard {
    first: Option<Box<dyn Any + Send>>,
}

impl PanicGuard {
    /// Runs `f`; a panic is kept for [`PanicGuard::resume`].
    pub(crate) fn run(&mut self, f: impl FnOnce()) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            self.first.get_or_insert(payload);
        }
    }

    /// Resumes the first panic caught, if any.
    pub(crate) fn resume(self) {
        if let Some(payload) = self.first {
            panic::resume_unwind(payload);
        }
    }
}

/// Wakers to wake and orphaned results to clean up, gathered under the op
/// table's lock (and possibly the parker's turn) and run after both are
/// released.
pub(crate) struct Dispatch {
    wakers: Vec<Waker>,
    orphans: Vec<(io::Result<usize>, BoxedOp)>,
    /// Results of multishot operations whose streams are gone.
    discards: Vec<(Posted, Discard)>,
    /// Multishot operations whose queues filled up: the kernel is to stop
    /// them (see [`Dispatch::take_throttled`]).
    #[cfg(all(target_os = "linux", feature = "uring"))]
    throttled: Vec<OpKey>,
}

impl Default for Dispatch {
    fn default() -> Self {
        // `try_with`: a driver may be dropped from a thread-local destructor,
        // after this thread's own locals are gone.
        let wakers = SPARE_WAKERS.try_with(Cell::take).unwrap_or_default();
        Dispatch {
            wakers,
            orphans: Vec::new(),
            discards: Vec::new(),
            #[cfg(all(target_os = "linux", feature = "uring"))]
            throttled: Vec::new(),
        }
    }
}

impl Dispatch {
    /// Stores `results` in the table; what they release is kept for
    /// [`Dispatch::run`].
    pub(crate) fn store(
        &mut self,
        table: &SharedTable,
        results: impl IntoIterator<Item = (OpKey, io::Result<usize>, Option<BoxedOp>)>,
    ) {
        let mut table = lock(table);
        for (key, result, returned) in results {
            let outcome = table.complete(key, result, returned);
            self.take(outcome);
        }
    }

    /// Keeps what a stored result released.
    fn take(&mut self, outcome: CompleteOutcome<BoxedOp>) {
        match outcome {
            CompleteOutcome::Stored(Some(waker)) => self.wakers.push(waker),
            CompleteOutcome::Orphaned(result, op) => self.orphans.push((result, op)),
            CompleteOutcome::OrphanedShot(posted, discard, op) => {
                self.discards.push((posted, discard));
                // Its result is the discard's: the operation only goes.
                self.orphans
                    .push((Err(io::ErrorKind::Interrupted.into()), op));
            }
            CompleteOutcome::Stored(None) | CompleteOutcome::Unknown => {}
        }
    }

    /// Stores io_uring's completions in the order the kernel posted them:
    /// `(key, posted, more)`, `more` for a multishot operation's result
    /// that is not its last (`IORING_CQE_F_MORE`).
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn store_posted(
        &mut self,
        table: &SharedTable,
        posted: impl IntoIterator<Item = (OpKey, Posted, bool)>,
    ) {
        let mut table = lock(table);
        for (key, posted, more) in posted {
            if more {
                match table.shot(key, posted) {
                    ShotOutcome::Stored(waker) => self.wakers.extend(waker),
                    ShotOutcome::StoredFull(waker) => {
                        self.wakers.extend(waker);
                        self.throttled.push(key);
                    }
                    ShotOutcome::Discard(posted, discard) => self.discards.push((posted, discard)),
                    ShotOutcome::Unknown => {}
                }
                continue;
            }
            let outcome = table.complete_posted(key, posted, None);
            self.take(outcome);
        }
    }

    /// The multishot operations whose queues filled up while storing: the
    /// caller asks the kernel to stop each.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn take_throttled(&mut self) -> Vec<OpKey> {
        std::mem::take(&mut self.throttled)
    }

    /// Moves the blocking pool's finished jobs into the table.
    pub(crate) fn collect_pool(&mut self, table: &SharedTable, completions: &PoolCompletions) {
        let done = completions.take();
        if !done.is_empty() {
            self.store(
                table,
                done.into_iter()
                    .map(|(key, result, op)| (key, result, Some(op))),
            );
        }
    }

    /// Keeps `op`'s cleanup for [`Dispatch::run`].
    #[cfg_attr(not(feature = "poll"), allow(dead_code))]
    pub(crate) fn clean_up(&mut self, result: io::Result<usize>, op: BoxedOp) {
        self.orphans.push((result, op));
    }

    /// Wakes every waker and cleans up every orphan. Call with no driver
    /// lock held and outside the parker's turn. Every piece runs even if
    /// one panics; the first panic is then resumed.
    pub(crate) fn run(mut self) {
        let mut guard = PanicGuard::default();
        for waker in self.wakers.drain(..) {
            guard.run(|| waker.wake());
        }
        for (result, op) in self.orphans.drain(..) {
            guard.run(|| op.cleanup_erased(result));
        }
        for (posted, discard) in self.discards.drain(..) {
            guard.run(|| discard.run(posted));
        }
        let spare = std::mem::take(&mut self.wakers);
        let _ = SPARE_WAKERS.try_with(|cell| cell.set(spare));
        guard.resume();
    }
}

impl Dispatch {
    /// [`Dispatch::run`] where a panic must not be resumed: in a driver's
    /// teardown, which may run while this thread unwinds or in a
    /// thread-local destructor (a second panic would abort), and where the
    /// wakers are other futures' (reaped to make room while submitting for
    /// an unrelated one, whose poll must not fail for them). The panic hook
    /// has reported the panic; every other piece still runs.
    pub(crate) fn run_detached(self) {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| self.run()));
    }
}

/// `poll_op` for a table of boxed ops.
pub(crate) fn poll_slot<O: OpCode>(
    table: &SharedTable,
    id: OpId,
    cx: &mut Context<'_>,
) -> Poll<(io::Result<usize>, Box<O>)> {
    // A waker's clone and drop are user code: cloned before the lock only
    // when the table needs a new one, dropped after it.
    let mut fresh = None;
    loop {
        let mut displaced = None;
        let polled = lock(table).poll(id.0, cx.waker(), &mut fresh, &mut displaced);
        drop(displaced);
        match polled {
            Polled::Ready(result, op) => return Poll::Ready((result, downcast(op))),
            Polled::Pending => return Poll::Pending,
            Polled::NeedsWaker => fresh = Some(cx.waker().clone()),
            Polled::Unknown => {
                panic!("proactor: an Op was polled on a driver that does not hold it")
            }
        }
    }
}

/// Marks `id` cancelled, and calls `stop_in_kernel` if the kernel still
/// has it: not when it already finished (cleaned up here) or runs on the
/// pool (its result is cleaned up when it comes back). The waker the future
/// left is dropped last, outside the lock: its drop is user code, and a
/// panic there must not keep the operation from being stopped.
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) fn cancel_slot(table: &SharedTable, id: OpId, stop_in_kernel: impl FnOnce()) {
    use super::lifecycle::CancelOutcome;
    let (outcome, lent) = {
        let mut table = lock(table);
        let lent = table.is_lent(id.0);
        (table.cancel(id.0), lent)
    };
    match outcome {
        CancelOutcome::Finished(result, op) => op.cleanup_erased(result),
        CancelOutcome::InFlight(waker) => {
            if !lent {
                stop_in_kernel();
            }
            drop(waker);
        }
        CancelOutcome::Unknown => {}
    }
}

/// `poll_op` in a forked child, for a driver it inherited: the child's copy
/// of the operation comes back with an error.
pub(crate) fn poll_inherited<O: OpCode>(
    table: &SharedTable,
    id: OpId,
) -> Poll<(io::Result<usize>, Box<O>)> {
    let (op, _waker) = lock(table).take_inherited(id.0);
    match op {
        Some(op) => Poll::Ready((Err(super::fork::inherited_error()), downcast(op))),
        None => panic!(
            "proactor: this operation was running on the parent process's blocking pool when \
             the process forked; it cannot finish in the child"
        ),
    }
}

/// `cancel_op` in a forked child: the child's copy goes, the kernel (which
/// only ever worked for the parent) is not told.
pub(crate) fn cancel_inherited(table: &SharedTable, id: OpId) {
    let (_op, _waker) = lock(table).take_inherited(id.0);
}

/// Removes a slot whose operation never started, dropping what it held
/// outside the lock.
pub(crate) fn remove_unstarted(table: &SharedTable, key: OpKey) -> BoxedOp {
    let (op, _waker) = lock(table).remove_unstarted(key);
    op.expect("an unstarted slot keeps its data until its submitter removes it")
}

/// Runs `op` on the blocking pool, holding its slot meanwhile.
pub(crate) fn submit_to_pool<O: OpCode>(
    table: &SharedTable,
    pool: &BlockingPool,
    completions: &Arc<PoolCompletions>,
    op: Box<O>,
    waker: Option<&Waker>,
) -> Submission<O> {
    let waker = waker.cloned();
    let (key, lent) = {
        let mut table = lock(table);
        let key = table.insert_waiting(op, waker);
        (key, table.lend(key).expect("a new slot holds its data"))
    };
    match run_on_pool(pool, completions, key, lent) {
        Ok(()) => Submission::InFlight(OpId(key)),
        Err((error, op)) => {
            // The slot's data is lent out (here it is `op`): only the waker
            // comes back from the table, dropped after the lock.
            let (_, _waker) = lock(table).remove_unstarted(key);
            Submission::Done(Err(error), downcast(op))
        }
    }
}

#[cfg(all(test, not(proactor_loom)))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::Wake;

    use super::*;
    use crate::op::OpCode;

    struct Counting(AtomicUsize);
    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    struct Panicking;
    impl Wake for Panicking {
        fn wake(self: Arc<Self>) {
            panic!("hostile waker");
        }
    }

    /// An op whose cleanup is counted, standing for an fd to close.
    struct Orphan(Arc<AtomicUsize>);

    // SAFETY: never submitted to a kernel; only its cleanup runs.
    unsafe impl OpCode for Orphan {
        type Output = ();
        #[cfg(all(target_os = "linux", feature = "uring"))]
        const URING_OPCODE: u8 = crate::op::POOL_ONLY;
        #[cfg(all(target_os = "linux", feature = "uring"))]
        fn uring_entry(&mut self) -> io_uring::squeue::Entry {
            OpCode::uring_entry(&mut crate::op::Nop::new())
        }
        fn readiness(&self) -> crate::op::Readiness {
            crate::op::Readiness::Now
        }
        fn perform(&mut self) -> io::Result<usize> {
            Ok(0)
        }
        fn complete(self: Box<Self>, _: io::Result<usize>) {}
        fn cleanup(self: Box<Self>, _: io::Result<usize>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn a_panicking_waker_leaves_every_other_waker_and_cleanup_to_run() {
        let table: SharedTable = Mutex::new(OpTable::default());
        let counter = Arc::new(Counting(AtomicUsize::new(0)));
        let cleaned = Arc::new(AtomicUsize::new(0));
        let counting = Waker::from(counter.clone());
        let panicking = Waker::from(Arc::new(Panicking));
        let mut keys = Vec::new();
        for waker in [&counting, &panicking, &counting, &panicking, &counting] {
            let op: BoxedOp = Box::new(Orphan(cleaned.clone()));
            keys.push(lock(&table).insert_waiting(op, Some(waker.clone())));
        }
        let orphan = lock(&table).insert_waiting(Box::new(Orphan(cleaned.clone())), None);
        let _ = lock(&table).cancel(orphan);
        keys.push(orphan);
        let mut dispatch = Dispatch::default();
        dispatch.store(&table, keys.iter().map(|&key| (key, Ok(0), None)));
        let panicked = panic::catch_unwind(AssertUnwindSafe(|| dispatch.run()));
        assert!(panicked.is_err(), "the first panic is resumed");
        assert_eq!(counter.0.load(SeqCst), 3, "every other waker ran");
        assert_eq!(cleaned.load(SeqCst), 1, "the orphan was cleaned up");
        assert_eq!(
            lock(&table).len(),
            5,
            "the five results wait for their futures"
        );
    }
}
