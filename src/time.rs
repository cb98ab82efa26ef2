//! Timers that run on the driver: `IORING_OP_TIMEOUT` on io_uring, the
//! deadline queue on the readiness back end.

use std::io;
use std::time::Duration;

use crate::op::{Op, Timeout};

/// Completes after `duration`, on the [current driver](crate::Driver::current).
/// Dropping the future cancels the timer.
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
    Op::new(Timeout::new(duration))?.await
}
