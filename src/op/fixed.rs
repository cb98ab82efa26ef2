//! Positional reads and writes with a registered buffer
//! ([`FixedBuf`](crate::buf::FixedBuf)): `IORING_OP_READ_FIXED` /
//! `WRITE_FIXED` where the buffer's set is registered with the ring; plain
//! `READ` / `WRITE` where it is plain memory; `pread` / `pwrite` on the
//! blocking pool on the readiness back end and where the kernel lacks the
//! opcode.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::read::Inline;
use super::{finish_read, OpCode, Readiness};
use crate::buf::{capped_len, BufResult, FixedBuf, IoBuf, IoBufMut};
use crate::fs::FileSlot;
use crate::os::sys;
use crate::os::AsRawFile;

/// Reads from `fd` at `offset` into a [`FixedBuf`], from its start and up to
/// its capacity. Only on the driver its set was registered with (another
/// fails it with `InvalidInput`).
///
/// ```
/// use proactor::buf::FixedBuffers;
/// use proactor::op::{Op, ReadFixedAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// std::fs::write(&path, b"hello, world")?;
/// let driver = proactor::Driver::new()?;
/// let buffers = FixedBuffers::with_driver(&driver, 1, 4096)?;
/// let file = std::fs::File::open(&path)?;
/// let read = ReadFixedAt::new(file, buffers.take().unwrap(), 7);
/// let (n, buf) = driver.block_on(Op::with_driver(read, driver.clone()));
/// assert_eq!(&buf[..n?], b"world");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ReadFixedAt<F> {
    fd: F,
    buf: FixedBuf,
    offset: u64,
    inline: Inline,
    /// The file's slot in the ring's table, if it is registered.
    registered: Option<Arc<FileSlot>>,
}

impl<F: AsRawFile + Send + 'static> ReadFixedAt<F> {
    /// A positional read of up to `buf.capacity()` bytes. On the readiness
    /// back end (Linux) it is tried inline from the page cache first, as
    /// [`ReadAt`](super::ReadAt) is.
    pub fn new(fd: F, buf: FixedBuf, offset: u64) -> Self {
        ReadFixedAt {
            fd,
            buf,
            offset,
            inline: Inline::Try,
            registered: None,
        }
    }

    /// Never tries the read inline first on the readiness back end: for
    /// `O_DIRECT` files, as [`ReadAt::never_inline`](super::ReadAt::never_inline).
    ///
    /// ```
    /// use proactor::buf::FixedBuffers;
    /// use proactor::op::{Op, ReadFixedAt};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// std::fs::write(&path, b"abc")?;
    /// let driver = proactor::Driver::new()?;
    /// let buffers = FixedBuffers::with_driver(&driver, 1, 4096)?;
    /// let read = ReadFixedAt::new(std::fs::File::open(&path)?, buffers.take().unwrap(), 0);
    /// let (n, buf) = driver.block_on(Op::with_driver(read.never_inline(), driver.clone()));
    /// assert_eq!(&buf[..n?], b"abc");
    /// # Ok(()) }
    /// ```
    pub fn never_inline(mut self) -> Self {
        self.inline = Inline::Never;
        self
    }

    /// See `ReadAt::inline_unless_refused`.
    pub(crate) fn inline_unless_refused(mut self, refused: Arc<AtomicBool>) -> Self {
        self.inline = Inline::UnlessRefused(refused);
        self
    }

    /// See `ReadAt::registered`.
    pub(crate) fn registered(mut self, registered: Option<Arc<FileSlot>>) -> Self {
        self.registered = registered;
        self
    }
}

// SAFETY: the entry points into `buf`, owned by self; a `FixedBuf` keeps its
// set's memory alive and unmoved, and its slot in the ring's table (which the
// entry names) describes that same memory until the set is gone.
unsafe impl<F: AsRawFile + Send + 'static> OpCode for ReadFixedAt<F> {
    type Output = BufResult<usize, FixedBuf>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::ReadFixed::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_total());
        let ptr = self.buf.stable_mut_ptr();
        let buf_slot = self.buf.slot();
        file_entry!(
            &self.registered,
            self.fd.as_raw_file(),
            |file| match buf_slot {
                Some(buf_slot) => io_uring::opcode::ReadFixed::new(file, ptr, len, buf_slot)
                    .offset(self.offset)
                    .build(),
                None => io_uring::opcode::Read::new(file, ptr, len)
                    .offset(self.offset)
                    .build(),
            }
        )
    }

    fn validate(&self) -> io::Result<()> {
        sys::check_offset(self.offset)
    }

    fn bound_to(&self) -> Option<usize> {
        bound_to_both(&self.buf, &self.registered)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn try_now(&mut self) -> Option<io::Result<usize>> {
        let len = capped_len(self.buf.bytes_total()) as usize;
        let ptr = self.buf.stable_mut_ptr();
        // SAFETY: the pointer is valid for `len` writable bytes (IoBufMut),
        // owned by this operation for the call.
        unsafe {
            self.inline
                .try_read(self.fd.as_raw_file(), ptr, len, self.offset)
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_total()) as usize;
        // SAFETY: the pointer is valid for `len` writable bytes (IoBufMut).
        unsafe {
            sys::read_at(
                self.fd.as_raw_file(),
                self.buf.stable_mut_ptr(),
                len,
                self.offset,
            )
        }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        finish_read(self.buf, result)
    }
}

/// Writes a [`FixedBuf`]'s initialised bytes to `fd` at `offset`. Only on
/// the driver its set was registered with (another fails it with
/// `InvalidInput`).
///
/// ```
/// use proactor::buf::FixedBuffers;
/// use proactor::op::{Op, WriteFixedAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// let driver = proactor::Driver::new()?;
/// let buffers = FixedBuffers::with_driver(&driver, 1, 4096)?;
/// let mut buf = buffers.take().unwrap();
/// buf.extend_from_slice(b"fixed")?;
/// let write = WriteFixedAt::new(std::fs::File::create(&path)?, buf, 0);
/// let (n, _) = driver.block_on(Op::with_driver(write, driver.clone()));
/// assert_eq!(n?, 5);
/// assert_eq!(std::fs::read(&path)?, b"fixed");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WriteFixedAt<F> {
    fd: F,
    buf: FixedBuf,
    offset: u64,
    /// The file's slot in the ring's table, if it is registered.
    registered: Option<Arc<FileSlot>>,
}

impl<F: AsRawFile + Send + 'static> WriteFixedAt<F> {
    /// A positional write of `buf.len()` bytes.
    pub fn new(fd: F, buf: FixedBuf, offset: u64) -> Self {
        WriteFixedAt {
            fd,
            buf,
            offset,
            registered: None,
        }
    }

    /// See `ReadAt::registered`.
    pub(crate) fn registered(mut self, registered: Option<Arc<FileSlot>>) -> Self {
        self.registered = registered;
        self
    }
}

// SAFETY: as for ReadFixedAt; the kernel only reads the buffer.
unsafe impl<F: AsRawFile + Send + 'static> OpCode for WriteFixedAt<F> {
    type Output = BufResult<usize, FixedBuf>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::WriteFixed::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_init());
        let ptr = self.buf.stable_ptr();
        let buf_slot = self.buf.slot();
        file_entry!(
            &self.registered,
            self.fd.as_raw_file(),
            |file| match buf_slot {
                Some(buf_slot) => io_uring::opcode::WriteFixed::new(file, ptr, len, buf_slot)
                    .offset(self.offset)
                    .build(),
                None => io_uring::opcode::Write::new(file, ptr, len)
                    .offset(self.offset)
                    .build(),
            }
        )
    }

    fn validate(&self) -> io::Result<()> {
        sys::check_offset(self.offset)
    }

    fn bound_to(&self) -> Option<usize> {
        bound_to_both(&self.buf, &self.registered)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_init()) as usize;
        // SAFETY: the pointer is valid for `len` initialised bytes (IoBuf).
        unsafe {
            sys::write_at(
                self.fd.as_raw_file(),
                self.buf.stable_ptr(),
                len,
                self.offset,
            )
        }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result, self.buf)
    }
}

/// The driver both the buffer and the file's slot (if any) belong to; if
/// they belong to different ones, none can run the operation: 0, which no
/// driver is.
fn bound_to_both(buf: &FixedBuf, registered: &Option<Arc<FileSlot>>) -> Option<usize> {
    match registered {
        Some(slot) if slot.owner() != buf.owner() => Some(0),
        _ => Some(buf.owner()),
    }
}
