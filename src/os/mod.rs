//! What differs between operating systems: the raw handles operations take,
//! and (privately) the system calls the readiness back end makes.
//!
//! Operations are generic over their file or socket: anything that owns or
//! borrows an open handle of the right kind. On Unix both kinds are file
//! descriptors, so every [`AsFd`](https://doc.rust-lang.org/std/os/fd/trait.AsFd.html)
//! type (`File`, `OwnedFd`, `Arc<OwnedFd>`, `BorrowedFd<'static>`, the
//! sockets) is both an [`AsRawFile`] and an [`AsRawSource`]. On Windows
//! files are `HANDLE`s
//! ([`AsHandle`](https://doc.rust-lang.org/std/os/windows/io/trait.AsHandle.html))
//! and what the event loop can wait on are `SOCKET`s
//! ([`AsSocket`](https://doc.rust-lang.org/std/os/windows/io/trait.AsSocket.html)).
//!
//! ```
//! # #[cfg(unix)] {
//! use proactor::os::{AsRawFile, AsRawSource};
//!
//! let file = std::fs::File::open("Cargo.toml").unwrap();
//! assert_eq!(file.as_raw_file(), file.as_raw_source());
//! # }
//! ```
//!
//! # I/O safety
//!
//! An operation does I/O on its handle, so it must own it or hold a borrow
//! of it that outlives the operation: a bare raw fd (`RawFd` is `i32`)
//! proves neither, and is refused. Both traits are sealed, so no other type
//! can lend an arbitrary number either. An fd managed by hand goes through
//! the `unsafe` [`BorrowedFd::borrow_raw`](https://doc.rust-lang.org/std/os/fd/struct.BorrowedFd.html#method.borrow_raw),
//! whose caller promises that it stays open for as long as the borrow
//! lives (`'static`, for an operation).
//!
//! ```compile_fail,E0277
//! # #[cfg(unix)] {
//! use proactor::op::{Op, Read};
//!
//! let raw_fd: std::os::fd::RawFd = 0;
//! let _ = Op::new(Read::new(raw_fd, Vec::with_capacity(8)));
//! # }
//! # #[cfg(not(unix))] compile_error!("raw fds are a Unix notion");
//! ```
//!
//! ```
//! # #[cfg(unix)] {
//! use proactor::op::{Op, ReadAt};
//! use std::os::fd::OwnedFd;
//!
//! let driver = proactor::Driver::new().unwrap();
//! let file = OwnedFd::from(std::fs::File::open("Cargo.toml").unwrap());
//! let (n, buf) = driver.block_on(Op::with_driver(
//!     ReadAt::new(file, Vec::with_capacity(7), 0),
//!     driver.clone(),
//! ));
//! assert_eq!(n.unwrap(), 7);
//! assert_eq!(buf, b"[packag");
//! # }
//! ```
//!
//! Every private system-call module (`unix.rs`, `windows.rs`) has the same
//! names: the raw and owned handle types, `native_path`, positional file
//! I/O, `fsync`, `set_len`, `fstat`, `stat`, `open`, `close`, path
//! operations, and non-blocking socket calls that report `WouldBlock` when
//! the event loop must wait.

cfg_if::cfg_if! {
    if #[cfg(unix)] {
        #[path = "unix.rs"]
        pub(crate) mod sys;
    } else if #[cfg(windows)] {
        #[path = "windows.rs"]
        pub(crate) mod sys;
    } else {
        compile_error!("proactor runs on Unix-like systems and Windows");
    }
}

#[cfg(all(target_os = "linux", feature = "uring"))]
mod armed_poll;
mod async_fd;
#[cfg(target_os = "linux")]
mod pipe;
#[cfg(target_os = "linux")]
pub(crate) mod sigpipe;

pub use async_fd::AsyncFd;
#[cfg(target_os = "linux")]
#[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
pub use pipe::{pipe, pipe_on, tee, PipeReader, PipeWriter};
pub use sys::{RawFile, RawSource};

/// A value that owns or borrows an open file and can lend its raw handle:
/// an fd on Unix, a `HANDLE` on Windows. Implemented for every `AsFd`
/// (Unix) or `AsHandle` (Windows) type, and sealed: no other type can lend
/// a handle it does not own (see [I/O safety](self#io-safety)):
///
/// ```compile_fail,E0277
/// use proactor::os::{AsRawFile, RawFile};
///
/// struct AnyNumber(RawFile);
///
/// impl AsRawFile for AnyNumber {
///     fn as_raw_file(&self) -> RawFile {
///         self.0
///     }
/// }
/// ```
pub trait AsRawFile: sealed::File {
    /// The raw handle, borrowed: the value keeps owning it.
    fn as_raw_file(&self) -> RawFile;
}

/// A value that owns or borrows an open handle the event loop can wait on,
/// and can lend it raw: an fd on Unix (sockets, pipes, terminals), a
/// `SOCKET` on Windows. Implemented for every `AsFd` (Unix) or `AsSocket`
/// (Windows) type, and sealed like [`AsRawFile`].
///
/// ```
/// use proactor::os::{AsRawSource, RawSource};
/// use std::sync::Arc;
///
/// # fn main() -> std::io::Result<()> {
/// let socket = Arc::new(std::net::UdpSocket::bind("127.0.0.1:0")?);
/// let raw: RawSource = socket.as_raw_source(); // owned, shared or borrowed
/// #[cfg(unix)]
/// assert_eq!(raw, std::os::fd::AsRawFd::as_raw_fd(&*socket));
/// #[cfg(windows)]
/// assert_eq!(raw, std::os::windows::io::AsRawSocket::as_raw_socket(&*socket));
/// # Ok(()) }
/// ```
pub trait AsRawSource: sealed::Source {
    /// The raw handle, borrowed: the value keeps owning it.
    fn as_raw_source(&self) -> RawSource;
}

/// Unnameable supertraits: only the blanket implementations in the
/// system-call modules, over std's owned-or-borrowed handle traits, exist.
pub(crate) mod sealed {
    /// Sealing [`AsRawFile`](super::AsRawFile).
    pub trait File {}
    /// Sealing [`AsRawSource`](super::AsRawSource).
    pub trait Source {}
}
