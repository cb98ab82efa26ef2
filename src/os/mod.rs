//! What differs between operating systems: the raw handles operations take,
//! and (privately) the system calls the readiness back end makes.
//!
//! Operations are generic over their file or socket: anything that can lend
//! a raw handle of the right kind. On Unix both kinds are file descriptors,
//! so every [`AsRawFd`](https://doc.rust-lang.org/std/os/fd/trait.AsRawFd.html)
//! type is both an [`AsRawFile`]
//! and an [`AsRawSource`]. On Windows files are `HANDLE`s
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

pub use sys::{RawFile, RawSource};

/// A value that can lend the raw handle of an open file: an fd on Unix, a
/// `HANDLE` on Windows. Implemented for every `AsRawFd` (Unix) or
/// `AsHandle` (Windows) type.
pub trait AsRawFile {
    /// The raw handle, borrowed: the value keeps owning it.
    fn as_raw_file(&self) -> RawFile;
}

/// A value that can lend a raw handle the event loop can wait on: an fd on
/// Unix (sockets, pipes, terminals), a `SOCKET` on Windows. Implemented for
/// every `AsRawFd` (Unix) or `AsSocket` (Windows) type.
pub trait AsRawSource {
    /// The raw handle, borrowed: the value keeps owning it.
    fn as_raw_source(&self) -> RawSource;
}
