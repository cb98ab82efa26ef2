use std::io;

use super::{OpCode, Readiness};

/// Opcode no kernel has: operations that name it always run on the
/// blocking pool, on both back ends.
pub const POOL_ONLY: u8 = u8::MAX;

/// Runs a closure on the driver's bounded blocking pool (for work with no
/// kernel operation, such as name resolution). Dropping the future does not
/// stop the closure; its result is then dropped.
pub struct Blocking<F, T> {
    work: Option<F>,
    output: Option<T>,
}

impl<F, T> std::fmt::Debug for Blocking<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking")
            .field("done", &self.output.is_some())
            .finish()
    }
}

impl<F: FnOnce() -> T + Send + 'static, T: Send + 'static> Blocking<F, T> {
    /// Runs `work` on the pool.
    pub fn new(work: F) -> Self {
        Blocking {
            work: Some(work),
            output: None,
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
        self.output = Some(work());
        Ok(0)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<T> {
        result?;
        self.output
            .ok_or_else(|| io::Error::other("blocking work finished without output"))
    }
}
