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
/// `socket` field.
macro_rules! stream_io {
    () => {
        /// Reads up to `buf.bytes_total()` bytes; `Ok(0)` means the peer
        /// closed its side (or the buffer is empty).
        pub async fn read<B: crate::buf::IoBufMut>(
            &self,
            buf: B,
        ) -> crate::buf::BufResult<usize, B> {
            self.socket.recv(buf).await
        }

        /// Fills all of `buf.bytes_total()`, or fails with `UnexpectedEof`.
        pub async fn read_exact<B: crate::buf::IoBufMut>(
            &self,
            buf: B,
        ) -> crate::buf::BufResult<(), B> {
            self.socket.recv_exact(buf).await
        }

        /// Writes some of `buf`'s initialised bytes; returns how many.
        pub async fn write<B: crate::buf::IoBuf>(&self, buf: B) -> crate::buf::BufResult<usize, B> {
            self.socket.send(buf).await
        }

        /// Writes all of `buf`'s initialised bytes.
        pub async fn write_all<B: crate::buf::IoBuf>(
            &self,
            buf: B,
        ) -> crate::buf::BufResult<(), B> {
            self.socket.send_all(buf).await
        }

        /// Shuts down the read half, the write half or both.
        pub async fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
            self.socket.shutdown(how).await
        }
    };
}

/// Lends a socket type's handle the way std's types do: `AsRawFd` and
/// `AsFd` on Unix, `AsRawSocket` and `AsSocket` on Windows.
macro_rules! raw_handles {
    ($ty:ty) => {
        #[cfg(unix)]
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&**self.socket.fd())
            }
        }

        #[cfg(unix)]
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&**self.socket.fd())
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsRawSocket for $ty {
            fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
                std::os::windows::io::AsRawSocket::as_raw_socket(&**self.socket.fd())
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsSocket for $ty {
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                std::os::windows::io::AsSocket::as_socket(&**self.socket.fd())
            }
        }
    };
}
use raw_handles;

mod addr;
mod socket;
mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

pub use addr::ToSocketAddrs;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use unix::{UnixDatagram, UnixListener, UnixStream};
