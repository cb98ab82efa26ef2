use super::{OpCode, Readiness};
use crate::os::{sys, AsRawFile};
use std::io;

/// Flushes a file's data (and, unless `data_only`, its metadata) to storage.
///
/// ```
/// use proactor::op::{Fsync, Op};
/// use std::sync::Arc;
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let mut file = std::fs::File::create(dir.path().join("data"))?;
/// std::io::Write::write_all(&mut file, b"durable")?;
/// let file = Arc::new(file);
/// proactor::block_on(async { Op::new(Fsync::new(file.clone(), false))?.await })?;
/// assert_eq!(file.metadata()?.len(), 7);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Fsync<F> {
    fd: F,
    data_only: bool,
}

impl<F: AsRawFile + Send + 'static> Fsync<F> {
    /// `fsync(2)`, or `fdatasync(2)` when `data_only`.
    ///
    /// ```
    /// use proactor::op::{Fsync, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// let file = std::fs::File::create(dir.path().join("data"))?;
    /// proactor::block_on(async { Op::new(Fsync::new(file, true))?.await })?; // fdatasync
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, data_only: bool) -> Self {
        Fsync { fd, data_only }
    }
}

// SAFETY: the entry carries no pointers.
unsafe impl<F: AsRawFile + Send + 'static> OpCode for Fsync<F> {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Fsync::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let flags = if self.data_only {
            io_uring::types::FsyncFlags::DATASYNC
        } else {
            io_uring::types::FsyncFlags::empty()
        };
        io_uring::opcode::Fsync::new(io_uring::types::Fd(self.fd.as_raw_file()))
            .flags(flags)
            .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::fsync(self.fd.as_raw_file(), self.data_only)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
