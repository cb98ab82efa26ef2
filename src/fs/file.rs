use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::{Metadata, OpenOptions};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{Close, Fsync, Ftruncate, Op, ReadAt, Statx, WriteAt};
use crate::os::sys::OwnedFile;
use crate::os::AsRawFile;
use crate::Driver;

mod cursor;

/// An open file whose operations run on a driver.
///
/// Two ways to do I/O:
///
/// - **Positional** (`read_at`, `write_at` and the others, all `&self`):
///   any number may be in flight on one file at once, and they neither use
///   nor move the cursor.
/// - **At the cursor**: [`read`](File::read), [`write`](File::write),
///   [`seek`](File::seek), [`read_to_end`](File::read_to_end),
///   [`read_to_string`](File::read_to_string), and the poll-based traits:
///   `AsyncRead`, `AsyncBufRead`, `AsyncWrite` and `AsyncSeek` from
///   `futures::io`, and from `tokio::io` with the `tokio` feature. The
///   traits copy through one read-ahead and one write buffer (allocated on
///   first use, 8 KiB growing to 64 KiB); a write is copied and reported
///   done, and `flush` says whether it landed. The cursor is the file's
///   own, not the OS file offset. On a file opened for appending, writes
///   land at the end wherever the cursor is.
///
/// The fd stays open until [`close`](File::close) or drop, and for as long
/// as an operation on it is still in flight, even a cancelled one.
/// Dropping a file with a buffered write in flight cancels it: flush or
/// close first.
pub struct File {
    fd: Arc<OwnedFile>,
    driver: Driver,
    /// Opened with `O_DIRECT`: reads never try the page cache inline.
    direct: bool,
    /// Set once this file's filesystem refused an inline page-cache read
    /// (`RWF_NOWAIT`): its later reads go straight to the blocking pool.
    /// Per file, as that is what the kernel refuses; shared with its reads.
    inline_refused: Arc<AtomicBool>,
    /// The cursor and its buffers.
    cursor: cursor::Cursor,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.as_raw_file())
            .finish()
    }
}

/// Whether `file` was opened with `O_DIRECT` (Linux; elsewhere never).
fn is_direct(file: &std::fs::File) -> io::Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: F_GETFL on an fd the caller owns; no memory involved.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(flags & libc::O_DIRECT != 0)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = file;
        Ok(false)
    }
}

/// The positional read every read of a file makes: inline from the page
/// cache first unless the file is `O_DIRECT` or its filesystem refused.
fn positional_read<B: IoBufMut>(
    fd: &Arc<OwnedFile>,
    direct: bool,
    inline_refused: &Arc<AtomicBool>,
    buf: B,
    offset: u64,
) -> ReadAt<Arc<OwnedFile>, B> {
    let read = ReadAt::new(fd.clone(), buf, offset);
    if direct {
        read.never_inline()
    } else {
        read.inline_unless_refused(inline_refused.clone())
    }
}

fn offset_after(offset: u64, done: usize) -> io::Result<u64> {
    offset
        .checked_add(done as u64)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "file offset overflows u64"))
}

impl File {
    /// Opens `path` read-only.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` for writing, creating it or truncating it.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Wraps a standard file; its operations run on the current driver.
    pub fn from_std(file: std::fs::File) -> io::Result<File> {
        let direct = is_direct(&file)?;
        Ok(File::from_owned(
            file.into(),
            Driver::try_current()?,
            direct,
        ))
    }

    pub(crate) fn from_owned(fd: OwnedFile, driver: Driver, direct: bool) -> File {
        File {
            fd: Arc::new(fd),
            driver,
            direct,
            inline_refused: Arc::default(),
            cursor: cursor::Cursor::default(),
        }
    }

    /// The positional read every read of this file makes.
    fn read_at_op<B: IoBufMut>(&self, buf: B, offset: u64) -> ReadAt<Arc<OwnedFile>, B> {
        positional_read(&self.fd, self.direct, &self.inline_refused, buf, offset)
    }

    fn op<O: crate::op::OpCode>(&self, op: O) -> Op<O> {
        Op::with_driver(op, self.driver.clone())
    }

    /// Reads up to `buf.bytes_total()` bytes at `offset`. `Ok(0)` means end
    /// of file (or an empty buffer). At most
    /// [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes per call.
    pub async fn read_at<B: IoBufMut>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        self.op(self.read_at_op(buf, offset)).await
    }

    /// Writes `buf`'s initialised bytes at `offset`; may write fewer. At most
    /// [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes per call.
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        self.op(WriteAt::new(self.fd.clone(), buf, offset)).await
    }

    /// Fills all of `buf.bytes_total()` from `offset`, or fails with
    /// `UnexpectedEof` (the bytes read so far are in the buffer).
    pub async fn read_exact_at<B: IoBufMut>(&self, mut buf: B, offset: u64) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut filled = 0;
        while filled < total {
            let at = match offset_after(offset, filled) {
                Ok(at) => at,
                Err(e) => return (Err(e), buf),
            };
            let (result, slice) = self.read_at(buf.slice(filled..total), at).await;
            buf = slice.into_inner();
            match result {
                Ok(0) => {
                    let eof = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "end of file before the buffer was full",
                    );
                    return (Err(eof), buf);
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes all of `buf`'s initialised bytes from `offset`.
    pub async fn write_all_at<B: IoBuf>(&self, mut buf: B, offset: u64) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut written = 0;
        while written < total {
            let at = match offset_after(offset, written) {
                Ok(at) => at,
                Err(e) => return (Err(e), buf),
            };
            let (result, slice) = self.write_at(buf.slice(written..total), at).await;
            buf = slice.into_inner();
            match result {
                Ok(0) => {
                    let zero =
                        io::Error::new(io::ErrorKind::WriteZero, "the file accepted no more bytes");
                    return (Err(zero), buf);
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Flushes data and metadata to storage (`fsync`).
    pub async fn sync_all(&self) -> io::Result<()> {
        self.op(Fsync::new(self.fd.clone(), false)).await
    }

    /// Flushes data, and only the metadata needed to read it (`fdatasync`).
    pub async fn sync_data(&self) -> io::Result<()> {
        self.op(Fsync::new(self.fd.clone(), true)).await
    }

    /// The file's metadata.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        self.op(Statx::new(self.fd.clone()))
            .await
            .map(Metadata::new)
    }

    /// Truncates or extends the file to `len` bytes.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        self.op(Ftruncate::new(self.fd.clone(), len)).await
    }

    /// The file's size in bytes.
    pub async fn len(&self) -> io::Result<u64> {
        Ok(self.metadata().await?.len())
    }

    /// Flushes what the cursor's `AsyncWrite` buffered, closes the file
    /// through the driver, and reports the first error of the two
    /// (`close(2)`'s included). If a cancelled operation still holds the
    /// fd, it closes when that operation ends, and the close reports `Ok`.
    pub async fn close(mut self) -> io::Result<()> {
        let flushed = self.flush_cursor().await;
        // A read-ahead still in flight holds the fd: cancelled first.
        drop(self.cursor);
        let closed = match Arc::try_unwrap(self.fd) {
            Ok(fd) => Op::with_driver(Close::new(fd), self.driver).await,
            Err(_still_used) => Ok(()),
        };
        flushed.and(closed)
    }

    /// The driver this file's operations run on.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsRawHandle for File {
    fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
        self.fd.as_raw_handle()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsHandle for File {
    fn as_handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
        self.fd.as_handle()
    }
}
