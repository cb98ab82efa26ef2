use std::io;

use super::{OpCode, Readiness};
use crate::os::sys::{self, OwnedFile};

/// Closes a file (an `OwnedFd` on Unix, an `OwnedHandle` on Windows) and
/// reports the error `close(2)` gives (a deferred write error on some
/// filesystems). The fd is gone afterwards whatever the result,
/// as on Linux; an unsubmitted `Close` closes it when dropped.
#[derive(Debug)]
pub struct Close {
    fd: Option<OwnedFile>,
}

impl Close {
    /// Closes `fd`.
    pub fn new(fd: OwnedFile) -> Self {
        Close { fd: Some(fd) }
    }

    /// The fd, now the caller's to close: from here on only the kernel (or
    /// `perform`) may close it.
    fn release(&mut self) -> io::Result<OwnedFile> {
        self.fd
            .take()
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
        let fd = self
            .release()
            .map_or(-1, std::os::fd::IntoRawFd::into_raw_fd);
        io_uring::opcode::Close::new(io_uring::types::Fd(fd)).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::close(self.release()?)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
