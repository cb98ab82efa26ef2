use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use socket2::{SockAddr, SockAddrStorage};

use super::{cvt, Interest, OpCode, Readiness};

/// The peer address an accept fills in; boxed so the kernel's pointers to it
/// stay valid while the operation moves between owners.
struct PeerAddr {
    storage: SockAddrStorage,
    len: libc::socklen_t,
}

/// Accepts a connection on a listening socket. The new socket is
/// non-blocking and close-on-exec. If the future is dropped and a
/// connection is accepted anyway, it is closed.
pub struct Accept<F> {
    fd: F,
    peer: Box<PeerAddr>,
}

impl<F> std::fmt::Debug for Accept<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accept").finish_non_exhaustive()
    }
}

impl<F: AsRawFd + Send + 'static> Accept<F> {
    /// Accepts on the listening socket `fd`.
    pub fn new(fd: F) -> Self {
        let storage = SockAddrStorage::zeroed();
        let len = storage.size_of();
        Accept {
            fd,
            peer: Box::new(PeerAddr { storage, len }),
        }
    }

    fn addr_ptrs(&mut self) -> (*mut libc::sockaddr, *mut libc::socklen_t) {
        let peer = &mut *self.peer;
        (
            (&mut peer.storage as *mut SockAddrStorage).cast(),
            &mut peer.len,
        )
    }
}

#[cfg(not(target_vendor = "apple"))]
const ACCEPT_FLAGS: i32 = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;

/// `accept(2)` giving a non-blocking, close-on-exec socket: one call where
/// `accept4` exists, `accept` then two `fcntl`s on Apple's systems.
fn accept_nonblocking(
    fd: i32,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
) -> io::Result<usize> {
    #[cfg(not(target_vendor = "apple"))]
    // SAFETY: addr/len point at storage of the size `len` says.
    return cvt(unsafe { libc::accept4(fd, addr, len, ACCEPT_FLAGS) } as isize);
    #[cfg(target_vendor = "apple")]
    {
        // SAFETY: addr/len point at storage of the size `len` says.
        let accepted = cvt(unsafe { libc::accept(fd, addr, len) } as isize)?;
        let socket = owned(accepted);
        let sock = socket2::SockRef::from(&socket);
        sock.set_nonblocking(true)?;
        sock.set_cloexec(true)?;
        sock.set_nosigpipe(true)?;
        Ok(std::os::fd::IntoRawFd::into_raw_fd(socket) as usize)
    }
}

fn owned(fd: usize) -> OwnedFd {
    // SAFETY: a successful accept returns a new fd nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

// SAFETY: the entry points into `peer`, a Box owned by self whose heap
// memory does not move.
unsafe impl<F: AsRawFd + Send + 'static> OpCode for Accept<F> {
    type Output = io::Result<(OwnedFd, SockAddr)>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Accept::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let (addr, len) = self.addr_ptrs();
        io_uring::opcode::Accept::new(io_uring::types::Fd(self.fd.as_raw_fd()), addr, len)
            .flags(ACCEPT_FLAGS)
            .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let (addr, len) = self.addr_ptrs();
        accept_nonblocking(self.fd.as_raw_fd(), addr, len)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        let fd = owned(result?);
        let PeerAddr { storage, len } = *self.peer;
        // SAFETY: the kernel initialised `len` bytes of the storage.
        let addr = unsafe { SockAddr::new(storage, len) };
        Ok((fd, addr))
    }

    fn cleanup(self: Box<Self>, result: io::Result<usize>) {
        drop(result.map(owned));
    }
}
