//! Zero-copy send against a plain send, over loopback: one proactor
//! `TcpStream` sends 64 KiB and 1 MiB messages as fast as a std thread on
//! the other core reads them. Each iteration sends one message, whole
//! (`send_zc` / `write_all` until every byte went), on each back end; on
//! the readiness back end `send_zc` is a plain send, so its two rows should
//! match.
//!
//! `cargo bench --features uring --bench send_zc`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("send_zc: pinned threads need Linux; nothing measured");
}

#[cfg(target_os = "linux")]
criterion::criterion_main!(linux::benches);

// Only its pinning is used here.
#[cfg(target_os = "linux")]
#[path = "support/server_thread.rs"]
#[allow(dead_code)]
mod server_thread;

#[cfg(target_os = "linux")]
mod linux {
    use std::io::Read;

    use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
    use proactor::buf::IoBuf;
    use proactor::net::TcpStream;
    use proactor::{Backend, Driver};

    use super::server_thread::pin_to_core;

    /// A connected stream on `driver` whose peer, a std thread pinned to
    /// core 0, reads and drops everything.
    fn sink(driver: &Driver) -> TcpStream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            pin_to_core(0);
            let (mut peer, _) = listener.accept().expect("accept");
            let mut buf = vec![0u8; 1 << 20];
            while matches!(peer.read(&mut buf), Ok(n) if n > 0) {}
        });
        driver.block_on(async { TcpStream::connect(addr).await.expect("connect") })
    }

    async fn send_whole(stream: &TcpStream, mut message: Vec<u8>, zero_copy: bool) -> Vec<u8> {
        let len = message.len();
        let mut sent = 0;
        while sent < len {
            let window = message.slice(sent..);
            let (n, window) = if zero_copy {
                stream.send_zc(window).await
            } else {
                stream.write(window).await
            };
            message = window.into_inner();
            sent += n.expect("send");
        }
        message
    }

    fn bench(c: &mut Criterion) {
        pin_to_core(1);
        let mut backends = Vec::new();
        #[cfg(feature = "uring")]
        backends.push(Backend::IoUring);
        #[cfg(feature = "poll")]
        backends.push(Backend::Poll);
        for size in [64usize << 10, 1 << 20] {
            let mut group = c.benchmark_group(format!("send_zc/{}KiB", size >> 10));
            group.throughput(Throughput::Bytes(size as u64));
            for &backend in &backends {
                let Ok(driver) = Driver::builder().force(backend).build() else {
                    continue;
                };
                let stream = sink(&driver);
                for (how, zero_copy) in [("send", false), ("send_zc", true)] {
                    let name = format!("{backend} {how}");
                    let mut message = Some(vec![7u8; size]);
                    group.bench_function(BenchmarkId::from_parameter(name), |b| {
                        b.iter(|| {
                            let taken = message.take().expect("message");
                            message = Some(driver.block_on(send_whole(&stream, taken, zero_copy)));
                        })
                    });
                }
            }
            group.finish();
        }
    }

    criterion_group!(benches, bench);
}
