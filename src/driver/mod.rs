//! Drivers: the [`CompletionDriver`] contract, the back ends that meet it,
//! and [`Driver`], the handle that picks one at run time.
//!
//! # The back-end contract
//!
//! Every back end (`UringDriver` on Linux, `PollDriver` everywhere) and
//! [`Driver`] itself implement [`CompletionDriver`] and promise:
//!
//! 1. **Ownership.** `submit` takes the operation by `Box`. From then on the
//!    driver owns it until the future takes the result back through
//!    `poll_op`, or — if the future is dropped — until the kernel or pool has
//!    let go of it. Memory the kernel may touch is never freed or moved
//!    before the completion is reaped; a teardown that cannot confirm
//!    completion leaks it instead.
//! 2. **No lost operations.** Once `submit` returned `InFlight`, exactly one
//!    result arrives for it, whatever happens to the submission queue.
//! 3. **Cancellation.** `cancel_op` stops the operation in the kernel
//!    (`IORING_OP_ASYNC_CANCEL`, or removal of the readiness interest); a
//!    result that still arrives is cleaned up (an fd it carries is closed).
//! 4. **Wake-ups.** Wakers are woken with no driver lock held; `unpark`
//!    works from any thread and costs no system call if no thread is blocked
//!    in the kernel; no lock is held while a thread is blocked there.
//! 5. **Teardown.** Dropping the last handle cancels everything in flight
//!    and waits until each slot resolves, within a bound. It may happen
//!    anywhere, a waker or a thread-local destructor included, and never
//!    panics there.
//! 6. **User code cannot wedge the driver.** A driver runs code it did not
//!    write in three places: wakers (`wake`, and `drop` when a poll
//!    replaces one or the future is dropped), the cleanup of results nobody
//!    takes (which drops the operation's buffers), and [`Blocking`] jobs.
//!    Wakers and cleanups run on the thread that parks, after it released
//!    every driver lock and the turn to wait in the kernel, so they may park,
//!    run a nested `block_on`, submit, cancel, or wait for another thread
//!    parked on the same driver. If one panics, the others still run; the
//!    first panic is then resumed from [`Driver::park`] (and so from
//!    `block_on`), with the driver consistent and every other operation
//!    still served. A panicking [`Blocking`] job is caught on the pool,
//!    whose thread goes on serving, and resumed where its future is polled.
//!
//! [`Blocking`]: crate::op::Blocking

mod builder;
pub(crate) mod deferral;
pub(crate) mod fork;
pub(crate) mod lifecycle;
#[cfg(all(test, proactor_loom))]
mod loom_tests;
pub(crate) mod parker;
mod per_thread;
pub(crate) mod pool;
mod select;
mod shared;
pub(crate) use shared::PanicGuard;

pub use per_thread::PerThreadDriver;

pub(crate) mod orphan;
cfg_notification_fd! {
    mod orphanage;
}

cfg_uring! {
    mod uring;
    pub use uring::UringDriver;
    pub(crate) use uring::ShotPoll;
    pub(crate) use lifecycle::Discard;
    pub(crate) use uring::buf_ring::BufRing;
}
cfg_poll! {
    mod poll;
    pub use poll::PollDriver;
}

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

pub use builder::Builder;
pub use select::FallbackReason;

use crate::op::{OpCode, OpId, Submission};

/// Which back end a driver runs on.
///
/// One name is printed for each: `io_uring` and `poll` (`Display`). Where a
/// name is read (`PROACTOR_BACKEND`, `FromStr`), io_uring is also spelled
/// `uring`, as its cargo feature is, or `io-uring`.
///
/// ```
/// use proactor::Backend;
///
/// assert_eq!(Backend::IoUring.to_string(), "io_uring");
/// for name in ["uring", "io_uring", "io-uring"] {
///     assert_eq!(name.parse::<Backend>()?, Backend::IoUring);
/// }
/// assert_eq!(Backend::Poll.to_string().parse::<Backend>()?, Backend::Poll);
/// assert!("epoll".parse::<Backend>().is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Linux io_uring.
    IoUring,
    /// Readiness emulation: epoll on Linux, kqueue / event ports / IOCP
    /// through the `polling` crate elsewhere, plus a blocking pool for
    /// regular files.
    Poll,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::IoUring => "io_uring",
            Backend::Poll => "poll",
        })
    }
}

/// Refuses an operation bound to another driver (its buffer is registered
/// with that one): checked by every back end before anything is built.
pub(crate) fn check_bound<O: OpCode>(op: &O, identity: usize) -> io::Result<()> {
    match op.bound_to() {
        Some(owner) if owner != identity => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the fixed buffer belongs to another driver: a set of fixed buffers is registered \
             with one driver, and its buffers work only with that driver's operations",
        )),
        _ => Ok(()),
    }
}

impl Driver {
    /// See `UringDriver::register_fixed`; the readiness back end registers
    /// nothing (`None`: plain memory).
    ///
    /// # Safety
    ///
    /// The memory `bufs` describe (start, length) stays valid until
    /// [`Driver::unregister_fixed`] of the same slots returns `true`, or
    /// the driver is gone.
    pub(crate) unsafe fn register_fixed(
        &self,
        bufs: &[(*mut u8, usize)],
    ) -> io::Result<Option<u32>> {
        match &self.inner {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            // SAFETY: the caller's guarantee.
            Inner::Uring(driver) => unsafe { driver.register_fixed(bufs) },
            #[cfg(feature = "poll")]
            Inner::Poll(_) => {
                let _ = bufs;
                Ok(None)
            }
        }
    }

    /// See `UringDriver::register_file`; the readiness back end registers
    /// nothing (`None`).
    pub(crate) fn register_file(&self, fd: crate::os::RawFile) -> io::Result<Option<u32>> {
        match &self.inner {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Inner::Uring(driver) => driver.register_file(fd),
            #[cfg(feature = "poll")]
            Inner::Poll(_) => {
                let _ = fd;
                Ok(None)
            }
        }
    }

    /// See `UringDriver::unregister_file`.
    pub(crate) fn unregister_file(&self, slot: u32) -> bool {
        match &self.inner {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Inner::Uring(driver) => driver.unregister_file(slot),
            #[cfg(feature = "poll")]
            Inner::Poll(_) => {
                let _ = slot;
                true
            }
        }
    }

    /// See `UringDriver::unregister_fixed`.
    pub(crate) fn unregister_fixed(&self, first: u32, count: u32) -> bool {
        match &self.inner {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Inner::Uring(driver) => driver.unregister_fixed(first, count),
            #[cfg(feature = "poll")]
            Inner::Poll(_) => {
                let _ = (first, count);
                true
            }
        }
    }
}

pub(crate) mod sealed {
    use std::sync::atomic::AtomicBool;
    use std::task::Waker;
    use std::time::Duration;

    use crate::op::{OpCode, Submission};

    /// Internal half of [`CompletionDriver`](super::CompletionDriver).
    pub trait Sealed {
        /// Identity of the shared driver state (for per-thread batching).
        fn identity(&self) -> usize;
        /// Parks unless `woken` is set (checked without losing a race).
        fn park_until(&self, woken: &AtomicBool) -> std::io::Result<()>;
        /// Submits what this thread batched.
        fn flush(&self);
        /// [`CompletionDriver::submit`](super::CompletionDriver::submit)
        /// with a deadline `timeout` from now: see
        /// [`Op::with_timeout`](crate::op::Op::with_timeout).
        fn submit_with_deadline<O: OpCode>(
            &self,
            op: Box<O>,
            waker: &Waker,
            timeout: Duration,
        ) -> Submission<O>;
    }
}

/// The contract every back end meets; see the [module docs](self) for the
/// guarantees. Sealed: implemented by [`Driver`] and the back ends only.
///
/// Code generic over the driver works with any of them:
///
/// ```
/// use proactor::driver::CompletionDriver;
/// use proactor::op::{Nop, Op};
///
/// async fn nops<D: CompletionDriver>(driver: &D, n: usize) -> std::io::Result<()> {
///     for _ in 0..n {
///         Op::with_driver(Nop::new(), driver.clone()).await?;
///     }
///     Ok(())
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let driver = proactor::Driver::new()?;
/// driver.block_on(nops(&driver, 3))?;
/// assert_eq!(driver.in_flight(), 0);
/// # Ok(()) }
/// ```
pub trait CompletionDriver:
    sealed::Sealed + Clone + Send + Sync + Unpin + fmt::Debug + 'static
{
    /// The back end this driver runs on.
    fn backend(&self) -> Backend;

    /// Hands `op` to the driver. Errors come back as
    /// `Submission::Done(Err(..), op)` so buffers are never lost. If it goes
    /// in flight, `waker` is woken when its result arrives, as if
    /// [`poll_op`](Self::poll_op) had registered it.
    fn submit<O: OpCode>(&self, op: Box<O>, waker: &Waker) -> Submission<O>;

    /// Asks for the result of an in-flight operation, registering `cx`'s
    /// waker if it is not there yet.
    fn poll_op<O: OpCode>(
        &self,
        id: OpId,
        cx: &mut Context<'_>,
    ) -> Poll<(io::Result<usize>, Box<O>)>;

    /// The future of `id` is gone: stop the operation and clean up its result.
    fn cancel_op(&self, id: OpId);

    /// Blocks this thread until completions arrive, `unpark` is called, or
    /// `timeout` passes; then dispatches what arrived. `Some(ZERO)` only
    /// dispatches.
    fn park(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Wakes a thread parked on this driver, from any thread.
    fn unpark(&self);

    /// Operations the back end still holds, cancelled ones included.
    fn in_flight(&self) -> usize;

    /// Does what is ready without blocking: submits queued operations,
    /// takes the completions that arrived, fires due timers, then wakes
    /// their futures. This is [`park`](Self::park) with a zero timeout,
    /// for an event loop that waits on the driver's notification fd
    /// instead of parking; it drains, so that fd is quiet afterwards until
    /// something new arrives. Returns the latest instant by which it must
    /// be called again even if the fd stays quiet (a timer of the readiness
    /// back end), if any.
    fn dispatch(&self) -> io::Result<Option<Instant>>;
}

#[derive(Clone)]
enum Inner {
    #[cfg(all(target_os = "linux", feature = "uring"))]
    Uring(UringDriver),
    #[cfg(feature = "poll")]
    Poll(PollDriver),
}

/// The run-time chosen driver: a cheap, cloneable handle (`Send + Sync`).
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let driver = proactor::Driver::new()?;
/// println!("running on {}", driver.backend());
/// if let Some(reason) = driver.fallback_reason() {
///     println!("not io_uring because: {reason}");
/// }
/// let answer = driver.block_on(async { 42 });
/// assert_eq!(answer, 42);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Driver {
    inner: Inner,
    fallback: Option<Arc<FallbackReason>>,
}

static_assertions::assert_impl_all!(Driver: Send, Sync, Clone);

macro_rules! dispatch {
    ($self:expr, $d:ident => $body:expr) => {
        match &$self.inner {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Inner::Uring($d) => $body,
            #[cfg(feature = "poll")]
            Inner::Poll($d) => $body,
        }
    };
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("backend", &self.backend())
            .field("fallback_reason", &self.fallback)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Driver {
    /// A driver on the best back end available: see [`Builder::build`].
    ///
    /// ```
    /// use proactor::{Backend, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Driver::new()?;
    /// // io_uring, or the readiness back end with the reason why not.
    /// assert_eq!(driver.backend() == Backend::Poll, driver.fallback_reason().is_some());
    /// assert_eq!(driver.block_on(async { "done" }), "done");
    /// # Ok(()) }
    /// ```
    pub fn new() -> io::Result<Driver> {
        Builder::new().build()
    }

    /// A builder to choose the back end and sizes, as [`Builder::new`].
    ///
    /// ```
    /// use proactor::{Backend, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let driver = Driver::builder().force(Backend::Poll).build()?;
    /// assert_eq!(driver.backend(), Backend::Poll);
    /// # Ok(()) }
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Why this driver is not on io_uring, if it is not.
    ///
    /// ```
    /// use proactor::{Backend, Driver, FallbackReason};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let poll = Driver::builder().force(Backend::Poll).build()?;
    /// assert!(matches!(poll.fallback_reason(), Some(FallbackReason::Requested(_))));
    /// let auto = Driver::new()?;
    /// if auto.backend() == Backend::IoUring {
    ///     assert!(auto.fallback_reason().is_none());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fallback_reason(&self) -> Option<&FallbackReason> {
        self.fallback.as_deref()
    }

    /// Runs `fut` to completion on this thread, parking on the driver between
    /// polls. The driver is [current](Driver::current) meanwhile, and
    /// operations submitted from this thread are batched into one system
    /// call per park.
    ///
    /// ```
    /// use proactor::{time::sleep, Driver};
    /// use std::time::{Duration, Instant};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Driver::new()?;
    /// let start = Instant::now();
    /// let backend = driver.block_on(async {
    ///     sleep(Duration::from_millis(10)).await;
    ///     Driver::current().backend() // this driver, while it runs
    /// });
    /// assert_eq!(backend, driver.backend());
    /// assert!(start.elapsed() >= Duration::from_millis(10));
    /// # Ok(()) }
    /// ```
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let _current = self.enter();
        block_on_with(self, fut)
    }

    /// Makes this driver the thread's current one until the guard drops.
    ///
    /// In a thread-local destructor, once this thread's own locals are gone,
    /// this does nothing: operations then go to the process-wide driver
    /// unless given a driver explicitly.
    ///
    /// Guards may be dropped in any order: each one takes back only its own
    /// entry, and the current driver is the one entered last of those whose
    /// guard is still alive.
    ///
    /// ```
    /// use proactor::{Backend, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let poll = Driver::builder().force(Backend::Poll).build()?;
    /// {
    ///     let _guard = poll.enter();
    ///     assert_eq!(Driver::current().backend(), Backend::Poll);
    /// }
    /// // Gone with the guard: the process-wide driver again.
    /// assert_eq!(Driver::current().backend(), Driver::new()?.backend());
    /// # Ok(()) }
    /// ```
    pub fn enter(&self) -> EnterGuard {
        let entry = CURRENT
            .try_with(|current| {
                let mut current = current.borrow_mut();
                let entry = current.last().map_or(0, |(entry, _)| entry + 1);
                current.push((entry, self.clone()));
                entry
            })
            .ok();
        EnterGuard {
            entry,
            _not_send: std::marker::PhantomData,
        }
    }

    /// The thread's current driver; else (with the `tokio` feature, inside
    /// a tokio runtime) the runtime's driver; else the process-wide driver,
    /// started on first use with its own thread (`proactor-driver`) parked
    /// on it. That thread wakes the futures of operations no other thread
    /// drives; a waker that panics there is reported by the panic hook, and
    /// the thread goes on. With the `async-io` feature, async-io's reactor
    /// dispatches the process-wide driver on its own threads instead, and
    /// no such thread starts.
    ///
    /// # Panics
    ///
    /// If there is no current driver and the process-wide one cannot be
    /// built now because no back end can run (for example every fd is in
    /// use); [`Driver::try_current`] returns that error instead. A failure is
    /// not remembered: a later call tries again.
    ///
    /// ```
    /// use proactor::{Backend, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let poll = Driver::builder().force(Backend::Poll).build()?;
    /// let inside = poll.block_on(async { Driver::current().backend() });
    /// assert_eq!(inside, Backend::Poll);
    /// // Outside any block_on: the process-wide driver.
    /// let _process_wide = Driver::current();
    /// # Ok(()) }
    /// ```
    pub fn current() -> Driver {
        Driver::try_current()
            .unwrap_or_else(|e| panic!("proactor: no driver could be started: {e}"))
    }

    /// Like [`Driver::current`], returning the error if the process-wide
    /// driver cannot be built (for example an invalid `PROACTOR_BACKEND`, or
    /// no fd left for any back end). Nothing is cached until a driver runs,
    /// so a later call tries again.
    ///
    /// ```
    /// use proactor::Driver;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Driver::try_current()?;
    /// let answer = driver.block_on(async { 6 * 7 });
    /// assert_eq!(answer, 42);
    /// # Ok(()) }
    /// ```
    pub fn try_current() -> io::Result<Driver> {
        // In a thread-local destructor this thread's current driver may be
        // gone already: the process-wide one serves then.
        if let Some(driver) = CURRENT
            .try_with(|current| current.borrow().last().map(|(_, driver)| driver.clone()))
            .ok()
            .flatten()
        {
            return Ok(driver);
        }
        if let Some(driver) = crate::host::current_driver() {
            return Ok(driver);
        }
        global_driver()
    }

    /// Whether this is a forked child's copy of its parent's driver.
    pub(crate) fn is_inherited(&self) -> bool {
        dispatch!(self, d => d.is_inherited())
    }

    fn from_inner(inner: Inner, fallback: Option<FallbackReason>) -> Driver {
        Driver {
            inner,
            fallback: fallback.map(Arc::new),
        }
    }
}

impl sealed::Sealed for Driver {
    fn identity(&self) -> usize {
        dispatch!(self, d => d.identity())
    }
    fn park_until(&self, woken: &AtomicBool) -> io::Result<()> {
        dispatch!(self, d => d.park_until(woken))
    }
    fn flush(&self) {
        dispatch!(self, d => d.flush())
    }
    fn submit_with_deadline<O: OpCode>(
        &self,
        op: Box<O>,
        waker: &Waker,
        timeout: Duration,
    ) -> Submission<O> {
        dispatch!(self, d => d.submit_with_deadline(op, waker, timeout))
    }
}

impl CompletionDriver for Driver {
    fn backend(&self) -> Backend {
        dispatch!(self, d => d.backend())
    }
    fn submit<O: OpCode>(&self, op: Box<O>, waker: &Waker) -> Submission<O> {
        dispatch!(self, d => d.submit(op, waker))
    }
    fn poll_op<O: OpCode>(
        &self,
        id: OpId,
        cx: &mut Context<'_>,
    ) -> Poll<(io::Result<usize>, Box<O>)> {
        dispatch!(self, d => d.poll_op(id, cx))
    }
    fn cancel_op(&self, id: OpId) {
        dispatch!(self, d => d.cancel_op(id))
    }
    fn park(&self, timeout: Option<Duration>) -> io::Result<()> {
        dispatch!(self, d => d.park(timeout))
    }
    fn unpark(&self) {
        dispatch!(self, d => d.unpark())
    }
    fn in_flight(&self) -> usize {
        dispatch!(self, d => d.in_flight())
    }
    fn dispatch(&self) -> io::Result<Option<Instant>> {
        dispatch!(self, d => d.dispatch())
    }
}

impl Driver {
    /// The back end this driver runs on.
    ///
    /// ```
    /// use proactor::{Backend, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let driver = Driver::builder().force(Backend::Poll).build()?;
    /// assert_eq!(driver.backend(), Backend::Poll);
    /// assert_eq!(driver.backend().to_string(), "poll");
    /// # Ok(()) }
    /// ```
    pub fn backend(&self) -> Backend {
        CompletionDriver::backend(self)
    }

    /// Whether `self` and `other` are handles to the same driver.
    ///
    /// ```
    /// use proactor::Driver;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Driver::new()?;
    /// assert!(driver.same_driver(&driver.clone()));
    /// assert!(!driver.same_driver(&Driver::new()?));
    /// # Ok(()) }
    /// ```
    pub fn same_driver(&self, other: &Driver) -> bool {
        sealed::Sealed::identity(self) == sealed::Sealed::identity(other)
    }
    /// Blocks until completions arrive, [`Driver::unpark`] is called, or
    /// `timeout` passes; then dispatches what arrived.
    ///
    /// ```
    /// use proactor::Driver;
    /// use std::time::{Duration, Instant};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Driver::new()?;
    /// let start = Instant::now();
    /// driver.park(Some(Duration::from_millis(20)))?; // nothing arrives
    /// assert!(start.elapsed() >= Duration::from_millis(20));
    /// # Ok(()) }
    /// ```
    pub fn park(&self, timeout: Option<Duration>) -> io::Result<()> {
        CompletionDriver::park(self, timeout)
    }
    /// Wakes a thread parked on this driver, from any thread.
    ///
    /// ```
    /// use proactor::Driver;
    /// use std::time::{Duration, Instant};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Driver::new()?;
    /// let waker = driver.clone();
    /// let thread = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(20));
    ///     waker.unpark();
    /// });
    /// let start = Instant::now();
    /// driver.park(Some(Duration::from_secs(60)))?; // returns on the unpark
    /// assert!(start.elapsed() < Duration::from_secs(60));
    /// thread.join().unwrap();
    /// # Ok(()) }
    /// ```
    pub fn unpark(&self) {
        CompletionDriver::unpark(self)
    }
    /// Operations the back end still holds, cancelled ones included.
    ///
    /// ```
    /// use proactor::{time::sleep, Driver};
    /// use std::time::Duration;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Driver::new()?;
    /// driver.block_on(async {
    ///     let mut timer = Box::pin(sleep(Duration::from_secs(60)));
    ///     // Polled once: submitted.
    ///     assert!(futures::poll!(timer.as_mut()).is_pending());
    ///     assert_eq!(Driver::current().in_flight(), 1);
    /// });
    /// // Dropped, so cancelled: gone once the driver has seen it end.
    /// while driver.in_flight() > 0 {
    ///     driver.park(Some(Duration::from_millis(10)))?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn in_flight(&self) -> usize {
        CompletionDriver::in_flight(self)
    }
    /// Does what is ready without blocking; see
    /// [`CompletionDriver::dispatch`] and, where the driver waits on an fd,
    /// `Driver::notification_fd`.
    ///
    /// ```
    /// use proactor::op::{Nop, Op};
    /// use std::future::Future;
    /// use std::task::{Context, Poll};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = proactor::Driver::new()?;
    /// let mut nop = Box::pin(Op::with_driver(Nop::new(), driver.clone()));
    /// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    /// // Some back ends complete a NOP at once; others once dispatched.
    /// let mut result = nop.as_mut().poll(&mut cx);
    /// while result.is_pending() {
    ///     driver.dispatch()?;
    ///     result = nop.as_mut().poll(&mut cx);
    /// }
    /// assert!(matches!(result, Poll::Ready(Ok(()))));
    /// # Ok(()) }
    /// ```
    pub fn dispatch(&self) -> io::Result<Option<Instant>> {
        CompletionDriver::dispatch(self)
    }
}

/// A handle to a [`Driver`] that does not keep it alive.
#[derive(Clone)]
// Used by the host integrations, which not every build or platform has.
#[allow(dead_code)]
pub(crate) struct WeakDriver {
    inner: WeakInner,
    fallback: Option<Arc<FallbackReason>>,
}

#[derive(Clone)]
// Used by the host integrations, which not every build or platform has.
#[allow(dead_code)]
enum WeakInner {
    #[cfg(all(target_os = "linux", feature = "uring"))]
    Uring(uring::WeakUringDriver),
    #[cfg(feature = "poll")]
    Poll(poll::WeakPollDriver),
}

// Used by the host integrations, which not every build or platform has.
#[allow(dead_code)]
impl WeakDriver {
    /// The driver, if anything still keeps it alive.
    pub(crate) fn upgrade(&self) -> Option<Driver> {
        let inner = match &self.inner {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            WeakInner::Uring(weak) => Inner::Uring(weak.upgrade()?),
            #[cfg(feature = "poll")]
            WeakInner::Poll(weak) => Inner::Poll(weak.upgrade()?),
        };
        Some(Driver {
            inner,
            fallback: self.fallback.clone(),
        })
    }
}

// Used by the host integrations, which not every build or platform has.
#[allow(dead_code)]
impl Driver {
    /// A handle that does not keep the driver alive.
    pub(crate) fn downgrade(&self) -> WeakDriver {
        let inner = match &self.inner {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Inner::Uring(driver) => WeakInner::Uring(driver.downgrade()),
            #[cfg(feature = "poll")]
            Inner::Poll(driver) => WeakInner::Poll(driver.downgrade()),
        };
        WeakDriver {
            inner,
            fallback: self.fallback.clone(),
        }
    }

    /// How many handles keep the driver alive.
    pub(crate) fn handles(&self) -> usize {
        dispatch!(self, d => d.handles())
    }
}

impl Driver {
    /// The driver's deferred-submission switch, where submissions queue
    /// (io_uring).
    // Used by the host integrations, which not every build or platform has.
    #[allow(dead_code)]
    pub(crate) fn deferral(&self) -> Option<&deferral::Deferral> {
        match &self.inner {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Inner::Uring(driver) => Some(driver.deferral()),
            #[cfg(feature = "poll")]
            Inner::Poll(_) => None,
        }
    }
}

impl Driver {
    /// The io_uring driver, for what only it can do (multishot operations).
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn uring(&self) -> Option<&UringDriver> {
        match &self.inner {
            Inner::Uring(driver) => Some(driver),
            #[cfg(feature = "poll")]
            Inner::Poll(_) => None,
        }
    }
}

cfg_notification_fd! {
    impl Driver {
        /// The fd another event loop waits on to drive this driver: it
        /// turns readable when [`dispatch`](Driver::dispatch) has work (the
        /// io_uring ring's fd, or the readiness back end's epoll / kqueue
        /// fd). While the returned value lives, every wake-up the driver
        /// needs (a blocking-pool result, a new earliest timer, [`unpark`])
        /// makes the fd readable, so the loop needs no thread parked here.
        ///
        /// The loop's part: wait until the fd is readable, or until the
        /// instant `dispatch` last returned, then call `dispatch`; repeat.
        /// This is how a driver runs inside tokio or any other reactor
        /// without a thread of its own and without a thread hop per
        /// completion. With tokio's `AsyncFd`:
        ///
        /// ```
        /// use proactor::op::{Nop, Op};
        /// use tokio::io::unix::AsyncFd;
        ///
        /// # fn main() -> std::io::Result<()> {
        /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        /// runtime.block_on(async {
        ///     let driver = proactor::Driver::new()?;
        ///     // SAFETY: `NotificationFd` keeps the driver, and so the fd, alive
        ///     // and unchanged for as long as the AsyncFd holds it.
        ///     let notified = unsafe { AsyncFd::register(driver.notification_fd()) }?;
        ///     let dispatcher = driver.clone();
        ///     tokio::spawn(async move {
        ///         loop {
        ///             let deadline = dispatcher.dispatch()?;
        ///             let sleep = async move {
        ///                 match deadline {
        ///                     Some(at) => tokio::time::sleep_until(at.into()).await,
        ///                     None => std::future::pending().await,
        ///                 }
        ///             };
        ///             tokio::select! {
        ///                 ready = notified.readable() => ready?.clear_ready(),
        ///                 () = sleep => {}
        ///             }
        ///         }
        ///         #[allow(unreachable_code)]
        ///         Ok::<(), std::io::Error>(())
        ///     });
        ///     // Completed on this runtime's thread, woken by its reactor.
        ///     Op::with_driver(Nop::new(), driver.clone()).await
        /// })
        /// # }
        /// ```
        ///
        /// [`unpark`]: Driver::unpark
        pub fn notification_fd(&self) -> NotificationFd {
            NotificationFd::new(self.clone())
        }

        fn raw_notification_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            dispatch!(self, d => d.notification_fd())
        }

        fn set_watched(&self, watched: bool) {
            dispatch!(self, d => d.set_watched(watched))
        }
    }

    /// A driver's notification fd, from [`Driver::notification_fd`]:
    /// `AsFd` and `AsRawFd` for the event loop that waits on it. It keeps
    /// the driver alive, and while it lives every wake-up the driver needs
    /// makes the fd readable.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = proactor::Driver::new()?;
    /// let fd = driver.notification_fd();
    /// driver.unpark(); // a wake-up: the fd turns readable
    /// let mut poll = [libc::pollfd {
    ///     fd: fd.as_raw_fd(),
    ///     events: libc::POLLIN,
    ///     revents: 0,
    /// }];
    /// // SAFETY: one valid pollfd, for the length given.
    /// let ready = unsafe { libc::poll(poll.as_mut_ptr(), 1, 10_000) };
    /// assert_eq!(ready, 1);
    /// driver.dispatch()?; // drains it
    /// # Ok(()) }
    /// ```
    #[derive(Debug)]
    pub struct NotificationFd {
        driver: Driver,
    }

    impl NotificationFd {
        fn new(driver: Driver) -> Self {
            driver.set_watched(true);
            NotificationFd { driver }
        }

        /// The driver this fd belongs to.
        ///
        /// ```
        /// use std::os::fd::AsRawFd;
        ///
        /// # fn main() -> std::io::Result<()> {
        /// let driver = proactor::Driver::new()?;
        /// let fd = driver.notification_fd();
        /// assert_eq!(fd.driver().backend(), driver.backend());
        /// assert!(fd.as_raw_fd() >= 0);
        /// # Ok(()) }
        /// ```
        pub fn driver(&self) -> &Driver {
            &self.driver
        }
    }

    impl Drop for NotificationFd {
        fn drop(&mut self) {
            self.driver.set_watched(false);
        }
    }

    impl std::os::fd::AsFd for NotificationFd {
        fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            self.driver.raw_notification_fd()
        }
    }

    impl std::os::fd::AsRawFd for NotificationFd {
        fn as_raw_fd(&self) -> std::os::fd::RawFd {
            std::os::fd::AsRawFd::as_raw_fd(&self.driver.raw_notification_fd())
        }
    }
}

/// Takes back its driver's turn as the current one when dropped. See
/// [`Driver::enter`].
///
/// ```
/// use proactor::{Backend, Driver};
///
/// # fn main() -> std::io::Result<()> {
/// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
/// let outer = Driver::builder().force(Backend::Poll).build()?;
/// let inner = Driver::new()?;
/// let outer_guard = outer.enter();
/// let inner_guard = inner.enter();
/// assert_eq!(Driver::current().backend(), inner.backend());
/// drop(inner_guard);
/// assert_eq!(Driver::current().backend(), Backend::Poll); // `outer` again
/// drop(outer_guard);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EnterGuard {
    /// This guard's entry on the thread's stack of entered drivers; `None`
    /// if nothing was entered (thread-locals already destroyed).
    entry: Option<u64>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let Some(entry) = self.entry else {
            return;
        };
        // `try_with`: the guard may be dropped by a thread-local destructor.
        let removed = CURRENT.try_with(|current| {
            let mut current = current.borrow_mut();
            let position = current.iter().rposition(|(e, _)| *e == entry);
            position.map(|position| current.remove(position))
        });
        // The driver is dropped after the borrow: its teardown may look at
        // the current driver.
        drop(removed);
    }
}

thread_local! {
    /// The drivers entered on this thread, the current one last, each with
    /// its guard's entry number.
    static CURRENT: RefCell<Vec<(u64, Driver)>> = const { RefCell::new(Vec::new()) };
    /// Identity of the driver whose `block_on` runs on this thread: its
    /// submissions wait for the next park instead of entering the kernel.
    static BATCHING: Cell<usize> = const { Cell::new(0) };
}

/// Whether submissions to the driver with `identity` may wait for this
/// thread's next park.
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) fn is_batching(identity: usize) -> bool {
    // Ops may be submitted or cancelled from a thread-local destructor,
    // after this thread's locals are gone: then nothing batches.
    BATCHING
        .try_with(|batching| batching.get() == identity)
        .unwrap_or(false)
}

struct BatchScope<'a, D: CompletionDriver> {
    driver: &'a D,
    previous: usize,
}

impl<'a, D: CompletionDriver> BatchScope<'a, D> {
    fn enter(driver: &'a D) -> Self {
        let previous = BATCHING
            .try_with(|batching| batching.replace(driver.identity()))
            .unwrap_or(0);
        BatchScope { driver, previous }
    }
}

impl<D: CompletionDriver> Drop for BatchScope<'_, D> {
    fn drop(&mut self) {
        let _ = BATCHING.try_with(|batching| batching.set(self.previous));
        // Cancellations queued while the future was dropped must not wait
        // for a park that may never come.
        self.driver.flush();
    }
}

struct BlockOnWaker<D: CompletionDriver> {
    woken: AtomicBool,
    driver: D,
}

impl<D: CompletionDriver> Wake for BlockOnWaker<D> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::SeqCst) {
            self.driver.unpark();
        }
    }
}

/// Runs `fut` on this thread, parking on `driver` between polls.
pub(crate) fn block_on_with<D: CompletionDriver, F: Future>(driver: &D, fut: F) -> F::Output {
    let state = Arc::new(BlockOnWaker {
        woken: AtomicBool::new(false),
        driver: driver.clone(),
    });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let _batch = BatchScope::enter(driver);
    loop {
        // Polled after every park, not only on a wake: an `unpark` from
        // another thread is a request to look again.
        state.woken.store(false, Ordering::SeqCst);
        if let Poll::Ready(output) = fut.as_mut().poll(&mut cx) {
            return output;
        }
        if driver.park_until(&state.woken).is_err() {
            // A broken kernel interface: back off instead of spinning; the
            // future sees the errors through its own operations.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Runs `fut` to completion on this thread, on [`Driver::current`].
///
/// ```
/// let n = proactor::block_on(async { 1 + 1 });
/// assert_eq!(n, 2);
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    Driver::current().block_on(fut)
}

/// The process-wide driver, started with its parker thread (or, with
/// `async-io`, registered with async-io's reactor) on first use.
/// Only a running driver is kept: if none can be built now (every fd in
/// use, say) or its thread cannot start, the error goes to this caller and
/// the next one tries again. A forked child makes one of its own.
fn global_driver() -> io::Result<Driver> {
    // Callers that race here start one driver between them. Poisoned only
    // if building a driver panicked, which left it untouched.
    static GLOBAL: Mutex<Option<Driver>> = Mutex::new(None);
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(driver) = global.as_ref().filter(|driver| !driver.is_inherited()) {
        return Ok(driver.clone());
    }
    let driver = Driver::new()?;
    // With `async-io`, its reactor dispatches the driver instead of a
    // thread of ours; before the driver is published, like the thread.
    if !crate::host::host_process_driver(&driver) {
        start_parker_thread(&driver)?;
    }
    // An inherited driver replaced here is the parent's: its copy is
    // forgotten, not torn down (its parker thread's handle was copied too).
    if let Some(inherited) = global.replace(driver.clone()) {
        std::mem::forget(inherited);
    }
    Ok(driver)
}

/// Starts the process-wide driver's own thread, parked on it.
pub(crate) fn start_parker_thread(driver: &Driver) -> io::Result<()> {
    let parked = driver.clone();
    // Started before the driver is published, so a published driver always
    // has a thread parked on it; on failure the clone is dropped with the
    // closure.
    std::thread::Builder::new()
        .name("proactor-driver".into())
        .spawn(move || loop {
            // A waker that panics is user code failing on this thread: its
            // panic was reported by the hook, the driver is consistent
            // again, and every other future still needs this thread to
            // drive it.
            let parked_once =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parked.park(None)));
            if !matches!(parked_once, Ok(Ok(()))) {
                std::thread::sleep(Duration::from_millis(1));
            }
        })?;
    Ok(())
}
