use std::io;
use std::net::Shutdown as How;
use std::os::fd::AsRawFd;

use super::{cvt, OpCode, Readiness};

/// Shuts down the read half, the write half or both of a connection.
#[derive(Debug)]
pub struct Shutdown<F> {
    fd: F,
    how: How,
}

impl<F: AsRawFd + Send + 'static> Shutdown<F> {
    /// `shutdown(2)` of `fd`.
    pub fn new(fd: F, how: How) -> Self {
        Shutdown { fd, how }
    }

    fn how(&self) -> i32 {
        match self.how {
            How::Read => libc::SHUT_RD,
            How::Write => libc::SHUT_WR,
            How::Both => libc::SHUT_RDWR,
        }
    }
}

// SAFETY: the entry carries no pointers.
unsafe impl<F: AsRawFd + Send + 'static> OpCode for Shutdown<F> {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Shutdown::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Shutdown::new(io_uring::types::Fd(self.fd.as_raw_fd()), self.how())
            .build()
    }

    fn readiness(&self) -> Readiness {
        // shutdown(2) never blocks.
        Readiness::Now
    }

    fn perform(&mut self) -> io::Result<usize> {
        // SAFETY: plain syscall on an fd.
        cvt(unsafe { libc::shutdown(self.fd.as_raw_fd(), self.how()) } as isize)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
