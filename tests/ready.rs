//! Readiness as an operation: `op::Ready` and `os::AsyncFd` on fds whose
//! I/O the caller does itself, on both back ends with the same assertions.

mod common;

use std::io::{self, Read, Write};
use std::time::Duration;

use futures::future::join_all;
use proactor::op::{Interest, Op, Ready};
use proactor::os::AsyncFd;
use proactor::time::timeout;

/// Long enough that an fd that is ready would have been seen; the test
/// only ever expects this to elapse, so its length is not a timing bet.
const NOT_READY_FOR: Duration = Duration::from_millis(30);

/// Operations an `AsyncFd` holds between waits with `directions` waited
/// for: one multishot poll per direction on io_uring (Linux 5.13 and
/// newer, as every kernel these tests run on), none on the readiness back
/// end, whose waits end with their answers.
fn armed(driver: &proactor::Driver, directions: usize) -> usize {
    match driver.backend() {
        proactor::Backend::IoUring => directions,
        _ => 0,
    }
}

/// Drops `fd` and waits until the driver holds nothing more.
fn settle_after_dropping<T>(driver: &proactor::Driver, fd: T) {
    drop(fd);
    assert!(
        common::park_until(driver, Duration::from_secs(5), || driver.in_flight() == 0),
        "{} operations still held after the AsyncFd was dropped",
        driver.in_flight()
    );
}

/// Writes into `socket` until its buffers are full.
fn fill(mut socket: &std::net::TcpStream) -> usize {
    let chunk = [7u8; 64 * 1024];
    let mut written = 0;
    loop {
        match socket.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return written,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
}

both_backends! {
    fn data_from_another_thread_makes_it_readable(driver) {
        let (mut client, server) = common::std_tcp_pair();
        let server = AsyncFd::with_driver(server, driver.clone());
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            client.write_all(b"over here").unwrap();
            client
        });
        let mut buf = [0u8; 32];
        let n = driver
            .block_on(server.read_with(|mut socket| socket.read(&mut buf)))
            .unwrap();
        assert_eq!(&buf[..n], b"over here");
        drop(writer.join().unwrap());
        assert_eq!(driver.in_flight(), armed(&driver, 1));
        settle_after_dropping(&driver, server);
    }

    fn not_readable_until_written_and_a_full_socket_not_writable_until_drained(driver) {
        let (client, server) = common::std_tcp_pair();
        client.set_nonblocking(true).unwrap();
        let client = AsyncFd::with_driver(client, driver.clone());
        let server = AsyncFd::with_driver(server, driver.clone());
        driver.block_on(async {
            assert!(timeout(NOT_READY_FOR, server.readable()).await.is_err(), "nothing was sent");
            client.writable().await.unwrap();
            let filled = fill(client.get_ref());
            assert!(filled > 0);
            assert!(timeout(NOT_READY_FOR, client.writable()).await.is_err(), "the buffers are full");
            server.readable().await.unwrap();
            // Drain it all: room to write again.
            let mut drained = 0;
            let mut buf = vec![0u8; 64 * 1024];
            while drained < filled {
                drained += server.read_with(|mut socket| socket.read(&mut buf)).await.unwrap();
            }
            client.writable().await.unwrap();
        });
        assert_eq!(driver.in_flight(), armed(&driver, 2));
        settle_after_dropping(&driver, (client, server));
    }

    fn a_hang_up_is_readable_and_reads_the_end(driver) {
        let (client, server) = common::std_tcp_pair();
        let server = AsyncFd::with_driver(server, driver.clone());
        let waiter = driver.block_on(async {
            let mut waiting = Box::pin(server.readable());
            assert!(futures::poll!(&mut waiting).is_pending());
            drop(client);
            waiting.await
        });
        waiter.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(driver.block_on(server.read_with(|mut socket| socket.read(&mut buf))).unwrap(), 0);
    }

    fn many_waiters_on_one_socket_all_wake(driver) {
        let (mut client, server) = common::std_tcp_pair();
        let server = AsyncFd::with_driver(server, driver.clone());
        driver.block_on(async {
            let mut waits = Box::pin(join_all((0..16).map(|_| server.readable())));
            assert!(futures::poll!(&mut waits).is_pending());
            client.write_all(b"x").unwrap();
            for result in waits.await {
                result.unwrap();
            }
        });
        assert_eq!(driver.in_flight(), armed(&driver, 1));
        settle_after_dropping(&driver, server);
    }

    fn hundreds_of_sockets_on_the_smallest_ring(driver) {
        let driver = common::small_driver(driver.backend(), 2);
        let pairs: Vec<_> = (0..200).map(|_| common::std_tcp_pair()).collect();
        let waiting: Vec<_> = pairs
            .iter()
            .map(|(_, server)| AsyncFd::with_driver(server.try_clone().unwrap(), driver.clone()))
            .collect();
        driver.block_on(async {
            let mut all = Box::pin(join_all(waiting.iter().map(|fd| fd.readable())));
            assert!(futures::poll!(&mut all).is_pending());
            for (client, _) in &pairs {
                (&*client).write_all(b"!").unwrap();
            }
            for result in all.await {
                result.unwrap();
            }
        });
        assert_eq!(driver.in_flight(), armed(&driver, 200));
        settle_after_dropping(&driver, waiting);
    }

    fn the_op_on_its_own_waits_for_either_direction(driver) {
        let (client, server) = common::std_tcp_pair();
        driver.block_on(Op::with_driver(Ready::new(server.try_clone().unwrap(), Interest::Writable), driver.clone())).unwrap();
        let readable = Op::with_driver(Ready::new(server, Interest::Readable), driver.clone());
        let mut readable = Box::pin(readable);
        assert!(driver.block_on(timeout(NOT_READY_FOR, &mut readable)).is_err());
        (&client).write_all(b"?").unwrap();
        driver.block_on(readable).unwrap();
    }
}

/// An `AsyncRead` over a foreign socket, written with poll functions the
/// way a library adapts an fd it does not own the I/O of.
struct ForeignReader(AsyncFd<std::net::TcpStream>);

impl futures::io::AsyncRead for ForeignReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_read_ready(cx))?;
            match self.0.get_ref().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return std::task::Poll::Ready(done),
            }
        }
    }
}

both_backends! {
    fn poll_functions_keep_one_wait_and_drive_an_async_read(driver) {
        let (mut client, server) = common::std_tcp_pair();
        let reader = ForeignReader(AsyncFd::with_driver(server, driver.clone()));
        driver.block_on(async {
            let mut first = futures::future::poll_fn(|cx| reader.0.poll_read_ready(cx));
            assert!(futures::poll!(&mut first).is_pending());
            assert!(futures::poll!(&mut first).is_pending());
            assert_eq!(driver.in_flight(), 1, "one wait kept across polls");
        });
        let writer = std::thread::spawn(move || {
            for chunk in [&b"poll "[..], b"functions"] {
                std::thread::sleep(Duration::from_millis(5));
                client.write_all(chunk).unwrap();
            }
        });
        let mut reader = reader;
        let mut text = String::new();
        // To the end: the writer's socket closes when its thread ends.
        let read = driver.block_on(futures::io::AsyncReadExt::read_to_string(&mut reader, &mut text));
        read.unwrap();
        writer.join().unwrap();
        assert_eq!(text, "poll functions");
        drop(reader);
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
    }
}

#[cfg(unix)]
mod unix {
    use super::*;

    both_backends! {
        fn a_pipe_and_a_regular_file(driver) {
            let (reader, writer) = common::pipe();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            let writer = AsyncFd::with_driver(writer, driver.clone());
            let dir = tempfile::tempdir().unwrap();
            let file = std::fs::File::create(dir.path().join("f")).unwrap();
            let file = AsyncFd::with_driver(file, driver.clone());
            driver.block_on(async {
                // A regular file is always ready, on both back ends (epoll
                // refuses regular files: the back end must not ask it).
                file.readable().await.unwrap();
                file.writable().await.unwrap();
                writer.writable().await.unwrap();
                assert!(timeout(NOT_READY_FOR, reader.readable()).await.is_err());
                let n = writer
                    .write_with(|fd| std::fs::File::from(fd.try_clone().unwrap()).write(b"pipe"))
                    .await
                    .unwrap();
                assert_eq!(n, 4);
                reader.readable().await.unwrap();
            });
        }

        fn dropped_waits_free_their_slots_and_the_fds_close(driver) {
            let fds = common::fd_count();
            let pairs: Vec<_> = (0..64).map(|_| std::os::unix::net::UnixStream::pair().unwrap()).collect();
            let waiting: Vec<_> = pairs
                .into_iter()
                .map(|(a, b)| (a, AsyncFd::with_driver(b, driver.clone())))
                .collect();
            driver.block_on(async {
                let mut all = Box::pin(join_all(waiting.iter().map(|(_, fd)| fd.readable())));
                assert!(futures::poll!(&mut all).is_pending());
                // Dropped in flight: each wait is cancelled.
            });
            drop(waiting);
            assert!(
                common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0),
                "{} waits still held after their futures were dropped",
                driver.in_flight()
            );
            assert_eq!(common::fd_count_settles(fds), fds, "an fd a cancelled wait held stayed open");
        }
    }
}

/// Readiness waited for again and again on one fd: on io_uring one
/// multishot poll per direction serves every wait.
#[cfg(unix)]
mod rounds {
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    use super::*;

    /// Reads until `WouldBlock`: the bytes read.
    fn drain(mut socket: &UnixStream) -> usize {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            match socket.read(&mut buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
                Err(e) => panic!("draining: {e}"),
            }
        }
    }

    fn nonblocking_pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    /// Readable waits that found no new event: `Ready` at most once (an
    /// event whose data was already read), then `Pending`.
    fn settles_pending(driver: &proactor::Driver, fd: &AsyncFd<UnixStream>) {
        let mut stale = 0;
        loop {
            let mut wait = Box::pin(fd.readable());
            match common::poll_once(driver, &mut wait) {
                std::task::Poll::Pending => return,
                std::task::Poll::Ready(ready) => {
                    ready.unwrap();
                    stale += 1;
                    assert!(stale <= 1, "readable again and again with nothing to read");
                    assert_eq!(drain(fd.get_ref()), 0);
                }
            }
        }
    }

    both_backends! {
        fn a_thousand_rounds_of_write_wait_and_drain_hold_one_poll(driver) {
            let (writer, reader) = nonblocking_pair();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            driver.block_on(async {
                for round in 0..1000u32 {
                    (&writer).write_all(&[round as u8]).unwrap();
                    reader.readable().await.unwrap();
                    assert_eq!(drain(reader.get_ref()), 1, "round {round}");
                    assert_eq!(driver.in_flight(), armed(&driver, 1), "round {round}");
                }
            });
            // Drained: no wait says readable for ever after.
            settles_pending(&driver, &reader);
            // The same through `read_with`, which reports `WouldBlock`.
            driver.block_on(async {
                let mut buf = [0u8; 8];
                for round in 0..1000u32 {
                    (&writer).write_all(&[round as u8]).unwrap();
                    let n = reader.read_with(|mut socket| socket.read(&mut buf)).await.unwrap();
                    assert_eq!((n, buf[0]), (1, round as u8));
                    assert_eq!(driver.in_flight(), armed(&driver, 1), "round {round}");
                }
            });
            settles_pending(&driver, &reader);
            settle_after_dropping(&driver, reader);
        }

        fn a_partial_read_leaves_the_fd_readable(driver) {
            let (writer, reader) = nonblocking_pair();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            (&writer).write_all(b"two").unwrap();
            let waited = driver.block_on(timeout(Duration::from_secs(20), async {
                reader.readable().await.unwrap();
                let mut one = [0u8; 1];
                (reader.get_ref()).read_exact(&mut one).unwrap();
                // No new event, but bytes remain: still readable.
                reader.readable().await.unwrap();
                (reader.get_ref()).read_exact(&mut one).unwrap();
                reader.readable().await.unwrap();
                (reader.get_ref()).read_exact(&mut one).unwrap();
            }));
            waited.expect("bytes were left to read, yet the wait did not end");
            settles_pending(&driver, &reader);
        }

        fn no_wake_up_is_lost_to_a_hammering_writer(driver) {
            const BYTES: usize = 20_000;
            let (writer, reader) = nonblocking_pair();
            writer.set_nonblocking(false).unwrap();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            let hammer = std::thread::spawn(move || {
                for i in 0..BYTES {
                    (&writer).write_all(&[i as u8]).unwrap();
                    if i % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
                writer
            });
            let received = driver.block_on(timeout(Duration::from_secs(60), async {
                let mut received = 0;
                let mut waits = 0;
                while received < BYTES {
                    // Alternately the two ways to wait: a bare wait then
                    // reads until `WouldBlock`, and `read_with`.
                    if waits % 2 == 0 {
                        reader.readable().await.unwrap();
                        received += drain(reader.get_ref());
                    } else {
                        let mut buf = [0u8; 512];
                        received += reader.read_with(|mut s| s.read(&mut buf)).await.unwrap();
                    }
                    waits += 1;
                }
                received
            }));
            let _writer = hammer.join().unwrap();
            assert_eq!(received.expect("a wake-up was lost: the reader waits for ever"), BYTES);
        }

        fn no_wake_up_is_lost_while_another_thread_dispatches(driver) {
            const ROUNDS: usize = 3000;
            let (writer, reader) = nonblocking_pair();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            // Another thread parks on the driver, so events are dispatched
            // there while this thread registers its waits.
            let (stop, stopped) = futures::channel::oneshot::channel::<()>();
            let dispatcher = {
                let driver = driver.clone();
                std::thread::spawn(move || driver.block_on(stopped))
            };
            let (ack, acked) = std::sync::mpsc::channel::<()>();
            let pinger = std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    (&writer).write_all(&[round as u8]).unwrap();
                    if acked.recv().is_err() {
                        break;
                    }
                }
                writer
            });
            let reader = common::finishes_within(Duration::from_secs(60), "ping-pong rounds (a lost wake-up)", move || {
                futures::executor::block_on(async {
                    let mut received = 0;
                    while received < ROUNDS {
                        reader.readable().await.unwrap();
                        let got = drain(reader.get_ref());
                        received += got;
                        for _ in 0..got {
                            let _ = ack.send(());
                        }
                    }
                });
                reader
            });
            let _writer = pinger.join().unwrap();
            stop.send(()).unwrap();
            dispatcher.join().unwrap().unwrap();
            settle_after_dropping(&driver, reader);
        }

        fn a_poll_ended_by_its_submitting_thread_exit_is_armed_again(driver) {
            let (writer, reader) = nonblocking_pair();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            // Armed from a thread that then exits: io_uring ends the
            // requests a thread submitted when it exits (ECANCELED).
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    driver.block_on(async {
                        let mut wait = Box::pin(reader.readable());
                        assert!(futures::poll!(&mut wait).is_pending());
                    });
                    driver.park(Some(Duration::ZERO)).unwrap();
                });
            });
            (&writer).write_all(b"!").unwrap();
            let waited = driver.block_on(timeout(Duration::from_secs(20), reader.readable()));
            waited.expect("the wait never ended").unwrap();
            assert_eq!(drain(reader.get_ref()), 1);
            assert_eq!(driver.in_flight(), armed(&driver, 1));
            settles_pending(&driver, &reader);
        }

        fn an_fd_nobody_waits_on_holds_one_merged_event(driver) {
            let (writer, reader) = nonblocking_pair();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            driver.block_on(async {
                (&writer).write_all(b"x").unwrap();
                reader.readable().await.unwrap();
            });
            // Events, far more than a multishot queue holds (32), each
            // reaped by the driver, none waited for (a socket buffer's
            // worth of one-byte writes).
            for _ in 0..200 {
                (&writer).write_all(b"y").unwrap();
                driver.park(Some(Duration::ZERO)).unwrap();
            }
            assert_eq!(driver.in_flight(), armed(&driver, 1));
            assert_eq!(drain(reader.get_ref()), 201);
            // One merged event, not one per write (nor a queue's worth).
            settles_pending(&driver, &reader);
            settle_after_dropping(&driver, reader);
        }

        fn a_wait_dropped_mid_way_and_the_fd_dropped_with_its_polls_armed(driver) {
            let fds = common::fd_count();
            let (writer, reader) = nonblocking_pair();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            driver.block_on(async {
                let mut waiting = Box::pin(reader.readable());
                assert!(futures::poll!(&mut waiting).is_pending());
                drop(waiting);
                // A new wait after the dropped one still wakes.
                let mut waiting = Box::pin(reader.readable());
                assert!(futures::poll!(&mut waiting).is_pending());
                (&writer).write_all(b"z").unwrap();
                waiting.await.unwrap();
                reader.writable().await.unwrap();
                let mut pending = Box::pin(reader.readable());
                assert_eq!(drain(reader.get_ref()), 1);
                let _ = futures::poll!(&mut pending);
                // The fd goes while a wait on it is in flight: the wait is
                // gone first (it borrows the fd), and the polls with it.
                drop(pending);
            });
            assert_eq!(driver.in_flight(), armed(&driver, 2));
            drop(writer);
            settle_after_dropping(&driver, reader);
            assert_eq!(common::fd_count_settles(fds), fds, "an fd stayed open");
        }

        fn a_driver_dropped_with_polls_armed_closes_every_fd(driver) {
            let backend = driver.backend();
            drop(driver);
            let fds = common::fd_count();
            {
                let driver = common::driver(backend);
                let pairs: Vec<_> = (0..16).map(|_| nonblocking_pair()).collect();
                let fds_waiting: Vec<_> = pairs
                    .into_iter()
                    .map(|(a, b)| (a, AsyncFd::with_driver(b, driver.clone())))
                    .collect();
                driver.block_on(async {
                    for (_, fd) in &fds_waiting {
                        fd.writable().await.unwrap();
                        let mut wait = Box::pin(fd.readable());
                        assert!(futures::poll!(&mut wait).is_pending());
                    }
                });
                assert_eq!(driver.in_flight(), armed(&driver, 32));
                // The driver handle first; the fds (each holding the
                // driver) after, their polls still armed.
                drop(driver);
                drop(fds_waiting);
            }
            assert_eq!(common::fd_count_settles(fds), fds, "an fd (or the ring) stayed open");
        }

        fn a_panicking_waker_does_not_wedge_the_driver(driver) {
            let (writer, reader) = nonblocking_pair();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            let woken = Arc::new(AtomicBool::new(false));
            let panics = Arc::new(AtomicUsize::new(0));
            let hostile = {
                let panics = panics.clone();
                common::FnWaker::waker(
                    move || {
                        panics.fetch_add(1, SeqCst);
                        panic!("hostile waker wake")
                    },
                    || {},
                )
            };
            let polite = {
                let woken = woken.clone();
                common::FnWaker::waker(move || woken.store(true, SeqCst), || {})
            };
            let mut hostile_wait = Box::pin(reader.readable());
            let mut polite_wait = Box::pin(reader.readable());
            driver.block_on(async {
                assert!(common::poll_with(&mut hostile_wait, &hostile).is_pending());
                assert!(common::poll_with(&mut polite_wait, &polite).is_pending());
            });
            (&writer).write_all(b"!").unwrap();
            // Parks until the event is dispatched; the panic may surface.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                common::park_until(&driver, Duration::from_secs(5), || woken.load(SeqCst))
            }));
            assert!(woken.load(SeqCst), "a panicking waker kept another asleep");
            assert!(common::poll_with(&mut polite_wait, &polite).is_ready());
            drop((hostile_wait, polite_wait));
            // The driver goes on: the fd is waited for again.
            assert_eq!(drain(reader.get_ref()), 1);
            (&writer).write_all(b"?").unwrap();
            driver.block_on(reader.readable()).unwrap();
            settle_after_dropping(&driver, reader);
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use super::*;

    fn eventfd() -> OwnedFd {
        // SAFETY: eventfd has no preconditions; a new fd is ours to own.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        assert!(fd >= 0, "eventfd: {}", io::Error::last_os_error());
        // SAFETY: the fd was just created and nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    fn signal(event: &OwnedFd) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live array to an fd we own.
        let written = unsafe { libc::write(event.as_raw_fd(), one.as_ptr().cast(), 8) };
        assert_eq!(written, 8);
    }

    both_backends! {
        fn an_eventfd_is_readable_once_signalled(driver) {
            let event = AsyncFd::with_driver(eventfd(), driver.clone());
            driver.block_on(async {
                assert!(timeout(NOT_READY_FOR, event.readable()).await.is_err());
                signal(event.get_ref());
                event.readable().await.unwrap();
            });
        }

    }
}
