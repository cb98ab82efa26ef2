//! Cancellation and teardown: dropped futures, dropped drivers, leaked fds
//! and handles, buffers freed too early. Idle reads wait on a loopback TCP
//! connection, which every OS's event loop can wait on.

mod common;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{leaks_no_handles, park_until, poll_once, TrackedBuf};
use proactor::op::{Nop, Op, OpenAt, Recv, Timeout};
use proactor::Backend;

both_backends! {
    fn thousand_idle_reads_dropped_mid_flight(driver) {
        let backend = driver.backend();
        drop(driver);
        leaks_no_handles("cancelled reads", || {
            let driver = common::driver(backend);
            let (mut tx, rx) = common::std_tcp_pair();
            let rx = Arc::new(rx);
            let mut reads: Vec<_> = (0..1000)
                .map(|_| Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(64)), driver.clone()))
                .collect();
            for read in &mut reads {
                assert!(poll_once(&driver, read).is_pending(), "nothing was written yet");
            }
            assert_eq!(driver.in_flight(), 1000);
            drop(reads);
            assert!(
                park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0),
                "cancelled reads still held: {}",
                driver.in_flight()
            );
            // The driver keeps working, on the same socket too: a read that
            // waits for data sent once it is in flight.
            driver.block_on(Op::with_driver(Nop::new(), driver.clone())).unwrap();
            let mut read = Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(8)), driver.clone());
            assert!(poll_once(&driver, &mut read).is_pending(), "nothing was written yet");
            tx.write_all(b"after").unwrap();
            let (n, buf) = driver.block_on(read);
            assert_eq!(n.unwrap(), 5);
            assert_eq!(&buf[..], b"after");
        });
    }

    // On Windows the poller keeps a cancelled AFD poll's packet, and the
    // AFD handle it holds, until a wait takes its completion: the driver's
    // teardown must take it, or each driver dropped like this leaks one.
    fn dropping_the_driver_just_after_cancelled_reads(driver) {
        let backend = driver.backend();
        drop(driver);
        leaks_no_handles("a driver dropped just after cancelled reads", || {
            let driver = common::driver(backend);
            let (_tx, rx) = common::std_tcp_pair();
            let rx = Arc::new(rx);
            let mut reads: Vec<_> = (0..1000)
                .map(|_| Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(8)), driver.clone()))
                .collect();
            for read in &mut reads {
                assert!(poll_once(&driver, read).is_pending(), "nothing was written yet");
            }
            drop(reads);
            // No park in between: whatever the cancellations left with the
            // poller is the teardown's to reap.
            drop(driver);
        });
    }

    fn dropped_read_keeps_its_buffer_while_the_kernel_may_write(driver) {
        let (mut tx, rx) = common::std_tcp_pair();
        // Shared: the read end must stay open after the op is dropped, so
        // the late data below arrives at a socket a read may still target.
        let rx = Arc::new(rx);
        let (buf, dropped) = TrackedBuf::new(64);
        let mut read = Op::with_driver(Recv::new(rx.clone(), buf), driver.clone());
        assert!(poll_once(&driver, &mut read).is_pending());
        drop(read);
        match driver.backend() {
            // The kernel holds the request until the cancel's completion is
            // reaped: the buffer must still be alive.
            Backend::IoUring => {
                assert_eq!(driver.in_flight(), 1);
                assert!(!dropped.load(Ordering::SeqCst), "buffer freed while the kernel may write into it");
            }
            // Nothing outside the process refers to it: released at once.
            Backend::Poll => {
                assert_eq!(driver.in_flight(), 0);
                assert!(dropped.load(Ordering::SeqCst));
            }
        }
        // Feed the socket after the drop: a read that still completes writes
        // into the buffer, which must be alive until it is reaped.
        tx.write_all(b"late data").unwrap();
        assert!(park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        assert!(dropped.load(Ordering::SeqCst), "buffer never released");
    }

    fn completed_then_dropped_is_released_at_once(driver) {
        let (mut tx, rx) = common::std_tcp_pair();
        let mut read = Op::with_driver(Recv::new(rx, Vec::with_capacity(8)), driver.clone());
        assert!(poll_once(&driver, &mut read).is_pending());
        tx.write_all(b"done").unwrap();
        // Let the result arrive; the future is not polled again.
        for _ in 0..20 {
            driver.park(Some(Duration::from_millis(5))).unwrap();
        }
        assert_eq!(driver.in_flight(), 1, "the result waits for its future");
        drop(read);
        assert_eq!(driver.in_flight(), 0, "a completed op is released without another park");
    }

    fn dropping_the_driver_with_a_thousand_ops_in_flight(driver) {
        let backend = driver.backend();
        drop(driver);
        let (file, _) = common::pattern_file(4096);
        leaks_no_handles("a driver dropped with opens in flight (opened files must be closed)", || {
            let driver = common::driver(backend);
            let (_tx, rx) = common::std_tcp_pair();
            let rx = Arc::new(rx);
            let path = file.path().to_owned();
            let mut reads = Vec::new();
            let mut opens = Vec::new();
            let mut timers = Vec::new();
            for i in 0..1000 {
                match i % 4 {
                    0 | 1 => reads.push(Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(32)), driver.clone())),
                    2 => opens.push(Op::with_driver(OpenAt::new(&path, libc::O_RDONLY, 0).unwrap(), driver.clone())),
                    _ => timers.push(Op::with_driver(Timeout::new(Duration::from_secs(3600)), driver.clone())),
                }
            }
            for read in &mut reads {
                assert!(poll_once(&driver, read).is_pending());
            }
            for open in &mut opens {
                // An open may finish at once; if so its fd is ours to drop.
                if let Poll::Ready(fd) = poll_once(&driver, open) {
                    drop(fd.unwrap());
                }
            }
            for timer in &mut timers {
                assert!(poll_once(&driver, timer).is_pending());
            }
            // The last handle goes with the futures: teardown runs with
            // every op still in flight and must neither hang nor leak.
            drop(driver);
            drop((reads, opens, timers));
        });
    }

    fn dropped_open_closes_the_fd_it_gets(driver) {
        let backend = driver.backend();
        drop(driver);
        let (file, _) = common::pattern_file(16);
        leaks_no_handles("cancelled opens", || {
            let driver = common::driver(backend);
            for _ in 0..200 {
                let mut open = Op::with_driver(OpenAt::new(file.path(), libc::O_RDONLY, 0).unwrap(), driver.clone());
                if let Poll::Ready(fd) = poll_once(&driver, &mut open) {
                    drop(fd.unwrap());
                }
                drop(open);
            }
            assert!(park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        });
    }

    fn dropped_timer_is_cancelled(driver) {
        let mut timer = Op::with_driver(Timeout::new(Duration::from_secs(3600)), driver.clone());
        assert!(poll_once(&driver, &mut timer).is_pending());
        assert_eq!(driver.in_flight(), 1);
        drop(timer);
        assert!(park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0), "an hour-long timer is still held");
    }
}
