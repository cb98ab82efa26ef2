//! Cancellation and teardown: dropped futures, dropped drivers, leaked fds,
//! buffers freed too early.

// Unix only: these tests wait on pipes and count open fds, neither of which
// the Windows readiness back end (sockets only) offers.
#![cfg(unix)]

mod common;

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{fd_count, fd_count_settles, park_until, poll_once, TrackedBuf};
use proactor::op::{Nop, Op, OpenAt, Read, Timeout};
use proactor::Backend;

fn write_fd(fd: i32, data: &[u8]) -> isize {
    // SAFETY: writes from a live slice to an fd the caller owns.
    unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) }
}

both_backends! {
    fn thousand_idle_reads_dropped_mid_flight(driver) {
        let backend = driver.backend();
        drop(driver);
        let fds_before = fd_count();
        {
            let driver = common::driver(backend);
            let (rx, tx) = common::pipe();
            let rx = Arc::new(rx);
            let mut reads: Vec<_> = (0..1000)
                .map(|_| Op::with_driver(Read::new(rx.clone(), Vec::with_capacity(64)), driver.clone()))
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
            // The driver keeps working, on the same pipe too.
            driver.block_on(Op::with_driver(Nop::new(), driver.clone())).unwrap();
            assert_eq!(write_fd(tx.as_raw_fd(), b"after"), 5);
            let (n, buf) = driver.block_on(Op::with_driver(Read::new(rx.clone(), Vec::with_capacity(8)), driver.clone()));
            assert_eq!(n.unwrap(), 5);
            assert_eq!(&buf[..], b"after");
        }
        assert_eq!(fd_count_settles(fds_before), fds_before, "fds leaked");
    }

    fn dropped_read_keeps_its_buffer_while_the_kernel_may_write(driver) {
        let (rx, tx) = common::pipe();
        // Shared: the read end must stay open after the op is dropped, or the
        // late write below fails with EPIPE.
        let rx = Arc::new(rx);
        let (buf, dropped) = TrackedBuf::new(64);
        let mut read = Op::with_driver(Read::new(rx.clone(), buf), driver.clone());
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
        // Feed the pipe after the drop: a read that still completes writes
        // into the buffer, which must be alive until it is reaped.
        assert_eq!(write_fd(tx.as_raw_fd(), b"late data"), 9);
        assert!(park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        assert!(dropped.load(Ordering::SeqCst), "buffer never released");
    }

    fn completed_then_dropped_is_released_at_once(driver) {
        let (rx, tx) = common::pipe();
        let mut read = Op::with_driver(Read::new(rx, Vec::with_capacity(8)), driver.clone());
        assert!(poll_once(&driver, &mut read).is_pending());
        assert_eq!(write_fd(tx.as_raw_fd(), b"done"), 4);
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
        let fds_before = fd_count();
        {
            let driver = common::driver(backend);
            let (rx, _tx) = common::pipe();
            let rx = Arc::new(rx);
            let path = file.path().to_owned();
            let mut reads = Vec::new();
            let mut opens = Vec::new();
            let mut timers = Vec::new();
            for i in 0..1000 {
                match i % 4 {
                    0 | 1 => reads.push(Op::with_driver(Read::new(rx.clone(), Vec::with_capacity(32)), driver.clone())),
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
        }
        assert_eq!(fd_count_settles(fds_before), fds_before, "fds leaked (opened files must be closed)");
    }

    fn dropped_open_closes_the_fd_it_gets(driver) {
        let (file, _) = common::pattern_file(16);
        let fds_before = fd_count();
        for _ in 0..200 {
            let mut open = Op::with_driver(OpenAt::new(file.path(), libc::O_RDONLY, 0).unwrap(), driver.clone());
            if let Poll::Ready(fd) = poll_once(&driver, &mut open) {
                drop(fd.unwrap());
            }
            drop(open);
        }
        assert!(park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        assert_eq!(fd_count_settles(fds_before), fds_before, "a cancelled open leaked its fd");
    }

    fn dropped_timer_is_cancelled(driver) {
        let mut timer = Op::with_driver(Timeout::new(Duration::from_secs(3600)), driver.clone());
        assert!(poll_once(&driver, &mut timer).is_pending());
        assert_eq!(driver.in_flight(), 1);
        drop(timer);
        assert!(park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0), "an hour-long timer is still held");
    }
}
