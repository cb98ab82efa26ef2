//! Hostile use of the resubmission of operations whose submitting thread
//! exited (io_uring ends them with ECANCELED).
#![cfg(unix)]

mod common;

use std::future::Future;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proactor::op::{Op, Recv, Timeout};

fn stream_pair() -> (TcpStream, Arc<TcpStream>) {
    let (a, b) = common::std_tcp_pair();
    (a, Arc::new(b))
}

/// Polls `op` once on a new thread, which lives on for `linger`, then exits.
fn submitted_by_a_thread_that_exits_after<F>(mut op: F, linger: Duration) -> F
where
    F: Future + Unpin + Send + 'static,
{
    std::thread::spawn(move || {
        let waker = common::FnWaker::waker(|| {}, || {});
        assert!(common::poll_with(&mut op, &waker).is_pending());
        std::thread::sleep(linger);
        op
    })
    .join()
    .unwrap()
}

both_backends! {
    /// A 600 ms timer whose submitting thread exits 400 ms in must still
    /// fire at ~600 ms, not be started over at the exit (~1000 ms).
    fn a_timer_whose_submitter_exits_late_fires_on_time(driver) {
        let started = Instant::now();
        let timer = submitted_by_a_thread_that_exits_after(
            Op::with_driver(Timeout::new(Duration::from_millis(600)), driver.clone()),
            Duration::from_millis(400),
        );
        driver.block_on(timer).unwrap();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(600), "{waited:?}");
        assert!(waited < Duration::from_millis(900), "fired {waited:?} after submission: restarted at the thread's exit");
    }

    /// 10 000 ops from 100 short-lived threads, all alive and completing.
    fn ten_thousand_ops_from_a_hundred_exited_threads(driver) {
        let d = driver.clone();
        common::finishes_within(Duration::from_secs(60), "10k ops from exited threads", move || {
            let started = Instant::now();
            let mut ops = Vec::new();
            for _ in 0..100 {
                let d = d.clone();
                let batch: Vec<_> = std::thread::spawn(move || {
                    let waker = common::FnWaker::waker(|| {}, || {});
                    (0..100)
                        .map(|i| {
                            let mut op = Op::with_driver(Timeout::new(Duration::from_millis(200 + i)), d.clone());
                            assert!(common::poll_with(&mut op, &waker).is_pending());
                            op
                        })
                        .collect()
                })
                .join()
                .unwrap();
                ops.extend(batch);
            }
            let results = d.block_on(futures::future::join_all(ops));
            assert!(results.iter().all(|r| r.is_ok()), "{:?}", results.iter().find(|r| r.is_err()));
            let waited = started.elapsed();
            assert!(waited < Duration::from_secs(5), "{waited:?}");
            assert!(common::park_until(&d, Duration::from_secs(5), || d.in_flight() == 0), "in flight: {}", d.in_flight());
        });
    }

    /// The submitting thread exits while another thread drops the future:
    /// nothing leaks, nothing hangs, the driver still works.
    fn submitter_exit_races_the_drop(driver) {
        let fds = common::fd_count();
        for round in 0..200 {
            let (_a, b) = stream_pair();
            let (tx, rx) = std::sync::mpsc::channel();
            let d = driver.clone();
            let submitter = std::thread::spawn(move || {
                let waker = common::FnWaker::waker(|| {}, || {});
                let mut op = Op::with_driver(Recv::new(b, Vec::with_capacity(8)), d);
                assert!(common::poll_with(&mut op, &waker).is_pending());
                tx.send(op).unwrap();
            });
            let op = rx.recv().unwrap();
            // A reaper meanwhile, so the ECANCELED may be seen mid-drop.
            let d = driver.clone();
            let reaper = std::thread::spawn(move || {
                for _ in 0..3 {
                    let _ = d.park(Some(Duration::from_micros(200)));
                }
            });
            if round % 2 == 0 {
                std::thread::yield_now();
            }
            drop(op);
            submitter.join().unwrap();
            reaper.join().unwrap();
        }
        let d = driver.clone();
        assert!(common::park_until(&d, Duration::from_secs(5), || d.in_flight() == 0), "in flight: {}", d.in_flight());
        assert!(common::fd_count_settles(fds) <= fds);
        let (mut a, b) = stream_pair();
        let recv = Op::with_driver(Recv::new(b, Vec::with_capacity(8)), driver.clone());
        a.write_all(b"ok").unwrap();
        let (n, _) = driver.block_on(recv);
        assert_eq!(n.unwrap(), 2);
    }

    /// A recv submitted by a thread that exits, then data arrives while a
    /// second thread (which also exits) holds the turn: no duplicate
    /// completion, no stuck op.
    fn resubmit_then_exit_loop(driver) {
        let (mut a, b) = stream_pair();
        let mut recv = Op::with_driver(Recv::new(b, Vec::with_capacity(64)), driver.clone());
        for _ in 0..20 {
            recv = submitted_by_a_thread_that_exits_after(recv, Duration::ZERO);
            let d = driver.clone();
            std::thread::spawn(move || {
                let _ = d.park(Some(Duration::from_millis(5)));
            })
            .join()
            .unwrap();
        }
        a.write_all(b"twenty").unwrap();
        let (n, buf) = common::finishes_within(Duration::from_secs(10), "recv after 20 exits", {
            let d = driver.clone();
            move || d.block_on(recv)
        });
        assert_eq!(n.unwrap(), 6);
        assert_eq!(buf, b"twenty");
    }
}

fn fifo() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    (dir, path)
}

both_backends! {
    /// An open that blocks in the kernel (a FIFO with no writer yet: io-wq
    /// on io_uring, the pool on the readiness back end) whose submitting
    /// thread exits meanwhile: nobody cancelled it, so it must still open
    /// once a writer comes, not fail with EINTR or ECANCELED.
    fn a_blocking_open_whose_submitter_exits(driver) {
        let (_dir, path) = fifo();
        let open = submitted_by_a_thread_that_exits_after(
            Box::pin({
                let (path, driver) = (path.clone(), driver.clone());
                async move { proactor::fs::OpenOptions::new().read(true).open_with(path, driver).await }
            }),
            Duration::from_millis(50),
        );
        std::thread::sleep(Duration::from_millis(50));
        let writer = std::thread::spawn(move || std::fs::OpenOptions::new().write(true).open(path).unwrap());
        let d = driver.clone();
        let opened = common::finishes_within(Duration::from_secs(10), "an open after its submitter exited", move || d.block_on(open));
        let _writer = writer.join().unwrap();
        assert!(opened.is_ok(), "{:?}", opened.err());
    }
}

both_backends! {
    /// A connect still in progress (the SYN dropped: the listener's accept
    /// queue is full) whose submitting thread exits. When the handshake
    /// completes, io_uring ends the request with ECANCELED (its task is
    /// gone) and the driver resubmits the same SQE: a second connect(2)
    /// on a socket that is now connected. The caller must see success, not
    /// EISCONN.
    fn a_connect_in_progress_whose_submitter_exits(driver) {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let filler = std::net::TcpStream::connect(addr.as_socket().unwrap()).unwrap();
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_nonblocking(true).unwrap();
        let connect = submitted_by_a_thread_that_exits_after(
            Op::with_driver(proactor::op::Connect::new(socket, addr.clone()), driver.clone()),
            Duration::from_millis(20),
        );
        // Room in the queue: the SYN's retransmission (about 1 s) gets in.
        let (_first, _) = listener.accept().unwrap();
        let d = driver.clone();
        let connected = common::finishes_within(Duration::from_secs(20), "a connect after its submitter exited", move || d.block_on(connect));
        drop(filler);
        assert!(connected.is_ok(), "{connected:?}");
    }
}
