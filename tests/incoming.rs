//! `TcpListener::incoming` / `UnixListener::incoming`: a listener's
//! connections as a `Stream`, one multishot accept on io_uring, one accept
//! after another elsewhere; the same assertions on both back ends.
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::Duration;

use futures::StreamExt;
use proactor::net::{TcpListener, UnixListener, UnixStream};
use proactor::Driver;

/// Whether `driver` keeps a multishot accept in flight between connections
/// (io_uring on Linux 5.19 or newer): then the stream holds one operation
/// while idle, where one accept after another holds none.
fn multishot_in_flight(driver: &Driver) -> bool {
    driver.in_flight() == 1
}

/// Whether this kernel has multishot accept (Linux 5.19), which io_uring
/// then must use.
fn kernel_has_multishot_accept() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    version >= (5, 19)
}

both_backends! {
    fn connections_arrive_as_a_stream(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut incoming = listener.incoming();
            let clients = std::thread::spawn(move || {
                (0..50u8)
                    .map(|i| {
                        let mut client = std::net::TcpStream::connect(addr).unwrap();
                        client.write_all(&[i]).unwrap();
                        client
                    })
                    .collect::<Vec<_>>()
            });
            let mut seen = BTreeSet::new();
            for _ in 0..50 {
                let server = incoming.next().await.expect("the stream never ends").unwrap();
                let (n, buf) = server.read_exact(vec![0u8; 1]).await;
                n.unwrap();
                seen.insert(buf[0]);
            }
            assert_eq!(seen, (0..50).collect());
            drop(clients.join().unwrap());
        });
    }

    fn a_burst_in_the_backlog_is_taken_from_one_request(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let clients: Vec<_> = (0..20).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
            let mut incoming = listener.incoming();
            let mut peers = BTreeSet::new();
            for _ in 0..20 {
                let server = incoming.next().await.unwrap().unwrap();
                peers.insert(server.peer_addr().unwrap());
            }
            let clients: BTreeSet<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
            assert_eq!(peers, clients);
            if driver.backend() == proactor::Backend::Poll {
                assert_eq!(driver.in_flight(), 0, "one accept at a time, none idle");
            } else if kernel_has_multishot_accept() {
                assert!(multishot_in_flight(&driver), "io_uring keeps one multishot accept for them all");
            }
            drop(incoming);
        });
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
    }

    fn a_dropped_stream_closes_what_it_queued_and_the_listener_still_accepts(driver) {
        let fds = common::fd_count();
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut incoming = listener.incoming();
            let mut clients: Vec<_> = (0..10).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
            let first = incoming.next().await.unwrap().unwrap();
            // Let a multishot request take the rest of the backlog.
            proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
            let multishot = multishot_in_flight(&driver);
            drop(incoming);
            drop(first);
            if multishot {
                // Accepted for the stream, never taken: closed for it.
                for client in &mut clients[1..] {
                    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut byte = [0u8; 1];
                    assert!(matches!(client.read(&mut byte), Ok(0) | Err(_)), "a queued connection was not closed");
                }
            }
            // Connections that come while the kernel still has the
            // request are accepted for it, and closed: wait for its end.
            while driver.in_flight() > 0 {
                proactor::time::sleep(Duration::from_millis(1)).await.unwrap();
            }
            let late = std::net::TcpStream::connect(addr).unwrap();
            // The backlog may still hold the earlier ones (one accept at a
            // time took only the first): the listener serves them all.
            let mut accepted = 0;
            loop {
                let (server, peer) = listener.accept().await.unwrap();
                accepted += 1;
                drop(server);
                if peer == late.local_addr().unwrap() {
                    break;
                }
            }
            assert!(accepted == 1 || accepted == 10, "{accepted} accepted after the stream");
        });
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
        assert_eq!(common::fd_count_settles(fds), fds, "an accepted fd was left open");
    }

    fn an_error_is_an_item_and_the_stream_goes_on(driver) {
        let limit = common::nofile_limit();
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = socket2::SockAddr::from(listener.local_addr().unwrap());
            let mut incoming = listener.incoming();
            // The client's socket exists before the fds run out.
            let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            let mut room = limit;
            room.rlim_cur = (common::fd_count() + 32) as libc::rlim_t;
            common::set_nofile_limit(room);
            let hog = common::use_up_every_fd();
            client.connect(&addr).unwrap();
            let error = incoming.next().await.unwrap().expect_err("no fd for the connection");
            assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error}");
            drop(hog);
            common::set_nofile_limit(limit);
            let server = incoming.next().await.expect("the stream goes on").unwrap();
            assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap().as_socket().unwrap());
        });
        common::set_nofile_limit(limit);
    }

    fn unix_connections_arrive_as_a_stream(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        driver.block_on(async {
            let listener = UnixListener::bind(&path).unwrap();
            let mut incoming = listener.incoming();
            for i in 0..5u8 {
                let client = UnixStream::connect(&path).await.unwrap();
                client.write_all(vec![i]).await.0.unwrap();
                let server = incoming.next().await.unwrap().unwrap();
                let (n, buf) = server.read_exact(vec![0u8; 1]).await;
                n.unwrap();
                assert_eq!(buf, [i]);
            }
        });
    }
}
