//! `smol_hello`: hyper 1.x serving HTTP/1.1 (the service `hyper_hello`
//! serves), or a plain TCP echo, on a smol executor over proactor's
//! `TcpStream`, through the `futures::io` traits the stream implements
//! itself. `--io smol` serves the same over smol's own `smol::net` sockets,
//! the baseline `ci/bench.sh` measures against. Ctrl-C stops it cleanly.
//!
//! ```text
//! cargo run --release --features uring,async-io --example smol_hello -- \
//!     [--addr 127.0.0.1:8080] [--io proactor|smol] [--serve http|echo]
//! curl http://127.0.0.1:8080/
//! ```
//!
//! With the `async-io` feature, proactor's operations run on the
//! process-wide driver dispatched by async-io's reactor, the one smol waits
//! on: no thread of proactor's. Both kinds of socket reach hyper through the
//! same adapter (`smol_hyper::rt::FuturesIo`) and the echo through the same
//! generic loop, so only the sockets differ between the two.

#[path = "support/accept_loop.rs"]
mod accept_loop;
#[path = "support/ctrl_c.rs"]
mod ctrl_c;
#[path = "support/hello_service.rs"]
mod hello_service;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use hello_service::handle;
use smol::LocalExecutor;
use smol_hyper::rt::FuturesIo;

/// What each connection gets.
#[derive(Clone, Copy, PartialEq)]
enum Serve {
    Http,
    Echo,
}

/// A listener of either kind: the same server runs on proactor's sockets
/// and, as the baseline, on smol's.
enum Listener {
    Proactor(proactor::net::TcpListener),
    Smol(smol::net::TcpListener),
}

/// An accepted connection of either kind.
enum Connection {
    Proactor(proactor::net::TcpStream),
    Smol(smol::net::TcpStream),
}

impl Listener {
    async fn bind(addr: &str, io: &str) -> io::Result<Listener> {
        match io {
            "smol" => Ok(Listener::Smol(smol::net::TcpListener::bind(addr).await?)),
            _ => Ok(Listener::Proactor(
                proactor::net::TcpListener::bind(addr).await?,
            )),
        }
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self {
            Listener::Proactor(listener) => listener.local_addr(),
            Listener::Smol(listener) => listener.local_addr(),
        }
    }

    async fn accept(&self) -> io::Result<Connection> {
        match self {
            Listener::Proactor(listener) => {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Connection::Proactor(stream))
            }
            Listener::Smol(listener) => {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Connection::Smol(stream))
            }
        }
    }
}

/// Sends back everything `stream` receives until the peer shuts its side,
/// then shuts this side. Returns the bytes echoed.
async fn echo(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> io::Result<u64> {
    let mut buf = vec![0; 64 * 1024];
    let mut echoed = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            stream.close().await?;
            return Ok(echoed);
        }
        stream.write_all(&buf[..n]).await?;
        stream.flush().await?;
        echoed += n as u64;
    }
}

/// Serves one connection to its end.
async fn serve(connection: Connection, serve: Serve, answered: Arc<AtomicU64>) -> io::Result<()> {
    if serve == Serve::Echo {
        match connection {
            Connection::Proactor(stream) => echo(stream).await?,
            Connection::Smol(stream) => echo(stream).await?,
        };
        return Ok(());
    }
    let service = hyper::service::service_fn(move |request| handle(request, answered.clone()));
    // A client that shut its side down still gets its answers.
    let http = hyper::server::conn::http1::Builder::new()
        .half_close(true)
        .clone();
    match connection {
        Connection::Proactor(stream) => {
            http.serve_connection(FuturesIo::new(stream), service).await
        }
        Connection::Smol(stream) => http.serve_connection(FuturesIo::new(stream), service).await,
    }
    .map_err(io::Error::other)
}

async fn run(
    executor: &LocalExecutor<'_>,
    addr: String,
    io: String,
    kind: Serve,
) -> io::Result<()> {
    let listener = Listener::bind(&addr, &io).await?;
    let local = listener.local_addr()?;
    match kind {
        Serve::Http => println!("smol_hello: listening on http://{local}/"),
        Serve::Echo => println!("smol_hello: listening on {local}"),
    }
    let answered = Arc::new(AtomicU64::new(0));
    // Dropping a smol task cancels it: the connections still open at
    // Ctrl-C end with the loop.
    let served = accept_loop::serve_until_ctrl_c(
        "smol_hello",
        || listener.accept(),
        |connection| executor.spawn(serve(connection, kind, answered.clone())),
        |result| {
            if let Err(e) = result {
                eprintln!("smol_hello: connection: {e}");
            }
        },
    )
    .await?;
    let answered = match kind {
        Serve::Http => format!("{} requests answered, ", answered.load(Ordering::Relaxed)),
        Serve::Echo => String::new(),
    };
    println!(
        "smol_hello: shut down cleanly: {answered}{} connections finished, {} closed at exit",
        served.finished, served.open
    );
    Ok(())
}

fn main() {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut io = "proactor".to_string();
    let mut kind = Serve::Http;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().as_deref()) {
            ("--addr", Some(value)) => addr = value.to_string(),
            ("--io", Some(value @ ("proactor" | "smol"))) => io = value.to_string(),
            ("--serve", Some("http")) => kind = Serve::Http,
            ("--serve", Some("echo")) => kind = Serve::Echo,
            _ => {
                eprintln!(
                    "usage: smol_hello [--addr HOST:PORT] [--io proactor|smol] [--serve http|echo]"
                );
                std::process::exit(2);
            }
        }
    }
    let executor = LocalExecutor::new();
    if let Err(e) = smol::block_on(executor.run(run(&executor, addr, io, kind))) {
        eprintln!("smol_hello: {e}");
        std::process::exit(1);
    }
}
