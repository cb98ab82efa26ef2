//! An adapter to `futures::io`'s traits, kept for existing code: the I/O
//! types implement the traits themselves now.
//!
//! [`TcpStream`], `UnixStream` (Unix) and [`File`] (with its cursor)
//! implement `futures::io`'s `AsyncRead`, `AsyncBufRead` and `AsyncWrite`
//! directly, and `tokio::io`'s with the `tokio` feature, so neither
//! [`Compat`] nor tokio-util's compat layer is needed: hyper takes
//! `hyper_util::rt::TokioIo::new(stream)`, and `futures::io::copy` takes
//! the stream itself.
//!
//! [`Compat`] forwards to those implementations, adding nothing but
//! [`Compat::with_capacity`], which caps the object's buffers. It keeps no
//! state of its own: [`Compat::into_inner`] gives the object back with
//! whatever it buffered, and wrapping it again carries on where it was.
//!
//! What the traits cost (one copy through a buffer per direction, sized on
//! demand up to [`DEFAULT_BUFFER`]), and how reads and writes in flight on
//! one object behave, is described on [`TcpStream`] and [`File`].
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
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use crate::fs::File;
use crate::net::TcpStream;
#[cfg(unix)]
use crate::net::UnixStream;

/// The largest a direction's buffer grows by default (each starts small
/// and is allocated on first use).
///
/// ```
/// assert_eq!(proactor::compat::DEFAULT_BUFFER, 64 * 1024);
/// ```
pub const DEFAULT_BUFFER: usize = crate::buffered::MAX_BUFFER;

mod sealed {
    pub trait Sealed {}
}

/// I/O objects [`Compat`] can wrap: [`TcpStream`], `UnixStream` (Unix) and
/// [`File`], which implement the `futures::io` traits themselves. Sealed.
///
/// ```
/// use proactor::compat::{Compat, CompatIo};
///
/// fn wrap<T: CompatIo>(io: T) -> Compat<T> {
///     Compat::with_capacity(4096, io)
/// }
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let listener = proactor::net::TcpListener::bind("127.0.0.1:0").await?;
///     let a = proactor::net::TcpStream::connect(listener.local_addr()?).await?;
///     let a = wrap(a);
///     assert_eq!(a.position(), 0);
///     Ok(())
/// })
/// # }
/// ```
pub trait CompatIo: sealed::Sealed + AsyncRead + AsyncBufRead + AsyncWrite + Unpin {
    /// Caps the object's buffers at `limit` bytes.
    #[doc(hidden)]
    fn set_buffer_limit(&mut self, limit: usize);

    /// A file's cursor; zero for a stream.
    #[doc(hidden)]
    fn cursor_position(&self) -> u64 {
        0
    }
}

impl sealed::Sealed for TcpStream {}
impl CompatIo for TcpStream {
    fn set_buffer_limit(&mut self, limit: usize) {
        TcpStream::set_buffer_limit(self, limit)
    }
}

#[cfg(unix)]
impl sealed::Sealed for UnixStream {}
#[cfg(unix)]
impl CompatIo for UnixStream {
    fn set_buffer_limit(&mut self, limit: usize) {
        UnixStream::set_buffer_limit(self, limit)
    }
}

impl sealed::Sealed for File {}
impl CompatIo for File {
    fn set_buffer_limit(&mut self, limit: usize) {
        File::set_buffer_limit(self, limit)
    }

    fn cursor_position(&self) -> u64 {
        File::cursor_position(self)
    }
}

/// Forwards the `futures::io` traits to the object it wraps, which
/// implements them itself: see the [module docs](self).
///
/// ```
/// use futures::io::{AsyncBufReadExt, AsyncWriteExt};
/// use futures::TryStreamExt;
/// use proactor::{compat::Compat, fs::File};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// proactor::block_on(async {
///     let mut out = Compat::new(File::create(&path).await?);
///     out.write_all(b"one\ntwo\n").await?;
///     out.close().await?;
///     let mut lines = Compat::new(File::open(&path).await?).lines();
///     assert_eq!(lines.try_next().await?.as_deref(), Some("one"));
///     Ok(())
/// })
/// # }
/// ```
pub struct Compat<T: CompatIo> {
    io: T,
}

impl<T: CompatIo + fmt::Debug> fmt::Debug for Compat<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat").field("io", &self.io).finish()
    }
}

impl<T: CompatIo> Compat<T> {
    /// Wraps `io`, whose buffers grow up to [`DEFAULT_BUFFER`] bytes.
    ///
    /// ```
    /// use futures::io::AsyncReadExt;
    /// use proactor::{compat::Compat, net::{TcpListener, TcpStream}};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (b, _) = listener.accept().await?;
    ///     a.write_all(b"hello").await.0?;
    ///     drop(a);
    ///     let mut text = String::new();
    ///     Compat::new(b).read_to_string(&mut text).await?;
    ///     assert_eq!(text, "hello");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn new(io: T) -> Self {
        Compat { io }
    }

    /// Wraps `io`, capping its buffers at `capacity` bytes (at least 1)
    /// from their next operation on.
    ///
    /// ```
    /// use futures::io::{AsyncBufReadExt, AsyncWriteExt};
    /// use proactor::{compat::Compat, net::{TcpListener, TcpStream}};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (b, _) = listener.accept().await?;
    ///     let (mut a, mut b) = (Compat::new(a), Compat::with_capacity(4, b));
    ///     a.write_all(b"0123456789").await?;
    ///     a.flush().await?;
    ///     let chunk = b.fill_buf().await?;
    ///     assert!(!chunk.is_empty() && chunk.len() <= 4); // never more than the cap
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn with_capacity(capacity: usize, mut io: T) -> Self {
        io.set_buffer_limit(capacity.max(1));
        Compat { io }
    }

    /// The wrapped object.
    ///
    /// ```
    /// use proactor::{compat::Compat, net::{TcpListener, TcpStream}};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = Compat::new(TcpStream::connect(listener.local_addr()?).await?);
    ///     assert_eq!(stream.get_ref().peer_addr()?, listener.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// A file's cursor: the offset of the next byte read or written (zero
    /// for a stream).
    ///
    /// ```
    /// use futures::io::AsyncReadExt;
    /// use proactor::{compat::Compat, fs::File};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"0123456789")?;
    /// proactor::block_on(async {
    ///     let mut file = Compat::new(File::open(&path).await?);
    ///     let mut four = [0; 4];
    ///     file.read_exact(&mut four).await?;
    ///     assert_eq!(file.position(), 4);
    ///     let mut rest = Vec::new();
    ///     file.read_to_end(&mut rest).await?;
    ///     assert_eq!(file.position(), 10);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn position(&self) -> u64 {
        self.io.cursor_position()
    }

    /// Gives the object back, with its read-ahead and any write in flight:
    /// nothing is lost, and its traits carry on where these left off.
    ///
    /// ```
    /// use futures::io::{AsyncBufReadExt, AsyncWriteExt};
    /// use proactor::{compat::Compat, net::{TcpListener, TcpStream}};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (b, _) = listener.accept().await?;
    ///     let (mut a, mut b) = (Compat::new(a), Compat::new(b));
    ///     a.write_all(b"first\nsecond\n").await?;
    ///     a.flush().await?;
    ///     let mut line = String::new();
    ///     b.read_line(&mut line).await?; // reads ahead past "first\n"
    ///     assert_eq!(line, "first\n");
    ///     let b = b.into_inner();
    ///     let (n, rest) = b.read(vec![0; 16]).await; // the read-ahead comes first
    ///     assert_eq!(&rest[..n?], b"second\n");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn into_inner(self) -> T {
        self.io
    }
}

impl<T: CompatIo> AsyncRead for Compat<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, out)
    }
}

impl<T: CompatIo> AsyncBufRead for Compat<T> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().io).poll_fill_buf(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.get_mut().io).consume(amt)
    }
}

impl<T: CompatIo> AsyncWrite for Compat<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}
