//! `TcpListener::incoming` / `UnixListener::incoming`: a listener's
//! connections as a `Stream`, one multishot accept on io_uring, one accept
//! after another elsewhere; the same assertions on both back ends. Counts
//! of open fds are counts of handles on Windows.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use futures::StreamExt;
use proactor::net::TcpListener;
use proactor::Driver;

/// What an accept on a socket that does not listen fails with.
#[cfg(unix)]
const EINVAL: i32 = libc::EINVAL;
/// What an accept on a socket that does not listen fails with (`WSAEINVAL`).
#[cfg(windows)]
const EINVAL: i32 = 10022;

/// Whether `driver` keeps a multishot accept in flight between connections
/// (io_uring on Linux 5.19 or newer): then the stream holds one operation
/// while idle, where one accept after another holds none.
fn multishot_in_flight(driver: &Driver) -> bool {
    driver.in_flight() == 1
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
            } else if common::kernel_at_least(5, 19) {
                assert!(multishot_in_flight(&driver), "io_uring keeps one multishot accept for them all");
            }
            drop(incoming);
        });
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
    }

    fn what_a_dropped_stream_did_not_take_goes_back_to_the_listener(driver) {
        let fds = common::open_handles();
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut incoming = listener.incoming();
            let clients: Vec<_> = (0..10).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
            let first = incoming.next().await.unwrap().unwrap();
            // Let a multishot request take the rest of the backlog.
            proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
            drop(incoming);
            let late = std::net::TcpStream::connect(addr).unwrap();
            // Every client is served: those the stream's request took, by
            // the listener, and the late one.
            let mut peers = BTreeSet::from([first.peer_addr().unwrap()]);
            while peers.len() < 11 {
                let (server, peer) = listener.accept().await.unwrap();
                assert_eq!(server.peer_addr().unwrap(), peer);
                peers.insert(peer);
            }
            let mut expected: BTreeSet<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
            expected.insert(late.local_addr().unwrap());
            assert_eq!(peers, expected);
        });
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
        // Parking while counting: on Windows a cancelled AFD poll holds its
        // AFD handle until a wait of the driver takes its completion.
        let now = common::settles_at_or_below(fds, || {
            driver.park(Some(Duration::from_millis(10))).unwrap();
            common::open_handles()
        });
        common::assert_no_more_handles(now, fds, "the handed-back connections");
    }

    fn a_fresh_stream_per_connection_serves_every_client(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let clients: Vec<_> = (0..10).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
            let mut served = BTreeSet::new();
            for _ in 0..10 {
                let server = listener.incoming().next().await.unwrap().unwrap();
                served.insert(server.peer_addr().unwrap());
            }
            let expected: BTreeSet<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
            assert_eq!(served, expected);
        });
    }

    fn a_stream_nobody_polls_takes_only_a_few_connections(driver) {
        let fds = common::open_handles();
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut incoming = listener.incoming();
            let first_client = std::net::TcpStream::connect(addr).unwrap();
            let first = incoming.next().await.unwrap().unwrap();
            // At capacity: the server stops polling, and keeps the stream,
            // while clients keep coming.
            let clients = std::thread::spawn(move || {
                (0..200)
                    .map(|_| {
                        std::thread::sleep(Duration::from_micros(500));
                        std::net::TcpStream::connect(addr).unwrap()
                    })
                    .collect::<Vec<_>>()
            });
            while !clients.is_finished() {
                proactor::time::sleep(Duration::from_millis(10)).await.unwrap();
            }
            let clients = clients.join().unwrap();
            proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
            // Client ends, the listener, the first pair: the rest are
            // connections accepted meanwhile.
            let accepted_meanwhile = common::open_handles() - fds - 200 - 3;
            eprintln!("{:?}: {accepted_meanwhile} of 200 accepted while nobody polled", driver.backend());
            assert!(accepted_meanwhile < 100, "{accepted_meanwhile} connections accepted while nobody polled");
            // Polled again: every client is served.
            let mut served = BTreeSet::new();
            while served.len() < 200 {
                let server = incoming.next().await.unwrap().unwrap();
                served.insert(server.peer_addr().unwrap());
            }
            let expected: BTreeSet<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
            assert_eq!(served, expected);
            drop((first_client, first));
        });
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
    }

    fn a_forgotten_stream_holds_only_a_few_connections(driver) {
        let fds = common::open_handles();
        let addr = driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut incoming = listener.incoming();
            assert!(futures::poll!(incoming.next()).is_pending());
            std::mem::forget(incoming);
            drop(listener);
            addr
        });
        let clients = std::thread::spawn(move || {
            (0..200)
                .filter_map(|_| {
                    std::thread::sleep(Duration::from_micros(500));
                    std::net::TcpStream::connect(addr).ok()
                })
                .collect::<Vec<_>>()
        });
        while !clients.is_finished() {
            let _ = driver.park(Some(Duration::from_millis(10)));
        }
        drop(clients.join().unwrap());
        let leaked = common::open_handles_settle(fds).saturating_sub(fds);
        // The listening socket, and what the request queued before it was
        // stopped: fewer than the clients that came.
        eprintln!("{:?}: {leaked} fds held for a forgotten stream, 200 clients", driver.backend());
        assert!(leaked < 100, "{leaked} fds held for one forgotten stream");
    }

    fn a_socket_that_does_not_listen_gives_einval_every_time(driver) {
        driver.block_on(async {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
            socket.set_nonblocking(true).unwrap();
            let listener = TcpListener::from_std(std::net::TcpListener::from(socket)).unwrap();
            let mut incoming = listener.incoming();
            for _ in 0..3 {
                let error = incoming.next().await.unwrap().expect_err("not listening");
                assert_eq!(error.raw_os_error(), Some(EINVAL), "{error}");
            }
        });
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
    }
}

// Unix only: an fd limit (setrlimit) to run out of, and Unix sockets.
#[cfg(unix)]
mod unix_only {
    use super::*;
    use proactor::net::{UnixListener, UnixStream};

    both_backends! {
        fn an_error_is_an_item_and_the_stream_goes_on(driver) {
            let limit = common::nofile_limit();
            driver.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = socket2::SockAddr::from(listener.local_addr().unwrap());
                let mut incoming = listener.incoming();
                // The client's socket exists before the fds run out.
                let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
                let mut room = limit;
                room.rlim_cur = (common::open_handles() + 32) as libc::rlim_t;
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
}
