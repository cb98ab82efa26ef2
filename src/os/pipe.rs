//! Anonymous pipes: the kernel buffer `splice(2)` and `tee(2)` move bytes
//! through, with owned-buffer reads and writes of their own.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{Op, Read, Tee, Write};
use crate::Driver;

/// Creates an anonymous pipe (`pipe2(O_CLOEXEC | O_NONBLOCK)`) on the
/// current driver ([`Driver::try_current`]): bytes written to the
/// [`PipeWriter`] come out of the [`PipeReader`], in order. The kernel
/// holds 64 KiB by default; a write to a full pipe, or a read of an empty
/// one, waits.
///
/// Its main use is as the middle of a [`splice`](crate::op::Splice):
/// socket → pipe → socket (or file) moves bytes without copying them into
/// user memory.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let (reader, writer) = proactor::os::pipe()?;
///     writer.write_all(b"through the pipe").await.0?;
///     drop(writer); // end of stream for the reader
///     let (n, buf) = reader.read(Vec::with_capacity(64)).await;
///     assert_eq!(&buf[..n?], b"through the pipe");
///     let (n, _) = reader.read(Vec::with_capacity(64)).await;
///     assert_eq!(n?, 0);
///     Ok(())
/// })
/// # }
/// ```
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    pipe_on(Driver::try_current()?)
}

/// [`pipe`] on `driver`.
pub fn pipe_on(driver: Driver) -> io::Result<(PipeReader, PipeWriter)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both fds are open and nobody else owns them.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let reader = PipeReader {
        fd: Arc::new(read),
        driver: driver.clone(),
    };
    let writer = PipeWriter {
        fd: Arc::new(write),
        driver,
    };
    Ok((reader, writer))
}

/// Duplicates up to `len` bytes from `from` into `to` without consuming
/// them ([`Tee`]): the next read or splice of `from` sees the same bytes.
/// Yields how many were duplicated; `0` when `from` is empty and its
/// writer is gone.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let (reader, writer) = proactor::os::pipe()?;
///     let (copy_reader, copy_writer) = proactor::os::pipe()?;
///     writer.write_all(b"seen twice").await.0?;
///     assert_eq!(proactor::os::tee(&reader, &copy_writer, 64).await?, 10);
///     let (n, copy) = copy_reader.read(Vec::with_capacity(64)).await;
///     assert_eq!(&copy[..n?], b"seen twice");
///     let (n, original) = reader.read(Vec::with_capacity(64)).await;
///     assert_eq!(&original[..n?], b"seen twice");
///     Ok(())
/// })
/// # }
/// ```
pub async fn tee(from: &PipeReader, to: &PipeWriter, len: usize) -> io::Result<usize> {
    Tee::new(from.fd.clone(), to.fd.clone(), len)
        .run_on(from.driver.clone())
        .await
}

/// The reading end of a [`pipe`].
pub struct PipeReader {
    /// Shared with operations in flight, so the fd outlives each of them,
    /// even a cancelled one.
    pub(crate) fd: Arc<OwnedFd>,
    driver: Driver,
}

/// The writing end of a [`pipe`]. Dropping it (and every operation still
/// holding it) ends the stream: the reader then reads `0`.
pub struct PipeWriter {
    pub(crate) fd: Arc<OwnedFd>,
    driver: Driver,
}

impl PipeReader {
    /// Reads up to `buf.bytes_total()` bytes into `buf`, waiting while the
    /// pipe is empty; `0` once it is empty and every writer is gone.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        Op::with_driver(Read::new(self.fd.clone(), buf), self.driver.clone()).await
    }

    /// The driver this pipe's operations run on.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }
}

impl PipeWriter {
    /// Writes some of `buf`'s initialised bytes, waiting while the pipe is
    /// full; returns how many. A pipe whose reader is gone is `BrokenPipe`
    /// where SIGPIPE is ignored (as Rust's runtime sets it up for `main`);
    /// with SIGPIPE at its default action, `write(2)` raises it and it ends
    /// the process, on both back ends.
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        Op::with_driver(Write::new(self.fd.clone(), buf), self.driver.clone()).await
    }

    /// Writes all of `buf`'s initialised bytes.
    pub async fn write_all<B: IoBuf>(&self, mut buf: B) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut written = 0;
        while written < total {
            let (result, slice) = self.write(buf.slice(written..total)).await;
            buf = slice.into_inner();
            match result {
                Ok(0) => {
                    let zero = io::Error::new(io::ErrorKind::WriteZero, "the pipe took no bytes");
                    return (Err(zero), buf);
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// The driver this pipe's operations run on.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }
}

macro_rules! pipe_end_traits {
    ($($end:ident)*) => {$(
        impl fmt::Debug for $end {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($end)).field("fd", &self.fd.as_raw_fd()).finish()
            }
        }

        impl AsFd for $end {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.as_fd()
            }
        }

        impl AsRawFd for $end {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }
        }
    )*};
}

pipe_end_traits!(PipeReader PipeWriter);

static_assertions::assert_impl_all!(PipeReader: Send, Sync);
static_assertions::assert_impl_all!(PipeWriter: Send, Sync);
