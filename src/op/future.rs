use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::OpCode;
use crate::driver::lifecycle::OpKey;
use crate::{CompletionDriver, Driver};

/// Names one operation a driver holds. Only drivers make these: see
/// [`Submission`].
///
/// ```
/// use proactor::driver::CompletionDriver;
/// use proactor::op::{Submission, Timeout};
/// use std::time::Duration;
///
/// # fn main() -> std::io::Result<()> {
/// let driver = proactor::Driver::new()?;
/// let waker = futures::task::noop_waker();
/// let timer = Box::new(Timeout::new(Duration::from_secs(60)));
/// match driver.submit(timer, &waker) {
///     Submission::InFlight(id) => driver.cancel_op(id), // names it to the driver
///     Submission::Done(..) => unreachable!("a 60 s timer is not done at once"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpId(pub(crate) OpKey);

/// What a driver did with a submitted operation.
///
/// ```
/// use proactor::driver::CompletionDriver;
/// use proactor::op::{Blocking, Submission};
/// use std::task::Poll;
///
/// # fn main() -> std::io::Result<()> {
/// let driver = proactor::Driver::new()?;
/// let waker = futures::task::noop_waker();
/// let mut cx = std::task::Context::from_waker(&waker);
/// let (result, op) = match driver.submit(Box::new(Blocking::new(|| 42)), &waker) {
///     Submission::Done(result, op) => (result, op),
///     Submission::InFlight(id) => loop {
///         // On the pool: poll until its result arrives.
///         driver.park(Some(std::time::Duration::from_millis(10)))?;
///         if let Poll::Ready(done) = driver.poll_op::<Blocking<_, _>>(id, &mut cx) {
///             break done;
///         }
///     },
/// };
/// assert_eq!(proactor::op::OpCode::complete(op, result)?, 42);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub enum Submission<O> {
    /// Finished at once (or failed to start): here are the result and the
    /// operation.
    Done(io::Result<usize>, Box<O>),
    /// In flight; poll it with this id.
    InFlight(OpId),
}

enum OpState<O> {
    Unsubmitted(Box<O>),
    InFlight(OpId),
    Finished,
}

/// The future of one operation.
///
/// Submits on first poll. Dropping it while the operation is in flight
/// cancels the operation; its buffers stay with the driver until the kernel
/// has let go of them.
///
/// ```
/// use proactor::op::{Op, Timeout};
/// use proactor::time::timeout;
/// use std::time::Duration;
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let long = Op::new(Timeout::new(Duration::from_secs(60)))?;
///     // Dropped when the outer timeout fires: the 60 s timer is cancelled.
///     assert!(timeout(Duration::from_millis(5), long).await.is_err());
///     Ok(())
/// })
/// # }
/// ```
#[must_use = "an Op does nothing until polled"]
pub struct Op<O: OpCode, D: CompletionDriver = Driver> {
    driver: D,
    state: OpState<O>,
    /// How long the operation may take from its submission, if bounded.
    deadline: Option<Duration>,
}

impl<O: OpCode> Op<O, Driver> {
    /// An operation on the current driver ([`Driver::try_current`]).
    ///
    /// ```
    /// use proactor::op::{Nop, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = proactor::Driver::new()?;
    /// driver.block_on(async {
    ///     let nop = Op::new(Nop::new())?; // on `driver`, current here
    ///     assert_eq!(nop.driver().backend(), driver.backend());
    ///     nop.await
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn new(op: O) -> io::Result<Self> {
        Ok(Op::with_driver(op, Driver::try_current()?))
    }
}

impl<O: OpCode, D: CompletionDriver> Op<O, D> {
    /// An operation on `driver`, which may be any back end's.
    ///
    /// ```
    /// use proactor::op::{Nop, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = proactor::Driver::new()?;
    /// let nop = Op::with_driver(Nop::new(), driver.clone());
    /// driver.block_on(nop)?;
    /// # Ok(()) }
    /// ```
    pub fn with_driver(op: O, driver: D) -> Self {
        Op {
            driver,
            state: OpState::Unsubmitted(Box::new(op)),
            deadline: None,
        }
    }

    /// Gives the operation a deadline: if it has not completed `timeout`
    /// after its submission (its first poll), it is stopped and completes
    /// with an [`io::ErrorKind::TimedOut`] error through its normal output,
    /// so an operation that owns a buffer gives it back. When the operation
    /// completes first, the timer goes with it.
    ///
    /// io_uring submits the operation and an `IORING_OP_LINK_TIMEOUT` as one
    /// linked pair; the readiness back end puts the deadline in its timer
    /// queue. On both:
    /// - an operation that can complete at once does, whatever its deadline
    ///   (`Duration::ZERO` gives it that one try);
    /// - a deadline beyond the clock's range (`Duration::MAX`) is no
    ///   deadline;
    /// - operations that run on the blocking pool ([`Readiness::Blocking`]:
    ///   regular files, `open`, `fsync`, ...) cannot be interrupted, and the
    ///   deadline does not apply to them: they report their own result;
    /// - dropping the operation cancels it as usual (its buffers stay with
    ///   the driver until the kernel lets go of them).
    ///
    /// A deadline set after the first poll does not apply: the operation
    /// was submitted without it.
    ///
    /// [`Readiness::Blocking`]: super::Readiness::Blocking
    ///
    /// ```
    /// use proactor::op::{Op, Recv};
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_nonblocking(true)?;
    /// let (result, buf) = proactor::block_on(async {
    ///     // Nobody sends: the receive times out, and the buffer comes back.
    ///     let recv = Op::new(Recv::new(socket, Vec::with_capacity(64)))?;
    ///     Ok::<_, std::io::Error>(recv.with_timeout(Duration::from_millis(10)).await)
    /// })?;
    /// assert_eq!(result.unwrap_err().kind(), ErrorKind::TimedOut);
    /// assert_eq!(buf.capacity(), 64);
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Some(timeout);
        self
    }

    /// The driver this operation runs on.
    ///
    /// ```
    /// use proactor::op::{Nop, Op};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = proactor::Driver::new()?;
    /// let nop = Op::with_driver(Nop::new(), driver.clone());
    /// assert_eq!(nop.driver().backend(), driver.backend());
    /// driver.block_on(nop)?;
    /// # Ok(()) }
    /// ```
    pub fn driver(&self) -> &D {
        &self.driver
    }
}

impl<O: OpCode, D: CompletionDriver> Future for Op<O, D> {
    type Output = O::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O::Output> {
        let this = self.get_mut();
        // An in-flight op stays marked in flight while the driver polls it:
        // the driver may run user code (a replaced waker's drop) that
        // panics, and a future dropped after that must still cancel.
        if let OpState::InFlight(id) = this.state {
            let (result, op) = std::task::ready!(this.driver.poll_op::<O>(id, cx));
            this.state = OpState::Finished;
            return Poll::Ready(op.complete(result));
        }
        match std::mem::replace(&mut this.state, OpState::Finished) {
            OpState::Unsubmitted(op) => {
                if let Err(error) = op.validate() {
                    return Poll::Ready(op.complete(Err(error)));
                }
                let submitted = match this.deadline {
                    None => this.driver.submit(op, cx.waker()),
                    Some(timeout) => this.driver.submit_with_deadline(op, cx.waker(), timeout),
                };
                match submitted {
                    Submission::Done(result, op) => Poll::Ready(op.complete(result)),
                    // The driver holds the waker already.
                    Submission::InFlight(id) => {
                        this.state = OpState::InFlight(id);
                        Poll::Pending
                    }
                }
            }
            OpState::InFlight(_) => unreachable!("handled above"),
            OpState::Finished => panic!("Op polled after completion"),
        }
    }
}

impl<O: OpCode, D: CompletionDriver> Drop for Op<O, D> {
    fn drop(&mut self) {
        if let OpState::InFlight(id) = self.state {
            self.driver.cancel_op(id);
        }
    }
}

impl<O: OpCode, D: CompletionDriver> fmt::Debug for Op<O, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            OpState::Unsubmitted(_) => "unsubmitted",
            OpState::InFlight(_) => "in flight",
            OpState::Finished => "finished",
        };
        f.debug_struct("Op")
            .field("op", &std::any::type_name::<O>())
            .field("state", &state)
            .field("deadline", &self.deadline)
            .finish()
    }
}

// Op futures are Send when their operation (and so their buffers) is: they
// can be handed to `tokio::spawn` and other multi-threaded executors.
static_assertions::assert_impl_all!(Op<super::Nop>: Send, Unpin);
static_assertions::assert_impl_all!(Op<super::ReadAt<std::sync::Arc<crate::os::sys::OwnedFile>, Vec<u8>>>: Send);
static_assertions::assert_impl_all!(Op<super::Recv<std::sync::Arc<crate::os::sys::OwnedSocket>, Vec<u8>>>: Send);
#[cfg(unix)]
static_assertions::assert_impl_all!(Op<super::Write<std::os::fd::BorrowedFd<'static>, &'static [u8]>>: Send);
