//! System calls on Unix-like systems, for the readiness back end and the
//! io_uring back end's per-op fallback.

use std::ffi::CString;
use std::io;
use std::net::Shutdown as How;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;

use socket2::{SockAddr, SockAddrStorage};

use super::{sealed, AsRawFile, AsRawSource};
use crate::op::{FileStat, Interest};

/// The raw handle of an open file: a file descriptor.
///
/// ```
/// use proactor::os::{AsRawFile, RawFile};
/// use std::os::fd::AsRawFd;
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let file = std::fs::File::create(dir.path().join("data"))?;
/// let raw: RawFile = file.as_raw_file();
/// assert_eq!(raw, file.as_raw_fd());
/// # Ok(()) }
/// ```
pub type RawFile = RawFd;
/// A raw handle the event loop can wait on: a file descriptor.
///
/// ```
/// use proactor::os::{AsRawSource, RawSource};
/// use std::os::fd::AsRawFd;
///
/// # fn main() -> std::io::Result<()> {
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let raw: RawSource = a.as_raw_source();
/// assert_eq!(raw, a.as_raw_fd());
/// # Ok(()) }
/// ```
pub type RawSource = RawFd;
/// An open file, owned.
pub(crate) type OwnedFile = OwnedFd;
/// A socket, owned.
pub(crate) type OwnedSocket = OwnedFd;
/// A path as the system calls take it.
pub(crate) type NativePath = CString;

// Over AsFd, not AsRawFd: std implements AsRawFd for a bare `RawFd`, which
// owns nothing (I/O safety); AsFd only for owners and lifetime-checked
// borrows, Arc among them, which files and sockets share with in-flight
// operations.
impl<T: AsFd + ?Sized> sealed::File for T {}
impl<T: AsFd + ?Sized> sealed::Source for T {}

impl<T: AsFd + ?Sized> AsRawFile for T {
    fn as_raw_file(&self) -> RawFile {
        self.as_fd().as_raw_fd()
    }
}

impl<T: AsFd + ?Sized> AsRawSource for T {
    fn as_raw_source(&self) -> RawSource {
        self.as_fd().as_raw_fd()
    }
}

/// Maps the return value of a libc call that returns -1 on error.
pub(crate) fn cvt(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// A path as a C string; an interior NUL is an `InvalidInput` error.
pub(crate) fn native_path(path: &Path) -> io::Result<NativePath> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains an interior NUL byte: {}", path.display()),
        )
    })
}

/// Owns the fd a successful open returned.
///
/// # Safety
///
/// `raw` must be a newly opened fd that nothing else owns.
pub(crate) unsafe fn owned_file(raw: usize) -> OwnedFile {
    // SAFETY: the caller hands over sole ownership of the fd.
    unsafe { OwnedFd::from_raw_fd(raw as RawFd) }
}

/// Owns the socket a successful accept returned.
///
/// # Safety
///
/// As for [`owned_file`].
pub(crate) unsafe fn owned_socket(raw: usize) -> OwnedSocket {
    // SAFETY: as the caller promises.
    unsafe { owned_file(raw) }
}

/// An offset as `off_t`, or the EINVAL the kernel would give for it.
pub(crate) fn offset_arg(offset: u64) -> io::Result<libc::off_t> {
    libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Refuses an offset `off_t` cannot hold, on every back end alike.
pub(crate) fn check_offset(offset: u64) -> io::Result<()> {
    offset_arg(offset).map(drop)
}

/// `O_CLOEXEC`: no fd this crate opens leaks into a child process.
pub(crate) const CLOEXEC_FLAG: i32 = libc::O_CLOEXEC;

/// `read(2)`.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes for the whole call.
pub(crate) unsafe fn read(source: RawSource, buf: *mut u8, len: usize) -> io::Result<usize> {
    // SAFETY: as the caller promises.
    cvt(unsafe { libc::read(source, buf.cast(), len) })
}

/// `write(2)`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes for the whole call.
pub(crate) unsafe fn write(source: RawSource, buf: *const u8, len: usize) -> io::Result<usize> {
    // SAFETY: as the caller promises.
    cvt(unsafe { libc::write(source, buf.cast(), len) })
}

/// `pread(2)`.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes for the whole call.
pub(crate) unsafe fn read_at(
    file: RawFile,
    buf: *mut u8,
    len: usize,
    offset: u64,
) -> io::Result<usize> {
    let offset = offset_arg(offset)?;
    // SAFETY: as the caller promises.
    cvt(unsafe { libc::pread(file, buf.cast(), len, offset) })
}

/// `pwrite(2)`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes for the whole call.
pub(crate) unsafe fn write_at(
    file: RawFile,
    buf: *const u8,
    len: usize,
    offset: u64,
) -> io::Result<usize> {
    let offset = offset_arg(offset)?;
    // SAFETY: as the caller promises.
    cvt(unsafe { libc::pwrite(file, buf.cast(), len, offset) })
}

/// One buffer of a vectored call, as `preadv(2)` and io_uring take it.
pub(crate) type IoVec = libc::iovec;

/// Describes `len` bytes at `base`.
pub(crate) fn io_vec(base: *mut u8, len: usize) -> IoVec {
    libc::iovec {
        iov_base: base.cast(),
        iov_len: len,
    }
}

/// Where the bytes `iovec` describes start.
pub(crate) fn io_vec_base(iovec: &IoVec) -> *mut u8 {
    iovec.iov_base.cast()
}

/// The length `iovec` describes.
pub(crate) fn io_vec_len(iovec: &IoVec) -> usize {
    iovec.iov_len
}

/// `preadv(2)`.
///
/// # Safety
///
/// Each of `bufs` must be valid for writes of its length for the whole call.
pub(crate) unsafe fn read_vectored_at(
    file: RawFile,
    bufs: &[IoVec],
    offset: u64,
) -> io::Result<usize> {
    // SAFETY: as the caller promises.
    unsafe { vectored_at(libc::preadv, file, bufs, offset) }
}

/// `pwritev(2)`.
///
/// # Safety
///
/// Each of `bufs` must be valid for reads of its length for the whole call.
pub(crate) unsafe fn write_vectored_at(
    file: RawFile,
    bufs: &[IoVec],
    offset: u64,
) -> io::Result<usize> {
    // SAFETY: as the caller promises.
    unsafe { vectored_at(libc::pwritev, file, bufs, offset) }
}

type VectoredCall =
    unsafe extern "C" fn(RawFile, *const IoVec, libc::c_int, libc::off_t) -> libc::ssize_t;

/// # Safety
///
/// Each of `bufs` must be valid for what `call` does with it.
unsafe fn vectored_at(
    call: VectoredCall,
    file: RawFile,
    bufs: &[IoVec],
    offset: u64,
) -> io::Result<usize> {
    let offset = offset_arg(offset)?;
    let count = libc::c_int::try_from(bufs.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: as the caller promises; `count` entries are there.
    cvt(unsafe { call(file, bufs.as_ptr(), count, offset) })
}

/// `fdatasync(2)` (where it exists; elsewhere `fsync(2)`, which covers it)
/// or `fsync(2)`.
pub(crate) fn fsync(file: RawFile, data_only: bool) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let sync = if data_only {
        libc::fdatasync
    } else {
        libc::fsync
    };
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let sync = {
        let _ = data_only;
        libc::fsync
    };
    // SAFETY: plain syscall on an fd; no memory involved.
    cvt(unsafe { sync(file) } as isize)
}

/// `ftruncate(2)`.
pub(crate) fn set_len(file: RawFile, len: u64) -> io::Result<usize> {
    let len = offset_arg(len)?;
    // SAFETY: plain syscall on an fd.
    cvt(unsafe { libc::ftruncate(file, len) } as isize)
}

/// `fchmod(2)`: the permission bits of `permissions`.
pub(crate) fn set_permissions(
    file: RawFile,
    permissions: &std::fs::Permissions,
) -> io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: plain syscall on an fd; no memory involved.
    cvt(unsafe { libc::fchmod(file, permissions.mode() as libc::mode_t) } as isize)
}

#[allow(clippy::unnecessary_cast)] // the stat field types differ by OS
fn file_stat(st: &libc::stat) -> FileStat {
    FileStat {
        size: st.st_size as u64,
        mode: st.st_mode as u32,
        modified_sec: st.st_mtime as i64,
        modified_nsec: st.st_mtime_nsec as u32,
    }
}

fn stat_with(call: impl FnOnce(*mut libc::stat) -> libc::c_int) -> io::Result<FileStat> {
    // SAFETY: stat is plain old data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if call(&mut st) < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file_stat(&st))
}

/// `fstat(2)`.
pub(crate) fn fstat(file: RawFile) -> io::Result<FileStat> {
    // SAFETY: `st` is a valid, writable stat buffer.
    stat_with(|st| unsafe { libc::fstat(file, st) })
}

/// `stat(2)`, following symlinks.
pub(crate) fn stat(path: &NativePath) -> io::Result<FileStat> {
    // SAFETY: a valid C string and a writable stat buffer.
    stat_with(|st| unsafe { libc::stat(path.as_ptr(), st) })
}

/// `open(2)`; returns the new fd.
pub(crate) fn open(path: &NativePath, flags: i32, mode: u32) -> io::Result<usize> {
    // SAFETY: `path` is a valid NUL-terminated string.
    cvt(unsafe { libc::open(path.as_ptr(), flags, mode as libc::c_uint) } as isize)
}

/// `close(2)`, reporting its error.
pub(crate) fn close(file: OwnedFile) -> io::Result<usize> {
    let fd = file.into_raw_fd();
    // SAFETY: we own `fd` (taken out of its OwnedFd) and close it once.
    cvt(unsafe { libc::close(fd) } as isize)
}

/// `rename(2)`.
pub(crate) fn rename(from: &NativePath, to: &NativePath) -> io::Result<usize> {
    // SAFETY: two valid C strings.
    cvt(unsafe { libc::rename(from.as_ptr(), to.as_ptr()) } as isize)
}

/// `unlinkat(2)` relative to the current directory: a directory if `dir`,
/// else a file.
pub(crate) fn unlink(path: &NativePath, dir: bool) -> io::Result<usize> {
    // SAFETY: a valid C string.
    cvt(unsafe { libc::unlinkat(libc::AT_FDCWD, path.as_ptr(), unlink_flags(dir)) } as isize)
}

/// The `unlinkat` flags that remove a directory (`dir`) or a file.
pub(crate) fn unlink_flags(dir: bool) -> i32 {
    if dir {
        libc::AT_REMOVEDIR
    } else {
        0
    }
}

/// `mkdir(2)`.
pub(crate) fn mkdir(path: &NativePath, mode: u32) -> io::Result<usize> {
    // SAFETY: a valid C string.
    cvt(unsafe { libc::mkdir(path.as_ptr(), mode as libc::mode_t) } as isize)
}

/// `linkat(2)` relative to the current directory, linking a symlink
/// `original` itself (no `AT_SYMLINK_FOLLOW`), as io_uring's `LINKAT` does.
pub(crate) fn hard_link(original: &NativePath, link: &NativePath) -> io::Result<usize> {
    // SAFETY: two valid C strings.
    cvt(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            original.as_ptr(),
            libc::AT_FDCWD,
            link.as_ptr(),
            0,
        )
    } as isize)
}

/// `symlink(2)`: `link` becomes a symbolic link holding `target`.
pub(crate) fn symlink(target: &NativePath, link: &NativePath) -> io::Result<usize> {
    // SAFETY: two valid C strings.
    cvt(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) } as isize)
}

/// `recv(2)`.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes for the whole call.
pub(crate) unsafe fn recv(socket: RawSource, buf: *mut u8, len: usize) -> io::Result<usize> {
    // SAFETY: as the caller promises.
    cvt(unsafe { libc::recv(socket, buf.cast(), len, 0) })
}

/// `recvfrom(2)`, with the sender's address.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes for the whole call.
pub(crate) unsafe fn recv_from(
    socket: RawSource,
    buf: *mut u8,
    len: usize,
) -> io::Result<(usize, SockAddr)> {
    let mut storage = SockAddrStorage::zeroed();
    let mut addr_len = storage.size_of();
    // SAFETY: buffer as the caller promises; the address storage is ours
    // and `addr_len` says its size.
    let received = cvt(unsafe {
        libc::recvfrom(
            socket,
            buf.cast(),
            len,
            0,
            (&mut storage as *mut SockAddrStorage).cast(),
            &mut addr_len,
        )
    })?;
    // SAFETY: the kernel initialised `addr_len` bytes of the storage.
    Ok((received, unsafe { SockAddr::new(storage, addr_len) }))
}

/// Flags for every send: no SIGPIPE where the flag exists (Apple's systems
/// set `SO_NOSIGPIPE` on the socket instead).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) const SEND_FLAGS: i32 = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) const SEND_FLAGS: i32 = 0;

/// Flags for a receive that may take fds: close-on-exec from the start
/// where the system can (`MSG_CMSG_CLOEXEC`); Apple's systems cannot, and
/// [`set_cloexec_received`] marks them after.
#[cfg(not(target_vendor = "apple"))]
pub(crate) const RECV_FDS_FLAGS: i32 = libc::MSG_CMSG_CLOEXEC;
#[cfg(target_vendor = "apple")]
pub(crate) const RECV_FDS_FLAGS: i32 = 0;

/// Marks received fds close-on-exec where the receive could not.
pub(crate) fn set_cloexec_received(fds: &[OwnedFd]) -> io::Result<()> {
    #[cfg(target_vendor = "apple")]
    return set_cloexec(fds);
    #[cfg(not(target_vendor = "apple"))]
    {
        let _ = fds;
        Ok(())
    }
}

/// Marks `fds` close-on-exec. Built for tests on every Unix, so the receive
/// path of systems without `MSG_CMSG_CLOEXEC` runs on Linux too.
#[cfg(any(test, target_vendor = "apple"))]
fn set_cloexec(fds: &[OwnedFd]) -> io::Result<()> {
    for fd in fds {
        // SAFETY: plain fcntl on an fd we own. Just received, it has no
        // other fd flag to keep.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } as isize)?;
    }
    Ok(())
}

/// `send(2)`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes for the whole call.
pub(crate) unsafe fn send(socket: RawSource, buf: *const u8, len: usize) -> io::Result<usize> {
    // SAFETY: as the caller promises.
    cvt(unsafe { libc::send(socket, buf.cast(), len, SEND_FLAGS) })
}

/// `sendto(2)`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes for the whole call.
pub(crate) unsafe fn send_to(
    socket: RawSource,
    buf: *const u8,
    len: usize,
    addr: &SockAddr,
) -> io::Result<usize> {
    // SAFETY: buffer as the caller promises; the address is ours.
    cvt(unsafe {
        libc::sendto(
            socket,
            buf.cast(),
            len,
            SEND_FLAGS,
            addr.as_ptr().cast(),
            addr.len(),
        )
    })
}

/// The `poll(2)` events that mean "ready for `interest`" (as io_uring's
/// poll operation takes them too).
pub(crate) fn poll_events(interest: Interest) -> u32 {
    let events = match interest {
        Interest::Readable => libc::POLLIN,
        Interest::Writable => libc::POLLOUT,
    };
    events as u32
}

/// Whether `fd` is ready for `interest` now, asked of `poll(2)` without
/// waiting: the events it reported (an error or hang-up counts as ready),
/// or `WouldBlock`. An fd that is not open is `EBADF`. Unix can always
/// tell, so whether the caller has waited does not matter.
pub(crate) fn poll_ready(fd: RawSource, interest: Interest, _waited: bool) -> io::Result<usize> {
    let mut poll_fd = libc::pollfd {
        fd,
        events: poll_events(interest) as libc::c_short,
        revents: 0,
    };
    loop {
        // SAFETY: one valid `pollfd`, no waiting.
        let ready = unsafe { libc::poll(&mut poll_fd, 1, 0) };
        match ready {
            0 => return Err(io::ErrorKind::WouldBlock.into()),
            1.. if poll_fd.revents & libc::POLLNVAL != 0 => {
                return Err(io::Error::from_raw_os_error(libc::EBADF))
            }
            1.. => return Ok(usize::from(poll_fd.revents as u16)),
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}

/// `shutdown(2)`.
pub(crate) fn shutdown(socket: RawSource, how: How) -> io::Result<usize> {
    let how = match how {
        How::Read => libc::SHUT_RD,
        How::Write => libc::SHUT_WR,
        How::Both => libc::SHUT_RDWR,
    };
    // SAFETY: plain syscall on an fd.
    cvt(unsafe { libc::shutdown(socket, how) } as isize)
}

/// Where a non-blocking connection attempt stands.
#[derive(Debug)]
pub(crate) enum ConnectState {
    /// The socket is connected.
    Connected,
    /// The attempt goes on: wait for writability, then ask
    /// [`connect_result`].
    InProgress,
    /// `connect(2)` said `EAGAIN`: it started no attempt, so there is nothing
    /// to wait for (a Unix listener's backlog is full, or no local port was
    /// free). The caller may try once more after a wait, as io_uring does,
    /// then reports this error.
    NotStarted(io::Error),
}

/// Starts a non-blocking `connect(2)`.
pub(crate) fn connect(socket: RawSource, addr: &SockAddr) -> io::Result<ConnectState> {
    // SAFETY: the address pointer and length describe `addr`.
    let rc = unsafe { libc::connect(socket, addr.as_ptr().cast(), addr.len()) };
    if rc == 0 {
        return Ok(ConnectState::Connected);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EINPROGRESS) => Ok(ConnectState::InProgress),
        Some(libc::EAGAIN) => Ok(ConnectState::NotStarted(error)),
        _ => Err(error),
    }
}

/// Where the connection attempt on `socket` stands, asked when it woke the
/// event loop. A wake-up proves nothing (it may be spurious, or an event
/// meant for another registration: invariant 11), so this checks:
/// `SO_ERROR` says how a failed attempt failed; `getpeername` succeeds once
/// connected. Neither means not connected and no error: still in progress,
/// or failed with an error someone else already read (reading `SO_ERROR`
/// clears it), or, after `EAGAIN`, never started. Waiting is right only for
/// the first: the others would wake at once, forever. `connect(2)` again
/// tells them apart: `EALREADY` while in progress; success, `EISCONN`, or
/// the attempt's error (`ECONNABORTED` once read) if it ended; a new
/// attempt if none was started.
pub(crate) fn connect_result(socket: RawSource, addr: &SockAddr) -> io::Result<ConnectState> {
    // SAFETY: the operation that owns the socket keeps it open for the call.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(socket) };
    let sock = socket2::SockRef::from(&borrowed);
    if let Some(error) = sock.take_error()? {
        return Err(error);
    }
    match sock.peer_addr() {
        Ok(_) => return Ok(ConnectState::Connected),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {}
        Err(e) => return Err(e),
    }
    match connect(socket, addr) {
        Err(e) if e.raw_os_error() == Some(libc::EALREADY) => Ok(ConnectState::InProgress),
        // Connected between the two calls.
        Err(e) if e.raw_os_error() == Some(libc::EISCONN) => Ok(ConnectState::Connected),
        other => other,
    }
}

/// Flags that make an accepted socket non-blocking and close-on-exec.
#[cfg(not(target_vendor = "apple"))]
pub(crate) const ACCEPT_FLAGS: i32 = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;

/// `accept(2)` giving a non-blocking, close-on-exec socket and the peer's
/// address: one call where `accept4` exists, `accept` then `fcntl`s on
/// Apple's systems.
pub(crate) fn accept(listener: RawSource) -> io::Result<(usize, SockAddr)> {
    let mut storage = SockAddrStorage::zeroed();
    let mut len = storage.size_of();
    let addr: *mut libc::sockaddr = (&mut storage as *mut SockAddrStorage).cast();
    #[cfg(not(target_vendor = "apple"))]
    // SAFETY: addr/len point at storage of the size `len` says.
    let accepted = cvt(unsafe { libc::accept4(listener, addr, &mut len, ACCEPT_FLAGS) } as isize)?;
    #[cfg(target_vendor = "apple")]
    // SAFETY: addr/len point at storage of the size `len` says.
    let accepted = unsafe { accept_then_prepare(listener, addr, &mut len) }?;
    // SAFETY: the kernel initialised `len` bytes of the storage.
    Ok((accepted, unsafe { SockAddr::new(storage, len) }))
}

/// `accept(2)`, then [`prepare_socket_after`]: [`accept`] where there is no
/// `accept4` (Apple's systems). Built for tests on every Unix, so this path
/// runs on Linux too.
///
/// # Safety
///
/// `addr` must be valid for writes of `*len` bytes for the whole call.
#[cfg(any(test, target_vendor = "apple"))]
unsafe fn accept_then_prepare(
    listener: RawSource,
    addr: *mut libc::sockaddr,
    len: &mut libc::socklen_t,
) -> io::Result<usize> {
    // SAFETY: as the caller promises for addr/len.
    let accepted = cvt(unsafe { libc::accept(listener, addr, len) } as isize)?;
    // SAFETY: a successful accept returns a new fd nobody else owns.
    let socket = unsafe { owned_socket(accepted) };
    // On failure the socket is dropped, hence closed: no half-prepared
    // socket escapes.
    prepare_socket_after(socket2::SockRef::from(&socket))?;
    Ok(socket.into_raw_fd() as usize)
}

/// Makes a socket non-blocking and close-on-exec after it was made, and on
/// Apple's systems keeps it from raising SIGPIPE (`SO_NOSIGPIPE`; they have
/// no `MSG_NOSIGNAL`): what systems without `SOCK_NONBLOCK | SOCK_CLOEXEC`
/// and `accept4` (Apple's) do to every new socket. Not atomic: a `fork`
/// between the socket's creation and this call leaks it into the child.
/// Built for tests on every Unix, so this path runs on Linux too.
#[cfg(any(test, target_vendor = "apple"))]
pub(crate) fn prepare_socket_after(socket: socket2::SockRef<'_>) -> io::Result<()> {
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    #[cfg(target_vendor = "apple")]
    socket.set_nosigpipe(true)?;
    Ok(())
}

// The paths of systems without `accept4`, `SOCK_CLOEXEC` and
// `MSG_CMSG_CLOEXEC` (Apple's), run where those exist.
#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::net::{UnixListener, UnixStream};

    use socket2::{Domain, SockAddrStorage, SockRef, Type};

    use super::{accept_then_prepare, owned_socket, prepare_socket_after, set_cloexec};

    fn is_cloexec(fd: &impl AsRawFd) -> bool {
        // SAFETY: F_GETFD on an fd the test owns; no memory involved.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert!(flags >= 0, "{}", std::io::Error::last_os_error());
        flags & libc::FD_CLOEXEC != 0
    }

    fn is_nonblocking(fd: &impl AsRawFd) -> bool {
        // SAFETY: F_GETFL on an fd the test owns; no memory involved.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        assert!(flags >= 0, "{}", std::io::Error::last_os_error());
        flags & libc::O_NONBLOCK != 0
    }

    #[test]
    fn a_socket_made_without_flags_is_prepared_after() {
        // new_raw: none of the flags socket2 would otherwise add itself.
        let socket = socket2::Socket::new_raw(Domain::UNIX, Type::STREAM, None).unwrap();
        assert!(
            !is_cloexec(&socket) && !is_nonblocking(&socket),
            "precondition: made without flags"
        );
        prepare_socket_after(SockRef::from(&socket)).unwrap();
        assert!(is_cloexec(&socket), "not close-on-exec");
        assert!(is_nonblocking(&socket), "not non-blocking");
    }

    #[test]
    fn accept_then_prepare_gives_what_accept4_gives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("listener");
        let listener = UnixListener::bind(&path).unwrap();
        let _client = UnixStream::connect(&path).unwrap();
        let mut storage = SockAddrStorage::zeroed();
        let mut len = storage.size_of();
        let addr: *mut libc::sockaddr = (&mut storage as *mut SockAddrStorage).cast();
        // SAFETY: addr/len point at storage of the size `len` says.
        let accepted =
            unsafe { accept_then_prepare(listener.as_raw_fd(), addr, &mut len) }.unwrap();
        // SAFETY: a successful accept hands over a new fd nobody else owns.
        let socket = unsafe { owned_socket(accepted) };
        assert!(is_cloexec(&socket), "not close-on-exec");
        assert!(is_nonblocking(&socket), "not non-blocking");
        // SAFETY: the kernel initialised `len` bytes of the storage.
        let peer = unsafe { socket2::SockAddr::new(storage, len) };
        assert!(peer.is_unix(), "the peer's address is filled in");
    }

    #[test]
    fn received_fds_are_marked_close_on_exec_after() {
        let (a, _b) = UnixStream::pair().unwrap();
        // dup's copy starts without FD_CLOEXEC, like an fd received with no
        // MSG_CMSG_CLOEXEC.
        let dup = || {
            // SAFETY: dup of an fd the test owns; no memory involved.
            let copy = super::cvt(unsafe { libc::dup(a.as_raw_fd()) } as isize).unwrap();
            // SAFETY: a successful dup returns a new fd nobody else owns.
            unsafe { owned_socket(copy) }
        };
        let copies: Vec<OwnedFd> = vec![dup(), dup()];
        assert!(
            copies.iter().all(|fd| !is_cloexec(fd)),
            "precondition: dup clears FD_CLOEXEC"
        );
        set_cloexec(&copies).unwrap();
        assert!(copies.iter().all(is_cloexec), "not close-on-exec");
    }
}
