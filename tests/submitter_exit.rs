//! An operation whose first poll (and so its submission) ran on a thread
//! that has since exited still completes with its real result. io_uring ties
//! a request to the thread that submitted it and fails it with ECANCELED
//! when that thread exits before the request could finish; the driver did
//! not cancel it, so the caller must never see that error.

mod common;

use std::future::Future;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proactor::op::{Accept, Op, Recv, Timeout};

/// Polls `op` once on a new thread, which then exits; returns `op`.
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

fn stream_pair() -> (TcpStream, Arc<TcpStream>) {
    let (a, b) = common::std_tcp_pair();
    (a, Arc::new(b))
}

both_backends! {
    fn a_receive_gets_its_bytes(driver) {
        let (mut a, b) = stream_pair();
        let receive = first_poll_on_a_thread_that_exits(Op::with_driver(
            Recv::new(b, Vec::with_capacity(16)),
            driver.clone(),
        ));
        // Time for the kernel to act on the thread's exit.
        std::thread::sleep(Duration::from_millis(20));
        a.write_all(b"after exit").unwrap();
        let (received, buf) = driver.block_on(receive);
        assert_eq!(received.unwrap(), 10);
        assert_eq!(buf, b"after exit");
    }

    fn an_accept_gets_its_connection(driver) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = first_poll_on_a_thread_that_exits(Op::with_driver(
            Accept::new(Arc::new(listener)),
            driver.clone(),
        ));
        std::thread::sleep(Duration::from_millis(20));
        let _client = TcpStream::connect(addr).unwrap();
        let accepted = driver.block_on(accept);
        assert!(accepted.is_ok(), "{accepted:?}");
    }

    fn a_timer_fires_at_its_deadline(driver) {
        let started = Instant::now();
        let timer = first_poll_on_a_thread_that_exits(Op::with_driver(
            Timeout::new(Duration::from_millis(200)),
            driver.clone(),
        ));
        driver.block_on(timer).unwrap();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        // Not started over from the thread's exit: well before twice as long.
        assert!(waited < Duration::from_millis(390), "{waited:?}");
    }

    fn resubmitted_again_when_the_resubmitting_thread_exits_too(driver) {
        let (mut a, b) = stream_pair();
        let receive = first_poll_on_a_thread_that_exits(Op::with_driver(
            Recv::new(b, Vec::with_capacity(16)),
            driver.clone(),
        ));
        // A second thread reaps the first cancellation, hands the receive
        // to the kernel again, and exits in turn.
        let d = driver.clone();
        std::thread::spawn(move || {
            d.block_on(Op::with_driver(Timeout::new(Duration::from_millis(30)), d.clone()))
                .unwrap();
        })
        .join()
        .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        a.write_all(b"third").unwrap();
        let (received, buf) = driver.block_on(receive);
        assert_eq!(received.unwrap(), 5);
        assert_eq!(buf, b"third");
    }

    fn dropped_after_its_submitter_exited_it_is_gone_and_its_fd_closed(driver) {
        // On a thread of its own, which ends before the count: Windows
        // keeps some handles per thread (see `leaks_no_handles`).
        common::leaks_no_handles("a receive dropped after its submitter exited", || {
            {
                let (_a, b) = stream_pair();
                let receive = first_poll_on_a_thread_that_exits(Op::with_driver(
                    Recv::new(b, Vec::with_capacity(16)),
                    driver.clone(),
                ));
                // Reaps the kernel's cancellation (and hands the receive back).
                driver.block_on(Op::with_driver(Timeout::new(Duration::from_millis(20)), driver.clone()))
                    .unwrap();
                drop(receive);
            }
            let d = driver.clone();
            assert!(common::park_until(&d, Duration::from_secs(5), || d.in_flight() == 0));
            // Windows: a cancelled AFD poll holds its AFD handle until a
            // wait of the driver takes its completion, and park_until above
            // need not have waited (nothing was in flight by then).
            d.park(Some(Duration::from_millis(10))).unwrap();
        });
    }

    fn many_receives_from_many_exited_threads(driver) {
        let pairs: Vec<_> = (0..32).map(|_| stream_pair()).collect();
        let receives: Vec<_> = pairs
            .iter()
            .map(|(_, b)| {
                first_poll_on_a_thread_that_exits(Op::with_driver(
                    Recv::new(b.clone(), Vec::with_capacity(8)),
                    driver.clone(),
                ))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        for (n, (a, _)) in pairs.iter().enumerate() {
            (&*a).write_all(&[n as u8]).unwrap();
        }
        let results = driver.block_on(futures::future::join_all(receives));
        for (n, (received, buf)) in results.into_iter().enumerate() {
            assert_eq!(received.unwrap(), 1);
            assert_eq!(buf, [n as u8]);
        }
        assert_eq!(driver.in_flight(), 0);
    }
}
