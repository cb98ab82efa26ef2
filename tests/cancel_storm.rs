//! Cancel storms: 100 000 operations started and dropped across 4 threads
//! (reads on idle sockets, timers, accepts nobody answers), while a fifth
//! thread parks on the driver. Afterwards nothing is held, no fd or handle
//! leaked, and the driver still works. Sockets are loopback TCP, so the
//! storm runs on every OS.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use proactor::net::TcpListener;
use proactor::op::{Nop, Op, Timeout};

const THREADS: usize = 4;
const OPS_PER_THREAD: usize = 25_000;

struct NoopWaker;
impl Wake for NoopWaker {
    fn wake(self: Arc<Self>) {}
}

/// Polls `fut` once on this thread, outside any `block_on`, and drops it.
fn poll_once_and_drop<F: std::future::Future>(fut: F) -> bool {
    let waker = Waker::from(Arc::new(NoopWaker));
    let mut fut = std::pin::pin!(fut);
    fut.as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending()
}

both_backends! {
    fn hundred_thousand_dropped_ops(driver) {
        let backend = driver.backend();
        drop(driver);
        common::leaks_no_handles("a cancel storm", || {
            let driver = common::driver(backend);
            let _current = driver.enter();
            let (idle, _peer) = driver.block_on(common::tcp_pair());
            let listener = driver.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
            let idle = Arc::new(idle);
            let listener = Arc::new(listener);

            let stop = Arc::new(AtomicBool::new(false));
            let parker = {
                let (driver, stop) = (driver.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        driver.park(Some(Duration::from_millis(50))).unwrap();
                    }
                })
            };
            let storms: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (driver, idle, listener) = (driver.clone(), idle.clone(), listener.clone());
                    std::thread::spawn(move || {
                        let _current = driver.enter();
                        let mut pending = 0;
                        for i in 0..OPS_PER_THREAD {
                            let still_pending = match (t + i) % 3 {
                                0 => poll_once_and_drop(idle.read(Vec::with_capacity(16))),
                                1 => poll_once_and_drop(Op::with_driver(Timeout::new(Duration::from_secs(3600)), driver.clone())),
                                _ => poll_once_and_drop(listener.accept()),
                            };
                            pending += usize::from(still_pending);
                        }
                        pending
                    })
                })
                .collect();
            let dropped_in_flight: usize = storms.into_iter().map(|s| s.join().unwrap()).sum();
            assert_eq!(dropped_in_flight, THREADS * OPS_PER_THREAD, "every op was in flight when dropped");

            assert!(
                common::park_until(&driver, Duration::from_secs(60), || driver.in_flight() == 0),
                "{} cancelled ops still held",
                driver.in_flight()
            );
            stop.store(true, Ordering::SeqCst);
            parker.join().unwrap();

            // Still works.
            driver.block_on(Op::with_driver(Nop::new(), driver.clone())).unwrap();
            driver.block_on(async {
                let (a, b) = common::tcp_pair().await;
                let (r, _) = a.write_all(b"alive").await;
                r.unwrap();
                let (r, buf) = b.read_exact(vec![0; 5]).await;
                r.unwrap();
                assert_eq!(buf, b"alive");
            });
        });
    }
}
