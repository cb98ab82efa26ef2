use std::io;

use socket2::SockAddr;

use super::{Interest, OpCode, Readiness};
use crate::os::sys::{self, ConnectState};
use crate::os::AsRawSource;

/// Connects a socket to an address. On the readiness back end the
/// non-blocking `connect(2)` starts it and writability ends it; every
/// wake-up checks the outcome (`SO_ERROR`, then whether the socket is
/// connected), since a wake-up alone proves nothing (invariant 11).
///
/// ```
/// use proactor::op::{Connect, Op};
/// use socket2::{Domain, Socket, Type};
/// use std::sync::Arc;
///
/// # fn main() -> std::io::Result<()> {
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let socket = Arc::new(Socket::new(Domain::IPV4, Type::STREAM, None)?);
/// socket.set_nonblocking(true)?; // for the readiness back end
/// proactor::block_on(async { Op::new(Connect::new(socket.clone(), addr.into()))?.await })?;
/// assert_eq!(socket.peer_addr()?.as_socket(), Some(addr));
/// # Ok(()) }
/// ```
pub struct Connect<F> {
    fd: F,
    addr: Box<SockAddr>,
    started: bool,
    /// `connect(2)` started no attempt, twice (see
    /// [`ConnectState::NotStarted`]): the operation's result.
    not_started: Option<io::Error>,
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
    ///
    /// ```
    /// use proactor::op::{Connect, Op};
    /// use socket2::{Domain, Socket, Type};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// drop(listener); // nobody listens now
    /// let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    /// socket.set_nonblocking(true)?;
    /// let refused = proactor::block_on(async { Op::new(Connect::new(socket, addr.into()))?.await });
    /// assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, addr: SockAddr) -> Self {
        Connect {
            fd,
            addr: Box::new(addr),
            started: false,
            not_started: None,
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
        let first = !self.started;
        self.started = true;
        let state = if first {
            sys::connect(socket, &self.addr)?
        } else {
            // Woken: by the attempt's end, or by anything else.
            sys::connect_result(socket, &self.addr)?
        };
        match state {
            ConnectState::Connected => Ok(0),
            ConnectState::InProgress => Err(io::ErrorKind::WouldBlock.into()),
            // Tried once more after a wait, as io_uring does.
            ConnectState::NotStarted(_) if first => Err(io::ErrorKind::WouldBlock.into()),
            ConnectState::NotStarted(error) => {
                // `error` is EAGAIN, which the readiness back end would take
                // for "wait again": `complete` reports it instead of this.
                self.not_started = Some(error);
                Err(io::Error::other("connect(2) started no attempt"))
            }
        }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        match self.not_started {
            Some(error) => Err(error),
            None => result.map(drop),
        }
    }
}

// Linux only: they rely on Linux dropping a SYN to a listener whose accept
// queue is full, and on what it says to a Unix socket connecting to a full
// backlog (EAGAIN).
#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    use socket2::{Domain, SockAddr, Socket, Type};

    use super::Connect;
    use crate::op::{Op, OpCode};
    use crate::{Backend, Driver};

    fn would_block(result: &std::io::Result<usize>) -> bool {
        matches!(result, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// A wake-up that is not the attempt's end (a spurious one, or another
    /// registration's event) must not pass for a connection: with the SYN
    /// dropped (see tests/fd_reuse.rs for why a full accept queue does
    /// that), the socket is not connected and `SO_ERROR` is 0.
    #[test]
    fn connect_woken_while_still_in_progress_keeps_waiting() {
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let _fills_the_queue = std::net::TcpStream::connect(addr.as_socket().unwrap()).unwrap();
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_nonblocking(true).unwrap();
        let fd = socket.as_raw_fd();
        let mut connect = Connect::new(socket, addr.clone());

        assert!(
            would_block(&connect.perform()),
            "the SYN is dropped: in progress"
        );
        let woken = connect.perform();
        assert!(
            would_block(&woken),
            "woken with the attempt still in progress: {woken:?}"
        );

        let (_first, _) = listener.accept().unwrap();
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd; the socket stays open (Connect owns it).
        let ready = unsafe { libc::poll(&mut pollfd, 1, 30_000) };
        assert_eq!(ready, 1, "the connection never completed");
        assert_eq!(connect.perform().unwrap(), 0);
        let peer = socket2::SockRef::from(&connect.fd).peer_addr().unwrap();
        assert_eq!(peer.as_socket(), addr.as_socket());
    }

    /// Linux refuses a non-blocking Unix connect to a full backlog with
    /// EAGAIN: no attempt exists, so nothing can be waited for. io_uring
    /// retries once after a poll and reports EAGAIN; the readiness back end
    /// must do the same, neither pass it off as connected nor spin on the
    /// unconnected socket's constant readiness.
    #[test]
    fn unix_connect_to_a_full_backlog_fails_with_eagain_on_both_back_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = SockAddr::unix(dir.path().join("listener")).unwrap();
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        listener.bind(&path).unwrap();
        listener.listen(0).unwrap();
        let mut fillers = Vec::new();
        loop {
            let filler = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
            filler.set_nonblocking(true).unwrap();
            match filler.connect(&path) {
                Ok(()) => fillers.push(filler),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                Err(e) => panic!("fill the backlog: {e}"),
            }
        }
        let mut backends = Vec::new();
        if cfg!(feature = "poll") {
            backends.push(Backend::Poll);
        }
        if cfg!(feature = "uring") {
            backends.push(Backend::IoUring);
        }
        for backend in backends {
            let driver = match Driver::builder().force(backend).build() {
                Ok(driver) => driver,
                Err(e) if crate::test_skip::skipped(&format!("its {backend} half"), &e) => continue,
                Err(e) => panic!("{backend}: {e}"),
            };
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
            socket.set_nonblocking(true).unwrap();
            let connect = Op::with_driver(Connect::new(socket, path.clone()), driver.clone());
            let result = driver
                .block_on(crate::time::timeout(Duration::from_secs(30), connect))
                .unwrap_or_else(|_| panic!("{backend}: connect to a full backlog hung"));
            match result {
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                other => panic!("{backend}: connect to a full backlog gave {other:?}, not EAGAIN"),
            }
        }
    }
}
