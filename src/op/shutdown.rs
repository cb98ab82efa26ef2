use super::{OpCode, Readiness};
use crate::os::{sys, AsRawSource};
use std::io;
use std::net::Shutdown as How;

/// Shuts down the read half, the write half or both of a connection.
///
/// ```
/// use proactor::op::{Op, Shutdown};
/// use std::io::Read;
/// use std::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let a = TcpStream::connect(listener.local_addr()?)?;
/// let (b, _) = listener.accept()?;
/// proactor::block_on(async { Op::new(Shutdown::new(a, std::net::Shutdown::Write))?.await })?;
/// assert_eq!((&b).read(&mut [0; 8])?, 0); // end of stream
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Shutdown<F> {
    fd: F,
    how: How,
}

impl<F: AsRawSource + Send + 'static> Shutdown<F> {
    /// `shutdown(2)` of `fd`.
    ///
    /// ```
    /// use proactor::op::{Op, Shutdown};
    /// use std::io::Read;
    /// use std::net::Shutdown as How;
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = Arc::new(std::net::TcpStream::connect(listener.local_addr()?)?);
    /// let (mut server, _) = listener.accept()?;
    /// proactor::block_on(async { Op::new(Shutdown::new(client.clone(), How::Both))?.await })?;
    /// assert_eq!(server.read(&mut [0; 8])?, 0);
    /// # Ok(()) }
    /// ```
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
