//! `echo`: a TCP echo server. Every connection gets back what it sends;
//! any number of clients at once; Ctrl-C (or SIGTERM) stops accepting,
//! closes the connections and exits cleanly.
//!
//! ```text
//! cargo run --release --features uring --example echo -- [--addr 127.0.0.1:7878]
//! echo hello | nc -N 127.0.0.1 7878
//! ```

#[path = "support/ctrl_c.rs"]
mod ctrl_c;
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/server.rs"]
mod server;

use std::io;

use futures::future::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use proactor::net::TcpListener;

async fn run(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("echo: listening on {}", listener.local_addr()?);
    let mut shutdown = Box::pin(ctrl_c::ctrl_c()?.fuse());
    let mut accept = Box::pin(listener.accept().fuse());
    let mut connections = FuturesUnordered::new();
    let (mut served, mut bytes) = (0u64, 0u64);
    loop {
        futures::select! {
            signal = shutdown => {
                signal?;
                break;
            }
            accepted = accept => {
                accept.set(listener.accept().fuse());
                match accepted {
                    Ok((stream, _)) => {
                        stream.set_nodelay(true)?;
                        connections.push(echo_server::serve(stream, 16 * 1024));
                    }
                    // Out of fds or a client gone before accept: keep serving.
                    Err(e) => eprintln!("echo: accept: {e}"),
                }
            }
            finished = connections.select_next_some() => {
                served += 1;
                match finished {
                    Ok(n) => bytes += n,
                    Err(e) => eprintln!("echo: connection: {e}"),
                }
            }
        }
    }
    let open = connections.len();
    drop(connections);
    println!("echo: shut down cleanly: {served} connections served ({bytes} bytes echoed), {open} closed at exit");
    Ok(())
}

fn main() {
    server::main(
        "echo",
        "127.0.0.1:7878",
        |addr| async move { run(&addr).await },
    );
}
