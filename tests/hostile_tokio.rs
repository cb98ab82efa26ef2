//! Hostile use of the tokio host integration: shutdowns, nesting, many
//! runtimes, threads that come and go.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{finishes_within, FnWaker};
use proactor::op::{Op, Timeout};
use proactor::Driver;

const HANG: Duration = Duration::from_secs(30);

async fn one_op() {
    proactor::time::sleep(Duration::from_millis(1))
        .await
        .unwrap();
}

/// Runs `body` (within `limit`, else fails naming `what`), then checks that
/// no more fds are open and no more threads run than before.
fn leaves_no_fd_or_thread(limit: Duration, what: &str, body: impl FnOnce() + Send + 'static) {
    let fds = common::fd_count();
    let tasks = common::library_threads().len();
    finishes_within(limit, what, body);
    let now = common::fd_count_settles(fds);
    assert!(now <= fds, "{what}: {now} fds open, {fds} before");
    let t = common::settles_at_or_below(tasks, || common::library_threads().len());
    assert!(
        t <= tasks,
        "{what}: {t} threads, {tasks} before: {:?}",
        common::library_threads()
    );
}

#[test]
fn a_thousand_runtimes_one_op_each() {
    let _serial = common::serial();
    // Warm up: one of each, so lazily made process-wide things exist.
    common::current_thread_runtime().block_on(one_op());
    leaves_no_fd_or_thread(Duration::from_secs(120), "1000 runtimes", || {
        for i in 0..1000 {
            let rt = if i % 10 == 0 {
                common::multi_thread_runtime()
            } else {
                common::current_thread_runtime()
            };
            rt.block_on(async { tokio::spawn(one_op()).await.unwrap() });
            drop(rt);
        }
    });
}

#[test]
fn a_thousand_runtimes_each_dropped_with_an_op_in_flight() {
    let _serial = common::serial();
    common::current_thread_runtime().block_on(one_op());
    leaves_no_fd_or_thread(
        Duration::from_secs(120),
        "1000 runtimes dropped mid-op",
        || {
            for _ in 0..1000 {
                let rt = common::current_thread_runtime();
                rt.block_on(async {
                    tokio::spawn(async {
                        Op::new(Timeout::new(Duration::from_secs(3600)))
                            .unwrap()
                            .await
                            .unwrap();
                    });
                    tokio::task::yield_now().await;
                    tokio::task::yield_now().await;
                });
                drop(rt);
            }
        },
    );
}

#[test]
fn shutdown_background_and_timeout_zero_with_ops_in_flight() {
    let _serial = common::serial();
    common::current_thread_runtime().block_on(one_op());
    for background in [true, false] {
        let fds = common::fd_count();
        let rt = common::multi_thread_runtime();
        let started = Arc::new(AtomicUsize::new(0));
        rt.block_on({
            let started = started.clone();
            async move {
                let (a, b) = common::tcp_pair().await;
                let (a, b) = (Arc::new(a), Arc::new(b));
                for i in 0..200 {
                    let (a, b, started) = (a.clone(), b.clone(), started.clone());
                    tokio::spawn(async move {
                        started.fetch_add(1, SeqCst);
                        if i % 2 == 0 {
                            drop(a.read(Vec::with_capacity(8)).await);
                        } else {
                            drop(b.read(Vec::with_capacity(8)).await);
                        }
                    });
                }
                while started.load(SeqCst) < 200 {
                    tokio::task::yield_now().await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        finishes_within(HANG, "shutdown with ops in flight", move || {
            if background {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::ZERO);
            }
        });
        let now = common::fd_count_settles(fds);
        assert!(
            now <= fds,
            "background={background}: {now} fds open, {fds} before"
        );
        let orphans = common::orphan_threads_settle();
        assert_eq!(orphans, 0, "background={background}");
    }
}

type Build = fn() -> tokio::runtime::Runtime;

#[test]
fn runtimes_without_io_or_time_still_run_ops() {
    let _serial = common::serial();
    let builders: Vec<(&str, Build)> = vec![
        ("neither", || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
        }),
        ("io only", || {
            tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap()
        }),
        ("time only", || {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap()
        }),
        ("mt neither", || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
                .unwrap()
        }),
        ("mt io only", || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_io()
                .build()
                .unwrap()
        }),
    ];
    for (name, build) in builders {
        finishes_within(HANG, name, move || {
            let rt = build();
            rt.block_on(async {
                tokio::spawn(async {
                    one_op().await;
                    let contents = proactor::fs::read("Cargo.toml").await.unwrap();
                    assert!(contents.starts_with(b"[package]"));
                    let (a, b) = common::tcp_pair().await;
                    let (w, _) = a.write_all(b"hi").await;
                    w.unwrap();
                    let (r, buf) = b.read_exact(vec![0u8; 2]).await;
                    r.unwrap();
                    assert_eq!(buf, b"hi");
                })
                .await
                .unwrap()
            });
        });
    }
}

#[test]
fn polled_under_a_then_finished_by_futures_block_on_after_a_dropped() {
    let _serial = common::serial();
    let rt = common::current_thread_runtime();
    let (reader, writer) = rt.block_on(common::tcp_pair());
    let mut read = Box::pin(async move { reader.read(Vec::with_capacity(16)).await });
    rt.block_on(async {
        let waker = FnWaker::waker(|| {}, || {});
        assert!(common::poll_with(&mut read, &waker).is_pending());
    });
    drop(rt);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let (sent, _) = proactor::block_on(writer.write_all(b"late"));
        sent.unwrap();
        writer
    });
    let (got, buf) = finishes_within(
        HANG,
        "futures::executor::block_on after the runtime died",
        move || futures::executor::block_on(read),
    );
    assert_eq!(got.unwrap(), 4);
    assert_eq!(buf, b"late");
    let orphans = common::orphan_threads_settle();
    assert_eq!(orphans, 0);
}

#[test]
#[allow(clippy::async_yields_async)] // the started timer is the point
fn a_timer_under_futures_block_on_after_the_runtime_died_fires_on_time() {
    let _serial = common::serial();
    let rt = common::current_thread_runtime();
    let mut timer = rt.block_on(async {
        let mut timer = Op::new(Timeout::new(Duration::from_millis(300))).unwrap();
        let waker = FnWaker::waker(|| {}, || {});
        assert!(common::poll_with(&mut timer, &waker).is_pending());
        timer
    });
    let started = Instant::now();
    drop(rt);
    finishes_within(HANG, "a timer after its runtime died", move || {
        futures::executor::block_on(&mut timer).unwrap();
    });
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn spawn_blocking_threads_submit_then_exit() {
    let _serial = common::serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .thread_keep_alive(Duration::from_millis(1))
        .enable_all()
        .build()
        .unwrap();
    finishes_within(HANG, "ops from spawn_blocking threads", move || {
        rt.block_on(async {
            let (a, b) = common::tcp_pair().await;
            let b = Arc::new(b);
            // Futures first polled (submitted) on blocking threads that then
            // exit (keep-alive 1 ms); they are finished on the workers.
            let mut ops = Vec::new();
            for _ in 0..32 {
                let b = b.clone();
                let op = tokio::task::spawn_blocking(move || {
                    let mut read = Box::pin(async move { b.read(Vec::with_capacity(1)).await });
                    let waker = FnWaker::waker(|| {}, || {});
                    assert!(common::poll_with(&mut read, &waker).is_pending());
                    read
                })
                .await
                .unwrap();
                ops.push(op);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (w, _) = a.write_all(vec![7u8; 32]).await;
            w.unwrap();
            let tasks: Vec<_> = ops.into_iter().map(tokio::spawn).collect();
            let mut total = 0;
            for t in tasks {
                let (n, _) = t.await.unwrap();
                total += n.unwrap();
            }
            assert_eq!(total, 32);
        });
    });
}

#[test]
fn block_in_place_with_ops() {
    let _serial = common::serial();
    let rt = common::multi_thread_runtime();
    finishes_within(HANG, "block_in_place", move || {
        rt.block_on(async {
            tokio::spawn(async {
                let (a, b) = common::tcp_pair().await;
                let read = tokio::task::block_in_place(|| {
                    let mut read = Box::pin(async move { b.read(Vec::with_capacity(4)).await });
                    let waker = FnWaker::waker(|| {}, || {});
                    assert!(common::poll_with(&mut read, &waker).is_pending());
                    read
                });
                let (w, _) = a.write_all(b"bip!").await;
                w.unwrap();
                let (n, _) = read.await;
                assert_eq!(n.unwrap(), 4);
            })
            .await
            .unwrap();
        });
    });
}

#[test]
fn nested_runtime_in_spawn_blocking() {
    let _serial = common::serial();
    let rt = common::multi_thread_runtime();
    finishes_within(HANG, "nested runtime", move || {
        rt.block_on(async {
            let outer = Driver::current();
            let inner_ok = tokio::task::spawn_blocking(move || {
                let inner = common::current_thread_runtime();
                inner.block_on(async move {
                    let _ = (Driver::current(), outer);
                    one_op().await;
                    workload_small().await;
                });
                true
            })
            .await
            .unwrap();
            assert!(inner_ok);
            one_op().await;
        });
    });
}

async fn workload_small() {
    let (a, b) = common::tcp_pair().await;
    let (w, _) = a.write_all(b"x").await;
    w.unwrap();
    let (r, _) = b.read_exact(vec![0u8; 1]).await;
    r.unwrap();
}

#[test]
fn proactor_block_on_inside_a_tokio_task() {
    let _serial = common::serial();
    for multi in [false, true] {
        let rt = if multi {
            common::multi_thread_runtime()
        } else {
            common::current_thread_runtime()
        };
        finishes_within(
            Duration::from_secs(10),
            "proactor::block_on in a tokio task",
            move || {
                rt.block_on(async {
                    tokio::spawn(async {
                        proactor::block_on(async {
                            one_op().await;
                            workload_small().await;
                        })
                    })
                    .await
                    .unwrap();
                });
            },
        );
    }
}

#[test]
fn local_set_ops() {
    let _serial = common::serial();
    let rt = common::current_thread_runtime();
    finishes_within(HANG, "LocalSet", move || {
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    tokio::task::spawn_local(async {
                        workload_small().await;
                        one_op().await
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
    });
}

#[test]
fn many_runtimes_on_many_threads_at_once() {
    let _serial = common::serial();
    common::current_thread_runtime().block_on(one_op());
    let fds = common::fd_count();
    finishes_within(Duration::from_secs(120), "many runtimes at once", || {
        let threads: Vec<_> = (0..16)
            .map(|i| {
                std::thread::spawn(move || {
                    for j in 0..30 {
                        let rt = if (i + j) % 4 == 0 {
                            common::multi_thread_runtime()
                        } else {
                            common::current_thread_runtime()
                        };
                        rt.block_on(async {
                            let t: Vec<_> =
                                (0..4).map(|_| tokio::spawn(workload_small())).collect();
                            for t in t {
                                t.await.unwrap();
                            }
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
    let now = common::fd_count_settles(fds);
    assert!(now <= fds, "{now} fds open, {fds} before");
}

#[test]
#[allow(clippy::async_yields_async)] // the started timer is the point
fn runtime_dropped_from_inside_a_task() {
    let _serial = common::serial();
    // An inner runtime is made and dropped on a spawn_blocking thread of the
    // outer one, while a timer of the inner's driver lives in the outer task.
    let outer = common::multi_thread_runtime();
    finishes_within(HANG, "inner runtime dropped in spawn_blocking", move || {
        outer.block_on(async {
            let mut timer = tokio::task::spawn_blocking(|| {
                let inner = common::current_thread_runtime();
                let t = inner.block_on(async {
                    let mut t = Op::new(Timeout::new(Duration::from_millis(100))).unwrap();
                    let waker = FnWaker::waker(|| {}, || {});
                    assert!(common::poll_with(&mut t, &waker).is_pending());
                    t
                });
                drop(inner);
                t
            })
            .await
            .unwrap();
            (&mut timer).await.unwrap();
        });
    });
}

/// Every worker idle (one in epoll_wait on the ring fd, the others parked
/// on tokio's condvar), then data arrives from outside the runtime: the
/// pending receive must complete promptly. With COOP_TASKRUN the kernel
/// queues the completion's task work to the thread that submitted the
/// request, without interrupting it.
#[test]
fn idle_workers_then_data_from_outside() {
    let _serial = common::serial();
    use std::os::fd::AsRawFd;
    for workers in [1usize, 2, 4] {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        let (a, b) = rt.block_on(common::tcp_pair());
        let b = Arc::new(b);
        let raw = a.as_raw_fd();
        for round in 0..20 {
            let b2 = b.clone();
            let task = rt.spawn(async move { b2.read(Vec::with_capacity(8)).await.0 });
            // Let every worker go to sleep.
            std::thread::sleep(Duration::from_millis(30));
            let started = Instant::now();
            // SAFETY: writes 1 byte from a live buffer to an open socket.
            assert_eq!(unsafe { libc::write(raw, b"!".as_ptr().cast(), 1) }, 1);
            let got = finishes_within(Duration::from_secs(5), "a receive on an idle runtime", {
                let handle = rt.handle().clone();
                move || handle.block_on(task).unwrap()
            });
            assert_eq!(got.unwrap(), 1);
            let took = started.elapsed();
            assert!(
                took < Duration::from_millis(500),
                "workers={workers} round={round}: {took:?}"
            );
        }
        drop(a);
    }
}

/// A runtime whose futures are all gone when it shuts down needs no
/// `proactor-orphan` thread: none may start (even briefly).
#[test]
fn no_orphan_thread_for_a_runtime_with_nothing_left() {
    let _serial = common::serial();
    // An earlier test's orphans leave within the orphanage's sweep.
    assert_eq!(
        common::orphan_threads_settle(),
        0,
        "an earlier test left a proactor-orphan thread running"
    );
    let mut seen = 0;
    for _ in 0..50 {
        let rt = common::current_thread_runtime();
        rt.block_on(async { tokio::spawn(one_op()).await.unwrap() });
        drop(rt);
        seen = seen.max(common::threads_named("proactor-orphan"));
    }
    assert_eq!(
        seen, 0,
        "a proactor-orphan thread ran for a runtime that left nothing behind"
    );
}

/// Runtimes that end while an idle I/O object of theirs (no operation in
/// flight, no future) lives on: each leaves a `proactor-orphan` thread
/// parked (waking every 50 ms) for as long as the object lives. 100 such
/// runtimes: 100 threads.
#[test]
fn idle_objects_of_dead_runtimes_each_keep_a_thread() {
    let _serial = common::serial();
    let before = common::library_threads().len();
    let mut kept = Vec::new();
    for _ in 0..100 {
        let rt = common::current_thread_runtime();
        let pair = rt.block_on(common::tcp_pair());
        drop(rt);
        kept.push(pair);
    }
    std::thread::sleep(Duration::from_millis(200));
    let orphans = common::threads_named("proactor-orphan");
    let grown = common::library_threads().len().saturating_sub(before);
    drop(kept);
    assert!(orphans < 10, "{orphans} proactor-orphan threads ({grown} threads more) for 100 idle sockets of dead runtimes");
}

/// Creates an operation when dropped: as a task's future is dropped by the
/// runtime's shutdown, inside the runtime's context.
struct OpInDrop(Arc<AtomicUsize>);

impl Drop for OpInDrop {
    fn drop(&mut self) {
        let driver = Driver::current();
        drop(Op::with_driver(
            Timeout::new(Duration::from_millis(1)),
            driver,
        ));
        self.0.fetch_add(1, SeqCst);
    }
}

/// Spawns on `rt` a task that never ends and makes an operation when
/// dropped, lets it start (`started`), then drops `rt`, which must finish
/// within 10 s (else fails naming `what`) and drop that task.
fn shut_down_with_an_op_in_a_task_drop(
    rt: tokio::runtime::Runtime,
    started: impl FnOnce(&tokio::runtime::Runtime),
    what: &str,
) {
    let dropped = Arc::new(AtomicUsize::new(0));
    rt.spawn({
        let guard = OpInDrop(dropped.clone());
        async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }
    });
    started(&rt);
    finishes_within(Duration::from_secs(10), what, move || drop(rt));
    assert_eq!(dropped.load(SeqCst), 1);
}

/// The first proactor use of a runtime happens while it shuts down (a task's
/// drop): making its driver spawns the dispatcher on a closed runtime, which
/// drops it at once, inside the registry's lock.
#[test]
fn first_use_during_runtime_shutdown() {
    let _serial = common::serial();
    shut_down_with_an_op_in_a_task_drop(
        common::current_thread_runtime(),
        |rt| rt.block_on(tokio::task::yield_now()),
        "a runtime's shutdown with proactor's first use in a task's drop",
    );
}

/// A spawn_blocking thread still running after `shutdown_background`
/// uses proactor for the first time in that runtime.
#[test]
fn first_use_on_a_blocking_thread_after_shutdown_background() {
    let _serial = common::serial();
    let rt = common::multi_thread_runtime();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (done, finished) = std::sync::mpsc::channel();
    rt.spawn_blocking(move || {
        wait.recv().unwrap();
        let result = proactor::block_on(proactor::time::sleep(Duration::from_millis(1)));
        let _ = done.send(result.is_ok());
    });
    rt.shutdown_background();
    // The workers close the runtime's task list meanwhile.
    std::thread::sleep(Duration::from_millis(200));
    go.send(()).unwrap();
    let ok = finished.recv_timeout(Duration::from_secs(10));
    assert_eq!(
        ok,
        Ok(true),
        "the blocking thread never finished its first operation"
    );
}

/// A runtime without its time or I/O driver: proactor probes for them by
/// letting tokio panic and catching it. The panic hook still reports each
/// probe on stderr (and with `panic = "abort"` the probe aborts the
/// process). Run in a child to capture its stderr.
#[test]
#[ignore = "known limitation (src/host/tokio.rs): tokio panics when asked for a driver a runtime lacks; the panic is caught, and the hook reports it once per such runtime"]
fn runtimes_without_drivers_print_no_panics() {
    let _serial = common::serial();
    let (ok, output) = common::run_child(
        "child_runtimes_without_drivers",
        &[("PROACTOR_HOSTILE_TOKIO_CHILD", "1")],
    );
    assert!(ok, "{output}");
    assert!(output.contains("child passed"), "{output}");
    assert!(
        !output.contains("panicked"),
        "spurious panic reports:\n{output}"
    );
}

#[test]
fn child_runtimes_without_drivers() {
    let _serial = common::serial();
    if std::env::var_os("PROACTOR_HOSTILE_TOKIO_CHILD").is_none() {
        return;
    }
    for rt in [
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap(),
    ] {
        rt.block_on(one_op());
    }
    println!("child passed");
}

/// A tokio runtime's `block_on` nested inside a proactor driver's
/// `block_on` (a library that hides a runtime behind a blocking API, called
/// from proactor code): operations inside the runtime's block_on go to the
/// outer driver (the thread's current one), which nothing drives while the
/// thread is inside the runtime. tokio's own timer in the same place works.
#[test]
#[ignore = "known limitation (src/host/tokio.rs): inside Driver::block_on that driver comes first, also for a tokio runtime nested in it"]
fn tokio_block_on_nested_inside_a_drivers_block_on() {
    let _serial = common::serial();
    let rt = common::multi_thread_runtime();
    let tokio_ok = finishes_within(Duration::from_secs(5), "tokio's own sleep nested", {
        let other = common::multi_thread_runtime();
        move || {
            Driver::new().unwrap().block_on(async move {
                other.block_on(async { tokio::time::sleep(Duration::from_millis(10)).await });
            });
            true
        }
    });
    assert!(tokio_ok);
    finishes_within(
        Duration::from_secs(5),
        "proactor's sleep inside a runtime's block_on inside a driver's block_on",
        move || {
            Driver::new().unwrap().block_on(async move {
                rt.block_on(async {
                    proactor::time::sleep(Duration::from_millis(10))
                        .await
                        .unwrap();
                });
            });
        },
    );
}

/// Objects made in a current-thread runtime, used by proactor's own
/// block_on after the runtime's block_on returned (the runtime alive,
/// idle): their operations sit on the runtime's driver, which nothing
/// dispatches until the runtime runs again.
#[test]
#[ignore = "known limitation (src/host/tokio.rs, io_uring): a current_thread runtime's operations progress while that runtime runs"]
fn proactor_block_on_with_an_idle_current_thread_runtimes_socket() {
    let _serial = common::serial();
    // tokio's own sockets in the same place hang too (its current-thread
    // reactor runs only inside its block_on): checked first, for fairness.
    let rt = common::current_thread_runtime();
    let (ta, tb) = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        (c, l.accept().await.unwrap().0)
    });
    let (tokio_done, tokio_finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut ta, mut tb) = (ta, tb);
        futures::executor::block_on(async {
            ta.write_all(b"hi").await.unwrap();
            let mut buf = [0u8; 2];
            tb.read_exact(&mut buf).await.unwrap();
        });
        let _ = tokio_done.send(());
    });
    println!(
        "tokio's own sockets: {:?}",
        tokio_finished.recv_timeout(Duration::from_secs(2))
    );
    let (a, b) = rt.block_on(common::tcp_pair());
    finishes_within(
        Duration::from_secs(5),
        "proactor::block_on on an idle runtime's socket",
        move || {
            proactor::block_on(async {
                let (w, _) = a.write_all(b"hi").await;
                w.unwrap();
                let (r, buf) = b.read_exact(vec![0u8; 2]).await;
                r.unwrap();
                assert_eq!(buf, b"hi");
            });
            drop(rt);
        },
    );
}

/// Far more completions at once than the ring's completion queue holds
/// (overflow), on the runtime's driver, then the runtime idles: every
/// one must arrive without further activity.
#[test]
fn completion_queue_overflow_under_tokio() {
    let _serial = common::serial();
    for rt in [
        common::current_thread_runtime(),
        common::multi_thread_runtime(),
    ] {
        finishes_within(HANG, "overflow under tokio", move || {
            rt.block_on(async {
                let done = Arc::new(AtomicUsize::new(0));
                let tasks: Vec<_> = (0..5000)
                    .map(|_| {
                        let done = done.clone();
                        tokio::spawn(async move {
                            Op::new(Timeout::new(Duration::from_millis(30)))
                                .unwrap()
                                .await
                                .unwrap();
                            done.fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                assert_eq!(done.load(SeqCst), 5000);
                // Then a burst of zero-length readiness completions.
                let (a, b) = common::tcp_pair().await;
                let b = Arc::new(b);
                let reads: Vec<_> = (0..2000)
                    .map(|_| {
                        let b = b.clone();
                        tokio::spawn(async move { b.read(Vec::with_capacity(1)).await.0 })
                    })
                    .collect();
                tokio::time::sleep(Duration::from_millis(50)).await;
                let (w, _) = a.write_all(vec![1u8; 2000]).await;
                w.unwrap();
                let mut total = 0;
                for r in reads {
                    total += r.await.unwrap().unwrap();
                }
                assert_eq!(total, 2000);
            });
        });
    }
}

/// More readiness events at once than one wait takes (the readiness back
/// end's event capacity), while a thread outside the runtime parks on the
/// runtime's driver (its own block_on) and so holds the turn: the events it
/// leaves behind must still reach the runtime's dispatcher.
#[test]
fn burst_while_a_foreign_thread_parks_on_the_runtimes_driver() {
    let _serial = common::serial();
    use std::os::fd::AsRawFd;
    let rt = common::multi_thread_runtime();
    for round in 0..5 {
        let (driver, pairs) = rt.block_on(async {
            let mut pairs = Vec::new();
            for _ in 0..700 {
                pairs.push(common::tcp_pair().await);
            }
            (Driver::current(), pairs)
        });
        let pairs: Vec<_> = pairs.into_iter().map(|(a, b)| (a, Arc::new(b))).collect();
        let done = Arc::new(AtomicUsize::new(0));
        for (_, b) in &pairs[1..] {
            let (b, done) = (b.clone(), done.clone());
            rt.spawn(async move {
                b.read(Vec::with_capacity(1)).await.0.unwrap();
                done.fetch_add(1, SeqCst);
            });
        }
        let z = pairs[0].1.clone();
        let foreign = std::thread::spawn(move || {
            driver.block_on(async move { z.read(Vec::with_capacity(1)).await.0.unwrap() })
        });
        std::thread::sleep(Duration::from_millis(100));
        for (a, _) in &pairs {
            // SAFETY: one byte from a live buffer to an open socket.
            let written = unsafe { libc::write(a.as_raw_fd(), b"!".as_ptr().cast(), 1) };
            assert_eq!(written, 1);
        }
        foreign.join().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while done.load(SeqCst) < pairs.len() - 1 {
            assert!(
                Instant::now() < deadline,
                "round {round}: {} of {} reads completed",
                done.load(SeqCst),
                pairs.len() - 1
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A kept `Handle` entered after its runtime was dropped, the runtime
/// never having used proactor: the runtime cannot host (its I/O driver is
/// gone), so the process-wide driver serves. (Holds: the deadlock above
/// needs the window where tasks are dropped but the I/O driver lives.)
#[test]
fn first_use_through_a_handle_of_a_dropped_runtime() {
    let _serial = common::serial();
    let rt = common::current_thread_runtime();
    let handle = rt.handle().clone();
    drop(rt);
    finishes_within(
        Duration::from_secs(10),
        "an operation under a dropped runtime's handle",
        move || {
            let _entered = handle.enter();
            proactor::block_on(proactor::time::sleep(Duration::from_millis(1))).unwrap();
        },
    );
}

/// The same first use in a task's drop, on a multi-thread runtime (the
/// tasks are dropped by its workers during shutdown).
#[test]
fn first_use_during_multi_thread_runtime_shutdown() {
    let _serial = common::serial();
    shut_down_with_an_op_in_a_task_drop(
        common::multi_thread_runtime(),
        |_| std::thread::sleep(Duration::from_millis(20)),
        "a multi-thread runtime's shutdown with proactor's first use in a task's drop",
    );
}

/// Not only a first use: a runtime that already runs a driver drops its
/// dispatcher task before a later-spawned task whose drop makes an
/// operation; that operation then makes a new driver for the closing
/// runtime, with the same self-deadlock.
#[test]
fn an_operation_in_a_task_drop_after_the_dispatcher_went() {
    let _serial = common::serial();
    let rt = common::current_thread_runtime();
    rt.block_on(one_op());
    shut_down_with_an_op_in_a_task_drop(
        rt,
        |rt| rt.block_on(tokio::task::yield_now()),
        "a runtime's shutdown with an operation made in a task's drop",
    );
}

/// Reads submitted to the kernel by blocking-pool threads themselves (they
/// park on the runtime's driver, which submits from that thread), which
/// then exit (keep-alive 1 ms); the data comes later, the reads are
/// finished by tasks on the workers.
#[test]
fn reads_submitted_by_blocking_threads_that_exit() {
    let _serial = common::serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_keep_alive(Duration::from_millis(1))
        .enable_all()
        .build()
        .unwrap();
    finishes_within(
        HANG,
        "reads submitted by exited blocking threads",
        move || {
            rt.block_on(async {
                let (a, b) = common::tcp_pair().await;
                let b = Arc::new(b);
                let mut reads = Vec::new();
                for _ in 0..16 {
                    let b = b.clone();
                    reads.push(
                        tokio::task::spawn_blocking(move || {
                            let driver = Driver::current();
                            let mut read =
                                Box::pin(async move { b.read(Vec::with_capacity(1)).await });
                            let waker = FnWaker::waker(|| {}, || {});
                            assert!(common::poll_with(&mut read, &waker).is_pending());
                            let _ = driver.park(Some(Duration::from_millis(1)));
                            read
                        })
                        .await
                        .unwrap(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                let (w, _) = a.write_all(vec![3u8; 16]).await;
                w.unwrap();
                let tasks: Vec<_> = reads.into_iter().map(tokio::spawn).collect();
                let mut total = 0;
                for t in tasks {
                    total += t.await.unwrap().0.unwrap();
                }
                assert_eq!(total, 16);
            });
        },
    );
}
