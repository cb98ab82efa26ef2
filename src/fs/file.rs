use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::{FileSlot, Metadata, OpenOptions};
use crate::buf::{BufResult, FixedBuf, IoBuf, IoBufMut};
use crate::op::{
    Close, Fsync, Ftruncate, Op, ReadAt, ReadFixedAt, ReadVectoredAt, Statx, WriteAt, WriteFixedAt,
    WriteVectoredAt,
};
use crate::os::sys::OwnedFile;
use crate::os::AsRawFile;
use crate::Driver;

mod cursor;
#[cfg(target_os = "linux")]
mod splice;

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
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
/// use proactor::fs::File;
/// use std::io::SeekFrom;
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// proactor::block_on(async {
///     let mut file = proactor::fs::OpenOptions::new()
///         .read(true).write(true).create(true).open(&path).await?;
///     file.write_all_at(b"positional", 0).await.0?; // no cursor involved
///     AsyncWriteExt::write_all(&mut file, b"CURSOR").await?; // at the cursor, 0
///     file.flush().await?;
///     file.seek(SeekFrom::Start(0)).await?;
///     let mut text = String::new();
///     AsyncReadExt::read_to_string(&mut file, &mut text).await?;
///     assert_eq!(text, "CURSORonal");
///     file.close().await
/// })
/// # }
/// ```
pub struct File {
    fd: Arc<OwnedFile>,
    driver: Driver,
    /// Opened with `O_DIRECT`: reads never try the page cache inline.
    direct: bool,
    /// Set once this file's filesystem refused an inline page-cache read
    /// (`RWF_NOWAIT`): its later reads go straight to the blocking pool.
    /// Per file, as that is what the kernel refuses; shared with its reads.
    inline_refused: Arc<AtomicBool>,
    /// The file's slot in its driver's ring, once [`File::register`]ed.
    registered: Option<Arc<FileSlot>>,
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

/// Sets `file`'s OS offset to `position`; a file with no offset (a FIFO,
/// a character device) is left as it is.
fn seek_unless_unseekable(file: &mut std::fs::File, position: u64) -> io::Result<()> {
    match std::io::Seek::seek(file, std::io::SeekFrom::Start(position)) {
        Ok(_) => Ok(()),
        #[cfg(unix)]
        Err(error) if error.raw_os_error() == Some(libc::ESPIPE) => Ok(()),
        Err(error) => Err(error),
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
    /// Opens `path` read-only; `NotFound` if it does not exist.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"hello")?;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::open(&path).await?;
    ///     assert_eq!(file.len().await?, 5);
    ///     let (res, _) = file.write_at(b"no", 0).await; // read-only
    ///     assert!(res.is_err());
    ///     let missing = File::open(dir.path().join("missing")).await.unwrap_err();
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` for writing, creating it or truncating it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"old contents")?;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     assert_eq!(file.len().await?, 0); // truncated
    ///     file.write_all_at(b"new", 0).await.0?;
    ///     file.close().await
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"new");
    /// # Ok(()) }
    /// ```
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Wraps a standard file; its operations run on the current driver.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"from std")?;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::from_std(std::fs::File::open(&path)?)?;
    ///     let (n, buf) = file.read_at(Vec::with_capacity(16), 0).await;
    ///     assert_eq!(&buf[..n?], b"from std");
    ///     Ok(())
    /// })
    /// # }
    /// ```
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
            registered: None,
            cursor: cursor::Cursor::default(),
        }
    }

    /// The positional read every read of this file makes.
    fn read_at_op<B: IoBufMut>(&self, buf: B, offset: u64) -> ReadAt<Arc<OwnedFile>, B> {
        positional_read(&self.fd, self.direct, &self.inline_refused, buf, offset)
            .registered(self.registered.clone())
    }

    /// Registers the file with its driver's io_uring ring: a slot of the
    /// ring's sparse file table (`IORING_REGISTER_FILES2`, Linux 5.19,
    /// filled with `IORING_REGISTER_FILES_UPDATE`). From then on
    /// [`read_at`](File::read_at), [`write_at`](File::write_at),
    /// [`read_fixed_at`](File::read_fixed_at) and
    /// [`write_fixed_at`](File::write_fixed_at) (and what is built on
    /// them, such as [`read_exact_at`](File::read_exact_at)) name the file
    /// by its slot, so the kernel skips looking up the fd and counting a
    /// reference to the file for each. The slot is emptied once the `File`
    /// is gone (dropped, closed, or turned into a `std::fs::File`) and so is
    /// every operation that names it.
    ///
    /// `Ok(true)`: registered (again, if it already was). `Ok(false)`: it
    /// cannot be here, and everything works as before: the readiness back
    /// end, a kernel before 5.19, an OS other than Unix, a soft
    /// `RLIMIT_NOFILE` of 0. A full table: an `OutOfMemory` error. The
    /// table has 4096 slots per driver, or as many as the soft
    /// `RLIMIT_NOFILE` when the driver's first file was registered, if that
    /// is lower (the kernel allows no more; 1024 on most systems).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"hello, world")?;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let mut file = File::open(&path).await?;
    ///     let registered = file.register()?;
    ///     println!("named by its slot in the ring: {registered}");
    ///     let (n, buf) = file.read_at(Vec::with_capacity(5), 7).await;
    ///     assert_eq!(&buf[..n?], b"world");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn register(&mut self) -> io::Result<bool> {
        if self.registered.is_some() {
            return Ok(true);
        }
        if let Some(index) = self.driver.register_file(self.fd.as_raw_file())? {
            use crate::driver::sealed::Sealed;
            let slot = FileSlot::new(index, self.driver.identity(), self.driver.downgrade());
            self.registered = Some(Arc::new(slot));
        }
        Ok(self.registered.is_some())
    }

    /// Whether [`register`](File::register) registered the file.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let file = proactor::fs::File::from_std(tempfile::tempfile()?)?;
    ///     assert!(!file.is_registered());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn is_registered(&self) -> bool {
        self.registered.is_some()
    }

    fn op<O: crate::op::OpCode>(&self, op: O) -> Op<O> {
        Op::with_driver(op, self.driver.clone())
    }

    /// Reads up to `buf.bytes_total()` bytes (a `Vec`'s capacity) from
    /// `offset` into the start of `buf`, and returns how many, `n`. `Ok(0)`
    /// means end of file (or an empty buffer). At most
    /// [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes per call.
    ///
    /// # What the read does to the buffer
    ///
    /// The read writes `buf` from its first byte, over whatever it held, and
    /// then records `n` bytes as initialised; it never shrinks what was
    /// recorded before, and never grows the capacity. For a `Vec`:
    ///
    /// - a new `Vec::with_capacity(c)` comes back with `len() == n`;
    /// - a reused `Vec` with `len() == old` comes back with
    ///   `len() == max(old, n)`: after a short read, bytes `n..old` are still
    ///   the old contents, not this read's. Take `&buf[..n]`, or
    ///   `buf.clear()` before reusing it;
    /// - to keep bytes and read after them, pass a window,
    ///   `buf.slice(start..end)`: the read fills it from `start`, and the
    ///   `Vec` keeps `0..start` (see [`Slice`](crate::buf::Slice), also for a
    ///   window past `len()`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("abc");
    /// # std::fs::write(&path, b"abc")?;
    /// use proactor::buf::IoBuf;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::open(&path).await?; // holds "abc"
    ///
    ///     let (n, buf) = file.read_at(Vec::with_capacity(16), 0).await;
    ///     assert_eq!((n?, &buf[..]), (3, &b"abc"[..]));
    ///
    ///     // Reused: a short read leaves the old length and the bytes past `n`.
    ///     let (n, mut buf) = file.read_at(b"0123456789".to_vec(), 1).await;
    ///     let n = n?;
    ///     assert_eq!(buf, b"bc23456789");
    ///     assert_eq!(&buf[..n], b"bc");
    ///     buf.clear();
    ///     let (n, buf) = file.read_at(buf, 1).await;
    ///     assert_eq!((n?, &buf[..]), (2, &b"bc"[..]));
    ///
    ///     // A window: the bytes before it stay.
    ///     let mut line = Vec::with_capacity(16);
    ///     line.extend_from_slice(b"> ");
    ///     let (n, window) = file.read_at(line.slice(2..16), 0).await;
    ///     n?;
    ///     assert_eq!(window.into_inner(), b"> abc");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read_at<B: IoBufMut>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        self.op(self.read_at_op(buf, offset)).await
    }

    /// Writes `buf`'s initialised bytes (`bytes_init()`: a `Vec`'s `len`,
    /// not its capacity; a [`Slice`](crate::buf::Slice)'s window) at
    /// `offset`, and returns how many it wrote: maybe fewer, as `pwrite(2)`.
    /// At most [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes per call.
    /// [`write_all_at`](File::write_all_at) writes them all. The buffer is
    /// owned, so no copy is made; for borrowed bytes, see
    /// [`write_all_at_copied`](File::write_all_at_copied).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("out");
    /// use proactor::buf::IoBuf;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     let mut buf = Vec::with_capacity(64);
    ///     buf.extend_from_slice(b"hello, world");
    ///     let (n, buf) = file.write_at(buf, 0).await; // its 12 bytes, not 64
    ///     assert_eq!(n?, 12);
    ///     let (n, _) = file.write_at(buf.slice(7..12), 12).await; // "world" again
    ///     assert_eq!(n?, 5);
    ///     file.close().await
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"hello, worldworld");
    /// # Ok(()) }
    /// ```
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        let write = WriteAt::new(self.fd.clone(), buf, offset).registered(self.registered.clone());
        self.op(write).await
    }

    /// Reads up to `buf.capacity()` bytes from `offset` into a registered
    /// buffer, from its start, and returns how many (recorded in
    /// `buf.len()`, as for [`read_at`](File::read_at)). On io_uring with the
    /// buffer's set registered, `IORING_OP_READ_FIXED`; otherwise a plain
    /// positional read into the same memory (see
    /// [`FixedBuffers`](crate::buf::FixedBuffers)). A buffer of a set
    /// registered with another driver than this file's: `InvalidInput`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"0123456789")?;
    /// use proactor::buf::FixedBuffers;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let buffers = FixedBuffers::new(2, 4096)?; // on the current driver
    ///     let file = File::open(&path).await?; // on the current driver too
    ///     let (n, buf) = file.read_fixed_at(buffers.take().unwrap(), 4).await;
    ///     assert_eq!(&buf[..n?], b"456789");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read_fixed_at(&self, buf: FixedBuf, offset: u64) -> BufResult<usize, FixedBuf> {
        let read =
            ReadFixedAt::new(self.fd.clone(), buf, offset).registered(self.registered.clone());
        let read = if self.direct {
            read.never_inline()
        } else {
            read.inline_unless_refused(self.inline_refused.clone())
        };
        self.op(read).await
    }

    /// Writes a registered buffer's initialised bytes (`buf.len()`) at
    /// `offset`, and returns how many it wrote (maybe fewer, as
    /// [`write_at`](File::write_at)). On io_uring with the buffer's set
    /// registered, `IORING_OP_WRITE_FIXED`; otherwise a plain positional
    /// write. A buffer of a set registered with another driver than this
    /// file's: `InvalidInput`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("out");
    /// use proactor::buf::FixedBuffers;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let buffers = FixedBuffers::new(1, 4096)?;
    ///     let file = File::create(&path).await?;
    ///     let mut buf = buffers.take().unwrap();
    ///     buf.extend_from_slice(b"registered")?;
    ///     let (n, _buf) = file.write_fixed_at(buf, 0).await;
    ///     assert_eq!(n?, 10);
    ///     file.close().await
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"registered");
    /// # Ok(()) }
    /// ```
    pub async fn write_fixed_at(&self, buf: FixedBuf, offset: u64) -> BufResult<usize, FixedBuf> {
        self.op(WriteFixedAt::new(self.fd.clone(), buf, offset).registered(self.registered.clone()))
            .await
    }

    /// Reads from `offset` into several buffers in one operation
    /// (`IORING_OP_READV`; `preadv(2)` on the readiness back end): the first
    /// buffer is filled, up to its `bytes_total()`, before the next gets a
    /// byte, and each comes back with the bytes it got recorded as in
    /// [`read_at`](File::read_at). Returns the total. At most
    /// [`MAX_BUFFERS`](crate::op::MAX_BUFFERS) buffers (more is an
    /// `InvalidInput` error) and [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes
    /// per call.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"0123456789")?;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::open(&path).await?;
    ///     let bufs = vec![Vec::with_capacity(3), Vec::with_capacity(4)];
    ///     let (n, bufs) = file.read_vectored_at(bufs, 2).await;
    ///     assert_eq!(n?, 7);
    ///     assert_eq!(bufs, [&b"234"[..], &b"5678"[..]]);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read_vectored_at<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        offset: u64,
    ) -> BufResult<usize, Vec<B>> {
        let read = ReadVectoredAt::new(self.fd.clone(), bufs, offset);
        let read = if self.direct {
            read.never_inline()
        } else {
            read
        };
        self.op(read).await
    }

    /// Writes several buffers' initialised bytes from `offset`, in order,
    /// in one operation (`IORING_OP_WRITEV`; `pwritev(2)` on the readiness
    /// back end), and returns how many bytes it wrote: maybe fewer than all,
    /// as `pwritev(2)`. The buffers come back. Limits as for
    /// [`read_vectored_at`](File::read_vectored_at).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("out");
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     let parts = vec![b"head ".to_vec(), b"and tail".to_vec()];
    ///     let (n, _parts) = file.write_vectored_at(parts, 0).await;
    ///     assert_eq!(n?, 13);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"head and tail");
    /// # Ok(()) }
    /// ```
    pub async fn write_vectored_at<B: IoBuf>(
        &self,
        bufs: Vec<B>,
        offset: u64,
    ) -> BufResult<usize, Vec<B>> {
        self.op(WriteVectoredAt::new(self.fd.clone(), bufs, offset))
            .await
    }

    /// Fills all of `buf.bytes_total()` from `offset`, or fails with
    /// `UnexpectedEof` (the bytes read so far are in the buffer).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"0123456789")?;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::open(&path).await?;
    ///     let (res, buf) = file.read_exact_at(vec![0; 4], 3).await;
    ///     res?;
    ///     assert_eq!(buf, b"3456");
    ///     let (res, buf) = file.read_exact_at(vec![0; 4], 8).await;
    ///     assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    ///     assert_eq!(&buf[..2], b"89"); // what was there
    ///     Ok(())
    /// })
    /// # }
    /// ```
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

    /// Writes all of `buf`'s initialised bytes from `offset`; the buffer
    /// comes back.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     let (res, buf) = file.write_all_at(vec![b'x'; 100_000], 10).await;
    ///     res?;
    ///     assert_eq!(buf.len(), 100_000);
    ///     assert_eq!(file.len().await?, 100_010);
    ///     file.close().await
    /// })?;
    /// assert_eq!(std::fs::read(&path)?[..11], *b"\0\0\0\0\0\0\0\0\0\0x");
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     file.write_all_at(b"durable", 0).await.0?;
    ///     file.sync_all().await?;
    ///     assert_eq!(std::fs::read(&path)?, b"durable");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn sync_all(&self) -> io::Result<()> {
        self.op(Fsync::new(self.fd.clone(), false)).await
    }

    /// Flushes data, and only the metadata needed to read it (`fdatasync`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     file.write_all_at(b"data only", 0).await.0?;
    ///     file.sync_data().await?;
    ///     assert_eq!(file.len().await?, 9);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn sync_data(&self) -> io::Result<()> {
        self.op(Fsync::new(self.fd.clone(), true)).await
    }

    /// The file's metadata (`statx`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"twelve bytes")?;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let meta = File::open(&path).await?.metadata().await?;
    ///     assert!(meta.is_file());
    ///     assert_eq!(meta.len(), 12);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        self.op(Statx::new(self.fd.clone()))
            .await
            .map(Metadata::new)
    }

    /// Truncates or extends the file to `len` bytes (extended with zeros).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"hello, world")?;
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = proactor::fs::OpenOptions::new().write(true).open(&path).await?;
    ///     file.set_len(5).await?;
    ///     assert_eq!(std::fs::read(&path)?, b"hello");
    ///     file.set_len(7).await?;
    ///     assert_eq!(std::fs::read(&path)?, b"hello\0\0");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        self.op(Ftruncate::new(self.fd.clone(), len)).await
    }

    /// The file's size in bytes, as [`metadata`](Self::metadata)`.len()`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     assert_eq!(file.len().await?, 0);
    ///     file.write_all_at(b"abc", 0).await.0?;
    ///     assert_eq!(file.len().await?, 3);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn len(&self) -> io::Result<u64> {
        Ok(self.metadata().await?.len())
    }

    /// Flushes what the cursor's `AsyncWrite` buffered, closes the file
    /// through the driver, and reports the first error of the two
    /// (`close(2)`'s included). If a cancelled operation still holds the
    /// fd, it closes when that operation ends, and the close reports `Ok`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::File;
    ///
    /// proactor::block_on(async {
    ///     let mut file = File::create(&path).await?;
    ///     futures::io::AsyncWriteExt::write_all(&mut file, b"buffered").await?;
    ///     file.close().await?; // flushes the cursor's buffer first
    ///     assert_eq!(std::fs::read(&path)?, b"buffered");
    ///     Ok(())
    /// })
    /// # }
    /// ```
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

    /// The driver this file's operations run on: the one it was opened
    /// on (see [`OpenOptions::open_with`]).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::{fs::File, Driver};
    ///
    /// let driver = Driver::new()?;
    /// driver.block_on(async {
    ///     let file = File::create(&path).await?; // on the current driver: `driver`
    ///     assert_eq!(file.driver().backend(), driver.backend());
    ///     assert_eq!(file.driver().in_flight(), 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// A second `File` for the same open file, on the same driver, as
    /// [`std::fs::File::try_clone`]: a new fd (`fcntl(F_DUPFD_CLOEXEC)`;
    /// `DuplicateHandle` on Windows) sharing the open file's flags. Each
    /// closes its own fd. No operation is submitted: duplicating never
    /// blocks.
    ///
    /// The cursor is each `File`'s own, not the OS file offset: the clone's
    /// starts where this file's is, and from then on the two move apart
    /// (std's clones share one offset). Bytes this file's `AsyncWrite`
    /// buffered reach the file, and so the clone, once flushed.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// use proactor::fs::File;
    ///
    /// let path = dir.path().join("shared");
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     let clone = file.try_clone()?;
    ///     file.close().await?; // the clone's fd stays open
    ///     let (written, _) = clone.write_all_at(b"still open", 0).await;
    ///     written?;
    ///     clone.close().await
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"still open");
    /// # Ok(()) }
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        let fd = self.fd.try_clone()?;
        let mut clone = File::from_owned(fd, self.driver.clone(), self.direct);
        // One file, one filesystem: what it refused, it refuses the clone.
        clone.inline_refused = self.inline_refused.clone();
        clone.cursor.start_at(self.cursor_position());
        Ok(clone)
    }

    /// Turns this into a [`std::fs::File`], for blocking use, naming the
    /// same open file, as tokio's `File::into_std`: what the cursor's
    /// `AsyncWrite` buffered is flushed first (its error, if any, is
    /// returned, and the file is dropped), and the OS file offset is set to
    /// the cursor, so blocking reads and writes go on from where the cursor
    /// was.
    ///
    /// If no operation holds the fd any more, the `std::fs::File` takes it
    /// over. An operation whose future was dropped keeps the fd until the
    /// kernel has let go of it (a read or write already under way finishes
    /// first); the fd then stays with those operations and closes when the
    /// last one ends, and this returns a duplicate (as
    /// [`try_clone`](File::try_clone)) instead, so the `std::fs::File`
    /// alone owns its fd and nothing closes it underneath. The two share
    /// the open file, so a write that was already under way when its future
    /// was dropped may still land after this returns. Other errors: the
    /// duplicate could not be made (the fd limit), or the offset could not
    /// be set.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// use std::io::Read;
    /// use futures::AsyncWriteExt;
    ///
    /// let path = dir.path().join("handed over");
    /// let mut file = proactor::block_on(async {
    ///     let mut file = proactor::fs::OpenOptions::new().read(true).write(true).create(true).open(&path).await?;
    ///     file.write_all(b"now blocking").await?; // buffered; into_std flushes it
    ///     file.into_std().await
    /// })?;
    /// let mut rest = String::new();
    /// file.read_to_string(&mut rest)?; // from the cursor: past what was written
    /// assert_eq!(rest, "");
    /// assert_eq!(std::fs::read(&path)?, b"now blocking");
    /// # Ok(()) }
    /// ```
    pub async fn into_std(mut self) -> io::Result<std::fs::File> {
        self.flush_cursor().await?;
        self.into_std_now().map_err(|(error, _file)| error)
    }

    /// [`into_std`](File::into_std) without waiting: `Err(self)` if the
    /// cursor's `AsyncWrite` still has bytes that have not landed (flush
    /// first), or if the conversion failed (the fd limit, for a duplicate),
    /// as tokio's `File::try_into_std`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("now");
    /// let file = proactor::block_on(proactor::fs::File::create(&path))?;
    /// let std_file = file.try_into_std().expect("nothing buffered");
    /// assert_eq!(std_file.metadata()?.len(), 0);
    /// # Ok(()) }
    /// ```
    #[allow(clippy::result_large_err)] // the file itself comes back, as tokio's
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        if self.has_unflushed_writes() {
            return Err(self);
        }
        self.into_std_now().map_err(|(_error, file)| file)
    }

    /// The conversion, once nothing is buffered; on an error, the file back.
    #[allow(clippy::result_large_err)] // private, and returned at once
    fn into_std_now(mut self) -> Result<std::fs::File, (io::Error, File)> {
        let position = self.cursor_position();
        // A read-ahead still in flight holds the fd: cancelled first. The
        // fresh cursor stays where the old one was, for a file handed back.
        self.cursor = cursor::Cursor::default();
        self.cursor.start_at(position);
        // Only this file can make new holders of the fd, and it is ours:
        // the count can fall meanwhile, never rise.
        let duplicate = if Arc::strong_count(&self.fd) == 1 {
            None
        } else {
            match self.fd.try_clone() {
                Ok(duplicate) => Some(duplicate),
                Err(error) => return Err((error, self)),
            }
        };
        let fd = match duplicate {
            Some(duplicate) => duplicate,
            None => match Arc::try_unwrap(self.fd) {
                Ok(fd) => fd,
                Err(shared) => match shared.try_clone() {
                    Ok(duplicate) => duplicate,
                    Err(error) => {
                        self.fd = shared;
                        return Err((error, self));
                    }
                },
            },
        };
        let mut file = std::fs::File::from(fd);
        if let Err(error) = seek_unless_unseekable(&mut file, position) {
            let back = File {
                fd: Arc::new(OwnedFile::from(file)),
                ..self
            };
            return Err((error, back));
        }
        Ok(file)
    }

    /// Writes all of the borrowed `data` from `offset`, **copying** it: a
    /// chunk at a time (256 KiB) into a buffer from a small process-wide
    /// pool, which the driver owns while the kernel writes from it (a write
    /// whose future is dropped may still be under way). The copy is what
    /// makes borrowed data possible; [`write_all_at`](File::write_all_at)
    /// with an owned buffer costs none. On an error, the chunks before it
    /// were written.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// use proactor::fs::File;
    ///
    /// let path = dir.path().join("log");
    /// let line = String::from("borrowed, not moved\n");
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     file.write_all_at_copied(line.as_bytes(), 0).await?;
    ///     file.close().await
    /// })?;
    /// assert_eq!(std::fs::read_to_string(&path)?, line);
    /// # Ok(()) }
    /// ```
    pub async fn write_all_at_copied(&self, data: &[u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        for chunk in data.chunks(super::copied::CHUNK) {
            let copy = super::copied::CopiedBuf::copy_of(chunk);
            let (result, _) = self.write_all_at(copy, offset_after(offset, done)?).await;
            result?;
            done += chunk.len();
        }
        Ok(())
    }

    /// Changes the permissions of the open file, as
    /// [`std::fs::File::set_permissions`] (`fchmod(2)`, on the blocking
    /// pool: io_uring has no such operation).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// use proactor::fs::File;
    ///
    /// let path = dir.path().join("read-only");
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     let mut permissions = std::fs::metadata(&path)?.permissions();
    ///     permissions.set_readonly(true);
    ///     file.set_permissions(permissions).await?;
    ///     file.close().await
    /// })?;
    /// assert!(std::fs::metadata(&path)?.permissions().readonly());
    /// # Ok(()) }
    /// ```
    pub async fn set_permissions(&self, permissions: std::fs::Permissions) -> io::Result<()> {
        let fd = self.fd.clone();
        super::on_pool::on_pool(self.driver.clone(), move || {
            crate::os::sys::set_permissions(fd.as_raw_file(), &permissions).map(drop)
        })
        .await
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
