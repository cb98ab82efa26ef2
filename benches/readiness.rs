//! Readiness waited for again and again on one fd: 1000 rounds of "write
//! one byte into a Unix socket pair, wait until the other end is readable,
//! read until `WouldBlock`" on one thread, with proactor's `AsyncFd`
//! (io_uring: one multishot `IORING_OP_POLL_ADD` kept armed), one one-shot
//! `op::Ready` per round (io_uring: one `POLL_ADD` per wait), `AsyncFd` on
//! the readiness back end, and tokio's `AsyncFd` (epoll, edge-triggered).
//!
//! `cargo bench --features uring --bench readiness`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

#[cfg(not(unix))]
fn main() {
    println!("readiness: Unix socket pairs need Unix; nothing measured");
}

#[cfg(unix)]
criterion::criterion_main!(unix::benches);

#[cfg(unix)]
mod unix {
    use std::io::{self, Read, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;

    use criterion::{criterion_group, Criterion, Throughput};
    use proactor::op::{Interest, Op, Ready};
    use proactor::os::AsyncFd;
    use proactor::{Backend, Driver};

    const ROUNDS: u64 = 1000;

    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().expect("socket pair");
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    fn drain(mut socket: &UnixStream) -> usize {
        let mut buf = [0u8; 64];
        let mut total = 0;
        loop {
            match socket.read(&mut buf) {
                Ok(n) if n > 0 => total += n,
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => panic!("read: {e}"),
                _ => return total,
            }
        }
    }

    fn rounds_async_fd(driver: &Driver, writer: &UnixStream, reader: &AsyncFd<UnixStream>) {
        driver.block_on(async {
            for _ in 0..ROUNDS {
                (&*writer).write_all(b"x").unwrap();
                reader.readable().await.unwrap();
                assert_eq!(drain(reader.get_ref()), 1);
            }
        });
    }

    fn rounds_one_shot(driver: &Driver, writer: &UnixStream, reader: &Arc<UnixStream>) {
        driver.block_on(async {
            for _ in 0..ROUNDS {
                (&*writer).write_all(b"x").unwrap();
                let ready = Ready::new(reader.clone(), Interest::Readable);
                Op::with_driver(ready, driver.clone()).await.unwrap();
                assert_eq!(drain(reader), 1);
            }
        });
    }

    fn bench(c: &mut Criterion) {
        let mut group = c.benchmark_group("readiness/1000 rounds");
        group.throughput(Throughput::Elements(ROUNDS));
        let backends = [
            #[cfg(feature = "uring")]
            Backend::IoUring,
            #[cfg(feature = "poll")]
            Backend::Poll,
        ];
        for backend in backends {
            let Ok(driver) = Driver::builder().force(backend).build() else {
                continue;
            };
            let name = match backend {
                Backend::IoUring => "io_uring",
                _ => "poll",
            };
            let (writer, reader) = pair();
            let reader = AsyncFd::with_driver(reader, driver.clone());
            group.bench_function(format!("{name} AsyncFd"), |b| {
                b.iter(|| rounds_async_fd(&driver, &writer, &reader))
            });
            let (writer, reader) = pair();
            let reader = Arc::new(reader);
            group.bench_function(format!("{name} one-shot op::Ready"), |b| {
                b.iter(|| rounds_one_shot(&driver, &writer, &reader))
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("tokio runtime");
        let (writer, reader) = pair();
        let register = async {
            // SAFETY: the socket owns its fd, which stays open and the same
            // until the `AsyncFd` drops the socket.
            unsafe { tokio::io::unix::AsyncFd::register(reader) }
        };
        let reader = runtime.block_on(register).expect("register with tokio");
        group.bench_function("tokio AsyncFd", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    for _ in 0..ROUNDS {
                        (&writer).write_all(b"x").unwrap();
                        let mut guard = reader.readable().await.unwrap();
                        assert_eq!(drain(reader.get_ref()), 1);
                        guard.clear_ready();
                    }
                })
            })
        });
        group.finish();
    }

    criterion_group! {
        name = benches;
        config = Criterion::default().sample_size(20);
        targets = bench
    }
}
