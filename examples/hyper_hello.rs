//! `hyper_hello`: hyper 1.x serving HTTP/1.1 over proactor's `TcpStream`
//! on a tokio current-thread runtime (or, with `--workers N`, a
//! multi-thread one). `TokioIo::new(stream)` is the only adapter: the
//! stream implements tokio's I/O traits itself.
//!
//! `GET /` answers "Hello, world!", `POST /echo` streams the request body
//! back as it arrives, anything else is a 404. Keep-alive, pipelining,
//! `Expect: 100-continue` and clients that half-close their side all work.
//! Ctrl-C stops it cleanly. `--serve echo` serves a plain TCP echo instead
//! (through tokio's `AsyncReadExt`/`AsyncWriteExt`), for the echo bench on
//! the same runtimes.
//!
//! ```text
//! cargo run --release --features uring,tokio --example hyper_hello -- \
//!     [--addr 127.0.0.1:8080] [--io proactor|tokio] [--workers N] [--serve http|echo]
//! curl http://127.0.0.1:8080/
//! curl --data-binary @some-file http://127.0.0.1:8080/echo
//! ```
//!
//! The runtime has its I/O and time drivers enabled, so proactor's
//! operations run on the runtime's own driver: tokio's reactor tells the
//! runtime when proactor has completions, and a task on it dispatches them
//! (no thread of proactor's). `--io tokio` serves the same with tokio's own
//! `TcpListener`, the baseline `ci/bench.sh` measures against.

#[path = "support/ctrl_c.rs"]
mod ctrl_c;
#[path = "support/hello_service.rs"]
mod hello_service;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hello_service::handle;
use hyper_util::rt::TokioIo;
use proactor::net::TcpListener;

/// A listener of either kind: the same server runs on proactor's sockets
/// and, as the baseline, on tokio's.
enum Listener {
    Proactor(proactor::net::TcpListener),
    Tokio(tokio::net::TcpListener),
}

/// A connection of either kind, ready for hyper.
enum Connection {
    Proactor(TokioIo<proactor::net::TcpStream>),
    Tokio(TokioIo<tokio::net::TcpStream>),
}

impl Listener {
    async fn bind(addr: &str, io: &str) -> io::Result<Listener> {
        match io {
            "tokio" => Ok(Listener::Tokio(tokio::net::TcpListener::bind(addr).await?)),
            _ => Ok(Listener::Proactor(TcpListener::bind(addr).await?)),
        }
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self {
            Listener::Proactor(listener) => listener.local_addr(),
            Listener::Tokio(listener) => listener.local_addr(),
        }
    }

    async fn accept(&self) -> io::Result<Connection> {
        match self {
            Listener::Proactor(listener) => {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Connection::Proactor(TokioIo::new(stream)))
            }
            Listener::Tokio(listener) => {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Connection::Tokio(TokioIo::new(stream)))
            }
        }
    }
}

/// Sends back what `stream` receives until the peer closes its side.
async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..n]).await?;
    }
}

async fn run(addr: String, io: String, echoes: bool) -> io::Result<()> {
    let listener = Arc::new(Listener::bind(&addr, &io).await?);
    if echoes {
        println!("hyper_hello: listening on {}", listener.local_addr()?);
    } else {
        println!(
            "hyper_hello: listening on http://{}/",
            listener.local_addr()?
        );
    }
    let mut shutdown = std::pin::pin!(ctrl_c::ctrl_c()?);
    // Kept across loop turns: dropping an accept that already completed
    // would close the connection it accepted.
    let accept_next = |listener: Arc<Listener>| Box::pin(async move { listener.accept().await });
    let mut accept = accept_next(listener.clone());
    let answered = Arc::new(AtomicU64::new(0));
    let mut connections = tokio::task::JoinSet::new();
    let mut finished = 0u64;
    loop {
        tokio::select! {
            signal = &mut shutdown => {
                signal?;
                break;
            }
            accepted = &mut accept => {
                accept = accept_next(listener.clone());
                let connection = match accepted {
                    Ok(connection) => connection,
                    Err(e) => {
                        eprintln!("hyper_hello: accept: {e}");
                        continue;
                    }
                };
                let answered = answered.clone();
                let service = hyper::service::service_fn(move |request| handle(request, answered.clone()));
                // A client that shut its side down still gets its answers.
                let http = hyper::server::conn::http1::Builder::new().half_close(true).clone();
                connections.spawn(async move {
                    match (connection, echoes) {
                        (Connection::Proactor(io), true) => echo(io.into_inner()).await,
                        (Connection::Tokio(io), true) => echo(io.into_inner()).await,
                        (Connection::Proactor(io), false) => {
                            http.serve_connection(io, service).await.map_err(io::Error::other)
                        }
                        (Connection::Tokio(io), false) => {
                            http.serve_connection(io, service).await.map_err(io::Error::other)
                        }
                    }
                });
            }
            Some(served) = connections.join_next() => {
                finished += 1;
                match served {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("hyper_hello: connection: {e}"),
                    Err(e) => eprintln!("hyper_hello: connection task: {e}"),
                }
            }
        }
    }
    let open = connections.len();
    connections.shutdown().await;
    let answered = if echoes {
        String::new()
    } else {
        format!("{} requests answered, ", answered.load(Ordering::Relaxed))
    };
    println!("hyper_hello: shut down cleanly: {answered}{finished} connections finished, {open} closed at exit");
    Ok(())
}

fn usage() -> ! {
    eprintln!("usage: hyper_hello [--addr HOST:PORT] [--io proactor|tokio] [--workers N] [--serve http|echo]");
    std::process::exit(2);
}

fn main() {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut io = "proactor".to_string();
    // 0: a current-thread runtime.
    let mut workers = 0usize;
    let mut echoes = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            ("--io", Some(value)) if value == "proactor" || value == "tokio" => io = value,
            ("--workers", Some(value)) => match value.parse() {
                Ok(n) if n > 0 => workers = n,
                _ => usage(),
            },
            ("--serve", Some(value)) if value == "http" || value == "echo" => {
                echoes = value == "echo"
            }
            _ => usage(),
        }
    }
    let mut builder = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    };
    let served = builder
        .enable_all()
        .build()
        .and_then(|runtime| runtime.block_on(run(addr, io, echoes)));
    if let Err(e) = served {
        eprintln!("hyper_hello: {e}");
        std::process::exit(1);
    }
}
