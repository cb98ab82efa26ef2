use std::io;

use super::{OpCode, Readiness};

/// Does nothing, through the whole submission and completion path. Useful to
/// measure a driver's own overhead.
///
/// ```
/// use proactor::op::{Nop, Op};
/// use std::time::Instant;
///
/// # fn main() -> std::io::Result<()> {
/// let driver = proactor::Driver::new()?;
/// let start = Instant::now();
/// driver.block_on(async {
///     for _ in 0..1000 {
///         Op::with_driver(Nop::new(), driver.clone()).await?;
///     }
///     Ok::<_, std::io::Error>(())
/// })?;
/// println!("{:?} per NOP", start.elapsed() / 1000);
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Nop {
    _private: (),
}

impl Nop {
    /// A no-op.
    ///
    /// ```
    /// use proactor::op::{Nop, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async { Op::new(Nop::new())?.await })?;
    /// # Ok(()) }
    /// ```
    pub fn new() -> Self {
        Nop::default()
    }
}

// SAFETY: a NOP entry carries no pointers; perform touches nothing.
unsafe impl OpCode for Nop {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Nop::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Nop::new().build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Now
    }

    fn perform(&mut self) -> io::Result<usize> {
        Ok(0)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
