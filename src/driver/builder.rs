use std::io;

use super::select;
use super::{Backend, Driver};

/// Chooses a driver's back end and sizes.
///
/// ```
/// use proactor::Driver;
///
/// # fn main() -> std::io::Result<()> {
/// let driver = Driver::builder().entries(64).blocking_threads(4).build()?;
/// println!("{} driver", driver.backend());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) force: Option<Backend>,
    pub(crate) entries: u32,
    pub(crate) blocking_threads: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Default entries: io_uring submission queue size / readiness events per
    /// wait.
    ///
    /// ```
    /// use proactor::Builder;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Builder::new().entries(Builder::DEFAULT_ENTRIES).build()?;
    /// assert_eq!(Builder::DEFAULT_ENTRIES, 256);
    /// # drop(driver);
    /// # Ok(()) }
    /// ```
    pub const DEFAULT_ENTRIES: u32 = 256;
    /// Default bound of the blocking pool.
    ///
    /// ```
    /// use proactor::Builder;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// assert_eq!(Builder::DEFAULT_BLOCKING_THREADS, 64);
    /// let driver = Builder::new().blocking_threads(Builder::DEFAULT_BLOCKING_THREADS / 4).build()?;
    /// # drop(driver);
    /// # Ok(()) }
    /// ```
    pub const DEFAULT_BLOCKING_THREADS: usize = 64;

    /// Defaults: automatic back end, [`Builder::DEFAULT_ENTRIES`],
    /// [`Builder::DEFAULT_BLOCKING_THREADS`].
    ///
    /// ```
    /// use proactor::Builder;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Builder::new().build()?; // as `Driver::new()`
    /// assert_eq!(driver.block_on(async { 1 }), 1);
    /// # Ok(()) }
    /// ```
    pub fn new() -> Self {
        Builder {
            force: None,
            entries: Self::DEFAULT_ENTRIES,
            blocking_threads: Self::DEFAULT_BLOCKING_THREADS,
        }
    }

    /// Strict choice: [`build`](Builder::build) gives exactly this back end or
    /// the error that prevents it. Overrides `PROACTOR_BACKEND`.
    ///
    /// ```
    /// use proactor::{Backend, Builder};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// // Each back end where this build (and, for io_uring, the kernel)
    /// // has it; else the error that prevents it, never the other one.
    /// for backend in [Backend::Poll, Backend::IoUring] {
    ///     match Builder::new().force(backend).build() {
    ///         Ok(driver) => assert_eq!(driver.backend(), backend),
    ///         Err(e) => println!("no {backend} back end here: {e}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn force(mut self, backend: Backend) -> Self {
        self.force = Some(backend);
        self
    }

    /// io_uring submission queue entries (a power of two is used, from 2 to
    /// 32768), or events gathered per readiness wait (1 to 32768). Any number of operations
    /// may be in flight whatever this is: a full queue is submitted and
    /// refilled.
    ///
    /// ```
    /// use proactor::Builder;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// use proactor::op::{Nop, Op};
    ///
    /// let driver = Builder::new().entries(2).build()?;
    /// // Far more operations than entries, all in flight at once:
    /// let nops = (0..100).map(|_| Op::with_driver(Nop::new(), driver.clone()));
    /// let results = driver.block_on(futures::future::join_all(nops));
    /// assert!(results.into_iter().all(|r| r.is_ok()));
    /// # Ok(()) }
    /// ```
    pub fn entries(mut self, entries: u32) -> Self {
        self.entries = entries;
        self
    }

    /// Bound of the blocking pool that runs regular-file operations on the
    /// readiness back end (and opcodes the kernel lacks on io_uring). Zero
    /// disables it: such operations then fail with
    /// [`io::ErrorKind::Unsupported`].
    ///
    /// ```
    /// use proactor::{Backend, Builder};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let driver = Builder::new().force(Backend::Poll).blocking_threads(0).build()?;
    /// let opened = driver.block_on(proactor::fs::File::create(dir.path().join("f")));
    /// assert_eq!(opened.unwrap_err().kind(), std::io::ErrorKind::Unsupported);
    /// # Ok(()) }
    /// ```
    pub fn blocking_threads(mut self, threads: usize) -> Self {
        self.blocking_threads = threads;
        self
    }

    /// Builds the driver:
    ///
    /// 1. [`force`](Builder::force)d: exactly that back end, or its error;
    /// 2. else `PROACTOR_BACKEND=uring|poll`: the same (another value is an
    ///    [`io::ErrorKind::InvalidInput`] error);
    /// 3. else io_uring if the probe succeeds, falling back to the readiness
    ///    back end (see [`Driver::fallback_reason`]). ENOSYS, EPERM, EACCES,
    ///    EINVAL and ENOMEM mean "not here": that answer is kept for the
    ///    process. Any other errno (EMFILE, EAGAIN, ...) is
    ///    [transient](crate::FallbackReason::Transient): this driver uses the
    ///    readiness back end, and the next one probes io_uring again. If no
    ///    back end can be built, the error is returned; nothing panics.
    ///
    /// ```
    /// use proactor::{Backend, Builder};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Builder::new().build()?;
    /// match driver.backend() {
    ///     Backend::IoUring => assert!(driver.fallback_reason().is_none()),
    ///     Backend::Poll => assert!(driver.fallback_reason().is_some()),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn build(&self) -> io::Result<Driver> {
        select::build(self)
    }
}
