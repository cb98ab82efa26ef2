use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};

use super::{OpCode, Readiness};

/// Opcode no kernel has: operations that name it always run on the
/// blocking pool, on both back ends. See [`OpCode`] for an operation
/// that uses it.
///
/// ```
/// use proactor::op::{Blocking, OpCode, POOL_ONLY};
///
/// # #[cfg(all(target_os = "linux", feature = "uring"))]
/// assert_eq!(<Blocking<fn() -> (), ()> as OpCode>::URING_OPCODE, POOL_ONLY);
/// assert_eq!(POOL_ONLY, u8::MAX);
/// ```
pub const POOL_ONLY: u8 = u8::MAX;

/// Runs a closure on the driver's bounded blocking pool (for work with no
/// kernel operation, such as name resolution). Dropping the future does not
/// stop the closure; its result is then dropped.
///
/// If the closure panics, the panic is caught on the pool (the pool thread
/// goes on serving) and resumed where the future is polled, as joining a
/// thread would report it.
///
/// ```
/// use proactor::op::{Blocking, Op};
///
/// # fn main() -> std::io::Result<()> {
/// let sum = proactor::block_on(async { Op::new(Blocking::new(|| 2 + 2))?.await })?;
/// assert_eq!(sum, 4);
/// # Ok(()) }
/// ```
pub struct Blocking<F, T> {
    work: Option<F>,
    output: Option<T>,
    panic: Option<Box<dyn Any + Send>>,
}

impl<F, T> std::fmt::Debug for Blocking<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking")
            .field("done", &self.output.is_some())
            .field("panicked", &self.panic.is_some())
            .finish()
    }
}

impl<F: FnOnce() -> T + Send + 'static, T: Send + 'static> Blocking<F, T> {
    /// Runs `work` on the pool. It may block: the event loop goes on.
    ///
    /// ```
    /// use proactor::op::{Blocking, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().to_owned();
    /// // A blocking std call, off the event loop.
    /// let entries = proactor::block_on(async {
    ///     Op::new(Blocking::new(move || std::fs::read_dir(path).map(|dir| dir.count())))?.await
    /// })??;
    /// assert_eq!(entries, 0);
    /// # Ok(()) }
    /// ```
    pub fn new(work: F) -> Self {
        Blocking {
            work: Some(work),
            output: None,
            panic: None,
        }
    }
}

// SAFETY: no kernel request ever points into this operation: it only runs
// on the pool.
unsafe impl<F: FnOnce() -> T + Send + 'static, T: Send + 'static> OpCode for Blocking<F, T> {
    type Output = io::Result<T>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = POOL_ONLY;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        // Never submitted (POOL_ONLY is never supported); a NOP is harmless.
        io_uring::opcode::Nop::new().build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        let work = self
            .work
            .take()
            .ok_or_else(|| io::Error::other("blocking work ran twice"))?;
        // Unwind safety: on a panic nothing of `self` is left half-written;
        // the payload is only carried to the future.
        match panic::catch_unwind(AssertUnwindSafe(work)) {
            Ok(output) => {
                self.output = Some(output);
                Ok(0)
            }
            Err(payload) => {
                self.panic = Some(payload);
                Err(io::Error::other("the blocking work panicked"))
            }
        }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<T> {
        if let Some(payload) = self.panic {
            panic::resume_unwind(payload);
        }
        result?;
        self.output
            .ok_or_else(|| io::Error::other("blocking work finished without output"))
    }
}
