use std::io;
use std::time::Duration;

use super::{OpCode, Readiness};

/// Completes after a duration: `IORING_OP_TIMEOUT` on io_uring, the deadline
/// queue on the readiness back end. Dropping it early cancels the timer.
///
/// ```
/// use proactor::op::{Op, Timeout};
/// use std::time::{Duration, Instant};
///
/// # fn main() -> std::io::Result<()> {
/// let start = Instant::now();
/// proactor::block_on(async { Op::new(Timeout::new(Duration::from_millis(10)))?.await })?;
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Timeout {
    duration: Duration,
    #[cfg(all(target_os = "linux", feature = "uring"))]
    timespec: io_uring::types::Timespec,
}

impl Timeout {
    /// A timer of `duration`.
    ///
    /// ```
    /// use proactor::op::{Op, Timeout};
    /// use std::time::{Duration, Instant};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let start = Instant::now();
    /// proactor::block_on(async { Op::new(Timeout::new(Duration::ZERO))?.await })?;
    /// assert!(start.elapsed() < Duration::from_secs(5));
    /// # Ok(()) }
    /// ```
    pub fn new(duration: Duration) -> Self {
        // The kernel's timespec holds signed seconds: longer is forever
        // enough, and must not wrap into a negative (invalid) time.
        let duration = duration.min(Duration::from_secs(i64::MAX as u64));
        Timeout {
            duration,
            #[cfg(all(target_os = "linux", feature = "uring"))]
            timespec: io_uring::types::Timespec::from(duration),
        }
    }
}

// SAFETY: the entry points at `timespec`, a field of self, which the driver
// keeps boxed and unmoved until the completion.
unsafe impl OpCode for Timeout {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Timeout::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Timeout::new(&self.timespec).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Timer(self.duration)
    }

    fn perform(&mut self) -> io::Result<usize> {
        // Only reached through io_uring's per-op fallback: sleep on the pool.
        std::thread::sleep(self.duration);
        Ok(0)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        match result {
            // io_uring reports expiry as ETIME.
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            other => other.map(drop),
        }
    }
}
