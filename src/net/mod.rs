//! Sockets whose operations run on the driver: TCP, UDP and (on Unix) Unix
//! domain sockets, with owned buffers and [`BufResult`](crate::buf::BufResult)
//! throughout.
//!
//! Sockets are created non-blocking and close-on-exec, and take the
//! [current driver](crate::Driver::current) when they are made. Sends never
//! raise SIGPIPE: writing to a closed connection is a `BrokenPipe` error.
//!
//! ```
//! use proactor::net::{TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! proactor::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let client = TcpStream::connect(addr).await?;
//!     let (server, _) = listener.accept().await?;
//!     let (sent, _) = client.write_all(b"ping").await;
//!     sent?;
//!     let (got, buf) = server.read_exact(vec![0; 4]).await;
//!     got?;
//!     assert_eq!(buf, b"ping");
//!     Ok(())
//! })
//! # }
//! ```

/// The byte-stream methods `TcpStream` and `UnixStream` share, over their
/// `io` field. They go through the same state as the `AsyncRead` /
/// `AsyncWrite` implementations, so bytes keep their order whichever API
/// reads or writes them.
macro_rules! stream_io {
    () => {
        /// The chunks the socket receives, each in a buffer of `pool`, as a
        /// [`Stream`](futures_core::Stream) that ends when the peer closes
        /// its side: see [`RecvStream`](crate::net::RecvStream). On
        /// io_uring the kernel picks a free buffer for each chunk as it
        /// arrives (one multishot receive on Linux 6.0 or newer), so no
        /// buffer waits in a receive.
        ///
        /// ```
        /// # use proactor::net::{TcpListener, TcpStream};
        /// use futures::StreamExt;
        /// use proactor::buf::BufPool;
        ///
        /// # fn main() -> std::io::Result<()> {
        /// # proactor::block_on(async {
        /// # let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// # let client = TcpStream::connect(listener.local_addr()?).await?;
        /// # let (server, _) = listener.accept().await?;
        /// let pool = BufPool::new(8, 4096)?;
        /// client.write_all(b"ping").await.0?;
        /// let mut chunks = server.recv_stream(&pool);
        /// let chunk = chunks.next().await.expect("not closed")?;
        /// assert_eq!(&chunk[..], b"ping");
        /// # Ok(()) })
        /// # }
        /// ```
        pub fn recv_stream<'a>(&'a self, pool: &crate::buf::BufPool) -> crate::net::RecvStream<'a> {
            crate::net::RecvStream::new(self.io.read_side(), pool)
        }

        /// Reads up to `buf.bytes_total()` bytes; `Ok(0)` means the peer
        /// closed its side (or the buffer is empty). Bytes the `AsyncRead`
        /// implementations already read ahead come first; otherwise `buf`
        /// goes to the kernel as it is, with no copy.
        ///
        /// ```
        /// # use proactor::net::{TcpListener, TcpStream};
        /// # fn main() -> std::io::Result<()> {
        /// # proactor::block_on(async {
        /// # let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// # let client = TcpStream::connect(listener.local_addr()?).await?;
        /// # let (server, _) = listener.accept().await?;
        /// client.write_all(b"hello").await.0?;
        /// let (n, buf) = server.read(Vec::with_capacity(16)).await;
        /// assert_eq!(&buf[..n?], b"hello");
        /// drop(client);
        /// let (n, _) = server.read(vec![0; 16]).await;
        /// assert_eq!(n?, 0); // the peer closed
        /// # Ok(()) })
        /// # }
        /// ```
        pub async fn read<B: crate::buf::IoBufMut>(
            &self,
            buf: B,
        ) -> crate::buf::BufResult<usize, B> {
            self.io.read_side().read(buf).await
        }

        /// Fills all of `buf.bytes_total()`, or fails with `UnexpectedEof`.
        ///
        /// ```
        /// # use proactor::net::{TcpListener, TcpStream};
        /// # fn main() -> std::io::Result<()> {
        /// # proactor::block_on(async {
        /// # let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// # let client = TcpStream::connect(listener.local_addr()?).await?;
        /// # let (server, _) = listener.accept().await?;
        /// client.write_all(b"ping!").await.0?;
        /// drop(client);
        /// let (res, buf) = server.read_exact(vec![0; 4]).await;
        /// res?;
        /// assert_eq!(buf, b"ping");
        /// let (res, _) = server.read_exact(vec![0; 4]).await;
        /// assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        /// # Ok(()) })
        /// # }
        /// ```
        pub async fn read_exact<B: crate::buf::IoBufMut>(
            &self,
            buf: B,
        ) -> crate::buf::BufResult<(), B> {
            self.io.read_side().read_exact(buf).await
        }

        /// Writes some of `buf`'s initialised bytes; returns how many. What
        /// the `AsyncWrite` implementations buffered is sent first.
        ///
        /// ```
        /// # use proactor::net::{TcpListener, TcpStream};
        /// # fn main() -> std::io::Result<()> {
        /// # proactor::block_on(async {
        /// # let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// # let client = TcpStream::connect(listener.local_addr()?).await?;
        /// # let (server, _) = listener.accept().await?;
        /// let (n, _) = client.write(b"hello".to_vec()).await;
        /// let n = n?;
        /// assert!(n > 0 && n <= 5);
        /// let (res, buf) = server.read_exact(vec![0; n]).await;
        /// res?;
        /// assert_eq!(buf, &b"hello"[..n]);
        /// # Ok(()) })
        /// # }
        /// ```
        pub async fn write<B: crate::buf::IoBuf>(&self, buf: B) -> crate::buf::BufResult<usize, B> {
            self.io.write_side().write(buf).await
        }

        /// Writes all of `buf`'s initialised bytes, after what the
        /// `AsyncWrite` implementations buffered.
        ///
        /// ```
        /// # use proactor::net::{TcpListener, TcpStream};
        /// # fn main() -> std::io::Result<()> {
        /// # proactor::block_on(async {
        /// # let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// # let client = TcpStream::connect(listener.local_addr()?).await?;
        /// # let (server, _) = listener.accept().await?;
        /// let (res, data) = client.write_all(vec![7u8; 100_000]).await;
        /// res?;
        /// assert_eq!(data.len(), 100_000); // the buffer comes back
        /// let (res, got) = server.read_exact(vec![0; 100_000]).await;
        /// res?;
        /// assert!(got.iter().all(|&b| b == 7));
        /// # Ok(()) })
        /// # }
        /// ```
        pub async fn write_all<B: crate::buf::IoBuf>(
            &self,
            buf: B,
        ) -> crate::buf::BufResult<(), B> {
            self.io.write_side().write_all(buf).await
        }

        /// Shuts down the read half, the write half or both; the write half
        /// after what the `AsyncWrite` implementations buffered is sent.
        ///
        /// ```
        /// # use proactor::net::{TcpListener, TcpStream};
        /// # fn main() -> std::io::Result<()> {
        /// # proactor::block_on(async {
        /// # let listener = TcpListener::bind("127.0.0.1:0").await?;
        /// # let client = TcpStream::connect(listener.local_addr()?).await?;
        /// # let (server, _) = listener.accept().await?;
        /// client.write_all(b"bye").await.0?;
        /// client.shutdown(std::net::Shutdown::Write).await?;
        /// let (n, buf) = server.read(vec![0; 8]).await;
        /// assert_eq!(&buf[..n?], b"bye");
        /// let (n, _) = server.read(vec![0; 8]).await;
        /// assert_eq!(n?, 0); // end of stream
        /// # Ok(()) })
        /// # }
        /// ```
        pub async fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
            self.io.write_side().shutdown(how).await
        }
    };
}

/// The poll-based traits of a stream type, on the type and on a shared
/// reference to it (as std's `Read for &TcpStream`). `AsyncBufRead` only on
/// the type itself: lending the read-ahead needs exclusive access.
macro_rules! stream_traits {
    ($ty:ident) => {
        crate::buffered::impl_async_read!([] $ty, |stream| stream.io.read_side());
        crate::buffered::impl_async_read!(['a] &'a $ty, |stream| stream.io.read_side());
        crate::buffered::impl_async_buf_read!([] $ty, |stream| stream.io.read_side_mut());
        crate::buffered::impl_async_write!([] $ty, |stream| stream.io.write_side());
        crate::buffered::impl_async_write!(['a] &'a $ty, |stream| stream.io.write_side());
    };
}
use stream_traits;

/// Lends a socket type's handle the way std's types do: `AsRawFd` and
/// `AsFd` on Unix, `AsRawSocket` and `AsSocket` on Windows.
macro_rules! raw_handles {
    ($ty:ty, |$this:ident| $socket:expr) => {
        #[cfg(unix)]
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                let $this = self;
                std::os::fd::AsRawFd::as_raw_fd(&**$socket.fd())
            }
        }

        #[cfg(unix)]
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                let $this = self;
                std::os::fd::AsFd::as_fd(&**$socket.fd())
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsRawSocket for $ty {
            fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
                let $this = self;
                std::os::windows::io::AsRawSocket::as_raw_socket(&**$socket.fd())
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsSocket for $ty {
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                let $this = self;
                std::os::windows::io::AsSocket::as_socket(&**$socket.fd())
            }
        }
    };
}
use raw_handles;

pub(crate) mod accepted;
mod addr;
mod incoming;
mod recv_stream;
pub(crate) mod socket;
mod split;
pub mod tcp;
mod udp;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub mod unix;

pub use addr::ToSocketAddrs;
pub use incoming::Incoming;
pub use recv_stream::RecvStream;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use unix::{UnixDatagram, UnixListener, UnixStream};
