//! The public hook for other event loops: a driver driven only through its
//! notification fd and `dispatch`, by a plain `poll(2)` loop and by tokio's
//! reactor, with no thread ever parked on it. Nothing in this file uses the
//! process-wide driver, so its thread must never start here.
#![cfg(target_os = "linux")]

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::finishes_within;
use proactor::op::{Blocking, Nop, Op, Recv, Send, Timeout};
use proactor::Driver;

const HANG: Duration = Duration::from_secs(20);

fn stream_pair() -> (Arc<TcpStream>, Arc<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    for s in [&a, &b] {
        s.set_nonblocking(true).unwrap();
    }
    (Arc::new(a), Arc::new(b))
}

/// Timers, a pool job, a NOP and a socket round trip on `driver`, run by an
/// executor that knows nothing of proactor.
async fn workload(driver: Driver) {
    let started = Instant::now();
    Op::with_driver(Timeout::new(Duration::from_millis(20)), driver.clone())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(20));
    Op::with_driver(Nop::new(), driver.clone()).await.unwrap();
    // One after another: each completion is the driver's only news, so a
    // wake-up the notification fd does not carry stalls the loop for good.
    for n in 0..20 {
        let pooled = Op::with_driver(Blocking::new(move || n * 7), driver.clone());
        assert_eq!(pooled.await.unwrap(), n * 7);
    }
    let (a, b) = stream_pair();
    let receive = Op::with_driver(Recv::new(b, Vec::with_capacity(16)), driver.clone());
    let send = Op::with_driver(Send::new(a, b"hook".to_vec()), driver.clone());
    let ((sent, _), (received, buf)) = futures::join!(send, receive);
    assert_eq!(sent.unwrap(), 4);
    assert_eq!(received.unwrap(), 4);
    assert_eq!(buf, b"hook");
}

/// A `poll(2)` loop on the notification fd, calling `dispatch` when it is
/// readable or its deadline passed, until a byte arrives on `stop`. It
/// waits with no time limit of its own: a wake-up the fd does not carry is
/// never made up for.
fn poll_loop(driver: Driver, stop: UnixStream) {
    let fd = driver.notification_fd();
    let mut deadline = driver.dispatch().unwrap();
    loop {
        let wait = deadline.map_or(-1, |at| {
            let left = at.saturating_duration_since(Instant::now());
            // Rounded up: a wait cut short would spin until the deadline.
            left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
        });
        let mut fds = [fd.as_raw_fd(), stop.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: two valid pollfds for the duration of the call.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, wait) };
        if fds[1].revents != 0 {
            return;
        }
        deadline = driver.dispatch().unwrap();
    }
}

/// A thread running `poll_loop` on `driver`, stopped and joined on drop.
struct PollLoop {
    stop: UnixStream,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PollLoop {
    fn start(driver: &Driver) -> PollLoop {
        let (stop, stopped) = UnixStream::pair().unwrap();
        let driver = driver.clone();
        let thread = std::thread::spawn(move || poll_loop(driver, stopped));
        PollLoop {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for PollLoop {
    fn drop(&mut self) {
        std::io::Write::write_all(&mut self.stop, b"x").unwrap();
        self.thread.take().unwrap().join().unwrap();
    }
}

fn no_driver_thread() -> bool {
    common::threads_named("proactor-driver") == 0
}

both_backends! {
    fn a_poll_loop_on_the_notification_fd_drives_everything(driver) {
        let looping = PollLoop::start(&driver);
        let d = driver.clone();
        finishes_within(HANG, "a workload driven by a poll(2) loop", move || {
            futures::executor::block_on(workload(d))
        });
        drop(looping);
        assert_eq!(driver.in_flight(), 0);
        assert!(no_driver_thread(), "the process-wide driver thread started");
    }

    fn tokio_reactor_drives_the_driver_through_async_fd(driver) {
        for multi_thread in [false, true] {
            let d = driver.clone();
            finishes_within(HANG, "a workload driven by tokio's reactor", move || {
                let runtime = if multi_thread {
                    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
                } else {
                    tokio::runtime::Builder::new_current_thread().enable_all().build()
                }
                .unwrap();
                runtime.block_on(async move {
                    let dispatcher = tokio::spawn(dispatch_from_tokio(d.clone()));
                    tokio::spawn(workload(d)).await.unwrap();
                    dispatcher.abort();
                });
            });
        }
        assert!(no_driver_thread(), "the process-wide driver thread started");
    }

    fn dispatch_drains_more_events_than_one_wait_holds(driver) {
        // Two events per wait, sixteen sockets ready at once: an edge-
        // triggered reactor (tokio's) sees the fd turn readable once, so
        // one dispatch must take all of them.
        let small = Driver::builder().force(driver.backend()).entries(2).build().unwrap();
        finishes_within(HANG, "sixteen receives through an edge-triggered reactor", move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let dispatcher = tokio::spawn(dispatch_from_tokio(small.clone()));
                let pairs: Vec<_> = (0..16).map(|_| stream_pair()).collect();
                let receives: Vec<_> = pairs
                    .iter()
                    .map(|(_, b)| Op::with_driver(Recv::new(b.clone(), Vec::with_capacity(8)), small.clone()))
                    .collect();
                let all = tokio::spawn(futures::future::join_all(receives));
                tokio::task::yield_now().await;
                for (a, _) in &pairs {
                    std::io::Write::write_all(&mut &**a, b"x").unwrap();
                }
                for (received, buf) in all.await.unwrap() {
                    assert_eq!(received.unwrap(), 1);
                    assert_eq!(buf, b"x");
                }
                dispatcher.abort();
            });
        });
    }
}

/// The dispatcher task of the `Driver::notification_fd` docs.
async fn dispatch_from_tokio(driver: Driver) -> std::io::Result<()> {
    // SAFETY: the fd is the driver's, which the `NotificationFd` keeps
    // alive: it stays open, the same file, for the AsyncFd's whole life.
    let notified = unsafe { tokio::io::unix::AsyncFd::register(driver.notification_fd()) }?;
    loop {
        let deadline = driver.dispatch()?;
        let sleep = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ready = notified.readable() => ready?.clear_ready(),
            () = sleep => {}
        }
    }
}
