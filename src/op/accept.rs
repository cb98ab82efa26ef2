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

const ACCEPT_FLAGS: i32 = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;

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
        // SAFETY: addr/len point into our boxed storage of the right size.
        cvt(unsafe { libc::accept4(self.fd.as_raw_fd(), addr, len, ACCEPT_FLAGS) } as isize)
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
