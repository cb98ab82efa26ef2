//! One driver used by several threads at once: a timer flood from four
//! threads on the smallest ring, operations started on one thread and
//! finished (or dropped) on others, and afterwards nothing in flight and no
//! fd (Windows: handle) left open. (The differential test runs random
//! programs on 2 and 8 threads sharing a driver, too.)

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use proactor::op::{Op, Recv, Timeout};

both_backends! {
    fn timer_flood_from_four_threads_on_the_smallest_ring(driver) {
        let fds = common::open_handles();
        // The smallest ring: submissions wait for room, completions overflow.
        let driver = common::small_driver(driver.backend(), 2);
        let early = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for thread in 0..4u64 {
                let (driver, early) = (&driver, &early);
                scope.spawn(move || {
                    let timers = (0..5000u64).map(|i| {
                        let wait = Duration::from_millis((i + thread) % 7);
                        let timer = Op::with_driver(Timeout::new(wait), driver.clone());
                        async move {
                            let started = Instant::now();
                            timer.await.unwrap();
                            if started.elapsed() < wait {
                                early.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                    driver.block_on(join_all(timers));
                });
            }
        });
        assert_eq!(early.load(Ordering::Relaxed), 0, "timers fired before their deadline");
        assert_eq!(driver.in_flight(), 0);
        drop(driver);
        let now = common::open_handles_settle(fds);
        common::assert_no_more_handles(now, fds, "the shared driver's test");
    }

    fn receives_started_on_one_thread_finish_on_another(driver) {
        // On a thread of its own, which ends before the count: Windows
        // keeps some handles per thread (see `leaks_no_handles`).
        common::leaks_no_handles("receives finished on other threads", || {
            let pairs: Vec<(TcpStream, Arc<TcpStream>)> = (0..32)
                .map(|_| {
                    let (a, b) = common::std_tcp_pair();
                    (a, Arc::new(b))
                })
                .collect();
            let receives: Vec<_> = pairs
                .iter()
                .map(|(_, b)| Op::with_driver(Recv::new(b.clone(), Vec::with_capacity(16)), driver.clone()))
                .collect();
            // Started on a thread that goes on living; its waker is never woken
            // again once the futures move on.
            let started = std::thread::spawn(move || {
                let waker = common::FnWaker::waker(|| {}, || {});
                let mut receives = receives;
                for receive in &mut receives {
                    assert!(common::poll_with(receive, &waker).is_pending());
                }
                receives
            })
            .join()
            .unwrap();
            let (kept, dropped): (Vec<_>, Vec<_>) = started
                .into_iter()
                .enumerate()
                .partition(|(i, _)| i % 2 == 0);
            // Half dropped mid-flight on a third thread, while the other half
            // finish on a fourth.
            let dropper = std::thread::spawn(move || drop(dropped));
            for (i, (a, _)) in pairs.iter().enumerate() {
                (&*a).write_all(format!("pair {i:02}").as_bytes()).unwrap();
            }
            let finisher = {
                let driver = driver.clone();
                std::thread::spawn(move || {
                    driver.block_on(join_all(kept.into_iter().map(|(i, receive)| async move { (i, receive.await) })))
                })
            };
            dropper.join().unwrap();
            for (i, (received, buf)) in finisher.join().unwrap() {
                assert_eq!(received.unwrap(), 7);
                assert_eq!(buf, format!("pair {i:02}").as_bytes());
            }
            assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
            drop(pairs);
            // Windows: a cancelled AFD poll holds its AFD handle until a
            // wait of the driver takes its completion, and park_until above
            // need not have waited (nothing was in flight by then).
            driver.park(Some(Duration::from_millis(10))).unwrap();
        });
    }
}
