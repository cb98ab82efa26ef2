//! The io_uring back end (Linux, feature `uring`).
//!
//! One ring per driver. The submission queue is guarded by the op table's
//! lock: a submission takes its slot and queues its entry, straight from the
//! slot, in one critical section. The completion queue has a lock of its
//! own, held while entries are copied out. A thread blocked in
//! `io_uring_enter` holds neither. Cross-thread wake-ups arrive as the
//! completion of a read on an eventfd, armed in the ring at all times.
//!
//! Completions are taken out of the ring by the holder of the parker's turn
//! only, into a [`Dispatch`]; wakers and cleanups run after the turn is
//! left, so a waker may park, block on another thread parked here, or run a
//! nested `block_on`, and a panicking one leaves the turn free.

pub(crate) mod buf_ring;
mod file_table;
mod fixed_table;
mod link_timespecs;
mod slot_ranges;
pub(crate) mod probe;

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use file_table::FileTable;
use fixed_table::FixedTable;
use link_timespecs::LinkTimespecs;

use super::lifecycle::{Discard, OpKey, OpTable, Posted, Shot, StreamCancel};
use super::parker::{ParkTurn, Parker};
use super::pool::{BlockingPool, PoolCompletions, Unpark};
use super::deferral::Deferral;
use super::parker::HeldTurn;
use super::shared::{
    cancel_inherited, cancel_slot, lock, poll_inherited, poll_slot, remove_unstarted, submit_to_pool, Dispatch,
    PanicGuard, Resubmit, SharedTable,
};
use super::{is_batching, sealed, Backend, Builder, CompletionDriver};
use crate::op::{from_cqe_result, timed_out, OpCode, OpId, Readiness, Submission, Timeout};

/// `user_data` of the eventfd read that carries wake-ups.
const WAKE_DATA: u64 = u64::MAX;
/// `user_data` of cancel requests, whose own results are not needed.
const CANCEL_DATA: u64 = u64::MAX - 1;
/// Marks the `user_data` of the `LINK_TIMEOUT` entries that give
/// operations their deadline; the rest is their operation's key. Encoded
/// keys stay below it (generations below 2^31), and the markers above
/// (`WAKE_DATA`, `CANCEL_DATA`) are matched first. A timeout's own result
/// mostly says nothing its operation's does not (ETIME: it fired, and ended
/// the operation with ECANCELED; ECANCELED, ENOENT or 0: the operation
/// ended first), so it never completes a slot; see `stop_overdue` for the
/// one case where it matters.
const LINK_TIMEOUT_TAG: u64 = 1 << 63;
/// How long a dropped driver waits for the kernel to let go of cancelled
/// operations before it leaks their memory instead of freeing it.
const TEARDOWN_LIMIT: Duration = Duration::from_secs(10);
/// Largest submission queue the kernel accepts.
const MAX_ENTRIES: u32 = 32768;

/// The ring setup every driver and the probe use.
pub(crate) fn ring_builder() -> io_uring::Builder {
    IoUring::builder()
}

/// A driver's ring. Completions that need the submitting thread to finish
/// them (a receive that waited for data) are handed to that thread as task
/// work; by default the kernel interrupts the thread at once for it, with
/// an inter-processor interrupt when it runs on another core: costly under
/// load, and useless, since the thread runs the work anyway at its next
/// system call or wait. `COOP_TASKRUN` (Linux 5.19) makes the kernel do
/// just that; a sleeping thread is still woken for it. `TASKRUN_FLAG`
/// (5.19 too) marks the ring while such work waits, so a dispatch that has
/// nothing to submit enters the kernel only then. Older kernels refuse the
/// flags (EINVAL), and get the default.
fn build_ring(entries: u32) -> io::Result<IoUring> {
    match ring_builder().setup_coop_taskrun().setup_taskrun_flag().build(entries) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => ring_builder().build(entries),
        built => built,
    }
}

/// A driver on io_uring. Cheap to clone; all clones share one ring.
///
/// ```
/// use proactor::driver::{CompletionDriver, UringDriver};
/// use proactor::op::{Nop, Op};
/// use proactor::{Backend, Builder};
///
/// # fn main() -> std::io::Result<()> {
/// // Not every kernel (or sandbox) allows io_uring.
/// let Ok(driver) = UringDriver::new(&Builder::new()) else { return Ok(()) };
/// assert_eq!(driver.backend(), Backend::IoUring);
/// driver.block_on(Op::with_driver(Nop::new(), driver.clone()))?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UringDriver {
    shared: Arc<Shared>,
}

/// A handle to a [`UringDriver`] that does not keep it alive.
#[derive(Clone)]
#[allow(dead_code)] // used by the host integrations, which not every build or platform has
pub(crate) struct WeakUringDriver(std::sync::Weak<Shared>);

#[allow(dead_code)] // used by the host integrations, which not every build or platform has
impl WeakUringDriver {
    pub(crate) fn upgrade(&self) -> Option<UringDriver> {
        self.0.upgrade().map(|shared| UringDriver { shared })
    }
}

#[allow(dead_code)] // used by the host integrations, which not every build or platform has
impl UringDriver {
    /// A handle that does not keep the driver alive.
    pub(crate) fn downgrade(&self) -> WeakUringDriver {
        WeakUringDriver(Arc::downgrade(&self.shared))
    }

    /// How many handles keep the driver alive (clones of it, and of the
    /// [`Driver`](crate::Driver)s and operations that hold one).
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.shared)
    }
}

static_assertions::assert_impl_all!(UringDriver: Send, Sync, Clone);

struct EventfdWakeup {
    parker: Parker,
    eventfd: OwnedFd,
}

impl Unpark for EventfdWakeup {
    fn unpark(&self) {
        if self.parker.unpark() {
            let one = 1u64.to_ne_bytes();
            // SAFETY: writes 8 bytes from a live stack buffer to our eventfd.
            // A failure (counter saturated) means a wake-up is pending anyway.
            let _ = unsafe { libc::write(self.eventfd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        }
    }
}

/// The 8-byte buffer the eventfd read fills. Only the kernel writes it and
/// nobody reads it; it is freed only once the read has resolved.
struct WakeBuf(*mut u64);

// SAFETY: the pointer is never dereferenced by Rust code, only handed to the
// kernel, so sharing it between threads cannot race.
unsafe impl Send for WakeBuf {}
// SAFETY: as above.
unsafe impl Sync for WakeBuf {}

struct Shared {
    ring: IoUring,
    cq_lock: Mutex<()>,
    /// The op table; its lock also guards the submission queue.
    table: SharedTable,
    support: &'static probe::Support,
    wakeup: Arc<EventfdWakeup>,
    wake_buf: WakeBuf,
    wake_armed: AtomicBool,
    closing: AtomicBool,
    deferral: Deferral,
    pool: BlockingPool,
    pool_done: Arc<PoolCompletions>,
    /// The `LINK_TIMEOUT` timespecs the kernel may not have read yet.
    /// Locked only with the table's lock held.
    link_timespecs: Mutex<LinkTimespecs>,
    /// How many entries were ever pushed; written only with the table's
    /// lock held (see `LinkTimespecs`).
    pushed_entries: AtomicU64,
    /// The process's fork count when the driver was made (see `fork`).
    generation: u64,
    /// The ring's registered buffers. Its lock is taken alone: never with
    /// another of the driver's.
    fixed: Mutex<FixedTable>,
    /// The ring's registered files; its lock too is taken alone.
    files: Mutex<FileTable>,
}

impl fmt::Debug for UringDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UringDriver")
            .field("sq_entries", &self.shared.ring.params().sq_entries())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl UringDriver {
    /// A driver with its own ring, sized by `builder` (the back-end choice in
    /// `builder` is ignored: this is io_uring or an error).
    ///
    /// ```
    /// use proactor::driver::{CompletionDriver, UringDriver};
    /// use proactor::{Backend, Builder};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let builder = Builder::new().force(Backend::Poll).entries(64);
    /// match UringDriver::new(&builder) { // `force` is ignored
    ///     Ok(driver) => assert_eq!(driver.backend(), Backend::IoUring),
    ///     Err(e) => println!("no io_uring here: {e}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn new(builder: &Builder) -> io::Result<UringDriver> {
        let support = probe::probe().map_err(|reason| reason.into_error())?;
        let entries = builder.entries.clamp(2, MAX_ENTRIES);
        let ring = build_ring(entries)?;
        // SAFETY: plain syscall; the result is checked before use.
        let eventfd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if eventfd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: eventfd returned a new fd that nobody else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(eventfd) };
        let wakeup = Arc::new(EventfdWakeup {
            parker: Parker::default(),
            eventfd,
        });
        let shared = Arc::new(Shared {
            ring,
            cq_lock: Mutex::new(()),
            table: Mutex::new(OpTable::default()),
            support,
            pool_done: PoolCompletions::new(wakeup.clone()),
            generation: super::fork::generation(),
            wakeup,
            wake_buf: WakeBuf(Box::into_raw(Box::new(0u64))),
            wake_armed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            deferral: Deferral::default(),
            pool: BlockingPool::new(builder.blocking_threads),
            link_timespecs: Mutex::default(),
            pushed_entries: AtomicU64::new(0),
            fixed: Mutex::default(),
            files: Mutex::default(),
        });
        // Nobody else can see the driver yet: this thread is the holder, and
        // no operation exists whose completion could need dispatching.
        let mut dispatch = Dispatch::default();
        shared.arm_wake(&mut dispatch)?;
        shared.submit_pending(Some(&mut dispatch))?;
        dispatch.run();
        Ok(UringDriver { shared })
    }

    /// Runs `fut` to completion on this thread; see [`Driver::block_on`](crate::Driver::block_on).
    ///
    /// ```
    /// use proactor::driver::UringDriver;
    /// use proactor::op::{Nop, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let Ok(driver) = UringDriver::new(&proactor::Builder::new()) else { return Ok(()) };
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

impl Shared {
    /// Whether this is a forked child's copy of the driver (see `fork`).
    fn inherited(&self) -> bool {
        super::fork::is_inherited(self.generation)
    }

    fn identity(&self) -> usize {
        self as *const Shared as usize
    }

    /// Copies `entry` into the submission queue, making room as needed.
    /// `turn`: see [`Shared::submit_pending`].
    ///
    /// # Safety
    ///
    /// Every pointer in `entry` must stay valid until its completion is
    /// reaped.
    unsafe fn push(&self, entry: &squeue::Entry, turn: Option<&mut Dispatch>) -> io::Result<()> {
        // SAFETY: the caller's guarantee.
        unsafe { self.push_all(std::slice::from_ref(entry), None, turn) }
    }

    /// Copies `entries` into the submission queue, all of them together or
    /// none (a linked pair must not be split by another thread's entry, nor
    /// half queued), making room as needed. `timespec`: what the entries
    /// point to that the kernel reads when it takes them from the queue;
    /// kept until then (see `link_timespecs`). `turn`: see
    /// [`Shared::submit_pending`].
    ///
    /// # Safety
    ///
    /// Every pointer in `entries` must stay valid until their completions
    /// are reaped, those into `timespec` excepted.
    unsafe fn push_all(
        &self,
        entries: &[squeue::Entry],
        mut timespec: Option<Box<types::Timespec>>,
        mut turn: Option<&mut Dispatch>,
    ) -> io::Result<()> {
        loop {
            let table = lock(&self.table);
            // SAFETY: the table's lock is held; the entries' pointers are
            // the caller's guarantee, or into `timespec`, kept below.
            if unsafe { self.try_push_all(entries, &mut timespec) } {
                return Ok(());
            }
            // Full: hand what is queued to the kernel (which may reap, and
            // so needs the table), then try again.
            drop(table);
            self.submit_pending(turn.as_deref_mut())?;
        }
    }

    /// Copies `entry` into the submission queue if it has room.
    ///
    /// # Safety
    ///
    /// The caller holds the table's lock, which guards the queue, and every
    /// pointer in `entry` stays valid until its completion is reaped.
    unsafe fn try_push(&self, entry: &squeue::Entry) -> bool {
        // SAFETY: the caller's guarantees.
        unsafe { self.try_push_all(std::slice::from_ref(entry), &mut None) }
    }

    /// Copies `entries` into the submission queue if it has room for all of
    /// them; then `timespec` is kept until the kernel has taken them.
    ///
    /// # Safety
    ///
    /// The caller holds the table's lock, which guards the queue, and every
    /// pointer in `entries` stays valid until its completion is reaped,
    /// those into `timespec` excepted.
    unsafe fn try_push_all(&self, entries: &[squeue::Entry], timespec: &mut Option<Box<types::Timespec>>) -> bool {
        // SAFETY: the caller holds the table's lock, which serialises every
        // use of the submission queue.
        let mut sq = unsafe { self.ring.submission_shared() };
        let waiting = sq.len() as u64;
        // SAFETY: the caller guarantees the entries' pointers outlive their
        // completions; those into `timespec` are kept below until the
        // kernel took the entries, which is when it reads them.
        let pushed = unsafe { sq.push_multiple(entries) }.is_ok();
        // Dropped (it stores the queue's tail back) before the lock, as in
        // `queue_state`.
        drop(sq);
        if !pushed {
            return false;
        }
        // Written only under the table's lock, which is held: a load and a
        // store, no read-modify-write.
        let before = self.pushed_entries.load(Ordering::Relaxed);
        let end = before + entries.len() as u64;
        self.pushed_entries.store(end, Ordering::Relaxed);
        if let Some(timespec) = timespec.take() {
            // Of the entries pushed before these, all but those still
            // waiting in the queue were taken by the kernel.
            lock(&self.link_timespecs).keep(timespec, end, before.saturating_sub(waiting));
        }
        true
    }

    /// `entry` with a deadline `timeout` from now: the entry, linked to a
    /// `LINK_TIMEOUT` entry that follows it, and the timespec that one
    /// points to (see [`Shared::push_all`]).
    fn linked_timeout(entry: &squeue::Entry, key: OpKey, timeout: Duration) -> ([squeue::Entry; 2], Box<types::Timespec>) {
        let timespec = Box::new(types::Timespec::from(timeout));
        let link = opcode::LinkTimeout::new(&*timespec)
            .build()
            .user_data(LINK_TIMEOUT_TAG | key.encode());
        ([entry.clone().flags(squeue::Flags::IO_LINK), link], timespec)
    }

    /// Submits queued entries unless this thread batches them until its
    /// park, or an outside event loop's flush task submits them at the end
    /// of its tick. It does not batch when another thread waits in the
    /// kernel, or an outside event loop on the notification fd: this thread
    /// may block elsewhere before it parks (a nested executor), and the
    /// waiting thread or loop would not see the entries until it wakes
    /// (queued entries do not make the ring's fd readable).
    fn submit_unless_batching(&self) {
        let parker = &self.wakeup.parker;
        let batched = is_batching(self.identity()) && !parker.in_kernel() && !parker.is_watched();
        if !batched && !self.deferral.defer() {
            // The entries are queued and count as in flight whatever this
            // returns: a failed submit is retried at the next park.
            let _ = self.submit_pending(None);
        }
    }

    /// Hands every queued entry to the kernel. EINTR is retried; EBUSY and
    /// EAGAIN (completion queue or kernel memory full) reap completions,
    /// which also flushes an overflowed completion queue, and retry.
    /// `turn`: `Some` if this thread holds the parker's turn, so it may reap,
    /// into that dispatch (run by the holder once it leaves the turn);
    /// `None`: it reaps only if it can take the turn, and else leaves that
    /// to the holder.
    fn submit_pending(&self, mut turn: Option<&mut Dispatch>) -> io::Result<()> {
        let mut attempts = 0u32;
        loop {
            #[cfg(proactor_fault)]
            let submitted = match crate::fault::submit_error() {
                Some(errno) => Err(io::Error::from_raw_os_error(errno)),
                None => self.ring.submitter().submit(),
            };
            #[cfg(not(proactor_fault))]
            let submitted = self.ring.submitter().submit();
            match submitted {
                Ok(_) => return Ok(()),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EBUSY) | Some(libc::EAGAIN) => {
                        if let Some(dispatch) = turn.as_deref_mut() {
                            self.reap(dispatch);
                        } else if let Some(held) = HeldTurn::try_take(&self.wakeup.parker) {
                            let mut dispatch = Dispatch::default();
                            self.reap(&mut dispatch);
                            drop(held);
                            // Other futures' wakers, run inside whatever
                            // submits (a poll, a drop): detached.
                            dispatch.run_detached();
                        }
                        attempts += 1;
                        if attempts > 64 {
                            std::thread::sleep(Duration::from_millis(1));
                        } else {
                            std::thread::yield_now();
                        }
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    /// Whether a dispatch must submit and reap again: completions
    /// overflowed the completion queue and wait in the kernel for a submit
    /// to let them in, or entries (the re-armed eventfd read, or another
    /// thread's) wait in the submission queue.
    fn needs_another_round(&self) -> bool {
        let (overflowed, unsubmitted) = self.queue_state();
        overflowed || unsubmitted
    }

    /// Whether entries wait in the submission queue.
    fn has_unsubmitted(&self) -> bool {
        self.queue_state().1
    }

    /// Whether a dispatch must enter the kernel: to submit, to let
    /// overflowed completions in, or to run task work that finishes
    /// completions for this thread (flagged with `COOP_TASKRUN`'s
    /// `TASKRUN_FLAG`; without it, the kernel interrupts the thread for
    /// that work itself).
    fn needs_enter(&self) -> bool {
        let _table = lock(&self.table);
        // SAFETY: the table's lock serialises every use of the submission
        // queue.
        let sq = unsafe { self.ring.submission_shared() };
        let needed = !sq.is_empty() || sq.cq_overflow() || sq.taskrun();
        // Dropped before the lock, as in `queue_state`.
        drop(sq);
        needed
    }

    /// (completions overflowed, entries wait in the submission queue).
    fn queue_state(&self) -> (bool, bool) {
        let _table = lock(&self.table);
        // SAFETY: the table's lock serialises every use of the submission
        // queue.
        let sq = unsafe { self.ring.submission_shared() };
        let state = (sq.cq_overflow(), !sq.is_empty());
        // Dropped (it stores the queue's tail back) before the lock: as a
        // temporary of the tail expression it would outlive the guard and
        // could undo another thread's push.
        drop(sq);
        state
    }

    /// Makes sure the eventfd read that carries wake-ups is in the ring. Only
    /// the turn holder (or teardown) arms it.
    fn arm_wake(&self, dispatch: &mut Dispatch) -> io::Result<()> {
        if self.closing.load(Ordering::Acquire) || self.wake_armed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let entry = opcode::Read::new(
            types::Fd(self.wakeup.eventfd.as_raw_fd()),
            self.wake_buf.0.cast::<u8>(),
            8,
        )
        .offset(u64::MAX)
        .build()
        .user_data(WAKE_DATA);
        // SAFETY: wake_buf lives until the read resolves (see Drop).
        let pushed = unsafe { self.push(&entry, Some(dispatch)) };
        if pushed.is_err() {
            self.wake_armed.store(false, Ordering::Release);
        }
        pushed
    }

    /// Moves every available completion into the op table; the wakers and
    /// cleanups they release go to `dispatch`. Only the holder of the
    /// parker's turn (or teardown, when no other thread is left) calls
    /// this: see the parker's docs for why.
    fn reap(&self, dispatch: &mut Dispatch) {
        const BATCH: usize = 256;
        loop {
            // On the stack, so a park reaps without allocating, and not
            // initialised: zeroing 4 KiB would cost a one-op reap more than
            // the rest of it.
            let mut entries = [MaybeUninit::<(u64, i32, u32)>::uninit(); BATCH];
            let reaped = {
                let _cq = lock(&self.cq_lock);
                // SAFETY: cq_lock serialises every use of the completion queue.
                let mut cq = unsafe { self.ring.completion_shared() };
                entries
                    .iter_mut()
                    .zip(&mut cq)
                    .map(|(entry, cqe)| entry.write((cqe.user_data(), cqe.result(), cqe.flags())))
                    .count()
            };
            // SAFETY: the first `reaped` entries were written just above, and
            // `MaybeUninit<T>` has the layout of `T`.
            let batch: &[(u64, i32, u32)] =
                unsafe { std::slice::from_raw_parts(entries.as_ptr().cast(), reaped) };
            if batch.is_empty() {
                return;
            }
            let mut rearm = false;
            let mut cancelled = Vec::new();
            let mut overdue = Vec::new();
            let results = batch.iter().filter_map(|&(user_data, result, flags)| match user_data {
                WAKE_DATA => {
                    self.wake_armed.store(false, Ordering::Release);
                    // A failed read (other than an interruption, or the exit
                    // of the thread that submitted it) would fail again at
                    // once; parks then rely on their own timeouts.
                    rearm = result >= 0 || matches!(-result, libc::EINTR | libc::EAGAIN | libc::ECANCELED);
                    None
                }
                CANCEL_DATA => None,
                _ if user_data & LINK_TIMEOUT_TAG != 0 => {
                    if result == -libc::ECANCELED && !self.closing.load(Ordering::Acquire) {
                        overdue.extend(OpKey::decode(user_data & !LINK_TIMEOUT_TAG));
                    }
                    None
                }
                _ => {
                    let key = OpKey::decode(user_data)?;
                    // A multishot operation's result, more to come.
                    let more = cqueue::more(flags);
                    if !more && result == -libc::ECANCELED && !self.closing.load(Ordering::Acquire) {
                        // Cancelled by the driver, by its linked timeout,
                        // or by the kernel because the submitting thread
                        // exited: told apart below.
                        cancelled.push(key);
                        return None;
                    }
                    let posted = Posted {
                        result: from_cqe_result(result),
                        buffer: cqueue::buffer_select(flags),
                    };
                    Some((key, posted, more))
                }
            });
            dispatch.store_posted(&self.table, results);
            // Streams whose queues filled: the kernel stops them until
            // their streams took what is queued (and make them again).
            for key in dispatch.take_throttled() {
                self.cancel_in_kernel(OpId(key), Some(dispatch));
            }
            if !cancelled.is_empty() {
                self.resubmit_or_store(cancelled, dispatch);
            }
            if !overdue.is_empty() {
                self.stop_overdue(overdue, dispatch);
            }
            if rearm {
                let _ = self.arm_wake(dispatch);
            }
            if batch.len() < BATCH {
                return;
            }
        }
    }

    /// Operations that ended with ECANCELED. Those the driver cancelled
    /// (their futures are gone) take the result. Those with a deadline
    /// that has passed were ended by their linked timeout: they time out
    /// (the timeout's clock starts no earlier than the deadline's, so it
    /// cannot fire before it). The others were ended by the kernel, not by
    /// anyone who wanted them ended (io_uring does so when the thread that
    /// submitted a request exits first, and that request had not run), so
    /// they go to the kernel again, from this thread, with the very entry
    /// it first got, and what is left of their deadline.
    fn resubmit_or_store(&self, cancelled: Vec<OpKey>, dispatch: &mut Dispatch) {
        let mut again = Vec::new();
        let mut results = Vec::new();
        {
            let mut table = lock(&self.table);
            let now = Instant::now();
            for key in cancelled {
                match table.resubmission(key) {
                    Some(Resubmit {
                        entry: Some(entry),
                        deadline,
                    }) => match deadline {
                        None => again.push((key, entry.clone(), None)),
                        Some(deadline) if *deadline <= now => results.push((key, Err(timed_out()), None)),
                        Some(deadline) => again.push((key, entry.clone(), Some(*deadline - now))),
                    },
                    _ => results.push((key, Err(io::Error::from_raw_os_error(libc::ECANCELED)), None)),
                }
            }
        }
        dispatch.store(&self.table, results);
        for (key, entry, timeout) in again {
            // SAFETY: the slot is in flight with its data (checked above),
            // and only its completion, which has not come yet, frees it: the
            // op the entry points into stays boxed and unmoved until then.
            // The timeout's timespec is kept by `push_all`.
            let pushed = unsafe {
                match timeout {
                    None => self.push(&entry, Some(dispatch)),
                    Some(timeout) => {
                        let (pair, timespec) = Self::linked_timeout(&entry, key, timeout);
                        self.push_all(&pair, Some(timespec), Some(dispatch))
                    }
                }
            };
            if let Err(error) = pushed {
                dispatch.store(&self.table, [(key, Err(error), None)]);
                continue;
            }
            // Dropped meanwhile: its cancel found nothing in the kernel.
            if lock(&self.table).resubmission(key).is_none() {
                self.cancel_in_kernel(OpId(key), Some(dispatch));
            }
        }
    }

    /// Operations whose linked timeout ended with ECANCELED. Mostly their
    /// operation ended first; but a timeout that fires after the thread
    /// that submitted the pair exited ends itself that way and leaves its
    /// operation running (the kernel runs no cancellation on behalf of an
    /// exited task). Such an operation, still in flight past its deadline,
    /// is cancelled here, and then times out (see `resubmit_or_store`).
    fn stop_overdue(&self, overdue: Vec<OpKey>, dispatch: &mut Dispatch) {
        let now = Instant::now();
        let stop: Vec<OpKey> = {
            let mut table = lock(&self.table);
            overdue
                .into_iter()
                .filter(|&key| {
                    table
                        .resubmission(key)
                        .and_then(|resubmit| resubmit.deadline)
                        .is_some_and(|deadline| deadline <= now)
                })
                .collect()
        };
        for key in stop {
            self.cancel_in_kernel(OpId(key), Some(dispatch));
        }
    }

    /// Blocks until completions arrive, then wakes their futures once the
    /// turn is left. A panicking waker is resumed here, after every other
    /// waker ran and the driver is consistent.
    fn park(&self, timeout: Option<Duration>, still_idle: &dyn Fn() -> bool) -> io::Result<()> {
        if self.inherited() {
            return Err(super::fork::inherited_error());
        }
        let flush = || {
            let _ = self.submit_pending(None);
        };
        let parker = &self.wakeup.parker;
        let mut dispatch = Dispatch::default();
        let result = match parker.park(timeout, still_idle, &flush) {
            ParkTurn::Kernel(timeout) => {
                let held = HeldTurn::taken(parker);
                let waited = self
                    .arm_wake(&mut dispatch)
                    .and_then(|()| self.enter_and_wait(timeout, &mut dispatch));
                parker.left_kernel();
                self.reap(&mut dispatch);
                if parker.is_watched() && self.has_unsubmitted() {
                    // The eventfd read, re-armed by the reap: an outside
                    // loop learns of wake-ups only through it.
                    let _ = self.submit_pending(Some(&mut dispatch));
                }
                drop(held);
                waited
            }
            ParkTurn::Poll => {
                let held = HeldTurn::taken(parker);
                // Drains: completions that overflowed the queue are let in
                // by each submit, a queue at a time. An outside loop that
                // watches the ring's fd with edge triggering gets no new
                // edge for those left behind. Nor would it hear of wake-ups
                // (pool jobs, `unpark`) if the eventfd read the reap re-arms
                // stayed unsubmitted.
                let submitted = loop {
                    // Completions are read from shared memory: the kernel
                    // is entered only when it has something to do.
                    let submitted = if self.needs_enter() {
                        self.submit_pending(Some(&mut dispatch))
                    } else {
                        Ok(())
                    };
                    self.reap(&mut dispatch);
                    if submitted.is_err() || !self.needs_another_round() {
                        break submitted;
                    }
                };
                drop(held);
                submitted
            }
            ParkTurn::Return => Ok(()),
        };
        dispatch.collect_pool(&self.table, &self.pool_done);
        dispatch.run();
        result
    }

    /// Submits queued entries and blocks until a completion arrives or
    /// `timeout` passes. No lock is held meanwhile. The caller holds the
    /// turn; `dispatch` takes what reaping to make room releases.
    fn enter_and_wait(&self, timeout: Option<Duration>, dispatch: &mut Dispatch) -> io::Result<()> {
        let submitter = self.ring.submitter();
        #[cfg(proactor_fault)]
        let has_ext_arg = self.ring.params().is_feature_ext_arg() && !crate::fault::is_ext_arg_hidden();
        #[cfg(not(proactor_fault))]
        let has_ext_arg = self.ring.params().is_feature_ext_arg();
        #[cfg(proactor_fault)]
        if let Some(errno) = crate::fault::submit_error() {
            // As if the wait was interrupted before it began.
            let _ = errno;
            return Ok(());
        }
        let result = match timeout {
            None => submitter.submit_and_wait(1),
            Some(timeout) if has_ext_arg => {
                let timespec = types::Timespec::from(timeout);
                let args = types::SubmitArgs::new().timespec(&timespec);
                submitter.submit_with_args(1, &args)
            }
            Some(timeout) => {
                // Kernels before 5.11 cannot time out the wait itself: a
                // timeout operation ends it instead. Nobody takes its result
                // (marked cancelled at once); if the wait ends first, it is
                // cancelled in the kernel too, or parks woken early would
                // pile long timeouts up in the ring.
                let timer = self.submit_op_holding(Box::new(Timeout::new(timeout)), None, None, Some(&mut *dispatch));
                let timer = match timer {
                    Submission::InFlight(id) => {
                        // Only marked: the kernel's copy is cancelled
                        // once the wait is over.
                        cancel_slot(&self.table, id, || {});
                        Some(id)
                    }
                    Submission::Done(..) => None,
                };
                let waited = submitter.submit_and_wait(1);
                if let Some(id) = timer {
                    self.cancel_in_kernel(id, Some(dispatch));
                }
                waited
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn submit_op<O: OpCode>(&self, op: Box<O>, waker: &Waker, timeout: Option<Duration>) -> Submission<O> {
        self.submit_op_holding(op, Some(waker), timeout, None)
    }

    /// `submit_op` by a thread that may hold the parker's turn (`turn`: see
    /// [`Shared::submit_pending`]). `timeout`: the operation's deadline
    /// from now, if it has one (see `Op::with_timeout`).
    fn submit_op_holding<O: OpCode>(
        &self,
        op: Box<O>,
        waker: Option<&Waker>,
        timeout: Option<Duration>,
        mut turn: Option<&mut Dispatch>,
    ) -> Submission<O> {
        if self.inherited() {
            return Submission::Done(Err(super::fork::inherited_error()), op);
        }
        if let Err(error) = super::check_bound(&*op, self.identity()) {
            return Submission::Done(Err(error), op);
        }
        if !self.support.has(O::URING_OPCODE) {
            return submit_to_pool(&self.table, &self.pool, &self.pool_done, op, waker);
        }
        // What the readiness back end runs on its pool cannot be stopped
        // there: no deadline applies to it here either, so both back ends
        // agree. A deadline beyond the clock's range is none.
        let deadline = timeout
            .filter(|_| op.readiness() != Readiness::Blocking)
            .and_then(|timeout| Some((timeout, Instant::now().checked_add(timeout)?)));
        // Cloned before the lock: a waker's clone is user code.
        let waker = waker.cloned();
        let (key, queue_full) = {
            let mut table = lock(&self.table);
            let (key, prepared) = table.insert_prepared(op, waker, |op, key| Resubmit {
                entry: Some(op.uring_entry().user_data(key.encode())),
                deadline: deadline.map(|(_, at)| at),
            });
            let entry = prepared.entry.as_ref().expect("prepared just now");
            match deadline {
                None => {
                    // SAFETY: the table's lock is held; the entry points
                    // into the op, which its slot keeps boxed and unmoved
                    // until the completion is reaped (OpCode contract).
                    let queued = unsafe { self.try_push(entry) };
                    (key, (!queued).then(|| (entry.clone(), None)))
                }
                Some((timeout, _)) => {
                    let (pair, timespec) = Self::linked_timeout(entry, key, timeout);
                    let mut timespec = Some(timespec);
                    // SAFETY: as above for the operation's entry; the
                    // timeout's points into `timespec`, which is kept until
                    // the kernel took it.
                    let queued = unsafe { self.try_push_all(&pair, &mut timespec) };
                    (key, (!queued).then(|| (entry.clone(), Some(timeout))))
                }
            }
        };
        let pushed = match queue_full {
            None => Ok(()),
            // SAFETY: as above.
            Some((entry, None)) => unsafe { self.push(&entry, turn.as_deref_mut()) },
            Some((entry, Some(timeout))) => {
                let (pair, timespec) = Self::linked_timeout(&entry, key, timeout);
                // SAFETY: as above.
                unsafe { self.push_all(&pair, Some(timespec), turn.as_deref_mut()) }
            }
        };
        match pushed {
            Ok(()) => {
                // The turn holder submits on its way into the kernel.
                if turn.is_none() {
                    self.submit_unless_batching();
                }
                Submission::InFlight(OpId(key))
            }
            Err(error) => {
                // Never pushed: the kernel has not seen it, so it can go.
                let mut op = crate::op::downcast::<O>(remove_unstarted(&self.table, key));
                op.uring_entry_not_pushed();
                Submission::Done(Err(error), op)
            }
        }
    }

    fn cancel(&self, id: OpId) {
        if self.inherited() {
            return cancel_inherited(&self.table, id);
        }
        cancel_slot(&self.table, id, || self.cancel_in_kernel(id, None));
    }

    /// Asks the kernel to stop a multishot operation whose stream is gone,
    /// submitting at once even on a batching thread: until the kernel has
    /// the request the operation goes on taking what arrives (received
    /// bytes, connections), which nobody will see. Once submitted, it
    /// takes nothing more.
    fn cancel_now(&self, id: OpId) {
        let entry = opcode::AsyncCancel::new(id.0.encode()).build().user_data(CANCEL_DATA);
        // SAFETY: a cancel entry carries no pointers.
        if unsafe { self.push(&entry, None) }.is_ok() {
            // A failed submit leaves the entry queued for the next park.
            let _ = self.submit_pending(None);
        }
    }

    /// Asks the kernel to end `id`, whose slot is already marked cancelled.
    fn cancel_in_kernel(&self, id: OpId, turn: Option<&mut Dispatch>) {
        let holding = turn.is_some();
        let entry = opcode::AsyncCancel::new(id.0.encode()).build().user_data(CANCEL_DATA);
        // SAFETY: a cancel entry carries no pointers.
        if unsafe { self.push(&entry, turn) }.is_ok() && !holding {
            self.submit_unless_batching();
        }
    }
}

/// What polling a multishot operation found.
pub(crate) enum ShotPoll {
    /// Its next result.
    Next(Posted),
    /// It ended and every result was taken: the operation, back.
    Ended(Option<crate::op::BoxedOp>),
}

impl Shared {
    /// Submits a multishot operation: its results queue in its slot for
    /// [`Shared::poll_shot`] until the kernel posts its last; those that
    /// come after its stream is gone are released with `discard`; with
    /// `coalesce`, results are event masks, merged while they wait. If it
    /// cannot be submitted, the operation comes back with the error.
    fn submit_stream<O: OpCode>(&self, op: Box<O>, waker: &Waker, discard: Discard, coalesce: bool) -> Result<OpId, (io::Error, Box<O>)> {
        if self.inherited() {
            return Err((super::fork::inherited_error(), op));
        }
        if let Err(error) = super::check_bound(&*op, self.identity()) {
            return Err((error, op));
        }
        // Cloned before the lock: a waker's clone is user code.
        let waker = waker.clone();
        let (key, queue_full) = {
            let mut table = lock(&self.table);
            let (key, prepared) = table.insert_stream_prepared(op, Some(waker), discard, coalesce, |op, key| Resubmit {
                entry: Some(op.uring_entry().user_data(key.encode())),
                deadline: None,
            });
            let entry = prepared.entry.as_ref().expect("prepared just now");
            // SAFETY: the table's lock is held; the entry points into the
            // op, which its slot keeps boxed and unmoved until the last
            // completion is reaped (OpCode contract).
            let queued = unsafe { self.try_push(entry) };
            (key, (!queued).then(|| entry.clone()))
        };
        if let Some(entry) = queue_full {
            // SAFETY: as above.
            if let Err(error) = unsafe { self.push(&entry, None) } {
                // Never pushed: the kernel has not seen it.
                let op = crate::op::downcast::<O>(remove_unstarted(&self.table, key));
                return Err((error, op));
            }
        }
        self.submit_unless_batching();
        Ok(OpId(key))
    }

    /// The next result of a multishot operation, or its end: then its slot
    /// is free, and the operation comes back (`None` only if no such
    /// operation is held: a forked child's copy, whose operation the child
    /// drops).
    fn poll_shot(&self, id: OpId, cx: &mut Context<'_>) -> Poll<ShotPoll> {
        if self.inherited() {
            let (_op, _waker) = lock(&self.table).take_inherited(id.0);
            return Poll::Ready(ShotPoll::Ended(None));
        }
        let mut fresh = None;
        loop {
            let mut displaced = None;
            let polled = lock(&self.table).poll_shot(id.0, cx.waker(), &mut fresh, &mut displaced);
            drop(displaced);
            match polled {
                Shot::Next(result) => return Poll::Ready(ShotPoll::Next(result)),
                Shot::Ended(op) => return Poll::Ready(ShotPoll::Ended(Some(op))),
                Shot::Unknown => return Poll::Ready(ShotPoll::Ended(None)),
                Shot::Pending => return Poll::Pending,
                Shot::NeedsWaker => fresh = Some(cx.waker().clone()),
            }
        }
    }

    /// The stream of a multishot operation is gone: the kernel is asked to
    /// end it, and what it queued is released.
    fn cancel_stream(&self, id: OpId) {
        if self.inherited() {
            let (_op, _waker) = lock(&self.table).take_inherited(id.0);
            return;
        }
        let outcome = lock(&self.table).cancel_stream(id.0);
        match outcome {
            StreamCancel::InFlight {
                waker,
                leftovers,
                discard,
            } => {
                self.cancel_now(id);
                // A release may run user code (a pool's waiters): one that
                // panics must not keep the rest from being released.
                let mut guard = PanicGuard::default();
                for posted in leftovers {
                    guard.run(|| discard.run(posted));
                }
                // Last: its drop is user code.
                guard.run(|| drop(waker));
                guard.resume();
            }
            StreamCancel::Finished {
                leftovers,
                discard,
                data,
            } => {
                let mut guard = PanicGuard::default();
                for posted in leftovers {
                    guard.run(|| discard.run(posted));
                }
                guard.run(|| drop(data));
                guard.resume();
            }
            StreamCancel::Unknown => {}
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::Release);
        if self.inherited() {
            // A forked child's copy: the queues are the parent's. What the
            // copy holds is the child's own memory, which the kernel never
            // touches: freed without a word to the ring.
            drop(lock(&self.table).drain());
            // SAFETY: the child's copy of the buffer; the kernel only ever
            // writes the parent's.
            drop(unsafe { Box::from_raw(self.wake_buf.0) });
            return;
        }
        let to_cancel: Vec<OpKey> = {
            let mut table = lock(&self.table);
            table
                .in_flight_keys()
                .into_iter()
                .filter(|&key| !table.is_lent(key))
                .collect()
        };
        let mut cancels: Vec<u64> = to_cancel.iter().map(|key| key.encode()).collect();
        if self.wake_armed.load(Ordering::Acquire) {
            cancels.push(WAKE_DATA);
        }
        // Teardown runs on the last thread that holds the driver: it is the
        // turn holder. What it releases is cleaned up as it goes.
        let mut dispatch = Dispatch::default();
        for user_data in cancels {
            let entry = opcode::AsyncCancel::new(user_data).build().user_data(CANCEL_DATA);
            // SAFETY: a cancel entry carries no pointers.
            let _ = unsafe { self.push(&entry, Some(&mut dispatch)) };
        }
        // Dropped inside one of its own pool jobs: that job comes back only
        // after this returns, so it is not waited for.
        if let Some(key) = super::pool::job_running_here(&self.pool_done) {
            lock(&self.table).abandon_lent(key);
        }
        let deadline = Instant::now() + TEARDOWN_LIMIT;
        loop {
            self.reap(&mut dispatch);
            dispatch.collect_pool(&self.table, &self.pool_done);
            std::mem::take(&mut dispatch).run_detached();
            let settled = lock(&self.table).is_empty() && !self.wake_armed.load(Ordering::Acquire);
            if settled {
                // SAFETY: the eventfd read resolved, so the kernel no longer
                // refers to the buffer; it came from Box::into_raw.
                drop(unsafe { Box::from_raw(self.wake_buf.0) });
                return;
            }
            if Instant::now() >= deadline {
                // The kernel may still write into what these slots own:
                // leak it rather than free it.
                std::mem::forget(lock(&self.table).drain());
                return;
            }
            let timespec = types::Timespec::from(Duration::from_millis(10));
            let waited = if self.ring.params().is_feature_ext_arg() {
                let args = types::SubmitArgs::new().timespec(&timespec);
                self.ring.submitter().submit_with_args(1, &args).map(drop)
            } else {
                let submitted = self.ring.submitter().submit().map(drop);
                std::thread::sleep(Duration::from_millis(1));
                submitted
            };
            if waited.is_err_and(|e| !matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN))) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

impl UringDriver {
    /// Whether this is a forked child's copy of its parent's driver.
    pub(crate) fn is_inherited(&self) -> bool {
        self.shared.inherited()
    }

    /// Whether the kernel accepts connections with one multishot request.
    pub(crate) fn has_multishot_accept(&self) -> bool {
        self.shared.support.has_multishot_accept()
    }

    /// See [`Shared::submit_stream`].
    pub(crate) fn submit_stream<O: OpCode>(
        &self,
        op: Box<O>,
        waker: &Waker,
        discard: Discard,
    ) -> Result<OpId, (io::Error, Box<O>)> {
        self.shared.submit_stream(op, waker, discard, false)
    }

    /// [`submit_stream`](Self::submit_stream) for a multishot poll: its
    /// results are event masks, and one that comes while another waits
    /// untaken is merged into it, so a stream nobody polls holds one.
    pub(crate) fn submit_poll_stream<O: OpCode>(&self, op: Box<O>, waker: &Waker) -> Result<OpId, (io::Error, Box<O>)> {
        self.shared.submit_stream(op, waker, Discard::new(drop), true)
    }

    /// Whether poll takes `IORING_POLL_ADD_MULTI` (Linux 5.13). No opcode
    /// came with 5.13; `IORING_OP_UNLINKAT` (5.11) is the proxy fault
    /// injection can hide, and a 5.11 or 5.12 kernel refuses the flag with
    /// EINVAL, which the caller takes as "one-shot from now on".
    pub(crate) fn has_multishot_poll(&self) -> bool {
        self.shared.support.has(opcode::UnlinkAt::CODE)
    }

    /// See [`Shared::poll_shot`].
    pub(crate) fn poll_shot(&self, id: OpId, cx: &mut Context<'_>) -> Poll<ShotPoll> {
        self.shared.poll_shot(id, cx)
    }

    /// Whether the kernel has zero-copy send (`IORING_OP_SEND_ZC`, 6.0).
    pub(crate) fn has_send_zc(&self) -> bool {
        self.shared.support.has(opcode::SendZc::CODE)
    }

    /// See [`Shared::cancel_stream`].
    pub(crate) fn cancel_stream(&self, id: OpId) {
        self.shared.cancel_stream(id)
    }

    /// Whether the kernel takes provided-buffer rings (Linux 5.19). No
    /// probe lists register calls; `IORING_OP_SOCKET` came with the same
    /// release (and fault injection can hide it).
    pub(crate) fn has_buf_rings(&self) -> bool {
        self.shared.support.has_multishot_accept()
    }

    /// Whether receive takes `IORING_RECV_MULTISHOT` (Linux 6.0), told by
    /// `IORING_OP_SEND_ZC`, of the same release.
    pub(crate) fn has_multishot_recv(&self) -> bool {
        self.has_send_zc()
    }

    /// Registers a provided-buffer ring (`IORING_REGISTER_PBUF_RING`).
    ///
    /// # Safety
    ///
    /// `ring_addr` must point to `entries` ring entries, page-aligned, that
    /// stay mapped until the group is unregistered or the ring is gone, and
    /// every buffer they name must stay valid while the kernel may pick it.
    pub(crate) unsafe fn register_buf_ring(&self, ring_addr: u64, entries: u16, group: u16) -> io::Result<()> {
        // A forked child's copy shares its parent's ring: a group there
        // would name the child's memory under an id the parent hands out
        // too, and the child never unregisters it.
        if self.shared.inherited() {
            return Err(super::fork::inherited_error());
        }
        // SAFETY: the caller's promise.
        unsafe { self.shared.ring.submitter().register_buf_ring_with_flags(ring_addr, entries, group, 0) }
    }

    /// Unregisters a provided-buffer ring: once this returns, the kernel
    /// picks no more buffers from it.
    pub(crate) fn unregister_buf_ring(&self, group: u16) -> io::Result<()> {
        self.shared.ring.submitter().unregister_buf_ring(group)
    }

    /// Registers `bufs` (start, length) in the ring's buffer table: the first slot, or
    /// `None` where the kernel has no table to share (plain memory).
    ///
    /// # Safety
    ///
    /// The memory stays valid until [`UringDriver::unregister_fixed`] of
    /// the same slots returns `true`, or the ring is gone.
    pub(crate) unsafe fn register_fixed(&self, bufs: &[(*mut u8, usize)]) -> io::Result<Option<u32>> {
        if self.shared.inherited() {
            return Err(super::fork::inherited_error());
        }
        let iovecs: Vec<libc::iovec> = bufs
            .iter()
            .map(|&(iov_base, iov_len)| libc::iovec {
                iov_base: iov_base.cast(),
                iov_len,
            })
            .collect();
        // SAFETY: the caller's guarantee.
        unsafe { lock(&self.shared.fixed).register(&self.shared.ring, &iovecs) }
    }

    /// Empties `count` slots from `first`; `false` if the kernel refused
    /// (the memory must then be leaked).
    pub(crate) fn unregister_fixed(&self, first: u32, count: u32) -> bool {
        if self.shared.inherited() {
            // The parent's table: the child cannot change it, and its own
            // copy of the memory is not what the kernel pinned.
            return true;
        }
        lock(&self.shared.fixed).unregister(&self.shared.ring, first, count)
    }

    /// Registers `fd` in the ring's file table: its slot, or `None` where
    /// the kernel has no table to share. The kernel takes its own
    /// reference to the file: closing `fd` later does not empty the slot.
    pub(crate) fn register_file(&self, fd: std::os::fd::RawFd) -> io::Result<Option<u32>> {
        if self.shared.inherited() {
            return Err(super::fork::inherited_error());
        }
        lock(&self.shared.files).register(&self.shared.ring, fd)
    }

    /// Empties `slot`; `false` if the kernel refused (the slot stays taken).
    pub(crate) fn unregister_file(&self, slot: u32) -> bool {
        if self.shared.inherited() {
            return true;
        }
        lock(&self.shared.files).unregister(&self.shared.ring, slot)
    }
}

impl sealed::Sealed for UringDriver {
    fn identity(&self) -> usize {
        self.shared.identity()
    }
    fn park_until(&self, woken: &AtomicBool) -> io::Result<()> {
        self.shared.park(None, &|| !woken.load(Ordering::SeqCst))
    }
    fn flush(&self) {
        let _ = self.shared.submit_pending(None);
    }
    fn submit_with_deadline<O: OpCode>(&self, op: Box<O>, waker: &Waker, timeout: Duration) -> Submission<O> {
        self.shared.submit_op(op, waker, Some(timeout))
    }
}

impl CompletionDriver for UringDriver {
    fn backend(&self) -> Backend {
        Backend::IoUring
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
        self.shared.park(timeout, &|| true)
    }

    fn unpark(&self) {
        self.shared.wakeup.unpark()
    }

    fn in_flight(&self) -> usize {
        lock(&self.shared.table).len()
    }

    fn dispatch(&self) -> io::Result<Option<Instant>> {
        // Reaping loops until the completion queue is empty: the ring's fd
        // is quiet afterwards. Timers are kernel operations: no deadline.
        self.shared.park(Some(Duration::ZERO), &|| true).map(|()| None)
    }
}

impl UringDriver {
    /// The ring's fd: readable while completions wait in its queue.
    pub(crate) fn notification_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the ring (and so its fd) lives as long as `self.shared`,
        // which the returned borrow cannot outlive.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.shared.ring.as_raw_fd()) }
    }

    /// See [`Parker::set_watched`].
    pub(crate) fn set_watched(&self, watched: bool) {
        self.shared.wakeup.parker.set_watched(watched);
    }

    /// The driver's [`Deferral`].
    pub(crate) fn deferral(&self) -> &Deferral {
        &self.shared.deferral
    }
}

