//! The write direction: a buffer the caller's bytes are copied into and
//! the kernel sends from, behind the caller.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::{INITIAL_BUFFER, MAX_BUFFER};
use crate::buf::{BufResult, IoBuf, Slice};
use crate::op::{Op, OpCode};

/// One direction's write state: the buffer, and the write in flight (which
/// owns it meanwhile).
pub(crate) struct WriteBehind<W: OpCode> {
    /// The buffer while no write is in flight.
    spare: Vec<u8>,
    writing: Option<Writing<W>>,
    limit: usize,
    /// Where the last failed write stopped: the offset of its first byte
    /// that never landed (files put their cursor back there).
    stopped_at: Option<u64>,
}

/// A write being carried out: the buffer in flight and how far it got.
struct Writing<W: OpCode> {
    op: Op<W>,
    /// Offset of the buffer's first byte (files; streams ignore it).
    offset: u64,
    /// Bytes of the buffer written before this operation.
    done: usize,
    total: usize,
}

impl<W: OpCode> Default for WriteBehind<W> {
    fn default() -> Self {
        WriteBehind {
            spare: Vec::new(),
            writing: None,
            limit: MAX_BUFFER,
            stopped_at: None,
        }
    }
}

impl<W> WriteBehind<W>
where
    W: OpCode<Output = BufResult<usize, Slice<Vec<u8>>>>,
{
    /// Caps the buffer at `limit` bytes (at least one) from the next write on.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    /// Whether no write is in flight: every byte handed over has landed or
    /// its error was reported.
    pub(crate) fn is_idle(&self) -> bool {
        self.writing.is_none()
    }

    /// Where the write whose error was last reported stopped, once.
    pub(crate) fn take_stopped_at(&mut self) -> Option<u64> {
        self.stopped_at.take()
    }

    /// Finishes the write in flight, issuing again what a short write left
    /// (`submit` writes a window of the buffer at an offset). Its error, if
    /// any, is reported here, once; the bytes from where it stopped are
    /// dropped ([`take_stopped_at`](Self::take_stopped_at) says where).
    pub(crate) fn poll_drain(
        &mut self,
        cx: &mut Context<'_>,
        mut submit: impl FnMut(Slice<Vec<u8>>, u64) -> Op<W>,
    ) -> Poll<io::Result<()>> {
        while let Some(mut writing) = self.writing.take() {
            let (result, slice) = match Pin::new(&mut writing.op).poll(cx) {
                Poll::Ready(done) => done,
                Poll::Pending => {
                    self.writing = Some(writing);
                    return Poll::Pending;
                }
            };
            let buf = slice.into_inner();
            let Writing {
                offset,
                done,
                total,
                ..
            } = writing;
            let done = match result {
                Ok(0) => {
                    self.spare = buf;
                    self.stopped_at = Some(offset.saturating_add(done as u64));
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "no more bytes accepted",
                    )));
                }
                Ok(n) => done + n,
                // Nothing was written: the same bytes go again, as dropping
                // them would corrupt the stream behind the caller's back.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => done,
                Err(e) => {
                    self.spare = buf;
                    self.stopped_at = Some(offset.saturating_add(done as u64));
                    return Poll::Ready(Err(e));
                }
            };
            if done >= total {
                self.spare = buf;
                break;
            }
            let op = submit(buf.slice(done..total), offset.saturating_add(done as u64));
            self.writing = Some(Writing {
                op,
                offset,
                done,
                total,
            });
        }
        Poll::Ready(Ok(()))
    }

    /// Waits for the write in flight, then copies as much of `data` as the
    /// buffer takes and starts writing it at `offset`, as one operation
    /// whatever the number of slices. `before_start` runs just before the
    /// new write is issued. Returns the bytes taken; an empty `data` takes
    /// none and waits for nothing.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[IoSlice<'_>],
        offset: u64,
        mut submit: impl FnMut(Slice<Vec<u8>>, u64) -> Op<W>,
        before_start: impl FnOnce(),
    ) -> Poll<io::Result<usize>> {
        let offered = data
            .iter()
            .fold(0usize, |sum, slice| sum.saturating_add(slice.len()));
        if offered == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_drain(cx, &mut submit))?;
        let wanted = offered.min(self.limit);
        self.spare.clear();
        if self.spare.capacity() < wanted {
            // Grows by doubling, so a run of slowly growing writes
            // reallocates a few times only, and never past the limit. A
            // buffer that cannot be allocated (a limit raised to the size
            // of memory) is an `OutOfMemory` error, not an abort.
            let grown = self
                .spare
                .capacity()
                .saturating_mul(2)
                .max(INITIAL_BUFFER)
                .min(self.limit)
                .max(wanted);
            if let Err(e) = self.spare.try_reserve_exact(grown) {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::OutOfMemory, e)));
            }
        }
        let mut buf = std::mem::take(&mut self.spare);
        for slice in data {
            let room = wanted - buf.len();
            if room == 0 {
                break;
            }
            buf.extend_from_slice(&slice[..slice.len().min(room)]);
        }
        before_start();
        let taken = buf.len();
        let op = submit(buf.slice(0..taken), offset);
        self.writing = Some(Writing {
            op,
            offset,
            done: 0,
            total: taken,
        });
        // Hand it to the kernel now; its outcome is collected by the next
        // call. An error already known is reported at once.
        if let Poll::Ready(Err(e)) = self.poll_drain(cx, submit) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }
}
