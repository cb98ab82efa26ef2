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
pub use unix::{UnixDatagram, UnixListener, UnixStream};
