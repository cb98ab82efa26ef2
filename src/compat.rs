//! `futures::io` adapters: [`AsyncRead`], [`AsyncBufRead`] and [`AsyncWrite`]
//! for [`TcpStream`], `UnixStream` (Unix) and [`File`] (with a cursor), so
//! `futures::io::copy`, `AsyncReadExt`, `BufReader`-style code and
//! tokio-util's compat layer work with proactor's I/O.
//!
//! # What it costs
//!
//! Poll-based traits lend a buffer for one call only, while a completion
//! operation needs a buffer it owns until the kernel is done. So [`Compat`]
//! keeps **one buffer per direction** (64 KiB by default) and copies once:
//! reads land in its read buffer and are copied out to yours; writes are
//! copied into its write buffer, which the kernel then sends. A write is
//! reported done once copied; its outcome shows up at the next write,
//! `flush` or `close`, as with a `BufWriter`.
//!
//! # Directions
//!
//! On a stream the two directions are independent, as on the socket: a
//! read and a write can be in flight together (`futures::io::split` works
//! full duplex), and writing, flushing or closing never touches data already
//! received. Each direction polls only its own operation, so the task
//! waiting to read and the task waiting to write each keep their own waker.
//!
//! A file has one cursor. A write lands at the logical cursor (the next byte
//! not yet handed to a reader) and makes read-ahead stale: buffered data is
//! dropped, and a read still in flight is left to finish (so whoever waits
//! on it is woken) and then issued again from the cursor.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use proactor::compat::Compat;
//! use proactor::net::{TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! proactor::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let a = TcpStream::connect(listener.local_addr()?).await?;
//!     let (b, _) = listener.accept().await?;
//!     let (mut a, mut b) = (Compat::new(a), Compat::new(b));
//!     a.write_all(b"through futures::io").await?;
//!     a.flush().await?;
//!     let mut got = [0u8; 19];
//!     b.read_exact(&mut got).await?;
//!     assert_eq!(&got, b"through futures::io");
//!     Ok(())
//! })
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::net::Shutdown as How;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use crate::buf::{BufResult, IoBuf, Slice};
use crate::fs::File;
use crate::net::TcpStream;
#[cfg(unix)]
use crate::net::UnixStream;
use crate::op::{Op, OpCode, ReadAt, Recv, Send, Shutdown, WriteAt};
use crate::os::sys::{OwnedFile, OwnedSocket};

/// Default size of each direction's buffer.
pub const DEFAULT_BUFFER: usize = 64 * 1024;

mod sealed {
    pub trait Sealed {}
}

/// I/O objects [`Compat`] can adapt: streams (no position) and files
/// (positional, with a cursor kept by the adapter). Sealed.
pub trait CompatIo: sealed::Sealed {
    /// Whether reads and writes share one cursor (files), so that a write
    /// makes read-ahead stale. Streams have two independent directions.
    #[doc(hidden)]
    const SHARED_CURSOR: bool;
    #[doc(hidden)]
    type ReadOp: OpCode<Output = BufResult<usize, Vec<u8>>>;
    #[doc(hidden)]
    type WriteOp: OpCode<Output = BufResult<usize, Slice<Vec<u8>>>>;
    #[doc(hidden)]
    fn read_op(&self, buf: Vec<u8>, offset: u64) -> Op<Self::ReadOp>;
    #[doc(hidden)]
    fn write_op(&self, buf: Slice<Vec<u8>>, offset: u64) -> Op<Self::WriteOp>;
    /// Streams shut down their write half on close; files do nothing.
    #[doc(hidden)]
    fn close_op(&self) -> Option<Op<Shutdown<Arc<OwnedSocket>>>>;
}

macro_rules! stream_compat {
    ($ty:ty) => {
        impl sealed::Sealed for $ty {}
        impl CompatIo for $ty {
            const SHARED_CURSOR: bool = false;
            type ReadOp = Recv<Arc<OwnedSocket>, Vec<u8>>;
            type WriteOp = Send<Arc<OwnedSocket>, Slice<Vec<u8>>>;
            fn read_op(&self, buf: Vec<u8>, _offset: u64) -> Op<Self::ReadOp> {
                let socket = self.socket();
                Op::with_driver(Recv::new(socket.fd().clone(), buf), socket.driver().clone())
            }
            fn write_op(&self, buf: Slice<Vec<u8>>, _offset: u64) -> Op<Self::WriteOp> {
                let socket = self.socket();
                Op::with_driver(Send::new(socket.fd().clone(), buf), socket.driver().clone())
            }
            fn close_op(&self) -> Option<Op<Shutdown<Arc<OwnedSocket>>>> {
                let socket = self.socket();
                Some(Op::with_driver(
                    Shutdown::new(socket.fd().clone(), How::Write),
                    socket.driver().clone(),
                ))
            }
        }
    };
}

stream_compat!(TcpStream);
#[cfg(unix)]
stream_compat!(UnixStream);

impl sealed::Sealed for File {}
impl CompatIo for File {
    const SHARED_CURSOR: bool = true;
    type ReadOp = ReadAt<Arc<OwnedFile>, Vec<u8>>;
    type WriteOp = WriteAt<Arc<OwnedFile>, Slice<Vec<u8>>>;
    fn read_op(&self, buf: Vec<u8>, offset: u64) -> Op<Self::ReadOp> {
        Op::with_driver(self.read_at_op(buf, offset), self.driver().clone())
    }
    fn write_op(&self, buf: Slice<Vec<u8>>, offset: u64) -> Op<Self::WriteOp> {
        Op::with_driver(
            WriteAt::new(self.shared_fd().clone(), buf, offset),
            self.driver().clone(),
        )
    }
    fn close_op(&self) -> Option<Op<Shutdown<Arc<OwnedSocket>>>> {
        None
    }
}

/// A read being carried out; its op owns the read buffer meanwhile.
struct Reading<R: OpCode> {
    op: Op<R>,
    /// A file was written after this read started, so what it returns may
    /// predate the write: it is thrown away and read again from the cursor.
    /// The op is kept rather than dropped so that the task waiting on it is
    /// still woken.
    stale: bool,
}

/// A write being carried out: the buffer in flight and how far it got.
struct Writing<W: OpCode> {
    op: Op<W>,
    /// Offset of the buffer's first byte (files).
    offset: u64,
    /// Bytes of the buffer sent before this op.
    done: usize,
    total: usize,
}

/// Adapts a proactor I/O object to the `futures::io` traits. See the
/// [module docs](self) for the copy it costs.
pub struct Compat<T: CompatIo> {
    io: T,
    capacity: usize,
    /// Cursor of a file: the offset of the next byte read or written.
    position: u64,
    read_buf: Vec<u8>,
    read_consumed: usize,
    reading: Option<Reading<T::ReadOp>>,
    write_buf: Option<Vec<u8>>,
    writing: Option<Writing<T::WriteOp>>,
    closing: Option<Op<Shutdown<Arc<OwnedSocket>>>>,
}

impl<T: CompatIo + fmt::Debug> fmt::Debug for Compat<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat")
            .field("io", &self.io)
            .field("position", &self.position)
            .field("buffered", &(self.read_buf.len() - self.read_consumed))
            .finish_non_exhaustive()
    }
}

impl<T: CompatIo> Compat<T> {
    /// Adapts `io` with [`DEFAULT_BUFFER`]-byte buffers.
    pub fn new(io: T) -> Self {
        Compat::with_capacity(DEFAULT_BUFFER, io)
    }

    /// Adapts `io` with `capacity`-byte buffers (at least 1).
    pub fn with_capacity(capacity: usize, io: T) -> Self {
        let capacity = capacity.max(1);
        Compat {
            io,
            capacity,
            position: 0,
            read_buf: Vec::with_capacity(capacity),
            read_consumed: 0,
            reading: None,
            write_buf: Some(Vec::with_capacity(capacity)),
            writing: None,
            closing: None,
        }
    }

    /// The adapted object.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The cursor (files): the offset of the next byte read or written.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Gives the object back. Buffered read data is dropped, and so is a
    /// write still in flight (the kernel may still complete it): flush
    /// first to be sure it landed.
    pub fn into_inner(self) -> T {
        self.io
    }

    /// Finishes the write in flight, resubmitting what a short write left.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(writing) = &mut self.writing {
            let (result, slice) = match Pin::new(&mut writing.op).poll(cx) {
                Poll::Ready(done) => done,
                Poll::Pending => return Poll::Pending,
            };
            let buf = slice.into_inner();
            let (offset, done, total) = (writing.offset, writing.done, writing.total);
            self.writing = None;
            if T::SHARED_CURSOR && !matches!(result, Ok(n) if n > 0) {
                // The cursor moved past these bytes when they were copied
                // in; they never reached the file: back to where they
                // stopped, as a failed `write(2)` leaves a file's offset.
                self.position = offset + done as u64;
            }
            match result {
                Ok(0) => {
                    self.write_buf = Some(buf);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "no more bytes accepted",
                    )));
                }
                Ok(n) if done + n < total => {
                    let done = done + n;
                    let op = self
                        .io
                        .write_op(buf.slice(done..total), offset + done as u64);
                    self.writing = Some(Writing {
                        op,
                        offset,
                        done,
                        total,
                    });
                }
                Ok(_) => self.write_buf = Some(buf),
                Err(e) => {
                    self.write_buf = Some(buf);
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Makes sure `read_buf[read_consumed..]` holds data, or reports EOF
    /// (an empty slice) or an error.
    ///
    /// Polls the read op only: a write in flight is the write direction's
    /// to finish, and polling it here would put this task's waker in place
    /// of the writer's (and make a stream read wait for a peer that may
    /// itself be waiting for this read). A file read need not wait for it
    /// either: it starts at the cursor, past every byte a write in flight
    /// covers.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.read_consumed < self.read_buf.len() {
            return Poll::Ready(Ok(()));
        }
        loop {
            let reading = self.reading.get_or_insert_with(|| {
                let mut buf = std::mem::take(&mut self.read_buf);
                buf.clear();
                buf.reserve(self.capacity);
                self.read_consumed = 0;
                Reading {
                    op: self.io.read_op(buf, self.position),
                    stale: false,
                }
            });
            let (result, mut buf) = match Pin::new(&mut reading.op).poll(cx) {
                Poll::Ready(done) => done,
                Poll::Pending => return Poll::Pending,
            };
            let stale = reading.stale;
            self.reading = None;
            self.read_consumed = 0;
            if stale {
                // Errors of a stale read are dropped with its data: the read
                // issued from the cursor meets them again if they persist.
                buf.clear();
                self.read_buf = buf;
                continue;
            }
            self.read_buf = buf;
            return Poll::Ready(result.map(drop));
        }
    }

    fn consume_read(&mut self, n: usize) {
        let n = n.min(self.read_buf.len() - self.read_consumed);
        self.read_consumed += n;
        self.position += n as u64;
    }
}

impl<T: CompatIo + Unpin> AsyncRead for Compat<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match this.poll_fill(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map(|r| r.map(|()| 0)),
        }
        let available = &this.read_buf[this.read_consumed..];
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        this.consume_read(n);
        Poll::Ready(Ok(n))
    }
}

impl<T: CompatIo + Unpin> AsyncBufRead for Compat<T> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        match this.poll_fill(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(&this.read_buf[this.read_consumed..])),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().consume_read(amt)
    }
}

impl<T: CompatIo + Unpin> AsyncWrite for Compat<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if T::SHARED_CURSOR {
            // Read-ahead of a file is stale once it is written to. The
            // cursor counts only bytes handed to the reader, so the write
            // lands right after them and no unread byte is skipped.
            this.read_buf.clear();
            this.read_consumed = 0;
            if let Some(reading) = &mut this.reading {
                reading.stale = true;
            }
        }
        let mut buf = this.write_buf.take().unwrap_or_default();
        buf.clear();
        let n = data.len().min(this.capacity);
        buf.extend_from_slice(&data[..n]);
        let offset = this.position;
        this.position += n as u64;
        let op = this.io.write_op(buf.slice(0..n), offset);
        this.writing = Some(Writing {
            op,
            offset,
            done: 0,
            total: n,
        });
        // Start it now; its outcome is collected by the next call.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_drain(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        if this.closing.is_none() {
            match this.io.close_op() {
                Some(op) => this.closing = Some(op),
                None => return Poll::Ready(Ok(())),
            }
        }
        let closing = this.closing.as_mut().expect("a close is in flight");
        match Pin::new(closing).poll(cx) {
            Poll::Ready(result) => {
                this.closing = None;
                Poll::Ready(match result {
                    // Already shut down or disconnected: closed either way.
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                    other => other,
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
