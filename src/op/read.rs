#[cfg(unix)]
use super::Interest;
use super::{finish_read, OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBufMut};
use crate::os::sys;
use crate::os::AsRawFile;
#[cfg(unix)]
use crate::os::AsRawSource;
use std::io;

/// Reads from `fd` at its current position into `buf` (pipes, sockets,
/// terminals). The fd must be in non-blocking mode for the readiness back
/// end, which waits for readability and retries on `WouldBlock`.
///
/// At most [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes are read at once.
#[cfg(unix)]
#[derive(Debug)]
pub struct Read<F, B> {
    fd: F,
    buf: B,
}

#[cfg(unix)]
impl<F: AsRawSource + Send + 'static, B: IoBufMut> Read<F, B> {
    /// A read of up to `buf.bytes_total()` bytes from `fd`, which the
    /// operation owns (or borrows, for a `BorrowedFd<'static>`) until it
    /// completes.
    pub fn new(fd: F, buf: B) -> Self {
        Read { fd, buf }
    }
}

// SAFETY: the entry points into `buf`, owned by self; IoBufMut guarantees
// the pointer is stable while self lives.
#[cfg(unix)]
unsafe impl<F: AsRawSource + Send + 'static, B: IoBufMut> OpCode for Read<F, B> {
    type Output = BufResult<usize, B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Read::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_total());
        io_uring::opcode::Read::new(
            io_uring::types::Fd(self.fd.as_raw_source()),
            self.buf.stable_mut_ptr(),
            len,
        )
        // -1: the file's current position, like read(2).
        .offset(u64::MAX)
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let len = capped_len(self.buf.bytes_total()) as usize;
        // SAFETY: the pointer is valid for `len` writable bytes (IoBufMut).
        unsafe { sys::read(self.fd.as_raw_source(), self.buf.stable_mut_ptr(), len) }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        finish_read(self.buf, result)
    }
}

/// Reads from `fd` at `offset` into `buf` without moving the file position
/// (regular files). The readiness back end runs it on the blocking pool.
///
/// At most [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes are read at once.
#[derive(Debug)]
pub struct ReadAt<F, B> {
    fd: F,
    buf: B,
    offset: u64,
    inline_first: bool,
}

impl<F: AsRawFile + Send + 'static, B: IoBufMut> ReadAt<F, B> {
    /// A positional read of up to `buf.bytes_total()` bytes.
    pub fn new(fd: F, buf: B, offset: u64) -> Self {
        ReadAt {
            fd,
            buf,
            offset,
            inline_first: true,
        }
    }

    /// Never tries the read inline first on the readiness back end (Linux's
    /// `preadv2(RWF_NOWAIT)`): it goes straight to the blocking pool. For
    /// `O_DIRECT` files, where the kernel waits for the device even with
    /// `RWF_NOWAIT`, so an inline attempt would stall the event loop.
    /// [`File`](crate::fs::File) does this by itself for files opened with
    /// `O_DIRECT`.
    pub fn never_inline(mut self) -> Self {
        self.inline_first = false;
        self
    }
}

// SAFETY: as for Read.
unsafe impl<F: AsRawFile + Send + 'static, B: IoBufMut> OpCode for ReadAt<F, B> {
    type Output = BufResult<usize, B>;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::Read::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let len = capped_len(self.buf.bytes_total());
        io_uring::opcode::Read::new(
            io_uring::types::Fd(self.fd.as_raw_file()),
            self.buf.stable_mut_ptr(),
            len,
        )
        .offset(self.offset)
        .build()
    }

    fn validate(&self) -> io::Result<()> {
        // io_uring reads -1 as "the current position": refuse it, and
        // everything else off_t cannot hold, on both back ends alike.
        sys::check_offset(self.offset)
    }

    fn readiness(&self) -> Readiness {
        Readiness::Blocking
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn try_now(&mut self) -> Option<io::Result<usize>> {
        if !self.inline_first {
            return None;
        }
        let len = capped_len(self.buf.bytes_total()) as usize;
        let offset = sys::offset_arg(self.offset).ok()?;
        let iov = libc::iovec {
            iov_base: self.buf.stable_mut_ptr().cast(),
            iov_len: len,
        };
        nowait::pread(self.fd.as_raw_file(), &iov, offset)
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

/// `preadv2(RWF_NOWAIT)`: a positional read that only succeeds if it need
/// not wait for the device (Linux 4.14; regular files on most filesystems).
#[cfg(any(target_os = "linux", target_os = "android"))]
mod nowait {
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    /// Set once the kernel or filesystem says it cannot do `RWF_NOWAIT`.
    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

    /// `Some(result)` if the read finished without blocking (possibly
    /// short, if only part of the range is cached); `None` if it would
    /// block or cannot be tried.
    pub(super) fn pread(
        fd: i32,
        iov: &libc::iovec,
        offset: libc::off_t,
    ) -> Option<io::Result<usize>> {
        if UNSUPPORTED.load(Relaxed) {
            return None;
        }
        // SAFETY: `iov` describes one buffer valid for writes of its length
        // (IoBufMut), owned by the operation for the whole call.
        let read = unsafe { libc::preadv2(fd, iov, 1, offset, libc::RWF_NOWAIT) };
        if read >= 0 {
            return Some(Ok(read as usize));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EAGAIN) => None,
            Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => {
                UNSUPPORTED.store(true, Relaxed);
                None
            }
            // Anything else (EINVAL for a misaligned O_DIRECT read, say):
            // let the blocking path report the real outcome.
            _ => None,
        }
    }
}
