//! `splice(2)` and `tee(2)`: bytes moved between a pipe and another fd (or
//! duplicated from one pipe into another) inside the kernel, never through
//! a user buffer.
//!
//! Every attempt asks for `SPLICE_F_NONBLOCK` on both back ends: io_uring
//! runs `IORING_OP_SPLICE` / `IORING_OP_TEE` (Linux 5.7 / 5.8); the
//! readiness back end, and io_uring kernels without the opcode, make the
//! system call (on the blocking pool when a regular file is involved, as
//! its side may wait for the disk). An attempt that finds a pipe empty or
//! full, or a socket without data or room, ends with `EAGAIN`; the future
//! then asks `poll(2)`, without waiting, which side is not ready, waits for
//! that one ([`Ready`](super::Ready)'s operation: `IORING_OP_POLL_ADD` or
//! the poller), and tries again. No thread of the driver or its pool ever
//! blocks on a pipe or socket. (io_uring runs splices in its own kernel
//! workers, and there a socket end may be waited for inside the kernel
//! rather than reported as `EAGAIN`, as Linux 6.18 does for a full socket;
//! cancelling the operation ends that wait too.)

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Interest, Op, OpCode, Readiness};
use crate::buf::capped_len;
use crate::os::{sys, AsRawSource, RawSource};
use crate::Driver;

/// How often in a row an attempt may say `EAGAIN` while `poll(2)` says
/// both sides are ready before the future gives up with an error instead
/// of spinning. Readiness and splice agree for pipes and TCP sockets; this
/// is a bound for fds where they might not.
const MAX_UNEXPLAINED_EAGAIN: u32 = 16;

/// What one end of a splice is, as far as waiting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// A pipe (or FIFO): `SPLICE_F_NONBLOCK` makes waiting on it `EAGAIN`.
    Pipe,
    /// A regular file or block device: never waits for readiness, but its
    /// I/O may wait for the disk.
    File,
    /// Anything else the kernel can poll: a socket, a character device. It
    /// must be in non-blocking mode, or the kernel would wait on it.
    Pollable,
}

impl End {
    fn of(fd: RawSource) -> io::Result<End> {
        let stat = sys::fstat(fd)?;
        let kind = stat.mode & libc::S_IFMT;
        if kind == libc::S_IFIFO {
            return Ok(End::Pipe);
        }
        if kind == libc::S_IFREG || kind == libc::S_IFBLK {
            return Ok(End::File);
        }
        // SAFETY: F_GETFL on an fd the operation owns or borrows; no
        // memory involved.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::O_NONBLOCK == 0 {
            return Err(invalid(
                "splice: a socket or device end must be in non-blocking mode",
            ));
        }
        Ok(End::Pollable)
    }
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Checks an offset for an end: none on a pipe, and one `loff_t` holds.
fn check_offset(end: End, offset: Option<u64>) -> io::Result<()> {
    match (end, offset) {
        (End::Pipe, Some(_)) => Err(invalid(
            "splice: a pipe has no offset: pass None for its side",
        )),
        (End::Pollable, Some(_)) => Err(invalid(
            "splice: a socket or device has no offset: pass None for its side",
        )),
        (_, Some(offset)) if i64::try_from(offset).is_err() => {
            Err(invalid("splice: the offset is beyond what loff_t holds"))
        }
        _ => Ok(()),
    }
}

/// One non-blocking attempt, owning both fds. `TEE`: `tee(2)` instead of
/// `splice(2)`.
#[derive(Debug)]
struct Attempt<I, O, const TEE: bool> {
    fd_in: I,
    fd_out: O,
    off_in: Option<u64>,
    off_out: Option<u64>,
    len: u32,
    /// What each end is: learnt before the first attempt.
    ends: [End; 2],
}

impl<I: AsRawSource, O: AsRawSource, const TEE: bool> Attempt<I, O, TEE> {
    /// Learns what both ends are, and refuses what no back end can run.
    fn new(
        fd_in: I,
        off_in: Option<u64>,
        fd_out: O,
        off_out: Option<u64>,
        len: usize,
    ) -> io::Result<Self> {
        let ends = [
            End::of(fd_in.as_raw_source())?,
            End::of(fd_out.as_raw_source())?,
        ];
        if TEE && ends != [End::Pipe, End::Pipe] {
            return Err(invalid("tee: both ends must be pipes"));
        }
        if !ends.contains(&End::Pipe) {
            return Err(invalid("splice: one end must be a pipe"));
        }
        check_offset(ends[0], off_in)?;
        check_offset(ends[1], off_out)?;
        Ok(Attempt {
            fd_in,
            fd_out,
            off_in,
            off_out,
            len: capped_len(len),
            ends,
        })
    }

    /// After `EAGAIN`: the side to wait for, or `None` if `poll(2)` says
    /// both are ready (the state changed since).
    fn not_ready(&self) -> io::Result<Option<(RawSource, Interest)>> {
        let sides = [
            (self.fd_in.as_raw_source(), self.ends[0], Interest::Readable),
            (
                self.fd_out.as_raw_source(),
                self.ends[1],
                Interest::Writable,
            ),
        ];
        for (fd, end, interest) in sides {
            if end == End::File {
                continue;
            }
            match sys::poll_ready(fd, interest, false) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Some((fd, interest))),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// Passes an offset to the system call: a pointer to it, or null for "the
/// current position" (and for pipes and sockets).
fn offset_ptr(offset: &mut Option<libc::loff_t>) -> *mut libc::loff_t {
    offset
        .as_mut()
        .map_or(std::ptr::null_mut(), |offset| offset as *mut libc::loff_t)
}

// SAFETY: the entry carries no pointers (offsets go by value); `perform`
// passes pointers to locals only.
unsafe impl<I, O, const TEE: bool> OpCode for Attempt<I, O, TEE>
where
    I: AsRawSource + Send + 'static,
    O: AsRawSource + Send + 'static,
{
    /// The attempt comes back, to wait and try again after `EAGAIN`.
    type Output = (io::Result<usize>, Box<Self>);

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = if TEE {
        io_uring::opcode::Tee::CODE
    } else {
        io_uring::opcode::Splice::CODE
    };

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        use io_uring::{opcode, types::Fd};
        let (fd_in, fd_out) = (
            Fd(self.fd_in.as_raw_source()),
            Fd(self.fd_out.as_raw_source()),
        );
        if TEE {
            return opcode::Tee::new(fd_in, fd_out, self.len)
                .flags(libc::SPLICE_F_NONBLOCK)
                .build();
        }
        // -1: the current position (required for pipes and sockets).
        // `new` checked that each offset fits an i64.
        let at = |offset: Option<u64>| offset.map_or(-1, |offset| offset as i64);
        opcode::Splice::new(fd_in, at(self.off_in), fd_out, at(self.off_out), self.len)
            .flags(libc::SPLICE_F_NONBLOCK)
            .build()
    }

    fn readiness(&self) -> Readiness {
        // Non-blocking on pipes and sockets, so it may run on the event
        // loop; a regular file may wait for the disk, so the pool.
        if self.ends.contains(&End::File) {
            Readiness::Blocking
        } else {
            Readiness::Now
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let (fd_in, fd_out) = (self.fd_in.as_raw_source(), self.fd_out.as_raw_source());
        let len = self.len as usize;
        let flags = libc::SPLICE_F_NONBLOCK;
        let call = || {
            let moved = if TEE {
                // SAFETY: two fds the operation owns; no memory involved.
                unsafe { libc::tee(fd_in, fd_out, len, flags) }
            } else {
                // `new` checked that each offset fits an loff_t. The kernel
                // advances these copies, not the file position.
                let mut off_in = self.off_in.map(|offset| offset as libc::loff_t);
                let mut off_out = self.off_out.map(|offset| offset as libc::loff_t);
                // SAFETY: the offset pointers are null or point to the locals
                // above, alive for the call; the fds are the operation's.
                unsafe {
                    libc::splice(
                        fd_in,
                        offset_ptr(&mut off_in),
                        fd_out,
                        offset_ptr(&mut off_out),
                        len,
                        flags,
                    )
                }
            };
            sys::cvt(moved)
        };
        // Into a pipe without a reader, or onto a reset socket, the call
        // raises SIGPIPE (splice takes no MSG_NOSIGNAL). A file takes no
        // signal. (On io_uring the kernel's worker makes it, and the
        // signal stays there.)
        if self.ends[1] == End::File {
            call()
        } else {
            crate::os::sigpipe::without_sigpipe(call)
        }
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result, self)
    }
}

/// Waits for the side an attempt found not ready, owning the attempt (and
/// so both fds) meanwhile, then gives it back.
#[derive(Debug)]
struct WaitFor<I, O, const TEE: bool> {
    attempt: Box<Attempt<I, O, TEE>>,
    fd: RawSource,
    interest: Interest,
    waited: bool,
}

// SAFETY: a poll entry carries no pointers; `fd` belongs to the attempt
// this operation owns, so it stays open while the kernel or the poller
// watches it.
unsafe impl<I, O, const TEE: bool> OpCode for WaitFor<I, O, TEE>
where
    I: AsRawSource + Send + 'static,
    O: AsRawSource + Send + 'static,
{
    type Output = (io::Result<()>, Box<Attempt<I, O, TEE>>);

    #[cfg(all(target_os = "linux", feature = "uring"))]
    const URING_OPCODE: u8 = io_uring::opcode::PollAdd::CODE;

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        io_uring::opcode::PollAdd::new(
            io_uring::types::Fd(self.fd),
            sys::poll_events(self.interest),
        )
        .build()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd,
            interest: self.interest,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let ready = sys::poll_ready(self.fd, self.interest, self.waited);
        self.waited = true;
        ready
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result.map(drop), self.attempt)
    }
}

/// Where a transfer is: attempting, or waiting for a side.
enum Step<I, O, const TEE: bool>
where
    I: AsRawSource + Send + 'static,
    O: AsRawSource + Send + 'static,
{
    /// Refused before anything was submitted.
    Refused(io::Error),
    Attempting(Op<Attempt<I, O, TEE>>),
    Waiting(Op<WaitFor<I, O, TEE>>),
    Done,
}

/// The loop both futures run: attempt; on `EAGAIN`, wait for the side that
/// is not ready; again.
struct Transfer<I, O, const TEE: bool>
where
    I: AsRawSource + Send + 'static,
    O: AsRawSource + Send + 'static,
{
    step: Step<I, O, TEE>,
    driver: Driver,
    /// `EAGAIN`s in a row with both sides ready (see
    /// [`MAX_UNEXPLAINED_EAGAIN`]).
    unexplained: u32,
}

impl<I, O, const TEE: bool> Transfer<I, O, TEE>
where
    I: AsRawSource + Send + 'static,
    O: AsRawSource + Send + 'static,
{
    fn start(attempt: io::Result<Attempt<I, O, TEE>>, driver: Driver) -> Self {
        let step = match attempt {
            Ok(attempt) => Step::Attempting(Op::with_driver(attempt, driver.clone())),
            Err(error) => Step::Refused(error),
        };
        Transfer {
            step,
            driver,
            unexplained: 0,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            match &mut self.step {
                Step::Refused(_) => {
                    let Step::Refused(error) = std::mem::replace(&mut self.step, Step::Done) else {
                        unreachable!("matched just above")
                    };
                    return Poll::Ready(Err(error));
                }
                Step::Attempting(op) => {
                    let (result, attempt) = std::task::ready!(Pin::new(op).poll(cx));
                    match result {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                            self.step =
                                Step::Attempting(Op::with_driver(*attempt, self.driver.clone()));
                            continue;
                        }
                        done => {
                            self.step = Step::Done;
                            return Poll::Ready(done);
                        }
                    }
                    self.step = match attempt.not_ready() {
                        Err(error) => Step::Refused(error),
                        Ok(Some((fd, interest))) => {
                            self.unexplained = 0;
                            let wait = WaitFor {
                                attempt,
                                fd,
                                interest,
                                waited: false,
                            };
                            Step::Waiting(Op::with_driver(wait, self.driver.clone()))
                        }
                        Ok(None) if self.unexplained < MAX_UNEXPLAINED_EAGAIN => {
                            self.unexplained += 1;
                            Step::Attempting(Op::with_driver(*attempt, self.driver.clone()))
                        }
                        // Not `WouldBlock`, which callers take as "try
                        // again": TCP's splice stops for good at urgent
                        // (out-of-band) data, which a plain read steps over.
                        Ok(None) => Step::Refused(io::Error::other(
                            "splice: the kernel keeps saying EAGAIN while both ends are ready \
                             (TCP urgent data stops a splice; read past it)",
                        )),
                    };
                }
                Step::Waiting(op) => {
                    let (result, attempt) = std::task::ready!(Pin::new(op).poll(cx));
                    self.step = match result {
                        Ok(()) => Step::Attempting(Op::with_driver(*attempt, self.driver.clone())),
                        Err(error) => Step::Refused(error),
                    };
                }
                Step::Done => panic!("a splice future polled after it completed"),
            }
        }
    }
}

/// Moves up to `len` bytes from `fd_in` to `fd_out` without copying them
/// through user memory (`splice(2)`; `IORING_OP_SPLICE` on io_uring). One
/// end must be a pipe; the other may be a pipe, a socket (in non-blocking
/// mode) or a regular file. Yields how many bytes moved: `0` at end of
/// input (a socket the peer shut down, a pipe with no writer left, the end
/// of a file), or for `len == 0`. At most [`MAX_OP_LEN`](crate::buf::MAX_OP_LEN)
/// bytes per call, and usually fewer (a pipe holds 64 KiB by default): call
/// again for the rest.
///
/// Offsets: `None` reads or writes at the file's current position (and
/// advances it); `Some(offset)` at that offset, leaving the position alone.
/// A pipe or socket has no offset: `Some` for it is an `InvalidInput`
/// error, as is a splice with no pipe, before anything is submitted.
///
/// The operation owns both fds until it ends (pass an `Arc`, or a
/// `BorrowedFd<'static>`, to keep using them). [`PipeReader`](crate::os::PipeReader),
/// [`PipeWriter`](crate::os::PipeWriter), `TcpStream::splice_to` and
/// `File::splice_to_at` wrap it.
///
/// Hand it fds, not values that hold a [`Driver`] handle (a `PipeReader`,
/// a `PipeWriter`, a `TcpStream`): an operation whose future is dropped
/// keeps what it owns until its driver sees it end, and a handle among
/// that keeps the driver alive. Should every other handle be gone by then,
/// nothing drives it any more: the driver, its ring and those fds stay
/// open for the life of the process. The wrappers above pass fds.
///
/// ```
/// use proactor::op::Splice;
/// use std::io::Write;
/// use std::os::fd::AsFd;
///
/// # fn main() -> std::io::Result<()> {
/// let mut file = tempfile::tempfile()?;
/// file.write_all(b"0123456789")?;
/// proactor::block_on(async {
///     let (reader, writer) = proactor::os::pipe()?;
///     // The pipe's fd, not the `PipeWriter` (which holds the driver).
///     let into_pipe = writer.as_fd().try_clone_to_owned()?;
///     // Bytes 4..10 of the file into the pipe; the file's position stays.
///     let moved = Splice::new(file, Some(4), into_pipe, None, 6).run()?.await?;
///     assert_eq!(moved, 6);
///     let (n, buf) = reader.read(Vec::with_capacity(16)).await;
///     assert_eq!(&buf[..n?], b"456789");
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct Splice<I, O> {
    attempt: io::Result<Attempt<I, O, false>>,
}

impl<I, O> Splice<I, O>
where
    I: AsRawSource + Send + 'static,
    O: AsRawSource + Send + 'static,
{
    /// A splice of up to `len` bytes from `fd_in` (at `off_in`) to `fd_out`
    /// (at `off_out`). What the ends are is learnt here (`fstat`); an error
    /// (an invalid pair, an offset on a pipe) is what the future yields.
    pub fn new(fd_in: I, off_in: Option<u64>, fd_out: O, off_out: Option<u64>, len: usize) -> Self {
        Splice {
            attempt: Attempt::new(fd_in, off_in, fd_out, off_out, len),
        }
    }

    /// Runs it on the current driver ([`Driver::try_current`]).
    pub fn run(self) -> io::Result<SpliceFuture<I, O>> {
        Ok(self.run_on(Driver::try_current()?))
    }

    /// Runs it on `driver`.
    pub fn run_on(self, driver: Driver) -> SpliceFuture<I, O> {
        SpliceFuture {
            transfer: Transfer::start(self.attempt, driver),
        }
    }
}

/// Copies up to `len` bytes from the pipe `fd_in` into the pipe `fd_out`
/// without consuming them (`tee(2)`; `IORING_OP_TEE` on io_uring): a later
/// read or splice of `fd_in` sees the same bytes again. Yields how many
/// bytes were duplicated; `0` when `fd_in` is empty and has no writer
/// left. Both ends must be pipes (`InvalidInput` otherwise). Waiting, and
/// what to hand it (fds, not values holding a driver handle), work as for
/// [`Splice`]. [`tee`](crate::os::tee) wraps it for proactor's pipes.
///
/// ```
/// use proactor::op::Tee;
/// use std::os::fd::AsFd;
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let (source, source_writer) = proactor::os::pipe()?;
///     let (copy, copy_writer) = proactor::os::pipe()?;
///     source_writer.write_all(b"twice").await.0?;
///     let (from, to) = (source.as_fd().try_clone_to_owned()?, copy_writer.as_fd().try_clone_to_owned()?);
///     let copied = Tee::new(from, to, 64).run()?.await?;
///     assert_eq!(copied, 5);
///     let (n, buf) = copy.read(Vec::with_capacity(8)).await;
///     assert_eq!(&buf[..n?], b"twice");
///     let (n, buf) = source.read(Vec::with_capacity(8)).await; // still there
///     assert_eq!(&buf[..n?], b"twice");
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct Tee<I, O> {
    attempt: io::Result<Attempt<I, O, true>>,
}

impl<I, O> Tee<I, O>
where
    I: AsRawSource + Send + 'static,
    O: AsRawSource + Send + 'static,
{
    /// A tee of up to `len` bytes from the pipe `fd_in` to the pipe
    /// `fd_out`.
    pub fn new(fd_in: I, fd_out: O, len: usize) -> Self {
        Tee {
            attempt: Attempt::new(fd_in, None, fd_out, None, len),
        }
    }

    /// Runs it on the current driver ([`Driver::try_current`]).
    pub fn run(self) -> io::Result<TeeFuture<I, O>> {
        Ok(self.run_on(Driver::try_current()?))
    }

    /// Runs it on `driver`.
    pub fn run_on(self, driver: Driver) -> TeeFuture<I, O> {
        TeeFuture {
            transfer: Transfer::start(self.attempt, driver),
        }
    }
}

macro_rules! transfer_future {
    ($(#[$doc:meta])* $name:ident, $tee:literal) => {
        $(#[$doc])*
        #[must_use = "a splice does nothing until polled"]
        pub struct $name<I, O>
        where
            I: AsRawSource + Send + 'static,
            O: AsRawSource + Send + 'static,
        {
            transfer: Transfer<I, O, $tee>,
        }

        impl<I, O> std::fmt::Debug for $name<I, O>
        where
            I: AsRawSource + Send + 'static,
            O: AsRawSource + Send + 'static,
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let step = match self.transfer.step {
                    Step::Refused(_) => "refused",
                    Step::Attempting(_) => "attempting",
                    Step::Waiting(_) => "waiting for an end",
                    Step::Done => "done",
                };
                f.debug_struct(stringify!($name)).field("step", &step).finish()
            }
        }

        // Nothing in it is pinned: the operations live in the driver.
        impl<I, O> Unpin for $name<I, O>
        where
            I: AsRawSource + Send + 'static,
            O: AsRawSource + Send + 'static,
        {
        }

        impl<I, O> Future for $name<I, O>
        where
            I: AsRawSource + Send + 'static,
            O: AsRawSource + Send + 'static,
        {
            type Output = io::Result<usize>;

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
                self.get_mut().transfer.poll(cx)
            }
        }
    };
}

transfer_future! {
    /// The future of a [`Splice`]: how many bytes moved. Dropping it
    /// cancels the attempt or wait in flight; the driver keeps both fds
    /// open until the kernel is done with them.
    SpliceFuture, false
}

transfer_future! {
    /// The future of a [`Tee`]: how many bytes were duplicated. Dropping
    /// it cancels as for [`SpliceFuture`].
    TeeFuture, true
}

static_assertions::assert_impl_all!(
    SpliceFuture<std::sync::Arc<std::os::fd::OwnedFd>, std::fs::File>: Send, Unpin
);
static_assertions::assert_impl_all!(
    TeeFuture<std::sync::Arc<std::os::fd::OwnedFd>, std::os::fd::OwnedFd>: Send, Unpin
);
