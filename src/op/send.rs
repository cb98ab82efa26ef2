use std::io;

use socket2::SockAddr;

use super::{Interest, OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBuf};
use crate::os::{sys, AsRawSource};

/// Sends `buf`'s initialised bytes on a connected socket (`send(2)`, never
/// raising SIGPIPE).
///
/// ```
/// use proactor::op::{Op, Send};
/// use std::net::{Shutdown, TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let a = TcpStream::connect(listener.local_addr()?)?;
/// let _b = listener.accept()?;
/// a.set_nonblocking(true)?; // for the readiness back end
/// a.shutdown(Shutdown::Write)?;
/// // No SIGPIPE: an error.
/// let (res, _) = proactor::block_on(Op::new(Send::new(a, b"lost"))?);
/// assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Send<F, B> {
    fd: F,
    buf: B,
}

impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> Send<F, B> {
    /// Sends up to `buf.bytes_init()` bytes.
    ///
    /// ```
    /// use proactor::op::{Op, Send};
    /// use std::io::Read;
    /// use std::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let a = TcpStream::connect(listener.local_addr()?)?;
    /// let (b, _) = listener.accept()?;
    /// a.set_nonblocking(true)?;
    /// let (n, _) = proactor::block_on(Op::new(Send::new(a, b"hello".to_vec()))?);
    /// assert_eq!(n?, 5);
    /// let mut got = [0; 5];
    /// (&b).read_exact(&mut got)?;
    /// assert_eq!(&got, b"hello");
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, buf: B) -> Self {
        Send { fd, buf }
    }

    /// The same send as `IORING_OP_SEND_ZC` (see [`SendZc`](super::SendZc)).
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn zero_copy_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_init());
        // From a registered buffer, the kernel need not map its pages.
        let slot = self.buf.registered().and_then(|(_, slot)| slot);
        io_uring::opcode::SendZc::new(
            io_uring::types::Fd(self.fd.as_raw_source()),
            self.buf.stable_ptr(),
            len,
        )
        .buf_index(slot)
        .flags(sys::SEND_FLAGS)
        .build()
    }

    /// The buffer, back.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn into_buf(self) -> B {
        self.buf
    }
}

// SAFETY: the entry points into `buf`, stable while self lives (IoBuf).
unsafe impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> OpCode for Send<F, B> {
    type Output = BufResult<usize, B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Send::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_init());
        io_uring::opcode::Send::new(
            io_uring::types::Fd(self.fd.as_raw_source()),
            self.buf.stable_ptr(),
            len,
        )
        .flags(sys::SEND_FLAGS)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Writable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_init()) as usize;
        // SAFETY: the pointer is valid for `len` initialised bytes.
        unsafe { sys::send(self.fd.as_raw_source(), self.buf.stable_ptr(), len) }
    }

    fn bound_to(&self) -> Option<usize> {
        // A buffer of a registered set works only with its own driver.
        self.buf.registered().map(|(owner, _)| owner)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result, self.buf)
    }
}

/// The message header a `sendmsg` reads; boxed so the kernel's pointers to
/// it stay valid.
#[cfg(all(target_os = "linux", feature = "uring"))]
struct SendMsgParts {
    msg: libc::msghdr,
    iov: libc::iovec,
}

// SAFETY: the raw pointers inside only point into the operation that owns
// this, and move between threads together with it.
#[cfg(all(target_os = "linux", feature = "uring"))]
unsafe impl std::marker::Send for SendMsgParts {}

/// Sends `buf` as one datagram to `addr` (`sendto(2)`; `IORING_OP_SENDMSG`
/// on io_uring).
///
/// ```
/// use proactor::op::{Op, SendTo};
/// use std::net::UdpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// a.set_nonblocking(true)?; // for the readiness back end
/// let to = b.local_addr()?.into();
/// let (n, _) = proactor::block_on(Op::new(SendTo::new(a, b"datagram", to))?);
/// assert_eq!(n?, 8);
/// let mut buf = [0; 16];
/// let (n, _) = b.recv_from(&mut buf)?;
/// assert_eq!(&buf[..n], b"datagram");
/// # Ok(()) }
/// ```
pub struct SendTo<F, B> {
    fd: F,
    buf: B,
    addr: Box<SockAddr>,
    #[cfg(all(target_os = "linux", feature = "uring"))]
    parts: Box<SendMsgParts>,
}

impl<F, B> std::fmt::Debug for SendTo<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendTo")
            .field("addr", &self.addr.as_socket())
            .finish_non_exhaustive()
    }
}

impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> SendTo<F, B> {
    /// Sends `buf.bytes_init()` bytes to `addr`.
    ///
    /// ```
    /// use proactor::op::{Op, SendTo};
    /// use socket2::SockAddr;
    /// use std::net::UdpSocket;
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.set_nonblocking(true)?;
    /// let a = Arc::new(a);
    /// let to: SockAddr = b.local_addr()?.into();
    /// for word in ["one", "two"] {
    ///     proactor::block_on(Op::new(SendTo::new(a.clone(), word, to.clone()))?).0?;
    /// }
    /// let mut buf = [0; 8];
    /// let n = b.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], b"one");
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, buf: B, addr: SockAddr) -> Self {
        SendTo {
            fd,
            buf,
            addr: Box::new(addr),
            // SAFETY: msghdr and iovec are plain old data; zero is valid.
            #[cfg(all(target_os = "linux", feature = "uring"))]
            parts: Box::new(unsafe { std::mem::zeroed() }),
        }
    }

    /// Points the header at the buffer and address, at their final places.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn msghdr(&mut self) -> *const libc::msghdr {
        let parts = &mut *self.parts;
        parts.iov.iov_base = self.buf.stable_ptr() as *mut libc::c_void;
        parts.iov.iov_len = capped_len(self.buf.bytes_init()) as usize;
        parts.msg.msg_iov = &mut parts.iov;
        parts.msg.msg_iovlen = 1;
        parts.msg.msg_name = self.addr.as_ptr() as *mut libc::c_void;
        parts.msg.msg_namelen = self.addr.len();
        &parts.msg
    }
}

// SAFETY: the entry points into `buf` (stable) and `addr` (boxed), owned by
// self.
unsafe impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> OpCode for SendTo<F, B> {
    type Output = BufResult<usize, B>;

    // SENDMSG (5.3) rather than SEND with a destination (6.0), which the
    // opcode probe cannot tell apart from plain SEND.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::SendMsg::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let msg = self.msghdr();
        io_uring::opcode::SendMsg::new(io_uring::types::Fd(self.fd.as_raw_source()), msg)
            .flags(sys::SEND_FLAGS as u32)
            .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Writable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_init()) as usize;
        // SAFETY: buffer and address pointers are valid for their lengths.
        unsafe {
            sys::send_to(
                self.fd.as_raw_source(),
                self.buf.stable_ptr(),
                len,
                &self.addr,
            )
        }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result, self.buf)
    }
}
