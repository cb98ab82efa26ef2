//! `BufPool` and `recv_stream`: a stream socket's chunks in pool buffers,
//! picked by the kernel from a registered ring on io_uring (one multishot
//! receive), taken from the pool by each receive elsewhere; the same
//! assertions on both back ends.

mod common;

use std::io::{ErrorKind, Write};
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use proactor::buf::{BufPool, PooledBuf};
use proactor::net::TcpStream;
use proactor::{Backend, Driver};

/// `len` bytes that tell their positions apart.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A connected pair: a blocking std client and a proactor server on the
/// current driver.
async fn pair() -> (std::net::TcpStream, TcpStream) {
    let (client, server) = common::std_tcp_pair();
    (client, TcpStream::from_std(server).unwrap())
}

/// The next chunk, or `None` if nothing came within `wait` (the stream is
/// starved, not ended).
async fn next_within(
    chunks: &mut (impl futures::Stream<Item = std::io::Result<PooledBuf>> + Unpin),
    wait: Duration,
) -> Option<Option<std::io::Result<PooledBuf>>> {
    match select(chunks.next(), Box::pin(proactor::time::sleep(wait))).await {
        Either::Left((item, _)) => Some(item),
        Either::Right(_) => None,
    }
}

both_backends! {
    fn every_byte_arrives_in_order(driver) {
        let sent = pattern(4 << 20);
        driver.block_on(async {
            let (mut client, server) = pair().await;
            let pool = BufPool::new(16, 4096).unwrap();
            let expected_registered = driver.backend() == Backend::IoUring && common::kernel_at_least(5, 19);
            assert_eq!(pool.is_registered(), expected_registered);
            let to_send = sent.clone();
            let writer = std::thread::spawn(move || {
                // Uneven writes, so chunks split anywhere.
                for piece in to_send.chunks(7919) {
                    client.write_all(piece).unwrap();
                }
            });
            let mut received = Vec::with_capacity(sent.len());
            let mut chunks = server.recv_stream(&pool);
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.unwrap();
                assert!(!chunk.is_empty() && chunk.len() <= 4096);
                received.extend_from_slice(&chunk);
            }
            assert!(chunks.next().await.is_none(), "an ended stream stays ended");
            writer.join().unwrap();
            assert!(received == sent, "bytes lost or out of order");
            assert_eq!(pool.in_use(), 0);
        });
    }

    fn a_dry_pool_waits_and_loses_nothing(driver) {
        driver.block_on(async {
            let (mut client, server) = pair().await;
            let pool = BufPool::new(2, 1000).unwrap();
            let sent = pattern(10_000);
            client.write_all(&sent).unwrap();
            let mut chunks = server.recv_stream(&pool);
            // Take both buffers and keep them.
            let mut held = Vec::new();
            while held.len() < 2 {
                held.push(chunks.next().await.unwrap().unwrap());
            }
            assert_eq!(pool.in_use(), 2);
            assert!(
                next_within(&mut chunks, Duration::from_millis(100)).await.is_none(),
                "no buffer is free: nothing can arrive"
            );
            let mut received: Vec<u8> = held.iter().flat_map(|c| c.iter().copied()).collect();
            drop(held);
            drop(client);
            while let Some(chunk) = chunks.next().await {
                received.extend_from_slice(&chunk.unwrap());
            }
            assert!(received == sent, "bytes lost or out of order");
        });
    }

    fn chunks_can_be_held_one_at_a_time(driver) {
        // A pool of one: every chunk must come back before the next.
        driver.block_on(async {
            let (mut client, server) = pair().await;
            let pool = BufPool::new(1, 64).unwrap();
            let sent = pattern(5000);
            client.write_all(&sent).unwrap();
            drop(client);
            let mut received = Vec::new();
            let mut chunks = server.recv_stream(&pool);
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.unwrap();
                assert_eq!(pool.in_use(), 1);
                received.extend_from_slice(&chunk);
            }
            assert!(received == sent);
        });
    }

    fn a_pool_of_another_driver_is_refused(driver) {
        let other = Driver::builder().force(driver.backend()).build().unwrap();
        let pool = BufPool::with_driver(&other, 4, 1024).unwrap();
        driver.block_on(async {
            let (mut client, server) = pair().await;
            client.write_all(b"never read").unwrap();
            let mut chunks = server.recv_stream(&pool);
            let error = chunks.next().await.unwrap().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
            assert!(chunks.next().await.is_none());
            // The bytes are still there for a reader that can take them.
            let (n, buf) = server.read(vec![0; 64]).await;
            assert_eq!(&buf[..n.unwrap()], b"never read");
        });
    }

    fn a_dropped_stream_gives_every_buffer_back(driver) {
        driver.block_on(async {
            let (mut client, server) = pair().await;
            let pool = BufPool::new(8, 512).unwrap();
            client.write_all(&pattern(8 * 512)).unwrap();
            let first = {
                let mut chunks = server.recv_stream(&pool);
                let first = chunks.next().await.unwrap().unwrap();
                // Let the rest arrive and queue in the stream untaken.
                proactor::time::sleep(Duration::from_millis(50)).await.unwrap();
                first
            };
            assert_eq!(pool.in_use(), 1, "what the dropped stream queued came back");
            drop(first);
            assert_eq!(pool.in_use(), 0);
            // Every buffer is usable again: eight held at once.
            client.write_all(&pattern(16 * 512)).unwrap();
            let mut chunks = server.recv_stream(&pool);
            let mut held = Vec::new();
            while held.len() < 8 {
                held.push(chunks.next().await.unwrap().unwrap());
            }
            assert_eq!(pool.in_use(), 8);
        });
    }

    fn a_forgotten_buffer_leaves_the_pool_one_short(driver) {
        driver.block_on(async {
            let (mut client, server) = pair().await;
            let pool = BufPool::new(2, 100).unwrap();
            let sent = pattern(2000);
            client.write_all(&sent).unwrap();
            drop(client);
            let mut chunks = server.recv_stream(&pool);
            let first = chunks.next().await.unwrap().unwrap();
            let mut received = first.to_vec();
            std::mem::forget(first);
            while let Some(chunk) = chunks.next().await {
                received.extend_from_slice(&chunk.unwrap());
            }
            assert!(received == sent);
            assert_eq!(pool.in_use(), 1, "the forgotten one stays out");
        });
    }

    fn bytes_read_ahead_come_first(driver) {
        driver.block_on(async {
            let (mut client, mut server) = pair().await;
            let pool = BufPool::new(4, 1024).unwrap();
            client.write_all(b"hello world").unwrap();
            let mut head = [0u8; 5];
            futures::AsyncReadExt::read_exact(&mut server, &mut head[..]).await.unwrap();
            assert_eq!(&head, b"hello");
            client.write_all(b", again").unwrap();
            drop(client);
            let mut rest = Vec::new();
            let mut chunks = server.recv_stream(&pool);
            while let Some(chunk) = chunks.next().await {
                rest.extend_from_slice(&chunk.unwrap());
            }
            assert_eq!(rest, b" world, again");
        });
    }

    fn streams_share_a_pool(driver) {
        driver.block_on(async {
            let pool = BufPool::new(4, 256).unwrap();
            let mut writers = Vec::new();
            let mut servers = Vec::new();
            for i in 0..4u8 {
                let (mut client, server) = pair().await;
                servers.push(server);
                writers.push(std::thread::spawn(move || {
                    let mine: Vec<u8> = pattern(50_000).into_iter().map(|b| b ^ i).collect();
                    client.write_all(&mine).unwrap();
                }));
            }
            let readers = servers.iter().enumerate().map(|(i, server)| {
                let pool = pool.clone();
                async move {
                    let mut got = Vec::new();
                    let mut chunks = server.recv_stream(&pool);
                    while let Some(chunk) = chunks.next().await {
                        got.extend_from_slice(&chunk.unwrap());
                    }
                    let want: Vec<u8> = pattern(50_000).into_iter().map(|b| b ^ i as u8).collect();
                    assert!(got == want, "stream {i}: bytes lost or out of order");
                }
            });
            futures::future::join_all(readers).await;
            for writer in writers {
                writer.join().unwrap();
            }
            assert_eq!(pool.in_use(), 0);
        });
    }

    fn buffers_go_back_from_other_threads(driver) {
        driver.block_on(async {
            let (mut client, server) = pair().await;
            let pool = BufPool::new(2, 128).unwrap();
            let sent = pattern(20_000);
            let to_send = sent.clone();
            let writer = std::thread::spawn(move || client.write_all(&to_send).unwrap());
            let (tx, rx) = std::sync::mpsc::channel::<PooledBuf>();
            let consumer = std::thread::spawn(move || {
                let mut got = Vec::new();
                for chunk in rx {
                    got.extend_from_slice(&chunk);
                }
                got
            });
            let mut chunks = server.recv_stream(&pool);
            while let Some(chunk) = chunks.next().await {
                tx.send(chunk.unwrap()).unwrap();
            }
            drop(tx);
            writer.join().unwrap();
            assert!(consumer.join().unwrap() == sent);
            assert_eq!(pool.in_use(), 0);
        });
    }

    fn dropping_the_driver_mid_stream_leaks_nothing(driver) {
        // Counted with no driver; the scope makes one and drops it.
        let backend = driver.backend();
        drop(driver);
        common::leaks_no_handles("a driver dropped mid-stream", || {
            let driver = common::driver(backend);
            let (mut client, server) = common::std_tcp_pair();
            client.write_all(&pattern(4096)).unwrap();
            let (pool, held) = driver.block_on(async {
                let server = TcpStream::from_std(server).unwrap();
                let pool = BufPool::new(8, 256).unwrap();
                let mut chunks = server.recv_stream(&pool);
                let held = chunks.next().await.unwrap().unwrap();
                // The stream goes with its socket; the driver after it.
                (pool, held)
            });
            drop(driver);
            assert_eq!(&held[..], &pattern(4096)[..held.len()]);
            drop(held);
            drop(pool);
            drop(client);
        });
    }

    fn a_forgotten_stream_is_safe(driver) {
        // Forgetting the stream leaks it, its receive and (through the
        // waker its receive keeps) the driver; the pool's memory stays
        // with the receive, so the kernel never writes freed memory.
        let (mut client, server) = common::std_tcp_pair();
        let pool = BufPool::with_driver(&driver, 4, 256).unwrap();
        let server = driver.block_on(async { TcpStream::from_std(server).unwrap() });
        let mut chunks = server.recv_stream(&pool);
        assert!(common::poll_once(&driver, &mut chunks.next()).is_pending());
        std::mem::forget(chunks);
        drop(pool);
        client.write_all(&pattern(1024)).unwrap();
        // Whatever the kernel writes now lands in memory still allocated.
        let _ = driver.dispatch();
        let churn: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 256]).collect();
        assert!(churn.iter().enumerate().all(|(i, v)| v.iter().all(|&b| b == i as u8)));
    }
}

#[test]
fn bad_pool_shapes_are_refused() {
    for backend in common::backends() {
        let driver = common::driver(backend);
        for (count, size) in [(0, 64), (3, 64), (1 << 16, 64), (4, 0), (usize::MAX, 64)] {
            let error = BufPool::with_driver(&driver, count, size).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{count} x {size}");
        }
        assert!(BufPool::with_driver(&driver, 1 << 15, 1).is_ok());
    }
}

// Unix: Wine closes a zero-linger socket with an orderly end, not a
// reset, so the Windows run under Wine cannot make the error.
#[cfg(unix)]
both_backends! {
    fn an_error_is_yielded_once_then_the_stream_ends(driver) {
        driver.block_on(async {
            let (client, server) = pair().await;
            let pool = BufPool::new(4, 1024).unwrap();
            // A reset: close with unread data and a zero linger.
            socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO)).unwrap();
            drop(client);
            let mut chunks = server.recv_stream(&pool);
            let error = chunks.next().await.unwrap().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
            assert!(chunks.next().await.is_none());
        });
    }

    fn unix_streams_have_it_too(driver) {
        driver.block_on(async {
            let (client, server) = proactor::net::UnixStream::pair().unwrap();
            let pool = BufPool::new(4, 512).unwrap();
            let sent = pattern(100_000);
            let writer = async {
                let (result, _) = client.write_all(sent.clone()).await;
                result.unwrap();
                drop(client);
            };
            let reader = async {
                let mut received = Vec::new();
                let mut chunks = server.recv_stream(&pool);
                while let Some(chunk) = chunks.next().await {
                    received.extend_from_slice(&chunk.unwrap());
                }
                received
            };
            let ((), received) = futures::join!(writer, reader);
            assert!(received == sent);
        });
    }
}

/// An echo server on `recv_stream` inside a tokio runtime (the host
/// integration's driver), each connection a tokio task.
#[cfg(all(feature = "tokio", target_os = "linux"))]
#[test]
fn an_echo_under_tokio() {
    let _serial = common::serial();
    let runtime = common::current_thread_runtime();
    runtime.block_on(async {
        let listener = proactor::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let pool = BufPool::new(8, 1024).unwrap();
            for _ in 0..3 {
                let (stream, _) = listener.accept().await.unwrap();
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut chunks = stream.recv_stream(&pool);
                    while let Some(chunk) = chunks.next().await {
                        let (sent, _) = stream.write_all(chunk.unwrap()).await;
                        sent.unwrap();
                    }
                });
            }
        });
        let clients = (0..3u8).map(|i| async move {
            let client = TcpStream::connect(addr).await.unwrap();
            let message: Vec<u8> = pattern(30_000).into_iter().map(|b| b ^ i).collect();
            let (sent, message) = client.write_all(message).await;
            sent.unwrap();
            let (got, echoed) = client.read_exact(vec![0u8; message.len()]).await;
            got.unwrap();
            assert!(echoed == message);
        });
        futures::future::join_all(clients).await;
        server.await.unwrap();
    });
}
