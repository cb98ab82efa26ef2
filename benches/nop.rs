//! NOP round trips with 1, 32 and 256 in flight: proactor on each back end
//! against a hand-written io-uring loop with the same batch. Each back end
//! runs twice: under a `FuturesUnordered` (an executor task per op, as most
//! code would), and with the ops in a fixed array of slots (`slots`), which
//! leaves only proactor's own cost. With the `tokio` feature, the
//! `FuturesUnordered` loop also runs inside a tokio current_thread runtime,
//! on the driver the runtime's reactor dispatches (automatic back end).
//!
//! `cargo bench --features uring,tokio --bench nop`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use proactor::op::{Nop, Op};
use proactor::{Backend, Driver};

#[path = "support/nop_loop.rs"]
mod nop_loop;

/// NOPs per measured iteration.
const OPS: usize = 4096;

/// The same NOPs, in-flight ops kept in a fixed array of slots and polled
/// in turn with the task's own waker: no executor task per op, so what is
/// left is proactor's own cost (FuturesUnordered allocates and wakes a task
/// for each op).
fn proactor_nops_in_slots(driver: &Driver, in_flight: usize) {
    driver.block_on(async {
        let mut slots: Vec<Option<Op<Nop>>> = (0..in_flight).map(|_| None).collect();
        let (mut issued, mut done) = (0, 0);
        futures::future::poll_fn(|cx| {
            for slot in slots.iter_mut() {
                loop {
                    if slot.is_none() {
                        if issued == OPS {
                            break;
                        }
                        *slot = Some(Op::with_driver(Nop::new(), driver.clone()));
                        issued += 1;
                    }
                    let op = slot.as_mut().expect("filled above");
                    match std::future::Future::poll(std::pin::Pin::new(op), cx) {
                        std::task::Poll::Ready(result) => {
                            result.expect("nop");
                            *slot = None;
                            done += 1;
                        }
                        std::task::Poll::Pending => break,
                    }
                }
            }
            if done == OPS {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await
    })
}

/// `nop_loop::proactor_nops` inside a tokio runtime: `Op::new` takes the
/// runtime's own driver.
#[cfg(feature = "tokio")]
fn tokio_nops(runtime: &tokio::runtime::Runtime, in_flight: usize) {
    use futures::stream::{FuturesUnordered, StreamExt};
    runtime.block_on(async {
        let mut pending = FuturesUnordered::new();
        let mut issued = 0;
        while issued < OPS || !pending.is_empty() {
            while pending.len() < in_flight && issued < OPS {
                pending.push(Op::new(Nop::new()).expect("the runtime's driver"));
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
    #[cfg(feature = "tokio")]
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
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
                |b, &n| b.iter(|| nop_loop::proactor_nops(&driver, n, OPS)),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("proactor {backend} slots"), in_flight),
                &in_flight,
                |b, &n| b.iter(|| proactor_nops_in_slots(&driver, n)),
            );
        }
        #[cfg(feature = "tokio")]
        group.bench_with_input(
            BenchmarkId::new("proactor under tokio current_thread", in_flight),
            &in_flight,
            |b, &n| b.iter(|| tokio_nops(&runtime, n)),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
