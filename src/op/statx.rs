use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::open::path_to_cstring;
use super::{OpCode, Readiness};

/// What [`Statx`] reports about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// File type and permission bits (`st_mode`).
    pub mode: u32,
    /// Last modification, seconds since the Unix epoch.
    pub modified_sec: i64,
    /// Nanoseconds part of the last modification.
    pub modified_nsec: u32,
}

impl FileStat {
    #[allow(clippy::unnecessary_cast)] // the stat field types differ by OS
    fn from_stat(st: &libc::stat) -> FileStat {
        FileStat {
            size: st.st_size as u64,
            mode: st.st_mode as u32,
            modified_sec: st.st_mtime as i64,
            modified_nsec: st.st_mtime_nsec as u32,
        }
    }

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn from_statx(sx: &libc::statx) -> FileStat {
        FileStat {
            size: sx.stx_size,
            mode: u32::from(sx.stx_mode),
            modified_sec: sx.stx_mtime.tv_sec,
            modified_nsec: sx.stx_mtime.tv_nsec,
        }
    }
}

#[cfg(all(target_os = "linux", feature = "uring"))]
fn zeroed_statx() -> Box<libc::statx> {
    // SAFETY: statx is plain old data; all-zero is a valid value.
    Box::new(unsafe { std::mem::zeroed() })
}

/// Reads the metadata of an open file: `statx(2)` on io_uring, `fstat(2)` on
/// the blocking pool otherwise.
pub struct Statx<F> {
    fd: F,
    #[cfg(all(target_os = "linux", feature = "uring"))]
    statx: Box<libc::statx>,
    stat: Option<FileStat>,
}

impl<F> std::fmt::Debug for Statx<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statx")
            .field("stat", &self.stat)
            .finish_non_exhaustive()
    }
}

impl<F: AsRawFd + Send + 'static> Statx<F> {
    /// Metadata of `fd`.
    pub fn new(fd: F) -> Self {
        Statx {
            fd,
            #[cfg(all(target_os = "linux", feature = "uring"))]
            statx: zeroed_statx(),
            stat: None,
        }
    }
}

// SAFETY: the entry points at the empty path (a 'static C string) and at
// `statx`, a Box owned by self whose heap memory does not move.
unsafe impl<F: AsRawFd + Send + 'static> OpCode for Statx<F> {
    type Output = io::Result<FileStat>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Statx::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let statx: *mut libc::statx = &mut *self.statx;
        io_uring::opcode::Statx::new(
            io_uring::types::Fd(self.fd.as_raw_fd()),
            c"".as_ptr(),
            statx.cast::<io_uring::types::statx>(),
        )
        .flags(libc::AT_EMPTY_PATH)
        .mask(libc::STATX_BASIC_STATS)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        // SAFETY: stat is plain old data; all-zero is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a valid, writable stat buffer.
        if unsafe { libc::fstat(self.fd.as_raw_fd(), &mut st) } < 0 {
            return Err(io::Error::last_os_error());
        }
        self.stat = Some(FileStat::from_stat(&st));
        Ok(0)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<FileStat> {
        result?;
        if let Some(stat) = self.stat {
            return Ok(stat);
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        {
            let sx = &*self.statx;
            Ok(FileStat {
                size: sx.stx_size,
                mode: u32::from(sx.stx_mode),
                modified_sec: sx.stx_mtime.tv_sec,
                modified_nsec: sx.stx_mtime.tv_nsec,
            })
        }
        #[cfg(not(all(target_os = "linux", feature = "uring")))]
        Err(io::Error::other(
            "statx completed without filling its buffer",
        ))
    }
}

/// Reads the metadata of a path, following symlinks: `statx(2)` on
/// io_uring, `stat(2)` on the blocking pool otherwise.
pub struct StatxPath {
    path: CString,
    #[cfg(all(target_os = "linux", feature = "uring"))]
    statx: Box<libc::statx>,
    stat: Option<FileStat>,
}

impl std::fmt::Debug for StatxPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatxPath")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StatxPath {
    /// Metadata of `path`; an interior NUL is an `InvalidInput` error.
    pub fn new(path: &Path) -> io::Result<Self> {
        Ok(StatxPath {
            path: path_to_cstring(path)?,
            #[cfg(all(target_os = "linux", feature = "uring"))]
            statx: zeroed_statx(),
            stat: None,
        })
    }
}

// SAFETY: the entry points at `path` (a CString's heap buffer) and `statx`
// (a Box), both owned by self and unmoved.
unsafe impl OpCode for StatxPath {
    type Output = io::Result<FileStat>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Statx::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let statx: *mut libc::statx = &mut *self.statx;
        io_uring::opcode::Statx::new(
            io_uring::types::Fd(libc::AT_FDCWD),
            self.path.as_ptr(),
            statx.cast::<io_uring::types::statx>(),
        )
        .mask(libc::STATX_BASIC_STATS)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        // SAFETY: stat is plain old data; all-zero is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a valid C string and a writable stat buffer.
        if unsafe { libc::stat(self.path.as_ptr(), &mut st) } < 0 {
            return Err(io::Error::last_os_error());
        }
        self.stat = Some(FileStat::from_stat(&st));
        Ok(0)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<FileStat> {
        result?;
        if let Some(stat) = self.stat {
            return Ok(stat);
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        return Ok(FileStat::from_statx(&self.statx));
        #[cfg(not(all(target_os = "linux", feature = "uring")))]
        Err(io::Error::other(
            "statx completed without filling its buffer",
        ))
    }
}
