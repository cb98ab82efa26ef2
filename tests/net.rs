//! Networking on both back ends.

mod common;

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use futures::future::join_all;
use proactor::net::{TcpListener, TcpStream, UdpSocket};
#[cfg(unix)]
use proactor::net::{UnixDatagram, UnixListener, UnixStream};

both_backends! {
    fn tcp_round_trip(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            assert_eq!(client.peer_addr().unwrap(), addr);
            client.set_nodelay(true).unwrap();
            assert!(client.nodelay().unwrap());

            let payload: Vec<u8> = (0..256 * 1024u32).map(|i| (i % 256) as u8).collect();
            let (sent, received) = futures::join!(client.write_all(payload.clone()), server.read_exact(Vec::with_capacity(payload.len())));
            sent.0.unwrap();
            received.0.unwrap();
            assert_eq!(received.1, payload);

            client.shutdown(Shutdown::Write).await.unwrap();
            let (n, _) = server.read(Vec::with_capacity(16)).await;
            assert_eq!(n.unwrap(), 0, "EOF after the peer shut down its write half");
            let (n, _) = server.write(b"still open").await;
            assert_eq!(n.unwrap(), 10, "the other direction still works");
            let (n, buf) = client.read(Vec::with_capacity(16)).await;
            assert_eq!(&buf[..n.unwrap()], b"still open");
        });
    }

    fn many_connections_at_once(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = async {
                let mut handled = Vec::new();
                for _ in 0..64 {
                    let (stream, _) = listener.accept().await.unwrap();
                    handled.push(async move {
                        let (r, buf) = stream.read_exact(vec![0u8; 8]).await;
                        r.unwrap();
                        let (r, _) = stream.write_all(buf).await;
                        r.unwrap();
                    });
                }
                join_all(handled).await;
            };
            let clients = join_all((0..64u64).map(|i| async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                let (r, _) = stream.write_all(i.to_le_bytes().to_vec()).await;
                r.unwrap();
                let (r, buf) = stream.read_exact(vec![0u8; 8]).await;
                r.unwrap();
                assert_eq!(u64::from_le_bytes(buf.try_into().unwrap()), i);
            }));
            futures::join!(server, clients);
        });
    }

    fn connect_to_a_closed_port_is_refused(driver) {
        // A port that was just free: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = driver.block_on(TcpStream::connect(("127.0.0.1", port))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    }

    fn host_names_resolve_off_the_loop(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let client = TcpStream::connect(format!("localhost:{port}")).await.unwrap();
            let (_server, _) = listener.accept().await.unwrap();
            assert!(client.peer_addr().unwrap().ip().is_loopback());
            let err = TcpStream::connect("no-such-host.invalid:80").await.unwrap_err();
            assert_ne!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
            let err = TcpStream::connect("not an address").await.unwrap_err();
            assert!(!err.to_string().is_empty());
        });
    }

    fn write_to_a_shut_down_stream_is_broken_pipe(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let _server = listener.accept().await.unwrap();
            client.shutdown(Shutdown::Write).await.unwrap();
            let (result, _) = client.write(b"after shutdown").await;
            assert_eq!(result.unwrap_err().kind(), ErrorKind::BrokenPipe);
        });
    }

    fn peer_reset_mid_write_is_an_error(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let big = vec![7u8; 8 << 20];
            let writer = client.write_all(big);
            let resetter = async {
                proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
                // SO_LINGER 0: close sends RST.
                let std_server = socket2::SockRef::from(&server);
                std_server.set_linger(Some(Duration::ZERO)).unwrap();
                drop(server);
            };
            let ((result, _), ()) = futures::join!(writer, resetter);
            let err = result.unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
                "unexpected {err:?}"
            );
        });
    }

    fn udp_send_and_receive(driver) {
        driver.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b_addr = b.local_addr().unwrap();
            let (n, _) = a.send_to(b"datagram", b_addr).await;
            assert_eq!(n.unwrap(), 8);
            let (got, buf) = b.recv_from(Vec::with_capacity(64)).await;
            let (n, from) = got.unwrap();
            assert_eq!(&buf[..n], b"datagram");
            assert_eq!(from, a.local_addr().unwrap());

            a.connect(b_addr).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b_addr);
            let (n, _) = a.send(b"connected").await;
            assert_eq!(n.unwrap(), 9);
            let (n, buf) = b.recv(Vec::with_capacity(64)).await;
            assert_eq!(&buf[..n.unwrap()], b"connected");
        });
    }

    fn udp_datagram_larger_than_the_buffer_is_truncated(driver) {
        driver.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let big: Vec<u8> = (0..100u8).collect();
            let (n, _) = a.send_to(big, b.local_addr().unwrap()).await;
            assert_eq!(n.unwrap(), 100);
            let (n, _) = a.send_to(b"next", b.local_addr().unwrap()).await;
            assert_eq!(n.unwrap(), 4);
            let (got, buf) = b.recv_from(Vec::with_capacity(10)).await;
            assert_eq!(got.unwrap().0, 10, "the buffer is filled");
            assert_eq!(buf, (0..10u8).collect::<Vec<_>>());
            let (got, buf) = b.recv_from(Vec::with_capacity(10)).await;
            assert_eq!(&buf[..got.unwrap().0], b"next", "the rest of the big datagram is discarded");
        });
    }

    fn from_std_sockets(driver) {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = std_listener.local_addr().unwrap();
        let _guard = driver.enter();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let std_client = std::net::TcpStream::connect(addr).unwrap();
        let client = TcpStream::from_std(std_client).unwrap();
        driver.block_on(async {
            let (server, _) = listener.accept().await.unwrap();
            let (r, _) = client.write_all(b"adopted").await;
            r.unwrap();
            let (r, buf) = server.read_exact(vec![0; 7]).await;
            r.unwrap();
            assert_eq!(buf, b"adopted");
        });
        let std_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        UdpSocket::from_std(std_udp).unwrap();
    }
}

/// Runs only as a child of `no_sigpipe_when_writing_to_a_closed_socket`.
#[cfg(unix)]
#[test]
fn child_with_default_sigpipe() {
    let Ok(backend) = std::env::var("PROACTOR_TEST_SIGPIPE_CHILD") else {
        return;
    };
    // SAFETY: restores the default disposition, as a C program has it.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let driver = common::driver(if backend == "uring" {
        proactor::Backend::IoUring
    } else {
        proactor::Backend::Poll
    });
    driver.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let (result, _) = a.write(b"nobody listens").await;
        assert_eq!(result.unwrap_err().kind(), ErrorKind::BrokenPipe);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        drop(listener.accept().await.unwrap());
        drop(listener);
        // The first write may be accepted before the RST arrives.
        let mut last = Ok(0);
        for _ in 0..50 {
            let (result, _) = client.write(vec![1u8; 1024]).await;
            last = result;
            if last.is_err() {
                break;
            }
            proactor::time::sleep(Duration::from_millis(2))
                .await
                .unwrap();
        }
        let err = last.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
    });
    println!("CHILD-OK");
}

#[cfg(unix)]
#[test]
fn no_sigpipe_when_writing_to_a_closed_socket() {
    let _serial = common::serial();
    for backend in common::backends().into_iter().map(common::env_name) {
        let (ok, out) = common::run_child(
            "child_with_default_sigpipe",
            &[("PROACTOR_TEST_SIGPIPE_CHILD", backend)],
        );
        assert!(
            ok && out.contains("CHILD-OK"),
            "{backend}: the child died or failed:\n{out}"
        );
    }
}

/// Runs only as a child of `accept_without_free_fds_recovers`.
#[cfg(unix)]
#[test]
fn child_with_few_fds() {
    let Ok(backend) = std::env::var("PROACTOR_TEST_EMFILE_CHILD") else {
        return;
    };
    let driver = common::driver(if backend == "uring" {
        proactor::Backend::IoUring
    } else {
        proactor::Backend::Poll
    });
    driver.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Use up every fd the limit allows, keeping a few to free later.
        let limit = common::fd_count() as u64 + 16;
        let rlimit = libc::rlimit {
            rlim_cur: libc::rlim_t::try_from(limit).unwrap(),
            rlim_max: libc::rlim_t::try_from(limit).unwrap(),
        };
        // SAFETY: setrlimit with a valid struct.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) }, 0);
        let client = std::net::TcpStream::connect(addr).unwrap();
        let mut hoard = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hoard.push(f);
        }
        let err = listener.accept().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err:?}");
        drop(hoard);
        let (stream, _) = listener
            .accept()
            .await
            .expect("the listener works again once fds are free");
        drop((stream, client));
    });
    println!("CHILD-OK");
}

#[cfg(unix)]
#[test]
fn accept_without_free_fds_recovers() {
    let _serial = common::serial();
    for backend in common::backends().into_iter().map(common::env_name) {
        let (ok, out) = common::run_child(
            "child_with_few_fds",
            &[("PROACTOR_TEST_EMFILE_CHILD", backend)],
        );
        assert!(
            ok && out.contains("CHILD-OK"),
            "{backend}: child failed:\n{out}"
        );
    }
}

/// Unix domain sockets, and fd counting through /proc or /dev/fd.
#[cfg(unix)]
mod unix_only {
    use super::*;

    both_backends! {
        fn fd_numbers_reused_after_close_still_wait(driver) {
            use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
            // A socket waits and is closed; new sockets reuse its number,
            // once with a dup of the old one still open (so epoll keeps its
            // old registration). Waits on the new sockets must still work.
            driver.block_on(async {
                // One listener throughout, so closed numbers go to new streams.
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let pair = || async {
                    let client = TcpStream::connect(addr).await.unwrap();
                    (client, listener.accept().await.unwrap().0)
                };
                for keep_a_dup in [false, true] {
                    let (a, b) = pair().await;
                    let old_number = a.as_raw_fd();
                    let (n, _) = futures::join!(a.read(Vec::with_capacity(4)), async {
                        proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
                        b.write_all(b"ping").await
                    })
                    .0;
                    assert_eq!(n.unwrap(), 4);
                    // SAFETY: dup of a live fd; the result is owned below.
                    let dup = keep_a_dup.then(|| unsafe { OwnedFd::from_raw_fd(libc::dup(old_number)) });
                    drop((a, b));
                    let mut reused = false;
                    for _ in 0..4 {
                        let (c, d) = pair().await;
                        reused |= c.as_raw_fd() == old_number || d.as_raw_fd() == old_number;
                        for (reader, writer) in [(&c, &d), (&d, &c)] {
                            let read = proactor::time::timeout(Duration::from_secs(10), reader.read(Vec::with_capacity(4)));
                            let (n, _) = futures::join!(read, async {
                                proactor::time::sleep(Duration::from_millis(5)).await.unwrap();
                                writer.write_all(b"pong").await
                            })
                            .0
                            .expect("a wait on a reused fd number never ended");
                            assert_eq!(n.unwrap(), 4);
                        }
                    }
                    assert!(reused, "no new socket took the old fd number");
                    drop(dup);
                }
            });
        }

        fn unix_stream_listener_and_pair(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("sock");
            driver.block_on(async {
                let listener = UnixListener::bind(&path).unwrap();
                assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
                let client = UnixStream::connect(&path).await.unwrap();
                let (server, peer) = listener.accept().await.unwrap();
                assert!(peer.is_unnamed(), "an unbound client has no name: {peer:?}");
                let (r, _) = client.write_all(b"over unix").await;
                r.unwrap();
                let (r, buf) = server.read_exact(vec![0; 9]).await;
                r.unwrap();
                assert_eq!(buf, b"over unix");

                let (a, b) = UnixStream::pair().unwrap();
                let (r, _) = a.write_all(b"pair").await;
                r.unwrap();
                a.shutdown(Shutdown::Write).await.unwrap();
                let (r, buf) = b.read_exact(vec![0; 4]).await;
                r.unwrap();
                assert_eq!(buf, b"pair");
                let (n, _) = b.read(Vec::with_capacity(4)).await;
                assert_eq!(n.unwrap(), 0);
            });
        }

        fn unix_datagrams(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("dgram");
            driver.block_on(async {
                let server = UnixDatagram::bind(&path).unwrap();
                let client_path = dir.path().join("client");
                let client = UnixDatagram::bind(&client_path).unwrap();
                let (n, _) = client.send_to(b"hello", &path).await;
                assert_eq!(n.unwrap(), 5);
                let (got, buf) = server.recv_from(Vec::with_capacity(16)).await;
                let (n, from) = got.unwrap();
                assert_eq!(&buf[..n], b"hello");
                assert_eq!(from.as_pathname(), Some(client_path.as_path()));

                let (a, b) = UnixDatagram::pair().unwrap();
                let (n, _) = a.send(b"0123456789").await;
                assert_eq!(n.unwrap(), 10);
                let (n, buf) = b.recv(Vec::with_capacity(4)).await;
                assert_eq!(n.unwrap(), 4);
                assert_eq!(&buf[..], b"0123", "truncated to the buffer");
                let unbound = UnixDatagram::unbound().unwrap();
                unbound.connect(&path).unwrap();
                let (n, _) = unbound.send(b"x").await;
                assert_eq!(n.unwrap(), 1);
            });
        }

        fn dropped_accepts_leak_nothing(driver) {
            let fds_before = common::fd_count();
            driver.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                for _ in 0..100 {
                    let accept = listener.accept();
                    let timed = proactor::time::timeout(Duration::from_millis(1), accept).await;
                    assert!(timed.is_err(), "nobody connects");
                }
            });
            assert!(common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
            assert_eq!(common::fd_count_settles(fds_before), fds_before);
        }
    }
}
