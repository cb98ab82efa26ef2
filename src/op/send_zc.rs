//! Zero-copy send: the kernel sends from the caller's buffer without
//! copying it, and says when it no longer needs it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Op, Send};
#[cfg(all(target_os = "linux", feature = "uring"))]
use super::{OpCode, Readiness};
use crate::buf::{BufResult, IoBuf};
use crate::os::AsRawSource;
use crate::Driver;

/// Sends `buf`'s initialised bytes on a connected socket without copying
/// them into the kernel (`IORING_OP_SEND_ZC`, Linux 6.0): the network
/// stack sends from `buf` itself, and the kernel posts a second completion
/// once it no longer reads it. Only then does the buffer come back: if the
/// future is dropped between the two, the driver keeps the buffer until the
/// second arrives, as for every operation.
///
/// When the kernel lets go depends on the path: after the device sent the
/// bytes on a real network; over loopback, once every byte reached the
/// peer's socket. A send larger than the peer's socket holds therefore
/// completes only as the peer reads (a plain send would return a short
/// count at once): read on another task or thread meanwhile, as below.
///
/// From a [`FixedBuf`](crate::buf::FixedBuf) (or a slice of one) whose
/// set is registered with the ring, the entry names the buffer's slot
/// (`IORING_RECVSEND_FIXED_BUF`), so the kernel need not map its pages for
/// each send. A buffer of another driver's set is refused with
/// `InvalidInput`, by every send.
///
/// On the readiness back end, and on kernels without the opcode, it is a
/// plain [`Send`] (one copy). Zero copy pays for large buffers on real
/// network devices; over loopback the kernel copies anyway, and a small
/// buffer costs more than it saves (see `BENCHMARKS.md`).
///
/// ```
/// use proactor::op::SendZc;
/// use std::io::Read;
///
/// # fn main() -> std::io::Result<()> {
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let a = std::net::TcpStream::connect(listener.local_addr()?)?;
/// let (mut b, _) = listener.accept()?;
/// let reader = std::thread::spawn(move || {
///     let mut all = Vec::new();
///     b.read_to_end(&mut all).map(|_| all.len())
/// });
/// a.set_nonblocking(true)?; // for the readiness back end
/// let a = std::sync::Arc::new(a);
/// let (sent, buf) = proactor::block_on(SendZc::new(a.clone(), vec![7u8; 1 << 20]).run()?);
/// let sent = sent?;
/// assert!(sent > 0);
/// assert_eq!(buf.len(), 1 << 20); // back only once the kernel let go of it
/// a.shutdown(std::net::Shutdown::Write)?;
/// assert_eq!(reader.join().unwrap()?, sent);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SendZc<F, B> {
    fd: F,
    buf: B,
}

impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> SendZc<F, B> {
    /// Sends up to `buf.bytes_init()` bytes on `fd`.
    pub fn new(fd: F, buf: B) -> Self {
        SendZc { fd, buf }
    }

    /// Runs it on the current driver ([`Driver::try_current`]).
    pub fn run(self) -> io::Result<SendZcFuture<F, B>> {
        Ok(self.run_on(Driver::try_current()?))
    }

    /// Runs it on `driver`.
    pub fn run_on(self, driver: Driver) -> SendZcFuture<F, B> {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let Some(uring) = driver.uring().filter(|uring| uring.has_send_zc()) {
            return SendZcFuture {
                state: State::ZeroCopy {
                    uring: uring.clone(),
                    op: Some(ZeroCopy(Send::new(self.fd, self.buf))),
                    running: None,
                },
            };
        }
        SendZcFuture {
            state: State::Copying(Op::with_driver(Send::new(self.fd, self.buf), driver)),
        }
    }
}

/// The operation the driver holds: a [`Send`] whose entry is
/// `IORING_OP_SEND_ZC`; not an [`Op`] of its own, for its two completions
/// need [`SendZcFuture`].
#[cfg(all(target_os = "linux", feature = "uring"))]
struct ZeroCopy<F, B>(Send<F, B>);

// SAFETY: as for `Send`: the entry points into its buffer, stable while
// self lives (IoBuf); the driver keeps self until the last completion.
#[cfg(all(target_os = "linux", feature = "uring"))]
unsafe impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> OpCode for ZeroCopy<F, B> {
    type Output = BufResult<usize, B>;

    const URING_OPCODE: u8 = io_uring::opcode::SendZc::CODE;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        self.0.zero_copy_entry()
    }

    fn readiness(&self) -> Readiness {
        self.0.readiness()
    }

    fn perform(&mut self) -> io::Result<usize> {
        self.0.perform()
    }

    fn bound_to(&self) -> Option<usize> {
        self.0.bound_to()
    }

    fn complete(self: Box<Self>, result: io::Result<usize>) -> Self::Output {
        (result, self.0.into_buf())
    }
}

/// The future of a [`SendZc`]: the bytes sent and the buffer, once the
/// kernel let go of it.
#[must_use = "a send does nothing until polled"]
pub struct SendZcFuture<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> {
    state: State<F, B>,
}

enum State<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> {
    /// The readiness back end, or a kernel without zero-copy send.
    Copying(Op<Send<F, B>>),
    #[cfg(all(target_os = "linux", feature = "uring"))]
    ZeroCopy {
        uring: crate::driver::UringDriver,
        /// Not submitted yet (or submitted again after the kernel ended it
        /// unasked).
        op: Option<ZeroCopy<F, B>>,
        /// In flight: its id, and its first result once posted.
        running: Option<(crate::op::OpId, Option<io::Result<usize>>)>,
    },
    Done,
}

impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> std::fmt::Debug
    for SendZcFuture<F, B>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Copying(_) => "send",
            #[cfg(all(target_os = "linux", feature = "uring"))]
            State::ZeroCopy { .. } => "zero-copy send",
            State::Done => "done",
        };
        f.debug_struct("SendZcFuture")
            .field("state", &state)
            .finish()
    }
}

// Nothing in it is pinned: the operation lives in the driver.
impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> Unpin for SendZcFuture<F, B> {}

impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> Future for SendZcFuture<F, B> {
    type Output = BufResult<usize, B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BufResult<usize, B>> {
        let this = self.get_mut();
        match &mut this.state {
            State::Copying(send) => {
                let done = std::task::ready!(Pin::new(send).poll(cx));
                this.state = State::Done;
                Poll::Ready(done)
            }
            #[cfg(all(target_os = "linux", feature = "uring"))]
            State::ZeroCopy { uring, op, running } => loop {
                use crate::driver::ShotPoll;
                let Some((id, first)) = running else {
                    let to_submit = op
                        .take()
                        .expect("a zero-copy send has its operation until submitted");
                    // Results are counts: nothing to release.
                    let nothing = crate::driver::Discard::new(drop);
                    match uring.submit_stream(Box::new(to_submit), cx.waker(), nothing) {
                        Ok(id) => *running = Some((id, None)),
                        Err((error, op)) => {
                            this.state = State::Done;
                            return Poll::Ready((Err(error), op.0.into_buf()));
                        }
                    }
                    continue;
                };
                match std::task::ready!(uring.poll_shot(*id, cx)) {
                    // The first is the send's own result; a second, the
                    // notification that the buffer is free.
                    ShotPoll::Next(posted) => {
                        first.get_or_insert(posted.result);
                    }
                    ShotPoll::Ended(Some(done)) => {
                        let done = crate::op::downcast::<ZeroCopy<F, B>>(done);
                        let result = first.take().unwrap_or_else(|| {
                            Err(io::Error::other("zero-copy send ended without a result"))
                        });
                        if result
                            .as_ref()
                            .is_err_and(|e| e.raw_os_error() == Some(libc::ECANCELED))
                        {
                            // Ended by the kernel before it ran (its
                            // submitting thread exited): nothing was sent.
                            *op = Some(*done);
                            *running = None;
                            continue;
                        }
                        this.state = State::Done;
                        return Poll::Ready((result, done.0.into_buf()));
                    }
                    ShotPoll::Ended(None) => {
                        panic!("proactor: a zero-copy send was polled on a driver that does not hold it")
                    }
                }
            },
            State::Done => panic!("SendZcFuture polled after completion"),
        }
    }
}

impl<F: AsRawSource + std::marker::Send + 'static, B: IoBuf> Drop for SendZcFuture<F, B> {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let State::ZeroCopy {
            uring,
            running: Some((id, _)),
            ..
        } = &self.state
        {
            // The driver keeps the buffer until the notification.
            uring.cancel_stream(*id);
        }
    }
}
