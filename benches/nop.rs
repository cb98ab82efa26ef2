//! NOP round trips with 1, 32 and 256 in flight: proactor on each back end
//! against a hand-written io-uring loop with the same batch.
//!
//! `cargo bench --features uring --bench nop`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::stream::{FuturesUnordered, StreamExt};
use proactor::op::{Nop, Op};
use proactor::{Backend, Driver};

/// NOPs per measured iteration.
const OPS: usize = 4096;

fn proactor_nops(driver: &Driver, in_flight: usize) {
    driver.block_on(async {
        let mut pending = FuturesUnordered::new();
        let mut issued = 0;
        while issued < OPS || !pending.is_empty() {
            while pending.len() < in_flight && issued < OPS {
                pending.push(Op::with_driver(Nop::new(), driver.clone()));
                issued += 1;
            }
            pending.next().await.expect("in flight").expect("nop");
        }
    })
}

#[cfg(all(target_os = "linux", feature = "uring"))]
fn raw_nops(ring: &mut io_uring::IoUring, in_flight: usize) {
    let (mut issued, mut done) = (0, 0);
    while done < OPS {
        while issued - done < in_flight && issued < OPS {
            let nop = io_uring::opcode::Nop::new()
                .build()
                .user_data(issued as u64);
            // SAFETY: a NOP carries no pointers.
            unsafe { ring.submission().push(&nop) }.expect("sq sized for the batch");
            issued += 1;
        }
        ring.submit_and_wait(1).expect("submit");
        done += ring.completion().count();
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("nop");
    group.throughput(Throughput::Elements(OPS as u64));
    for in_flight in [1usize, 32, 256] {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        {
            let mut ring = io_uring::IoUring::new(256).expect("io_uring");
            group.bench_with_input(
                BenchmarkId::new("raw io-uring", in_flight),
                &in_flight,
                |b, &n| b.iter(|| raw_nops(&mut ring, n)),
            );
        }
        for backend in [Backend::IoUring, Backend::Poll] {
            let Ok(driver) = Driver::builder().force(backend).entries(256).build() else {
                continue;
            };
            group.bench_with_input(
                BenchmarkId::new(format!("proactor {backend}"), in_flight),
                &in_flight,
                |b, &n| b.iter(|| proactor_nops(&driver, n)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
