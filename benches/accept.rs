//! Accept storm: a client opens and closes connections one after another as
//! fast as it can; the server accepts each and closes it. Servers:
//! proactor's `TcpListener::incoming` (one multishot accept on io_uring),
//! proactor's `accept` in a loop (one accept operation per connection), and
//! tokio's current-thread runtime accepting in a loop. The server runs on
//! its own thread pinned to core 0, the client on the bench thread pinned to
//! core 1.
//!
//! As in the echo bench, `accept_wall` is wall time per connection (what the
//! client sees) and `accept_server_cpu` the server thread's CPU time per
//! connection, the figure that tells servers apart. The client closes with
//! `SO_LINGER` 0 (a reset), so no connection lingers in `TIME_WAIT` and the
//! run never runs out of ports.
//!
//! `cargo bench --features uring,tokio --bench accept`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("accept: server CPU time needs Linux thread clocks; nothing measured");
}

#[cfg(target_os = "linux")]
criterion::criterion_main!(linux::benches);

#[cfg(target_os = "linux")]
#[path = "support/server_thread.rs"]
mod server_thread;

#[cfg(target_os = "linux")]
mod linux {
    use std::net::SocketAddr;
    use std::time::Duration;

    use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
    use futures::StreamExt;
    use proactor::Backend;

    use super::server_thread::{pin_to_core, Server};

    /// How a proactor server takes its connections.
    #[derive(Clone, Copy)]
    enum Accepting {
        Incoming,
        AcceptLoop,
    }

    fn proactor_server(backend: Backend, accepting: Accepting) -> Server {
        super::server_thread::proactor_server(
            "proactor-accept",
            backend,
            move |listener| async move {
                match accepting {
                    Accepting::Incoming => {
                        let mut incoming = listener.incoming();
                        while let Some(accepted) = incoming.next().await {
                            drop(accepted);
                        }
                    }
                    Accepting::AcceptLoop => loop {
                        drop(listener.accept().await);
                    },
                }
            },
        )
    }

    fn tokio_server() -> Server {
        super::server_thread::tokio_server("tokio-accept", |listener| async move {
            loop {
                drop(listener.accept().await);
            }
        })
    }

    /// Opens and closes (with a reset) `count` connections to `addr`.
    fn storm(addr: SocketAddr, count: u64) {
        let addr = socket2::SockAddr::from(addr);
        for _ in 0..count {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            socket.set_linger(Some(Duration::ZERO)).expect("linger");
            socket.connect(&addr).expect("connect");
        }
    }

    fn bench(c: &mut Criterion) {
        pin_to_core(1);
        let mut servers: Vec<(&str, Server)> = Vec::new();
        #[cfg(feature = "uring")]
        if let Ok(driver) = proactor::Driver::builder().force(Backend::IoUring).build() {
            drop(driver);
            servers.push((
                "proactor io_uring incoming",
                proactor_server(Backend::IoUring, Accepting::Incoming),
            ));
            servers.push((
                "proactor io_uring accept loop",
                proactor_server(Backend::IoUring, Accepting::AcceptLoop),
            ));
        }
        #[cfg(feature = "poll")]
        {
            servers.push((
                "proactor poll incoming",
                proactor_server(Backend::Poll, Accepting::Incoming),
            ));
            servers.push((
                "proactor poll accept loop",
                proactor_server(Backend::Poll, Accepting::AcceptLoop),
            ));
        }
        servers.push(("tokio current_thread accept loop", tokio_server()));

        for (group_name, measure_cpu) in [("accept_wall", false), ("accept_server_cpu", true)] {
            let mut group = c.benchmark_group(group_name);
            group.throughput(Throughput::Elements(1));
            for (name, server) in &servers {
                storm(server.addr, 1000); // warm up
                group.bench_function(BenchmarkId::from_parameter(name), |b| {
                    // The last few connections may still be in the backlog:
                    // the server's work on them counts in the next
                    // iteration, which evens out.
                    b.iter_custom(|connections| {
                        server.measure(measure_cpu, || storm(server.addr, connections))
                    })
                });
            }
            group.finish();
        }
    }

    criterion_group!(benches, bench);
}
