use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use super::{cvt, OpCode, Readiness};

/// Opens a path relative to the current directory (`openat(AT_FDCWD, ..)`).
/// `O_CLOEXEC` is always added. If the future is dropped and the open then
/// succeeds, the new fd is closed.
#[derive(Debug)]
pub struct OpenAt {
    path: CString,
    flags: i32,
    mode: libc::mode_t,
}

impl OpenAt {
    /// Opens `path` with `open(2)` `flags` and `mode`. A path with an
    /// interior NUL byte is an `InvalidInput` error.
    pub fn new(path: &Path, flags: i32, mode: u32) -> io::Result<Self> {
        Ok(OpenAt {
            path: path_to_cstring(path)?,
            flags: flags | libc::O_CLOEXEC,
            mode: mode as libc::mode_t,
        })
    }
}

/// A path as the C string system calls take.
pub(crate) fn path_to_cstring(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains an interior NUL byte: {}", path.display()),
        )
    })
}

fn owned_fd(fd: usize) -> OwnedFd {
    // SAFETY: a successful open returns a new fd that nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

// SAFETY: the entry points at `path`, a CString owned by self whose heap
// buffer does not move.
unsafe impl OpCode for OpenAt {
    type Output = io::Result<OwnedFd>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::OpenAt::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::OpenAt::new(io_uring::types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .mode(self.mode)
            .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        // SAFETY: `path` is a valid NUL-terminated string owned by self.
        cvt(unsafe {
            libc::open(
                self.path.as_ptr(),
                self.flags,
                libc::c_uint::from(self.mode),
            )
        } as isize)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<OwnedFd> {
        result.map(owned_fd)
    }

    fn cleanup(self: Box<Self>, result: io::Result<usize>) {
        drop(result.map(owned_fd));
    }
}
