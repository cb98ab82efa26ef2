use std::io;

use super::{Interest, OpCode, Readiness};
use crate::os::{sys, AsRawSource};

/// Waits until `fd` is ready for `interest`: readable or writable, or in an
/// error or hang-up state (which the next read or write reports). Any fd the
/// kernel can poll works: a socket, a pipe, an `eventfd`, a `signalfd`, an
/// `inotify` instance, another library's socket (on Windows: sockets). A
/// regular file is always ready.
///
/// io_uring runs it as one `IORING_OP_POLL_ADD`; the readiness back end asks
/// `poll(2)` at once and otherwise waits in its own poller. Either way the
/// fd's state is looked at when the operation starts: an fd that is already
/// ready completes at once. Nothing is read or written; the readiness may be
/// gone again by the time the caller acts on it (another reader took the
/// data), so act with a non-blocking call and wait again on `WouldBlock`.
/// [`AsyncFd`](crate::os::AsyncFd) does that loop.
///
/// ```
/// # #[cfg(unix)] {
/// use proactor::op::{Interest, Op, Ready};
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
///
/// # fn main() -> std::io::Result<()> {
/// let (a, b) = UnixStream::pair()?;
/// (&a).write_all(b"ping")?;
/// proactor::block_on(Op::new(Ready::new(b, Interest::Readable))?)?;
/// # Ok(()) }
/// # main().unwrap() }
/// ```
#[derive(Debug)]
pub struct Ready<F> {
    fd: F,
    interest: Interest,
    /// Whether the readiness back end has waited in its poller for this
    /// operation (where the system cannot tell readiness without waiting).
    waited: bool,
}

impl<F: AsRawSource + Send + 'static> Ready<F> {
    /// Waits for `fd`, which the operation owns (or shares, as an `Arc`)
    /// until it completes.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use proactor::op::{Interest, Op, Ready};
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = Arc::new(a);
    /// // An empty socket buffer: writable at once.
    /// proactor::block_on(Op::new(Ready::new(a.clone(), Interest::Writable))?)?;
    /// # Ok(()) }
    /// # main().unwrap() }
    /// ```
    pub fn new(fd: F, interest: Interest) -> Self {
        Ready {
            fd,
            interest,
            waited: false,
        }
    }
}

// SAFETY: a poll entry carries no pointers; `perform` only asks the system
// about the fd.
unsafe impl<F: AsRawSource + Send + 'static> OpCode for Ready<F> {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::PollAdd::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::PollAdd::new(
            io_uring::types::Fd(self.fd.as_raw_source()),
            sys::poll_events(self.interest),
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: self.interest,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let ready = sys::poll_ready(self.fd.as_raw_source(), self.interest, self.waited);
        // Called again only after the poller reported the fd (or at once).
        self.waited = true;
        ready
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}

/// [`Ready`] as one multishot `IORING_OP_POLL_ADD` (`IORING_POLL_ADD_MULTI`,
/// Linux 5.13): it stays armed and posts the fd's events each time the fd
/// wakes its waiters, until it is cancelled. Only io_uring runs it
/// ([`AsyncFd`](crate::os::AsyncFd) keeps one per direction); its readiness
/// half is [`Ready`]'s, one wait, for completeness.
#[cfg(all(target_os = "linux", feature = "uring"))]
#[derive(Debug)]
pub(crate) struct MultishotReady<F>(Ready<F>);

#[cfg(all(target_os = "linux", feature = "uring"))]
impl<F: AsRawSource + Send + 'static> MultishotReady<F> {
    pub(crate) fn new(fd: F, interest: Interest) -> Self {
        MultishotReady(Ready::new(fd, interest))
    }
}

// SAFETY: as `Ready`: a poll entry carries no pointers.
#[cfg(all(target_os = "linux", feature = "uring"))]
unsafe impl<F: AsRawSource + Send + 'static> OpCode for MultishotReady<F> {
    type Output = io::Result<()>;

    const URING_OPCODE: u8 = io_uring::opcode::PollAdd::CODE;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::PollAdd::new(
            io_uring::types::Fd(self.0.fd.as_raw_source()),
            sys::poll_events(self.0.interest),
        )
        .multi(true)
        .build()
    }

    fn readiness(&self) -> Readiness {
        self.0.readiness()
    }

    fn perform(&mut self) -> io::Result<usize> {
        self.0.perform()
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
