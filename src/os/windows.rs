//! System calls on Windows, for the readiness back end. Files are `HANDLE`s
//! used only on the blocking pool (positional I/O through `seek_read` and
//! `seek_write`); sockets are non-blocking `SOCKET`s the event loop (polling's
//! IOCP back end) waits on.

use std::fs::File;
use std::io;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::net::Shutdown as How;
use std::os::windows::fs::{FileExt, OpenOptionsExt};
use std::os::windows::io::{
    AsHandle, AsRawHandle, AsRawSocket, AsSocket, BorrowedSocket, FromRawHandle, FromRawSocket,
    IntoRawSocket, OwnedHandle, OwnedSocket as StdOwnedSocket, RawHandle, RawSocket,
};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use socket2::{SockAddr, SockRef};

use super::{sealed, AsRawFile, AsRawSource};
use crate::op::{FileStat, Interest};

/// The raw handle of an open file: a `HANDLE`.
pub type RawFile = RawHandle;
/// A raw handle the event loop can wait on: a `SOCKET`.
pub type RawSource = RawSocket;
/// An open file, owned.
pub(crate) type OwnedFile = OwnedHandle;
/// A socket, owned.
pub(crate) type OwnedSocket = StdOwnedSocket;
/// A path as the system calls take it.
pub(crate) type NativePath = PathBuf;

// Over AsHandle and AsSocket, not their Raw counterparts: those lend a
// handle without owning or borrowing it (I/O safety), and std implements
// these for Arc, which files and sockets share with in-flight operations.
impl<T: AsHandle + ?Sized> sealed::File for T {}
impl<T: AsSocket + ?Sized> sealed::Source for T {}

impl<T: AsHandle + ?Sized> AsRawFile for T {
    fn as_raw_file(&self) -> RawFile {
        self.as_handle().as_raw_handle()
    }
}

impl<T: AsSocket + ?Sized> AsRawSource for T {
    fn as_raw_source(&self) -> RawSource {
        self.as_socket().as_raw_socket()
    }
}

/// `O_CLOEXEC`'s counterpart: Rust opens handles non-inheritable already.
pub(crate) const CLOEXEC_FLAG: i32 = 0;

/// A path the system calls take; an interior NUL is an `InvalidInput`
/// error, as on Unix.
pub(crate) fn native_path(path: &Path) -> io::Result<NativePath> {
    use std::os::windows::ffi::OsStrExt;
    if path.as_os_str().encode_wide().any(|unit| unit == 0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains an interior NUL: {}", path.display()),
        ));
    }
    Ok(path.to_path_buf())
}

/// Owns the handle a successful open returned.
///
/// # Safety
///
/// `raw` must be a newly opened handle that nothing else owns.
pub(crate) unsafe fn owned_file(raw: usize) -> OwnedFile {
    // SAFETY: the caller hands over sole ownership of the handle.
    unsafe { OwnedHandle::from_raw_handle(raw as RawHandle) }
}

/// Owns the socket a successful accept returned.
///
/// # Safety
///
/// `raw` must be a newly accepted socket that nothing else owns.
pub(crate) unsafe fn owned_socket(raw: usize) -> OwnedSocket {
    // SAFETY: the caller hands over sole ownership of the socket.
    unsafe { StdOwnedSocket::from_raw_socket(raw as RawSocket) }
}

/// Lends `file` as a `std::fs::File` that does not close it.
fn borrow_file(file: RawFile) -> ManuallyDrop<File> {
    // SAFETY: the operation that owns the handle keeps it open for the
    // call; ManuallyDrop keeps the File from closing it.
    ManuallyDrop::new(unsafe { File::from_raw_handle(file) })
}

/// Lends `socket` to socket2 for one call.
fn with_socket<T>(socket: RawSource, call: impl FnOnce(SockRef<'_>) -> T) -> T {
    // SAFETY: the operation that owns the socket keeps it open for the call.
    let borrowed = unsafe { BorrowedSocket::borrow_raw(socket) };
    call(SockRef::from(&borrowed))
}

fn offset_arg(offset: u64) -> io::Result<u64> {
    if offset > i64::MAX as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "file offset beyond i64::MAX",
        ));
    }
    Ok(offset)
}

/// Refuses an offset the system cannot take, as Unix does.
pub(crate) fn check_offset(offset: u64) -> io::Result<()> {
    offset_arg(offset).map(drop)
}

/// A positional read (`ReadFile` with an offset).
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
    // SAFETY: as the caller promises; the bytes may be uninitialised, but
    // ReadFile only writes them.
    let buf = unsafe { std::slice::from_raw_parts_mut(buf, len) };
    match borrow_file(file).seek_read(buf, offset) {
        // Reading at or past the end of a file is end of file, as on Unix.
        Err(e) if e.raw_os_error() == Some(ERROR_HANDLE_EOF) => Ok(0),
        other => other,
    }
}

const ERROR_HANDLE_EOF: i32 = 38;

/// A positional write (`WriteFile` with an offset).
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
    let buf = unsafe { std::slice::from_raw_parts(buf, len) };
    borrow_file(file).seek_write(buf, offset)
}

/// One buffer of a vectored call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IoVec {
    base: *mut u8,
    len: usize,
}

/// Describes `len` bytes at `base`.
pub(crate) fn io_vec(base: *mut u8, len: usize) -> IoVec {
    IoVec { base, len }
}

/// Where the bytes `iovec` describes start.
pub(crate) fn io_vec_base(iovec: &IoVec) -> *mut u8 {
    iovec.base
}

/// The length `iovec` describes.
pub(crate) fn io_vec_len(iovec: &IoVec) -> usize {
    iovec.len
}

/// Positional reads into each of `bufs` in turn (Windows has no vectored
/// file read on ordinary handles), stopping at the first short one, as
/// `preadv(2)` fills its buffers.
///
/// # Safety
///
/// Each of `bufs` must be valid for writes of its length for the whole call.
pub(crate) unsafe fn read_vectored_at(
    file: RawFile,
    bufs: &[IoVec],
    offset: u64,
) -> io::Result<usize> {
    each_in_turn(bufs, offset, |buf, at| {
        // SAFETY: as the caller promises.
        unsafe { read_at(file, buf.base, buf.len, at) }
    })
}

/// Positional writes of each of `bufs` in turn, stopping at the first short
/// one, as `pwritev(2)` writes them.
///
/// # Safety
///
/// Each of `bufs` must be valid for reads of its length for the whole call.
pub(crate) unsafe fn write_vectored_at(
    file: RawFile,
    bufs: &[IoVec],
    offset: u64,
) -> io::Result<usize> {
    each_in_turn(bufs, offset, |buf, at| {
        // SAFETY: as the caller promises.
        unsafe { write_at(file, buf.base, buf.len, at) }
    })
}

/// Runs `call` on each of `bufs` at its offset until one comes up short.
/// What was done stands; an error after some bytes comes again on the
/// caller's next call.
fn each_in_turn(
    bufs: &[IoVec],
    offset: u64,
    mut call: impl FnMut(&IoVec, u64) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut done = 0usize;
    for buf in bufs {
        match call(buf, offset.saturating_add(done as u64)) {
            Ok(n) => {
                done += n;
                if n < buf.len {
                    break;
                }
            }
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// `FlushFileBuffers`, which covers data and metadata alike.
pub(crate) fn fsync(file: RawFile, data_only: bool) -> io::Result<usize> {
    let file = borrow_file(file);
    if data_only {
        file.sync_data()?;
    } else {
        file.sync_all()?;
    }
    Ok(0)
}

/// Truncates or extends the file.
pub(crate) fn set_len(file: RawFile, len: u64) -> io::Result<usize> {
    borrow_file(file).set_len(offset_arg(len)?)?;
    Ok(0)
}

/// Sets the read-only attribute of an open file as `permissions` says.
pub(crate) fn set_permissions(
    file: RawFile,
    permissions: &std::fs::Permissions,
) -> io::Result<usize> {
    borrow_file(file).set_permissions(permissions.clone())?;
    Ok(0)
}

/// POSIX-style file type and permission bits, as Unix reports them.
fn file_stat(meta: &std::fs::Metadata) -> FileStat {
    let kind = if meta.is_dir() {
        libc::S_IFDIR
    } else if meta.is_file() {
        libc::S_IFREG
    } else {
        libc::S_IFCHR
    } as u32;
    let perms = if meta.permissions().readonly() {
        0o444
    } else {
        0o666
    };
    let modified = meta
        .modified()
        .ok()
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    FileStat {
        size: meta.len(),
        mode: kind | perms,
        modified_sec: modified.as_secs() as i64,
        modified_nsec: modified.subsec_nanos(),
    }
}

/// The metadata of an open file.
pub(crate) fn fstat(file: RawFile) -> io::Result<FileStat> {
    Ok(file_stat(&borrow_file(file).metadata()?))
}

/// The metadata of a path, following symlinks.
pub(crate) fn stat(path: &NativePath) -> io::Result<FileStat> {
    Ok(file_stat(&std::fs::metadata(path)?))
}

/// Opens `path` with `open(2)`-style flags (`O_RDONLY`, `O_WRONLY`,
/// `O_RDWR`, `O_APPEND`, `O_CREAT`, `O_EXCL`, `O_TRUNC`, as the C runtime
/// numbers them); other bits and `mode` are ignored. Returns the handle.
pub(crate) fn open(path: &NativePath, flags: i32, _mode: u32) -> io::Result<usize> {
    let access = flags & (libc::O_RDONLY | libc::O_WRONLY | libc::O_RDWR);
    let mut options = std::fs::OpenOptions::new();
    options
        .read(access == libc::O_RDONLY || access == libc::O_RDWR)
        .write(access == libc::O_WRONLY || access == libc::O_RDWR)
        .append(flags & libc::O_APPEND != 0)
        .truncate(flags & libc::O_TRUNC != 0);
    if flags & libc::O_CREAT != 0 && flags & libc::O_EXCL != 0 {
        options.create_new(true);
    } else {
        options.create(flags & libc::O_CREAT != 0);
    }
    // Directories open too, as on Unix (for metadata and sync).
    const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
    options.custom_flags(FILE_FLAG_BACKUP_SEMANTICS);
    let file = options.open(path)?;
    Ok(std::os::windows::io::IntoRawHandle::into_raw_handle(file) as usize)
}

/// Closes the handle.
pub(crate) fn close(file: OwnedFile) -> io::Result<usize> {
    drop(file);
    Ok(0)
}

/// Renames `from` to `to`, replacing `to`.
pub(crate) fn rename(from: &NativePath, to: &NativePath) -> io::Result<usize> {
    std::fs::rename(from, to).map(|()| 0)
}

/// Removes a directory if `dir`, else a file.
pub(crate) fn unlink(path: &NativePath, dir: bool) -> io::Result<usize> {
    if dir {
        std::fs::remove_dir(path).map(|()| 0)
    } else {
        std::fs::remove_file(path).map(|()| 0)
    }
}

/// Creates a directory; `mode` has no meaning on Windows.
pub(crate) fn mkdir(path: &NativePath, _mode: u32) -> io::Result<usize> {
    std::fs::create_dir(path).map(|()| 0)
}

/// Makes `link` a new name for the file `original` names.
pub(crate) fn hard_link(original: &NativePath, link: &NativePath) -> io::Result<usize> {
    std::fs::hard_link(original, link).map(|()| 0)
}

/// `buf` as a slice of bytes that may be uninitialised.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes while the slice lives.
unsafe fn uninit_slice<'a>(buf: *mut u8, len: usize) -> &'a mut [MaybeUninit<u8>] {
    // SAFETY: as the caller promises; MaybeUninit asks nothing of the
    // contents.
    unsafe { std::slice::from_raw_parts_mut(buf.cast(), len) }
}

/// The count a receive reports: a datagram longer than the buffer fills
/// it, and WinSock says `WSAEMSGSIZE`; Unix reports the truncated read as
/// the buffer's length, and so does this.
fn received(count: usize, flags: socket2::RecvFlags, len: usize) -> usize {
    if flags.is_truncated() {
        len
    } else {
        count
    }
}

/// A send on a socket shut down for writing: WinSock's `WSAESHUTDOWN`,
/// which std leaves uncategorised, is `BrokenPipe`, as on Unix.
fn sent(result: io::Result<usize>) -> io::Result<usize> {
    const WSAESHUTDOWN: i32 = 10058;
    result.map_err(|error| match error.raw_os_error() {
        Some(WSAESHUTDOWN) => io::Error::new(io::ErrorKind::BrokenPipe, error),
        _ => error,
    })
}

/// `recv` (`WSARecv`).
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes for the whole call.
pub(crate) unsafe fn recv(socket: RawSource, buf: *mut u8, len: usize) -> io::Result<usize> {
    // SAFETY: as the caller promises.
    let mut bufs = [socket2::MaybeUninitSlice::new(unsafe {
        uninit_slice(buf, len)
    })];
    let (count, flags) = with_socket(socket, |sock| sock.recv_vectored(&mut bufs))?;
    Ok(received(count, flags, len))
}

/// `recvfrom` (`WSARecvFrom`), with the sender's address.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes for the whole call.
pub(crate) unsafe fn recv_from(
    socket: RawSource,
    buf: *mut u8,
    len: usize,
) -> io::Result<(usize, SockAddr)> {
    // SAFETY: as the caller promises.
    let mut bufs = [socket2::MaybeUninitSlice::new(unsafe {
        uninit_slice(buf, len)
    })];
    let (count, flags, from) = with_socket(socket, |sock| sock.recv_from_vectored(&mut bufs))?;
    Ok((received(count, flags, len), from))
}

/// `send`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes for the whole call.
pub(crate) unsafe fn send(socket: RawSource, buf: *const u8, len: usize) -> io::Result<usize> {
    // SAFETY: as the caller promises.
    let buf = unsafe { std::slice::from_raw_parts(buf, len) };
    sent(with_socket(socket, |sock| sock.send(buf)))
}

/// `sendto`.
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
    // SAFETY: as the caller promises.
    let buf = unsafe { std::slice::from_raw_parts(buf, len) };
    sent(with_socket(socket, |sock| sock.send_to(buf, addr)))
}

/// Whether `socket` is ready for `interest`. The event loop's poller is
/// the only way to ask here: the first call (`waited` false) says
/// `WouldBlock`, so the operation waits in the poller, which reports a
/// socket already ready at once; the call after that wait says ready.
pub(crate) fn poll_ready(
    _socket: RawSource,
    _interest: Interest,
    waited: bool,
) -> io::Result<usize> {
    if waited {
        Ok(0)
    } else {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// `shutdown`.
pub(crate) fn shutdown(socket: RawSource, how: How) -> io::Result<usize> {
    with_socket(socket, |sock| sock.shutdown(how)).map(|()| 0)
}

/// Where a non-blocking connection attempt stands (as on Unix).
#[derive(Debug)]
pub(crate) enum ConnectState {
    /// The socket is connected.
    Connected,
    /// The attempt goes on: wait for writability, then ask
    /// [`connect_result`].
    InProgress,
    /// `connect` started no attempt. Unix's `EAGAIN`; Windows reports no
    /// such case (`WSAEWOULDBLOCK` means in progress), so never made here.
    #[allow(dead_code)]
    NotStarted(io::Error),
}

/// Starts a non-blocking `connect`.
pub(crate) fn connect(socket: RawSource, addr: &SockAddr) -> io::Result<ConnectState> {
    match with_socket(socket, |sock| sock.connect(addr)) {
        Ok(()) => Ok(ConnectState::Connected),
        // WSAEWOULDBLOCK maps to WouldBlock; WSAEINPROGRESS may not.
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock
                || e.raw_os_error() == Some(WSAEINPROGRESS) =>
        {
            Ok(ConnectState::InProgress)
        }
        Err(e) => Err(e),
    }
}

const WSAEINPROGRESS: i32 = 10036;

/// Where the connection attempt on `socket` stands, asked when it woke the
/// event loop. A wake-up proves nothing (invariant 11), so this checks, as
/// on Unix: `SO_ERROR` says how a failed attempt failed, `getpeername`
/// succeeds once connected, and `WSAENOTCONN` with no error means still in
/// progress.
pub(crate) fn connect_result(socket: RawSource, _addr: &SockAddr) -> io::Result<ConnectState> {
    with_socket(socket, |sock| {
        if let Some(error) = sock.take_error()? {
            return Err(error);
        }
        match sock.peer_addr() {
            Ok(_) => Ok(ConnectState::Connected),
            Err(e) if e.raw_os_error() == Some(WSAENOTCONN) => Ok(ConnectState::InProgress),
            Err(e) => Err(e),
        }
    })
}

const WSAENOTCONN: i32 = 10057;

/// `accept`, giving a non-blocking socket and the peer's address.
pub(crate) fn accept(listener: RawSource) -> io::Result<(usize, SockAddr)> {
    let (socket, addr) = with_socket(listener, |sock| sock.accept())?;
    socket.set_nonblocking(true)?;
    Ok((socket.into_raw_socket() as usize, addr))
}
