use super::{OpCode, Readiness};
use crate::os::{sys, AsRawSource};
use std::io;
use std::net::Shutdown as How;

/// Shuts down the read half, the write half or both of a connection.
#[derive(Debug)]
pub struct Shutdown<F> {
    fd: F,
    how: How,
}

impl<F: AsRawSource + Send + 'static> Shutdown<F> {
    /// `shutdown(2)` of `fd`.
    pub fn new(fd: F, how: How) -> Self {
        Shutdown { fd, how }
    }
}

// SAFETY: the entry carries no pointers.
unsafe impl<F: AsRawSource + Send + 'static> OpCode for Shutdown<F> {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Shutdown::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let how = match self.how {
            How::Read => libc::SHUT_RD,
            How::Write => libc::SHUT_WR,
            How::Both => libc::SHUT_RDWR,
        };
        io_uring::opcode::Shutdown::new(io_uring::types::Fd(self.fd.as_raw_source()), how).build()
    }

    fn readiness(&self) -> Readiness {
        // shutdown(2) never blocks.
        Readiness::Now
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::shutdown(self.fd.as_raw_source(), self.how)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
