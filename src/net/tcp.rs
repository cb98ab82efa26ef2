//! TCP: [`TcpListener`], [`TcpStream`] and the halves a stream splits into.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use proactor::net::tcp::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! proactor::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!     let (mut read, mut write): (OwnedReadHalf, OwnedWriteHalf) = server.into_split();
//!     AsyncWriteExt::write_all(&mut &client, b"ping").await?;
//!     let mut ping = [0; 4];
//!     read.read_exact(&mut ping).await?;
//!     write.write_all(b"pong").await?;
//!     write.flush().await?;
//!     let (got, pong) = client.read_exact(vec![0; 4]).await;
//!     got?;
//!     assert_eq!((&ping, &pong[..]), (b"ping", &b"pong"[..]));
//!     Ok(())
//! })
//! # }
//! ```

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, SockAddr, Type};

use super::accepted::{AcceptNext, Accepted};
use super::addr::{each_addr, resolve};
use super::socket::{ip_addr, Socket};
use super::{Incoming, ToSocketAddrs};
use crate::buffered::Duplex;
use crate::Driver;

/// Backlog of listening sockets.
const LISTEN_BACKLOG: i32 = 1024;

/// A TCP listener.
///
/// ```
/// use proactor::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let clients = [TcpStream::connect(addr).await?, TcpStream::connect(addr).await?];
///     for client in &clients {
///         let (_server, from) = listener.accept().await?;
///         assert!(clients.iter().any(|c| c.local_addr().ok() == Some(from)));
///         assert_eq!(client.peer_addr()?, addr);
///     }
///     Ok(())
/// })
/// # }
/// ```
pub struct TcpListener {
    socket: Socket,
    /// Connections its dropped streams left (see [`Incoming`](super::Incoming)).
    accepted: Arc<Accepted>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

impl TcpListener {
    /// Binds to the first of `addr` that works (with `SO_REUSEADDR`) and
    /// listens.
    ///
    /// ```
    /// use proactor::net::TcpListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     assert_ne!(listener.local_addr()?.port(), 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let driver = Driver::try_current()?;
        let addrs = resolve(addr, &driver).await?;
        each_addr(addrs, |addr| async move {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.sock_ref().set_reuse_address(true)?;
            socket.sock_ref().bind(&SockAddr::from(addr))?;
            socket.sock_ref().listen(LISTEN_BACKLOG)?;
            Ok(TcpListener {
                socket,
                accepted: Arc::default(),
            })
        })
        .await
    }

    /// Waits for a connection. An error such as `EMFILE` (no fds left)
    /// leaves the listener working: call `accept` again.
    ///
    /// ```
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, from) = listener.accept().await?;
    ///     assert_eq!(from, client.local_addr()?);
    ///     assert_eq!(server.peer_addr()?, client.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (socket, addr) = AcceptNext::new(&self.socket, &self.accepted).await?;
        Ok((TcpStream::from_socket(socket), ip_addr(&addr)?))
    }

    /// The connections this listener accepts, as a `Stream` (see
    /// [`Incoming`]): on io_uring one multishot request accepts them all.
    /// The stream shares the listener's socket, so it may outlive this
    /// borrow (for a task of its own); dropping it stops accepting for it.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let mut incoming = listener.incoming();
    ///     let clients = [TcpStream::connect(addr).await?, TcpStream::connect(addr).await?];
    ///     for client in &clients {
    ///         let server = incoming.next().await.expect("never ends")?;
    ///         assert_eq!(server.peer_addr()?, client.local_addr()?);
    ///     }
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn incoming(&self) -> Incoming<TcpStream> {
        Incoming::new(&self.socket, &self.accepted, TcpStream::from_socket)
    }

    /// The address this listener is bound to: with port 0, the port the
    /// OS picked.
    ///
    /// ```
    /// use proactor::net::TcpListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     assert!(addr.ip().is_loopback());
    ///     assert_ne!(addr.port(), 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.socket.sock_ref().local_addr()?)
    }

    /// Adopts a standard listener (made non-blocking), on the current driver.
    ///
    /// ```
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let addr = std_listener.local_addr()?;
    ///     let listener = TcpListener::from_std(std_listener)?;
    ///     assert_eq!(listener.local_addr()?, addr);
    ///     let _client = TcpStream::connect(addr).await?;
    ///     listener.accept().await?;
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            socket: Socket::from_std(crate::os::sys::OwnedSocket::from(listener))?,
            accepted: Arc::default(),
        })
    }

    /// The driver this listener's operations run on.
    ///
    /// ```
    /// use proactor::{net::TcpListener, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     assert_eq!(listener.driver().backend(), Driver::current().backend());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn driver(&self) -> &Driver {
        self.socket.driver()
    }
}

super::raw_handles!(TcpListener, |listener| listener.socket);

/// A TCP connection.
///
/// Two ways to do I/O, which can be mixed (bytes keep their order):
///
/// - owned buffers: [`read`](TcpStream::read), [`write_all`](TcpStream::write_all)
///   and the others take a buffer and give it back, with no copy;
/// - the poll-based traits: `AsyncRead`, `AsyncBufRead` and `AsyncWrite`
///   from `futures::io`, and from `tokio::io` with the `tokio` feature
///   (so hyper needs only `hyper_util::rt::TokioIo::new(stream)`). They
///   copy through one buffer per direction, allocated on first use, sized
///   to the traffic (8 KiB up to 64 KiB) and reused. A write is copied and
///   reported done; `flush` says whether it was sent. Vectored writes are
///   one operation.
///
/// Reads and writes take `&self`, and `&TcpStream` implements `AsyncRead`
/// and `AsyncWrite` too, so one task may read while another writes; for
/// halves that move to different tasks, use [`into_split`](TcpStream::into_split).
///
/// The owned-buffer methods `read`, `read_exact`, `write` and `write_all`
/// take precedence over the extension traits' methods of the same names:
/// call those by their trait's name, `AsyncWriteExt::write_all(&mut stream, ..)`.
///
/// ```
/// use futures::io::{AsyncBufReadExt, AsyncWriteExt};
/// use proactor::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut server, _) = listener.accept().await?;
///     // An owned buffer, no copy:
///     client.write_all(b"GET / HTTP/1.1\r\n").await.0?;
///     // The traits, through one buffer per direction:
///     let mut line = String::new();
///     server.read_line(&mut line).await?;
///     assert_eq!(line, "GET / HTTP/1.1\r\n");
///     AsyncWriteExt::write_all(&mut server, b"HTTP/1.1 200 OK\r\n").await?;
///     server.flush().await?;
///     line.clear();
///     client.read_line(&mut line).await?;
///     assert_eq!(line, "HTTP/1.1 200 OK\r\n");
///     Ok(())
/// })
/// # }
/// ```
pub struct TcpStream {
    io: Duplex,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    /// Connects to the first of `addr` that accepts. A closed port is a
    /// `ConnectionRefused` error.
    ///
    /// ```
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let stream = TcpStream::connect(addr).await?;
    ///     assert_eq!(stream.peer_addr()?, addr);
    ///     drop(listener);
    ///     let refused = TcpStream::connect(addr).await.unwrap_err();
    ///     assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let driver = Driver::try_current()?;
        let addrs = resolve(addr, &driver).await?;
        each_addr(addrs, |addr| async move {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.connect(SockAddr::from(addr)).await?;
            Ok(TcpStream::from_socket(socket))
        })
        .await
    }

    fn from_socket(socket: Socket) -> TcpStream {
        TcpStream {
            io: Duplex::new(socket),
        }
    }

    stream_io!();

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes); read it back
    /// with [`nodelay`](Self::nodelay).
    ///
    /// ```
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     stream.set_nodelay(true)?;
    ///     assert!(stream.nodelay()?);
    ///     stream.set_nodelay(false)?;
    ///     assert!(!stream.nodelay()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.socket().sock_ref().set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set. See [`set_nodelay`](Self::set_nodelay).
    ///
    /// ```
    /// # use proactor::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # proactor::block_on(async {
    /// # let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok(()) })
    /// # }
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.socket().sock_ref().tcp_nodelay()
    }

    /// The remote address; [`local_addr`](Self::local_addr) is this end's.
    ///
    /// ```
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     assert_eq!(client.peer_addr()?, listener.local_addr()?);
    ///     assert_eq!(client.peer_addr()?, server.local_addr()?);
    ///     assert_eq!(client.local_addr()?, server.peer_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.io.socket().sock_ref().peer_addr()?)
    }

    /// The local address; [`peer_addr`](Self::peer_addr) is the other end's.
    ///
    /// ```
    /// # use proactor::net::{TcpListener, TcpStream};
    /// # fn main() -> std::io::Result<()> {
    /// # proactor::block_on(async {
    /// # let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (_server, from) = listener.accept().await?;
    /// assert_eq!(client.local_addr()?, from);
    /// assert!(client.local_addr()?.ip().is_loopback());
    /// # Ok(()) })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.io.socket().sock_ref().local_addr()?)
    }

    /// Adopts a standard stream (made non-blocking), on the current driver.
    ///
    /// ```
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let client = TcpStream::from_std(std_stream)?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(b"hi").await.0?;
    ///     let (n, buf) = server.read(vec![0; 8]).await;
    ///     assert_eq!(&buf[..n?], b"hi");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream::from_socket(Socket::from_std(
            crate::os::sys::OwnedSocket::from(stream),
        )?))
    }

    /// Sends `buf`'s initialised bytes without copying them into the kernel
    /// where io_uring can (`IORING_OP_SEND_ZC`, Linux 6.0; see
    /// [`SendZc`](crate::op::SendZc)), after anything the poll-based write
    /// traits buffered. Returns how many bytes went out (maybe fewer than
    /// all, as [`write`](Self::write)) and the buffer, once the kernel no
    /// longer reads it (over loopback, once the bytes reached the peer's
    /// socket: more than it holds waits for the peer to read, so read on
    /// another task meanwhile). Elsewhere it is a plain send.
    /// Worth it for large buffers on a real network device, not over
    /// loopback.
    ///
    /// ```
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let (sent, buf) = client.send_zc(vec![1u8; 64 * 1024]).await;
    ///     let sent = sent?;
    ///     let (got, _) = server.read_exact(vec![0u8; sent]).await;
    ///     got?;
    ///     assert_eq!(buf.len(), 64 * 1024);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send_zc<B: crate::buf::IoBuf>(&self, buf: B) -> crate::buf::BufResult<usize, B> {
        self.io.write_side().write_zc(buf).await
    }

    /// Moves up to `len` bytes received on this stream into `pipe`
    /// without copying them through user memory ([`Splice`](crate::op::Splice)),
    /// after any bytes the poll-based read traits read ahead. Returns how
    /// many; `0` once the peer shut down its side (or for `len == 0`).
    /// Waits while nothing is received or the pipe is full.
    ///
    /// With [`splice_from`](Self::splice_from), a relay moves bytes
    /// between two sockets without them leaving the kernel:
    ///
    /// ```
    /// use proactor::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let (reader, writer) = proactor::os::pipe()?;
    ///     client.write_all(b"echo me").await.0?;
    ///     let n = server.splice_to(&writer, 64).await?; // socket -> pipe
    ///     let mut back = 0;
    ///     while back < n {
    ///         back += server.splice_from(&reader, n - back).await?; // pipe -> socket
    ///     }
    ///     let (got, buf) = client.read_exact(vec![0; n]).await;
    ///     got?;
    ///     assert_eq!(&buf[..], &b"echo me"[..n]);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    #[cfg(target_os = "linux")]
    #[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
    pub async fn splice_to(&self, pipe: &crate::os::PipeWriter, len: usize) -> io::Result<usize> {
        self.io.read_side().splice_to(pipe, len).await
    }

    /// Moves up to `len` bytes from `pipe` onto this stream without copying
    /// them through user memory ([`Splice`](crate::op::Splice)), after
    /// anything the poll-based write traits buffered. Returns how many; `0`
    /// once the pipe is empty and its writer gone. Waits while the pipe is
    /// empty or the socket's send buffer full. See
    /// [`splice_to`](Self::splice_to) for an example.
    #[cfg(target_os = "linux")]
    #[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
    pub async fn splice_from(&self, pipe: &crate::os::PipeReader, len: usize) -> io::Result<usize> {
        self.io.write_side().splice_from(pipe, len).await
    }

    /// The driver this stream's operations run on.
    ///
    /// ```
    /// use proactor::{net::{TcpListener, TcpStream}, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.driver().backend(), Driver::current().backend());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn driver(&self) -> &Driver {
        self.io.socket().driver()
    }

    /// Caps both directions' buffers (for `Compat::with_capacity`).
    pub(crate) fn set_buffer_limit(&mut self, limit: usize) {
        self.io.set_limit(limit);
    }
}

super::raw_handles!(TcpStream, |stream| stream.io.socket());
super::stream_traits!(TcpStream);
super::split::split_halves!(
    TcpStream,
    "# use proactor::net::{TcpListener, TcpStream};
# fn main() -> std::io::Result<()> {
# proactor::block_on(async {
# let listener = TcpListener::bind(\"127.0.0.1:0\").await?;
# let stream = TcpStream::connect(listener.local_addr()?).await?;
# let (peer, _) = listener.accept().await?;
# let other = TcpStream::connect(listener.local_addr()?).await?;
# let (other_peer, _) = listener.accept().await?;"
);

static_assertions::assert_impl_all!(TcpStream: Send, Sync, Unpin);
static_assertions::assert_impl_all!(OwnedReadHalf: Send, Sync, Unpin);
static_assertions::assert_impl_all!(OwnedWriteHalf: Send, Sync, Unpin);
static_assertions::assert_impl_all!(ReadHalf<'static>: Send, Sync, Unpin);
