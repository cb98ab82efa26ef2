use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::OpCode;
use crate::driver::lifecycle::OpKey;
use crate::{CompletionDriver, Driver};

/// Names one operation a driver holds. Only drivers make these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpId(pub(crate) OpKey);

/// What a driver did with a submitted operation.
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
#[must_use = "an Op does nothing until polled"]
pub struct Op<O: OpCode, D: CompletionDriver = Driver> {
    driver: D,
    state: OpState<O>,
}

impl<O: OpCode> Op<O, Driver> {
    /// An operation on the current driver ([`Driver::try_current`]).
    pub fn new(op: O) -> io::Result<Self> {
        Ok(Op::with_driver(op, Driver::try_current()?))
    }
}

impl<O: OpCode, D: CompletionDriver> Op<O, D> {
    /// An operation on `driver`.
    pub fn with_driver(op: O, driver: D) -> Self {
        Op {
            driver,
            state: OpState::Unsubmitted(Box::new(op)),
        }
    }

    /// The driver this operation runs on.
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
                match this.driver.submit(op, cx.waker()) {
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
