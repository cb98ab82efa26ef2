//! An fd number reused while the open file it named lives on elsewhere (a
//! `dup`, a `fork`ed child, a copy received over `SCM_RIGHTS`): whatever
//! readiness registration the old file left behind must never wake, let
//! alone complete, an operation on the socket that now holds the number
//! (DESIGN.md invariant 11). Epoll keys a registration by (open file, fd
//! number) and keeps it until the file's last reference closes, so closing
//! the number alone does not remove it.
//!
//! Every case: waits in both directions on an old socket, cancelled; its
//! file kept alive elsewhere; its number closed and taken by a new socket
//! with an operation waiting on it; then the old file made readable and
//! writable. The operation must keep waiting (no false success), then finish
//! correctly once its own socket is ready (no lost wake-up), on both back
//! ends.
//!
//! Windows reuses SOCKET handle values too, and a socket duplicated
//! (`WSADuplicateSocketW`, std's `try_clone`) lives on under another handle
//! when the first one is closed: the `dup` cases run there, on loopback TCP
//! where they use a Unix stream pair. Fork and `SCM_RIGHTS` are Unix's.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::fd::{
    AsFd as AsSource, AsRawFd as AsRawSource, BorrowedFd as BorrowedSource, OwnedFd as OwnedSource,
    RawFd as RawSource,
};
#[cfg(unix)]
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
#[cfg(windows)]
use std::os::windows::io::{
    AsRawSocket as AsRawSource, AsSocket as AsSource, BorrowedSocket as BorrowedSource,
    OwnedSocket as OwnedSource, RawSocket as RawSource,
};
use std::sync::Arc;
use std::time::Duration;

use common::{park_until, poll_once};
#[cfg(unix)]
use proactor::op::Connect;
use proactor::op::{Accept, Op, OpCode, Recv, Send};
use proactor::time::timeout;
use proactor::Driver;
#[cfg(unix)]
use socket2::SockAddr;
use socket2::{Domain, SockRef, Socket, Type};

/// How long an operation must keep waiting after the old file became ready:
/// its stale event is dispatched at the next park, well within this. Only
/// a lower bound on the test's sensitivity, never a reason for it to fail.
const STALE_WINDOW: Duration = Duration::from_millis(500);

/// Turns a hang into a failure. The connect case needs a SYN retransmission
/// (3 s after the first SYN) to get through.
const HANG_LIMIT: Duration = Duration::from_secs(30);

/// What keeps the old socket's open file alive after its number is closed.
#[derive(Debug, Clone, Copy)]
enum Keep {
    /// `dup` (Windows: `WSADuplicateSocketW`).
    Dup,
    #[cfg(unix)]
    Fork,
    #[cfg(unix)]
    ScmRights,
}

/// The kept reference, held only to be dropped: that lets the old file go.
enum Keeper {
    Copy {
        _fd: OwnedSource,
    },
    #[cfg(unix)]
    Child {
        _child: ForkedChild,
    },
}

/// A socket's number: its fd (Windows: its SOCKET handle value).
fn number_of(socket: &impl AsRawSource) -> RawSource {
    #[cfg(unix)]
    return socket.as_raw_fd();
    #[cfg(windows)]
    return socket.as_raw_socket();
}

/// A socket, borrowed: `as_fd` (Windows: `as_socket`).
fn borrow(socket: &impl AsSource) -> BorrowedSource<'_> {
    #[cfg(unix)]
    return socket.as_fd();
    #[cfg(windows)]
    return socket.as_socket();
}

/// A child process that holds a copy of every fd its parent had at `fork`,
/// and exits when told (a byte on its pipe) or when the parent is gone (EOF).
#[cfg(unix)]
struct ForkedChild {
    pid: libc::pid_t,
    release: OwnedFd,
}

#[cfg(unix)]
impl ForkedChild {
    fn spawn() -> ForkedChild {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds pipe writes. Blocking and
        // inherited on purpose: the child waits on the read end.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
        let [wait_end, release_end] = fds;
        // SAFETY: the child only makes async-signal-safe calls (close, read,
        // _exit) before it ends, as required after fork in a threaded
        // process; it runs no destructor and touches no lock or allocator.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let mut byte = 0u8;
            // SAFETY: see the fork above; `byte` is valid for one byte.
            unsafe {
                libc::close(release_end);
                libc::read(wait_end, (&mut byte as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
        // SAFETY: pipe returned these fds and nothing else owns them.
        let (wait_end, release) = unsafe {
            (
                OwnedFd::from_raw_fd(wait_end),
                OwnedFd::from_raw_fd(release_end),
            )
        };
        drop(wait_end);
        ForkedChild { pid, release }
    }
}

#[cfg(unix)]
impl Drop for ForkedChild {
    fn drop(&mut self) {
        // SAFETY: writes one byte from a live local to a pipe we own.
        unsafe { libc::write(self.release.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        let mut status = 0;
        // SAFETY: reaps our own child; `status` is valid for writes.
        unsafe { libc::waitpid(self.pid, &mut status, 0) };
    }
}

fn keep_alive(how: Keep, fd: BorrowedSource<'_>) -> Keeper {
    match how {
        Keep::Dup => Keeper::Copy {
            _fd: fd.try_clone_to_owned().expect("dup"),
        },
        #[cfg(unix)]
        Keep::Fork => Keeper::Child {
            _child: ForkedChild::spawn(),
        },
        #[cfg(unix)]
        Keep::ScmRights => {
            let (sender, receiver) = UnixStream::pair().unwrap();
            send_fd(&sender, fd);
            Keeper::Copy {
                _fd: recv_fd(&receiver),
            }
        }
    }
}

/// Room for one `SCM_RIGHTS` message of one fd, aligned for `cmsghdr`.
#[cfg(unix)]
#[repr(C, align(8))]
struct FdControl([u8; 64]);

/// Sends `fd` with one byte over `channel` (`SCM_RIGHTS`).
#[cfg(unix)]
fn send_fd(channel: &UnixStream, fd: BorrowedFd<'_>) {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = FdControl([0; 64]);
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as _) } as _;
    assert!(msg.msg_controllen as usize <= control.0.len());
    // SAFETY: msg_control points at `control`, aligned and at least
    // msg_controllen bytes long, so the first header and its data fit.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        assert!(!header.is_null());
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as _) as _;
        libc::CMSG_DATA(header)
            .cast::<RawFd>()
            .write_unaligned(fd.as_raw_fd());
    }
    // SAFETY: `msg` describes live buffers: `byte` and `control`.
    let sent = unsafe { libc::sendmsg(channel.as_raw_fd(), &msg, 0) };
    assert_eq!(sent, 1, "sendmsg: {}", std::io::Error::last_os_error());
}

/// Receives one fd sent by [`send_fd`].
#[cfg(unix)]
fn recv_fd(channel: &UnixStream) -> OwnedFd {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = FdControl([0; 64]);
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    // SAFETY: `msg` describes live buffers: `byte` and `control`.
    let received = unsafe { libc::recvmsg(channel.as_raw_fd(), &mut msg, 0) };
    assert_eq!(received, 1, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: the kernel filled msg_control with msg_controllen bytes of
    // well-formed headers; the one header carries one fd, now ours.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        assert!(!header.is_null(), "no control message");
        assert_eq!(
            ((*header).cmsg_level, (*header).cmsg_type),
            (libc::SOL_SOCKET, libc::SCM_RIGHTS)
        );
        OwnedFd::from_raw_fd(libc::CMSG_DATA(header).cast::<RawFd>().read_unaligned())
    }
}

/// A connected stream pair, both ends non-blocking: a Unix stream pair
/// (Windows: loopback TCP).
#[cfg(unix)]
fn stream_pair() -> (UnixStream, UnixStream) {
    let (first, second) = UnixStream::pair().unwrap();
    first.set_nonblocking(true).unwrap();
    second.set_nonblocking(true).unwrap();
    (first, second)
}

/// A connected stream pair, both ends non-blocking: a Unix stream pair
/// (Windows: loopback TCP).
#[cfg(windows)]
fn stream_pair() -> (TcpStream, TcpStream) {
    let (first, second) = common::std_tcp_pair();
    first.set_nonblocking(true).unwrap();
    (first, second)
}

/// The old socket: a stream pair's end, with its peer to make it ready.
struct OldSocket {
    fd: Arc<OwnedSource>,
    #[cfg(unix)]
    peer: UnixStream,
    #[cfg(windows)]
    peer: TcpStream,
}

/// An old socket on which a receive and a send waited (its send buffer is
/// full) until they were cancelled: on epoll this is what once left an
/// armed registration behind.
fn old_socket_with_cancelled_waits(driver: &Driver) -> OldSocket {
    let (old, peer) = stream_pair();
    fill_send_buffer(borrow(&old));
    let fd = Arc::new(OwnedSource::from(old));
    let mut recv = Op::with_driver(
        Recv::new(fd.clone(), Vec::with_capacity(16)),
        driver.clone(),
    );
    let mut send = Op::with_driver(Send::new(fd.clone(), vec![7u8; 4096]), driver.clone());
    assert!(
        poll_once(driver, &mut recv).is_pending(),
        "nothing to receive yet"
    );
    assert!(
        poll_once(driver, &mut send).is_pending(),
        "the send buffer is full"
    );
    drop((recv, send));
    assert!(
        park_until(driver, HANG_LIMIT, || driver.in_flight() == 0),
        "cancelled waits never ended"
    );
    OldSocket { fd, peer }
}

#[cfg(unix)]
fn fill_send_buffer(socket: BorrowedFd<'_>) {
    let chunk = [0u8; 4096];
    loop {
        // SAFETY: sends from a live local buffer on an fd the caller owns.
        let sent = unsafe {
            libc::send(
                socket.as_raw_fd(),
                chunk.as_ptr().cast(),
                chunk.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if sent < 0 {
            let error = std::io::Error::last_os_error();
            assert_eq!(
                error.kind(),
                ErrorKind::WouldBlock,
                "fill the send buffer: {error}"
            );
            return;
        }
    }
}

/// Fills a non-blocking loopback TCP socket's send buffer. What it sent
/// moves on into the peer's receive window in the background and makes
/// room again, so it is filled again after a pause until a pause makes no
/// room: the peer's window is full too, and stays full until the peer reads.
#[cfg(windows)]
fn fill_send_buffer(socket: BorrowedSource<'_>) {
    let socket = SockRef::from(&socket);
    let chunk = [0u8; 4096];
    loop {
        let mut sent = 0;
        loop {
            match socket.send(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("fill the send buffer: {e}"),
            }
        }
        if sent == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes the old file readable (a byte from its peer) and writable (its
/// peer drains what it sent): a registration it still had reports now.
fn make_old_file_ready(peer: &mut (impl Read + Write)) {
    peer.write_all(b"stale").unwrap();
    let mut sink = [0u8; 65536];
    loop {
        match peer.read(&mut sink) {
            Ok(0) => panic!("the old socket is still open"),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => panic!("drain the old socket's peer: {e}"),
        }
    }
}

/// A TCP socket whose fd is `number`: sockets take the lowest free number,
/// so after a few (kept open meanwhile) one has it. Nothing else may open an
/// fd between the close of `number` and this.
#[cfg(unix)]
fn tcp_socket_numbered(number: RawFd) -> Socket {
    let mut misses = Vec::new();
    loop {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let got = socket.as_raw_fd();
        if got == number {
            return socket;
        }
        assert!(
            got < number,
            "fd {number} was taken by someone else (got {got})"
        );
        misses.push(socket);
    }
}

/// A TCP socket whose handle value is `number`. Windows hands a freed
/// handle value out again (the most recently freed first; Wine the lowest
/// free one), so after a few sockets (kept open meanwhile) one has it.
#[cfg(windows)]
fn tcp_socket_numbered(number: RawSource) -> Socket {
    let mut misses = Vec::new();
    for _ in 0..1024 {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        if number_of(&socket) == number {
            return socket;
        }
        misses.push(socket);
    }
    let got: Vec<_> = misses.iter().take(8).map(number_of).collect();
    panic!("handle value {number} was not handed out again (got {got:?}, ...)");
}

/// A Unix stream pair whose first end has fd `number` (see
/// [`tcp_socket_numbered`]).
#[cfg(unix)]
fn unix_pair_numbered(number: RawFd) -> (UnixStream, UnixStream) {
    let mut misses = Vec::new();
    loop {
        let (first, second) = UnixStream::pair().unwrap();
        let got = [first.as_raw_fd(), second.as_raw_fd()];
        if got[0] == number {
            return (first, second);
        }
        if got[1] == number {
            return (second, first);
        }
        assert!(
            got[0] < number,
            "fd {number} was taken by someone else (got {got:?})"
        );
        misses.push((first, second));
    }
}

/// A loopback TCP connection whose first end has handle value `number`
/// (see [`tcp_socket_numbered`]), connected to `listener`, which exists
/// before `number` is freed so as not to take it.
#[cfg(windows)]
fn tcp_pair_numbered(number: RawSource, listener: &TcpListener) -> (TcpStream, TcpStream) {
    let socket = tcp_socket_numbered(number);
    socket
        .connect(&listener.local_addr().unwrap().into())
        .unwrap();
    let (peer, _) = listener.accept().unwrap();
    (TcpStream::from(socket), peer)
}

/// Closes the old socket's number (its file lives on in `keeper`) and
/// returns the number, now free.
fn close_number(old: Arc<OwnedSource>) -> RawSource {
    let number = number_of(&*old);
    let old = Arc::try_unwrap(old).expect("no operation holds the old socket any more");
    drop(old);
    number
}

/// `op` must still be waiting after the old file became ready.
fn assert_still_waiting<O>(driver: &Driver, op: &mut Op<O>, what: &str)
where
    O: OpCode,
    O::Output: std::fmt::Debug,
{
    if let Ok(output) = driver.block_on(timeout(STALE_WINDOW, &mut *op)) {
        panic!("{what} finished though its socket was not ready (woken by the old file's registration?): {output:?}");
    }
}

/// Runs `op` to the end, or fails if it hangs.
fn finish<O: OpCode>(driver: &Driver, op: Op<O>, what: &str) -> O::Output {
    driver
        .block_on(timeout(HANG_LIMIT, op))
        .unwrap_or_else(|_| panic!("{what} never finished: a lost wake-up"))
}

fn stale_registration_vs_recv(driver: Driver, keep: Keep) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut old = old_socket_with_cancelled_waits(&driver);
    let keeper = keep_alive(keep, borrow(&*old.fd));
    let number = close_number(old.fd);

    let socket = tcp_socket_numbered(number);
    socket
        .connect(&listener.local_addr().unwrap().into())
        .unwrap();
    socket.set_nonblocking(true).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let new = Arc::new(OwnedSource::from(socket));
    let mut recv = Op::with_driver(
        Recv::new(new.clone(), Vec::with_capacity(16)),
        driver.clone(),
    );
    assert!(
        poll_once(&driver, &mut recv).is_pending(),
        "nothing sent yet"
    );

    make_old_file_ready(&mut old.peer);
    assert_still_waiting(&driver, &mut recv, "recv");

    peer.write_all(b"real").unwrap();
    let (n, buf) = finish(&driver, recv, "recv");
    assert_eq!(n.unwrap(), 4);
    assert_eq!(&buf[..], b"real");
    drop(keeper);
}

/// A send waits on a Unix stream socket: unlike TCP, whose send buffer
/// empties into the peer's receive window in the background, a full Unix
/// socket stays full until the peer reads. (Windows: on TCP, filled until
/// the peer's window is full too.)
fn stale_registration_vs_send(driver: Driver, keep: Keep) {
    #[cfg(windows)]
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut old = old_socket_with_cancelled_waits(&driver);
    let keeper = keep_alive(keep, borrow(&*old.fd));
    let number = close_number(old.fd);

    #[cfg(unix)]
    let (socket, mut peer) = unix_pair_numbered(number);
    #[cfg(windows)]
    let (socket, mut peer) = tcp_pair_numbered(number, &listener);
    socket.set_nonblocking(true).unwrap();
    fill_send_buffer(borrow(&socket));
    let new = Arc::new(OwnedSource::from(socket));
    let mut send = Op::with_driver(Send::new(new.clone(), vec![9u8; 4096]), driver.clone());
    assert!(
        poll_once(&driver, &mut send).is_pending(),
        "the send buffer is full"
    );

    make_old_file_ready(&mut old.peer);
    assert_still_waiting(&driver, &mut send, "send");

    let reader = std::thread::spawn(move || std::io::copy(&mut peer, &mut std::io::sink()));
    let (n, _) = finish(&driver, send, "send");
    assert!(
        n.unwrap() > 0,
        "a send that waited for room sends something"
    );
    drop(new);
    reader.join().unwrap().unwrap();
    drop(keeper);
}

fn stale_registration_vs_accept(driver: Driver, keep: Keep) {
    let mut old = old_socket_with_cancelled_waits(&driver);
    let keeper = keep_alive(keep, borrow(&*old.fd));
    let number = close_number(old.fd);

    let socket = tcp_socket_numbered(number);
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(16).unwrap();
    socket.set_nonblocking(true).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let new = Arc::new(OwnedSource::from(socket));
    let mut accept = Op::with_driver(Accept::new(new.clone()), driver.clone());
    assert!(
        poll_once(&driver, &mut accept).is_pending(),
        "nobody connected yet"
    );

    make_old_file_ready(&mut old.peer);
    assert_still_waiting(&driver, &mut accept, "accept");

    let client = TcpStream::connect(addr).unwrap();
    let (_accepted, peer) = finish(&driver, accept, "accept").unwrap();
    assert_eq!(peer.as_socket(), Some(client.local_addr().unwrap()));
    drop(keeper);
}

/// A connect that stays in progress needs a listener that never answers,
/// and on loopback only (the test must not touch other networks): one with
/// a full accept queue. Linux drops a SYN to a listener whose accept queue
/// is full (`tcp_conn_request`: `sk_acceptq_is_full` → drop, counted as
/// ListenOverflows), whatever `net.ipv4.tcp_abort_on_overflow` says (that
/// only governs the final ACK); the client stays in SYN-SENT and retries
/// after 1 s, 3 s, 7 s... With `listen(0)` the queue holds one connection,
/// so one completed connection that is never accepted fills it. Accepting
/// that one frees the queue, and the next SYN retransmission connects.
// Unix only: Windows refuses (a reset) a connection to a listener whose
// backlog is full, so no connect stays in progress on loopback there.
#[cfg(unix)]
fn stale_registration_vs_connect(driver: Driver, keep: Keep) {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let _fills_the_queue = TcpStream::connect(addr).unwrap();

    let mut old = old_socket_with_cancelled_waits(&driver);
    let keeper = keep_alive(keep, borrow(&*old.fd));
    let number = close_number(old.fd);

    let socket = tcp_socket_numbered(number);
    socket.set_nonblocking(true).unwrap();
    let new = Arc::new(OwnedSource::from(socket));
    let mut connect = Op::with_driver(
        Connect::new(new.clone(), SockAddr::from(addr)),
        driver.clone(),
    );
    assert!(
        poll_once(&driver, &mut connect).is_pending(),
        "the listener's accept queue is full: the SYN is dropped"
    );

    make_old_file_ready(&mut old.peer);
    if let Ok(result) = driver.block_on(timeout(STALE_WINDOW, &mut connect)) {
        panic!(
            "connect finished ({result:?}) while the listener's queue is full; peer_addr: {:?}",
            SockRef::from(&*new).peer_addr()
        );
    }

    let (_first, _) = listener.accept().unwrap();
    finish(&driver, connect, "connect").expect("connect once the queue has room");
    let peer = SockRef::from(&*new)
        .peer_addr()
        .expect("a connect that succeeded is connected");
    assert_eq!(peer.as_socket(), Some(addr));
    drop(keeper);
}

/// The registrations of the file with inode `ino` that are still armed, in
/// every epoll instance of this process, as `/proc/self/fdinfo` lists them
/// (`tfd: <fd> events: <hex> data: <hex> pos:0 ino:<hex> sdev:<hex>`).
/// A oneshot registration that fired keeps only epoll's private flags.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn armed_epoll_registrations(ino: u64) -> Vec<String> {
    /// EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLONESHOT, EPOLLET: what is left of
    /// `events` once a oneshot registration fired.
    const PRIVATE_FLAGS: u32 = 0xf000_0000;
    let mut armed = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        // Fds that close meanwhile (read_dir's own) are skipped.
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target.as_os_str() != "anon_inode:[eventpoll]" {
            continue;
        }
        let info_path = format!("/proc/self/fdinfo/{}", entry.file_name().to_string_lossy());
        let Ok(info) = std::fs::read_to_string(info_path) else {
            continue;
        };
        for line in info.lines().filter(|line| line.starts_with("tfd:")) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let events = words
                .iter()
                .position(|&word| word == "events:")
                .and_then(|at| u32::from_str_radix(words.get(at + 1)?, 16).ok())
                .unwrap_or_else(|| panic!("no events in {line:?}"));
            let registered_ino = words
                .iter()
                .find_map(|word| word.strip_prefix("ino:"))
                .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                .unwrap_or_else(|| panic!("no ino in {line:?}"));
            if registered_ino == ino && events & !PRIVATE_FLAGS != 0 {
                armed.push(line.to_owned());
            }
        }
    }
    armed
}

// Linux only: reads epoll's registrations from /proc/self/fdinfo. On io_uring
// nothing is registered with epoll, so there is nothing to find either.
#[cfg(any(target_os = "linux", target_os = "android"))]
both_backends! {
    fn cancelled_waits_leave_no_armed_registration(driver) {
        use std::os::unix::fs::MetadataExt;
        let old = old_socket_with_cancelled_waits(&driver);
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", old.fd.as_raw_fd())).unwrap().ino();
        let armed = armed_epoll_registrations(ino);
        assert!(
            armed.is_empty(),
            "a registration whose waiters were all cancelled is still armed, and would \
             outlive the fd number if the file lived on elsewhere: {armed:?}"
        );
    }
}

both_backends! {
    fn stale_registration_never_wakes_a_recv_on_the_dup_reused_number(driver) {
        stale_registration_vs_recv(driver, Keep::Dup);
    }
    fn stale_registration_never_wakes_a_send_on_the_dup_reused_number(driver) {
        stale_registration_vs_send(driver, Keep::Dup);
    }
    fn stale_registration_never_wakes_an_accept_on_the_dup_reused_number(driver) {
        stale_registration_vs_accept(driver, Keep::Dup);
    }
}

// Unix only: fork and SCM_RIGHTS keep the old file alive, and the connect
// case needs a listener that drops SYNs (see `stale_registration_vs_connect`).
#[cfg(unix)]
mod unix_only {
    use super::*;

    both_backends! {
        fn stale_registration_never_wakes_a_recv_on_the_fork_reused_number(driver) {
            stale_registration_vs_recv(driver, Keep::Fork);
        }
        fn stale_registration_never_wakes_a_recv_on_the_scm_rights_reused_number(driver) {
            stale_registration_vs_recv(driver, Keep::ScmRights);
        }
        fn stale_registration_never_wakes_a_send_on_the_fork_reused_number(driver) {
            stale_registration_vs_send(driver, Keep::Fork);
        }
        fn stale_registration_never_wakes_a_send_on_the_scm_rights_reused_number(driver) {
            stale_registration_vs_send(driver, Keep::ScmRights);
        }
        fn stale_registration_never_wakes_an_accept_on_the_fork_reused_number(driver) {
            stale_registration_vs_accept(driver, Keep::Fork);
        }
        fn stale_registration_never_wakes_an_accept_on_the_scm_rights_reused_number(driver) {
            stale_registration_vs_accept(driver, Keep::ScmRights);
        }
        fn stale_registration_never_completes_a_connect_on_the_dup_reused_number(driver) {
            stale_registration_vs_connect(driver, Keep::Dup);
        }
        fn stale_registration_never_completes_a_connect_on_the_fork_reused_number(driver) {
            stale_registration_vs_connect(driver, Keep::Fork);
        }
        fn stale_registration_never_completes_a_connect_on_the_scm_rights_reused_number(driver) {
            stale_registration_vs_connect(driver, Keep::ScmRights);
        }
    }
}
