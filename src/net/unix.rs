//! Unix domain sockets: [`UnixListener`], [`UnixStream`] and the halves a
//! stream splits into, and [`UnixDatagram`].
//!
//! ```
//! use futures::io::{AsyncBufReadExt, AsyncWriteExt};
//! use proactor::net::unix::UnixStream;
//!
//! # fn main() -> std::io::Result<()> {
//! proactor::block_on(async {
//!     let (a, b) = UnixStream::pair()?;
//!     let (_, mut to_b) = a.into_split();
//!     let (mut from_a, _) = b.into_split();
//!     to_b.write_all(b"a line\n").await?;
//!     to_b.flush().await?;
//!     let mut line = String::new();
//!     from_a.read_line(&mut line).await?;
//!     assert_eq!(line, "a line\n");
//!     Ok(())
//! })
//! # }
//! ```

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use socket2::{Domain, SockAddr, Type};

use super::accepted::{AcceptNext, Accepted};
use super::socket::Socket;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::buffered::Duplex;
use crate::Driver;

const LISTEN_BACKLOG: i32 = 1024;

/// A Unix socket address in std's type: a path, an abstract name (Linux),
/// or unnamed (such as the peer of an unbound client).
fn unix_addr(addr: &SockAddr) -> io::Result<SocketAddr> {
    if let Some(path) = addr.as_pathname() {
        return SocketAddr::from_pathname(path);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = addr.as_abstract_namespace() {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        return SocketAddr::from_abstract_name(name);
    }
    // An unnamed peer: `AF_UNIX` with no path, or, from `recvfrom` on a
    // datagram sent by a socketpair peer or an unbound socket, no address
    // at all (length 0, family `AF_UNSPEC`).
    let no_address = addr.len() == 0 || addr.family() == libc::AF_UNSPEC as libc::sa_family_t;
    if addr.is_unix() || no_address {
        return unnamed_addr();
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "not a Unix socket address",
    ))
}

/// std has no constructor for an unnamed address; an unbound socket's own
/// address is one. Made once.
fn unnamed_addr() -> io::Result<SocketAddr> {
    static UNNAMED: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    if let Some(addr) = UNNAMED.get() {
        return Ok(addr.clone());
    }
    let addr = std::os::unix::net::UnixDatagram::unbound()?.local_addr()?;
    Ok(UNNAMED.get_or_init(|| addr).clone())
}

fn pair(ty: Type) -> io::Result<(Socket, Socket)> {
    let driver = Driver::try_current()?;
    let (a, b) = super::socket::new_pair(ty)?;
    Ok((
        Socket::from_owned(a.into(), driver.clone()),
        Socket::from_owned(b.into(), driver),
    ))
}

/// A Unix domain stream listener.
///
/// ```
/// use proactor::net::{UnixListener, UnixStream};
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("sock");
/// proactor::block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"hi").await.0?;
///     let (res, buf) = server.read_exact(vec![0; 2]).await;
///     res?;
///     assert_eq!(buf, b"hi");
///     Ok(())
/// })
/// # }
/// ```
pub struct UnixListener {
    socket: Socket,
    /// Connections its dropped streams left (see [`Incoming`](super::Incoming)).
    accepted: Arc<Accepted>,
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl UnixListener {
    /// Binds to `path` and listens. Binding never blocks, so this is not
    /// async.
    ///
    /// ```
    /// use proactor::net::UnixListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     assert!(path.exists());
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.sock_ref().bind(&SockAddr::unix(path)?)?;
        socket.sock_ref().listen(LISTEN_BACKLOG)?;
        Ok(UnixListener {
            socket,
            accepted: Arc::default(),
        })
    }

    /// Waits for a connection. The address is the client's, usually
    /// unnamed.
    ///
    /// ```
    /// use proactor::net::{UnixListener, UnixStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let (server, from) = listener.accept().await?;
    ///     assert!(from.is_unnamed());
    ///     assert_eq!(server.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (socket, addr) = AcceptNext::new(&self.socket, &self.accepted).await?;
        Ok((UnixStream::from_socket(socket), unix_addr(&addr)?))
    }

    /// The connections this listener accepts, as a `Stream` (see
    /// [`Incoming`](super::Incoming)): on io_uring one multishot request
    /// accepts them all.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use proactor::net::{UnixListener, UnixStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let mut incoming = listener.incoming();
    ///     let client = UnixStream::connect(&path).await?;
    ///     let server = incoming.next().await.expect("never ends")?;
    ///     client.write_all(b"hi").await.0?;
    ///     let (n, buf) = server.read(vec![0; 2]).await;
    ///     assert_eq!(&buf[..n?], b"hi");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn incoming(&self) -> super::Incoming<UnixStream> {
        super::Incoming::new(&self.socket, &self.accepted, UnixStream::from_socket)
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// use proactor::net::UnixListener;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.socket.sock_ref().local_addr()?)
    }

    /// Adopts a standard listener (made non-blocking), on the current driver.
    ///
    /// ```
    /// use proactor::net::{UnixListener, UnixStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    ///     let listener = UnixListener::from_std(std_listener)?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     assert_eq!(server.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            socket: Socket::from_std(crate::os::sys::OwnedSocket::from(listener))?,
            accepted: Arc::default(),
        })
    }
}

super::raw_handles!(UnixListener, |listener| listener.socket);

/// A Unix domain stream connection.
///
/// Like [`TcpStream`](crate::net::TcpStream): owned-buffer methods, and the
/// poll-based traits (`AsyncRead`, `AsyncBufRead`, `AsyncWrite` from
/// `futures::io`, and from `tokio::io` with the `tokio` feature) through
/// one buffer per direction; both can be mixed, and `&UnixStream`
/// implements `AsyncRead` and `AsyncWrite` too. The owned-buffer methods
/// (`read`, `read_exact`, `write`, `write_all`) take precedence over the
/// extension traits' of the same names: call those by their trait's name.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use proactor::net::UnixStream;
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     AsyncWriteExt::write_all(&mut a, b"over a Unix socket").await?;
///     a.close().await?;
///     let mut got = String::new();
///     b.read_to_string(&mut got).await?;
///     assert_eq!(got, "over a Unix socket");
///     Ok(())
/// })
/// # }
/// ```
pub struct UnixStream {
    io: Duplex,
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl UnixStream {
    /// Connects to the listener at `path`; `NotFound` if nothing is bound
    /// there.
    ///
    /// ```
    /// use proactor::net::{UnixListener, UnixStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let missing = UnixStream::connect(&path).await.unwrap_err();
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    ///     let _listener = UnixListener::bind(&path)?;
    ///     let client = UnixStream::connect(&path).await?;
    ///     assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = SockAddr::unix(path)?;
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.connect(addr).await?;
        Ok(UnixStream::from_socket(socket))
    }

    /// Two connected streams.
    ///
    /// ```
    /// use proactor::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     a.write_all(b"ping").await.0?;
    ///     let (res, buf) = b.read_exact(vec![0; 4]).await;
    ///     res?;
    ///     assert_eq!(buf, b"ping");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = pair(Type::STREAM)?;
        Ok((UnixStream::from_socket(a), UnixStream::from_socket(b)))
    }

    fn from_socket(socket: Socket) -> UnixStream {
        UnixStream {
            io: Duplex::new(socket),
        }
    }

    stream_io!();

    /// The local address: the listener's path on the accepted side,
    /// unnamed on the connecting side (and both unnamed for a
    /// [`pair`](Self::pair)). See also [`peer_addr`](Self::peer_addr).
    ///
    /// ```
    /// use proactor::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     assert!(a.local_addr()?.is_unnamed());
    ///     assert!(b.local_addr()?.as_pathname().is_none());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.io.socket().sock_ref().local_addr()?)
    }

    /// The peer's address; [`local_addr`](Self::local_addr) is this end's.
    ///
    /// ```
    /// use proactor::net::{UnixListener, UnixStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let client = UnixStream::connect(&path).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     assert!(client.local_addr()?.is_unnamed());
    ///     assert_eq!(server.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     assert!(server.peer_addr()?.is_unnamed());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.io.socket().sock_ref().peer_addr()?)
    }

    /// Adopts a standard stream (made non-blocking), on the current driver.
    ///
    /// ```
    /// use proactor::net::UnixStream;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     let (a, b) = (UnixStream::from_std(a)?, UnixStream::from_std(b)?);
    ///     a.write_all(b"adopted").await.0?;
    ///     let (n, buf) = b.read(vec![0; 16]).await;
    ///     assert_eq!(&buf[..n?], b"adopted");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream::from_socket(Socket::from_std(
            crate::os::sys::OwnedSocket::from(stream),
        )?))
    }

    /// Sends `buf`'s initialised bytes with `fds` attached (`SCM_RIGHTS`),
    /// after anything the poll-based write traits buffered: the peer gets
    /// its own descriptors for the same open files, with the first of these
    /// bytes, when it reads with [`recv_with_fds`](Self::recv_with_fds).
    /// Returns how many bytes went out (maybe fewer than all, as `write`),
    /// and gives `buf` and `fds` back: they stay open until the send is
    /// done. At most [`MAX_FDS_PER_MESSAGE`](crate::op::MAX_FDS_PER_MESSAGE)
    /// fds.
    ///
    /// ```
    /// use proactor::net::UnixStream;
    /// use std::io::Read;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("shared");
    /// std::fs::write(&path, b"through the socket")?;
    /// proactor::block_on(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let file = std::fs::File::open(&path)?;
    ///     let (sent, _) = a.send_with_fds(b"1", vec![file]).await;
    ///     assert_eq!(sent?, 1);
    ///     let (received, _) = b.recv_with_fds(vec![0; 1], 4).await;
    ///     let mut file = std::fs::File::from(received?.fds.remove(0));
    ///     let mut text = String::new();
    ///     file.read_to_string(&mut text)?;
    ///     assert_eq!(text, "through the socket");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send_with_fds<B: IoBuf, F: std::os::fd::AsFd + Send + 'static>(
        &self,
        buf: B,
        fds: Vec<F>,
    ) -> BufResult<usize, (B, Vec<F>)> {
        self.io.write_side().write_with_fds(buf, fds).await
    }

    /// Reads into `buf`, with room for up to `max_fds` descriptors sent
    /// along with these bytes ([`send_with_fds`](Self::send_with_fds)); they
    /// come back owned, close-on-exec, and are closed if this future is
    /// dropped after they arrived. Bytes the poll-based read traits already
    /// read ahead come first, without fds: as `read(2)`, a read with no room
    /// for fds makes the kernel close those sent with its bytes. At most
    /// [`MAX_FDS_PER_MESSAGE`](crate::op::MAX_FDS_PER_MESSAGE).
    pub async fn recv_with_fds<B: IoBufMut>(
        &self,
        buf: B,
        max_fds: usize,
    ) -> BufResult<crate::op::ReceivedWithFds, B> {
        self.io.read_side().read_with_fds(buf, max_fds).await
    }

    /// Caps both directions' buffers (for `Compat::with_capacity`).
    pub(crate) fn set_buffer_limit(&mut self, limit: usize) {
        self.io.set_limit(limit);
    }
}

super::raw_handles!(UnixStream, |stream| stream.io.socket());
super::stream_traits!(UnixStream);
super::split::split_halves!(
    UnixStream,
    "# use proactor::net::UnixStream;
# fn main() -> std::io::Result<()> {
# proactor::block_on(async {
# let (stream, peer) = UnixStream::pair()?;
# let (other, other_peer) = UnixStream::pair()?;"
);

static_assertions::assert_impl_all!(UnixStream: Send, Sync, Unpin);
static_assertions::assert_impl_all!(OwnedReadHalf: Send, Sync, Unpin);
static_assertions::assert_impl_all!(OwnedWriteHalf: Send, Sync, Unpin);

/// A Unix domain datagram socket. Datagrams longer than the receive buffer
/// are truncated.
///
/// ```
/// use proactor::net::UnixDatagram;
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let (a, b) = UnixDatagram::pair()?;
///     a.send(b"a long datagram").await.0?;
///     let (n, buf) = b.recv(vec![0; 6]).await;
///     assert_eq!(&buf[..n?], b"a long"); // the rest is discarded
///     Ok(())
/// })
/// # }
/// ```
pub struct UnixDatagram {
    socket: Socket,
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl UnixDatagram {
    /// A socket bound to `path`.
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let server = UnixDatagram::bind(&path)?;
    ///     assert_eq!(server.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     let client = UnixDatagram::unbound()?;
    ///     client.send_to(b"hi", &path).await.0?;
    ///     let (n, buf) = server.recv(vec![0; 8]).await;
    ///     assert_eq!(&buf[..n?], b"hi");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let socket = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
        socket.sock_ref().bind(&SockAddr::unix(path)?)?;
        Ok(UnixDatagram { socket })
    }

    /// A socket bound to no address (it can send, and receive replies to
    /// an autobound name only on Linux).
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let server = UnixDatagram::bind(&path)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     assert!(client.local_addr()?.is_unnamed());
    ///     let (n, _) = client.send_to(b"from nowhere", &path).await;
    ///     assert_eq!(n?, 12);
    ///     let (res, _) = server.recv_from(vec![0; 32]).await;
    ///     assert!(res?.1.is_unnamed());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            socket: Socket::new(Domain::UNIX, Type::DGRAM, None)?,
        })
    }

    /// Two connected sockets.
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let (a, b) = UnixDatagram::pair()?;
    ///     b.send(b"one").await.0?;
    ///     b.send(b"two").await.0?;
    ///     let (n, buf) = a.recv(vec![0; 8]).await;
    ///     assert_eq!(&buf[..n?], b"one"); // datagram boundaries are kept
    ///     let (n, buf) = a.recv(vec![0; 8]).await;
    ///     assert_eq!(&buf[..n?], b"two");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = pair(Type::DGRAM)?;
        Ok((UnixDatagram { socket: a }, UnixDatagram { socket: b }))
    }

    /// Sets the default peer. Never blocks.
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let server = UnixDatagram::bind(&path)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     client.connect(&path)?;
    ///     client.send(b"connected").await.0?;
    ///     let (n, buf) = server.recv(vec![0; 16]).await;
    ///     assert_eq!(&buf[..n?], b"connected");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.socket.sock_ref().connect(&SockAddr::unix(path)?)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let (a, b) = UnixDatagram::pair()?;
    ///     let (n, _) = a.send(b"ping").await;
    ///     assert_eq!(n?, 4);
    ///     let (n, buf) = b.recv(vec![0; 8]).await;
    ///     assert_eq!(&buf[..n?], b"ping");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.send(buf).await
    }

    /// Receives one datagram (truncated to the buffer).
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let (a, b) = UnixDatagram::pair()?;
    ///     b.send(b"pong").await.0?;
    ///     let (n, buf) = a.recv(Vec::with_capacity(8)).await;
    ///     assert_eq!(&buf[..n?], b"pong");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.recv(buf).await
    }

    /// Sends one datagram to the connected peer with `fds` attached
    /// (`SCM_RIGHTS`); `buf` and `fds` come back, open until the send is
    /// done. At most [`MAX_FDS_PER_MESSAGE`](crate::op::MAX_FDS_PER_MESSAGE)
    /// fds.
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    /// use std::os::fd::{AsRawFd, OwnedFd};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let (a, b) = UnixDatagram::pair()?;
    ///     let (pipe_end, _other) = std::os::unix::net::UnixStream::pair()?;
    ///     let (sent, (_, fds)) = a.send_with_fds(b"pipe", vec![OwnedFd::from(pipe_end)]).await;
    ///     sent?;
    ///     let (received, buf) = b.recv_with_fds(vec![0; 8], 1).await;
    ///     let received = received?;
    ///     assert_eq!(&buf[..received.len], b"pipe");
    ///     assert_eq!(received.fds.len(), 1);
    ///     assert_ne!(received.fds[0].as_raw_fd(), fds[0].as_raw_fd()); // a new fd
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send_with_fds<B: IoBuf, F: std::os::fd::AsFd + Send + 'static>(
        &self,
        buf: B,
        fds: Vec<F>,
    ) -> BufResult<usize, (B, Vec<F>)> {
        self.socket.send_with_fds(buf, fds).await
    }

    /// Receives one datagram (truncated to the buffer) with room for up to
    /// `max_fds` descriptors sent with it; they come back owned,
    /// close-on-exec, and are closed if this future is dropped after they
    /// arrived. At most [`MAX_FDS_PER_MESSAGE`](crate::op::MAX_FDS_PER_MESSAGE).
    pub async fn recv_with_fds<B: IoBufMut>(
        &self,
        buf: B,
        max_fds: usize,
    ) -> BufResult<crate::op::ReceivedWithFds, B> {
        self.socket.recv_with_fds(buf, max_fds).await
    }

    /// Sends one datagram to the socket at `path`.
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let server = UnixDatagram::bind(&path)?;
    ///     let (n, _) = UnixDatagram::unbound()?.send_to(b"hello", &path).await;
    ///     assert_eq!(n?, 5);
    ///     let (n, buf) = server.recv(vec![0; 8]).await;
    ///     assert_eq!(&buf[..n?], b"hello");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send_to<B: IoBuf>(&self, buf: B, path: impl AsRef<Path>) -> BufResult<usize, B> {
        match SockAddr::unix(path) {
            Ok(addr) => self.socket.send_to(buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Receives one datagram and its sender (truncated to the buffer).
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let (server_path, client_path) = (dir.path().join("server"), dir.path().join("client"));
    /// proactor::block_on(async {
    ///     let server = UnixDatagram::bind(&server_path)?;
    ///     let client = UnixDatagram::bind(&client_path)?;
    ///     client.send_to(b"who am I?", &server_path).await.0?;
    ///     let (res, buf) = server.recv_from(vec![0; 16]).await;
    ///     let (n, from) = res?;
    ///     assert_eq!(&buf[..n], b"who am I?");
    ///     assert_eq!(from.as_pathname(), Some(client_path.as_path()));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (result, buf) = self.socket.recv_from(buf).await;
        (result.and_then(|(n, addr)| Ok((n, unix_addr(&addr)?))), buf)
    }

    /// The local address: the bound path, or unnamed.
    ///
    /// ```
    /// use proactor::net::UnixDatagram;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("sock");
    /// proactor::block_on(async {
    ///     let bound = UnixDatagram::bind(&path)?;
    ///     assert_eq!(bound.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     assert!(UnixDatagram::unbound()?.local_addr()?.is_unnamed());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_addr(&self.socket.sock_ref().local_addr()?)
    }
}

super::raw_handles!(UnixDatagram, |datagram| datagram.socket);
