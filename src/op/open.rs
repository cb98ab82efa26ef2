use std::io;
use std::path::Path;

use super::{OpCode, Readiness};
use crate::os::sys::{self, NativePath, OwnedFile};

/// Opens a path relative to the current directory (`openat(AT_FDCWD, ..)`).
/// `O_CLOEXEC` is always added. If the future is dropped and the open then
/// succeeds, the new fd is closed.
///
/// On Windows the access, `O_APPEND`, `O_CREAT`, `O_EXCL` and `O_TRUNC`
/// bits (as the C runtime numbers them, see `libc`) are honoured; other bits
/// and `mode` are ignored, and the output is an `OwnedHandle`.
///
/// ```
/// use proactor::op::{Op, OpenAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("data");
/// let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
/// let fd = proactor::block_on(async { Op::new(OpenAt::new(&path, flags, 0o600)?)?.await })?;
/// std::io::Write::write_all(&mut std::fs::File::from(fd), b"opened")?;
/// assert_eq!(std::fs::read(&path)?, b"opened");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OpenAt {
    path: NativePath,
    flags: i32,
    mode: u32,
}

impl OpenAt {
    /// Opens `path` with `open(2)` `flags` and `mode`. A path with an
    /// interior NUL byte is an `InvalidInput` error.
    ///
    /// ```
    /// use proactor::op::{Op, OpenAt};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// let missing = dir.path().join("missing");
    /// let open = OpenAt::new(&missing, libc::O_RDONLY, 0)?;
    /// let err = proactor::block_on(async { Op::new(open)?.await }).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// let nul = OpenAt::new("a\0b".as_ref(), libc::O_RDONLY, 0).unwrap_err();
    /// assert_eq!(nul.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    pub fn new(path: &Path, flags: i32, mode: u32) -> io::Result<Self> {
        Ok(OpenAt {
            path: sys::native_path(path)?,
            flags: flags | sys::CLOEXEC_FLAG,
            mode,
        })
    }
}

fn owned(raw: usize) -> OwnedFile {
    // SAFETY: a successful open returns a new fd (handle) nobody else owns.
    unsafe { sys::owned_file(raw) }
}

// SAFETY: the entry points at `path`, a CString owned by self whose heap
// buffer does not move.
unsafe impl OpCode for OpenAt {
    type Output = io::Result<OwnedFile>;

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
        sys::open(&self.path, self.flags, self.mode)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<OwnedFile> {
        result.map(owned)
    }

    fn cleanup(self: Box<Self>, result: io::Result<usize>) {
        drop(result.map(owned));
    }
}
