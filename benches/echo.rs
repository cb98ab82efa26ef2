//! Loopback TCP echo: 1 connection × 64 B and 64 connections × 4 KiB. The
//! server is proactor (each back end) or tokio's current-thread runtime, on
//! its own thread pinned to core 0; the client is the same tokio
//! current-thread client for every server, on the bench thread pinned to
//! core 1.
//!
//! On two cores the client saturates before a good server does, so each case
//! is measured twice: `echo_wall` is wall time per round trip (what the
//! client sees), `echo_server_cpu` is the server thread's CPU time (user +
//! system, `pthread_getcpuclockid`) per round trip, reported by criterion as
//! if it were time. The CPU figure is the one that tells servers apart.
//!
//! Each proactor back end serves twice: with one owned-buffer `read` after
//! another, and with `recv_stream` on a shared `BufPool` (on io_uring, one
//! multishot receive per connection on a provided-buffer ring).
//!
//! `cargo bench --features uring --bench echo`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

// Thread CPU clocks and pinning are Linux calls.
#[cfg(not(target_os = "linux"))]
fn main() {
    println!("echo: server CPU time needs Linux thread clocks; nothing measured");
}

#[cfg(target_os = "linux")]
criterion::criterion_main!(linux::benches);

// The server the echo example and iobench run, too.
#[cfg(target_os = "linux")]
#[path = "../examples/support/echo_server.rs"]
mod echo_server;

#[cfg(target_os = "linux")]
#[path = "support/server_thread.rs"]
mod server_thread;

#[cfg(target_os = "linux")]
mod linux {
    use std::net::SocketAddr;

    use super::server_thread::{pin_to_core, Server};

    use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
    use proactor::Backend;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// (connections, message bytes)
    const CASES: [(usize, usize); 2] = [(1, 64), (64, 4096)];

    fn proactor_server(backend: Backend) -> Server {
        super::server_thread::proactor_server(
            "proactor-echo",
            backend,
            super::echo_server::serve_all,
        )
    }

    /// The same server, each connection a `recv_stream` on one shared
    /// `BufPool` (on io_uring: one multishot receive per connection on a
    /// provided-buffer ring).
    fn proactor_pooled_server(backend: Backend) -> Server {
        super::server_thread::proactor_server(
            "proactor-echo-pooled",
            backend,
            super::echo_server::serve_all_pooled,
        )
    }

    fn tokio_server() -> Server {
        super::server_thread::tokio_server("tokio-echo", |listener| async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        })
    }

    /// The client: `connections` streams to `addr`, each doing its share of
    /// `round_trips` ping-pongs of `size` bytes, all at once.
    struct Client {
        rt: tokio::runtime::Runtime,
        streams: Vec<tokio::net::TcpStream>,
        size: usize,
    }

    impl Client {
        fn connect(addr: SocketAddr, connections: usize, size: usize) -> Client {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("runtime");
            let streams = rt.block_on(async {
                let mut streams = Vec::new();
                for _ in 0..connections {
                    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                    stream.set_nodelay(true).unwrap();
                    streams.push(stream);
                }
                streams
            });
            Client { rt, streams, size }
        }

        fn round_trips(&mut self, round_trips: u64) {
            let connections = self.streams.len() as u64;
            let size = self.size;
            self.rt.block_on(async {
                let work = self.streams.iter_mut().enumerate().map(|(i, stream)| {
                    // Spread the remainder over the first connections.
                    let mine = round_trips / connections
                        + u64::from((i as u64) < round_trips % connections);
                    async move {
                        let mut buf = vec![7u8; size];
                        for _ in 0..mine {
                            stream.write_all(&buf).await.expect("send");
                            stream.read_exact(&mut buf).await.expect("receive");
                        }
                    }
                });
                futures::future::join_all(work).await;
            });
        }
    }

    fn bench(c: &mut Criterion) {
        pin_to_core(1);
        let mut servers: Vec<(&str, Server)> = Vec::new();
        #[cfg(feature = "uring")]
        if let Ok(driver) = proactor::Driver::builder().force(Backend::IoUring).build() {
            drop(driver);
            servers.push(("proactor io_uring", proactor_server(Backend::IoUring)));
            servers.push((
                "proactor io_uring recv_stream",
                proactor_pooled_server(Backend::IoUring),
            ));
        }
        #[cfg(feature = "poll")]
        servers.push(("proactor poll", proactor_server(Backend::Poll)));
        #[cfg(feature = "poll")]
        servers.push((
            "proactor poll recv_stream",
            proactor_pooled_server(Backend::Poll),
        ));
        servers.push(("tokio current_thread", tokio_server()));

        for (connections, size) in CASES {
            let case = format!("{connections}x{size}B");
            for (group_name, measure_cpu) in [("echo_wall", false), ("echo_server_cpu", true)] {
                let mut group = c.benchmark_group(format!("{group_name}/{case}"));
                group.throughput(Throughput::Elements(1));
                for (name, server) in &servers {
                    let mut client = Client::connect(server.addr, connections, size);
                    client.round_trips(1000); // warm the connections
                    group.bench_function(BenchmarkId::from_parameter(name), |b| {
                        b.iter_custom(|round_trips| {
                            server.measure(measure_cpu, || client.round_trips(round_trips))
                        })
                    });
                }
                group.finish();
            }
        }
    }

    criterion_group!(benches, bench);
}
