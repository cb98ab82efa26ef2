#[cfg(unix)]
use super::Interest;
use super::{OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBuf};
use crate::os::sys;
use crate::os::AsRawFile;
#[cfg(unix)]
use crate::os::AsRawSource;
use std::io;

/// Writes `buf`'s initialised bytes to `fd` at its current position (pipes,
/// sockets). The fd must be in non-blocking mode for the readiness back end.
///
/// At most [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes are written at once.
#[cfg(unix)]
#[derive(Debug)]
pub struct Write<F, B> {
    fd: F,
    buf: B,
}

#[cfg(unix)]
impl<F: AsRawSource + Send + 'static, B: IoBuf> Write<F, B> {
    /// A write of `buf.bytes_init()` bytes to `fd`.
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
#[derive(Debug)]
pub struct WriteAt<F, B> {
    fd: F,
    buf: B,
    offset: u64,
}

impl<F: AsRawFile + Send + 'static, B: IoBuf> WriteAt<F, B> {
    /// A positional write of `buf.bytes_init()` bytes.
    pub fn new(fd: F, buf: B, offset: u64) -> Self {
        WriteAt { fd, buf, offset }
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
        io_uring::opcode::Write::new(
            io_uring::types::Fd(self.fd.as_raw_file()),
            self.buf.stable_ptr(),
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
