#[cfg(unix)]
use super::Interest;
use super::{OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBuf};
use crate::fs::FileSlot;
use crate::os::sys;
use crate::os::AsRawFile;
#[cfg(unix)]
use crate::os::AsRawSource;
use std::io;
use std::sync::Arc;

/// Writes `buf`'s initialised bytes to `fd` at its current position (pipes,
/// sockets). The fd must be in non-blocking mode for the readiness back end.
///
/// At most [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes are written at once.
///
/// ```
/// use proactor::op::{Op, Write};
/// use std::io::Read;
/// use std::os::unix::net::UnixStream;
///
/// # fn main() -> std::io::Result<()> {
/// let (a, b) = UnixStream::pair()?;
/// a.set_nonblocking(true)?; // for the readiness back end
/// let (n, _) = proactor::block_on(Op::new(Write::new(a, b"through write(2)"))?);
/// let mut got = vec![0; n?];
/// (&b).read_exact(&mut got)?;
/// assert_eq!(got, b"through write(2)");
/// # Ok(()) }
/// ```
#[cfg(unix)]
#[derive(Debug)]
pub struct Write<F, B> {
    fd: F,
    buf: B,
}

#[cfg(unix)]
impl<F: AsRawSource + Send + 'static, B: IoBuf> Write<F, B> {
    /// A write of `buf.bytes_init()` bytes to `fd`.
    ///
    /// ```
    /// use proactor::op::{Op, Write};
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("log");
    /// // A file opened for appending: each write lands at the end.
    /// let file = Arc::new(std::fs::OpenOptions::new().append(true).create(true).open(&path)?);
    /// for line in ["one\n", "two\n"] {
    ///     proactor::block_on(Op::new(Write::new(file.clone(), line))?).0?;
    /// }
    /// assert_eq!(std::fs::read_to_string(&path)?, "one\ntwo\n");
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, buf: B) -> Self {
        Write { fd, buf }
    }
}

// SAFETY: the entry points into `buf`, owned by self and stable (IoBuf).
#[cfg(unix)]
unsafe impl<F: AsRawSource + Send + 'static, B: IoBuf> OpCode for Write<F, B> {
    type Output = BufResult<usize, B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Write::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_init());
        io_uring::opcode::Write::new(
            io_uring::types::Fd(self.fd.as_raw_source()),
            self.buf.stable_ptr(),
            len,
        )
        .offset(u64::MAX)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Writable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_init()) as usize;
        // SAFETY: the pointer is valid for `len` initialised bytes (IoBuf).
        unsafe { sys::write(self.fd.as_raw_source(), self.buf.stable_ptr(), len) }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result, self.buf)
    }
}

/// Writes `buf`'s initialised bytes to `fd` at `offset` (regular files). The
/// readiness back end runs it on the blocking pool.
///
/// At most [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes are written at once.
///
/// ```
/// use proactor::op::{Op, WriteAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// let file = std::fs::File::create(&path)?;
/// let (n, _) = proactor::block_on(Op::new(WriteAt::new(file, b"at four", 4))?);
/// assert_eq!(n?, 7);
/// assert_eq!(std::fs::read(&path)?, b"\0\0\0\0at four");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WriteAt<F, B> {
    fd: F,
    buf: B,
    offset: u64,
    /// The file's slot in the ring's table, if it is registered.
    registered: Option<Arc<FileSlot>>,
}

impl<F: AsRawFile + Send + 'static, B: IoBuf> WriteAt<F, B> {
    /// A positional write of `buf.bytes_init()` bytes.
    ///
    /// ```
    /// use proactor::op::{Op, WriteAt};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// std::fs::write(&path, b"hello, world")?;
    /// let file = std::fs::OpenOptions::new().write(true).open(&path)?;
    /// let mut buf = Vec::with_capacity(64);
    /// buf.extend_from_slice(b"J"); // one byte initialised, not 64
    /// let (n, _) = proactor::block_on(Op::new(WriteAt::new(file, buf, 0))?);
    /// assert_eq!(n?, 1);
    /// assert_eq!(std::fs::read(&path)?, b"Jello, world");
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, buf: B, offset: u64) -> Self {
        WriteAt {
            fd,
            buf,
            offset,
            registered: None,
        }
    }

    /// Names the file by `registered`, its slot in the ring's table (which
    /// must hold this very file), instead of its fd.
    pub(crate) fn registered(mut self, registered: Option<Arc<FileSlot>>) -> Self {
        self.registered = registered;
        self
    }
}

// SAFETY: as for Write.
unsafe impl<F: AsRawFile + Send + 'static, B: IoBuf> OpCode for WriteAt<F, B> {
    type Output = BufResult<usize, B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Write::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_init());
        let ptr = self.buf.stable_ptr();
        file_entry!(&self.registered, self.fd.as_raw_file(), |file| {
            io_uring::opcode::Write::new(file, ptr, len)
                .offset(self.offset)
                .build()
        })
    }

    fn validate(&self) -> io::Result<()> {
        // io_uring reads -1 as "the current position": refuse it, and
        // everything else off_t cannot hold, on both back ends alike.
        sys::check_offset(self.offset)
    }

    fn bound_to(&self) -> Option<usize> {
        self.registered.as_ref().map(|slot| slot.owner())
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
