//! NOPs from several threads at once: each thread runs `block_on` with 32
//! NOPs in flight, all on one shared `Driver`, each on a `Driver` of its
//! own, or each on its own driver of one `PerThreadDriver` (worker threads
//! that live across iterations, as a server's would, each keeping the
//! driver it built on first use), with 1, 2 and 4 threads (on however many
//! cores the machine has).
//! Throughput counts every thread's NOPs, so a driver that scales shows
//! twice the one-thread rate with two threads on two cores.
//!
//! `cargo bench --features uring --bench nop_threads`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

#[path = "support/nop_loop.rs"]
mod nop_loop;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::mpsc;

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

/// Worker threads that each run the NOP loop on their own driver of a
/// `PerThreadDriver` whenever told to; they end when this is dropped.
struct Workers {
    go: Vec<mpsc::Sender<()>>,
    done: mpsc::Receiver<()>,
}

impl Workers {
    fn start(drivers: &PerThreadDriver, threads: usize) -> Workers {
        let (done_tx, done) = mpsc::channel();
        let go = (0..threads)
            .map(|_| {
                let (go, told) = mpsc::channel::<()>();
                let (drivers, done) = (drivers.clone(), done_tx.clone());
                std::thread::spawn(move || {
                    while told.recv().is_ok() {
                        let driver = drivers.driver().expect("a driver for this thread");
                        nop_loop::proactor_nops(&driver, IN_FLIGHT, OPS);
                        done.send(()).expect("the bench waits");
                    }
                });
                go
            })
            .collect();
        Workers { go, done }
    }

    /// One round: every worker runs the loop once; waits for all.
    fn round(&self) {
        for go in &self.go {
            go.send(()).expect("a worker");
        }
        for _ in &self.go {
            self.done.recv().expect("a worker");
        }
    }
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
            let workers = Workers::start(&per_thread, threads);
            group.bench_with_input(
                BenchmarkId::new("PerThreadDriver", threads),
                &workers,
                |b, workers| b.iter(|| workers.round()),
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
