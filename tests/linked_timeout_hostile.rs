//! `Op::with_timeout` used as a hostile caller would: tiny rings, deadlines
//! racing data, submitters that exit, forgotten operations, huge deadlines,
//! and both back ends compared.
//!
//! The heap-growth test counts live heap bytes with a global allocator: run
//! it alone (`-- --test-threads=1` or by name) for a clean measurement.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{finishes_within, poll_once, TrackedBuf};
use futures::StreamExt;
use proactor::op::{Nop, Op, Recv, Timeout};
use proactor::{Backend, Driver};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
// SAFETY: forwards to System, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new) }
    }
}
#[global_allocator]
static ALLOC: Counting = Counting;

const GENEROUS: Duration = Duration::from_secs(30);

fn is_timed_out<T: std::fmt::Debug>(result: &std::io::Result<T>) -> bool {
    matches!(result, Err(e) if e.kind() == ErrorKind::TimedOut)
}

/// A busy loop where each turn's first submission is untimed (a common
/// shape: an untimed send, then a timed receive): the submission queue is
/// never empty when the timed one is pushed, so `link_timespecs` is never
/// cleared. Its heap must stay bounded anyway.
fn heap_of_timed_turns(driver: &Driver, turns: usize) -> isize {
    for _ in 0..turns {
        driver.block_on(async {
            let untimed = Op::with_driver(Nop::new(), driver.clone());
            let timed = Op::with_driver(Nop::new(), driver.clone()).with_timeout(GENEROUS);
            let (a, b) = futures::join!(untimed, timed);
            a.unwrap();
            b.unwrap();
        });
    }
    LIVE.load(Ordering::SeqCst)
}

both_backends! {
    fn heap_stays_bounded_when_the_queue_is_never_seen_empty(driver) {
        // Warm up (slab, vectors, thread locals).
        let base = heap_of_timed_turns(&driver, 5_000);
        let half = heap_of_timed_turns(&driver, 100_000);
        let after = heap_of_timed_turns(&driver, 100_000);
        common::settles_with_no_timer(&driver);
        let grown = after - base;
        assert!(
            grown < 1 << 20,
            "live heap grew by {grown} bytes over 200 000 timed operations ({} in the first 100 000, {} in the next)",
            half - base,
            after - half
        );
    }

    fn a_tiny_ring_with_one_entry_still_takes_a_linked_pair(driver) {
        for entries in [1, 2] {
            let driver = common::small_driver(driver.backend(), entries);
            let pairs: Vec<_> = (0..32).map(|_| common::udp_pair()).collect();
            let result = finishes_within(Duration::from_secs(20), "timed ops on a 1/2-entry ring", move || {
                let ops: Vec<_> = pairs
                    .iter()
                    .map(|(_, rx)| {
                        Op::with_driver(Recv::new(rx.try_clone().unwrap(), Vec::with_capacity(4)), driver.clone())
                            .with_timeout(Duration::from_millis(5))
                    })
                    .collect();
                let nops: Vec<_> = (0..32).map(|_| Op::with_driver(Nop::new(), driver.clone())).collect();
                let (r, n) = driver.block_on(async { futures::join!(futures::future::join_all(ops), futures::future::join_all(nops)) });
                common::settles_with_no_timer(&driver);
                (r.into_iter().map(|(r, _)| r.map_err(|e| e.kind())).collect::<Vec<_>>(), n.iter().all(Result::is_ok))
            });
            assert!(result.0.iter().all(|r| *r == Err(ErrorKind::TimedOut)), "{entries}: {:?}", result.0);
            assert!(result.1);
        }
    }

    fn deadline_racing_data_never_loses_a_byte(driver) {
        let (mut tx, rx) = common::std_tcp_pair();
        let rx = Arc::new(rx);
        const ROUNDS: usize = 1000;
        let writer = std::thread::spawn(move || {
            for i in 0..ROUNDS {
                // Spread the writes around the deadlines.
                let spin = Instant::now();
                while spin.elapsed() < Duration::from_micros((i % 7) as u64 * 40) {}
                tx.write_all(&[(i % 251) as u8]).unwrap();
                std::thread::sleep(Duration::from_micros(50));
            }
            tx
        });
        let mut got = Vec::with_capacity(ROUNDS);
        let mut timeouts = 0;
        let started = Instant::now();
        let mut buf = Vec::with_capacity(1);
        while got.len() < ROUNDS {
            let deadline = Duration::from_micros((got.len() % 5) as u64 * 30);
            let op = Op::with_driver(Recv::new(rx.clone(), buf), driver.clone()).with_timeout(deadline);
            let (result, mut back) = driver.block_on(op);
            match result {
                Ok(1) => got.push(back[0]),
                Ok(n) => panic!("receive of {n} into a 1-byte buffer"),
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    assert!(back.is_empty() && back.capacity() == 1, "buffer not given back whole");
                    timeouts += 1;
                    if started.elapsed() > Duration::from_secs(60) {
                        panic!("stuck at {} bytes", got.len());
                    }
                }
                Err(e) => panic!("after {} bytes: {e:?}", got.len()),
            }
            back.clear();
            buf = back;
        }
        let mut tx = writer.join().unwrap();
        drop(tx.flush());
        let expected: Vec<u8> = (0..ROUNDS).map(|i| (i % 251) as u8).collect();
        assert_eq!(got, expected, "bytes lost or reordered ({timeouts} timeouts)");
        common::settles_with_no_timer(&driver);
        // Nothing else left in the socket.
        drop(tx);
        let mut rest = Vec::new();
        let mut rx = Arc::try_unwrap(rx).unwrap();
        rx.set_nonblocking(false).unwrap();
        rx.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{} extra bytes", rest.len());
    }

    fn calling_with_timeout_twice_keeps_the_last(driver) {
        let (_tx, rx) = common::udp_pair();
        let rx = Arc::new(rx);
        let start = Instant::now();
        let op = Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(4)), driver.clone())
            .with_timeout(GENEROUS)
            .with_timeout(Duration::from_millis(10));
        let (result, _) = driver.block_on(op);
        assert!(is_timed_out(&result), "{result:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        let mut op = Op::with_driver(Recv::new(rx, Vec::with_capacity(4)), driver.clone())
            .with_timeout(Duration::from_millis(1))
            .with_timeout(GENEROUS);
        assert!(poll_once(&driver, &mut op).is_pending());
        std::thread::sleep(Duration::from_millis(30));
        assert!(poll_once(&driver, &mut op).is_pending(), "the first, replaced, deadline applied");
        drop(op);
        common::settles_with_no_timer(&driver);
    }

    fn many_short_deadlines_on_a_tiny_ring_leave_nothing(driver) {
        let driver = common::small_driver(driver.backend(), 2);
        let (_tx, rx) = common::udp_pair();
        let rx = Arc::new(rx);
        // Counted on Unix; Windows' handle count is checked by tests/cancel.rs.
        #[cfg(unix)]
        let fds = common::fd_count();
        let results = driver.block_on(async {
            let ops = (0..10_000).map(|i| {
                Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(1)), driver.clone())
                    .with_timeout(Duration::from_micros(50 + (i % 100)))
            });
            futures::future::join_all(ops).await
        });
        assert!(results.iter().all(|(r, b)| is_timed_out(r) && b.capacity() == 1));
        common::settles_with_no_timer(&driver);
        #[cfg(unix)]
        assert_eq!(common::fd_count_settles(fds), fds, "fds leaked");
    }

    fn timed_ops_mixed_with_multishot_accept_and_send_zc_on_a_tiny_ring(driver) {
        let driver = common::small_driver(driver.backend(), 2);
        let d = driver.clone();
        finishes_within(Duration::from_secs(30), "mixed tiny ring", move || {
            let driver = d;
            driver.block_on(async {
                let listener = proactor::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let mut incoming = listener.incoming();
                let (_utx, urx) = common::udp_pair();
                let urx = Arc::new(urx);
                for round in 0..20 {
                    let client = proactor::net::TcpStream::connect(addr);
                    let timed: Vec<_> = (0..6)
                        .map(|_| {
                            Op::with_driver(Recv::new(urx.clone(), Vec::with_capacity(1)), driver.clone())
                                .with_timeout(Duration::from_millis(2))
                        })
                        .collect();
                    let (client, server, timed) = futures::join!(client, incoming.next(), futures::future::join_all(timed));
                    let client = client.unwrap();
                    let server = Arc::new(server.unwrap().unwrap());
                    assert!(timed.iter().all(|(r, _)| is_timed_out(r)), "round {round}");
                    let payload = vec![round as u8; 64 * 1024];
                    let send = client.send_zc(payload);
                    let mut want = 64 * 1024;
                    let recv_all = async {
                        let mut buf = Vec::with_capacity(4096);
                        while want > 0 {
                            let (r, b) = Op::with_driver(Recv::new(server.clone(), buf), driver.clone())
                                .with_timeout(GENEROUS)
                                .await;
                            let n = r.unwrap();
                            assert!(n > 0);
                            assert!(b.iter().all(|&x| x == round as u8));
                            want -= n;
                            buf = b;
                            buf.clear();
                        }
                    };
                    let ((sent, _), ()) = futures::join!(send, recv_all);
                    assert_eq!(sent.unwrap(), 64 * 1024);
                }
            });
            common::settles_with_no_timer(&driver);
        });
    }

    fn a_forgotten_timed_op_does_not_stop_the_driver(driver) {
        // `mem::forget` of an in-flight op leaks what it holds (its socket,
        // its driver clone), with a deadline as without one (tests/hostile.rs
        // counts what that leaks); the driver goes on regardless.
        let (_tx, rx) = common::udp_pair();
        let mut op = Op::with_driver(Recv::new(rx, Vec::with_capacity(4)), driver.clone())
            .with_timeout(Duration::from_millis(5));
        assert!(poll_once(&driver, &mut op).is_pending());
        std::mem::forget(op);
        // Its deadline passes and its result is stored for nobody.
        std::thread::sleep(Duration::from_millis(30));
        let _ = driver.dispatch();
        // Another timed op still works.
        let (_tx2, rx2) = common::udp_pair();
        let (r, _) = driver.block_on(
            Op::with_driver(Recv::new(rx2, Vec::with_capacity(4)), driver.clone()).with_timeout(Duration::from_millis(5)),
        );
        assert!(is_timed_out(&r), "{r:?}");
    }
}

/// Submitted from threads that exit at once, with deadlines around the time
/// the kernel acts on the exits: each ends (TimedOut, or its data) and
/// nothing is left.
#[cfg(unix)]
mod submitter_exit {
    use super::*;

    both_backends! {
        fn many_timed_ops_from_exiting_threads(driver) {
            let pairs: Vec<_> = (0..64).map(|_| common::udp_pair()).collect();
            let ops: Vec<_> = pairs
                .iter()
                .enumerate()
                .map(|(i, (_, rx))| {
                    let mut op = Op::with_driver(Recv::new(rx.try_clone().unwrap(), Vec::with_capacity(4)), driver.clone())
                        .with_timeout(Duration::from_millis(1 + (i % 8) as u64 * 3));
                    std::thread::spawn(move || {
                        let waker = common::FnWaker::waker(|| {}, || {});
                        assert!(common::poll_with(&mut op, &waker).is_pending());
                        op
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            // Every other one gets data after the threads are gone.
            for (i, (tx, _)) in pairs.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
                tx.send(&[i as u8]).unwrap();
            }
            let d = driver.clone();
            let results = finishes_within(Duration::from_secs(20), "timed ops of exited threads", move || {
                d.block_on(futures::future::join_all(ops))
            });
            for (i, (r, b)) in results.into_iter().enumerate() {
                match r {
                    Ok(1) => assert_eq!(b, [i as u8]),
                    Err(e) if e.kind() == ErrorKind::TimedOut => {
                        assert_eq!(b.capacity(), 4);
                        // Its byte (if sent) is still there.
                        if i % 2 == 0 {
                            let mut one = [0u8; 1];
                            assert_eq!(pairs[i].1.recv(&mut one).unwrap(), 1, "op {i}: byte lost");
                        }
                    }
                    other => panic!("op {i}: {other:?}"),
                }
            }
            common::settles_with_no_timer(&driver);
        }
    }
}

/// The process-wide driver, dispatched by its own thread, under another
/// executor: a short deadline submitted after a long one must not wait for
/// the long one (the parked dispatcher must learn of the earlier deadline).
#[test]
fn under_futures_block_on_an_earlier_deadline_wakes_the_dispatcher() {
    // Serial: the heap test counts every allocation of this binary.
    let _serial = common::serial();
    let (_tx, rx) = common::udp_pair();
    let rx = Arc::new(rx);
    let rx2 = rx.clone();
    let elapsed = finishes_within(
        Duration::from_secs(20),
        "futures::executor::block_on",
        move || {
            futures::executor::block_on(async {
                let mut long = Op::new(Recv::new(rx2.clone(), Vec::with_capacity(4)))
                    .unwrap()
                    .with_timeout(GENEROUS);
                futures::future::poll_fn(|cx| {
                    assert!(std::pin::Pin::new(&mut long).poll(cx).is_pending());
                    std::task::Poll::Ready(())
                })
                .await;
                std::thread::sleep(Duration::from_millis(50));
                let start = Instant::now();
                let (r, _) = Op::new(Recv::new(rx2, Vec::with_capacity(4)))
                    .unwrap()
                    .with_timeout(Duration::from_millis(20))
                    .await;
                assert!(is_timed_out(&r), "{r:?}");
                drop(long);
                start.elapsed()
            })
        },
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

/// The same, with the driver a tokio runtime dispatches.
#[test]
fn under_tokio_an_earlier_deadline_wakes_the_dispatcher() {
    // Serial: the heap test counts every allocation of this binary.
    let _serial = common::serial();
    let (_tx, rx) = common::udp_pair();
    let rx = Arc::new(rx);
    let elapsed = finishes_within(Duration::from_secs(20), "tokio", move || {
        let rt = common::current_thread_runtime();
        rt.block_on(async {
            let long = Op::new(Recv::new(rx.clone(), Vec::with_capacity(4)))
                .unwrap()
                .with_timeout(GENEROUS);
            let long = tokio::spawn(long);
            tokio::time::sleep(Duration::from_millis(50)).await;
            let start = Instant::now();
            let (r, _) = Op::new(Recv::new(rx.clone(), Vec::with_capacity(4)))
                .unwrap()
                .with_timeout(Duration::from_millis(20))
                .await;
            assert!(is_timed_out(&r), "{r:?}");
            long.abort();
            start.elapsed()
        })
    });
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn both_backends_agree_on_edge_cases() {
    // Serial: the heap test counts every allocation of this binary.
    let _serial = common::serial();
    let mut outcomes = Vec::new();
    for backend in common::backends() {
        let driver = common::driver(backend);
        let (_tx, rx) = common::udp_pair();
        let rx = Arc::new(rx);
        let mut row = Vec::new();
        for timeout in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(5),
            Duration::MAX,
        ] {
            // A timer of the same length as its deadline.
            let t = driver.block_on(
                Op::with_driver(Timeout::new(Duration::from_millis(5)), driver.clone())
                    .with_timeout(timeout),
            );
            row.push(format!(
                "timer5ms/{timeout:?}: {:?}",
                t.map_err(|e| e.kind()).map(|_| ())
            ));
            if timeout != Duration::MAX {
                let (r, b) = driver.block_on(
                    Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(2)), driver.clone())
                        .with_timeout(timeout),
                );
                row.push(format!(
                    "recv/{timeout:?}: {:?} cap {}",
                    r.map_err(|e| e.kind()),
                    b.capacity()
                ));
            }
            let n =
                driver.block_on(Op::with_driver(Nop::new(), driver.clone()).with_timeout(timeout));
            row.push(format!("nop/{timeout:?}: {:?}", n.map_err(|e| e.kind())));
        }
        common::settles_with_no_timer(&driver);
        outcomes.push((backend, row));
    }
    if outcomes.len() == 2 {
        let (a, b) = (&outcomes[0], &outcomes[1]);
        // The 5ms timer against a 5ms deadline may go either way.
        let strip = |r: &Vec<String>| {
            r.iter()
                .filter(|s| !s.starts_with("timer5ms/5ms"))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&a.1), strip(&b.1), "{:?} vs {:?}", a.0, b.0);
    }
}

#[allow(dead_code)]
fn _unused(_: TrackedBuf, _: AtomicBool, _: Backend) {}

both_backends! {
    fn accepts_racing_deadlines_never_lose_a_connection(driver) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = Arc::new(listener);
        const CONNECTIONS: usize = 300;
        let connector = std::thread::spawn(move || {
            (0..CONNECTIONS)
                .map(|i| {
                    let spin = Instant::now();
                    while spin.elapsed() < Duration::from_micros((i % 7) as u64 * 40) {}
                    std::net::TcpStream::connect(addr).unwrap()
                })
                .collect::<Vec<_>>()
        });
        let started = Instant::now();
        let mut accepted = Vec::new();
        let mut timeouts = 0;
        while accepted.len() < CONNECTIONS {
            let deadline = Duration::from_micros((timeouts % 5) as u64 * 30);
            match driver.block_on(Op::with_driver(proactor::op::Accept::new(listener.clone()), driver.clone()).with_timeout(deadline)) {
                Ok((socket, _)) => accepted.push(socket),
                Err(e) if e.kind() == ErrorKind::TimedOut => timeouts += 1,
                Err(e) => panic!("after {}: {e:?}", accepted.len()),
            }
            assert!(started.elapsed() < Duration::from_secs(60), "stuck at {} accepted ({timeouts} timeouts)", accepted.len());
        }
        let clients = connector.join().unwrap();
        assert_eq!(clients.len(), accepted.len());
        common::settles_with_no_timer(&driver);
    }

    fn a_ready_op_times_out_then_sees_readiness(driver) {
        use proactor::op::{Interest, Ready};
        let (tx, rx) = common::udp_pair();
        let rx = Arc::new(rx);
        let r = driver.block_on(Op::with_driver(Ready::new(rx.clone(), Interest::Readable), driver.clone()).with_timeout(Duration::from_millis(10)));
        assert!(is_timed_out(&r), "{r:?}");
        tx.send(b"x").unwrap();
        let r = driver.block_on(Op::with_driver(Ready::new(rx.clone(), Interest::Readable), driver.clone()).with_timeout(GENEROUS));
        assert!(r.is_ok(), "{r:?}");
        common::settles_with_no_timer(&driver);
    }

    fn huge_but_representable_deadlines_are_no_error(driver) {
        let (_tx, rx) = common::udp_pair();
        let rx = Arc::new(rx);
        for timeout in [
            Duration::from_secs(1 << 40),
            Duration::from_secs(1 << 62),
            Duration::new((1u64 << 63) - 1, 999_999_999),
            Duration::new(u64::MAX, 999_999_999),
        ] {
            let mut op = Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(2)), driver.clone()).with_timeout(timeout);
            match poll_once(&driver, &mut op) {
                std::task::Poll::Pending => {}
                std::task::Poll::Ready((r, _)) => panic!("{timeout:?}: {r:?}"),
            }
            // Give the kernel time to reject the pair, if it does.
            std::thread::sleep(Duration::from_millis(20));
            match poll_once(&driver, &mut op) {
                std::task::Poll::Pending => {}
                std::task::Poll::Ready((r, _)) => panic!("{timeout:?}: {r:?}"),
            }
            drop(op);
            let t = driver.block_on(Op::with_driver(Timeout::new(Duration::from_millis(1)), driver.clone()).with_timeout(timeout));
            assert!(t.is_ok(), "{timeout:?}: {t:?}");
        }
        common::settles_with_no_timer(&driver);
    }
}

#[test]
fn both_backends_agree_on_a_zero_timer_with_a_zero_deadline() {
    // Serial: the heap test counts every allocation of this binary.
    let _serial = common::serial();
    let mut outcomes = Vec::new();
    for backend in common::backends() {
        let driver = common::driver(backend);
        let mut ok = 0;
        let mut timed_out = 0;
        for _ in 0..200 {
            match driver.block_on(
                Op::with_driver(Timeout::new(Duration::ZERO), driver.clone())
                    .with_timeout(Duration::ZERO),
            ) {
                Ok(()) => ok += 1,
                Err(e) if e.kind() == ErrorKind::TimedOut => timed_out += 1,
                Err(e) => panic!("{backend:?}: {e:?}"),
            }
        }
        common::settles_with_no_timer(&driver);
        outcomes.push((backend, ok, timed_out));
    }
    assert!(outcomes.iter().all(|&(_, ok, _)| ok == 200), "{outcomes:?}");
}

both_backends! {
    fn threads_sharing_a_tiny_ring_lose_no_datagram(driver) {
        let driver = common::small_driver(driver.backend(), 2);
        const THREADS: usize = 4;
        const ROUNDS: usize = 400;
        let pairs: Arc<Vec<_>> = Arc::new((0..THREADS).map(|_| common::udp_pair()).collect());
        let d = driver.clone();
        let p = pairs.clone();
        let (received, sent) = finishes_within(Duration::from_secs(60), "threads on a tiny ring", move || {
            let stop = Arc::new(AtomicBool::new(false));
            let sender = {
                let p = p.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut sent = 0usize;
                    while !stop.load(Ordering::SeqCst) {
                        p[sent % THREADS].0.send(&[1]).unwrap();
                        sent += 1;
                        std::thread::sleep(Duration::from_micros(30));
                    }
                    sent
                })
            };
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let d = d.clone();
                    let rx = Arc::new(p[t].1.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let mut got = 0usize;
                        for i in 0..ROUNDS {
                            let deadline = Duration::from_micros((i % 6) as u64 * 40);
                            let timed = Op::with_driver(Recv::new(rx.clone(), Vec::with_capacity(4)), d.clone()).with_timeout(deadline);
                            let nop = Op::with_driver(Nop::new(), d.clone());
                            let ((r, b), n) = d.block_on(async { futures::join!(timed, nop) });
                            n.unwrap();
                            match r {
                                Ok(n) => {
                                    assert_eq!(b.len(), n);
                                    got += n;
                                }
                                Err(e) if e.kind() == ErrorKind::TimedOut => assert!(b.is_empty() && b.capacity() == 4),
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                        got
                    })
                })
                .collect();
            let received: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
            stop.store(true, Ordering::SeqCst);
            (received, sender.join().unwrap())
        });
        // What was not received is still queued, datagram by datagram.
        std::thread::sleep(Duration::from_millis(20));
        let mut left = 0;
        for (_, rx) in pairs.iter() {
            let mut one = [0u8; 4];
            while let Ok(n) = rx.recv(&mut one) {
                left += n;
            }
        }
        assert_eq!(received + left, sent, "datagrams lost (received {received}, left {left})");
        common::settles_with_no_timer(&driver);
    }
}
