//! Operations: each one described once for both back ends, and the [`Op`]
//! future that runs one.
//!
//! An operation is a value implementing [`OpCode`]: it owns everything the
//! kernel will touch (buffers, paths, timespecs) and says, side by side, how
//! it becomes an io_uring submission entry and how the readiness back end
//! performs it. [`Op`] hands it to a driver and yields its output; dropping an
//! [`Op`] early cancels the operation while the driver keeps its data alive
//! until the kernel is done with it.
//!
//! ```
//! use proactor::op::{Nop, Op};
//!
//! # fn main() -> std::io::Result<()> {
//! let driver = proactor::Driver::new()?;
//! driver.block_on(async {
//!     let nop = Op::with_driver(Nop::new(), driver.clone());
//!     nop.await
//! })?;
//! # Ok(()) }
//! ```

/// Builds an entry for a file named by its registered slot
/// (`types::Fixed`) if `$registered` holds one, else by its fd
/// (`types::Fd`): `$build` is written once, with `$target` either.
#[cfg(all(target_os = "linux", feature = "uring"))]
macro_rules! file_entry {
    ($registered:expr, $fd:expr, |$target:ident| $build:expr) => {
        match $registered {
            Some(slot) => {
                let $target = io_uring::types::Fixed(slot.index());
                $build
            }
            None => {
                let $target = io_uring::types::Fd($fd);
                $build
            }
        }
    };
}

mod accept;
mod blocking;
mod close;
mod connect;
#[cfg(unix)]
mod fd_passing;
mod fixed;
mod fsync;
mod future;
mod link;
mod nop;
mod open;
mod path;
mod read;
mod ready;
mod recv;
#[cfg(all(target_os = "linux", feature = "uring"))]
mod recv_pooled;
mod send;
mod send_zc;
mod shutdown;
#[cfg(target_os = "linux")]
mod splice;
mod statx;
mod timeout;
mod truncate;
mod vectored;
mod write;

use std::any::Any;
use std::io;
use std::time::Duration;

pub use accept::Accept;
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) use accept::{accepted, MultishotAccept};
pub use blocking::{Blocking, POOL_ONLY};
pub use close::Close;
pub use connect::Connect;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use fd_passing::{ReceivedWithFds, RecvWithFds, SendWithFds, MAX_FDS_PER_MESSAGE};
pub use fixed::{ReadFixedAt, WriteFixedAt};
pub use fsync::Fsync;
pub use future::{Op, OpId, Submission};
pub use link::LinkAt;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use link::SymlinkAt;
pub use nop::Nop;
pub use open::OpenAt;
pub use path::{MkDirAt, RenameAt, UnlinkAt};
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use read::Read;
pub use read::ReadAt;
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) use ready::MultishotReady;
pub use ready::Ready;
pub use recv::{Recv, RecvFrom};
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) use recv_pooled::RecvPooled;
pub use send::{Send, SendTo};
pub use send_zc::{SendZc, SendZcFuture};
pub use shutdown::Shutdown;
#[cfg(target_os = "linux")]
#[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
pub use splice::{Splice, SpliceFuture, Tee, TeeFuture};
pub use statx::{FileStat, Statx, StatxPath};
pub use timeout::Timeout;
pub use truncate::Ftruncate;
pub use vectored::{ReadVectoredAt, WriteVectoredAt, MAX_BUFFERS};
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use write::Write;
pub use write::WriteAt;

use crate::os::RawSource;

/// How the readiness back end performs an operation: what
/// [`OpCode::readiness`] answers.
///
/// ```
/// use proactor::op::{Interest, Nop, OpCode, Readiness, Timeout};
/// use std::time::Duration;
///
/// assert_eq!(Nop::new().readiness(), Readiness::Now);
/// let timer = Timeout::new(Duration::from_secs(1));
/// assert_eq!(timer.readiness(), Readiness::Timer(Duration::from_secs(1)));
/// # let _ = Interest::Readable;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Perform it at once on the submitting thread; it never blocks.
    Now,
    /// Try the non-blocking system call at once; on `WouldBlock`, wait until
    /// `fd` is ready for `interest`, then try again.
    Fd {
        /// What to wait on (an fd on Unix, a socket on Windows). It must be
        /// in non-blocking mode.
        fd: RawSource,
        /// The direction to wait for.
        interest: Interest,
    },
    /// Run it on the bounded blocking pool (regular files, `open`, `fsync`,
    /// `statx`, `close`): it may block, so it never runs on the event loop.
    Blocking,
    /// Complete with `Ok(0)` once this much time has passed.
    Timer(Duration),
}

/// A direction of readiness to wait for.
///
/// ```
/// use proactor::op::{Interest, OpCode, Readiness, Recv};
/// use proactor::os::AsRawSource;
///
/// # fn main() -> std::io::Result<()> {
/// let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
/// let fd = socket.as_raw_source(); // an fd on Unix, a SOCKET on Windows
/// let recv = Recv::new(socket, vec![0; 64]);
/// assert_eq!(recv.readiness(), Readiness::Fd { fd, interest: Interest::Readable });
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Data can be read (or a connection accepted).
    Readable,
    /// Data can be written (or a connection completed).
    Writable,
}

/// One operation, described for both back ends.
///
/// # Safety
///
/// Implementors promise that:
/// - every pointer placed in the entry returned by `uring_entry` points into
///   memory owned by `self` (or `'static`) that stays valid and unmoved while
///   `self` is alive behind the driver's `Box` — the driver never moves the
///   value between building the entry and reaping its completion;
/// - `perform` only touches memory owned by `self`;
/// - `complete` and `cleanup` interpret a successful result exactly as the
///   kernel produced it (for example as an fd to own).
///
/// ```
/// use proactor::op::{Op, OpCode, Readiness, POOL_ONLY};
/// use std::io;
/// use std::path::PathBuf;
///
/// /// Counts a directory's entries (`readdir(3)`) as an operation. No
/// /// kernel has an io_uring opcode for that, so it runs on the blocking
/// /// pool on both back ends.
/// struct CountEntries(PathBuf);
///
/// // SAFETY: no submission entry is ever built for a POOL_ONLY operation,
/// // and `perform` touches only the path `self` owns.
/// unsafe impl OpCode for CountEntries {
///     type Output = io::Result<usize>;
///
///     #[cfg(all(target_os = "linux", feature = "uring"))]
///     const URING_OPCODE: u8 = POOL_ONLY;
///
///     #[cfg(all(target_os = "linux", feature = "uring"))]
///     fn uring_entry(&mut self) -> io_uring::squeue::Entry {
///         io_uring::opcode::Nop::new().build() // never submitted
///     }
///
///     fn readiness(&self) -> Readiness {
///         Readiness::Blocking
///     }
///
///     fn perform(&mut self) -> io::Result<usize> {
///         std::fs::read_dir(&self.0)?.try_fold(0, |n, entry| entry.map(|_| n + 1))
///     }
///
///     fn complete(self: Box<Self>, result: io::Result<usize>) -> io::Result<usize> {
///         result
///     }
/// }
///
/// # fn main() -> io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a"), b"")?;
/// std::fs::write(dir.path().join("b"), b"")?;
/// let count = CountEntries(dir.path().to_path_buf());
/// assert_eq!(proactor::block_on(async { Op::new(count)?.await })?, 2);
/// # Ok(()) }
/// ```
pub unsafe trait OpCode: std::marker::Send + 'static {
    /// What the operation's future yields.
    type Output;

    /// The io_uring opcode (`io_uring::opcode::X::CODE`), used to check that
    /// the running kernel supports it; if not, the operation runs on the
    /// blocking pool through [`OpCode::perform`].
    #[cfg(all(target_os = "linux", feature = "uring"))]
    #[cfg_attr(docsrs, doc(cfg(all(target_os = "linux", feature = "uring"))))]
    const URING_OPCODE: u8;

    /// Builds the submission entry (its `user_data` is set by the driver).
    /// Called once, with `self` at its final address.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    #[cfg_attr(docsrs, doc(cfg(all(target_os = "linux", feature = "uring"))))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry;

    /// The entry [`OpCode::uring_entry`] built never reached the kernel (the
    /// submission queue was full and the driver could not submit it): take
    /// back whatever building it handed over, because
    /// [`OpCode::complete`] comes next with the driver's error and must see
    /// the operation as never started. The default does nothing: most
    /// entries only point into `self`.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    #[cfg_attr(docsrs, doc(cfg(all(target_os = "linux", feature = "uring"))))]
    fn uring_entry_not_pushed(&mut self) {}

    /// Rejects arguments no back end can run, before anything is
    /// submitted, so both back ends give the same clear error. The default
    /// accepts everything.
    fn validate(&self) -> io::Result<()> {
        Ok(())
    }

    /// How the readiness back end (and io_uring's per-op fallback) runs it.
    fn readiness(&self) -> Readiness;

    /// Readiness back end, for a [`Readiness::Blocking`] operation: finish
    /// it at once if that cannot block (a read the page cache can serve), so
    /// it costs no thread hop. `None`: it would block; it runs on the pool.
    /// The default always says `None`.
    fn try_now(&mut self) -> Option<io::Result<usize>> {
        None
    }

    /// Performs the operation as a system call: non-blocking for
    /// [`Readiness::Fd`], blocking for [`Readiness::Blocking`]. Returns what
    /// the io_uring completion would: a count, an fd, or zero.
    fn perform(&mut self) -> io::Result<usize>;

    /// Turns the raw result into the output, giving buffers back.
    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output;

    /// The identity of the one driver this operation may run on, if it is
    /// bound to one (its buffer is registered with that driver): the others
    /// refuse it with `InvalidInput` before building anything. Internal:
    /// the default, `None`, is right for every operation outside the crate.
    #[doc(hidden)]
    fn bound_to(&self) -> Option<usize> {
        None
    }

    /// Releases what a result carries when nobody will take it (the future
    /// was dropped): an opened fd is closed. The default drops the data.
    fn cleanup(self: Box<Self>, result: io::Result<usize>) {
        let _ = result;
    }
}

/// An operation with its type erased, as the op table stores it.
pub(crate) trait ErasedOp: std::marker::Send {
    fn into_any(self: Box<Self>) -> Box<dyn Any + std::marker::Send>;
    fn cleanup_erased(self: Box<Self>, result: io::Result<usize>);
    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry;
    #[cfg_attr(not(feature = "poll"), allow(dead_code))]
    fn readiness(&self) -> Readiness;
    fn perform(&mut self) -> io::Result<usize>;
}

impl<O: OpCode> ErasedOp for O {
    fn into_any(self: Box<Self>) -> Box<dyn Any + std::marker::Send> {
        self
    }
    fn cleanup_erased(self: Box<Self>, result: io::Result<usize>) {
        self.cleanup(result)
    }
    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        OpCode::uring_entry(self)
    }
    fn readiness(&self) -> Readiness {
        OpCode::readiness(self)
    }
    fn perform(&mut self) -> io::Result<usize> {
        OpCode::perform(self)
    }
}

/// A type-erased operation owned by a driver.
pub(crate) type BoxedOp = Box<dyn ErasedOp>;

/// Gets the concrete operation back out of a driver slot.
pub(crate) fn downcast<O: OpCode>(op: BoxedOp) -> Box<O> {
    op.into_any()
        .downcast::<O>()
        .expect("an op slot always holds the type its key was issued for")
}

/// Records the bytes a successful read put at the start of `buf`.
pub(crate) fn record_read<B: crate::buf::IoBufMut>(buf: &mut B, result: &io::Result<usize>) {
    if let Ok(n) = *result {
        // SAFETY: the kernel (or the syscall) wrote `n` bytes from the start
        // of the buffer, within the length it was given (at most
        // bytes_total; clamped all the same).
        unsafe { buf.set_init(n.min(buf.bytes_total())) };
    }
}

/// A read's output: the result, and the buffer with the bytes recorded.
pub(crate) fn finish_read<B: crate::buf::IoBufMut>(
    mut buf: B,
    result: io::Result<usize>,
) -> crate::buf::BufResult<usize, B> {
    record_read(&mut buf, &result);
    (result, buf)
}

/// The result of an operation whose deadline passed first
/// ([`Op::with_timeout`]).
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the operation's deadline passed before it completed",
    )
}

/// Maps an io_uring completion result (`-errno` on error).
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) fn from_cqe_result(res: i32) -> io::Result<usize> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    }
}
