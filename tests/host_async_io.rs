//! The async-io integration: outside `block_on` and tokio, the process-wide
//! driver is dispatched by async-io's reactor (the `async-io` thread, or a
//! thread in `async_io::block_on`), and no `proactor-driver` thread starts.
//!
//! The process-wide driver is one per process, so each test runs in a child
//! process per back end (`PROACTOR_BACKEND` set for it), which uses nothing
//! else that could start a driver thread.
#![cfg(all(feature = "async-io", target_os = "linux"))]

mod common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{finishes_within, FnWaker};
use proactor::net::{TcpListener, TcpStream};
use proactor::op::{Blocking, Op, Timeout};
use proactor::Driver;

const HANG: Duration = Duration::from_secs(30);

/// Set in the child processes.
const CHILD: &str = "PROACTOR_ASYNC_IO_CHILD";

/// Runs the test `child` in a process of its own once per back end.
fn on_each_backend(child: &str) {
    common::run_child_on_each_backend(child, CHILD, None);
}

/// Whether this is a child process; it checks that the process-wide
/// driver runs on the back end it was asked for.
fn in_child() -> bool {
    common::in_backend_child(CHILD)
}

/// The end of every child: no thread of proactor's ran the driver.
fn child_passed() {
    assert_eq!(
        common::threads_named("proactor-driver"),
        0,
        "the process-wide driver's thread started"
    );
    println!("child passed");
}

/// Runs `f` on a thread named `name`, failing the test if it hangs.
fn on_thread<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let name = name.to_owned();
    finishes_within(HANG, &name.clone(), move || {
        std::thread::Builder::new()
            .name(name)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Sockets, a timer, pool jobs one after another and a file, as a smol
/// program uses them.
async fn workload() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (stream, _) = listener.accept().await.unwrap();
        let (got, buf) = stream.read_exact(vec![0u8; 5]).await;
        got.unwrap();
        let (sent, _) = stream.write_all(buf).await;
        sent.unwrap();
    };
    let client = async {
        let client = TcpStream::connect(addr).await.unwrap();
        let (sent, _) = client.write_all(b"hello").await;
        sent.unwrap();
        let (got, buf) = client.read_exact(vec![0u8; 5]).await;
        got.unwrap();
        assert_eq!(buf, b"hello");
    };
    futures::join!(server, client);
    let started = Instant::now();
    Op::new(Timeout::new(Duration::from_millis(10)))
        .unwrap()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(10));
    // One after another: each completion is the driver's only news, so a
    // wake-up that does not reach the reactor stalls the loop for good.
    for n in 0..20 {
        let job = Op::new(Blocking::new(move || n * 7)).unwrap();
        assert_eq!(job.await.unwrap(), n * 7);
    }
    let contents = proactor::fs::read("Cargo.toml").await.unwrap();
    assert!(contents.starts_with(b"[package]"));
}

/// The name of the thread that wakes an operation's future, polled outside
/// any executor.
fn waking_thread() -> String {
    let (woken, names) = std::sync::mpsc::channel();
    let woken = Mutex::new(woken);
    let mut op = Op::new(Timeout::new(Duration::from_millis(5))).unwrap();
    let waker = FnWaker::waker(
        move || {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            let _ = woken.lock().unwrap().send(name);
        },
        || {},
    );
    assert!(common::poll_with(&mut op, &waker).is_pending());
    let name = names
        .recv_timeout(HANG)
        .expect("the operation was never woken");
    assert!(common::poll_with(&mut op, &waker).is_ready());
    name
}

#[test]
fn workload_under_async_io_block_on() {
    on_each_backend("child_async_io_block_on");
}

#[test]
fn child_async_io_block_on() {
    if !in_child() {
        return;
    }
    on_thread("block-on", || {
        async_io::block_on(async {
            futures::join!(workload(), workload(), workload(), workload());
        })
    });
    // Threads that dispatched (and so submitted the eventfd read that
    // carries wake-ups, on io_uring) and then exited: the kernel cancels
    // what they submitted, and the driver must not lose it.
    for n in 0..10 {
        on_thread("block-on", move || {
            async_io::block_on(async move {
                let job = Op::new(Blocking::new(move || n + 1)).unwrap();
                assert_eq!(job.await.unwrap(), n + 1);
                Op::new(Timeout::new(Duration::from_millis(1)))
                    .unwrap()
                    .await
                    .unwrap();
            })
        });
    }
    // Only a wake-up through the eventfd tells of a pool job's end.
    finishes_within(
        HANG,
        "a pool job after the dispatching threads exited",
        || {
            futures::executor::block_on(async {
                for n in 0..20 {
                    let job = Op::new(Blocking::new(move || n * 3)).unwrap();
                    assert_eq!(job.await.unwrap(), n * 3);
                }
            })
        },
    );
    child_passed();
}

#[test]
fn workload_under_a_smol_executor_and_futures_block_on() {
    on_each_backend("child_smol_executor");
}

#[test]
fn child_smol_executor() {
    if !in_child() {
        return;
    }
    // smol's way: an executor run by threads in `async_io::block_on`.
    let executor = Arc::new(smol::Executor::new());
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    let runners: Vec<_> = (0..2)
        .map(|_| {
            let (executor, stopped) = (executor.clone(), stopped.clone());
            std::thread::spawn(move || async_io::block_on(executor.run(stopped.recv())))
        })
        .collect();
    let tasks: Vec<_> = (0..8).map(|_| executor.spawn(workload())).collect();
    let e = executor.clone();
    finishes_within(HANG, "a workload on a smol executor", move || {
        async_io::block_on(e.run(async {
            for task in tasks {
                task.await;
            }
        }))
    });
    drop(stop);
    for runner in runners {
        runner.join().unwrap().unwrap_err();
    }
    // An executor that knows nothing of async-io: its reactor runs on the
    // `async-io` thread, which dispatches.
    finishes_within(HANG, "a workload under futures' block_on", || {
        futures::executor::block_on(workload())
    });
    assert_eq!(waking_thread(), "async-io");
    child_passed();
}

#[test]
fn completions_are_taken_on_async_io_threads() {
    on_each_backend("child_waking_threads");
}

#[test]
fn child_waking_threads() {
    if !in_child() {
        return;
    }
    // Nobody in `async_io::block_on`: the `async-io` thread runs the
    // reactor.
    for _ in 0..5 {
        assert_eq!(waking_thread(), "async-io");
    }
    // A thread in `async_io::block_on` waits on the reactor itself when
    // idle: it, or the `async-io` thread, dispatches.
    on_thread("block-on", || {
        async_io::block_on(async {
            let woken = Arc::new(Mutex::new(Vec::new()));
            for _ in 0..5 {
                let mut op = Op::new(Timeout::new(Duration::from_millis(2))).unwrap();
                poll_fn(|cx| {
                    let (woken, inner) = (woken.clone(), cx.waker().clone());
                    let recording = FnWaker::waker(
                        move || {
                            let name = std::thread::current().name().unwrap_or("").to_owned();
                            woken.lock().unwrap().push(name);
                            inner.wake_by_ref();
                        },
                        || {},
                    );
                    common::poll_with(&mut op, &recording)
                })
                .await
                .unwrap();
            }
            let woken = woken.lock().unwrap();
            assert!(!woken.is_empty());
            assert!(
                woken
                    .iter()
                    .all(|name| name == "block-on" || name == "async-io"),
                "{woken:?}"
            );
        })
    });
    child_passed();
}

#[test]
fn a_thousand_operations_dropped_at_once() {
    on_each_backend("child_thousand_dropped");
}

#[test]
fn child_thousand_dropped() {
    if !in_child() {
        return;
    }
    let driver = Driver::current();
    // The reactor, the driver and its pool exist from here on.
    on_thread("block-on", || async_io::block_on(workload()));
    let fds = common::fd_count();
    let idle = Instant::now() + HANG;
    while driver.in_flight() > 0 {
        assert!(
            Instant::now() < idle,
            "{} in flight after the warm-up",
            driver.in_flight()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let d = driver.clone();
    on_thread("block-on", move || {
        async_io::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (a, _b) = common::tcp_pair().await;
            let (listener, a) = (&listener, &a);
            let mut ops: Vec<Pin<Box<dyn Future<Output = ()>>>> = (0..1000)
                .map(|i| -> Pin<Box<dyn Future<Output = ()>>> {
                    match i % 3 {
                        0 => Box::pin(async move { drop(a.read(Vec::with_capacity(64)).await) }),
                        1 => Box::pin(async move { drop(listener.accept().await) }),
                        _ => Box::pin(async {
                            drop(
                                Op::new(Timeout::new(Duration::from_secs(3600)))
                                    .unwrap()
                                    .await,
                            )
                        }),
                    }
                })
                .collect();
            poll_fn(|cx| {
                for op in &mut ops {
                    assert!(op.as_mut().poll(cx).is_pending());
                }
                Poll::Ready(())
            })
            .await;
            assert!(d.in_flight() >= 1000, "{} in flight", d.in_flight());
            drop(ops);
        })
    });
    // Nobody parks on the driver here: the reactor takes the cancellations.
    let deadline = Instant::now() + HANG;
    while driver.in_flight() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} operations still in flight",
            driver.in_flight()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let now = common::fd_count_settles(fds);
    assert!(now <= fds, "{now} fds open, {fds} before");
    child_passed();
}

#[test]
fn a_panicking_waker_does_not_stop_the_dispatch() {
    on_each_backend("child_panicking_waker");
}

/// An operation whose waker panics, due with others: they complete, and so
/// does everything after.
async fn survive_a_panicking_waker() {
    let mut doomed = Op::new(Timeout::new(Duration::from_millis(5))).unwrap();
    let waker = FnWaker::waker(|| panic!("hostile waker under async-io"), || {});
    assert!(common::poll_with(&mut doomed, &waker).is_pending());
    drop(waker);
    let others = (0..8).map(|_| Op::new(Timeout::new(Duration::from_millis(5))).unwrap());
    for done in futures::future::join_all(others).await {
        done.unwrap();
    }
    async_io::Timer::after(Duration::from_millis(20)).await;
    workload().await;
    drop(doomed);
}

#[test]
fn child_panicking_waker() {
    if !in_child() {
        return;
    }
    // Dispatched by the thread in `async_io::block_on`, or by the
    // `async-io` thread.
    on_thread("block-on", || {
        async_io::block_on(survive_a_panicking_waker())
    });
    finishes_within(HANG, "futures' block_on after a waker panicked", || {
        futures::executor::block_on(survive_a_panicking_waker())
    });
    child_passed();
}

/// Inside a tokio runtime, the runtime's driver comes first.
#[cfg(feature = "tokio")]
#[test]
fn tokio_runtime_comes_first() {
    on_each_backend("child_tokio_first");
}

#[cfg(feature = "tokio")]
#[test]
fn child_tokio_first() {
    use std::os::fd::AsRawFd;

    if !in_child() {
        return;
    }
    let process_wide = Driver::current().notification_fd().as_raw_fd();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let hosted = Driver::current().notification_fd().as_raw_fd();
        assert_ne!(hosted, process_wide, "the process-wide driver under tokio");
        tokio::spawn(workload()).await.unwrap();
    });
    drop(runtime);
    on_thread("block-on", || async_io::block_on(workload()));
    child_passed();
}

#[test]
fn a_forked_child_drives_its_own_driver() {
    on_each_backend("child_forked");
}

#[test]
fn child_forked() {
    if !in_child() {
        return;
    }
    on_thread("block-on", || async_io::block_on(workload()));
    // SAFETY: the forked process runs the closure below (a driver of its
    // own, a timer) and leaves with `_exit`, never returning here.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // A hang kills the forked process, which the parent sees.
        // SAFETY: plain alarm(2).
        unsafe { libc::alarm(20) };
        let ran = std::panic::catch_unwind(|| {
            // async-io's reactor is the parent's here: the driver the
            // forked process makes has a thread of its own instead.
            futures::executor::block_on(async {
                Op::new(Timeout::new(Duration::from_millis(5)))
                    .unwrap()
                    .await
                    .unwrap();
                let job = Op::new(Blocking::new(|| 6 * 7)).unwrap();
                assert_eq!(job.await.unwrap(), 42);
            });
            assert_eq!(common::threads_named("proactor-driver"), 1);
        });
        // SAFETY: leaves the forked process at once.
        unsafe { libc::_exit(if ran.is_ok() { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked process failed: status {status:#x}"
    );
    // The parent's driver is still dispatched by the reactor.
    on_thread("block-on", || async_io::block_on(workload()));
    child_passed();
}

#[test]
fn a_nested_executor_inside_proactor_block_on() {
    on_each_backend("child_nested");
}

/// `proactor::block_on` on the process-wide driver, blocked inside by
/// another executor before it parks: what it submitted must reach the
/// kernel anyway (the reactor waits on the ring's fd, not in the kernel).
#[test]
fn child_nested() {
    if !in_child() {
        return;
    }
    let slept = finishes_within(HANG, "a nested executor in proactor::block_on", || {
        proactor::block_on(async {
            futures::executor::block_on(proactor::time::sleep(Duration::from_millis(10)))
        })
    });
    slept.unwrap();
    child_passed();
}
