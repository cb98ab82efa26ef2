//! Operations on paths: rename, unlink, mkdir.

use std::io;
use std::path::Path;

use super::{OpCode, Readiness};
use crate::os::sys::{self, NativePath};

/// Renames `from` to `to` (`renameat(2)`), replacing `to` if it exists.
#[derive(Debug)]
pub struct RenameAt {
    from: NativePath,
    to: NativePath,
}

impl RenameAt {
    /// Renames `from` to `to`; an interior NUL is an `InvalidInput` error.
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
#[derive(Debug)]
pub struct UnlinkAt {
    path: NativePath,
    dir: bool,
}

impl UnlinkAt {
    /// Removes `path`: a directory if `dir`, else a file.
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
#[derive(Debug)]
pub struct MkDirAt {
    path: NativePath,
    mode: u32,
}

impl MkDirAt {
    /// Creates directory `path` with permission bits `mode` (before umask).
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
