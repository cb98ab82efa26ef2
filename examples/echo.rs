//! `echo`: a TCP echo server. Every connection gets back what it sends;
//! any number of clients at once; Ctrl-C (or SIGTERM) stops accepting,
//! closes the connections and exits cleanly.
//!
//! ```text
//! cargo run --release --features uring --example echo -- [--addr 127.0.0.1:7878]
//! echo hello | nc -N 127.0.0.1 7878
//! ```

#[path = "support/accept_loop.rs"]
mod accept_loop;
#[path = "support/ctrl_c.rs"]
mod ctrl_c;
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/server.rs"]
mod server;

use std::io;

use proactor::net::TcpListener;

async fn run(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("echo: listening on {}", listener.local_addr()?);
    let mut bytes = 0u64;
    let served = accept_loop::serve_until_ctrl_c(
        "echo",
        || async {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        },
        |stream| echo_server::serve(stream, 16 * 1024),
        |result| match result {
            Ok(n) => bytes += n,
            Err(e) => eprintln!("echo: connection: {e}"),
        },
    )
    .await?;
    println!(
        "echo: shut down cleanly: {} connections served ({bytes} bytes echoed), {} closed at exit",
        served.finished, served.open
    );
    Ok(())
}

fn main() {
    server::main(
        "echo",
        "127.0.0.1:7878",
        |addr| async move { run(&addr).await },
    );
}
