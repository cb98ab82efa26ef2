//! `BufPool` and `recv_stream` under hostile use: the ring's tail wrapping
//! around, buffers coming back from many threads, wakers that panic, a
//! forked child making a pool on its parent's ring, streams dropped and
//! made again.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use futures::StreamExt;
use proactor::buf::BufPool;
use proactor::net::TcpStream;

/// `len` bytes that tell their positions apart.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

both_backends! {
    /// Tiny buffers, so the pool's buffers come back far more than 65 536
    /// times (the provided-buffer ring's u16 tail wraps), each dropped on
    /// one of several threads while the stream goes on; a pool larger than
    /// the multishot queue limit.
    fn more_than_65536_returns_from_many_threads_lose_nothing(driver) {
        const SIZE: usize = 16;
        let sent = pattern(SIZE * 70_000);
        let (mut client, server) = common::std_tcp_pair();
        let pool = BufPool::with_driver(&driver, 64, SIZE).unwrap();
        let to_send = sent.clone();
        let writer = std::thread::spawn(move || {
            for piece in to_send.chunks(4093) {
                client.write_all(piece).unwrap();
            }
        });
        let returned = Arc::new(AtomicUsize::new(0));
        let (droppers, handles): (Vec<_>, Vec<_>) = (0..3)
            .map(|_| {
                let (tx, rx) = mpsc::channel::<proactor::buf::PooledBuf>();
                let returned = returned.clone();
                let handle = std::thread::spawn(move || {
                    for chunk in rx {
                        drop(chunk);
                        returned.fetch_add(1, Ordering::Relaxed);
                    }
                });
                (tx, handle)
            })
            .unzip();
        let received = driver.block_on(async {
            let server = TcpStream::from_std(server).unwrap();
            let mut received = Vec::with_capacity(sent.len());
            let mut chunks = server.recv_stream(&pool);
            let mut n = 0usize;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.unwrap();
                assert!(!chunk.is_empty() && chunk.len() <= SIZE);
                received.extend_from_slice(&chunk);
                droppers[n % droppers.len()].send(chunk).unwrap();
                n += 1;
            }
            received
        });
        drop(droppers);
        handles.into_iter().for_each(|h| h.join().unwrap());
        writer.join().unwrap();
        assert!(returned.load(Ordering::Relaxed) > 65_536);
        assert!(received == sent, "bytes lost or out of order");
        assert_eq!(pool.in_use(), 0);
    }

    /// A stream dropped after one chunk, bytes sent only then, and a new
    /// stream made on the same socket (`recv_stream(&pool).next().await`,
    /// as the docs show): the new stream gets those bytes.
    fn a_stream_made_again_loses_no_bytes(driver) {
        let (mut client, server) = common::std_tcp_pair();
        let pool = BufPool::with_driver(&driver, 8, 1024).unwrap();
        driver.block_on(async {
            let server = TcpStream::from_std(server).unwrap();
            client.write_all(b"first").unwrap();
            let chunk = server.recv_stream(&pool).next().await.unwrap().unwrap();
            assert_eq!(&chunk[..], b"first");
            drop(chunk);
            // The first stream is gone before these are sent.
            client.write_all(b"second").unwrap();
            drop(client);
            let mut chunks = server.recv_stream(&pool);
            let mut rest = Vec::new();
            while let Some(chunk) = chunks.next().await {
                rest.extend_from_slice(&chunk.unwrap());
            }
            assert_eq!(rest, b"second", "bytes received by a dropped stream were lost");
        });
    }

    /// Two streams wait for a buffer of one pool; the first one's waker
    /// panics when a buffer comes back. The second must be woken all the
    /// same, and the buffer must be back.
    fn a_panicking_waker_does_not_starve_other_waiters(driver) {
        let (mut client_a, server_a) = common::std_tcp_pair();
        let (mut client_b, server_b) = common::std_tcp_pair();
        let pool = BufPool::with_driver(&driver, 1, 64).unwrap();
        let (server_a, server_b) = driver.block_on(async {
            (TcpStream::from_std(server_a).unwrap(), TcpStream::from_std(server_b).unwrap())
        });
        let mut a = server_a.recv_stream(&pool);
        let mut b = server_b.recv_stream(&pool);
        client_a.write_all(b"a1").unwrap();
        let held = driver.block_on(a.next()).unwrap().unwrap();
        assert_eq!(pool.in_use(), 1);
        client_a.write_all(b"a2").unwrap();
        client_b.write_all(b"b1").unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let woken_b = Arc::new(AtomicUsize::new(0));
        let panicking = {
            let armed = armed.clone();
            common::FnWaker::waker(
                move || {
                    if armed.load(Ordering::Acquire) {
                        panic!("a hostile waker");
                    }
                },
                || {},
            )
        };
        let counting = {
            let woken_b = woken_b.clone();
            common::FnWaker::waker(move || { woken_b.fetch_add(1, Ordering::AcqRel); }, || {})
        };
        // Until both wait on the pool (on io_uring: once their receives
        // found no buffer; elsewhere at once).
        for _ in 0..5 {
            assert!(common::poll_with(&mut a.next(), &panicking).is_pending());
            assert!(common::poll_with(&mut b.next(), &counting).is_pending());
            driver.park(Some(Duration::from_millis(10))).unwrap();
        }
        woken_b.store(0, Ordering::Release);
        armed.store(true, Ordering::Release);
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(held)));
        armed.store(false, Ordering::Release);
        assert!(dropped.is_err(), "the hostile waker was woken");
        assert_eq!(pool.in_use(), 0);
        assert!(woken_b.load(Ordering::Acquire) > 0, "the other waiter was never woken");
        drop((a, b));
    }
}

/// A forked child's copy of an io_uring driver shares its parent's ring:
/// a pool the child makes must not register a buffer group there (the
/// child's memory, a group id the parent will hand out too).
#[cfg(all(target_os = "linux", feature = "uring"))]
#[test]
fn a_forked_childs_pool_stays_off_the_parents_ring() {
    let _serial = common::serial();
    let Some(driver) = common::driver_unless_skipped(proactor::Backend::IoUring) else {
        return;
    };
    let first = BufPool::with_driver(&driver, 4, 64).unwrap();
    if !first.is_registered() {
        return; // a kernel without provided-buffer rings
    }
    let mut child_driver = Some(driver.clone());
    // SAFETY: the child only makes and drops a pool, then leaves with
    // `_exit`, running no other destructor.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let driver = child_driver.take().unwrap();
        let registered = BufPool::with_driver(&driver, 4, 64).map(|pool| pool.is_registered());
        std::mem::forget(driver);
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(if matches!(registered, Ok(true)) { 1 } else { 0 }) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    drop(child_driver);
    let child_registered = libc::WEXITSTATUS(status) == 1;
    let second = BufPool::with_driver(&driver, 4, 64).unwrap();
    assert!(
        !child_registered && second.is_registered(),
        "child registered: {child_registered}; the parent's next pool registered: {}",
        second.is_registered()
    );
}

both_backends! {
    /// The owned read half of a split stream takes chunks too (a reader
    /// task and a writer task, as with tokio's `into_split`), after the
    /// bytes its `AsyncRead` side read ahead.
    fn the_owned_read_half_has_a_recv_stream(driver) {
        let (mut client, server) = common::std_tcp_pair();
        let pool = BufPool::with_driver(&driver, 4, 1024).unwrap();
        driver.block_on(async {
            let server = TcpStream::from_std(server).unwrap();
            let (mut read, mut write) = server.into_split();
            client.write_all(b"ahead|rest").unwrap();
            let mut first = [0u8; 1];
            futures::io::AsyncReadExt::read_exact(&mut read, &mut first).await.unwrap();
            let mut chunks = read.recv_stream(&pool);
            let mut got = first.to_vec();
            while got.len() < 10 {
                got.extend_from_slice(&chunks.next().await.unwrap().unwrap());
            }
            assert_eq!(got, b"ahead|rest");
            futures::io::AsyncWriteExt::write_all(&mut write, b"echo").await.unwrap();
            futures::io::AsyncWriteExt::flush(&mut write).await.unwrap();
            let mut echoed = [0u8; 4];
            std::io::Read::read_exact(&mut client, &mut echoed).unwrap();
            assert_eq!(&echoed, b"echo");
            drop(client);
            assert!(chunks.next().await.is_none());
        });
    }
}

/// An echo server under tokio (the host integration, multi-thread): each
/// connection's task owns its stream and echoes every chunk back as it is;
/// eight connections share a pool of four buffers, so streams wait for
/// buffers that other tasks give back from other threads. The back end is
/// the automatic one (`PROACTOR_BACKEND` picks it).
#[cfg(all(feature = "tokio", target_os = "linux"))]
#[test]
fn an_echo_server_under_tokio_shares_a_small_pool() {
    use proactor::net::TcpListener;

    let _serial = common::serial();
    common::finishes_within(Duration::from_secs(60), "the echo server", || {
        common::multi_thread_runtime().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let pool = BufPool::new(4, 512).unwrap();
            let server_pool = pool.clone();
            let server = tokio::spawn(async move {
                let mut echoes = Vec::new();
                for _ in 0..8 {
                    let (stream, _) = listener.accept().await.unwrap();
                    let pool = server_pool.clone();
                    echoes.push(tokio::spawn(async move {
                        let mut chunks = stream.recv_stream(&pool);
                        while let Some(chunk) = chunks.next().await {
                            let (sent, _) = stream.write_all(chunk.unwrap()).await;
                            sent.unwrap();
                        }
                    }));
                }
                for echo in echoes {
                    echo.await.unwrap();
                }
            });
            let clients: Vec<_> = (0..8u8)
                .map(|i| {
                    tokio::spawn(async move {
                        let client = TcpStream::connect(addr).await.unwrap();
                        let sent: Vec<u8> = pattern(64 * 1024).iter().map(|b| b ^ i).collect();
                        let (written, _) = client.write_all(sent.clone()).await;
                        written.unwrap();
                        let (got, echoed) = client.read_exact(vec![0u8; sent.len()]).await;
                        got.unwrap();
                        assert!(echoed == sent, "connection {i}: the echo differs");
                    })
                })
                .collect();
            for client in clients {
                client.await.unwrap();
            }
            server.await.unwrap();
            assert_eq!(pool.in_use(), 0);
        });
    });
}

/// Kernels before 6.0 (no multishot receive: one buffer-select receive
/// after another) and before 5.19 (no provided-buffer rings: the pool is
/// plain memory and each receive takes a buffer), told by the opcodes that
/// came with them; the pool runs dry again and again as the reader holds
/// all but one buffer. Every byte, in order, and every buffer back.
#[cfg(all(proactor_fault, target_os = "linux", feature = "uring"))]
#[test]
fn older_kernels_paths_lose_nothing() {
    use io_uring::opcode;
    use proactor::fault;

    let _serial = common::serial();
    let Some(driver) = common::driver_unless_skipped(proactor::Backend::IoUring) else {
        return;
    };
    for (hidden, registered) in [
        (&[opcode::SendZc::CODE][..], true),
        (&[opcode::SendZc::CODE, opcode::Socket::CODE][..], false),
    ] {
        hidden.iter().for_each(|&code| fault::hide_opcode(code));
        let (mut client, server) = common::std_tcp_pair();
        let pool = BufPool::with_driver(&driver, 4, 256).unwrap();
        assert_eq!(pool.is_registered(), registered);
        let sent = pattern(256 * 1024);
        let to_send = sent.clone();
        let writer = std::thread::spawn(move || {
            for piece in to_send.chunks(1021) {
                client.write_all(piece).unwrap();
            }
        });
        driver.block_on(async {
            let server = TcpStream::from_std(server).unwrap();
            let mut held = std::collections::VecDeque::new();
            let mut received = Vec::with_capacity(sent.len());
            let mut chunks = server.recv_stream(&pool);
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.unwrap();
                received.extend_from_slice(&chunk);
                held.push_back(chunk);
                if held.len() == 3 {
                    held.pop_front();
                }
            }
            assert!(received == sent, "bytes lost or out of order");
            drop(held);
            assert_eq!(pool.in_use(), 0);
            assert_eq!(driver.in_flight(), 0, "no receive left behind");
        });
        writer.join().unwrap();
        fault::reveal_opcodes();
    }
}

/// A buffer the hostile waker's clone gives back (see
/// [`a_waker_clone_that_returns_a_buffer_does_not_deadlock`]).
static GIVEN_BACK_BY_CLONE: std::sync::Mutex<Option<proactor::buf::PooledBuf>> =
    std::sync::Mutex::new(None);

fn hostile_clone(_: *const ()) -> std::task::RawWaker {
    let buf = GIVEN_BACK_BY_CLONE.lock().unwrap().take();
    drop(buf);
    std::task::RawWaker::new(std::ptr::null(), &HOSTILE_VTABLE)
}

fn hostile_noop(_: *const ()) {}

static HOSTILE_VTABLE: std::task::RawWakerVTable =
    std::task::RawWakerVTable::new(hostile_clone, hostile_noop, hostile_noop, hostile_noop);

both_backends! {
    /// Cloning a waker is user code: one whose clone drops a buffer of
    /// the pool a stream waits on must not find the pool's lock held.
    fn a_waker_clone_that_returns_a_buffer_does_not_deadlock(driver) {
        let (mut client, server) = common::std_tcp_pair();
        let pool = BufPool::with_driver(&driver, 1, 64).unwrap();
        let finished = common::finishes_within(Duration::from_secs(10), "the stream's poll", move || {
            let server = driver.block_on(async { TcpStream::from_std(server).unwrap() });
            let mut chunks = server.recv_stream(&pool);
            client.write_all(b"one").unwrap();
            let held = driver.block_on(chunks.next()).unwrap().unwrap();
            client.write_all(b"two").unwrap();
            // Until the stream waits on the dry pool.
            let benign = common::FnWaker::waker(|| {}, || {});
            for _ in 0..5 {
                assert!(common::poll_with(&mut chunks.next(), &benign).is_pending());
                driver.park(Some(Duration::from_millis(10))).unwrap();
            }
            *GIVEN_BACK_BY_CLONE.lock().unwrap() = Some(held);
            // SAFETY: the vtable's functions ignore the data pointer, and
            // the waker does nothing when woken or dropped.
            let hostile = unsafe {
                std::task::Waker::from_raw(std::task::RawWaker::new(std::ptr::null(), &HOSTILE_VTABLE))
            };
            let _ = common::poll_with(&mut chunks.next(), &hostile);
            let given_back = GIVEN_BACK_BY_CLONE.lock().unwrap().is_none();
            drop(chunks);
            drop(client);
            (given_back, pool.in_use())
        });
        assert_eq!(finished, (true, 0));
    }
}

#[cfg(unix)]
both_backends! {
    /// A Unix stream: every byte in order, the end, every buffer back.
    fn a_unix_stream_loses_nothing(driver) {
        let (client, server) = std::os::unix::net::UnixStream::pair().unwrap();
        server.set_nonblocking(true).unwrap();
        let pool = BufPool::with_driver(&driver, 4, 100).unwrap();
        let sent = pattern(256 * 1024);
        let to_send = sent.clone();
        let writer = std::thread::spawn(move || {
            let mut client = client;
            for piece in to_send.chunks(333) {
                client.write_all(piece).unwrap();
            }
        });
        let received = driver.block_on(async {
            let server = proactor::net::UnixStream::from_std(server).unwrap();
            let mut received = Vec::with_capacity(sent.len());
            let mut chunks = server.recv_stream(&pool);
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.unwrap();
                assert!(!chunk.is_empty() && chunk.len() <= 100);
                received.extend_from_slice(&chunk);
            }
            received
        });
        writer.join().unwrap();
        assert!(received == sent, "bytes lost or out of order");
        assert_eq!(pool.in_use(), 0);
    }
}
