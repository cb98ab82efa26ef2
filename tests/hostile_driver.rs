//! The driver against hostile user code: pool jobs that drop their own
//! driver, wakers that panic in `drop` or look at the driver in `clone`,
//! nested executors, guards dropped out of order. Reads that wait for ever
//! wait on a loopback TCP connection, which every OS's event loop can wait
//! on; counts of fds are counts of handles on Windows.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use common::{finishes_within, poll_with, FnWaker};
use proactor::op::{Blocking, Op, Timeout};
use proactor::Driver;

const HANG: Duration = Duration::from_secs(20);

fn timer(driver: &Driver, after: Duration) -> Op<Timeout> {
    Op::with_driver(Timeout::new(after), driver.clone())
}

fn noop_waker() -> Waker {
    FnWaker::waker(|| {}, || {})
}

both_backends! {
    /// A `Blocking` job owns the last handle of its driver (its future was
    /// dropped, every other handle too) and drops it while it runs on the
    /// pool. Invariant 10: "a driver dropped anywhere tears down". The
    /// teardown waits for the very job that runs it: the pool thread is
    /// stuck for the 10 s teardown bound, then the op table is leaked.
    fn driver_dropped_inside_its_own_blocking_job_is_quick(driver) {
        let took = Arc::new(Mutex::new(None::<Duration>));
        let started = Arc::new(AtomicBool::new(false));
        let inner = driver.clone();
        let (t, s) = (took.clone(), started.clone());
        let mut job = Op::with_driver(
            Blocking::new(move || {
                s.store(true, SeqCst);
                std::thread::sleep(Duration::from_millis(100));
                let begin = Instant::now();
                drop(inner);
                *t.lock().unwrap() = Some(begin.elapsed());
            }),
            driver.clone(),
        );
        assert!(poll_with(&mut job, &noop_waker()).is_pending());
        while !started.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(job);
        drop(driver);
        let deadline = Instant::now() + Duration::from_secs(15);
        while took.lock().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let took = took.lock().unwrap().expect("never returned");
        assert!(
            took < Duration::from_secs(2),
            "dropping the last driver handle inside its own Blocking job took {took:?}"
        );
    }

    /// A waker whose `drop` panics, displaced by a re-poll with another
    /// waker. The panic leaves `Op` in its `Finished` state with the slot
    /// still in the table: dropping the op no longer cancels it, and its
    /// slot (and buffers) stay in the driver for ever.
    fn panicking_waker_drop_on_repoll_leaks_the_slot(driver) {
        let mut op = timer(&driver, Duration::from_millis(50));
        let hostile = FnWaker::waker(|| {}, || panic!("hostile waker drop"));
        assert!(poll_with(&mut op, &hostile).is_pending());
        drop(hostile); // the driver holds the last clone
        let repolled = catch_unwind(AssertUnwindSafe(|| poll_with(&mut op, &noop_waker())));
        assert!(repolled.is_err(), "the waker's drop panic surfaces from poll");
        drop(op);
        let d = driver.clone();
        let settled = common::park_until(&d, Duration::from_secs(2), || d.in_flight() == 0);
        assert!(settled, "in_flight stuck at {} after the op was dropped", driver.in_flight());
    }

    /// Same, then the driver is dropped: teardown must not wait out its
    /// 10 s bound for a slot nobody will ever take.
    fn panicking_waker_drop_then_driver_drop_is_quick(driver) {
        let mut op = timer(&driver, Duration::from_millis(10));
        let hostile = FnWaker::waker(|| {}, || panic!("hostile waker drop"));
        assert!(poll_with(&mut op, &hostile).is_pending());
        drop(hostile);
        let _ = catch_unwind(AssertUnwindSafe(|| poll_with(&mut op, &noop_waker())));
        drop(op);
        std::thread::sleep(Duration::from_millis(50));
        let _ = driver.park(Some(Duration::from_millis(20)));
        let begin = Instant::now();
        finishes_within(HANG, "driver drop", move || drop(driver));
        let took = begin.elapsed();
        assert!(took < Duration::from_secs(2), "driver drop took {took:?}");
    }

    /// A waker whose `drop` panics, released by cancelling (dropping) its
    /// op. The panic must not stop the cancellation: the operation (a read
    /// that would wait for ever) must leave the kernel and the table.
    fn panicking_waker_drop_on_cancel_still_cancels(driver) {
        let (_tx, rx) = common::std_tcp_pair();
        let mut op = Op::with_driver(proactor::op::Recv::new(rx, Vec::with_capacity(16)), driver.clone());
        let hostile = FnWaker::waker(|| {}, || panic!("hostile waker drop"));
        assert!(poll_with(&mut op, &hostile).is_pending());
        drop(hostile);
        // Flush what this thread batched, so the read is in the kernel.
        let _ = driver.park(Some(Duration::ZERO));
        let dropped = catch_unwind(AssertUnwindSafe(|| drop(op)));
        assert!(dropped.is_err(), "the waker's drop panic surfaces from Op::drop");
        let d = driver.clone();
        let settled = common::park_until(&d, Duration::from_secs(2), || d.in_flight() == 0);
        assert!(settled, "cancelled read still held: in_flight = {}", driver.in_flight());
    }

    /// A sync helper that runs `futures::executor::block_on` on a proactor
    /// future, called from inside `Driver::block_on`, while another thread
    /// drives the same driver. The design says proactor futures work under
    /// `futures::executor`. With io_uring the inner op is batched for the
    /// outer `block_on`'s next park, which never comes: a hang. (Readiness
    /// back end: fine.)
    fn nested_futures_executor_inside_block_on(driver) {
        let stop = Arc::new(AtomicBool::new(false));
        let parker = {
            let (d, stop) = (driver.clone(), stop.clone());
            std::thread::spawn(move || {
                // Parks without a timeout, as a driver thread does.
                while !stop.load(SeqCst) {
                    d.park(None).unwrap();
                }
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        let d = driver.clone();
        let result = finishes_within(Duration::from_secs(5), "nested futures::executor::block_on", move || {
            d.block_on(async {
                futures::executor::block_on(Op::with_driver(Timeout::new(Duration::from_millis(10)), d.clone()))
            })
        });
        stop.store(true, SeqCst);
        driver.unpark();
        parker.join().unwrap();
        result.unwrap();
    }

    /// Guards of `Driver::enter` dropped out of order leave a driver
    /// current on this thread that nobody entered any more, holding it
    /// alive (tokio panics on this misuse).
    fn enter_guards_dropped_out_of_order(driver) {
        let other = common::driver(driver.backend());
        let before = common::open_handles();
        {
            let g1 = other.enter();
            let g2 = driver.enter();
            drop(g1);
            drop(g2);
        }
        drop(other);
        let after = common::open_handles_settle(before);
        // What is current now? Nothing was entered any more.
        let current = Driver::try_current().unwrap();
        let _ = current;
        assert!(
            after < before,
            "the other driver (entered then released) still holds its fds or handles: {before} -> {after}"
        );
    }
}

/// The process-wide driver, whose own thread parks on it: a sync helper
/// that uses `futures::executor::block_on` inside `proactor::block_on`.
#[test]
fn nested_futures_executor_on_the_global_driver() {
    let _serial = common::serial();
    for backend in common::backends() {
        let (ok, output) = common::run_child(
            "nested_global_child",
            &[("PROACTOR_REDTEAM_CHILD", common::env_name(backend))],
        );
        assert!(
            ok,
            "{backend}: nested executor on the global driver:\n{output}"
        );
    }
}

#[test]
fn nested_global_child() {
    let Ok(name) = std::env::var("PROACTOR_REDTEAM_CHILD") else {
        return;
    };
    std::env::set_var("PROACTOR_BACKEND", &name);
    // Start the process-wide driver and let its thread go to sleep in the
    // kernel, as it is in any program that used it a moment ago.
    proactor::block_on(async {});
    std::thread::sleep(Duration::from_millis(200));
    let result = finishes_within(
        Duration::from_secs(5),
        "nested executor on the global driver",
        || {
            proactor::block_on(async {
                futures::executor::block_on(proactor::time::sleep(Duration::from_millis(10)))
            })
        },
    );
    result.unwrap();
}

/// A waker whose `clone` (user code, like `wake` and `drop`) asks the
/// driver something. The driver clones the waker while it holds its op
/// table's lock: the clone deadlocks on that lock.
fn reentrant_clone_waker(driver: Driver) -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop_it);
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a leaked Box<Driver> (see below), never freed.
        let driver = unsafe { &*(data as *const Driver) };
        let _ = driver.in_flight(); // user code that looks at the driver
        RawWaker::new(data, &VTABLE)
    }
    unsafe fn wake(_: *const ()) {}
    unsafe fn drop_it(_: *const ()) {}
    let data = Box::into_raw(Box::new(driver)) as *const ();
    // SAFETY: the vtable functions uphold the RawWaker contract (the data
    // is leaked, so every clone stays valid).
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

both_backends! {
    fn waker_clone_that_looks_at_the_driver(driver) {
        let d = driver.clone();
        finishes_within(Duration::from_secs(5), "submit with a re-entrant waker clone", move || {
            let waker = reentrant_clone_waker(d.clone());
            let mut op = timer(&d, Duration::from_millis(10));
            let _ = poll_with(&mut op, &waker);
            d.block_on(op).unwrap();
        });
    }
}
