//! Per-operation deadlines (`Op::with_timeout`): an operation that is not
//! done in time completes with `TimedOut` and gives its buffer back; one
//! that completes first leaves no timer behind; deadlines on a tiny ring,
//! on dropped operations and drivers, at the extremes of `Duration`, and on
//! operations whose submitting thread exited.

mod common;

use std::io::{ErrorKind, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::{leaks_no_handles, park_until, poll_once, TrackedBuf};
use proactor::op::{Blocking, Nop, Op, ReadAt, Recv, Timeout};
use proactor::Backend;

/// Long enough that a completion that is already on its way always comes
/// first, however loaded the machine.
const GENEROUS: Duration = Duration::from_secs(30);

fn is_timed_out<T: std::fmt::Debug>(result: &std::io::Result<T>) -> bool {
    matches!(result, Err(e) if e.kind() == ErrorKind::TimedOut)
}

both_backends! {
    fn a_receive_without_data_times_out_with_its_buffer_back(driver) {
        let (mut tx, rx) = common::std_tcp_pair();
        let rx = Arc::new(rx);
        let (buf, dropped) = TrackedBuf::new(64);
        let recv = Op::with_driver(Recv::new(rx.clone(), buf), driver.clone())
            .with_timeout(Duration::from_millis(20));
        let (result, buf) = driver.block_on(recv);
        assert!(is_timed_out(&result), "{result:?}");
        assert!(buf.bytes().is_empty());
        assert!(!dropped.load(Ordering::SeqCst), "the buffer did not come back");
        common::settles_with_no_timer(&driver);
        // The socket still works, and a later receive gets what is sent.
        tx.write_all(b"later").unwrap();
        let (result, buf) = driver.block_on(Op::with_driver(Recv::new(rx, buf), driver.clone()).with_timeout(GENEROUS));
        assert_eq!(result.unwrap(), 5);
        assert_eq!(buf.bytes(), b"later");
        common::settles_with_no_timer(&driver);
    }

    fn a_receive_that_gets_data_first_leaves_nothing_behind(driver) {
        let (mut tx, rx) = common::std_tcp_pair();
        let mut recv = Op::with_driver(Recv::new(rx, Vec::with_capacity(16)), driver.clone()).with_timeout(GENEROUS);
        assert!(poll_once(&driver, &mut recv).is_pending(), "nothing was written yet");
        tx.write_all(b"in time").unwrap();
        let (result, buf) = driver.block_on(recv);
        assert_eq!(result.unwrap(), 7);
        assert_eq!(buf, b"in time");
        common::settles_with_no_timer(&driver);
    }

    fn a_receive_with_data_waiting_completes_even_with_a_zero_deadline(driver) {
        let (mut tx, rx) = common::std_tcp_pair();
        tx.write_all(b"ready").unwrap();
        // Until the bytes are there: the receive must find them at once.
        assert!(park_until(&driver, Duration::from_secs(10), || rx.peek(&mut [0u8; 1]).is_ok()));
        let recv = Op::with_driver(Recv::new(rx, Vec::with_capacity(16)), driver.clone()).with_timeout(Duration::ZERO);
        let (result, buf) = driver.block_on(recv);
        assert_eq!(result.unwrap(), 5);
        assert_eq!(buf, b"ready");
        common::settles_with_no_timer(&driver);
    }

    fn a_zero_deadline_times_out_what_cannot_complete_at_once(driver) {
        let (_tx, rx) = common::std_tcp_pair();
        let recv = Op::with_driver(Recv::new(rx, Vec::with_capacity(16)), driver.clone()).with_timeout(Duration::ZERO);
        let (result, buf) = driver.block_on(recv);
        assert!(is_timed_out(&result), "{result:?}");
        assert_eq!(buf.capacity(), 16);
        let timer = Op::with_driver(Timeout::new(GENEROUS), driver.clone()).with_timeout(Duration::ZERO);
        let result = driver.block_on(timer);
        assert!(is_timed_out(&result), "{result:?}");
        // What completes at once does.
        driver.block_on(Op::with_driver(Nop::new(), driver.clone()).with_timeout(Duration::ZERO)).unwrap();
        common::settles_with_no_timer(&driver);
    }

    fn a_maximal_deadline_is_no_deadline(driver) {
        let (mut tx, rx) = common::std_tcp_pair();
        let mut recv = Op::with_driver(Recv::new(rx, Vec::with_capacity(16)), driver.clone()).with_timeout(Duration::MAX);
        assert!(poll_once(&driver, &mut recv).is_pending(), "nothing was written yet");
        tx.write_all(b"whenever").unwrap();
        let (result, buf) = driver.block_on(recv);
        assert_eq!(result.unwrap(), 8);
        assert_eq!(buf, b"whenever");
        let timer = Op::with_driver(Timeout::new(Duration::from_millis(5)), driver.clone()).with_timeout(Duration::MAX);
        driver.block_on(timer).unwrap();
        driver.block_on(Op::with_driver(Nop::new(), driver.clone()).with_timeout(Duration::MAX)).unwrap();
        common::settles_with_no_timer(&driver);
    }

    fn a_timer_ends_by_whichever_comes_first(driver) {
        let short_timer = Op::with_driver(Timeout::new(Duration::from_millis(5)), driver.clone()).with_timeout(GENEROUS);
        driver.block_on(short_timer).unwrap();
        let long_timer = Op::with_driver(Timeout::new(GENEROUS), driver.clone()).with_timeout(Duration::from_millis(10));
        let result = driver.block_on(long_timer);
        assert!(is_timed_out(&result), "{result:?}");
        common::settles_with_no_timer(&driver);
    }

    fn operations_on_the_pool_are_not_interrupted(driver) {
        // Documented: no deadline applies to what the readiness back end
        // runs on its pool (regular files), on either back end.
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"file bytes").unwrap();
        let read = Op::with_driver(ReadAt::new(file, Vec::with_capacity(32), 0), driver.clone()).with_timeout(Duration::ZERO);
        let (result, buf) = driver.block_on(read);
        assert_eq!(result.unwrap(), 10);
        assert_eq!(buf, b"file bytes");
        let job = Op::with_driver(
            Blocking::new(|| {
                std::thread::sleep(Duration::from_millis(20));
                7
            }),
            driver.clone(),
        );
        assert_eq!(driver.block_on(job.with_timeout(Duration::ZERO)).unwrap(), 7);
        common::settles_with_no_timer(&driver);
    }

    fn many_deadlines_on_a_tiny_ring(driver) {
        let driver = common::small_driver(driver.backend(), 4);
        const SOCKETS: usize = 64;
        let pairs: Vec<_> = (0..SOCKETS).map(|_| common::udp_pair()).collect();
        let receives: Vec<_> = pairs
            .iter()
            .enumerate()
            .map(|(i, (_, rx))| {
                let deadline = if i % 2 == 0 { GENEROUS } else { Duration::from_millis(20) };
                let rx = rx.try_clone().unwrap();
                Op::with_driver(Recv::new(rx, Vec::with_capacity(8)), driver.clone()).with_timeout(deadline)
            })
            .collect();
        let nops: Vec<_> = (0..SOCKETS)
            .map(|_| Op::with_driver(Nop::new(), driver.clone()).with_timeout(Duration::from_millis(1)))
            .collect();
        let senders: Vec<_> = pairs.iter().map(|(tx, _)| tx.try_clone().unwrap()).collect();
        let (received, nopped) = driver.block_on(async {
            let receives = futures::future::join_all(receives);
            let nops = futures::future::join_all(nops);
            // Every receive is in flight before the even ones get data.
            let send = async {
                proactor::time::sleep(Duration::from_millis(5)).await.unwrap();
                for (i, tx) in senders.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
                    tx.send(&[i as u8]).unwrap();
                }
            };
            let (received, nopped, ()) = futures::join!(receives, nops, send);
            (received, nopped)
        });
        for (i, (result, buf)) in received.into_iter().enumerate() {
            if i % 2 == 0 {
                assert_eq!(result.unwrap(), 1, "receive {i}");
                assert_eq!(buf, [i as u8]);
            } else {
                assert!(is_timed_out(&result), "receive {i}: {result:?}");
                assert!(buf.is_empty() && buf.capacity() == 8, "receive {i}: buffer not given back whole");
            }
        }
        assert!(nopped.iter().all(Result::is_ok), "{nopped:?}");
        common::settles_with_no_timer(&driver);
    }

    fn dropped_mid_flight_keeps_its_buffer_until_the_kernel_is_done(driver) {
        let (mut tx, rx) = common::std_tcp_pair();
        let (buf, dropped) = TrackedBuf::new(64);
        let mut recv = Op::with_driver(Recv::new(rx, buf), driver.clone()).with_timeout(GENEROUS);
        assert!(poll_once(&driver, &mut recv).is_pending());
        drop(recv);
        match driver.backend() {
            Backend::IoUring => {
                assert_eq!(driver.in_flight(), 1);
                assert!(!dropped.load(Ordering::SeqCst), "buffer freed while the kernel may write into it");
            }
            Backend::Poll => {
                assert_eq!(driver.in_flight(), 0);
                assert!(dropped.load(Ordering::SeqCst));
            }
        }
        tx.write_all(b"late data").unwrap();
        assert!(park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        assert!(dropped.load(Ordering::SeqCst), "buffer never released");
        common::settles_with_no_timer(&driver);
    }

    fn dropped_before_a_short_deadline_passes(driver) {
        let (_tx, rx) = common::std_tcp_pair();
        let (buf, dropped) = TrackedBuf::new(64);
        let mut recv = Op::with_driver(Recv::new(rx, buf), driver.clone()).with_timeout(Duration::from_millis(10));
        assert!(poll_once(&driver, &mut recv).is_pending());
        drop(recv);
        // The deadline passes with nobody waiting: nothing to time out.
        std::thread::sleep(Duration::from_millis(30));
        assert!(park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        assert!(dropped.load(Ordering::SeqCst), "buffer never released");
        common::settles_with_no_timer(&driver);
        driver.block_on(Op::with_driver(Nop::new(), driver.clone())).unwrap();
    }

    fn a_driver_dropped_with_timed_operations_in_flight(driver) {
        let backend = driver.backend();
        drop(driver);
        let (buf, dropped) = TrackedBuf::new(64);
        leaks_no_handles("timed operations of a dropped driver", || {
            let driver = common::driver(backend);
            let (tx, rx, mut pending) = driver.block_on(async {
                let (tx, rx) = common::std_tcp_pair();
                let rx = Arc::new(rx);
                let pending: Vec<_> = (0..16)
                    .map(|i| {
                        let deadline = if i % 2 == 0 { GENEROUS } else { Duration::from_millis(1) };
                        Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(8)), driver.clone()).with_timeout(deadline)
                    })
                    .collect();
                (tx, rx, pending)
            });
            for op in &mut pending {
                assert!(poll_once(&driver, op).is_pending());
            }
            let mut tracked = Op::with_driver(Recv::new(rx, buf), driver.clone()).with_timeout(GENEROUS);
            assert!(poll_once(&driver, &mut tracked).is_pending());
            // The futures go (cancelling), then the driver with everything
            // still in flight.
            drop(pending);
            drop(tracked);
            drop(driver);
            drop(tx);
        });
        assert!(dropped.load(Ordering::SeqCst), "buffer never released");
    }
}

// A deadline survives the kernel ending a request whose submitting thread
// exited (ECANCELED, which a linked timeout also produces): only the
// deadline passing makes it a timeout.
#[cfg(unix)]
mod submitter_exit {
    use super::*;
    use std::future::Future;

    fn first_poll_on_a_thread_that_exits<F>(mut op: F) -> F
    where
        F: Future + Unpin + Send + 'static,
    {
        std::thread::spawn(move || {
            let waker = common::FnWaker::waker(|| {}, || {});
            assert!(common::poll_with(&mut op, &waker).is_pending());
            op
        })
        .join()
        .unwrap()
    }

    both_backends! {
        fn a_receive_still_gets_its_bytes_before_its_deadline(driver) {
            let (mut tx, rx) = common::std_tcp_pair();
            let recv = first_poll_on_a_thread_that_exits(
                Op::with_driver(Recv::new(rx, Vec::with_capacity(16)), driver.clone()).with_timeout(GENEROUS),
            );
            // Time for the kernel to act on the thread's exit.
            std::thread::sleep(Duration::from_millis(20));
            tx.write_all(b"after exit").unwrap();
            let (result, buf) = driver.block_on(recv);
            assert_eq!(result.unwrap(), 10);
            assert_eq!(buf, b"after exit");
            common::settles_with_no_timer(&driver);
        }

        fn a_receive_still_times_out_at_its_deadline(driver) {
            let (_tx, rx) = common::std_tcp_pair();
            let recv = first_poll_on_a_thread_that_exits(
                Op::with_driver(Recv::new(rx, Vec::with_capacity(16)), driver.clone())
                    .with_timeout(Duration::from_millis(200)),
            );
            // The kernel does not stop the operation of an exited thread
            // when its timeout fires: the driver must, or this hangs.
            let waiting = driver.clone();
            let (result, buf) = common::finishes_within(Duration::from_secs(20), "an overdue receive", move || {
                waiting.block_on(recv)
            });
            assert!(is_timed_out(&result), "{result:?}");
            assert_eq!(buf.capacity(), 16);
            common::settles_with_no_timer(&driver);
        }
    }
}
