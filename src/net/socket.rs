//! The socket all the public types wrap: an fd shared with in-flight
//! operations, and the driver they run on.

use std::io;
use std::net::Shutdown as How;
use std::sync::Arc;

use socket2::{Domain, Protocol, SockAddr, SockRef, Type};

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{Connect, Op, OpCode, Recv, RecvFrom, Send, SendTo, Shutdown};
use crate::os::sys::OwnedSocket;
use crate::Driver;

#[derive(Debug)]
pub(crate) struct Socket {
    /// Shared with in-flight operations, so the fd outlives every operation
    /// that may still use it, even a cancelled one.
    fd: Arc<OwnedSocket>,
    driver: Driver,
}

impl Socket {
    pub(crate) fn new(domain: Domain, ty: Type, protocol: Option<Protocol>) -> io::Result<Socket> {
        let driver = Driver::try_current()?;
        let socket = new_socket(domain, ty, protocol)?;
        Ok(Socket::from_owned(socket.into(), driver))
    }

    pub(crate) fn from_owned(fd: OwnedSocket, driver: Driver) -> Socket {
        Socket {
            fd: Arc::new(fd),
            driver,
        }
    }

    /// Adopts a socket made elsewhere, switching it to non-blocking mode.
    pub(crate) fn from_std(fd: OwnedSocket) -> io::Result<Socket> {
        SockRef::from(&fd).set_nonblocking(true)?;
        Ok(Socket::from_owned(fd, Driver::try_current()?))
    }

    /// Another handle on the same socket (a stream's second direction).
    pub(crate) fn share(&self) -> Socket {
        Socket {
            fd: self.fd.clone(),
            driver: self.driver.clone(),
        }
    }

    pub(crate) fn fd(&self) -> &Arc<OwnedSocket> {
        &self.fd
    }

    pub(crate) fn driver(&self) -> &Driver {
        &self.driver
    }

    pub(crate) fn sock_ref(&self) -> SockRef<'_> {
        SockRef::from(&*self.fd)
    }

    fn op<O: OpCode>(&self, op: O) -> Op<O> {
        Op::with_driver(op, self.driver.clone())
    }

    pub(crate) async fn connect(&self, addr: SockAddr) -> io::Result<()> {
        self.op(Connect::new(self.fd.clone(), addr)).await
    }

    pub(crate) async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.op(Recv::new(self.fd.clone(), buf)).await
    }

    pub(crate) async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.op(Send::new(self.fd.clone(), buf)).await
    }

    pub(crate) async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SockAddr), B> {
        self.op(RecvFrom::new(self.fd.clone(), buf)).await
    }

    pub(crate) async fn send_to<B: IoBuf>(&self, buf: B, addr: SockAddr) -> BufResult<usize, B> {
        self.op(SendTo::new(self.fd.clone(), buf, addr)).await
    }

    #[cfg(unix)]
    pub(crate) async fn send_with_fds<
        B: IoBuf,
        F: std::os::fd::AsFd + std::marker::Send + 'static,
    >(
        &self,
        buf: B,
        fds: Vec<F>,
    ) -> BufResult<usize, (B, Vec<F>)> {
        self.op(crate::op::SendWithFds::new(self.fd.clone(), buf, fds))
            .await
    }

    #[cfg(unix)]
    pub(crate) async fn recv_with_fds<B: IoBufMut>(
        &self,
        buf: B,
        max_fds: usize,
    ) -> BufResult<crate::op::ReceivedWithFds, B> {
        self.op(crate::op::RecvWithFds::new(self.fd.clone(), buf, max_fds))
            .await
    }

    pub(crate) async fn shutdown(&self, how: How) -> io::Result<()> {
        self.op(Shutdown::new(self.fd.clone(), how)).await
    }

    /// Sends every initialised byte of `buf`.
    pub(crate) async fn send_all<B: IoBuf>(&self, mut buf: B) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut sent = 0;
        while sent < total {
            let (result, slice) = self.send(buf.slice(sent..total)).await;
            buf = slice.into_inner();
            match result {
                Ok(0) => {
                    let zero =
                        io::Error::new(io::ErrorKind::WriteZero, "the peer accepted no more bytes");
                    return (Err(zero), buf);
                }
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }
}

/// A non-blocking, close-on-exec socket (and on Apple's systems, one that
/// never raises SIGPIPE, as they have no `MSG_NOSIGNAL`).
pub(crate) fn new_socket(
    domain: Domain,
    ty: Type,
    protocol: Option<Protocol>,
) -> io::Result<socket2::Socket> {
    #[cfg(windows)]
    {
        let socket = socket2::Socket::new(domain, ty, protocol)?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    }
    #[cfg(all(unix, not(target_vendor = "apple")))]
    return socket2::Socket::new(domain, ty.nonblocking().cloexec(), protocol);
    #[cfg(target_vendor = "apple")]
    {
        let socket = socket2::Socket::new(domain, ty, protocol)?;
        crate::os::sys::prepare_socket_after(SockRef::from(&socket))?;
        Ok(socket)
    }
}

/// Two connected sockets, prepared like [`new_socket`]'s.
#[cfg(unix)]
pub(crate) fn new_pair(ty: Type) -> io::Result<(socket2::Socket, socket2::Socket)> {
    #[cfg(not(target_vendor = "apple"))]
    return socket2::Socket::pair(Domain::UNIX, ty.nonblocking().cloexec(), None);
    #[cfg(target_vendor = "apple")]
    {
        let (a, b) = socket2::Socket::pair(Domain::UNIX, ty, None)?;
        crate::os::sys::prepare_socket_after(SockRef::from(&a))?;
        crate::os::sys::prepare_socket_after(SockRef::from(&b))?;
        Ok((a, b))
    }
}

/// The address as an IP socket address, or a clear error.
pub(crate) fn ip_addr(addr: &SockAddr) -> io::Result<std::net::SocketAddr> {
    addr.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}
