use std::io;
use std::path::Path;

use super::{OpCode, Readiness};
use crate::os::sys::{self, NativePath};
use crate::os::AsRawFile;

/// What [`Statx`] and [`StatxPath`] report about a file.
///
/// ```
/// use proactor::op::{FileStat, Op, StatxPath};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// std::fs::write(&path, b"12345")?;
/// let stat: FileStat = proactor::block_on(async { Op::new(StatxPath::new(&path)?)?.await })?;
/// assert_eq!(stat.size, 5);
/// // The type bits as `st_mode` has them (a C `int` on Windows, hence the casts).
/// assert_eq!(stat.mode & libc::S_IFMT as u32, libc::S_IFREG as u32); // a regular file
/// let modified = std::fs::metadata(&path)?.modified()?;
/// let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).unwrap();
/// assert_eq!(stat.modified_sec, since_epoch.as_secs() as i64);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// File type and permission bits (`st_mode`). Windows has no such
    /// bits: the type is `S_IFDIR`, `S_IFREG` or `S_IFCHR`, the permissions
    /// `0o444` for a read-only file and `0o666` otherwise.
    pub mode: u32,
    /// Last modification, seconds since the Unix epoch.
    pub modified_sec: i64,
    /// Nanoseconds part of the last modification.
    pub modified_nsec: u32,
}

/// Where a stat operation's answer lands: the `statx` buffer the kernel
/// fills on io_uring, or the `stat` the blocking pool got.
struct StatBuf {
    /// Boxed: the kernel writes into it while the operation moves around.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    statx: Box<libc::statx>,
    stat: Option<FileStat>,
}

impl StatBuf {
    fn new() -> StatBuf {
        StatBuf {
            // SAFETY: statx is plain old data; all-zero is a valid value.
            #[cfg(all(target_os = "linux", feature = "uring"))]
            statx: Box::new(unsafe { std::mem::zeroed() }),
            stat: None,
        }
    }

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn statx_ptr(&mut self) -> *mut io_uring::types::statx {
        let statx: *mut libc::statx = &mut *self.statx;
        statx.cast()
    }

    /// Keeps the answer a `stat`-family call gave.
    fn fill(&mut self, stat: io::Result<FileStat>) -> io::Result<usize> {
        self.stat = Some(stat?);
        Ok(0)
    }

    fn finish(self, result: io::Result<usize>) -> io::Result<FileStat> {
        result?;
        if let Some(stat) = self.stat {
            return Ok(stat);
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        return Ok(FileStat {
            size: self.statx.stx_size,
            mode: u32::from(self.statx.stx_mode),
            modified_sec: self.statx.stx_mtime.tv_sec,
            modified_nsec: self.statx.stx_mtime.tv_nsec,
        });
        #[cfg(not(all(target_os = "linux", feature = "uring")))]
        Err(io::Error::other("stat completed without an answer"))
    }
}

/// Reads the metadata of an open file: `statx(2)` on io_uring, `fstat(2)` on
/// the blocking pool otherwise.
///
/// ```
/// use proactor::op::{Op, Statx};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// std::fs::write(&path, b"hello")?;
/// let file = std::fs::File::open(&path)?;
/// let stat = proactor::block_on(async { Op::new(Statx::new(file))?.await })?;
/// assert_eq!(stat.size, 5);
/// # Ok(()) }
/// ```
pub struct Statx<F> {
    fd: F,
    buf: StatBuf,
}

impl<F> std::fmt::Debug for Statx<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statx")
            .field("stat", &self.buf.stat)
            .finish_non_exhaustive()
    }
}

impl<F: AsRawFile + Send + 'static> Statx<F> {
    /// Metadata of `fd`.
    ///
    /// ```
    /// use proactor::op::{Op, Statx};
    /// use std::io::Write;
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// let file = Arc::new(std::fs::File::create(&path)?);
    /// (&*file).write_all(b"abc")?;
    /// let stat = proactor::block_on(async { Op::new(Statx::new(file.clone()))?.await })?;
    /// assert_eq!(stat.size, file.metadata()?.len());
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F) -> Self {
        Statx {
            fd,
            buf: StatBuf::new(),
        }
    }
}

// SAFETY: the entry points at the empty path (a 'static C string) and at the
// boxed statx buffer owned by self, whose heap memory does not move.
unsafe impl<F: AsRawFile + Send + 'static> OpCode for Statx<F> {
    type Output = io::Result<FileStat>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Statx::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Statx::new(
            io_uring::types::Fd(self.fd.as_raw_file()),
            c"".as_ptr(),
            self.buf.statx_ptr(),
        )
        .flags(libc::AT_EMPTY_PATH)
        .mask(libc::STATX_BASIC_STATS)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        self.buf.fill(sys::fstat(self.fd.as_raw_file()))
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<FileStat> {
        self.buf.finish(result)
    }
}

/// Reads the metadata of a path, following symlinks: `statx(2)` on
/// io_uring, `stat(2)` on the blocking pool otherwise.
///
/// ```
/// use proactor::op::{Op, StatxPath};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let stat = proactor::block_on(async { Op::new(StatxPath::new(dir.path())?)?.await })?;
/// assert_eq!(stat.mode & libc::S_IFMT as u32, libc::S_IFDIR as u32);
/// # Ok(()) }
/// ```
pub struct StatxPath {
    path: NativePath,
    buf: StatBuf,
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
    ///
    /// ```
    /// use proactor::op::{Op, StatxPath};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// let missing = StatxPath::new(&dir.path().join("missing"))?;
    /// let err = proactor::block_on(async { Op::new(missing)?.await }).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// let nul = StatxPath::new("a\0b".as_ref()).unwrap_err();
    /// assert_eq!(nul.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    pub fn new(path: &Path) -> io::Result<Self> {
        Ok(StatxPath {
            path: sys::native_path(path)?,
            buf: StatBuf::new(),
        })
    }
}

// SAFETY: the entry points at `path` (a CString's heap buffer) and at the
// boxed statx buffer, both owned by self and unmoved.
unsafe impl OpCode for StatxPath {
    type Output = io::Result<FileStat>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Statx::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::Statx::new(
            io_uring::types::Fd(libc::AT_FDCWD),
            self.path.as_ptr(),
            self.buf.statx_ptr(),
        )
        .mask(libc::STATX_BASIC_STATS)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        self.buf.fill(sys::stat(&self.path))
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<FileStat> {
        self.buf.finish(result)
    }
}
