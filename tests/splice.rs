//! `splice` and `tee` (`op::Splice`, `op::Tee`, `os::pipe`, the stream and
//! file wrappers), with the same assertions on both back ends: bytes move
//! in order and whole, offsets are honoured and refused where they mean
//! nothing, `tee` leaves its source alone, end of input is `0`, and a
//! splice dropped while it waits (or with its driver) leaks nothing.
#![cfg(target_os = "linux")]

mod common;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::task::Poll;

use common::{leaks_no_handles, poll_once};
use proactor::fs::File;
use proactor::op::{Splice, Tee};
use proactor::os::{pipe, tee, PipeReader};

/// More than a pipe holds (64 KiB by default), many times over.
const RELAY_LEN: usize = 4 << 20;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Reads `pipe` until end of stream.
async fn read_to_end(pipe: &PipeReader) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let (n, buf) = pipe.read(Vec::with_capacity(64 * 1024)).await;
        if n.unwrap() == 0 {
            return all;
        }
        all.extend_from_slice(&buf);
    }
}

/// Splices all of `len` bytes from `pipe` into `stream`.
async fn splice_all_from(stream: &proactor::net::TcpStream, pipe: &PipeReader, len: usize) {
    let mut moved = 0;
    while moved < len {
        let n = stream.splice_from(pipe, len - moved).await.unwrap();
        assert_ne!(n, 0, "the pipe ended with bytes owed");
        moved += n;
    }
}

both_backends! {
    fn a_socket_pipe_socket_relay_moves_every_byte_in_order(driver) {
        driver.block_on(async {
            let (source, relay_in) = common::tcp_pair().await;
            let (relay_out, sink) = common::tcp_pair().await;
            let (reader, writer) = pipe().unwrap();
            let data = pattern(RELAY_LEN);
            let send = async {
                source.write_all(data.clone()).await.0.unwrap();
                source.shutdown(std::net::Shutdown::Write).await.unwrap();
            };
            let relay = async {
                let mut total = 0;
                loop {
                    let n = relay_in.splice_to(&writer, 1 << 20).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    splice_all_from(&relay_out, &reader, n).await;
                    total += n;
                }
                relay_out.shutdown(std::net::Shutdown::Write).await.unwrap();
                total
            };
            let receive = async {
                let mut all = Vec::new();
                loop {
                    let (n, buf) = sink.read(Vec::with_capacity(256 * 1024)).await;
                    if n.unwrap() == 0 {
                        return all;
                    }
                    all.extend_from_slice(&buf);
                }
            };
            let ((), relayed, received) = futures::join!(send, relay, receive);
            assert_eq!(relayed, RELAY_LEN);
            assert!(received == data, "the relayed bytes differ");
        });
        assert_eq!(driver.in_flight(), 0);
    }

    fn bytes_read_ahead_by_the_poll_traits_come_first(driver) {
        use futures::AsyncBufReadExt;
        driver.block_on(async {
            let (client, mut server) = common::tcp_pair().await;
            client.write_all(b"0123456789".to_vec()).await.0.unwrap();
            client.shutdown(std::net::Shutdown::Write).await.unwrap();
            // Read ahead into the stream's buffer, and take two bytes.
            let ahead = server.fill_buf().await.unwrap().to_vec();
            assert!(ahead.starts_with(b"01"), "{ahead:?}");
            server.consume_unpin(2);
            let (reader, writer) = pipe().unwrap();
            let mut moved = 0;
            loop {
                let n = server.splice_to(&writer, 64).await.unwrap();
                if n == 0 {
                    break;
                }
                moved += n;
            }
            assert_eq!(moved, 8);
            drop(writer);
            assert_eq!(read_to_end(&reader).await, b"23456789");
        });
    }

    fn a_file_splices_from_an_offset_and_into_one(driver) {
        const OFFSET: u64 = 1000;
        let (source_file, data) = common::pattern_file(300 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let copy_path = dir.path().join("copy");
        driver.block_on(async {
            let source = File::open(source_file.path()).await.unwrap();
            let copy = File::create(&copy_path).await.unwrap();
            let (reader, writer) = pipe().unwrap();
            // File -> pipe from OFFSET, pipe -> file at 7: more than the
            // pipe holds, so both sides wait on it in turn.
            let fill = async {
                let mut offset = OFFSET;
                loop {
                    let n = source.splice_to_at(&writer, 100_000, offset).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    offset += n as u64;
                }
                drop(writer);
                offset - OFFSET
            };
            let drain = async {
                let mut at = 7;
                loop {
                    let n = copy.splice_from_at(&reader, 100_000, at).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    at += n as u64;
                }
                at - 7
            };
            let (filled, drained) = futures::join!(fill, drain);
            assert_eq!(filled as usize, data.len() - OFFSET as usize);
            assert_eq!(drained, filled);
            copy.sync_all().await.unwrap();
        });
        let copied = std::fs::read(&copy_path).unwrap();
        assert_eq!(&copied[..7], &[0; 7]);
        assert!(copied[7..] == data[OFFSET as usize..], "the spliced bytes differ");
    }

    fn splice_without_offsets_uses_and_advances_the_file_position(driver) {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        file.seek(SeekFrom::Start(3)).unwrap();
        let file = Arc::new(file);
        driver.block_on(async {
            let (reader, writer) = pipe().unwrap();
            let writer = Arc::new(writer);
            let n = Splice::new(file.clone(), None, writer.clone(), None, 4)
                .run_on(driver.clone())
                .await
                .unwrap();
            assert_eq!(n, 4);
            let (n, buf) = reader.read(Vec::with_capacity(16)).await;
            assert_eq!(&buf[..n.unwrap()], b"3456");
        });
        assert_eq!((&*file).stream_position().unwrap(), 7);
    }

    fn a_splice_into_a_full_socket_waits_for_room(driver) {
        use std::io::Read;
        let (mut peer, socket) = common::std_tcp_pair();
        let filled = fill(&socket);
        let socket = Arc::new(socket);
        let (reader, writer) = pipe_fds(&driver);
        // The pipe is ready; the socket is not: the splice must wait for it.
        assert_eq!(write_into(&writer, b"tail"), 4);
        let mut splice = Splice::new(reader, None, socket.clone(), None, 64).run_on(driver.clone());
        assert!(poll_once(&driver, &mut splice).is_pending(), "a full socket took the bytes");
        let drain = std::thread::spawn(move || {
            let mut all = Vec::new();
            peer.read_to_end(&mut all).map(|_| all)
        });
        assert_eq!(driver.block_on(splice).unwrap(), 4);
        socket.shutdown(std::net::Shutdown::Write).unwrap();
        let all = drain.join().unwrap().unwrap();
        assert_eq!(all.len(), filled + 4);
        assert!(all.ends_with(b"\x07tail"), "the spliced bytes came out of order");
    }

    fn a_splice_dropped_while_the_socket_is_full_leaks_nothing(driver) {
        let backend = driver.backend();
        drop(driver);
        leaks_no_handles("splices dropped while waiting on a full socket", || {
            let driver = common::driver(backend);
            let (_peer, socket) = common::std_tcp_pair();
            fill(&socket);
            let socket = Arc::new(socket);
            let (reader, writer) = pipe_fds(&driver);
            assert_eq!(write_into(&writer, b"tail"), 4);
            for _ in 0..4 {
                let mut splice = Splice::new(reader.clone(), None, socket.clone(), None, 64).run_on(driver.clone());
                assert!(poll_once(&driver, &mut splice).is_pending(), "a full socket took the bytes");
                drop(splice);
            }
            assert!(common::park_until(&driver, std::time::Duration::from_secs(10), || driver.in_flight() == 0), "a cancelled splice is still held");
            let mut left = [0u8; 8];
            // SAFETY: `left` is valid for writes of its length.
            let read = unsafe { libc::read(reader.as_raw_fd(), left.as_mut_ptr().cast(), left.len()) };
            assert_eq!(read, 4, "a cancelled splice took the bytes");
        });
    }

    fn tee_duplicates_without_consuming(driver) {
        driver.block_on(async {
            let (source, source_writer) = pipe().unwrap();
            let (copy, copy_writer) = pipe().unwrap();
            source_writer.write_all(b"duplicated".to_vec()).await.0.unwrap();
            assert_eq!(tee(&source, &copy_writer, 4).await.unwrap(), 4);
            assert_eq!(tee(&source, &copy_writer, 64).await.unwrap(), 10);
            drop((source_writer, copy_writer));
            assert_eq!(read_to_end(&copy).await, b"dupldupl".iter().chain(b"icated").copied().collect::<Vec<_>>());
            assert_eq!(read_to_end(&source).await, b"duplicated", "tee consumed its source");
        });
    }

    fn tee_waits_for_its_source(driver) {
        driver.block_on(async {
            let (source, source_writer) = pipe().unwrap();
            let (copy, copy_writer) = pipe().unwrap();
            let waiting = tee(&source, &copy_writer, 64);
            let late_write = async {
                proactor::time::sleep(std::time::Duration::from_millis(20)).await.unwrap();
                source_writer.write_all(b"late".to_vec()).await.0.unwrap();
            };
            let (copied, ()) = futures::join!(waiting, late_write);
            assert_eq!(copied.unwrap(), 4);
            let (n, buf) = copy.read(Vec::with_capacity(8)).await;
            assert_eq!(&buf[..n.unwrap()], b"late");
        });
    }

    fn end_of_input_is_zero(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let (reader, writer) = pipe().unwrap();
            client.shutdown(std::net::Shutdown::Write).await.unwrap();
            assert_eq!(server.splice_to(&writer, 64).await.unwrap(), 0, "socket at end of stream");
            drop(writer);
            assert_eq!(server.splice_from(&reader, 64).await.unwrap(), 0, "empty pipe, no writer");
            let (_other, other_writer) = pipe().unwrap();
            let (source, source_writer) = pipe().unwrap();
            drop(source_writer);
            assert_eq!(tee(&source, &other_writer, 64).await.unwrap(), 0, "tee of an ended pipe");
            let file = File::open("Cargo.toml").await.unwrap();
            let (_r, w) = pipe().unwrap();
            assert_eq!(file.splice_to_at(&w, 64, 1 << 40).await.unwrap(), 0, "past the end of a file");
            assert_eq!(file.splice_to_at(&w, 0, 0).await.unwrap(), 0, "len 0");
        });
    }

    fn refused_arguments_are_invalid_input_before_anything_runs(driver) {
        driver.block_on(async {
            let (reader, writer) = pipe().unwrap();
            writer.write_all(b"stays".to_vec()).await.0.unwrap();
            let (reader, writer) = (Arc::new(reader), Arc::new(writer));
            let file = Arc::new(tempfile::tempfile().unwrap());
            let (_client, server) = common::std_tcp_pair();
            let server = Arc::new(server);
            let refused = [
                ("an offset on the pipe it reads", Splice::new(reader.clone(), Some(0), file.clone(), None, 5).run_on(driver.clone()).await),
                ("an offset on the pipe it writes", Splice::new(file.clone(), None, writer.clone(), Some(3), 5).run_on(driver.clone()).await),
                ("an offset on a socket", Splice::new(reader.clone(), None, server.clone(), Some(0), 5).run_on(driver.clone()).await),
                ("an offset beyond loff_t", Splice::new(reader.clone(), None, file.clone(), Some(u64::MAX), 5).run_on(driver.clone()).await),
                ("no pipe", Splice::new(file.clone(), None, server.clone(), None, 5).run_on(driver.clone()).await),
                ("a tee into a file", Tee::new(reader.clone(), file.clone(), 5).run_on(driver.clone()).await),
            ];
            for (what, result) in refused {
                let error = result.expect_err(what);
                assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{what}: {error}");
            }
            // The kernel's own refusal, the same on both back ends.
            let error = Tee::new(reader.clone(), writer.clone(), 5).run_on(driver.clone()).await.expect_err("a tee into its own pipe");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            let blocking_socket = Arc::new(common::std_tcp_pair().0);
            let error = Splice::new(reader.clone(), None, blocking_socket, None, 5)
                .run_on(driver.clone())
                .await
                .expect_err("a blocking socket");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            drop(writer);
            let reader = Arc::try_unwrap(reader).unwrap();
            assert_eq!(read_to_end(&reader).await, b"stays", "a refused splice moved bytes");
        });
        assert_eq!(driver.in_flight(), 0);
    }

    fn a_splice_dropped_while_it_waits_leaks_nothing(driver) {
        let backend = driver.backend();
        drop(driver);
        leaks_no_handles("splices dropped while waiting on an empty pipe", || {
            let driver = common::driver(backend);
            let _current = driver.enter();
            let (client, server) = driver.block_on(common::tcp_pair());
            let (reader, writer) = pipe().unwrap();
            for _ in 0..20 {
                let mut waiting = Box::pin(client.splice_from(&reader, 64));
                assert!(poll_once(&driver, &mut waiting).is_pending(), "an empty pipe cannot splice");
                drop(waiting);
            }
            let (_copy, copy_writer) = pipe().unwrap();
            let mut waiting = Tee::new(reader.fd_clone(), copy_writer.fd_clone(), 64).run_on(driver.clone());
            assert!(poll_once(&driver, &mut waiting).is_pending());
            drop(waiting);
            assert!(common::park_until(&driver, std::time::Duration::from_secs(10), || driver.in_flight() == 0));
            // Nothing the cancelled splices left behind takes these bytes.
            driver.block_on(async {
                writer.write_all(b"after".to_vec()).await.0.unwrap();
                splice_all_from(&client, &reader, 5).await;
                let (got, buf) = server.read_exact(vec![0; 5]).await;
                got.unwrap();
                assert_eq!(buf, b"after");
            });
        });
    }

    fn a_driver_dropped_with_a_splice_in_flight_leaks_nothing(driver) {
        let backend = driver.backend();
        drop(driver);
        leaks_no_handles("a driver dropped with splices in flight", || {
            let driver = common::driver(backend);
            let (reader, writer) = pipe_fds(&driver);
            let (_client, server) = common::std_tcp_pair();
            let server = Arc::new(server);
            let mut splices: Vec<_> = (0..8)
                .map(|_| Splice::new(reader.clone(), None, server.clone(), None, 64).run_on(driver.clone()))
                .collect();
            for splice in &mut splices {
                assert!(matches!(poll_once(&driver, splice), Poll::Pending));
            }
            // The last handle goes with the futures: teardown runs with
            // every splice still waiting.
            drop((driver, reader, server));
            drop(splices);
            drop(writer);
        });
    }
}

/// A pipe's fds, shared by the operations: (read end, write end). Not the
/// `PipeReader` itself: it holds a driver handle, and an operation holding
/// a handle to its own driver keeps that driver alive for ever.
fn pipe_fds(driver: &proactor::Driver) -> (Arc<OwnedFd>, Arc<OwnedFd>) {
    let (reader, writer) = proactor::os::pipe_on(driver.clone()).unwrap();
    (Arc::new(reader.fd_clone()), Arc::new(writer.fd_clone()))
}

/// The wrappers' futures can go to `tokio::spawn` and the like.
#[allow(dead_code)]
fn futures_are_send(
    stream: &proactor::net::TcpStream,
    file: &File,
    reader: &PipeReader,
    writer: &proactor::os::PipeWriter,
) {
    fn send<T: Send>(_: T) {}
    send(stream.splice_to(writer, 1));
    send(stream.splice_from(reader, 1));
    send(file.splice_to_at(writer, 1, 0));
    send(file.splice_from_at(reader, 1, 0));
    send(tee(reader, writer, 1));
    send(reader.read(Vec::new()));
    send(writer.write_all(Vec::new()));
}

/// Fills a non-blocking socket's send buffer and its peer's receive
/// buffer with 7s; returns how many bytes that took.
fn fill(socket: &std::net::TcpStream) -> usize {
    use std::io::Write;
    let mut filled = 0;
    loop {
        match (&*socket).write(&[7; 64 * 1024]) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return filled,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
}

/// A plain `write(2)` into a pipe end.
fn write_into(fd: &OwnedFd, data: &[u8]) -> usize {
    // SAFETY: `data` is valid for reads of its length; `fd` is open.
    let written = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    usize::try_from(written).expect("write into an empty pipe")
}

trait FdClone {
    /// A second fd of the same open pipe end.
    fn fd_clone(&self) -> std::os::fd::OwnedFd;
}

impl<T: AsRawFd> FdClone for T {
    fn fd_clone(&self) -> std::os::fd::OwnedFd {
        // SAFETY: `self` keeps the fd open for the borrow.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.as_raw_fd()) }
            .try_clone_to_owned()
            .unwrap()
    }
}

/// Kernels without `IORING_OP_SPLICE` / `IORING_OP_TEE` (before 5.7 / 5.8):
/// the attempts run on the blocking pool, non-blocking, and waiting is
/// still the driver's. Same results.
#[cfg(all(proactor_fault, feature = "uring"))]
#[test]
fn without_the_opcodes_splice_and_tee_run_on_the_pool() {
    use io_uring::opcode;
    use proactor::fault;

    let _serial = common::serial();
    let Some(driver) = common::driver_unless_skipped(proactor::Backend::IoUring) else {
        return;
    };
    fault::hide_opcode(opcode::Splice::CODE);
    fault::hide_opcode(opcode::Tee::CODE);
    let before = fault::pool_runs();
    driver.block_on(async {
        let (client, server) = common::tcp_pair().await;
        let (reader, writer) = pipe().unwrap();
        let (copy, copy_writer) = pipe().unwrap();
        let data = pattern(256 * 1024);
        let send = async {
            client.write_all(data.clone()).await.0.unwrap();
            client.shutdown(std::net::Shutdown::Write).await.unwrap();
        };
        let into_pipe = async {
            let mut total = 0;
            let mut copied = Vec::new();
            loop {
                let n = server.splice_to(&writer, 32 * 1024).await.unwrap();
                if n == 0 {
                    break;
                }
                assert_eq!(tee(&reader, &copy_writer, n).await.unwrap(), n);
                let (got, buf) = copy.read(Vec::with_capacity(n)).await;
                copied.extend_from_slice(&buf[..got.unwrap()]);
                let (got, buf) = reader.read(Vec::with_capacity(n)).await;
                assert_eq!(got.unwrap(), n);
                assert!(buf[..] == data[total..total + n]);
                total += n;
            }
            (total, copied)
        };
        let ((), (total, copied)) = futures::join!(send, into_pipe);
        assert_eq!(total, data.len());
        assert!(copied == data, "the tee'd bytes differ");
    });
    fault::reveal_opcodes();
    assert!(
        fault::pool_runs() > before,
        "the opcodes were hidden, yet nothing ran on the pool"
    );
}
