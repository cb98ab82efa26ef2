//! NOPs from several threads at once: each thread runs `block_on` with 32
//! NOPs in flight, all on one shared `Driver`, each on a `Driver` of its
//! own, or each on its own driver of one `PerThreadDriver` (built by the
//! thread on first use: threads are started anew for every iteration, so
//! that row also pays a driver's setup and teardown per thread per
//! iteration), with 1, 2 and 4 threads (on however many cores the machine
//! has).
//! Throughput counts every thread's NOPs, so a driver that scales shows
//! twice the one-thread rate with two threads on two cores.
//!
//! `cargo bench --features uring --bench nop_threads`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

#[path = "support/nop_loop.rs"]
mod nop_loop;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use proactor::{Backend, Driver, PerThreadDriver};

/// NOPs per thread per measured iteration: enough that starting the threads
/// is lost in the noise.
const OPS: usize = 32 * 1024;
const IN_FLIGHT: usize = 32;

/// Runs the NOP loop on every driver in `drivers`, one thread each, and
/// waits for all of them.
fn nops_on_threads(drivers: &[Driver]) {
    std::thread::scope(|scope| {
        for driver in drivers {
            scope.spawn(move || nop_loop::proactor_nops(driver, IN_FLIGHT, OPS));
        }
    });
}

/// Runs the NOP loop on `threads` threads, each on its own driver of
/// `drivers`, and waits for all of them.
fn nops_on_own_drivers(drivers: &PerThreadDriver, threads: usize) {
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let driver = drivers.driver().expect("a driver for this thread");
                nop_loop::proactor_nops(&driver, IN_FLIGHT, OPS);
            });
        }
    });
}

fn bench(c: &mut Criterion) {
    for backend in [Backend::IoUring, Backend::Poll] {
        let build = || Driver::builder().force(backend).entries(256).build();
        let Ok(shared) = build() else {
            continue;
        };
        let mut group = c.benchmark_group(format!("nop_threads/{backend}"));
        for threads in [1usize, 2, 4] {
            group.throughput(Throughput::Elements((OPS * threads) as u64));
            let one_shared: Vec<Driver> = (0..threads).map(|_| shared.clone()).collect();
            group.bench_with_input(
                BenchmarkId::new("shared driver", threads),
                &one_shared,
                |b, drivers| b.iter(|| nops_on_threads(drivers)),
            );
            let own: Vec<Driver> = (0..threads)
                .map(|_| build().expect("a second driver"))
                .collect();
            group.bench_with_input(
                BenchmarkId::new("driver per thread", threads),
                &own,
                |b, drivers| b.iter(|| nops_on_threads(drivers)),
            );
            let per_thread = Driver::builder().force(backend).entries(256).per_thread();
            group.bench_with_input(
                BenchmarkId::new("PerThreadDriver", threads),
                &per_thread,
                |b, drivers| b.iter(|| nops_on_own_drivers(drivers, threads)),
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
