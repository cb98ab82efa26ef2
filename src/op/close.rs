use std::io;
#[cfg(all(target_os = "linux", feature = "uring"))]
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};

use super::{OpCode, Readiness};
use crate::os::sys::{self, OwnedFile};

/// Closes a file (an `OwnedFd` on Unix, an `OwnedHandle` on Windows) and
/// reports the error `close(2)` gives (a deferred write error on some
/// filesystems). The fd is gone afterwards whatever the result, as on
/// Linux; an unsubmitted `Close`, or one the driver could not submit,
/// closes it when dropped.
///
/// Linux releases the fd number before it flushes, so `close(2)` failing
/// with anything but EBADF (EIO, EINTR, ENOSPC, whatever a FUSE server
/// answers) has still closed it, and closing again could close a file
/// someone has opened under the same number since. io_uring's close is the
/// same, except that it refuses (EBADF) to close an io_uring fd. Errors do
/// not tell these apart, so once the kernel has the request the number is
/// never touched again: an io_uring fd handed to `Close` (or a request
/// cancelled before an old kernel's worker ran it) is leaked rather than
/// risk a second close.
///
/// ```
/// use proactor::op::{Close, Op};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let file = std::fs::File::create(dir.path().join("data"))?;
/// proactor::block_on(async { Op::new(Close::new(file.into()))?.await })?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Close {
    /// The fd while this operation owns it: until `perform` takes it, or
    /// the io_uring entry naming it is built.
    fd: Option<OwnedFile>,
    /// io_uring: the number the built entry names. Once the entry is pushed
    /// it is the kernel's; if the push fails it comes back to `fd`. Never
    /// closed from here.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    named_by_entry: Option<RawFd>,
}

impl Close {
    /// Closes `fd`.
    ///
    /// ```
    /// use proactor::op::{Close, Op};
    /// use std::io::Write;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// let mut file = std::fs::File::create(&path)?;
    /// file.write_all(b"written")?;
    /// // `File` converts into what `Close` takes: `OwnedFd` (Unix), `OwnedHandle` (Windows).
    /// proactor::block_on(async { Op::new(Close::new(file.into()))?.await })?;
    /// assert_eq!(std::fs::read(&path)?, b"written");
    ///
    /// // On Unix any fd closes this way: here a socket, whose peer sees the end.
    /// #[cfg(unix)]
    /// {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     proactor::block_on(async { Op::new(Close::new(a.into()))?.await })?;
    ///     assert_eq!(std::io::Read::read(&mut &b, &mut [0; 8])?, 0); // the peer is gone
    /// }
    /// # Ok(()) }
    /// ```
    pub fn new(fd: OwnedFile) -> Self {
        Close {
            fd: Some(fd),
            #[cfg(all(target_os = "linux", feature = "uring"))]
            named_by_entry: None,
        }
    }

    /// The fd, now the caller's to close: from here on only the kernel (or
    /// `perform`) may close it.
    fn release(&mut self) -> io::Result<OwnedFile> {
        self.fd
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "close submitted twice"))
    }
}

// SAFETY: the entry carries no pointers.
unsafe impl OpCode for Close {
    type Output = io::Result<()>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Close::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        // -1 makes the kernel fail the op with EBADF, should the impossible
        // double build happen.
        let fd = self.release().map_or(-1, IntoRawFd::into_raw_fd);
        self.named_by_entry = (fd >= 0).then_some(fd);
        io_uring::opcode::Close::new(io_uring::types::Fd(fd)).build()
    }

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry_not_pushed(&mut self) {
        if let Some(fd) = self.named_by_entry.take() {
            // SAFETY: the number came out of the OwnedFd `uring_entry`
            // released, and the kernel never saw the entry naming it: it is
            // still open, and still ours alone.
            self.fd = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        sys::close(self.release()?)
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<()> {
        result.map(drop)
    }
}
