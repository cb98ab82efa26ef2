use std::io;

use socket2::SockAddr;

use super::{Interest, OpCode, Readiness};
use crate::os::{sys, AsRawSource};

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

impl<F: AsRawSource + Send + 'static> Connect<F> {
    /// Connects socket `fd` to `addr`.
    pub fn new(fd: F, addr: SockAddr) -> Self {
        Connect {
            fd,
            addr: Box::new(addr),
            started: false,
        }
    }
}

// SAFETY: the entry points at `addr`, a Box owned by self.
unsafe impl<F: AsRawSource + Send + 'static> OpCode for Connect<F> {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Connect::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Connect::new(
            io_uring::types::Fd(self.fd.as_raw_source()),
            self.addr.as_ptr().cast(),
            self.addr.len(),
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Writable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let socket = self.fd.as_raw_source();
        if self.started {
            // Woken by writability: the connection attempt has ended.
            return sys::connect_result(socket);
        }
        self.started = true;
        sys::connect(socket, &self.addr)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
