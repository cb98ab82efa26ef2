use std::fmt;
use std::io;
use std::net::SocketAddr;

use socket2::{Domain, SockAddr, Type};

use super::addr::{each_addr, resolve};
use super::socket::{ip_addr, Socket};
use super::ToSocketAddrs;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::Driver;

/// A UDP socket.
///
/// A datagram longer than the buffer given to `recv` / `recv_from` is
/// truncated: the buffer is filled, the rest of the datagram is discarded,
/// and the count is the number of bytes in the buffer.
///
/// ```
/// use proactor::net::UdpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"a long datagram", b.local_addr()?).await.0?;
///     let (res, buf) = b.recv_from(vec![0; 6]).await;
///     let (n, from) = res?;
///     assert_eq!((&buf[..n], from), (&b"a long"[..], a.local_addr()?)); // truncated
///     Ok(())
/// })
/// # }
/// ```
pub struct UdpSocket {
    socket: Socket,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

impl UdpSocket {
    /// Binds to the first of `addr` that works.
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(socket.local_addr()?.ip().is_loopback());
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let driver = Driver::try_current()?;
        let addrs = resolve(addr, &driver).await?;
        each_addr(addrs, |addr| async move {
            let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
            socket.sock_ref().bind(&SockAddr::from(addr))?;
            Ok(UdpSocket { socket })
        })
        .await
    }

    /// Sets the default peer for `send` and the only source `recv` accepts.
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addrs = resolve(addr, self.socket.driver()).await?;
        let socket = &self.socket;
        // connect(2) on a datagram socket only records the peer: it never
        // blocks.
        each_addr(addrs, |addr| async move {
            socket.sock_ref().connect(&SockAddr::from(addr))
        })
        .await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     let (n, _) = a.send(b"ping").await;
    ///     assert_eq!(n?, 4);
    ///     let (n, buf) = b.recv(vec![0; 64]).await;
    ///     assert_eq!(&buf[..n?], b"ping");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.send(buf).await
    }

    /// Receives one datagram from the connected peer (truncated to the
    /// buffer).
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     b.send(b"pong").await.0?;
    ///     let (n, buf) = a.recv(Vec::with_capacity(64)).await;
    ///     assert_eq!(&buf[..n?], b"pong");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.recv(buf).await
    }

    /// Sends one datagram to `addr`.
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let (n, _) = a.send_to(b"hello", b.local_addr()?).await;
    ///     assert_eq!(n?, 5);
    ///     let (res, buf) = b.recv_from(vec![0; 64]).await;
    ///     let (n, from) = res?;
    ///     assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn send_to<B: IoBuf>(&self, buf: B, addr: SocketAddr) -> BufResult<usize, B> {
        self.socket.send_to(buf, SockAddr::from(addr)).await
    }

    /// Receives one datagram and its sender (truncated to the buffer).
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let server = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let client = UdpSocket::bind("127.0.0.1:0").await?;
    ///     client.send_to(b"echo me", server.local_addr()?).await.0?;
    ///     let (res, buf) = server.recv_from(vec![0; 64]).await;
    ///     let (n, from) = res?;
    ///     assert_eq!(from, client.local_addr()?);
    ///     server.send_to(buf[..n].to_vec(), from).await.0?;
    ///     let (n, buf) = client.recv(vec![0; 64]).await;
    ///     assert_eq!(&buf[..n?], b"echo me");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (result, buf) = self.socket.recv_from(buf).await;
        (result.and_then(|(n, addr)| Ok((n, ip_addr(&addr)?))), buf)
    }

    /// The local address: with port 0, the port the OS picked.
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let addr = socket.local_addr()?;
    ///     assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST);
    ///     assert_ne!(addr.port(), 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.socket.sock_ref().local_addr()?)
    }

    /// The connected peer's address; `NotConnected` before
    /// [`connect`](Self::connect).
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_eq!(a.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.socket.sock_ref().peer_addr()?)
    }

    /// Adopts a standard socket (made non-blocking), on the current driver.
    ///
    /// ```
    /// use proactor::net::UdpSocket;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let addr = std_socket.local_addr()?;
    ///     let socket = UdpSocket::from_std(std_socket)?;
    ///     assert_eq!(socket.local_addr()?, addr);
    ///     socket.send_to(b"to myself", addr).await.0?;
    ///     let (n, buf) = socket.recv(vec![0; 64]).await;
    ///     assert_eq!(&buf[..n?], b"to myself");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            socket: Socket::from_std(crate::os::sys::OwnedSocket::from(socket))?,
        })
    }
}

super::raw_handles!(UdpSocket, |udp| udp.socket);
