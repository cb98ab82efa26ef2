//! Operations that make links: a hard link (`linkat(2)`) and a symbolic
//! link (`symlinkat(2)`).

use std::io;
use std::path::Path;

use super::{OpCode, Readiness};
use crate::os::sys::{self, NativePath};

/// Makes `link` a new name for the file `original` names (`linkat(2)`
/// relative to the current directory). A symlink `original` is linked
/// itself, not followed, as `link(2)` does on Linux.
///
/// ```
/// use proactor::op::{LinkAt, Op};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let (original, link) = (dir.path().join("original"), dir.path().join("link"));
/// std::fs::write(&original, b"shared")?;
/// proactor::block_on(async { Op::new(LinkAt::new(&original, &link)?)?.await })?;
/// assert_eq!(std::fs::read(&link)?, b"shared");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LinkAt {
    original: NativePath,
    link: NativePath,
}

impl LinkAt {
    /// Links `link` to `original`; an interior NUL in either path is an
    /// `InvalidInput` error.
    ///
    /// ```
    /// use proactor::op::LinkAt;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// let nul = LinkAt::new("a\0b".as_ref(), "c".as_ref()).unwrap_err();
    /// assert_eq!(nul.kind(), std::io::ErrorKind::InvalidInput);
    /// let ok = LinkAt::new(&dir.path().join("a"), &dir.path().join("b"));
    /// assert!(ok.is_ok());
    /// # Ok(()) }
    /// ```
    pub fn new(original: &Path, link: &Path) -> io::Result<Self> {
        Ok(LinkAt {
            original: sys::native_path(original)?,
            link: sys::native_path(link)?,
        })
    }
}

// SAFETY: the entry points at two CStrings owned by self, whose heap buffers
// do not move.
unsafe impl OpCode for LinkAt {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::LinkAt::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let cwd = io_uring::types::Fd(libc::AT_FDCWD);
        io_uring::opcode::LinkAt::new(cwd, self.original.as_ptr(), cwd, self.link.as_ptr()).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::hard_link(&self.original, &self.link)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}

/// Makes `link` a symbolic link whose contents are `target`
/// (`symlinkat(2)` relative to the current directory). `target` is stored
/// as given: it need not exist, and a relative one is resolved from the
/// link's directory when the link is followed.
///
/// ```
/// use proactor::op::{Op, SymlinkAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let link = dir.path().join("link");
/// proactor::block_on(async { Op::new(SymlinkAt::new("not/there/yet".as_ref(), &link)?)?.await })?;
/// assert_eq!(std::fs::read_link(&link)?, std::path::Path::new("not/there/yet"));
/// # Ok(()) }
/// ```
#[cfg(unix)]
#[derive(Debug)]
pub struct SymlinkAt {
    target: NativePath,
    link: NativePath,
}

#[cfg(unix)]
impl SymlinkAt {
    /// Makes `link` point at `target`; an interior NUL in either path is an
    /// `InvalidInput` error.
    ///
    /// ```
    /// use proactor::op::{Op, SymlinkAt};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// let nul = SymlinkAt::new("a\0b".as_ref(), "c".as_ref()).unwrap_err();
    /// assert_eq!(nul.kind(), std::io::ErrorKind::InvalidInput);
    /// let link = dir.path().join("link");
    /// proactor::block_on(async { Op::new(SymlinkAt::new("target".as_ref(), &link)?)?.await })?;
    /// assert!(link.symlink_metadata()?.file_type().is_symlink());
    /// # Ok(()) }
    /// ```
    pub fn new(target: &Path, link: &Path) -> io::Result<Self> {
        Ok(SymlinkAt {
            target: sys::native_path(target)?,
            link: sys::native_path(link)?,
        })
    }
}

// SAFETY: the entry points at two CStrings owned by self, whose heap buffers
// do not move.
#[cfg(unix)]
unsafe impl OpCode for SymlinkAt {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::SymlinkAt::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::SymlinkAt::new(
            io_uring::types::Fd(libc::AT_FDCWD),
            self.target.as_ptr(),
            self.link.as_ptr(),
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::symlink(&self.target, &self.link)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
