//! A driver for each thread, behind one handle.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::{Arc, Weak};

use super::{Builder, Driver};

/// One [`Driver`] per thread that uses it, each with a ring (or poller) of
/// its own, all built from one [`Builder`]. Threads that each run their own
/// work (a server with a thread per core) share nothing on the hot path:
/// no lock, no cache line, no system call of another thread's. A single
/// shared `Driver` serves every thread from one ring instead, which costs
/// more than it gives once two threads submit at full speed (see
/// BENCHMARKS.md, "NOPs from several threads").
///
/// The rules:
/// - **Which ring.** [`PerThreadDriver::driver`] gives the calling
///   thread's own driver, built on first use; [`PerThreadDriver::block_on`]
///   runs a future on it, so `Op::new`, `TcpStream::connect` and the like
///   inside take it as [`Driver::current`]. An operation or I/O object
///   stays on the driver it was made on.
/// - **Who reaps.** The thread, while it runs `block_on` on its driver:
///   it parks on its own ring, and no other thread touches it.
/// - **Futures that move.** A future moved to another thread still
///   completes: its operation is reaped when its ring's thread next parks,
///   and the wake-up crosses to the thread now polling it. While the ring's
///   thread runs outside `block_on` (busy, or blocked on something else),
///   such an operation waits for it.
/// - **Teardown.** When a thread exits, its driver goes with it unless
///   futures or I/O objects elsewhere still hold it; then a background
///   thread drives it until they are gone, so they still complete (and
///   what they leave is cleaned up). Once every handle to the
///   `PerThreadDriver` is dropped, a thread lets its driver go, the same
///   way, at its next call to any `PerThreadDriver` or when it exits.
/// - **While a thread exits.** In a thread-local destructor that runs after
///   proactor's own, the thread's driver is gone: each call builds a
///   driver that the background thread drives from the start, and
///   [`Driver::current`] no longer finds the driver `block_on` runs on
///   (see [`Driver::enter`]), so pass it to operations explicitly
///   (`Op::with_driver`).
///
/// ```
/// use proactor::op::{Nop, Op};
///
/// # fn main() -> std::io::Result<()> {
/// let drivers = proactor::Driver::builder().entries(64).per_thread();
/// std::thread::scope(|scope| {
///     for _ in 0..2 {
///         scope.spawn(|| {
///             drivers.block_on(async {
///                 // On this thread's own driver.
///                 Op::new(Nop::new())?.await
///             })
///         });
///     }
/// });
/// // The calling thread has one of its own too.
/// drivers.block_on(async { Op::new(Nop::new())?.await })??;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PerThreadDriver {
    shared: Arc<Builder>,
}

static_assertions::assert_impl_all!(PerThreadDriver: Send, Sync, Clone);

impl fmt::Debug for PerThreadDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerThreadDriver")
            .field("builder", &*self.shared)
            .finish()
    }
}

/// The drivers this thread made for each [`PerThreadDriver`] it used, by
/// the handle's identity; what it holds is let go of when the thread exits.
#[derive(Default)]
struct OwnDrivers(Vec<(Weak<Builder>, Driver)>);

impl Drop for OwnDrivers {
    fn drop(&mut self) {
        for (_, driver) in self.0.drain(..) {
            let_go(driver);
        }
    }
}

thread_local! {
    static OWN: RefCell<OwnDrivers> = RefCell::new(OwnDrivers::default());
}

/// Drops this thread's handle to `driver`; if futures or I/O objects
/// elsewhere still hold it, a background thread drives it for them.
fn let_go(driver: Driver) {
    if driver.handles() > 1 && !driver.is_inherited() {
        super::orphan::adopt(driver);
    }
}

impl Builder {
    /// A [`PerThreadDriver`]: each thread that uses it gets a driver of its
    /// own, built from these settings on first use.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let drivers = proactor::Driver::builder().per_thread();
    /// let here = drivers.driver()?;
    /// let there = std::thread::scope(|scope| scope.spawn(|| drivers.driver()).join().unwrap())?;
    /// assert!(!here.same_driver(&there));
    /// assert!(here.same_driver(&drivers.driver()?), "one per thread, kept");
    /// # Ok(()) }
    /// ```
    pub fn per_thread(&self) -> PerThreadDriver {
        PerThreadDriver {
            shared: Arc::new(self.clone()),
        }
    }
}

impl PerThreadDriver {
    /// The calling thread's driver, built on the first call from this
    /// thread; an error if it cannot be built (the next call tries again).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let drivers = proactor::Driver::builder().per_thread();
    /// let driver = drivers.driver()?;
    /// assert!(driver.same_driver(&drivers.driver()?));
    /// # Ok(()) }
    /// ```
    pub fn driver(&self) -> io::Result<Driver> {
        let released = OWN.try_with(|own| {
            let mut own = own.borrow_mut();
            // Drivers of handles that are gone, and a forked child's copies
            // of its parent's: let go of (outside the borrow, below).
            let stale = |(handle, driver): &(Weak<Builder>, Driver)| {
                handle.strong_count() == 0 || driver.is_inherited()
            };
            let mut gone = Vec::new();
            if own.0.iter().any(stale) {
                let (stale_ones, kept) = std::mem::take(&mut own.0).into_iter().partition(stale);
                (gone, own.0) = (stale_ones, kept);
            }
            let found = own
                .0
                .iter()
                .find(|(handle, _)| std::ptr::eq(handle.as_ptr(), Arc::as_ptr(&self.shared)))
                .map(|(_, driver)| driver.clone());
            (gone, found)
        });
        let Ok((gone, found)) = released else {
            // The thread is exiting and its locals are gone (a thread-local
            // destructor that runs after proactor's calls this): nothing
            // here can keep a driver or let it go later, so this one is
            // handed to the orphanage at once, which drives it for as long
            // as anything holds it.
            let driver = self.shared.build()?;
            super::orphan::adopt(driver.clone());
            return Ok(driver);
        };
        for (_, driver) in gone {
            let_go(driver);
        }
        if let Some(driver) = found {
            return Ok(driver);
        }
        let driver = self.shared.build()?;
        let entry = (Arc::downgrade(&self.shared), driver.clone());
        // Not kept only while this thread's locals are destroyed.
        let _ = OWN.try_with(|own| own.borrow_mut().0.push(entry));
        Ok(driver)
    }

    /// Runs `fut` to completion on this thread's driver (see
    /// [`Driver::block_on`]); an error if the driver cannot be built.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let drivers = proactor::Driver::builder().per_thread();
    /// let n = drivers.block_on(async { 6 * 7 })?;
    /// assert_eq!(n, 42);
    /// # Ok(()) }
    /// ```
    pub fn block_on<F: Future>(&self, fut: F) -> io::Result<F::Output> {
        Ok(self.driver()?.block_on(fut))
    }
}
