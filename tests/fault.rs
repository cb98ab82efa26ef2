//! Fault injection (`--cfg proactor_fault`, run by `ci/fault.sh`): per-op
//! fallback for every opcode that may be missing, and failed submissions
//! plus short transfers on seeded schedules. Every operation must still
//! complete once, with the right result. A ring that refuses submissions
//! for good: what an operation that never started owns is released.
#![cfg(all(proactor_fault, target_os = "linux", feature = "uring"))]

mod common;

use std::os::fd::OwnedFd;
use std::task::Poll;
use std::time::Duration;

use io_uring::opcode;
use proactor::fault;
use proactor::fs::OpenOptions;
use proactor::net::{TcpListener, TcpStream};
use proactor::op::{Close, Nop, Op};
use proactor::{Backend, Driver};

/// Opcodes whose operations take the per-op fallback when the kernel lacks
/// them, with the minimum kernel that has each.
const OPTIONAL: [(u8, &str); 11] = [
    (opcode::OpenAt::CODE, "5.6"),
    (opcode::Close::CODE, "5.6"),
    (opcode::Statx::CODE, "5.6"),
    (opcode::Fsync::CODE, "5.1"),
    (opcode::Ftruncate::CODE, "6.9"),
    (opcode::RenameAt::CODE, "5.11"),
    (opcode::UnlinkAt::CODE, "5.11"),
    (opcode::MkDirAt::CODE, "5.15"),
    (opcode::Shutdown::CODE, "5.11"),
    (opcode::Readv::CODE, "5.1"),
    (opcode::Writev::CODE, "5.1"),
];

/// File, path, timer and socket work whose every result is checked.
async fn workload(dir: &std::path::Path, seed: u64) {
    let path = dir.join(format!("f{seed}"));
    let data: Vec<u8> = (0..300_000u64)
        .map(|i| ((i * 31 + seed) % 251) as u8)
        .collect();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open(&path)
        .await
        .unwrap();
    let (r, _) = file.write_all_at(data.clone(), 0).await;
    r.unwrap();
    file.sync_data().await.unwrap();
    assert_eq!(file.len().await.unwrap(), data.len() as u64);
    let (r, back) = file.read_exact_at(Vec::with_capacity(data.len()), 0).await;
    r.unwrap();
    assert!(back == data, "file data differs (seed {seed})");
    // The same bytes again, through several buffers: short counts allowed.
    let parts = vec![data[..1000].to_vec(), data[1000..5000].to_vec()];
    let (written, _) = file.write_vectored_at(parts, 0).await;
    assert!((1..=5000).contains(&written.unwrap()));
    let bufs = vec![Vec::with_capacity(1000), Vec::with_capacity(4000)];
    let (read, bufs) = file.read_vectored_at(bufs, 0).await;
    let read = read.unwrap();
    assert!(
        read > 0 && bufs.concat() == data[..read],
        "vectored read differs (seed {seed})"
    );
    file.set_len(10).await.unwrap();
    file.close().await.unwrap();
    let moved = dir.join(format!("g{seed}"));
    proactor::fs::rename(&path, &moved).await.unwrap();
    assert_eq!(proactor::fs::metadata(&moved).await.unwrap().len(), 10);
    proactor::fs::remove_file(&moved).await.unwrap();
    let sub = dir.join(format!("d{seed}"));
    proactor::fs::create_dir(&sub).await.unwrap();
    proactor::fs::remove_dir(&sub).await.unwrap();

    proactor::time::sleep(Duration::from_millis(1))
        .await
        .unwrap();
    assert!(proactor::time::timeout(
        Duration::from_millis(1),
        proactor::time::sleep(Duration::from_secs(60))
    )
    .await
    .is_err());

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let (sent, received) = futures::join!(
        client.write_all(data.clone()),
        server.read_exact(Vec::with_capacity(data.len()))
    );
    sent.0.unwrap();
    received.0.unwrap();
    assert!(received.1 == data, "socket data differs (seed {seed})");
    client.shutdown(std::net::Shutdown::Write).await.unwrap();
    let (n, _) = server.read(Vec::with_capacity(8)).await;
    assert_eq!(n.unwrap(), 0);
}

both_backends! {
    fn per_op_fallback_for_every_optional_opcode(driver) {
        let dir = tempfile::tempdir().unwrap();
        for (i, (code, kernel)) in OPTIONAL.into_iter().enumerate() {
            fault::hide_opcode(code);
            let _current = driver.enter();
            let pool_before = fault::pool_runs();
            driver.block_on(workload(dir.path(), i as u64));
            fault::reveal_opcodes();
            let on_pool = fault::pool_runs() - pool_before;
            assert!(on_pool > 0, "opcode {code} hidden, yet nothing ran on the pool");
            eprintln!("opcode {code} (Linux {kernel}) hidden: {on_pool} operations ran on the pool");
            assert!(common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        }
    }

    fn seeded_failed_submissions_and_short_transfers(driver) {
        let dir = tempfile::tempdir().unwrap();
        let seeds = 40;
        let before = fault::counts();
        for seed in 1..=seeds {
            fault::fail_submissions(seed, 3);
            fault::short_transfers(seed.wrapping_mul(7919), 2);
            let _current = driver.enter();
            driver.block_on(workload(dir.path(), seed));
            fault::fail_submissions(0, 0);
            fault::short_transfers(0, 0);
            assert!(
                common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0),
                "seed {seed}: ops still held"
            );
        }
        let after = fault::counts();
        let (submits, shorts) = (after.0 - before.0, after.1 - before.1);
        println!("{seeds} seeds: {submits} failed submissions and {shorts} short transfers injected");
        if driver.backend() == proactor::Backend::IoUring {
            assert!(submits > 0, "no submission fault was injected");
        }
        assert!(shorts > 0, "no short transfer was injected");
    }
}

both_backends! {
    fn failed_close_submission_still_closes_the_fd(driver) {
        // A close the driver cannot start: on io_uring a push into a full
        // submission queue that the kernel refuses to take; on the
        // readiness back end no blocking pool to run it on.
        let backend = driver.backend();
        drop(driver);
        let driver = match backend {
            Backend::IoUring => common::small_driver(backend, 2),
            Backend::Poll => Driver::builder().force(backend).blocking_threads(0).build().unwrap(),
        };
        let fds_before = common::fd_count();
        let file = OwnedFd::from(tempfile::tempfile().unwrap());
        let closed = driver.block_on(async {
            // block_on batches submissions until it parks, so these queue
            // up (more than the queue holds) without reaching the kernel.
            let mut fillers: Vec<_> = (0..8).map(|_| Op::with_driver(Nop::new(), driver.clone())).collect();
            fault::refuse_submissions(libc::ENXIO);
            for filler in &mut fillers {
                let _ = futures::poll!(filler);
            }
            let closed = futures::poll!(Op::with_driver(Close::new(file), driver.clone()));
            fault::refuse_submissions(0);
            closed
        });
        let Poll::Ready(Err(error)) = closed else {
            panic!("the close was started after all: {closed:?}");
        };
        match backend {
            Backend::IoUring => assert_eq!(error.raw_os_error(), Some(libc::ENXIO), "{error}"),
            Backend::Poll => assert_eq!(error.kind(), std::io::ErrorKind::Unsupported, "{error}"),
        }
        assert!(common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        assert_eq!(common::fd_count_settles(fds_before), fds_before, "the fd leaked");
    }
}

/// The readiness back end tries page-cache reads inline with RWF_NOWAIT, but
/// an O_DIRECT read waits for the device even then: on the event loop it
/// would stall every other operation. Such reads must go to the pool.
#[test]
fn direct_reads_go_to_the_pool_on_the_readiness_back_end() {
    let _serial = common::serial();
    let driver = common::driver(proactor::Backend::Poll);
    // On the target directory's filesystem: tmpfs refuses O_DIRECT.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("direct");
    std::fs::write(&path, vec![5u8; 64 * 1024]).unwrap();
    let opened = driver.block_on(
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path),
    );
    let file = match opened {
        Ok(file) => file,
        Err(e) => {
            eprintln!("skipped: this filesystem refuses O_DIRECT ({e})");
            return;
        }
    };
    let before = fault::pool_runs();
    driver.block_on(async {
        for block in 0..4u64 {
            let buf = proactor::buf::AlignedBuf::new(4096, 4096).unwrap();
            let (n, buf) = file.read_at(buf, block * 4096).await;
            assert_eq!(n.unwrap(), 4096);
            assert!(buf.iter().all(|&b| b == 5));
        }
    });
    assert_eq!(
        fault::pool_runs() - before,
        4,
        "every O_DIRECT read ran on the pool"
    );
}

/// On kernels without `IORING_ENTER_EXT_ARG` (before 5.11) a timed park
/// submits a timeout operation to end its wait. A park woken early must
/// cancel it: otherwise every early wake-up leaves a long timeout in the
/// ring, and they pile up.
#[test]
fn timed_parks_without_ext_arg_cancel_their_timeouts() {
    let _serial = common::serial();
    fault::hide_ext_arg(true);
    let driver = common::driver(proactor::Backend::IoUring);
    for _ in 0..20 {
        let waker = driver.clone();
        let unparker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2));
            waker.unpark();
        });
        driver.park(Some(Duration::from_secs(600))).unwrap();
        unparker.join().unwrap();
    }
    fault::hide_ext_arg(false);
    let settled = common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0);
    assert!(settled, "{} timeouts still in the ring", driver.in_flight());
}

/// A kernel without multishot accept (before 5.19, told by its missing
/// `IORING_OP_SOCKET`): `incoming` on io_uring runs one accept after
/// another, holding no operation between connections.
#[test]
fn incoming_without_multishot_accept_runs_one_accept_at_a_time() {
    use futures::StreamExt;
    let _serial = common::serial();
    fault::hide_opcode(opcode::Socket::CODE);
    let driver = common::driver(proactor::Backend::IoUring);
    driver.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = listener.incoming();
        let clients: Vec<_> = (0..5)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        for _ in &clients {
            let server = incoming.next().await.unwrap().unwrap();
            drop(server);
            assert_eq!(driver.in_flight(), 0, "no request kept between connections");
        }
    });
    fault::reveal_opcodes();
}

/// A kernel without multishot poll (before 5.13, told by its proxy
/// `IORING_OP_UNLINKAT` hidden): `AsyncFd` on io_uring waits with one
/// `POLL_ADD` after another, holding no operation between waits.
#[test]
fn async_fd_without_multishot_poll_waits_one_shot() {
    use std::io::{Read, Write};
    let _serial = common::serial();
    let Some(driver) = common::driver_unless_skipped(Backend::IoUring) else {
        return;
    };
    fault::hide_opcode(opcode::UnlinkAt::CODE);
    let (writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
    reader.set_nonblocking(true).unwrap();
    let reader = proactor::os::AsyncFd::with_driver(reader, driver.clone());
    fault::reveal_opcodes();
    driver.block_on(async {
        let mut buf = [0u8; 4];
        for round in 0..100u8 {
            let mut wait = Box::pin(reader.readable());
            assert!(futures::poll!(&mut wait).is_pending());
            assert_eq!(driver.in_flight(), 1, "one wait in flight");
            (&writer).write_all(&[round]).unwrap();
            wait.await.unwrap();
            assert_eq!((reader.get_ref()).read(&mut buf).unwrap(), 1);
            assert_eq!(driver.in_flight(), 0, "nothing kept between waits");
        }
    });
}

/// A kernel without zero-copy send (before 6.0): `send_zc` on io_uring is a
/// plain send, with the same result.
#[test]
fn send_zc_without_the_opcode_is_a_plain_send() {
    let _serial = common::serial();
    fault::hide_opcode(opcode::SendZc::CODE);
    let driver = common::driver(proactor::Backend::IoUring);
    driver.block_on(async {
        let (client, server) = common::tcp_pair().await;
        let (sent, buf) = client.send_zc(vec![5u8; 4096]).await;
        let sent = sent.unwrap();
        let (got, back) = server.read_exact(vec![0u8; sent]).await;
        got.unwrap();
        assert!(back.iter().all(|&b| b == 5));
        assert_eq!(buf.len(), 4096);
    });
    fault::reveal_opcodes();
}

/// Without `IORING_OP_READ_FIXED` / `WRITE_FIXED` (probe hidden), fixed
/// reads and writes run on the blocking pool with the buffers as plain
/// memory, and give the same bytes.
#[test]
fn fixed_buffers_without_the_opcodes_run_on_the_pool() {
    let _serial = common::serial();
    let Some(driver) = common::driver_unless_skipped(Backend::IoUring) else {
        return;
    };
    let buffers = proactor::buf::FixedBuffers::with_driver(&driver, 2, 4096).unwrap();
    fault::hide_opcode(opcode::ReadFixed::CODE);
    fault::hide_opcode(opcode::WriteFixed::CODE);
    let before = fault::pool_runs();
    let file = tempfile::tempfile().unwrap();
    driver.block_on(async {
        let file = proactor::fs::File::from_std(file).unwrap();
        let mut buf = buffers.take().unwrap();
        buf.extend_from_slice(b"on the pool").unwrap();
        let (n, buf) = file.write_fixed_at(buf, 4).await;
        assert_eq!(n.unwrap(), 11);
        drop(buf);
        let (n, buf) = file.read_fixed_at(buffers.take().unwrap(), 7).await;
        assert_eq!(&buf[..n.unwrap()], b"the pool");
    });
    fault::reveal_opcodes();
    assert_eq!(fault::pool_runs() - before, 2, "both ran on the pool");
    assert_eq!(buffers.available(), 2);
}

/// A kernel without sparse tables (before 5.19): fixed buffers are plain
/// memory read with plain `READ` / `WRITE` entries, files stay
/// unregistered, and the bytes are the same.
#[test]
fn without_sparse_tables_fixed_buffers_are_plain_memory() {
    let _serial = common::serial();
    fault::hide_sparse_tables(true);
    let driver = common::driver_unless_skipped(Backend::IoUring);
    let Some(driver) = driver else {
        fault::hide_sparse_tables(false);
        return;
    };
    let buffers = proactor::buf::FixedBuffers::with_driver(&driver, 2, 4096).unwrap();
    assert!(!buffers.is_registered());
    let before = fault::pool_runs();
    driver.block_on(async {
        let mut file = proactor::fs::File::from_std(tempfile::tempfile().unwrap()).unwrap();
        assert!(!file.register().unwrap());
        let mut buf = buffers.take().unwrap();
        buf.extend_from_slice(b"plain memory").unwrap();
        let (n, buf) = file.write_fixed_at(buf, 0).await;
        assert_eq!(n.unwrap(), 12);
        drop(buf);
        let (n, buf) = file.read_fixed_at(buffers.take().unwrap(), 6).await;
        assert_eq!(&buf[..n.unwrap()], b"memory");
    });
    fault::hide_sparse_tables(false);
    assert_eq!(fault::pool_runs(), before, "in the ring, not on the pool");
}

/// Receives a patterned 200 KiB through `recv_stream` on io_uring with a
/// small pool, checking every byte and that every buffer came back.
fn recv_stream_moves_every_byte(driver: &Driver, registered: bool) {
    use futures::StreamExt;
    use std::io::Write;
    let sent: Vec<u8> = (0..200_000).map(|i| (i % 251) as u8).collect();
    driver.block_on(async {
        let (mut client, server) = common::std_tcp_pair();
        let server = TcpStream::from_std(server).unwrap();
        let pool = proactor::buf::BufPool::new(4, 1024).unwrap();
        assert_eq!(pool.is_registered(), registered);
        let to_send = sent.clone();
        let writer = std::thread::spawn(move || client.write_all(&to_send).unwrap());
        let mut received = Vec::new();
        let mut chunks = server.recv_stream(&pool);
        while let Some(chunk) = chunks.next().await {
            received.extend_from_slice(&chunk.unwrap());
        }
        writer.join().unwrap();
        assert!(received == sent, "bytes lost or out of order");
        assert_eq!(pool.in_use(), 0);
    });
}

/// A kernel with provided-buffer rings but no multishot receive (5.19,
/// told by its missing `IORING_OP_SEND_ZC` of 6.0): one buffer-select
/// receive after another, each yielding one chunk.
#[test]
fn recv_stream_without_multishot_receive_selects_one_buffer_at_a_time() {
    let _serial = common::serial();
    let Some(driver) = common::driver_unless_skipped(Backend::IoUring) else {
        return;
    };
    fault::hide_opcode(opcode::SendZc::CODE);
    recv_stream_moves_every_byte(&driver, true);
    fault::reveal_opcodes();
}

/// A kernel without provided-buffer rings (before 5.19, told by its
/// missing `IORING_OP_SOCKET`): the pool is plain memory and each receive
/// on io_uring takes a free buffer of it.
#[test]
fn recv_stream_without_buffer_rings_lends_pool_buffers() {
    let _serial = common::serial();
    fault::hide_opcode(opcode::Socket::CODE);
    let Some(driver) = common::driver_unless_skipped(Backend::IoUring) else {
        fault::reveal_opcodes();
        return;
    };
    recv_stream_moves_every_byte(&driver, false);
    fault::reveal_opcodes();
}
