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
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.send(buf).await
    }

    /// Receives one datagram from the connected peer (truncated to the
    /// buffer).
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.socket.recv(buf).await
    }

    /// Sends one datagram to `addr`.
    pub async fn send_to<B: IoBuf>(&self, buf: B, addr: SocketAddr) -> BufResult<usize, B> {
        self.socket.send_to(buf, SockAddr::from(addr)).await
    }

    /// Receives one datagram and its sender (truncated to the buffer).
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (result, buf) = self.socket.recv_from(buf).await;
        (result.and_then(|(n, addr)| Ok((n, ip_addr(&addr)?))), buf)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.socket.sock_ref().local_addr()?)
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(&self.socket.sock_ref().peer_addr()?)
    }

    /// Adopts a standard socket (made non-blocking), on the current driver.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            socket: Socket::from_std(crate::os::sys::OwnedSocket::from(socket))?,
        })
    }
}

super::raw_handles!(UdpSocket, |udp| udp.socket);
