//! A connected stream's incoming bytes as a `Stream` of pool buffers.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;

use crate::buf::{BufPool, PoolShared, PooledBuf};
use crate::buffered::ReadSide;
use crate::op::{Op, Recv};
use crate::os::sys::OwnedSocket;

/// The chunks a stream socket receives, each in a buffer of a
/// [`BufPool`], as a [`Stream`]: made by
/// [`TcpStream::recv_stream`](super::TcpStream::recv_stream) and
/// `UnixStream::recv_stream` (Unix).
///
/// On io_uring with a registered pool, one multishot receive (Linux 6.0;
/// one receive after another on 5.19) serves the stream: the kernel picks
/// a free buffer for each chunk as it arrives. Elsewhere each receive takes
/// a free buffer of the pool and waits for the socket to be readable.
///
/// When every buffer is out (held as [`PooledBuf`]s, or queued here
/// untaken), the stream waits until one comes back: the bytes wait in the
/// socket meanwhile, nothing is lost, and the stream goes on. The stream
/// ends (`None`) when the peer closes its side; an error is yielded once,
/// and then the stream ends too.
///
/// Bytes come in order. Bytes the socket's `AsyncRead` side had already
/// read ahead come first. Reading the same socket some other way while the
/// stream runs splits the bytes between the two readers.
///
/// Dropping the stream cancels its receive before the drop returns, so
/// bytes that arrive afterwards wait in the socket for the next reader (a
/// new stream, `read`). Chunks it had already received that nobody took go
/// back to the pool, and their bytes are gone with the stream, as with any
/// reader dropped after reading ahead: keep one stream for as long as the
/// socket is read this way rather than making one per chunk.
pub struct RecvStream<'a> {
    read: &'a ReadSide,
    pool: Arc<PoolShared>,
    state: State,
    /// Whether to try a multishot receive: the kernel offers it, and it has
    /// not been refused.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    multishot: bool,
}

enum State {
    /// Nothing in flight: the next poll starts a receive.
    Idle,
    /// A receive the kernel picks a buffer for, in flight or ended with
    /// results still queued.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    Picking {
        id: crate::op::OpId,
        /// The pool's return count when it was made (see `Exhausted`).
        armed_at: u64,
        /// Whether a result came from it yet.
        answered: bool,
        /// Found the ring empty (ENOBUFS): wait for a buffer once it ends.
        exhausted: bool,
    },
    /// The kernel found no free buffer: the bytes wait in the socket until
    /// a buffer comes back after `armed_at` (one that came back since, the
    /// kernel may not have seen).
    #[cfg(all(target_os = "linux", feature = "uring"))]
    Exhausted { armed_at: u64 },
    /// A receive into a buffer the pool lent.
    Lent(Op<Recv<Arc<OwnedSocket>, PooledBuf>>),
    /// Ended: by the peer, by an error, or by a pool of another driver.
    Done,
}

impl fmt::Debug for RecvStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle => "idle",
            #[cfg(all(target_os = "linux", feature = "uring"))]
            State::Picking { .. } => "receiving into a buffer the kernel picks",
            #[cfg(all(target_os = "linux", feature = "uring"))]
            State::Exhausted { .. } => "waiting for a buffer to come back",
            State::Lent(_) => "receiving into a lent buffer",
            State::Done => "ended",
        };
        f.debug_struct("RecvStream").field("state", &state).finish()
    }
}

impl<'a> RecvStream<'a> {
    pub(crate) fn new(read: &'a ReadSide, pool: &BufPool) -> Self {
        RecvStream {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            multishot: read
                .socket()
                .driver()
                .uring()
                .is_some_and(|uring| uring.has_multishot_recv()),
            read,
            pool: pool.shared().clone(),
            state: State::Idle,
        }
    }

    /// Starts the next receive, or yields what a start found first: bytes
    /// read ahead, the end, or an error.
    fn start(&mut self, cx: &mut Context<'_>) -> Poll<Option<Option<io::Result<PooledBuf>>>> {
        let socket = self.read.socket();
        if !self.pool.belongs_to(socket.driver()) {
            self.state = State::Done;
            let error = io::Error::new(
                io::ErrorKind::InvalidInput,
                "the buffer pool was made on another driver than the socket's",
            );
            return Poll::Ready(Some(Some(Err(error))));
        }
        // Bytes read ahead come first (and a read ahead in flight is
        // waited for, so bytes cannot overtake it).
        if let Some(ahead) = ready!(self.read.poll_take_ahead_owned(cx, self.pool.buf_size())) {
            return Poll::Ready(Some(match ahead {
                Ok(bytes) if bytes.is_empty() => {
                    self.state = State::Done;
                    None
                }
                Ok(bytes) => Some(Ok(PooledBuf::detached(bytes))),
                Err(error) => {
                    self.state = State::Done;
                    Some(Err(error))
                }
            }));
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let Some(uring) = socket.driver().uring() {
            if let Some(recv) =
                crate::op::RecvPooled::new(socket.fd().clone(), &self.pool, self.multishot)
            {
                let armed_at = self.pool.returns();
                let pool = self.pool.clone();
                // What the stream does not take goes back to the pool.
                let give_back = crate::driver::Discard::new(move |posted| {
                    if let Some(id) = posted.buffer {
                        pool.give_back(id);
                    }
                });
                return match uring.submit_stream(Box::new(recv), cx.waker(), give_back) {
                    Ok(id) => {
                        self.state = State::Picking {
                            id,
                            armed_at,
                            answered: false,
                            exhausted: false,
                        };
                        Poll::Ready(None)
                    }
                    Err((error, _)) => {
                        self.state = State::Done;
                        Poll::Ready(Some(Some(Err(error))))
                    }
                };
            }
        }
        let buf = ready!(self.pool.poll_take_free(cx));
        let recv = Recv::new(socket.fd().clone(), buf);
        self.state = State::Lent(Op::with_driver(recv, socket.driver().clone()));
        Poll::Ready(None)
    }

    /// Stops the kernel's receive, if one is held, and ends the stream.
    fn finish(&mut self) {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let State::Picking { id, .. } = self.state {
            if let Some(uring) = self.read.socket().driver().uring() {
                uring.cancel_stream(id);
            }
        }
        self.state = State::Done;
    }

    /// One step of a receive the kernel picks buffers for: `Some` to
    /// yield, `None` to go on.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn poll_picking(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Option<io::Result<PooledBuf>>>> {
        use crate::driver::ShotPoll;

        let State::Picking {
            id,
            armed_at,
            answered,
            exhausted,
        } = &mut self.state
        else {
            unreachable!("called in the Picking state")
        };
        let uring = self
            .read
            .socket()
            .driver()
            .uring()
            .expect("a pool-picking receive is io_uring's");
        let posted = match ready!(uring.poll_shot(*id, cx)) {
            ShotPoll::Next(posted) => posted,
            ShotPoll::Ended(_) => {
                self.state = if *exhausted {
                    State::Exhausted {
                        armed_at: *armed_at,
                    }
                } else {
                    State::Idle
                };
                return Poll::Ready(None);
            }
        };
        let first = !std::mem::replace(answered, true);
        let buf = posted.buffer.map(|buffer| self.pool.hand_out(buffer, 0));
        match posted.result {
            Ok(0) => {
                drop(buf);
                self.finish();
                Poll::Ready(Some(None))
            }
            Ok(len) => match buf {
                Some(mut buf) => {
                    // SAFETY: the kernel wrote `len` bytes from the start of
                    // this buffer (within its size; clamped all the same).
                    unsafe { crate::buf::IoBufMut::set_init(&mut buf, len) };
                    Poll::Ready(Some(Some(Ok(buf))))
                }
                None => {
                    self.finish();
                    Poll::Ready(Some(Some(Err(io::Error::other(
                        "the kernel reported received bytes without naming their buffer",
                    )))))
                }
            },
            Err(error) => {
                drop(buf);
                match error.raw_os_error() {
                    // Every buffer is out: the bytes wait in the socket.
                    Some(libc::ENOBUFS) => *exhausted = true,
                    // Stopped by the kernel (the submitting thread exited)
                    // or by its queue filling up: made again once it ends.
                    Some(libc::ECANCELED) => {}
                    // A kernel without multishot receive after all: one
                    // receive after another from now on.
                    Some(libc::EINVAL) if first && self.multishot => self.multishot = false,
                    _ => {
                        self.finish();
                        return Poll::Ready(Some(Some(Err(error))));
                    }
                }
                Poll::Ready(None)
            }
        }
    }
}

impl Stream for RecvStream<'_> {
    type Item = io::Result<PooledBuf>;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<PooledBuf>>> {
        let this = self.get_mut();
        loop {
            let step = match &mut this.state {
                State::Idle => this.start(cx),
                #[cfg(all(target_os = "linux", feature = "uring"))]
                State::Picking { .. } => this.poll_picking(cx),
                #[cfg(all(target_os = "linux", feature = "uring"))]
                State::Exhausted { armed_at } => {
                    ready!(this.pool.poll_returned(cx, *armed_at));
                    this.state = State::Idle;
                    Poll::Ready(None)
                }
                State::Lent(recv) => {
                    let (result, buf) = ready!(Pin::new(recv).poll(cx));
                    this.state = State::Idle;
                    Poll::Ready(Some(match result {
                        Ok(0) => {
                            drop(buf);
                            this.state = State::Done;
                            None
                        }
                        Ok(_) => Some(Ok(buf)),
                        Err(error) => {
                            drop(buf);
                            this.state = State::Done;
                            Some(Err(error))
                        }
                    }))
                }
                State::Done => return Poll::Ready(None),
            };
            if let Some(item) = ready!(step) {
                return Poll::Ready(item);
            }
        }
    }
}

impl Drop for RecvStream<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}
