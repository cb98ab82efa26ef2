//! The driver under hostile user code: wakers that panic, re-enter, block or
//! drop drivers; pool jobs that panic; drivers dropped in thread-local
//! destructors and inside wakers; futures forgotten with `mem::forget`.
//! Afterwards the driver must still serve new operations, and hold exactly
//! the operations it should.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use common::{finishes_within, poll_with, FnWaker};
use proactor::op::{Blocking, Nop, Op, Timeout};
use proactor::{Backend, Driver};

const HANG: Duration = Duration::from_secs(20);

fn timer(driver: &Driver, after: Duration) -> Op<Timeout> {
    Op::with_driver(Timeout::new(after), driver.clone())
}

fn flag_waker(flag: &Arc<AtomicBool>) -> Waker {
    let flag = flag.clone();
    FnWaker::waker(move || flag.store(true, SeqCst), || {})
}

fn noop_waker() -> Waker {
    FnWaker::waker(|| {}, || {})
}

/// The driver still runs a new operation to completion on this thread.
fn still_serves(driver: &Driver) {
    driver
        .block_on(timer(driver, Duration::from_millis(1)))
        .unwrap();
    driver
        .block_on(Op::with_driver(Nop::new(), driver.clone()))
        .unwrap();
}

/// Parks on `driver` until `done()`, counting the panics parks resume.
fn park_until_counting_panics(driver: &Driver, done: impl Fn() -> bool) -> usize {
    let deadline = Instant::now() + HANG;
    let mut panics = 0;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "parked for {HANG:?} and still not done"
        );
        match catch_unwind(AssertUnwindSafe(|| {
            driver.park(Some(Duration::from_millis(20)))
        })) {
            Ok(parked) => parked.unwrap(),
            Err(_) => panics += 1,
        }
    }
    panics
}

/// Five timers that end together, one of them woken through a panicking
/// waker: every other waker is still woken, the panic reaches the parking
/// thread exactly once, every timer's result is delivered, and the driver
/// goes on.
fn panicking_waker_at(driver: Driver, panicking: usize) {
    const TIMERS: usize = 5;
    let woken: Vec<Arc<AtomicBool>> = (0..TIMERS)
        .map(|_| Arc::new(AtomicBool::new(false)))
        .collect();
    let mut timers: Vec<Op<Timeout>> = (0..TIMERS)
        .map(|_| timer(&driver, Duration::from_millis(30)))
        .collect();
    for (i, op) in timers.iter_mut().enumerate() {
        let waker = if i == panicking {
            FnWaker::waker(|| panic!("hostile waker"), || {})
        } else {
            flag_waker(&woken[i])
        };
        assert!(poll_with(op, &waker).is_pending());
    }
    let others_woken = || {
        woken
            .iter()
            .enumerate()
            .all(|(i, w)| i == panicking || w.load(SeqCst))
    };
    let mut panics = park_until_counting_panics(&driver, others_woken);
    // The panicking waker may be woken in a park of its own after the rest.
    let deadline = Instant::now() + HANG;
    while panics == 0 {
        assert!(
            Instant::now() < deadline,
            "the panicking waker was never woken"
        );
        if catch_unwind(AssertUnwindSafe(|| {
            driver.park(Some(Duration::from_millis(20)))
        }))
        .is_err()
        {
            panics += 1;
        }
    }
    assert_eq!(panics, 1, "the waker's panic is resumed exactly once");
    for op in timers {
        driver.block_on(op).unwrap();
    }
    assert_eq!(driver.in_flight(), 0);
    still_serves(&driver);
}

both_backends! {
    fn panicking_waker_first_of_a_batch_wakes_the_rest(driver) {
        panicking_waker_at(driver, 0);
    }

    fn panicking_waker_middle_of_a_batch_wakes_the_rest(driver) {
        panicking_waker_at(driver, 2);
    }

    fn panicking_waker_last_of_a_batch_wakes_the_rest(driver) {
        panicking_waker_at(driver, 4);
    }

    fn panicking_waker_does_not_wedge_another_threads_park(driver) {
        let mut op = timer(&driver, Duration::from_millis(5));
        let waker = FnWaker::waker(|| panic!("hostile waker"), || {});
        assert!(poll_with(&mut op, &waker).is_pending());
        drop(waker);
        let deadline = Instant::now() + HANG;
        while catch_unwind(AssertUnwindSafe(|| driver.park(Some(Duration::from_millis(20))))).is_ok() {
            assert!(Instant::now() < deadline, "the panicking waker was never woken");
        }
        // Another thread now parks on the same driver with a short timer:
        // a turn left held by the panic would keep it waiting for ever.
        let other = driver.clone();
        finishes_within(HANG, "a timer on another thread after a waker panicked", move || {
            other
                .block_on(proactor::time::timeout(Duration::from_millis(100), std::future::pending::<()>()))
                .expect_err("the pending future never finishes: the timeout ends it");
        });
        driver.block_on(op).unwrap();
        still_serves(&driver);
    }

    fn waker_running_block_on_on_the_same_driver(driver) {
        let nested = Arc::new(AtomicBool::new(false));
        let waker = {
            let (driver, nested) = (driver.clone(), nested.clone());
            FnWaker::waker(
                move || {
                    driver.block_on(timer(&driver, Duration::from_millis(1))).unwrap();
                    nested.store(true, SeqCst);
                },
                || {},
            )
        };
        let mut op = timer(&driver, Duration::from_millis(5));
        assert!(poll_with(&mut op, &waker).is_pending());
        let parked = driver.clone();
        let done = nested.clone();
        finishes_within(HANG, "a waker running a nested block_on", move || {
            assert_eq!(park_until_counting_panics(&parked, || done.load(SeqCst)), 0);
        });
        driver.block_on(op).unwrap();
        still_serves(&driver);
    }

    fn waker_blocking_on_another_thread_parked_on_the_driver(driver) {
        // A helper thread runs a timer on the same driver for each request.
        let (ask, asked) = mpsc::channel::<()>();
        let (reply, replied) = mpsc::channel::<()>();
        let helper = {
            let driver = driver.clone();
            std::thread::spawn(move || {
                while asked.recv().is_ok() {
                    driver.block_on(timer(&driver, Duration::from_millis(1))).unwrap();
                    let _ = reply.send(());
                }
            })
        };
        let answered = Arc::new(AtomicBool::new(false));
        let waker = {
            let answered = answered.clone();
            let exchange = Mutex::new((ask, replied));
            FnWaker::waker(
                move || {
                    let exchange = exchange.lock().unwrap();
                    exchange.0.send(()).unwrap();
                    if exchange.1.recv_timeout(HANG).is_ok() {
                        answered.store(true, SeqCst);
                    }
                },
                || {},
            )
        };
        let mut op = timer(&driver, Duration::from_millis(5));
        assert!(poll_with(&mut op, &waker).is_pending());
        drop(waker);
        let parked = driver.clone();
        let done = answered.clone();
        finishes_within(HANG + HANG, "a waker waiting for another thread's park", move || {
            park_until_counting_panics(&parked, || done.load(SeqCst));
        });
        assert!(answered.load(SeqCst), "the helper thread's timer never ran");
        driver.block_on(op).unwrap();
        // Dropping the op let go of the waker, which closes the channel.
        helper.join().unwrap();
        still_serves(&driver);
    }

    fn waker_dropped_by_a_repoll_reenters_the_driver(driver) {
        let dropped = Arc::new(AtomicBool::new(false));
        let reentrant = {
            let (driver, dropped) = (driver.clone(), dropped.clone());
            FnWaker::waker(|| {}, move || {
                // Locks the op table: deadlocks if dropped under that lock.
                let _ = driver.in_flight();
                dropped.store(true, SeqCst);
            })
        };
        let d = driver.clone();
        finishes_within(HANG, "a waker whose drop re-enters, replaced by a new poll", move || {
            let mut op = timer(&d, Duration::from_secs(60));
            assert!(poll_with(&mut op, &reentrant).is_pending());
            drop(reentrant);
            assert!(poll_with(&mut op, &noop_waker()).is_pending());
            drop(op);
        });
        assert!(dropped.load(SeqCst));
        common::park_until(&driver, HANG, || driver.in_flight() == 0);
        still_serves(&driver);
    }

    fn waker_dropped_by_a_cancel_reenters_the_driver(driver) {
        let dropped = Arc::new(AtomicBool::new(false));
        let reentrant = {
            let (driver, dropped) = (driver.clone(), dropped.clone());
            FnWaker::waker(|| {}, move || {
                let _ = driver.in_flight();
                // Submitting from a waker's drop: the driver's locks must
                // all be free.
                let mut nop = Op::with_driver(Nop::new(), driver.clone());
                let _ = poll_with(&mut nop, &FnWaker::waker(|| {}, || {}));
                dropped.store(true, SeqCst);
            })
        };
        let d = driver.clone();
        finishes_within(HANG, "a waker whose drop re-enters, released by a cancel", move || {
            let mut op = timer(&d, Duration::from_secs(60));
            assert!(poll_with(&mut op, &reentrant).is_pending());
            drop(reentrant);
            drop(op);
        });
        assert!(dropped.load(SeqCst));
        assert!(common::park_until(&driver, HANG, || driver.in_flight() == 0));
        still_serves(&driver);
    }

    fn waker_that_submits_and_cancels_from_wake(driver) {
        let reentered = Arc::new(AtomicUsize::new(0));
        let waker = {
            let (driver, reentered) = (driver.clone(), reentered.clone());
            FnWaker::waker(
                move || {
                    let mut fresh = timer(&driver, Duration::from_secs(60));
                    assert!(poll_with(&mut fresh, &FnWaker::waker(|| {}, || {})).is_pending());
                    drop(fresh);
                    let _ = driver.in_flight();
                    reentered.fetch_add(1, SeqCst);
                },
                || {},
            )
        };
        let mut op = timer(&driver, Duration::from_millis(5));
        assert!(poll_with(&mut op, &waker).is_pending());
        drop(waker);
        let parked = driver.clone();
        let count = reentered.clone();
        finishes_within(HANG, "a waker that submits and cancels", move || {
            park_until_counting_panics(&parked, || count.load(SeqCst) > 0);
        });
        driver.block_on(op).unwrap();
        assert!(common::park_until(&driver, HANG, || driver.in_flight() == 0));
        still_serves(&driver);
    }

    fn panicking_blocking_jobs_reach_their_futures_and_the_pool_goes_on(driver) {
        // Two pool threads, five panicking jobs: a pool whose threads died
        // with their jobs would run nothing after the second.
        let driver = Driver::builder()
            .force(driver.backend())
            .blocking_threads(2)
            .build()
            .unwrap();
        for round in 0..5 {
            let job = Op::with_driver(
                Blocking::new(move || -> usize { panic!("hostile job {round}") }),
                driver.clone(),
            );
            let d = driver.clone();
            let outcome = finishes_within(HANG, "a panicking blocking job", move || {
                catch_unwind(AssertUnwindSafe(|| d.block_on(job)))
            });
            let payload = outcome.expect_err("the job's panic is resumed in its future");
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert_eq!(message, format!("hostile job {round}"));
        }
        let job = Op::with_driver(Blocking::new(|| 7), driver.clone());
        let d = driver.clone();
        assert_eq!(finishes_within(HANG, "a job after the panics", move || d.block_on(job).unwrap()), 7);
        // A panicking job whose future is gone: cleaned up, nothing held.
        let mut orphan = Op::with_driver(Blocking::new(|| -> () { panic!("orphaned hostile job") }), driver.clone());
        assert!(poll_with(&mut orphan, &noop_waker()).is_pending());
        drop(orphan);
        assert!(common::park_until(&driver, HANG, || driver.in_flight() == 0));
        still_serves(&driver);
        // Teardown does not wait out its bound for a job that never reports.
        finishes_within(Duration::from_secs(5), "dropping the driver after panicking jobs", move || drop(driver));
    }

    fn driver_dropped_inside_a_waker(driver) {
        // Another driver, with a cancelled operation still in its kernel,
        // whose last handle a waker of this driver drops.
        let other = common::driver(driver.backend());
        let mut pending = timer(&other, Duration::from_secs(60));
        assert!(poll_with(&mut pending, &noop_waker()).is_pending());
        drop(pending);
        let held = Arc::new(Mutex::new(Some(other)));
        let dropped = Arc::new(AtomicBool::new(false));
        let waker = {
            let (held, dropped) = (held.clone(), dropped.clone());
            FnWaker::waker(
                move || {
                    drop(held.lock().unwrap().take());
                    dropped.store(true, SeqCst);
                },
                || {},
            )
        };
        let mut op = timer(&driver, Duration::from_millis(5));
        assert!(poll_with(&mut op, &waker).is_pending());
        drop(waker);
        let parked = driver.clone();
        let done = dropped.clone();
        finishes_within(HANG, "a waker that drops a driver", move || {
            assert_eq!(park_until_counting_panics(&parked, || done.load(SeqCst)), 0);
        });
        driver.block_on(op).unwrap();
        still_serves(&driver);
    }

    fn forgotten_future_keeps_its_buffer_alive(driver) {
        driver.block_on(async {
            let (a, b) = common::tcp_pair().await;
            let mut read = Box::pin(a.read(Vec::with_capacity(64)));
            assert!(poll_with(&mut read, &noop_waker()).is_pending());
            // The kernel (or the readiness retry) will still write into the
            // buffer: it must belong to the driver now, not to the forgotten
            // future. ASan and Miri-style checks run this test too.
            std::mem::forget(read);
            let (written, _) = b.write_all(b"into a forgotten buffer").await;
            written.unwrap();
        });
        // The forgotten read's slot holds its result for ever: exactly one.
        assert!(common::park_until(&driver, HANG, || driver.in_flight() == 1));
        still_serves(&driver);
        assert_eq!(driver.in_flight(), 1);
    }
}

/// A thread-local holding a driver and an operation in flight, dropped
/// before or after the driver's own thread-locals: the teardown must not
/// touch a destroyed thread-local (that panics inside a TLS destructor,
/// which aborts the process). Run in a child process so an abort is a
/// failed test, not a dead test binary.
#[test]
fn driver_dropped_in_a_thread_local_destructor() {
    for backend in common::backends() {
        let (ok, output) = common::run_child(
            "tls_teardown_child",
            &[("PROACTOR_TLS_CHILD", common::env_name(backend))],
        );
        assert!(ok, "{backend}: the child aborted or failed:\n{output}");
        assert!(output.contains("tls teardown done"), "{backend}:\n{output}");
    }
}

/// The child half of [`driver_dropped_in_a_thread_local_destructor`]; does
/// nothing unless `PROACTOR_TLS_CHILD` names a back end.
#[test]
fn tls_teardown_child() {
    let Ok(name) = std::env::var("PROACTOR_TLS_CHILD") else {
        return;
    };
    let backend: Backend = common::backend_named(&name);
    type Held = std::cell::RefCell<Option<(Driver, Op<Timeout>)>>;
    thread_local! {
        static FIRST: Held = const { std::cell::RefCell::new(None) };
        static LAST: Held = const { std::cell::RefCell::new(None) };
    }
    fn hold(slot: &'static std::thread::LocalKey<Held>, driver: &Driver) {
        let mut op = timer(driver, Duration::from_secs(60));
        assert!(poll_with(&mut op, &noop_waker()).is_pending());
        slot.with(|held| *held.borrow_mut() = Some((driver.clone(), op)));
    }
    std::thread::spawn(move || {
        let first = common::driver(backend);
        hold(&FIRST, &first);
        // The driver's own thread-locals come to life here, between the
        // two: one of the held drivers is dropped after they are gone,
        // whichever order this platform destroys thread-locals in.
        first
            .block_on(timer(&first, Duration::from_millis(1)))
            .unwrap();
        let last = common::driver(backend);
        last.block_on(timer(&last, Duration::from_millis(1)))
            .unwrap();
        hold(&LAST, &last);
        // Also entered: the current-driver slot is set while it dies.
        std::mem::forget(last.enter());
    })
    .join()
    .unwrap();
    println!("tls teardown done");
}
