//! Unix datagram sockets on edge cases: senders without a name.
// Unix domain sockets.
#![cfg(unix)]

mod common;

use proactor::net::UnixDatagram;

both_backends! {
    /// A datagram from an unnamed sender (a socketpair peer, or an
    /// unbound socket) is received: the sender's address is "unnamed",
    /// not an error that swallows the datagram.
    fn unix_recv_from_an_unnamed_sender(driver) {
        driver.block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let (n, _) = a.send(b"from a pair").await;
            assert_eq!(n.unwrap(), 11);
            let (got, buf) = b.recv_from(Vec::with_capacity(32)).await;
            let (n, from) = got.expect("recv_from a socketpair peer");
            assert_eq!(&buf[..n], b"from a pair");
            assert!(from.is_unnamed(), "{from:?}");
        });
    }

    /// Same, from an unbound socket's `send_to`; the datagram must not be
    /// swallowed by an address error.
    fn unix_recv_from_an_unbound_sender(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dgram");
        driver.block_on(async {
            let server = UnixDatagram::bind(&path).unwrap();
            let unbound = UnixDatagram::unbound().unwrap();
            let (n, _) = unbound.send_to(b"from unbound", &path).await;
            assert_eq!(n.unwrap(), 12);
            let (got, buf) = server.recv_from(Vec::with_capacity(32)).await;
            let (n, from) = got.expect("recv_from an unbound sender");
            assert_eq!(&buf[..n], b"from unbound");
            assert!(from.is_unnamed() || from.as_pathname().is_none(), "{from:?}");
        });
    }
}

both_backends! {
    /// Shutdown races: a read in flight when its own socket is shut down
    /// ends with EOF; an accept in flight when its listener is shut down
    /// ends with an error. Same on both back ends, and nothing hangs.
    fn shutdown_under_pending_read_and_accept(driver) {
        use std::time::Duration;
        let d = driver.clone();
        let (read_n, accept_err) = common::finishes_within(Duration::from_secs(5), "shutdown races", move || {
            d.block_on(async {
                let (a, _b) = common::tcp_pair().await;
                let read = a.read(Vec::with_capacity(16));
                let shut = async {
                    proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
                    a.shutdown(std::net::Shutdown::Both).await
                };
                let ((n, _), s) = futures::join!(read, shut);
                s.unwrap();
                let listener = proactor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let accept = listener.accept();
                let shut = async {
                    proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
                    socket2::SockRef::from(&listener).shutdown(std::net::Shutdown::Both)
                };
                let (accepted, s) = futures::join!(accept, shut);
                s.unwrap();
                (n.map_err(|e| e.to_string()), accepted.map(|_| ()).map_err(|e| e.raw_os_error()))
            })
        });
        assert_eq!(read_n, Ok(0));
        assert_eq!(accept_err, Err(Some(libc::EINVAL)));
    }
}
