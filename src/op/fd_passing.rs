//! Messages that carry file descriptors over Unix sockets (`SCM_RIGHTS`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::{record_read, Interest, OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBuf, IoBufMut};
use crate::os::{sys, AsRawSource};

/// Most fds one message carries: Linux's `SCM_MAX_FD`, applied on every
/// system so each behaves alike.
pub const MAX_FDS_PER_MESSAGE: usize = 253;

/// A message header, its one buffer description and its control data, on
/// the heap: the kernel holds pointers to all three until the operation
/// completes.
struct Message {
    header: libc::msghdr,
    iov: libc::iovec,
    /// Room for the control messages, in `cmsghdr`-aligned units.
    control: Vec<libc::cmsghdr>,
}

// SAFETY: the raw pointers point into the `Message` itself and into buffers
// owned by the same operation; they travel with it and nothing else uses
// them.
unsafe impl Send for Message {}

impl Message {
    /// Room for `fds` descriptors.
    fn with_room_for(fds: usize) -> Box<Message> {
        let bytes = control_space(fds);
        let units = bytes.div_ceil(std::mem::size_of::<libc::cmsghdr>());
        Box::new(Message {
            // SAFETY: msghdr and iovec are plain old data; zero is valid.
            header: unsafe { std::mem::zeroed() },
            // SAFETY: as above.
            iov: unsafe { std::mem::zeroed() },
            // SAFETY: cmsghdr is plain old data; zero is valid.
            control: vec![unsafe { std::mem::zeroed() }; units],
        })
    }

    /// Points the header at `len` bytes at `base` and at the control room
    /// (`control_len` bytes of it; none if zero), at their final places.
    fn point(&mut self, base: *mut u8, len: usize, control_len: usize) -> *mut libc::msghdr {
        self.iov = libc::iovec {
            iov_base: base.cast(),
            iov_len: len,
        };
        self.header.msg_iov = &mut self.iov;
        self.header.msg_iovlen = 1;
        self.header.msg_flags = 0;
        if control_len == 0 {
            self.header.msg_control = std::ptr::null_mut();
            self.header.msg_controllen = 0;
        } else {
            self.header.msg_control = self.control.as_mut_ptr().cast();
            self.header.msg_controllen = control_len as _;
        }
        &mut self.header
    }

    /// The fds the kernel put in the control data, owned from here on.
    fn take_fds(&self) -> Vec<OwnedFd> {
        let mut fds = Vec::new();
        if self.header.msg_control.is_null() {
            return fds;
        }
        // SAFETY: the header describes the control data the kernel wrote
        // (msg_controllen as it set it); CMSG_FIRSTHDR/NXTHDR stay within it.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&self.header) };
        while !cmsg.is_null() {
            // SAFETY: a non-null cmsg from CMSG_FIRSTHDR/NXTHDR is in bounds.
            let header = unsafe { &*cmsg };
            if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_RIGHTS {
                // SAFETY: CMSG_LEN(0) is a constant computation.
                let data_len = header.cmsg_len as usize - unsafe { libc::CMSG_LEN(0) } as usize;
                // SAFETY: the data of an SCM_RIGHTS message is that many
                // bytes of fds, maybe unaligned.
                let data = unsafe { libc::CMSG_DATA(cmsg) }.cast::<RawFd>();
                for i in 0..data_len / std::mem::size_of::<RawFd>() {
                    // SAFETY: within the message's data, read unaligned.
                    let fd = unsafe { data.add(i).read_unaligned() };
                    // SAFETY: the kernel installed this fd for the receiver;
                    // nothing else owns it.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
            // SAFETY: as for CMSG_FIRSTHDR.
            cmsg = unsafe { libc::CMSG_NXTHDR(&self.header, cmsg) };
        }
        fds
    }

    fn truncated(&self) -> bool {
        self.header.msg_flags & libc::MSG_CTRUNC != 0
    }
}

/// Control data bytes for `fds` descriptors (none for zero).
fn control_space(fds: usize) -> usize {
    if fds == 0 {
        return 0;
    }
    // SAFETY: CMSG_SPACE is a constant computation; validate() bounds fds.
    unsafe { libc::CMSG_SPACE((fds * std::mem::size_of::<RawFd>()) as u32) as usize }
}

/// Whether `socket` is a stream socket (`SOCK_STREAM`).
fn is_stream(socket: RawFd) -> bool {
    // SAFETY: the operation owns the socket for the call.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(socket) };
    socket2::SockRef::from(&borrowed)
        .r#type()
        .is_ok_and(|ty| ty == socket2::Type::STREAM)
}

fn check_fd_count(count: usize) -> io::Result<()> {
    if count > MAX_FDS_PER_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{count} fds in one message; at most {MAX_FDS_PER_MESSAGE}"),
        ));
    }
    Ok(())
}

/// Sends `buf`'s initialised bytes over a Unix socket with `fds` attached
/// (`sendmsg(2)` with `SCM_RIGHTS`): the receiver gets its own descriptors
/// for the same open files. The operation keeps `fds` open until it
/// completes and hands them back; the sender's own copies stay its own.
///
/// At most [`MAX_FDS_PER_MESSAGE`] fds (more is an `InvalidInput` error). On
/// a stream socket the fds arrive with the first byte of `buf`, and only a
/// receive that asks for fds ([`RecvWithFds`]) collects them.
///
/// ```
/// use proactor::op::{Op, RecvWithFds, SendWithFds};
/// use std::os::unix::net::UnixDatagram;
///
/// # fn main() -> std::io::Result<()> {
/// let (a, b) = UnixDatagram::pair()?;
/// b.set_nonblocking(true)?; // for the readiness back end
/// let file = std::fs::File::open("Cargo.toml")?;
/// proactor::block_on(async {
///     let (sent, (_, fds)) = Op::new(SendWithFds::new(a, b"here", vec![file]))?.await;
///     assert_eq!(sent?, 4);
///     drop(fds); // our copy; the message holds its own
///     let (got, buf) = Op::new(RecvWithFds::new(b, vec![0; 8], 1))?.await;
///     let got = got?;
///     assert_eq!(&buf[..got.len], b"here");
///     let received = std::fs::File::from(got.fds.into_iter().next().unwrap());
///     assert!(received.metadata()?.len() > 0);
///     Ok(())
/// })
/// # }
/// ```
pub struct SendWithFds<S, B, F> {
    socket: S,
    buf: B,
    fds: Vec<F>,
    message: Box<Message>,
}

impl<S, B, F> std::fmt::Debug for SendWithFds<S, B, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendWithFds")
            .field("fds", &self.fds.len())
            .finish_non_exhaustive()
    }
}

impl<S: AsRawSource + Send + 'static, B: IoBuf, F: AsFd + Send + 'static> SendWithFds<S, B, F> {
    /// Sends `buf` with `fds` over `socket`.
    pub fn new(socket: S, buf: B, fds: Vec<F>) -> Self {
        let room = fds.len().min(MAX_FDS_PER_MESSAGE);
        SendWithFds {
            socket,
            buf,
            fds,
            message: Message::with_room_for(room),
        }
    }

    /// The header, pointing at the buffer and the fds, at their final places.
    fn header(&mut self) -> *mut libc::msghdr {
        let len = capped_len(self.buf.bytes_init()) as usize;
        let control_len = control_space(self.fds.len());
        // The kernel only reads the buffer.
        let header = self
            .message
            .point(self.buf.stable_ptr().cast_mut(), len, control_len);
        if control_len > 0 {
            // SAFETY: the header points at `control_len` bytes of room,
            // enough for one SCM_RIGHTS message with every fd.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(header);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len =
                    libc::CMSG_LEN((self.fds.len() * std::mem::size_of::<RawFd>()) as u32) as _;
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for (i, fd) in self.fds.iter().enumerate() {
                    data.add(i).write_unaligned(fd.as_fd().as_raw_fd());
                }
            }
        }
        header
    }
}

// SAFETY: the entry points into `message` (boxed) and `buf` (stable), both
// owned by self; the fds it names stay open in `fds` until completion.
unsafe impl<S: AsRawSource + Send + 'static, B: IoBuf, F: AsFd + Send + 'static> OpCode
    for SendWithFds<S, B, F>
{
    type Output = BufResult<usize, (B, Vec<F>)>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::SendMsg::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let header = self.header();
        io_uring::opcode::SendMsg::new(io_uring::types::Fd(self.socket.as_raw_source()), header)
            .flags(sys::SEND_FLAGS as u32)
            .build()
    }

    fn validate(&self) -> io::Result<()> {
        check_fd_count(self.fds.len())?;
        if !self.fds.is_empty()
            && self.buf.bytes_init() == 0
            && is_stream(self.socket.as_raw_source())
        {
            // A stream carries fds with its bytes: with none, the kernel
            // sends nothing, and would drop the fds without a word.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "fds sent on a stream socket need at least one byte to travel with",
            ));
        }
        Ok(())
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.socket.as_raw_source(),
            interest: Interest::Writable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let header = self.header();
        // SAFETY: the header and what it points to are owned by self.
        sys::cvt(unsafe { libc::sendmsg(self.socket.as_raw_source(), header, sys::SEND_FLAGS) })
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result, (self.buf, self.fds))
    }
}

/// What [`RecvWithFds`] received: bytes at the start of the buffer, and the
/// fds that came with them.
#[derive(Debug)]
pub struct ReceivedWithFds {
    /// Bytes received.
    pub len: usize,
    /// The descriptors passed with them, owned (close-on-exec): dropping
    /// them closes them.
    pub fds: Vec<OwnedFd>,
    /// The sender passed more fds than there was room for; the kernel
    /// closed the rest (`MSG_CTRUNC`).
    pub fds_truncated: bool,
}

/// Receives into `buf` from a Unix socket, with room for up to `max_fds`
/// descriptors passed along (`recvmsg(2)`, `SCM_RIGHTS`). The descriptors
/// are owned by the output; if the future is dropped after the kernel
/// received them, they are closed.
///
/// At most [`MAX_FDS_PER_MESSAGE`] (more is an `InvalidInput` error).
pub struct RecvWithFds<S, B> {
    socket: S,
    buf: B,
    max_fds: usize,
    message: Box<Message>,
}

impl<S, B> std::fmt::Debug for RecvWithFds<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvWithFds")
            .field("max_fds", &self.max_fds)
            .finish_non_exhaustive()
    }
}

impl<S: AsRawSource + Send + 'static, B: IoBufMut> RecvWithFds<S, B> {
    /// Receives up to `buf.bytes_total()` bytes and up to `max_fds` fds.
    pub fn new(socket: S, buf: B, max_fds: usize) -> Self {
        RecvWithFds {
            socket,
            buf,
            max_fds,
            message: Message::with_room_for(max_fds.min(MAX_FDS_PER_MESSAGE)),
        }
    }

    fn header(&mut self) -> *mut libc::msghdr {
        let len = capped_len(self.buf.bytes_total()) as usize;
        let control_len = control_space(self.max_fds.min(MAX_FDS_PER_MESSAGE));
        self.message
            .point(self.buf.stable_mut_ptr(), len, control_len)
    }
}

// SAFETY: the entry points into `message` (boxed) and `buf` (stable), both
// owned by self; `complete` and `cleanup` own the fds the kernel installed.
unsafe impl<S: AsRawSource + Send + 'static, B: IoBufMut> OpCode for RecvWithFds<S, B> {
    type Output = BufResult<ReceivedWithFds, B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::RecvMsg::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let header = self.header();
        io_uring::opcode::RecvMsg::new(io_uring::types::Fd(self.socket.as_raw_source()), header)
            .flags(sys::RECV_FDS_FLAGS as u32)
            .build()
    }

    fn validate(&self) -> io::Result<()> {
        check_fd_count(self.max_fds)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.socket.as_raw_source(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let header = self.header();
        // SAFETY: the header and what it points to are owned by self.
        sys::cvt(unsafe { libc::recvmsg(self.socket.as_raw_source(), header, sys::RECV_FDS_FLAGS) })
    }

    fn complete(mut self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        record_read(&mut self.buf, &result);
        let received = result.and_then(|len| {
            let fds = self.message.take_fds();
            sys::set_cloexec_received(&fds)?;
            Ok(ReceivedWithFds {
                len,
                fds,
                fds_truncated: self.message.truncated(),
            })
        });
        (received, self.buf)
    }

    fn cleanup(self: Box<Self>, result: io::Result<usize>) {
        if result.is_ok() {
            drop(self.message.take_fds());
        }
    }
}
