use std::io;

use socket2::SockAddr;

use super::{finish_read, record_read, Interest, OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBufMut};
use crate::os::{sys, AsRawSource};

/// Receives from a connected socket into `buf` (`recv(2)`).
///
/// On a datagram socket, a datagram longer than the buffer is truncated:
/// the rest of it is discarded and the count is what fits.
///
/// ```
/// use proactor::op::{Op, Recv};
/// use std::net::UdpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// b.set_nonblocking(true)?; // for the readiness back end
/// b.connect(a.local_addr()?)?;
/// a.send_to(b"a long datagram", b.local_addr()?)?;
/// let (n, buf) = proactor::block_on(Op::new(Recv::new(b, vec![0; 6]))?);
/// assert_eq!(&buf[..n?], b"a long"); // truncated
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Recv<F, B> {
    fd: F,
    buf: B,
}

impl<F: AsRawSource + Send + 'static, B: IoBufMut> Recv<F, B> {
    /// Receives up to `buf.bytes_total()` bytes.
    ///
    /// ```
    /// use proactor::op::{Op, Recv};
    /// use std::io::Write;
    /// use std::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let a = TcpStream::connect(listener.local_addr()?)?;
    /// let (b, _) = listener.accept()?;
    /// b.set_nonblocking(true)?;
    /// (&a).write_all(b"stream")?;
    /// let (n, buf) = proactor::block_on(Op::new(Recv::new(b, Vec::with_capacity(64)))?);
    /// assert_eq!(&buf[..n?], b"stream");
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, buf: B) -> Self {
        Recv { fd, buf }
    }
}

// SAFETY: the entry points into `buf`, stable while self lives (IoBufMut).
unsafe impl<F: AsRawSource + Send + 'static, B: IoBufMut> OpCode for Recv<F, B> {
    type Output = BufResult<usize, B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Recv::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_total());
        io_uring::opcode::Recv::new(
            io_uring::types::Fd(self.fd.as_raw_source()),
            self.buf.stable_mut_ptr(),
            len,
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_total()) as usize;
        // SAFETY: the pointer is valid for `len` writable bytes.
        unsafe { sys::recv(self.fd.as_raw_source(), self.buf.stable_mut_ptr(), len) }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        finish_read(self.buf, result)
    }
}

/// The message header and address io_uring's `recvmsg` fills; boxed so the
/// kernel's pointers stay valid.
#[cfg(all(target_os = "linux", feature = "uring"))]
struct RecvMsgParts {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: socket2::SockAddrStorage,
}

// SAFETY: the raw pointers inside only point into this struct and the
// operation's buffer, which move between threads together with it.
#[cfg(all(target_os = "linux", feature = "uring"))]
unsafe impl Send for RecvMsgParts {}

/// Receives one datagram and its sender's address (`recvmsg(2)` on
/// io_uring, `recvfrom(2)` otherwise). A datagram longer than the buffer is
/// truncated; the rest is discarded.
///
/// ```
/// use proactor::op::{Op, RecvFrom};
/// use std::net::UdpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// b.set_nonblocking(true)?; // for the readiness back end
/// a.send_to(b"hello", b.local_addr()?)?;
/// let (res, buf) = proactor::block_on(Op::new(RecvFrom::new(b, vec![0; 64]))?);
/// let (n, from) = res?;
/// assert_eq!(&buf[..n], b"hello");
/// assert_eq!(from.as_socket(), Some(a.local_addr()?));
/// # Ok(()) }
/// ```
pub struct RecvFrom<F, B> {
    fd: F,
    buf: B,
    #[cfg(all(target_os = "linux", feature = "uring"))]
    parts: Box<RecvMsgParts>,
    /// The sender's address, when the readiness path received.
    received_from: Option<SockAddr>,
}

impl<F, B> std::fmt::Debug for RecvFrom<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvFrom").finish_non_exhaustive()
    }
}

impl<F: AsRawSource + Send + 'static, B: IoBufMut> RecvFrom<F, B> {
    /// Receives one datagram into `buf`.
    ///
    /// ```
    /// use proactor::op::{Op, RecvFrom};
    /// use std::net::UdpSocket;
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// b.set_nonblocking(true)?; // for the readiness back end
    /// let b = Arc::new(b);
    /// a.send_to(b"one", b.local_addr()?)?;
    /// a.send_to(b"two", b.local_addr()?)?;
    /// for expected in [b"one", b"two"] {
    ///     let (res, buf) = proactor::block_on(Op::new(RecvFrom::new(b.clone(), vec![0; 8]))?);
    ///     assert_eq!(&buf[..res?.0], expected);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, buf: B) -> Self {
        RecvFrom {
            fd,
            buf,
            #[cfg(all(target_os = "linux", feature = "uring"))]
            parts: Box::new(RecvMsgParts {
                // SAFETY: msghdr is plain old data; zero is valid.
                msg: unsafe { std::mem::zeroed() },
                // SAFETY: iovec is plain old data; zero is valid.
                iov: unsafe { std::mem::zeroed() },
                addr: socket2::SockAddrStorage::zeroed(),
            }),
            received_from: None,
        }
    }

    /// Points the header at the buffer and address, at their final places.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn msghdr(&mut self) -> *mut libc::msghdr {
        let parts = &mut *self.parts;
        parts.iov.iov_base = self.buf.stable_mut_ptr().cast();
        parts.iov.iov_len = capped_len(self.buf.bytes_total()) as usize;
        parts.msg.msg_iov = &mut parts.iov;
        parts.msg.msg_iovlen = 1;
        parts.msg.msg_name = (&mut parts.addr as *mut socket2::SockAddrStorage).cast();
        parts.msg.msg_namelen = parts.addr.size_of();
        &mut parts.msg
    }

    /// The sender: from the readiness path, or from what io_uring filled in.
    fn sender(self) -> (io::Result<SockAddr>, B) {
        if let Some(addr) = self.received_from {
            return (Ok(addr), self.buf);
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        {
            let RecvMsgParts { msg, addr, .. } = *self.parts;
            // SAFETY: the kernel initialised `msg_namelen` bytes of `addr`.
            (
                Ok(unsafe { SockAddr::new(addr, msg.msg_namelen) }),
                self.buf,
            )
        }
        #[cfg(not(all(target_os = "linux", feature = "uring")))]
        (
            Err(io::Error::other(
                "receive completed without a sender address",
            )),
            self.buf,
        )
    }
}

// SAFETY: the entry points into `parts` (boxed) and `buf` (stable), both
// owned by self.
unsafe impl<F: AsRawSource + Send + 'static, B: IoBufMut> OpCode for RecvFrom<F, B> {
    type Output = BufResult<(usize, SockAddr), B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::RecvMsg::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let msg = self.msghdr();
        io_uring::opcode::RecvMsg::new(io_uring::types::Fd(self.fd.as_raw_source()), msg).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_total()) as usize;
        // SAFETY: the pointer is valid for `len` writable bytes.
        let (received, from) =
            unsafe { sys::recv_from(self.fd.as_raw_source(), self.buf.stable_mut_ptr(), len) }?;
        self.received_from = Some(from);
        Ok(received)
    }

    fn complete(mut self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        record_read(&mut self.buf, &result);
        let (sender, buf) = self.sender();
        (result.and_then(|n| Ok((n, sender?))), buf)
    }
}
