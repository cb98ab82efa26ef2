#[cfg(unix)]
use super::Interest;
use super::{finish_read, OpCode, Readiness};
use crate::buf::{capped_len, BufResult, IoBufMut};
use crate::fs::FileSlot;
use crate::os::sys;
use crate::os::AsRawFile;
#[cfg(unix)]
use crate::os::AsRawSource;
use std::io;
use std::sync::atomic::AtomicBool;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Reads from `fd` at its current position into `buf` (pipes, sockets,
/// terminals). The fd must be in non-blocking mode for the readiness back
/// end, which waits for readability and retries on `WouldBlock`.
///
/// At most [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN) bytes are read at once.
///
/// ```
/// use proactor::op::{Op, Read};
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
///
/// # fn main() -> std::io::Result<()> {
/// let (a, b) = UnixStream::pair()?;
/// b.set_nonblocking(true)?; // for the readiness back end
/// (&a).write_all(b"hello")?;
/// let (n, buf) = proactor::block_on(Op::new(Read::new(b, Vec::with_capacity(16)))?);
/// assert_eq!(&buf[..n?], b"hello");
/// # Ok(()) }
/// ```
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
    ///
    /// ```
    /// use proactor::op::{Op, Read};
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = UnixStream::pair()?;
    /// b.set_nonblocking(true)?;
    /// let b = Arc::new(b); // shared: still ours after the read
    /// drop(a); // end of stream
    /// let (n, _) = proactor::block_on(Op::new(Read::new(b.clone(), vec![0; 16]))?);
    /// assert_eq!(n?, 0);
    /// # Ok(()) }
    /// ```
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
///
/// ```
/// use proactor::op::{Op, ReadAt};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// std::fs::write(&path, b"hello, world")?;
/// let file = std::fs::File::open(&path)?;
/// let (n, buf) = proactor::block_on(Op::new(ReadAt::new(file, Vec::with_capacity(5), 7))?);
/// assert_eq!(&buf[..n?], b"world");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ReadAt<F, B> {
    fd: F,
    buf: B,
    offset: u64,
    inline: Inline,
    /// The file's slot in the ring's table, if it is registered.
    registered: Option<Arc<FileSlot>>,
}

/// Whether the readiness back end tries a positional read inline first
/// (Linux's `preadv2(RWF_NOWAIT)`), before the blocking pool. Elsewhere
/// there is no inline path, and nothing reads this.
#[derive(Debug)]
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
pub(super) enum Inline {
    /// Try. If the file's filesystem refuses, this read alone learns it:
    /// each such read costs one failed system call.
    Try,
    /// Never (see [`ReadAt::never_inline`]).
    Never,
    /// Try unless the flag is set: shared by every read of one
    /// [`File`](crate::fs::File), and set once its filesystem refuses, so the
    /// refusal costs that file one failed system call, and no other file
    /// anything.
    UnlessRefused(Arc<AtomicBool>),
}

impl Inline {
    /// The read inline (`preadv2(RWF_NOWAIT)`) if this says to try and the
    /// page cache can serve it; `None`: it goes to the pool.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for writes of `len` bytes for the call.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) unsafe fn try_read(
        &self,
        fd: crate::os::RawFile,
        ptr: *mut u8,
        len: usize,
        offset: u64,
    ) -> Option<io::Result<usize>> {
        let refused = match self {
            Inline::Never => return None,
            Inline::Try => None,
            Inline::UnlessRefused(refused) if refused.load(Relaxed) => return None,
            Inline::UnlessRefused(refused) => Some(refused),
        };
        let offset = sys::offset_arg(offset).ok()?;
        let iov = libc::iovec {
            iov_base: ptr.cast(),
            iov_len: len,
        };
        match nowait::pread(fd, std::slice::from_ref(&iov), offset) {
            nowait::Outcome::Done(read) => Some(Ok(read)),
            nowait::Outcome::WouldBlock => None,
            nowait::Outcome::Refused => {
                if let Some(refused) = refused {
                    refused.store(true, Relaxed);
                }
                None
            }
        }
    }
}

impl<F: AsRawFile + Send + 'static, B: IoBufMut> ReadAt<F, B> {
    /// A positional read of up to `buf.bytes_total()` bytes.
    ///
    /// ```
    /// use proactor::op::{Op, ReadAt};
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// std::fs::write(&path, b"abc")?;
    /// let file = Arc::new(std::fs::File::open(&path)?);
    /// let past_end = ReadAt::new(file.clone(), vec![0; 8], 100);
    /// let (n, _) = proactor::block_on(Op::new(past_end)?);
    /// assert_eq!(n?, 0); // end of file
    /// # Ok(()) }
    /// ```
    pub fn new(fd: F, buf: B, offset: u64) -> Self {
        ReadAt {
            fd,
            buf,
            offset,
            inline: Inline::Try,
            registered: None,
        }
    }

    /// Never tries the read inline first on the readiness back end (Linux's
    /// `preadv2(RWF_NOWAIT)`): it goes straight to the blocking pool. For
    /// `O_DIRECT` files, where the kernel waits for the device even with
    /// `RWF_NOWAIT`, so an inline attempt would stall the event loop.
    /// [`File`](crate::fs::File) does this by itself for files opened with
    /// `O_DIRECT`.
    ///
    /// ```
    /// use proactor::op::{Op, ReadAt};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// std::fs::write(&path, b"abc")?;
    /// let file = std::fs::File::open(&path)?;
    /// let read = ReadAt::new(file, Vec::with_capacity(8), 0).never_inline();
    /// let (n, buf) = proactor::block_on(Op::new(read)?);
    /// assert_eq!(&buf[..n?], b"abc"); // the same bytes, by the pool
    /// # Ok(()) }
    /// ```
    pub fn never_inline(mut self) -> Self {
        self.inline = Inline::Never;
        self
    }

    /// Tries the read inline first unless `refused` is set, and sets it if
    /// the file's filesystem refuses: one flag for all reads of one file.
    pub(crate) fn inline_unless_refused(mut self, refused: Arc<AtomicBool>) -> Self {
        self.inline = Inline::UnlessRefused(refused);
        self
    }

    /// Names the file by `registered`, its slot in the ring's table (which
    /// must hold this very file), instead of its fd.
    pub(crate) fn registered(mut self, registered: Option<Arc<FileSlot>>) -> Self {
        self.registered = registered;
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
        let ptr = self.buf.stable_mut_ptr();
        file_entry!(&self.registered, self.fd.as_raw_file(), |file| {
            io_uring::opcode::Read::new(file, ptr, len)
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

/// `preadv2(RWF_NOWAIT)`: a positional read that only succeeds if it need
/// not wait for the device (Linux 4.14; regular files on most filesystems).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) mod nowait {
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    /// Set once the kernel says it has no `preadv2` at all (`ENOSYS`): true
    /// of every file. Whether a filesystem can do `RWF_NOWAIT` is a matter of
    /// the file (`EOPNOTSUPP`), which its reads learn for themselves.
    static NO_PREADV2: AtomicBool = AtomicBool::new(false);

    /// How an inline read went.
    pub(in crate::op) enum Outcome {
        /// It read this many bytes without blocking (possibly short, if
        /// only part of the range is cached).
        Done(usize),
        /// It would have waited for the device, or cannot be tried.
        WouldBlock,
        /// This file cannot be read this way (its filesystem has no
        /// `RWF_NOWAIT`, or the kernel does not know the flag).
        Refused,
    }

    pub(in crate::op) fn pread(fd: i32, iovs: &[libc::iovec], offset: libc::off_t) -> Outcome {
        if NO_PREADV2.load(Relaxed) {
            return Outcome::WouldBlock;
        }
        let Ok(count) = libc::c_int::try_from(iovs.len()) else {
            return Outcome::WouldBlock;
        };
        // SAFETY: each of `iovs` describes a buffer valid for writes of its
        // length (IoBufMut), owned by the operation for the whole call.
        let read = unsafe { libc::preadv2(fd, iovs.as_ptr(), count, offset, libc::RWF_NOWAIT) };
        if read >= 0 {
            return Outcome::Done(read as usize);
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EOPNOTSUPP) => Outcome::Refused,
            Some(libc::ENOSYS) => {
                NO_PREADV2.store(true, Relaxed);
                Outcome::WouldBlock
            }
            // EAGAIN: not cached. Anything else (EINVAL for a misaligned
            // O_DIRECT read, say): let the blocking path report the real
            // outcome.
            _ => Outcome::WouldBlock,
        }
    }
}

// Linux only: RWF_NOWAIT and procfs. Readiness back end only: io_uring never
// tries a read inline first.
#[cfg(all(
    test,
    feature = "poll",
    any(target_os = "linux", target_os = "android")
))]
mod tests {
    use std::io::{self, Write};

    use crate::fs::File;
    use crate::{Backend, Driver};

    /// With the blocking pool disabled, a read that does not go inline fails
    /// with the pool's error: which path a read took shows in its result.
    #[test]
    fn a_file_that_refuses_rwf_nowait_leaves_inline_reads_on_for_other_files() {
        let driver = Driver::builder()
            .force(Backend::Poll)
            .blocking_threads(0)
            .build()
            .unwrap();
        let data = b"in the page cache since the write";
        let mut regular = tempfile::tempfile().unwrap();
        regular.write_all(data).unwrap();
        let mut probe = [0u8; 1];
        let iov = libc::iovec {
            iov_base: probe.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // SAFETY: `iov` describes `probe`, live for the call.
        let probed = unsafe {
            libc::preadv2(
                std::os::fd::AsRawFd::as_raw_fd(&regular),
                &iov,
                1,
                0,
                libc::RWF_NOWAIT,
            )
        };
        if probed != 1 {
            let why = io::Error::last_os_error();
            // qemu-user refuses RWF_NOWAIT on every file: nothing to compare.
            if crate::test_skip::skipped("preadv2(RWF_NOWAIT) is refused on any file", &why) {
                return;
            }
            panic!(
                "precondition: the temporary directory's filesystem reads cached pages with \
                 RWF_NOWAIT ({why})"
            );
        }

        driver.block_on(async {
            // procfs has no FMODE_NOWAIT: preadv2(RWF_NOWAIT) says EOPNOTSUPP.
            let proc_file =
                File::from_std(std::fs::File::open("/proc/self/status").unwrap()).unwrap();
            for _ in 0..2 {
                let (result, _) = proc_file.read_at(Vec::with_capacity(64), 0).await;
                let error = result.expect_err("not inline, and the pool is disabled");
                assert_eq!(error.kind(), io::ErrorKind::Unsupported, "{error}");
            }

            let regular = File::from_std(regular).unwrap();
            let (result, buf) = regular.read_at(Vec::with_capacity(64), 0).await;
            let read = result.expect("a cached regular file still reads inline");
            assert_eq!(&buf[..read], data);
        });
    }
}

// Off Linux a positional read never goes inline: every one runs `perform`
// on the blocking pool (`try_now` is the trait's default, `None`).
// `never_inline` routes a Linux read the same way, so that path is tested
// here too.
#[cfg(all(test, feature = "poll", unix))]
mod pool_path_tests {
    use std::io::{self, Write};
    use std::sync::Arc;

    use crate::op::{Op, OpCode, ReadAt, ReadVectoredAt};
    use crate::{Backend, Driver};

    fn driver(blocking_threads: usize) -> Driver {
        Driver::builder()
            .force(Backend::Poll)
            .blocking_threads(blocking_threads)
            .build()
            .unwrap()
    }

    fn run<O: OpCode>(driver: &Driver, op: O) -> O::Output {
        driver.block_on(async { Op::new(op).unwrap().await })
    }

    #[test]
    fn a_read_that_never_goes_inline_takes_the_pool() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"cached, but not read inline").unwrap();
        // The pool disabled: the read fails with the pool's error, so it
        // did not end inline.
        let (result, _) = run(
            &driver(0),
            ReadAt::new(file, vec![0u8; 8], 0).never_inline(),
        );
        let error = result.expect_err("the read went inline");
        assert_eq!(error.kind(), io::ErrorKind::Unsupported, "{error}");
    }

    #[test]
    fn reads_on_the_pool_honour_offsets_and_the_end_of_the_file() {
        let driver = driver(2);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let file = Arc::new(file);
        let read = |offset, capacity| {
            let (result, buf) = run(
                &driver,
                ReadAt::new(file.clone(), Vec::with_capacity(capacity), offset).never_inline(),
            );
            assert_eq!(result.unwrap(), buf.len());
            buf
        };
        assert_eq!(read(3, 4), b"3456");
        assert_eq!(read(8, 4), b"89", "short at the end of the file");
        assert_eq!(read(10, 4), b"", "nothing at the end");
        assert_eq!(read(1 << 40, 4), b"", "nothing past the end");

        let bufs = vec![Vec::with_capacity(2), Vec::with_capacity(3)];
        let (result, bufs) = run(
            &driver,
            ReadVectoredAt::new(file.clone(), bufs, 4).never_inline(),
        );
        assert_eq!(result.unwrap(), 5);
        assert_eq!(bufs, [b"45".to_vec(), b"678".to_vec()]);
    }
}
