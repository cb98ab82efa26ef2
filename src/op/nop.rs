use std::io;

use super::{OpCode, Readiness};

/// Does nothing, through the whole submission and completion path. Useful to
/// measure a driver's own overhead.
#[derive(Debug, Default)]
pub struct Nop {
    _private: (),
}

impl Nop {
    /// A no-op.
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
