//! A connected stream socket's two directions, each with its own buffer,
//! operation in flight and waiting tasks.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::net::Shutdown as How;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use super::{copy_into, ReadAhead, Shared, WriteBehind};
use crate::buf::{BufResult, IoBuf, IoBufMut, Slice};
use crate::net::socket::Socket;
use crate::op::{Op, Recv, Send, Shutdown};
use crate::os::sys::OwnedSocket;

type SocketRead = Recv<Arc<OwnedSocket>, Vec<u8>>;
type SocketWrite = Send<Arc<OwnedSocket>, Slice<Vec<u8>>>;
type SocketShutdown = Shutdown<Arc<OwnedSocket>>;

/// A stream's read direction: what a read half owns.
pub(crate) struct ReadSide {
    socket: Socket,
    state: Shared<ReadAhead<SocketRead>>,
}

/// A stream's write direction: what a write half owns.
pub(crate) struct WriteSide {
    socket: Socket,
    state: Shared<StreamWrite>,
}

/// The write direction's state: buffered writes, then the shutdown that
/// follows them.
#[derive(Default)]
struct StreamWrite {
    behind: WriteBehind<SocketWrite>,
    shutting_down: Option<Op<SocketShutdown>>,
}

/// Both directions of one connected stream socket.
pub(crate) struct Duplex {
    read: ReadSide,
    write: WriteSide,
}

impl Duplex {
    pub(crate) fn new(socket: Socket) -> Duplex {
        Duplex {
            write: WriteSide {
                socket: socket.share(),
                state: Shared::new(StreamWrite::default()),
            },
            read: ReadSide {
                socket,
                state: Shared::new(ReadAhead::default()),
            },
        }
    }

    pub(crate) fn socket(&self) -> &Socket {
        &self.read.socket
    }

    pub(crate) fn read_side(&self) -> &ReadSide {
        &self.read
    }

    pub(crate) fn read_side_mut(&mut self) -> &mut ReadSide {
        &mut self.read
    }

    pub(crate) fn write_side(&self) -> &WriteSide {
        &self.write
    }

    /// Caps both buffers at `limit` bytes (at least one).
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.read.state.get_mut().set_limit(limit);
        self.write.state.get_mut().behind.set_limit(limit);
    }

    /// The two directions, each with its state: read-ahead and writes in
    /// flight move with them.
    pub(crate) fn split(self) -> (ReadSide, WriteSide) {
        (self.read, self.write)
    }

    /// Puts two directions back together, if they are the same socket's;
    /// else gives them back.
    #[allow(clippy::result_large_err)]
    pub(crate) fn reunite(
        read: ReadSide,
        write: WriteSide,
    ) -> Result<Duplex, (ReadSide, WriteSide)> {
        if Arc::ptr_eq(read.socket.fd(), write.socket.fd()) {
            Ok(Duplex { read, write })
        } else {
            Err((read, write))
        }
    }
}

impl ReadSide {
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Reads into what `copy` takes (at most `wanted` bytes): read-ahead
    /// first, else one read into the buffer.
    fn poll_read_with(
        &self,
        cx: &mut Context<'_>,
        wanted: usize,
        copy: impl FnOnce(&[u8]) -> usize,
    ) -> Poll<io::Result<usize>> {
        if wanted == 0 {
            return Poll::Ready(Ok(0));
        }
        let socket = &self.socket;
        self.state.poll(cx, |ahead, cx| {
            ready!(ahead.poll_fill(cx, wanted, |buf| recv(socket, buf)))?;
            let n = copy(ahead.buffered());
            Poll::Ready(Ok(ahead.consume(n)))
        })
    }

    /// `AsyncRead::poll_read`.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let wanted = out.len();
        self.poll_read_with(cx, wanted, |data| {
            let n = data.len().min(out.len());
            out[..n].copy_from_slice(&data[..n]);
            n
        })
    }

    /// tokio's `AsyncRead::poll_read`: fills unfilled bytes, zeroing none.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let wanted = out.remaining();
        self.poll_read_with(cx, wanted, |data| {
            let n = data.len().min(out.remaining());
            out.put_slice(&data[..n]);
            n
        })
        .map_ok(drop)
    }

    /// `AsyncBufRead::poll_fill_buf`: lends the read-ahead, which only an
    /// exclusive reference can do (a shared one could see it consumed
    /// under the loan).
    pub(crate) fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let socket = &self.socket;
        ready!(self.state.poll_mut(cx, |ahead, cx| ahead
            .poll_fill(cx, 0, |buf| recv(socket, buf))))?;
        Poll::Ready(Ok(self.state.get_mut().buffered()))
    }

    /// `AsyncBufRead::consume`.
    pub(crate) fn consume(&mut self, n: usize) {
        self.state.get_mut().consume(n);
    }

    /// Hands read-ahead (or the read in flight's bytes) to `buf`; `None`
    /// if there is neither, so the caller's buffer can go to the kernel
    /// directly.
    fn poll_take_ahead<B: IoBufMut>(
        &self,
        cx: &mut Context<'_>,
        buf: &mut B,
    ) -> Poll<Option<io::Result<usize>>> {
        let socket = &self.socket;
        self.state.poll(cx, |ahead, cx| {
            if ahead.buffered().is_empty() && !ahead.is_reading() {
                return Poll::Ready(None);
            }
            let wanted = buf.bytes_total();
            match ready!(ahead.poll_fill(cx, wanted, |own| recv(socket, own))) {
                Ok(()) => {
                    let n = copy_into(ahead.buffered(), buf);
                    Poll::Ready(Some(Ok(ahead.consume(n))))
                }
                Err(e) => Poll::Ready(Some(Err(e))),
            }
        })
    }

    /// Takes what was read ahead (at most `max` bytes, waiting for a read
    /// ahead in flight) as bytes of their own; `None` if there is neither.
    /// An empty result means that read found the end of the stream.
    pub(crate) fn poll_take_ahead_owned(
        &self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<Option<io::Result<Vec<u8>>>> {
        let socket = &self.socket;
        self.state.poll(cx, |ahead, cx| {
            if ahead.buffered().is_empty() && !ahead.is_reading() {
                return Poll::Ready(None);
            }
            match ready!(ahead.poll_fill(cx, max, |own| recv(socket, own))) {
                Ok(()) => {
                    let n = ahead.buffered().len().min(max);
                    let bytes = ahead.buffered()[..n].to_vec();
                    ahead.consume(n);
                    Poll::Ready(Some(Ok(bytes)))
                }
                Err(e) => Poll::Ready(Some(Err(e))),
            }
        })
    }

    /// The owned-buffer read: read-ahead first, so bytes come in order
    /// whichever API reads them; else straight into `buf`, with no copy.
    pub(crate) async fn read<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        match poll_fn(|cx| self.poll_take_ahead(cx, &mut buf)).await {
            Some(result) => (result, buf),
            None => self.socket.recv(buf).await,
        }
    }

    /// An owned-buffer read that collects fds passed with the bytes
    /// (Unix sockets). Bytes already read ahead come first, without fds:
    /// the read that took them had no room for any.
    #[cfg(unix)]
    pub(crate) async fn read_with_fds<B: IoBufMut>(
        &self,
        mut buf: B,
        max_fds: usize,
    ) -> BufResult<crate::op::ReceivedWithFds, B> {
        match poll_fn(|cx| self.poll_take_ahead(cx, &mut buf)).await {
            Some(result) => {
                let received = result.map(|len| crate::op::ReceivedWithFds {
                    len,
                    fds: Vec::new(),
                    fds_truncated: false,
                });
                (received, buf)
            }
            None => self.socket.recv_with_fds(buf, max_fds).await,
        }
    }

    /// Fills all of `buf.bytes_total()`, or fails with `UnexpectedEof`.
    pub(crate) async fn read_exact<B: IoBufMut>(&self, mut buf: B) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut filled = 0;
        while filled < total {
            let (result, slice) = self.read(buf.slice(filled..total)).await;
            buf = slice.into_inner();
            match result {
                Ok(0) => {
                    let eof = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed before the buffer was full",
                    );
                    return (Err(eof), buf);
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }
}

#[cfg(target_os = "linux")]
impl ReadSide {
    /// Moves up to `len` bytes from the socket into `pipe`: bytes read
    /// ahead first (written into the pipe, as they are in user memory
    /// already), so they come in order whichever API reads; else a splice.
    ///
    /// The bytes read ahead are written (a non-blocking `write(2)`; the
    /// pipe is non-blocking) and consumed in one step, with no operation
    /// in flight between: a future dropped at any await leaves each byte
    /// in the pipe or in the buffer, never in both.
    pub(crate) async fn splice_to(
        &self,
        pipe: &crate::os::PipeWriter,
        len: usize,
    ) -> io::Result<usize> {
        if len == 0 {
            return Ok(0);
        }
        let socket = &self.socket;
        loop {
            let handed = poll_fn(|cx| {
                self.state.poll(cx, |ahead, cx| {
                    if ahead.buffered().is_empty() && !ahead.is_reading() {
                        return Poll::Ready(Ok(None));
                    }
                    ready!(ahead.poll_fill(cx, len, |own| recv(socket, own)))?;
                    let n = ahead.buffered().len().min(len);
                    if n == 0 {
                        // Read ahead to the end of the stream.
                        return Poll::Ready(Ok(Some(0)));
                    }
                    let written = write_into_pipe(pipe, &ahead.buffered()[..n]);
                    if let Ok(written) = written {
                        ahead.consume(written);
                    }
                    Poll::Ready(written.map(Some))
                })
            })
            .await;
            match handed {
                Ok(Some(written)) => return Ok(written),
                Ok(None) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let room =
                        crate::op::Ready::new(pipe.fd.clone(), crate::op::Interest::Writable);
                    Op::with_driver(room, socket.driver().clone()).await?;
                }
                Err(e) => return Err(e),
            }
        }
        let splice = crate::op::Splice::new(socket.fd().clone(), None, pipe.fd.clone(), None, len);
        splice.run_on(socket.driver().clone()).await
    }
}

/// One non-blocking `write(2)` of `bytes` into `pipe`; a pipe without a
/// reader is `BrokenPipe`, never SIGPIPE.
#[cfg(target_os = "linux")]
fn write_into_pipe(pipe: &crate::os::PipeWriter, bytes: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    crate::os::sigpipe::without_sigpipe(|| {
        // SAFETY: `bytes` is valid for reads of its length; `pipe` keeps
        // its fd open for the call.
        let written = unsafe { libc::write(pipe.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        crate::os::sys::cvt(written)
    })
}

impl WriteSide {
    /// `AsyncWrite::poll_write_vectored`: the slices are gathered into the
    /// buffer and sent as one operation.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        data: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let socket = &self.socket;
        self.state.poll(cx, |write, cx| {
            write
                .behind
                .poll_write(cx, data, 0, |buf, _| send(socket, buf), || {})
        })
    }

    /// `AsyncWrite::poll_write`.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(data)])
    }

    /// `AsyncWrite::poll_flush`: the buffered write is sent, or failed.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = &self.socket;
        self.state.poll(cx, |write, cx| {
            write.behind.poll_drain(cx, |buf, _| send(socket, buf))
        })
    }

    /// `AsyncWrite::poll_shutdown` / `poll_close`: flushes, then shuts the
    /// write direction down (the peer reads end of stream). Reading goes on.
    pub(crate) fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = &self.socket;
        self.state.poll(cx, |write, cx| {
            ready!(write.behind.poll_drain(cx, |buf, _| send(socket, buf)))?;
            let mut op = write.shutting_down.take().unwrap_or_else(|| {
                Op::with_driver(
                    Shutdown::new(socket.fd().clone(), How::Write),
                    socket.driver().clone(),
                )
            });
            let Poll::Ready(result) = Pin::new(&mut op).poll(cx) else {
                write.shutting_down = Some(op);
                return Poll::Pending;
            };
            Poll::Ready(match result {
                // Already shut down or disconnected: shut down either way.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                other => other,
            })
        })
    }

    /// The owned-buffer write: after the buffered writes, so bytes go out
    /// in order whichever API wrote them.
    pub(crate) async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        if let Err(e) = poll_fn(|cx| self.poll_flush(cx)).await {
            return (Err(e), buf);
        }
        self.socket.send(buf).await
    }

    /// An owned-buffer write with fds attached (Unix sockets), after the
    /// buffered writes.
    #[cfg(unix)]
    pub(crate) async fn write_with_fds<
        B: IoBuf,
        F: std::os::fd::AsFd + std::marker::Send + 'static,
    >(
        &self,
        buf: B,
        fds: Vec<F>,
    ) -> BufResult<usize, (B, Vec<F>)> {
        if let Err(e) = poll_fn(|cx| self.poll_flush(cx)).await {
            return (Err(e), (buf, fds));
        }
        self.socket.send_with_fds(buf, fds).await
    }

    /// A zero-copy send (see [`crate::op::SendZc`]), after the buffered
    /// writes.
    pub(crate) async fn write_zc<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        if let Err(e) = poll_fn(|cx| self.poll_flush(cx)).await {
            return (Err(e), buf);
        }
        let send = crate::op::SendZc::new(self.socket.fd().clone(), buf);
        send.run_on(self.socket.driver().clone()).await
    }

    /// Moves up to `len` bytes from `pipe` into the socket, after the
    /// buffered writes.
    #[cfg(target_os = "linux")]
    pub(crate) async fn splice_from(
        &self,
        pipe: &crate::os::PipeReader,
        len: usize,
    ) -> io::Result<usize> {
        poll_fn(|cx| self.poll_flush(cx)).await?;
        let splice =
            crate::op::Splice::new(pipe.fd.clone(), None, self.socket.fd().clone(), None, len);
        splice.run_on(self.socket.driver().clone()).await
    }

    /// Writes all of `buf`'s initialised bytes, after the buffered writes.
    pub(crate) async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        if let Err(e) = poll_fn(|cx| self.poll_flush(cx)).await {
            return (Err(e), buf);
        }
        self.socket.send_all(buf).await
    }

    /// Shuts a direction down; the write direction after the buffered
    /// writes.
    pub(crate) async fn shutdown(&self, how: How) -> io::Result<()> {
        if how != How::Read {
            poll_fn(|cx| self.poll_flush(cx)).await?;
        }
        self.socket.shutdown(how).await
    }
}

fn recv(socket: &Socket, buf: Vec<u8>) -> Op<SocketRead> {
    Op::with_driver(Recv::new(socket.fd().clone(), buf), socket.driver().clone())
}

fn send(socket: &Socket, buf: Slice<Vec<u8>>) -> Op<SocketWrite> {
    Op::with_driver(Send::new(socket.fd().clone(), buf), socket.driver().clone())
}
