//! The read direction: a buffer the kernel reads into ahead of the caller,
//! handed out in order.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::{INITIAL_BUFFER, MAX_BUFFER};
use crate::buf::BufResult;
use crate::op::{Op, OpCode};

/// One direction's read state: received bytes not yet handed out, and the
/// read in flight (which owns the buffer meanwhile).
pub(crate) struct ReadAhead<R: OpCode> {
    /// `buf[consumed..]` is received and not yet handed out. Empty while a
    /// read is in flight: the operation owns the allocation then.
    buf: Vec<u8>,
    consumed: usize,
    reading: Option<Reading<R>>,
    /// What the next read asks for: doubled, up to `limit`, each time a
    /// read fills the buffer, so a busy stream gets a large buffer and an
    /// idle one keeps a small one.
    next_len: usize,
    limit: usize,
}

/// A read being carried out.
struct Reading<R: OpCode> {
    op: Op<R>,
    /// The buffer's size: a read that fills it asks for more next time.
    asked: usize,
    /// The bytes it returns may predate a write or a seek (files), so they
    /// are thrown away and read again from the cursor. The operation is
    /// kept rather than dropped so that the task waiting on it is woken.
    stale: bool,
}

impl<R: OpCode> Default for ReadAhead<R> {
    fn default() -> Self {
        ReadAhead {
            buf: Vec::new(),
            consumed: 0,
            reading: None,
            next_len: INITIAL_BUFFER,
            limit: MAX_BUFFER,
        }
    }
}

impl<R> ReadAhead<R>
where
    R: OpCode<Output = BufResult<usize, Vec<u8>>>,
{
    /// Caps the buffer at `limit` bytes (at least one) from the next read on.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
        self.next_len = self.next_len.min(self.limit);
    }

    /// Received bytes not yet handed out.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.consumed..]
    }

    /// Hands out `n` bytes (at most what is buffered); returns how many.
    pub(crate) fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.buf.len() - self.consumed);
        self.consumed += n;
        n
    }

    /// Whether a read is in flight.
    pub(crate) fn is_reading(&self) -> bool {
        self.reading.is_some()
    }

    /// Throws the read-ahead away (a file was written or its cursor moved):
    /// what is buffered now, and what the read in flight brings.
    pub(crate) fn discard(&mut self) {
        self.buf.clear();
        self.consumed = 0;
        if let Some(reading) = &mut self.reading {
            reading.stale = true;
        }
    }

    /// Makes sure bytes are buffered, or reports end of stream (nothing
    /// buffered) or an error. `wanted` is how much the caller could take,
    /// a hint for the buffer's size; `start` issues a read into the buffer
    /// it is given.
    ///
    /// Polls the read operation only, never a write: a task waiting to read
    /// keeps its own waker, and a read never waits for a write.
    pub(crate) fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        wanted: usize,
        mut start: impl FnMut(Vec<u8>) -> Op<R>,
    ) -> Poll<io::Result<()>> {
        if self.consumed < self.buf.len() {
            return Poll::Ready(Ok(()));
        }
        loop {
            // Taken out while polled, so a panic on the way (a waker run by
            // the driver) leaves no half-updated state behind.
            let mut reading = match self.reading.take() {
                Some(reading) => reading,
                None => ready!(self.start(wanted, &mut start))?,
            };
            let (result, mut buf) = match Pin::new(&mut reading.op).poll(cx) {
                Poll::Ready(done) => done,
                Poll::Pending => {
                    self.reading = Some(reading);
                    return Poll::Pending;
                }
            };
            self.consumed = 0;
            if reading.stale {
                // Its errors go with its data: the read issued again from
                // the cursor meets them again if they persist.
                buf.clear();
                self.buf = buf;
                continue;
            }
            if matches!(result, Ok(n) if n >= reading.asked) {
                self.next_len = self.next_len.saturating_mul(2).min(self.limit);
            }
            self.buf = buf;
            return Poll::Ready(result.map(drop));
        }
    }

    /// Issues a read into the (reused) buffer, sized for `wanted`. A
    /// buffer that cannot be allocated (a limit raised to the size of
    /// memory) is an `OutOfMemory` error, not an abort.
    fn start(
        &mut self,
        wanted: usize,
        start: &mut impl FnMut(Vec<u8>) -> Op<R>,
    ) -> Poll<io::Result<Reading<R>>> {
        let len = wanted.max(self.next_len).min(self.limit);
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if buf.capacity() > self.limit {
            // The limit was lowered: honour it.
            buf = Vec::new();
        }
        if let Err(e) = buf.try_reserve_exact(len) {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::OutOfMemory, e)));
        }
        self.consumed = 0;
        let asked = buf.capacity();
        Poll::Ready(Ok(Reading {
            op: start(buf),
            asked,
            stale: false,
        }))
    }
}
