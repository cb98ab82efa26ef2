use std::io;
use std::os::fd::AsRawFd;

use socket2::{SockAddr, SockAddrStorage};

use super::{cvt, finish_read, record_read, Interest, OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBufMut};

/// Receives from a connected socket into `buf` (`recv(2)`).
///
/// On a datagram socket, a datagram longer than the buffer is truncated:
/// the rest of it is discarded and the count is what fits.
#[derive(Debug)]
pub struct Recv<F, B> {
    fd: F,
    buf: B,
}

impl<F: AsRawFd + Send + 'static, B: IoBufMut> Recv<F, B> {
    /// Receives up to `buf.bytes_total()` bytes.
    pub fn new(fd: F, buf: B) -> Self {
        Recv { fd, buf }
    }
}

// SAFETY: the entry points into `buf`, stable while self lives (IoBufMut).
unsafe impl<F: AsRawFd + Send + 'static, B: IoBufMut> OpCode for Recv<F, B> {
    type Output = BufResult<usize, B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Recv::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_total());
        io_uring::opcode::Recv::new(
            io_uring::types::Fd(self.fd.as_raw_fd()),
            self.buf.stable_mut_ptr(),
            len,
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_total()) as usize;
        // SAFETY: the pointer is valid for `len` writable bytes.
        cvt(unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                self.buf.stable_mut_ptr().cast(),
                len,
                0,
            )
        })
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        finish_read(self.buf, result)
    }
}

/// The message header and address a `recvmsg` fills; boxed so the kernel's
/// pointers stay valid.
struct RecvMsgParts {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddrStorage,
}

// SAFETY: the raw pointers inside only point into this struct and the
// operation's buffer, which move between threads together with it.
unsafe impl Send for RecvMsgParts {}

/// Receives one datagram and its sender's address (`recvmsg(2)`). A datagram
/// longer than the buffer is truncated; the rest is discarded.
pub struct RecvFrom<F, B> {
    fd: F,
    buf: B,
    parts: Box<RecvMsgParts>,
}

impl<F, B> std::fmt::Debug for RecvFrom<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvFrom").finish_non_exhaustive()
    }
}

impl<F: AsRawFd + Send + 'static, B: IoBufMut> RecvFrom<F, B> {
    /// Receives one datagram into `buf`.
    pub fn new(fd: F, buf: B) -> Self {
        // SAFETY: msghdr and iovec are plain old data; zero is valid.
        let (msg, iov) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        RecvFrom {
            fd,
            buf,
            parts: Box::new(RecvMsgParts {
                msg,
                iov,
                addr: SockAddrStorage::zeroed(),
            }),
        }
    }

    /// Points the header at the buffer and address, at their final places.
    fn msghdr(&mut self) -> *mut libc::msghdr {
        let parts = &mut *self.parts;
        parts.iov.iov_base = self.buf.stable_mut_ptr().cast();
        parts.iov.iov_len = capped_len(self.buf.bytes_total()) as usize;
        parts.msg.msg_iov = &mut parts.iov;
        parts.msg.msg_iovlen = 1;
        parts.msg.msg_name = (&mut parts.addr as *mut SockAddrStorage).cast();
        parts.msg.msg_namelen = parts.addr.size_of();
        &mut parts.msg
    }
}

// SAFETY: the entry points into `parts` (boxed) and `buf` (stable), both
// owned by self.
unsafe impl<F: AsRawFd + Send + 'static, B: IoBufMut> OpCode for RecvFrom<F, B> {
    type Output = BufResult<(usize, SockAddr), B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::RecvMsg::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let msg = self.msghdr();
        io_uring::opcode::RecvMsg::new(io_uring::types::Fd(self.fd.as_raw_fd()), msg).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let msg = self.msghdr();
        // SAFETY: the header points at our buffer and address storage.
        cvt(unsafe { libc::recvmsg(self.fd.as_raw_fd(), msg, 0) })
    }

    fn complete(mut self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        record_read(&mut self.buf, &result);
        let this = *self;
        let RecvMsgParts { msg, addr, .. } = *this.parts;
        // SAFETY: the kernel initialised `msg_namelen` bytes of `addr`.
        let result = result.map(|n| (n, unsafe { SockAddr::new(addr, msg.msg_namelen) }));
        (result, this.buf)
    }
}
