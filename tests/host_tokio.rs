//! The tokio integration: inside a runtime, operations run on a driver the
//! runtime's own reactor dispatches. The back end is the automatic one
//! (`PROACTOR_BACKEND` picks it: ci/test.sh runs this file with each).
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{finishes_within, FnWaker};
use proactor::net::{TcpListener, TcpStream};
use proactor::op::{Blocking, Op, Timeout};
use proactor::Driver;

const HANG: Duration = Duration::from_secs(30);

/// Sockets, timers, files and pool jobs, as a tokio program uses them.
async fn workload() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (got, buf) = stream.read_exact(vec![0u8; 5]).await;
        got.unwrap();
        let (sent, _) = stream.write_all(buf).await;
        sent.unwrap();
    });
    let client = TcpStream::connect(addr).await.unwrap();
    let (sent, _) = client.write_all(b"hello").await;
    sent.unwrap();
    let (got, buf) = client.read_exact(vec![0u8; 5]).await;
    got.unwrap();
    assert_eq!(buf, b"hello");
    server.await.unwrap();
    let started = Instant::now();
    proactor::time::sleep(Duration::from_millis(10))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(10));
    let contents = proactor::fs::read("Cargo.toml").await.unwrap();
    assert!(contents.starts_with(b"[package]"));
    let job = Op::new(Blocking::new(|| 6 * 7)).unwrap();
    assert_eq!(job.await.unwrap(), 42);
    // A socket whose I/O is done by hand, awaited through the driver.
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let b = proactor::os::AsyncFd::new(b).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        std::io::Write::write_all(&mut &a, b"fd").unwrap();
    });
    let mut buf = [0u8; 4];
    let n = b
        .read_with(|mut socket| std::io::Read::read(&mut socket, &mut buf))
        .await
        .unwrap();
    assert_eq!(&buf[..n], b"fd");
    writer.join().unwrap();
    // Connections as a stream: one multishot accept on io_uring.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = listener.incoming();
    for _ in 0..3 {
        let client = TcpStream::connect(addr).await.unwrap();
        let server = futures::StreamExt::next(&mut incoming)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    }
}

#[test]
fn workload_under_current_thread_and_multi_thread_runtimes() {
    for runtime in [
        common::current_thread_runtime(),
        common::multi_thread_runtime(),
    ] {
        finishes_within(HANG, "a workload under tokio", move || {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(workload())).collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
        });
    }
}

/// Run alone in a child process: no other test may start the process-wide
/// driver there.
#[test]
fn no_proactor_thread_runs_under_tokio() {
    // The child runs on the back end this run was asked for, if any.
    let backend = std::env::var("PROACTOR_BACKEND").unwrap_or_default();
    let mut env = vec![("PROACTOR_TOKIO_CHILD", "1")];
    if !backend.is_empty() {
        env.push(("PROACTOR_BACKEND", backend.as_str()));
    }
    let (ok, output) = common::run_child("tokio_workload_child", &env);
    assert!(ok, "{output}");
    assert!(output.contains("no proactor thread"), "{output}");
}

#[test]
fn tokio_workload_child() {
    if std::env::var_os("PROACTOR_TOKIO_CHILD").is_none() {
        return;
    }
    for runtime in [
        common::current_thread_runtime(),
        common::multi_thread_runtime(),
    ] {
        runtime.block_on(async {
            tokio::spawn(workload()).await.unwrap();
            assert_eq!(
                common::threads_named("proactor-driver"),
                0,
                "the process-wide driver started"
            );
            assert_eq!(common::threads_named("proactor-orphan"), 0);
        });
    }
    println!("no proactor thread");
}

#[test]
fn each_runtime_has_its_own_driver_and_it_goes_with_the_runtime() {
    let first = common::current_thread_runtime();
    let weak = first.block_on(async {
        let driver = Driver::current();
        assert_eq!(format!("{driver:?}"), format!("{:?}", Driver::current()));
        proactor::time::sleep(Duration::from_millis(1))
            .await
            .unwrap();
        // Nothing but the runtime's dispatcher keeps it.
        Arc::downgrade(&Arc::new(driver))
    });
    drop(weak);
    let fds = common::fd_count();
    finishes_within(HANG, "dropping an idle runtime", move || drop(first));
    let second = common::current_thread_runtime();
    second.block_on(async {
        proactor::time::sleep(Duration::from_millis(1))
            .await
            .unwrap();
    });
    drop(second);
    // The first runtime's ring or poller is closed with its driver.
    assert!(common::fd_count_settles(fds) <= fds);
}

#[test]
fn runtime_dropped_with_a_thousand_operations_in_flight() {
    let _serial = common::serial();
    let fds = common::fd_count();
    let runtime = common::multi_thread_runtime();
    let started = Arc::new(AtomicUsize::new(0));
    let keep = runtime.block_on({
        let started = started.clone();
        async move {
            let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let (a, b) = common::tcp_pair().await;
            let (a, b) = (Arc::new(a), Arc::new(b));
            for i in 0..1000 {
                let (listener, a, started) = (listener.clone(), a.clone(), started.clone());
                tokio::spawn(async move {
                    started.fetch_add(1, SeqCst);
                    match i % 3 {
                        0 => drop(a.read(Vec::with_capacity(64)).await),
                        1 => drop(listener.accept().await),
                        _ => drop(
                            Op::new(Timeout::new(Duration::from_secs(3600)))
                                .unwrap()
                                .await,
                        ),
                    }
                });
            }
            while started.load(SeqCst) < 1000 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            b
        }
    });
    finishes_within(
        HANG,
        "dropping a runtime with 1000 operations in flight",
        move || {
            drop(runtime);
            drop(keep);
        },
    );
    // A driver whose runtime went first is driven by a thread of its own
    // until its last handle (here `keep`) is gone.
    let deadline = Instant::now() + HANG;
    while common::threads_named("proactor-orphan") > 0 {
        assert!(
            Instant::now() < deadline,
            "a driver outlived its runtime and its last handle"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let now = common::fd_count_settles(fds);
    assert!(now <= fds, "{now} fds open, {fds} before");
}

#[test]
fn a_future_moves_to_another_runtime_and_to_block_on() {
    for after_first_dies in [false, true] {
        // A live current-thread runtime runs its reactor only inside its own
        // `block_on` (tokio's own sockets wait the same way): the live case
        // takes a runtime whose workers keep running.
        let first = if after_first_dies {
            common::current_thread_runtime()
        } else {
            common::multi_thread_runtime()
        };
        let second = common::current_thread_runtime();
        let (reader, writer) = first.block_on(common::tcp_pair());
        let reader = Arc::new(reader);
        let mut read = Box::pin({
            let reader = reader.clone();
            async move { reader.read(Vec::with_capacity(16)).await }
        });
        // Started (submitted) under the first runtime.
        first.block_on(async {
            let waker = FnWaker::waker(|| {}, || {});
            assert!(common::poll_with(&mut read, &waker).is_pending());
        });
        let first = if after_first_dies {
            drop(first);
            None
        } else {
            Some(first)
        };
        let (sent, _) = second.block_on(writer.write_all(b"moved"));
        sent.unwrap();
        let (got, buf) =
            finishes_within(HANG, "a future polled under a second runtime", move || {
                second.block_on(read)
            });
        assert_eq!(got.unwrap(), 5);
        assert_eq!(buf, b"moved");
        // And under proactor's own block_on.
        let mut again = Box::pin(async move { reader.read(Vec::with_capacity(16)).await });
        let third = common::current_thread_runtime();
        third.block_on(async {
            let waker = FnWaker::waker(|| {}, || {});
            assert!(common::poll_with(&mut again, &waker).is_pending());
        });
        let (sent, _) = third.block_on(writer.write_all(b"again"));
        sent.unwrap();
        let (got, buf) = finishes_within(HANG, "a future polled under block_on", move || {
            Driver::new().unwrap().block_on(again)
        });
        assert_eq!(got.unwrap(), 5);
        assert_eq!(buf, b"again");
        drop((third, first));
    }
}

#[test]
fn a_panicking_waker_does_not_stop_the_dispatcher() {
    let runtime = common::current_thread_runtime();
    finishes_within(HANG, "a runtime after a waker panicked", move || {
        runtime.block_on(async {
            let mut doomed = Op::new(Timeout::new(Duration::from_millis(1))).unwrap();
            let waker = FnWaker::waker(|| panic!("hostile waker under tokio"), || {});
            assert!(common::poll_with(&mut doomed, &waker).is_pending());
            drop(waker);
            tokio::time::sleep(Duration::from_millis(20)).await;
            // The dispatcher survived the panic: the runtime's I/O goes on.
            workload().await;
            drop(doomed);
        });
    });
}

/// Polls `fut` once and drops it: started, then cancelled in flight.
fn start_and_drop<F: std::future::Future>(fut: F) {
    let waker = FnWaker::waker(|| {}, || {});
    let mut fut = std::pin::pin!(fut);
    let _ = fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&waker));
}

#[test]
fn cancel_storm_on_the_runtimes_driver() {
    let _serial = common::serial();
    for runtime in [
        common::current_thread_runtime(),
        common::multi_thread_runtime(),
    ] {
        let fds = common::fd_count();
        finishes_within(HANG, "a cancel storm under tokio", move || {
            runtime.block_on(async {
                let driver = Driver::current();
                let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
                let (a, _b) = common::tcp_pair().await;
                let a = Arc::new(a);
                let tasks: Vec<_> = (0..4)
                    .map(|task| {
                        let (listener, a) = (listener.clone(), a.clone());
                        tokio::spawn(async move {
                            for i in 0..5_000 {
                                match (i + task) % 3 {
                                    0 => start_and_drop(a.read(Vec::with_capacity(64))),
                                    1 => start_and_drop(listener.accept()),
                                    _ => start_and_drop(
                                        Op::new(Timeout::new(Duration::from_secs(3600))).unwrap(),
                                    ),
                                }
                                if i % 64 == 0 {
                                    tokio::task::yield_now().await;
                                }
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                // Every cancellation lands, through the runtime's own loop.
                while driver.in_flight() > 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                // And the driver still works.
                workload().await;
            });
            drop(runtime);
        });
        let now = common::fd_count_settles(fds);
        assert!(now <= fds, "{now} fds open, {fds} before");
    }
}
