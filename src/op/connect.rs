use std::io;
use std::os::fd::AsRawFd;

use socket2::SockAddr;

use super::{Interest, OpCode, Readiness};

/// Connects a socket to an address. On the readiness back end the
/// non-blocking `connect(2)` starts it and writability ends it, with the
/// outcome read from `SO_ERROR`.
pub struct Connect<F> {
    fd: F,
    addr: Box<SockAddr>,
    started: bool,
}

impl<F> std::fmt::Debug for Connect<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("addr", &self.addr.as_socket())
            .finish_non_exhaustive()
    }
}

impl<F: AsRawFd + Send + 'static> Connect<F> {
    /// Connects socket `fd` to `addr`.
    pub fn new(fd: F, addr: SockAddr) -> Self {
        Connect {
            fd,
            addr: Box::new(addr),
            started: false,
        }
    }
}

fn socket_error(fd: i32) -> io::Result<usize> {
    let mut error: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `error` and `len` are valid for getsockopt to write.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut error as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    match error {
        0 => Ok(0),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

// SAFETY: the entry points at `addr`, a Box owned by self.
unsafe impl<F: AsRawFd + Send + 'static> OpCode for Connect<F> {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Connect::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Connect::new(
            io_uring::types::Fd(self.fd.as_raw_fd()),
            self.addr.as_ptr().cast(),
            self.addr.len(),
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_fd(),
            interest: Interest::Writable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let fd = self.fd.as_raw_fd();
        if self.started {
            // Woken by writability: the connection attempt has ended.
            return socket_error(fd);
        }
        self.started = true;
        // SAFETY: the address pointer and length describe our SockAddr.
        let rc = unsafe { libc::connect(fd, self.addr.as_ptr().cast(), self.addr.len()) };
        if rc == 0 {
            return Ok(0);
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINPROGRESS) | Some(libc::EAGAIN) => Err(io::ErrorKind::WouldBlock.into()),
            _ => Err(error),
        }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
