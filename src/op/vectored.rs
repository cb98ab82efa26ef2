//! Positional reads and writes over several buffers in one operation.

use std::io;

use super::{OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBuf, IoBufMut};
use crate::os::sys::{self, IoVec};
use crate::os::AsRawFile;

/// Most buffers one vectored operation takes: Linux's `IOV_MAX`, also
/// macOS's and the BSDs', applied on every system so each behaves alike.
pub const MAX_BUFFERS: usize = 1024;

/// The buffer descriptions the kernel reads, built from buffers the same
/// operation owns.
#[derive(Debug, Default)]
struct IoVecs(Vec<IoVec>);

// SAFETY: the pointers point into buffers owned by the operation that owns
// this, and travel with it; nothing else uses them.
unsafe impl Send for IoVecs {}

impl IoVecs {
    /// Describes `(pointer, length)` pairs, cut to a prefix of their
    /// concatenation that stays within [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) (a short count, as for
    /// one buffer): never a gap between two described parts.
    fn describe(&mut self, bufs: impl Iterator<Item = (*mut u8, usize)>) -> &[IoVec] {
        self.0.clear();
        self.0
            .extend(bufs.map(|(base, len)| sys::io_vec(base, len)));
        let total = self
            .0
            .iter()
            .map(sys::io_vec_len)
            .fold(0usize, usize::saturating_add);
        let mut room = capped_len(total) as usize;
        for iovec in &mut self.0 {
            let len = sys::io_vec_len(iovec).min(room);
            room -= len;
            *iovec = sys::io_vec(sys::io_vec_base(iovec), len);
        }
        &self.0
    }

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn count(&self) -> u32 {
        // validate() kept it at MAX_BUFFERS or fewer.
        self.0.len() as u32
    }
}

fn check_buffers(count: usize, offset: u64) -> io::Result<()> {
    sys::check_offset(offset)?;
    if count > MAX_BUFFERS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{count} buffers in one vectored operation; at most {MAX_BUFFERS}"),
        ));
    }
    Ok(())
}

/// Reads from `fd` at `offset` into several buffers in turn (`preadv(2)`):
/// the first is filled before the second gets a byte. Regular files; the
/// readiness back end reads inline when the page cache has the data
/// (Linux), else on the blocking pool.
///
/// At most [`MAX_BUFFERS`] buffers and [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes in all.
///
/// ```
/// use proactor::op::{Op, ReadVectoredAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// std::fs::write(&path, b"header:body")?;
/// let file = std::fs::File::open(&path)?;
/// let bufs = vec![Vec::with_capacity(7), Vec::with_capacity(16)];
/// let (n, bufs) = proactor::block_on(Op::new(ReadVectoredAt::new(file, bufs, 0))?);
/// assert_eq!(n?, 11);
/// assert_eq!(bufs[0], b"header:");
/// assert_eq!(bufs[1], b"body");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ReadVectoredAt<F, B> {
    fd: F,
    bufs: Vec<B>,
    offset: u64,
    inline: bool,
    iovecs: IoVecs,
}

impl<F: AsRawFile + Send + 'static, B: IoBufMut> ReadVectoredAt<F, B> {
    /// A read into `bufs`, each up to its `bytes_total()`, from `offset`.
    pub fn new(fd: F, bufs: Vec<B>, offset: u64) -> Self {
        ReadVectoredAt {
            fd,
            bufs,
            offset,
            inline: true,
            iovecs: IoVecs::default(),
        }
    }

    /// Never tries the read inline first on the readiness back end: for
    /// `O_DIRECT` files, as [`ReadAt::never_inline`](super::ReadAt::never_inline).
    pub fn never_inline(mut self) -> Self {
        self.inline = false;
        self
    }

    fn describe(&mut self) -> &[IoVec] {
        let bufs = self
            .bufs
            .iter_mut()
            .map(|buf| (buf.stable_mut_ptr(), buf.bytes_total()));
        self.iovecs.describe(bufs)
    }
}

// SAFETY: the entry points into `iovecs`, a vector owned by self whose heap
// memory does not move, and its entries into `bufs`' buffers, which
// IoBufMut keeps stable while self lives.
unsafe impl<F: AsRawFile + Send + 'static, B: IoBufMut> OpCode for ReadVectoredAt<F, B> {
    type Output = BufResult<usize, Vec<B>>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Readv::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let iovecs = self.describe().as_ptr();
        io_uring::opcode::Readv::new(
            io_uring::types::Fd(self.fd.as_raw_file()),
            iovecs,
            self.iovecs.count(),
        )
        .offset(self.offset)
        .build()
    }

    fn validate(&self) -> io::Result<()> {
        check_buffers(self.bufs.len(), self.offset)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn try_now(&mut self) -> Option<io::Result<usize>> {
        if !self.inline {
            return None;
        }
        let offset = sys::offset_arg(self.offset).ok()?;
        let fd = self.fd.as_raw_file();
        match super::read::nowait::pread(fd, self.describe(), offset) {
            super::read::nowait::Outcome::Done(read) => Some(Ok(read)),
            _ => None,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let (fd, offset) = (self.fd.as_raw_file(), self.offset);
        // SAFETY: each description covers a buffer valid for writes of its
        // length (IoBufMut), owned by self for the whole call.
        unsafe { sys::read_vectored_at(fd, self.describe(), offset) }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        let Self {
            mut bufs, iovecs, ..
        } = *self;
        if let Ok(mut read) = result {
            for (buf, iovec) in bufs.iter_mut().zip(iovec_lens(&iovecs)) {
                let filled = read.min(iovec);
                // SAFETY: the kernel (or the system call) wrote the first
                // `filled` bytes of this buffer: buffers fill in order, each
                // up to its described length.
                unsafe { buf.set_init(filled) };
                read -= filled;
            }
        }
        (result, bufs)
    }
}

/// The lengths the kernel was given, buffer by buffer.
fn iovec_lens(iovecs: &IoVecs) -> impl Iterator<Item = usize> + '_ {
    iovecs.0.iter().map(sys::io_vec_len)
}

/// Writes several buffers' initialised bytes at `offset`, one after the
/// other (`pwritev(2)`). Regular files; the readiness back end writes on the
/// blocking pool.
///
/// At most [`MAX_BUFFERS`] buffers and [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes in all.
///
/// ```
/// use proactor::op::{Op, WriteVectoredAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// let file = std::fs::File::create(&path)?;
/// let parts = vec![&b"GET / "[..], &b"HTTP/1.1"[..]];
/// let (n, _) = proactor::block_on(Op::new(WriteVectoredAt::new(file, parts, 0))?);
/// assert_eq!(n?, 14);
/// assert_eq!(std::fs::read(&path)?, b"GET / HTTP/1.1");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WriteVectoredAt<F, B> {
    fd: F,
    bufs: Vec<B>,
    offset: u64,
    iovecs: IoVecs,
}

impl<F: AsRawFile + Send + 'static, B: IoBuf> WriteVectoredAt<F, B> {
    /// A write of each of `bufs`' `bytes_init()` bytes, in order, from
    /// `offset`.
    pub fn new(fd: F, bufs: Vec<B>, offset: u64) -> Self {
        WriteVectoredAt {
            fd,
            bufs,
            offset,
            iovecs: IoVecs::default(),
        }
    }

    fn describe(&mut self) -> &[IoVec] {
        // The kernel only reads through these pointers.
        let bufs = self
            .bufs
            .iter()
            .map(|buf| (buf.stable_ptr().cast_mut(), buf.bytes_init()));
        self.iovecs.describe(bufs)
    }
}

// SAFETY: as for ReadVectoredAt, with IoBuf keeping the buffers stable.
unsafe impl<F: AsRawFile + Send + 'static, B: IoBuf> OpCode for WriteVectoredAt<F, B> {
    type Output = BufResult<usize, Vec<B>>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Writev::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let iovecs = self.describe().as_ptr();
        io_uring::opcode::Writev::new(
            io_uring::types::Fd(self.fd.as_raw_file()),
            iovecs,
            self.iovecs.count(),
        )
        .offset(self.offset)
        .build()
    }

    fn validate(&self) -> io::Result<()> {
        check_buffers(self.bufs.len(), self.offset)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    fn perform(&mut self) -> io::Result<usize> {
        let (fd, offset) = (self.fd.as_raw_file(), self.offset);
        // SAFETY: each description covers a buffer valid for reads of its
        // length (IoBuf), owned by self for the whole call.
        unsafe { sys::write_vectored_at(fd, self.describe(), offset) }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result, self.bufs)
    }
}
