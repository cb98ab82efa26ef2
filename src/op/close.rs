use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};

use super::{cvt, OpCode, Readiness};

/// Closes an fd and reports the error `close(2)` gives (a deferred write
/// error on some filesystems). The fd is gone afterwards whatever the result,
/// as on Linux; an unsubmitted `Close` closes it when dropped.
#[derive(Debug)]
pub struct Close {
    fd: Option<OwnedFd>,
}

impl Close {
    /// Closes `fd`.
    pub fn new(fd: OwnedFd) -> Self {
        Close { fd: Some(fd) }
    }

    /// The fd, now the caller's to close: from here on only the kernel (or
    /// `perform`) may close it.
    fn release(&mut self) -> io::Result<i32> {
        self.fd
            .take()
            .map(IntoRawFd::into_raw_fd)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "close submitted twice"))
    }
}

// SAFETY: the entry carries no pointers.
unsafe impl OpCode for Close {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Close::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        // -1 makes the kernel fail the op with EBADF, should the impossible
        // double submit happen.
        let fd = self.release().unwrap_or(-1);
        io_uring::opcode::Close::new(io_uring::types::Fd(fd)).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        let fd = self.release()?;
        // SAFETY: we own `fd` (taken out of its OwnedFd) and close it once.
        cvt(unsafe { libc::close(fd) } as isize)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
