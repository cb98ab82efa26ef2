//! Hostile use of the async-io host. Each test runs in a child process
//! per back end (the process-wide driver is one per process).
#![cfg(all(feature = "async-io", target_os = "linux"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::finishes_within;
use proactor::op::{Blocking, Op, Timeout};
use proactor::Driver;

const HANG: Duration = Duration::from_secs(30);
const CHILD: &str = "PROACTOR_HOSTILE_ASYNC_IO_CHILD";

fn on_each_backend(child: &str) {
    common::run_child_on_each_backend(child, CHILD, Some(Duration::from_secs(60)));
}

fn in_child() -> bool {
    common::in_backend_child(CHILD)
}

#[test]
fn latency_while_a_block_on_thread_does_blocking_work() {
    on_each_backend("child_latency");
}

#[test]
fn child_latency() {
    if !in_child() {
        return;
    }
    // A thread in async_io::block_on that blocks inside its future.
    let busy = std::thread::spawn(|| {
        async_io::block_on(async {
            for _ in 0..40 {
                std::thread::sleep(Duration::from_millis(50));
                futures::future::ready(()).await;
                async_io::Timer::after(Duration::ZERO).await;
            }
        })
    });
    std::thread::sleep(Duration::from_millis(20));
    let mut worst = Duration::ZERO;
    for _ in 0..30 {
        let started = Instant::now();
        futures::executor::block_on(Op::new(Timeout::new(Duration::from_millis(5))).unwrap())
            .unwrap();
        worst = worst.max(started.elapsed());
    }
    busy.join().unwrap();
    assert!(
        worst < Duration::from_millis(200),
        "worst 5 ms timer took {worst:?}"
    );
    println!("worst {worst:?}");
    println!("child passed");
}

#[test]
fn many_threads_hammering_the_reactor_hosted_driver() {
    on_each_backend("child_hammer");
}

#[test]
fn child_hammer() {
    if !in_child() {
        return;
    }
    let done = Arc::new(AtomicUsize::new(0));
    finishes_within(HANG, "hammer", {
        let done = done.clone();
        move || {
            let threads: Vec<_> = (0..6)
                .map(|t| {
                    let done = done.clone();
                    std::thread::spawn(move || {
                        let run = async {
                            let (a, b) = common::tcp_pair().await;
                            for i in 0..300u32 {
                                let (w, _) = a.write_all(i.to_ne_bytes().to_vec()).await;
                                w.unwrap();
                                let (r, buf) = b.read_exact(vec![0u8; 4]).await;
                                r.unwrap();
                                assert_eq!(buf, i.to_ne_bytes());
                                let job = Op::new(Blocking::new(move || i)).unwrap();
                                assert_eq!(job.await.unwrap(), i);
                                if i % 50 == 0 {
                                    Op::new(Timeout::new(Duration::from_millis(1)))
                                        .unwrap()
                                        .await
                                        .unwrap();
                                }
                                done.fetch_add(1, SeqCst);
                            }
                        };
                        if t % 2 == 0 {
                            async_io::block_on(run)
                        } else {
                            futures::executor::block_on(run)
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
    });
    assert_eq!(done.load(SeqCst), 1800);
    println!("child passed");
}

#[test]
fn process_exits_with_operations_in_flight() {
    on_each_backend("child_exit_in_flight");
}

#[test]
fn child_exit_in_flight() {
    if !in_child() {
        return;
    }
    let (a, b) = futures::executor::block_on(common::tcp_pair());
    let b = Arc::new(b);
    for _ in 0..4 {
        let b = b.clone();
        std::thread::spawn(move || {
            let _ = futures::executor::block_on(b.read(Vec::with_capacity(8)));
        });
    }
    std::thread::spawn(|| {
        let _ =
            futures::executor::block_on(Op::new(Timeout::new(Duration::from_secs(3600))).unwrap());
    });
    std::thread::sleep(Duration::from_millis(50));
    std::mem::forget(a);
    println!("child passed");
}

#[test]
fn a_waker_that_drops_an_operation() {
    on_each_backend("child_waker_drops");
}

#[test]
fn child_waker_drops() {
    if !in_child() {
        return;
    }
    // A waker (run by the reactor-hosted dispatch) that drops other
    // in-flight operations and starts new ones.
    let held: Arc<std::sync::Mutex<Vec<Op<Timeout>>>> = Default::default();
    let fired = Arc::new(AtomicUsize::new(0));
    for _ in 0..50 {
        held.lock()
            .unwrap()
            .push(Op::new(Timeout::new(Duration::from_secs(3600))).unwrap());
    }
    let mut ops = Vec::new();
    for _ in 0..50 {
        let mut op = Op::new(Timeout::new(Duration::from_millis(5))).unwrap();
        let (held, fired) = (held.clone(), fired.clone());
        let waker = common::FnWaker::waker(
            move || {
                drop(held.lock().unwrap().pop());
                let mut again = Op::new(Timeout::new(Duration::from_millis(1))).unwrap();
                let w = common::FnWaker::waker(|| {}, || {});
                let _ = common::poll_with(&mut again, &w);
                drop(again);
                fired.fetch_add(1, SeqCst);
            },
            || {},
        );
        assert!(common::poll_with(&mut op, &waker).is_pending());
        ops.push((op, waker));
    }
    let deadline = Instant::now() + HANG;
    while fired.load(SeqCst) < 50 {
        assert!(
            Instant::now() < deadline,
            "only {} woken",
            fired.load(SeqCst)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(ops);
    let d = Driver::current();
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.in_flight() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} still in flight",
            d.in_flight()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // And it still works.
    futures::executor::block_on(Op::new(Timeout::new(Duration::from_millis(1))).unwrap()).unwrap();
    println!("child passed");
}
