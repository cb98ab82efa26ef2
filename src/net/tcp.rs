use std::fmt;
use std::io;
use std::net::SocketAddr;

use socket2::{Domain, SockAddr, Type};

use super::addr::{each_addr, resolve};
use super::socket::{ip_addr, Socket};
use super::ToSocketAddrs;
use crate::Driver;

/// Backlog of listening sockets.
const LISTEN_BACKLOG: i32 = 1024;

/// A TCP listener.
pub struct TcpListener {
    socket: Socket,
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
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let driver = Driver::try_current()?;
        let addrs = resolve(addr, &driver).await?;
        each_addr(addrs, |addr| async move {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.sock_ref().set_reuse_address(true)?;
            socket.sock_ref().bind(&SockAddr::from(addr))?;
            socket.sock_ref().listen(LISTEN_BACKLOG)?;
            Ok(TcpListener { socket })
        })
        .await
    }

    /// Waits for a connection. An error such as `EMFILE` (no fds left)
    /// leaves the listener working: call `accept` again.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (socket, addr) = self.socket.accept().await?;
        Ok((TcpStream { socket }, ip_addr(&addr)?))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.socket.sock_ref().local_addr()?)
    }

    /// Adopts a standard listener (made non-blocking), on the current driver.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            socket: Socket::from_std(crate::os::sys::OwnedSocket::from(listener))?,
        })
    }

    /// The driver this listener's operations run on.
    pub fn driver(&self) -> &Driver {
        self.socket.driver()
    }
}

super::raw_handles!(TcpListener);

/// A TCP connection. Reads and writes take `&self`, so one task may read
/// while another writes.
pub struct TcpStream {
    socket: Socket,
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
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let driver = Driver::try_current()?;
        let addrs = resolve(addr, &driver).await?;
        each_addr(addrs, |addr| async move {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.connect(SockAddr::from(addr)).await?;
            Ok(TcpStream { socket })
        })
        .await
    }

    stream_io!();

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.sock_ref().set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.socket.sock_ref().tcp_nodelay()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.socket.sock_ref().peer_addr()?)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.socket.sock_ref().local_addr()?)
    }

    /// Adopts a standard stream (made non-blocking), on the current driver.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            socket: Socket::from_std(crate::os::sys::OwnedSocket::from(stream))?,
        })
    }

    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The driver this stream's operations run on.
    pub fn driver(&self) -> &Driver {
        self.socket.driver()
    }
}

super::raw_handles!(TcpStream);
