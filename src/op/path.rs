//! Operations on paths: rename, unlink, mkdir.

use std::io;
use std::path::Path;

use super::{OpCode, Readiness};
use crate::os::sys::{self, NativePath};

/// Renames `from` to `to` (`renameat(2)`), replacing `to` if it exists.
///
/// ```
/// use proactor::op::{Op, RenameAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let (from, to) = (dir.path().join("from"), dir.path().join("to"));
/// std::fs::write(&from, b"x")?;
/// proactor::block_on(async { Op::new(RenameAt::new(&from, &to)?)?.await })?;
/// assert!(!from.exists() && to.exists());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RenameAt {
    from: NativePath,
    to: NativePath,
}

impl RenameAt {
    /// Renames `from` to `to`; an interior NUL is an `InvalidInput` error.
    ///
    /// ```
    /// use proactor::op::RenameAt;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let nul = RenameAt::new("a\0b".as_ref(), "c".as_ref()).unwrap_err();
    /// assert_eq!(nul.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    pub fn new(from: &Path, to: &Path) -> io::Result<Self> {
        Ok(RenameAt {
            from: sys::native_path(from)?,
            to: sys::native_path(to)?,
        })
    }
}

// SAFETY: the entry points at two CStrings owned by self.
unsafe impl OpCode for RenameAt {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::RenameAt::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let cwd = io_uring::types::Fd(libc::AT_FDCWD);
        io_uring::opcode::RenameAt::new(cwd, self.from.as_ptr(), cwd, self.to.as_ptr()).build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::rename(&self.from, &self.to)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}

/// Removes a file, or an empty directory with `dir` (`unlinkat(2)`).
///
/// ```
/// use proactor::op::{Op, UnlinkAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let (file, sub) = (dir.path().join("file"), dir.path().join("sub"));
/// std::fs::write(&file, b"x")?;
/// std::fs::create_dir(&sub)?;
/// proactor::block_on(async {
///     Op::new(UnlinkAt::new(&file, false)?)?.await?;
///     Op::new(UnlinkAt::new(&sub, true)?)?.await
/// })?;
/// assert!(!file.exists() && !sub.exists());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UnlinkAt {
    path: NativePath,
    dir: bool,
}

impl UnlinkAt {
    /// Removes `path`: a directory if `dir`, else a file.
    ///
    /// ```
    /// use proactor::op::{Op, UnlinkAt};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// let sub = dir.path().join("sub");
    /// std::fs::create_dir(&sub)?;
    /// // Not a file: removing it as one fails.
    /// let as_file = proactor::block_on(async { Op::new(UnlinkAt::new(&sub, false)?)?.await });
    /// assert!(as_file.is_err());
    /// assert!(sub.exists());
    /// # Ok(()) }
    /// ```
    pub fn new(path: &Path, dir: bool) -> io::Result<Self> {
        Ok(UnlinkAt {
            path: sys::native_path(path)?,
            dir,
        })
    }
}

// SAFETY: the entry points at a CString owned by self.
unsafe impl OpCode for UnlinkAt {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::UnlinkAt::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::UnlinkAt::new(io_uring::types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(sys::unlink_flags(self.dir))
            .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::unlink(&self.path, self.dir)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}

/// Creates a directory (`mkdirat(2)`).
///
/// ```
/// use proactor::op::{MkDirAt, Op};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let sub = dir.path().join("sub");
/// proactor::block_on(async { Op::new(MkDirAt::new(&sub, 0o755)?)?.await })?;
/// assert!(sub.is_dir());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MkDirAt {
    path: NativePath,
    mode: u32,
}

impl MkDirAt {
    /// Creates directory `path` with permission bits `mode` (before umask;
    /// Unix only: Windows ignores them).
    ///
    /// ```
    /// use proactor::op::{MkDirAt, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// let sub = dir.path().join("private");
    /// proactor::block_on(async { Op::new(MkDirAt::new(&sub, 0o700)?)?.await })?;
    /// assert!(sub.is_dir());
    /// #[cfg(unix)]
    /// {
    ///     use std::os::unix::fs::PermissionsExt;
    ///     assert_eq!(sub.metadata()?.permissions().mode() & 0o777, 0o700);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn new(path: &Path, mode: u32) -> io::Result<Self> {
        Ok(MkDirAt {
            path: sys::native_path(path)?,
            mode,
        })
    }
}

// SAFETY: the entry points at a CString owned by self.
unsafe impl OpCode for MkDirAt {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::MkDirAt::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::MkDirAt::new(io_uring::types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::mkdir(&self.path, self.mode)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
