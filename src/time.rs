//! Timers that run on the driver: `IORING_OP_TIMEOUT` on io_uring, the
//! deadline queue on the readiness back end. Dropping a timer's future
//! cancels the timer.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::op::{Op, Timeout as TimeoutOp};
use crate::Driver;

/// Completes after `duration`, on the [current driver](crate::Driver::current).
/// An error means the timer could not run (no driver could be started).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// # fn main() -> std::io::Result<()> {
/// let start = Instant::now();
/// proactor::block_on(proactor::time::sleep(Duration::from_millis(10)))?;
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// # Ok(()) }
/// ```
pub async fn sleep(duration: Duration) -> io::Result<()> {
    Op::new(TimeoutOp::new(duration))?.await
}

/// Completes at `deadline` (at once if it has passed).
///
/// ```
/// use proactor::time::sleep_until;
/// use std::time::{Duration, Instant};
///
/// # fn main() -> std::io::Result<()> {
/// let deadline = Instant::now() + Duration::from_millis(10);
/// proactor::block_on(async {
///     sleep_until(deadline).await?;
///     assert!(Instant::now() >= deadline);
///     sleep_until(deadline).await // passed: at once
/// })?;
/// # Ok(()) }
/// ```
pub async fn sleep_until(deadline: Instant) -> io::Result<()> {
    sleep(deadline.saturating_duration_since(Instant::now())).await
}

/// The error of [`timeout`]: the time ran out first. It converts to an
/// `io::Error` of kind `TimedOut`.
///
/// ```
/// use proactor::time::{sleep, timeout, Elapsed};
/// use std::time::Duration;
///
/// let forever = sleep(Duration::from_secs(60));
/// let elapsed: Elapsed = proactor::block_on(timeout(Duration::ZERO, forever)).unwrap_err();
/// assert_eq!(elapsed.to_string(), "deadline has elapsed");
/// assert_eq!(std::io::Error::from(elapsed).kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug)]
pub struct Elapsed {
    timer_error: Option<io::Error>,
}

impl Elapsed {
    /// The error of the timer itself, when the timeout ended because its
    /// timer could not run rather than because time ran out.
    ///
    /// ```
    /// use proactor::time::{sleep, timeout};
    /// use std::time::Duration;
    ///
    /// let forever = sleep(Duration::from_secs(60));
    /// let result = proactor::block_on(timeout(Duration::from_millis(1), forever));
    /// assert!(result.unwrap_err().timer_error().is_none()); // time ran out
    /// ```
    pub fn timer_error(&self) -> Option<&io::Error> {
        self.timer_error.as_ref()
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.timer_error {
            None => f.write_str("deadline has elapsed"),
            Some(e) => write!(f, "timeout ended: its timer failed: {e}"),
        }
    }
}

impl Error for Elapsed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.timer_error
            .as_ref()
            .map(|e| e as &(dyn Error + 'static))
    }
}

impl From<Elapsed> for io::Error {
    fn from(elapsed: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, elapsed)
    }
}

enum TimerState {
    Running(Op<TimeoutOp>),
    /// The timer could not start; the error is reported as the timeout.
    Failed(Option<io::Error>),
}

/// The future of [`timeout`]: the wrapped future's output, or
/// [`Elapsed`].
///
/// ```
/// use proactor::time::{timeout, Timeout};
/// use std::time::Duration;
///
/// let fut: Timeout<_> = timeout(Duration::from_secs(60), async { "in time" });
/// assert_eq!(proactor::block_on(fut).unwrap(), "in time");
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    future: Pin<Box<F>>,
    timer: TimerState,
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").finish_non_exhaustive()
    }
}

/// Runs `future`, giving up after `duration`: `Err(Elapsed)` if the time ran
/// out first, and the future is then dropped (which cancels what it was
/// doing). The timer is cancelled as soon as the future finishes.
///
/// ```
/// use std::time::Duration;
/// use proactor::time::{sleep, timeout};
///
/// let result = proactor::block_on(timeout(Duration::from_millis(10), sleep(Duration::from_secs(60))));
/// assert!(result.is_err());
/// let result = proactor::block_on(timeout(Duration::from_secs(60), async { 7 }));
/// assert_eq!(result.unwrap(), 7);
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    let timer = match Driver::try_current() {
        Ok(driver) => TimerState::Running(Op::with_driver(TimeoutOp::new(duration), driver)),
        Err(e) => TimerState::Failed(Some(e)),
    };
    Timeout {
        future: Box::pin(future),
        timer,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(output) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match &mut self.timer {
            TimerState::Running(timer) => match Pin::new(timer).poll(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Err(Elapsed { timer_error: None })),
                Poll::Ready(Err(e)) => Poll::Ready(Err(Elapsed {
                    timer_error: Some(e),
                })),
                Poll::Pending => Poll::Pending,
            },
            TimerState::Failed(error) => Poll::Ready(Err(Elapsed {
                timer_error: error.take(),
            })),
        }
    }
}
