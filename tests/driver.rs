//! The driver core on both back ends: submission under pressure, parking,
//! unparking, the same behaviour everywhere.

mod common;

#[cfg(unix)]
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::future::join_all;
use proactor::op::{Nop, Op, ReadAt};
#[cfg(unix)]
use proactor::op::{Read, Write};
use proactor::{Backend, CompletionDriver, Driver};

both_backends! {
    fn blocking_pool_runs_a_burst_at_once(driver) {
        use proactor::op::Blocking;
        // One idle pool thread, then a burst of jobs that each wait until
        // all of them run: a pool that handed the burst to the one woken
        // thread would run them one by one and never get there.
        driver.block_on(Op::with_driver(Blocking::new(|| ()), driver.clone())).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        const BURST: usize = 8;
        let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let jobs = (0..BURST).map(|_| {
            let started = started.clone();
            Op::with_driver(
                Blocking::new(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let deadline = std::time::Instant::now() + Duration::from_secs(10);
                    while started.load(Ordering::SeqCst) < BURST {
                        if std::time::Instant::now() > deadline {
                            return false;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    true
                }),
                driver.clone(),
            )
        });
        let all = driver.block_on(futures::future::join_all(jobs));
        assert!(all.into_iter().all(|ran| ran.unwrap()), "the burst never ran at once");
    }

    fn reports_its_backend(driver) {
        let expected = if cfg!(all(target_os = "linux", feature = "uring")) && driver.fallback_reason().is_none() {
            Backend::IoUring
        } else {
            Backend::Poll
        };
        assert_eq!(driver.backend(), expected);
        if driver.backend() == Backend::Poll {
            let reason = driver.fallback_reason().expect("a poll driver says why");
            assert!(reason.to_string().contains("Builder::force"), "{reason}");
        }
    }

    fn nop_round_trip(driver) {
        let nop = Op::with_driver(Nop::new(), driver.clone());
        driver.block_on(nop).unwrap();
        assert_eq!(driver.in_flight(), 0);
    }

    fn ten_thousand_ops_through_a_tiny_ring(driver) {
        let backend = driver.backend();
        drop(driver);
        for entries in [2, 4] {
            let driver = common::small_driver(backend, entries);
            let (file, data) = common::pattern_file(64 * 1024);
            let fd = Arc::new(std::fs::File::open(file.path()).unwrap());
            let futures = (0..10_000usize).map(|i| {
                let driver = driver.clone();
                let fd = fd.clone();
                let data = &data;
                async move {
                    if i % 2 == 0 {
                        Op::with_driver(Nop::new(), driver).await.unwrap();
                    } else {
                        let offset = (i * 7) % (data.len() - 16);
                        let (n, buf) = Op::with_driver(ReadAt::new(fd, Vec::with_capacity(16), offset as u64), driver).await;
                        assert_eq!(n.unwrap(), 16);
                        assert_eq!(&buf[..], &data[offset..offset + 16], "read {i} at {offset}");
                    }
                }
            });
            driver.block_on(join_all(futures));
            assert_eq!(driver.in_flight(), 0, "entries={entries}");
        }
    }

    fn unpark_from_another_thread_wakes_block_on(driver) {
        let flag = Arc::new(AtomicBool::new(false));
        let setter = {
            let flag = flag.clone();
            let driver = driver.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                flag.store(true, Ordering::SeqCst);
                driver.unpark();
            })
        };
        // A future that registers no waker: only unpark can end the park.
        driver.block_on(futures::future::poll_fn(|_| {
            if flag.load(Ordering::SeqCst) { Poll::Ready(()) } else { Poll::Pending }
        }));
        setter.join().unwrap();
    }

    fn park_with_timeout_returns(driver) {
        let start = std::time::Instant::now();
        driver.park(Some(Duration::from_millis(20))).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(15), "{:?}", start.elapsed());
        driver.park(Some(Duration::ZERO)).unwrap();
    }

    fn unpark_before_park_is_not_lost(driver) {
        driver.unpark();
        // Must return at once, not block forever.
        driver.park(None).unwrap();
    }

    fn block_on_while_another_thread_parks_without_timeout(driver) {
        // The other thread holds the kernel wait with no timeout; block_on's
        // batched submissions must still reach the kernel.
        let stop = Arc::new(AtomicBool::new(false));
        let parker = {
            let (driver, stop) = (driver.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    driver.park(None).unwrap();
                }
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..100 {
            driver.block_on(Op::with_driver(Nop::new(), driver.clone())).unwrap();
            driver.block_on(proactor::time::sleep(Duration::from_millis(1))).unwrap();
        }
        stop.store(true, Ordering::SeqCst);
        driver.unpark();
        parker.join().unwrap();
    }

    fn sleep_waits_at_least_its_duration(driver) {
        let start = std::time::Instant::now();
        driver.block_on(async { proactor::time::sleep(Duration::from_millis(30)).await }).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(30), "{:?}", start.elapsed());
        driver.block_on(proactor::time::sleep(Duration::ZERO)).unwrap();
    }

    fn current_is_the_block_on_driver(driver) {
        let inside = driver.block_on(async { Driver::current().backend() });
        assert_eq!(inside, driver.backend());
        let _guard = driver.enter();
        assert_eq!(Driver::current().backend(), driver.backend());
    }

    fn generic_over_completion_driver(driver) {
        fn run_nop<D: CompletionDriver>(driver: D) -> std::io::Result<()> {
            futures::executor::block_on(async {
                let op = Op::with_driver(Nop::new(), driver.clone());
                let mut op = std::pin::pin!(op);
                loop {
                    match futures::poll!(op.as_mut()) {
                        Poll::Ready(result) => return result,
                        Poll::Pending => driver.park(Some(Duration::from_millis(5)))?,
                    }
                }
            })
        }
        run_nop(driver).unwrap();
    }
}

#[cfg(unix)]
fn nix_write(fd: i32, data: &[u8]) {
    // SAFETY: writes from a live slice to an fd we own.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    assert_eq!(n, data.len() as isize);
}

#[cfg(all(target_os = "linux", feature = "uring", feature = "poll"))]
#[test]
fn back_ends_are_distinct_drivers() {
    let Some(uring) = common::driver_unless_skipped(Backend::IoUring) else {
        return;
    };
    let poll = common::driver(Backend::Poll);
    assert_eq!(uring.backend(), Backend::IoUring);
    assert!(uring.fallback_reason().is_none());
    assert_eq!(poll.backend(), Backend::Poll);
}

static_assertions::assert_impl_all!(Driver: Send, Sync, Clone);
static_assertions::assert_impl_all!(Op<ReadAt<Arc<std::fs::File>, Vec<u8>>>: Send);
static_assertions::assert_impl_all!(Op<Nop>: Send, Unpin);

// Unix only: the op that waits uses a pipe.
#[cfg(unix)]
mod wakers_run_unlocked {
    use super::*;
    use std::task::{Context, Wake, Waker};

    /// A waker that calls back into the driver: if the driver woke it while
    /// holding one of its locks, this would deadlock.
    struct ReentrantWaker {
        driver: Driver,
        woken: AtomicBool,
    }

    impl Wake for ReentrantWaker {
        fn wake(self: Arc<Self>) {
            let _ = self.driver.in_flight();
            self.driver.unpark();
            self.woken.store(true, Ordering::SeqCst);
        }
    }

    both_backends! {
        fn waker_may_call_into_the_driver(driver) {
            let (tx, rx) = std::sync::mpsc::channel();
            let worker = std::thread::spawn(move || {
                let (pipe_rx, pipe_tx) = common::pipe();
                let state = Arc::new(ReentrantWaker { driver: driver.clone(), woken: AtomicBool::new(false) });
                let waker = Waker::from(state.clone());
                let mut read = Op::with_driver(Read::new(pipe_rx, Vec::with_capacity(4)), driver.clone());
                assert!(std::pin::Pin::new(&mut read).poll(&mut Context::from_waker(&waker)).is_pending());
                nix_write(pipe_tx.as_raw_fd(), b"wake");
                common::park_until(&driver, Duration::from_secs(10), || state.woken.load(Ordering::SeqCst));
                let _ = tx.send(state.woken.load(Ordering::SeqCst));
                drop(read);
            });
            let woken = rx.recv_timeout(Duration::from_secs(20)).expect("the driver deadlocked waking a waker");
            assert!(woken, "the waker was never woken");
            worker.join().unwrap();
        }
    }

    use std::future::Future;
}

/// Reads and writes on pipes and Unix sockets: the Windows readiness back end waits on sockets only.
#[cfg(unix)]
mod unix_only {
    use super::*;

    both_backends! {
        fn read_and_write_in_flight_on_one_socket(driver) {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            b.set_nonblocking(true).unwrap();
            let a = Arc::new(a);
            let b = Arc::new(b);
            driver.block_on(async {
                // a: a read that must wait, and a write, at once.
                let read = Op::with_driver(Read::new(a.clone(), Vec::with_capacity(5)), driver.clone());
                let write = Op::with_driver(Write::new(a.clone(), b"ping!".to_vec()), driver.clone());
                let echo = async {
                    let (n, buf) = Op::with_driver(Read::new(b.clone(), Vec::with_capacity(5)), driver.clone()).await;
                    assert_eq!(n.unwrap(), 5);
                    let (n, _) = Op::with_driver(Write::new(b.clone(), buf), driver.clone()).await;
                    n.unwrap()
                };
                let ((read, buf), (written, _), echoed) = futures::join!(read, write, echo);
                assert_eq!(written.unwrap(), 5);
                assert_eq!(echoed, 5);
                assert_eq!(read.unwrap(), 5);
                assert_eq!(&buf[..], b"ping!");
            });
        }

        fn two_reads_waiting_on_one_pipe(driver) {
            let (rx, tx) = common::pipe();
            let rx = Arc::new(rx);
            let tx = Arc::new(tx);
            driver.block_on(async {
                let first = Op::with_driver(Read::new(rx.clone(), Vec::with_capacity(3)), driver.clone());
                let second = Op::with_driver(Read::new(rx.clone(), Vec::with_capacity(3)), driver.clone());
                let feed = async {
                    proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
                    let (n, _) = Op::with_driver(Write::new(tx.clone(), b"abcdef"), driver.clone()).await;
                    n.unwrap()
                };
                let ((n1, b1), (n2, b2), fed) = futures::join!(first, second, feed);
                assert_eq!(fed, 6);
                let (n1, n2) = (n1.unwrap(), n2.unwrap());
                assert_eq!(n1 + n2, 6, "both reads complete and share the data");
                let mut all = [&b1[..], &b2[..]].concat();
                all.sort_unstable();
                assert_eq!(all, b"abcdef");
            });
        }

        fn futures_polled_on_another_thread_complete(driver) {
            // The op is polled by futures::executor on this thread while a
            // second thread parks on the driver.
            let parker = {
                let driver = driver.clone();
                let stop = Arc::new(AtomicBool::new(false));
                let stop2 = stop.clone();
                (std::thread::spawn(move || {
                    while !stop2.load(Ordering::SeqCst) {
                        driver.park(Some(Duration::from_millis(5))).unwrap();
                    }
                }), stop)
            };
            let (rx, tx) = common::pipe();
            let rx = Arc::new(rx);
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                nix_write(tx.as_raw_fd(), b"xyz");
                tx
            });
            let (n, buf) = futures::executor::block_on(Op::with_driver(Read::new(rx, Vec::with_capacity(8)), driver.clone()));
            assert_eq!(n.unwrap(), 3);
            assert_eq!(&buf[..], b"xyz");
            drop(writer.join().unwrap());
            parker.1.store(true, Ordering::SeqCst);
            parker.0.join().unwrap();
        }
    }
}
