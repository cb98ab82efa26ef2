//! Bad builder input, reference cycles through the pool, tiny rings with
//! cancellations, huge timers, drivers reused after a panic.
// Pipes, RLIMIT_NOFILE and the io_uring probe: Linux.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{finishes_within, poll_with, FnWaker};
use proactor::op::{Op, Read, Timeout};
use proactor::Driver;

/// Invariant 8: bad input is an `io::Error`, never an abort. A huge
/// `entries` on the readiness back end sizes the event buffer from it.
#[test]
fn huge_entries_is_an_error_not_an_abort() {
    let _serial = common::serial();
    for backend in common::backends() {
        let (ok, output) = common::run_child(
            "huge_entries_child",
            &[("PROACTOR_REDTEAM_CHILD", common::env_name(backend))],
        );
        assert!(
            ok,
            "{backend}: Builder::entries(u32::MAX) killed the process:\n{output}"
        );
    }
}

#[test]
fn huge_entries_child() {
    let Ok(name) = std::env::var("PROACTOR_REDTEAM_CHILD") else {
        return;
    };
    let backend = common::backend_named(&name);
    match Driver::builder().force(backend).entries(u32::MAX).build() {
        Ok(driver) => {
            driver
                .block_on(Op::with_driver(
                    Timeout::new(Duration::from_millis(1)),
                    driver.clone(),
                ))
                .unwrap();
            println!("built and ran");
        }
        Err(e) => println!("clear error: {e}"),
    }
}

both_backends! {
    /// A 2-entry ring, 4000 reads on pipes, half of them dropped while in
    /// flight, then every pipe written: every kept read gets its byte and
    /// nothing is left in the driver.
    fn tiny_ring_thousands_of_reads_half_cancelled(driver) {
        let small = common::small_driver(driver.backend(), 2);
        drop(driver);
        const N: usize = 2000;
        let pipes: Vec<_> = (0..N).map(|_| common::pipe()).collect();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let waker = FnWaker::waker(move || { w.fetch_add(1, SeqCst); }, || {});
        let mut ops = Vec::new();
        for (rx, _) in &pipes {
            let rx = rx.try_clone().unwrap();
            for _ in 0..2 {
                let mut op = Op::with_driver(Read::new(rx.try_clone().unwrap(), Vec::with_capacity(1)), small.clone());
                assert!(poll_with(&mut op, &waker).is_pending());
                ops.push(op);
            }
        }
        // Drop every second op (one of the two reads on each pipe).
        let mut kept = Vec::new();
        for (i, op) in ops.into_iter().enumerate() {
            if i % 2 == 0 {
                kept.push(op);
            }
        }
        for (_, tx) in &pipes {
            // SAFETY: one byte from a live buffer into our pipe.
            assert_eq!(unsafe { libc::write(std::os::fd::AsRawFd::as_raw_fd(tx), b"x".as_ptr().cast(), 1) }, 1);
        }
        let s = small.clone();
        let results = finishes_within(Duration::from_secs(30), "kept reads", move || {
            kept.into_iter().map(|op| s.block_on(op).0.unwrap()).collect::<Vec<_>>()
        });
        assert!(results.iter().all(|&n| n == 1), "every kept read got its byte");
        let s = small.clone();
        assert!(
            common::park_until(&s, Duration::from_secs(10), || s.in_flight() == 0),
            "in_flight stuck at {}",
            small.in_flight()
        );
    }

    /// Timers far in the future, but not so far that `Instant` overflows:
    /// a timeout around them must still fire on time.
    fn huge_but_representable_timers(driver) {
        for secs in [1u64 << 20, 1 << 31, 1 << 32, 1 << 40, 1 << 50, 1 << 61, (1 << 62) + 1, i64::MAX as u64] {
            let d = driver.clone();
            let begin = Instant::now();
            let out = finishes_within(Duration::from_secs(5), "timeout around a huge sleep", move || {
                d.block_on(proactor::time::timeout(
                    Duration::from_millis(50),
                    Op::with_driver(Timeout::new(Duration::from_secs(secs)), d.clone()),
                ))
            });
            match out {
                Err(_) => {}
                Ok(done) => panic!("a sleep of {secs} s ended at once: {done:?}"),
            }
            assert!(begin.elapsed() < Duration::from_secs(2), "{secs}: took {:?}", begin.elapsed());
        }
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
    }

    /// The `block_on` thread panics with operations in flight; the driver is
    /// then used from another thread and dropped: everything settles.
    fn driver_used_after_block_on_panicked(driver) {
        let d = driver.clone();
        let (rx, _tx) = common::pipe();
        let panicked = std::thread::spawn(move || {
            d.block_on(async {
                let read = Op::with_driver(Read::new(rx, Vec::with_capacity(8)), d.clone());
                let timer = Op::with_driver(Timeout::new(Duration::from_secs(60)), d.clone());
                let mut both = Box::pin(futures::future::join(read, timer));
                futures::future::poll_fn(|cx| {
                    let _ = std::future::Future::poll(both.as_mut(), cx);
                    std::task::Poll::Ready(())
                })
                .await;
                panic!("user code panics inside block_on");
            })
        })
        .join();
        assert!(panicked.is_err());
        let d = driver.clone();
        finishes_within(Duration::from_secs(5), "reuse after panic", move || {
            d.block_on(Op::with_driver(Timeout::new(Duration::from_millis(1)), d.clone())).unwrap();
        });
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
        let begin = Instant::now();
        drop(driver);
        assert!(begin.elapsed() < Duration::from_secs(2));
    }
}

/// Invariant 8: `fs::read` of a huge sparse file (1 TiB of holes) must be
/// an `io::Error` (std's `fs::read` gives `OutOfMemory`), not an abort:
/// it reserves the file's whole length up front.
#[test]
fn fs_read_of_a_huge_sparse_file() {
    let _serial = common::serial();
    for backend in common::backends() {
        let (ok, output) = common::run_child(
            "fs_read_huge_child",
            &[("PROACTOR_REDTEAM_CHILD", common::env_name(backend))],
        );
        assert!(
            ok,
            "{backend}: fs::read of a sparse 1 TiB file killed the process:\n{output}"
        );
    }
}

#[test]
fn fs_read_huge_child() {
    let Ok(name) = std::env::var("PROACTOR_REDTEAM_CHILD") else {
        return;
    };
    let driver = common::driver(common::backend_named(&name));
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().set_len(1 << 40).unwrap();
    let std_result = std::fs::read(file.path()).map(|v| v.len());
    println!("std::fs::read: {std_result:?}");
    let result = driver
        .block_on(proactor::fs::read(file.path()))
        .map(|v| v.len());
    println!("proactor::fs::read: {result:?}");
}

/// The probe must not cache a transient EMFILE: once fds are free again,
/// the automatic choice is io_uring. Also the process-wide driver.
#[cfg(feature = "uring")]
#[test]
fn probe_under_emfile_then_recovered() {
    let _serial = common::serial();
    let (ok, output) = common::run_child("probe_emfile_child", &[("PROACTOR_REDTEAM_CHILD", "1")]);
    assert!(ok, "{output}");
}

#[cfg(feature = "uring")]
#[test]
fn probe_emfile_child() {
    if std::env::var("PROACTOR_REDTEAM_CHILD").is_err() {
        return;
    }
    if let Some(why) = common::uring_unavailable() {
        if common::skip::skipped("io_uring", &why) {
            return;
        }
    }
    let old = common::nofile_limit();
    // A low limit, and every fd below it used up.
    common::set_nofile_limit(libc::rlimit {
        rlim_cur: 64,
        ..old
    });
    let hold = common::use_up_every_fd();
    let first = Driver::new();
    println!(
        "no fds: {:?}",
        first
            .as_ref()
            .map(|d| (d.backend(), d.fallback_reason().cloned()))
    );
    let current = Driver::try_current();
    println!(
        "no fds, try_current: {:?}",
        current.as_ref().map(|d| d.backend())
    );
    drop(hold);
    common::set_nofile_limit(old);
    let again = Driver::new().unwrap();
    println!(
        "fds back: {:?} {:?}",
        again.backend(),
        again.fallback_reason()
    );
    assert_eq!(
        again.backend(),
        proactor::Backend::IoUring,
        "the transient failure was cached"
    );
    let global = Driver::try_current().unwrap();
    assert_eq!(
        global.backend(),
        proactor::Backend::IoUring,
        "the global driver"
    );
    global
        .block_on(proactor::time::sleep(Duration::from_millis(1)))
        .unwrap();
}
