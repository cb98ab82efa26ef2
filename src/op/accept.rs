use std::io;

use socket2::SockAddr;

use super::{Interest, OpCode, Readiness};
use crate::os::sys::{self, OwnedSocket};
use crate::os::AsRawSource;

/// The peer address io_uring's accept fills in; boxed so the kernel's
/// pointers to it stay valid while the operation moves between owners.
#[cfg(all(target_os = "linux", feature = "uring"))]
struct PeerAddr {
    storage: socket2::SockAddrStorage,
    len: libc::socklen_t,
}

/// Accepts a connection on a listening socket. The new socket is
/// non-blocking (and close-on-exec on Unix). If the future is dropped and a
/// connection is accepted anyway, it is closed.
///
/// ```
/// use proactor::op::{Accept, Op};
///
/// # fn main() -> std::io::Result<()> {
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// listener.set_nonblocking(true)?; // for the readiness back end
/// let client = std::net::TcpStream::connect(listener.local_addr()?)?;
/// let (socket, peer) = proactor::block_on(async { Op::new(Accept::new(listener))?.await })?;
/// assert_eq!(peer.as_socket(), Some(client.local_addr()?));
/// let server = std::net::TcpStream::from(socket);
/// assert_eq!(server.peer_addr()?, client.local_addr()?);
/// # Ok(()) }
/// ```
pub struct Accept<F> {
    fd: F,
    #[cfg(all(target_os = "linux", feature = "uring"))]
    peer: Box<PeerAddr>,
    /// The peer's address, when the readiness path accepted.
    accepted_from: Option<SockAddr>,
    /// Where a connection accepted for a future that is gone goes: its
    /// listener's queue (else it is closed).
    hand_back: Option<std::sync::Arc<crate::net::accepted::Accepted>>,
}

impl<F> std::fmt::Debug for Accept<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accept").finish_non_exhaustive()
    }
}

impl<F: AsRawSource + Send + 'static> Accept<F> {
    /// Accepts on the listening socket `fd`.
    ///
    /// ```
    /// use proactor::op::{Accept, Op};
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let listener = Arc::new(std::net::TcpListener::bind("127.0.0.1:0")?);
    /// listener.set_nonblocking(true)?;
    /// // Shared: the listener stays usable after the operation.
    /// let accept = Accept::new(listener.clone());
    /// let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// proactor::block_on(async { Op::new(accept)?.await })?;
    /// assert!(listener.accept().is_err()); // the one connection was taken
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F) -> Self {
        Accept {
            fd,
            #[cfg(all(target_os = "linux", feature = "uring"))]
            peer: {
                let storage = socket2::SockAddrStorage::zeroed();
                let len = storage.size_of();
                Box::new(PeerAddr { storage, len })
            },
            accepted_from: None,
            hand_back: None,
        }
    }

    /// An accept whose connection, if its future is gone by then, goes to
    /// `accepted` instead of being closed.
    pub(crate) fn handing_back(
        fd: F,
        accepted: std::sync::Arc<crate::net::accepted::Accepted>,
    ) -> Self {
        Accept {
            hand_back: Some(accepted),
            ..Accept::new(fd)
        }
    }
}

fn owned(raw: usize) -> OwnedSocket {
    // SAFETY: a successful accept returns a new socket nobody else owns.
    unsafe { sys::owned_socket(raw) }
}

// SAFETY: the entry points into `peer`, a Box owned by self whose heap
// memory does not move.
unsafe impl<F: AsRawSource + Send + 'static> OpCode for Accept<F> {
    type Output = io::Result<(OwnedSocket, SockAddr)>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Accept::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let peer = &mut *self.peer;
        let addr: *mut libc::sockaddr = (&mut peer.storage as *mut socket2::SockAddrStorage).cast();
        io_uring::opcode::Accept::new(
            io_uring::types::Fd(self.fd.as_raw_source()),
            addr,
            &mut peer.len,
        )
        .flags(sys::ACCEPT_FLAGS)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let (socket, addr) = sys::accept(self.fd.as_raw_source())?;
        self.accepted_from = Some(addr);
        Ok(socket)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        let socket = owned(result?);
        if let Some(addr) = self.accepted_from {
            return Ok((socket, addr));
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        {
            let PeerAddr { storage, len } = *self.peer;
            // SAFETY: the kernel initialised `len` bytes of the storage.
            Ok((socket, unsafe { SockAddr::new(storage, len) }))
        }
        #[cfg(not(all(target_os = "linux", feature = "uring")))]
        Err(io::Error::other("accept completed without a peer address"))
    }

    fn cleanup(self: Box<Self>, result: io::Result<usize>) {
        let socket = result.map(owned);
        if let (Ok(socket), Some(accepted)) = (socket, &self.hand_back) {
            accepted.keep(socket);
        }
    }
}

/// Accepts connections on a listening socket with one multishot request
/// (io_uring, Linux 5.19): an [`Accept`] whose entry asks for every
/// connection; each accepted socket is one result, queued for
/// [`Incoming`](crate::net::Incoming) until it takes it. Not an operation
/// of its own on the readiness back end: `Incoming` runs one [`Accept`]
/// after another there.
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) struct MultishotAccept<F>(Accept<F>);

#[cfg(all(target_os = "linux", feature = "uring"))]
impl<F: AsRawSource + Send + 'static> MultishotAccept<F> {
    pub(crate) fn new(fd: F) -> Self {
        MultishotAccept(Accept::new(fd))
    }
}

/// Owns the socket a successful accept returned.
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) fn accepted(raw: usize) -> OwnedSocket {
    owned(raw)
}

// SAFETY: the entry carries no pointers (no peer address with multishot);
// everything else is `Accept`'s, whose contract it keeps.
#[cfg(all(target_os = "linux", feature = "uring"))]
unsafe impl<F: AsRawSource + Send + 'static> OpCode for MultishotAccept<F> {
    type Output = <Accept<F> as OpCode>::Output;

    const URING_OPCODE: u8 = io_uring::opcode::AcceptMulti::CODE;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::AcceptMulti::new(io_uring::types::Fd(self.0.fd.as_raw_source()))
            .flags(sys::ACCEPT_FLAGS)
            .build()
    }

    fn readiness(&self) -> Readiness {
        self.0.readiness()
    }

    fn perform(&mut self) -> io::Result<usize> {
        self.0.perform()
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        Box::new(self.0).complete(result)
    }

    fn cleanup(self: Box<Self>, result: io::Result<usize>) {
        Box::new(self.0).cleanup(result)
    }
}
