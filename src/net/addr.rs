//! Addresses to connect or bind to, with name resolution off the event loop.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::op::{Blocking, Op};
use crate::Driver;

/// What resolving an address needs: nothing, or a lookup.
#[derive(Debug)]
pub enum Resolution {
    /// Numeric addresses, ready at once.
    Ready(Vec<SocketAddr>),
    /// A `host:port` that needs the resolver.
    Lookup(String),
}

mod sealed {
    pub trait Sealed {
        fn resolution(self) -> std::io::Result<super::Resolution>;
    }
}

/// Things that name one or more socket addresses, like
/// `std::net::ToSocketAddrs`. Numeric addresses cost nothing; host names are
/// resolved on the driver's blocking pool, never on the event loop.
///
/// Implemented for `SocketAddr` (and its V4/V6 forms), `(IpAddr, u16)`,
/// `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `(&str, u16)`, `(String, u16)`,
/// `&str`, `String`, `&String` and slices and arrays of `SocketAddr`.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use proactor::net::UdpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?; // &str
///     let b = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?; // (Ipv4Addr, u16)
///     let c = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
///     let d = UdpSocket::bind(("localhost", 0)).await?; // resolved off the event loop
///     for socket in [a, b, c, d] {
///         assert!(socket.local_addr()?.ip().is_loopback());
///     }
///     Ok(())
/// })
/// # }
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

impl<T: sealed::Sealed> ToSocketAddrs for T {}

macro_rules! numeric {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {
            fn resolution(self) -> io::Result<Resolution> {
                Ok(Resolution::Ready(vec![SocketAddr::from(self)]))
            }
        }
    )*};
}

numeric!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl sealed::Sealed for &[SocketAddr] {
    fn resolution(self) -> io::Result<Resolution> {
        Ok(Resolution::Ready(self.to_vec()))
    }
}

impl<const N: usize> sealed::Sealed for [SocketAddr; N] {
    fn resolution(self) -> io::Result<Resolution> {
        Ok(Resolution::Ready(self.to_vec()))
    }
}

impl sealed::Sealed for &str {
    fn resolution(self) -> io::Result<Resolution> {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Ok(Resolution::Ready(vec![addr])),
            Err(_) => Ok(Resolution::Lookup(self.to_owned())),
        }
    }
}

impl sealed::Sealed for String {
    fn resolution(self) -> io::Result<Resolution> {
        self.as_str().resolution()
    }
}

impl sealed::Sealed for &String {
    fn resolution(self) -> io::Result<Resolution> {
        self.as_str().resolution()
    }
}

impl sealed::Sealed for (&str, u16) {
    fn resolution(self) -> io::Result<Resolution> {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Ok(Resolution::Ready(vec![SocketAddr::new(ip, self.1)])),
            Err(_) => Ok(Resolution::Lookup(format!("{}:{}", self.0, self.1))),
        }
    }
}

impl sealed::Sealed for (String, u16) {
    fn resolution(self) -> io::Result<Resolution> {
        (self.0.as_str(), self.1).resolution()
    }
}

/// Resolves `addrs`: at once if numeric, else on `driver`'s blocking pool.
pub(crate) async fn resolve(
    addrs: impl ToSocketAddrs,
    driver: &Driver,
) -> io::Result<Vec<SocketAddr>> {
    let found = match addrs.resolution()? {
        Resolution::Ready(found) => found,
        Resolution::Lookup(host) => {
            let lookup = Blocking::new(move || {
                std::net::ToSocketAddrs::to_socket_addrs(host.as_str()).map(Vec::from_iter)
            });
            Op::with_driver(lookup, driver.clone()).await??
        }
    };
    if found.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no addresses to connect to",
        ));
    }
    Ok(found)
}

/// Tries `attempt` on each address in turn; the first success, or the last
/// error.
pub(crate) async fn each_addr<T, F, Fut>(addrs: Vec<SocketAddr>, mut attempt: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs {
        match attempt(addr).await {
            Ok(done) => return Ok(done),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses")))
}
