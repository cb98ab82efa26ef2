use super::{OpCode, Readiness};
use crate::os::{sys, AsRawFile};
use std::io;

/// Sets a file's length (`ftruncate(2)`; `IORING_OP_FTRUNCATE` from Linux
/// 6.9, the blocking pool before).
///
/// ```
/// use proactor::op::{Ftruncate, Op};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// std::fs::write(&path, b"hello, world")?;
/// let file = std::fs::OpenOptions::new().write(true).open(&path)?;
/// proactor::block_on(async { Op::new(Ftruncate::new(file, 5))?.await })?;
/// assert_eq!(std::fs::read(&path)?, b"hello");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Ftruncate<F> {
    fd: F,
    len: u64,
}

impl<F: AsRawFile + Send + 'static> Ftruncate<F> {
    /// Truncates or extends `fd` to `len` bytes.
    ///
    /// ```
    /// use proactor::op::{Ftruncate, Op};
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// let file = Arc::new(std::fs::File::create(&path)?);
    /// proactor::block_on(async { Op::new(Ftruncate::new(file.clone(), 4096))?.await })?;
    /// assert_eq!(file.metadata()?.len(), 4096); // extended with zeros
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, len: u64) -> Self {
        Ftruncate { fd, len }
    }
}

// SAFETY: the entry carries no pointers.
unsafe impl<F: AsRawFile + Send + 'static> OpCode for Ftruncate<F> {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Ftruncate::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Ftruncate::new(io_uring::types::Fd(self.fd.as_raw_file()), self.len)
            .build()
    }

    fn validate(&self) -> io::Result<()> {
        sys::check_offset(self.len)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::set_len(self.fd.as_raw_file(), self.len)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
