//! `hyper_hello`: hyper 1.x serving HTTP/1.1 over proactor's `TcpStream`
//! on a tokio current-thread runtime. `TokioIo::new(stream)` is the only
//! adapter: the stream implements tokio's I/O traits itself.
//!
//! `GET /` answers "Hello, world!", `POST /echo` streams the request body
//! back as it arrives, anything else is a 404. Keep-alive, pipelining,
//! `Expect: 100-continue` and clients that half-close their side all work.
//! Ctrl-C stops it cleanly.
//!
//! ```text
//! cargo run --release --features uring,tokio --example hyper_hello -- [--addr 127.0.0.1:8080]
//! curl http://127.0.0.1:8080/
//! curl --data-binary @some-file http://127.0.0.1:8080/echo
//! ```
//!
//! Proactor's operations run on the process-wide driver here (its own
//! thread reaps completions and wakes tokio's tasks).

#[path = "support/ctrl_c.rs"]
mod ctrl_c;

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use proactor::net::TcpListener;

type Body = BoxBody<Bytes, hyper::Error>;

fn full(text: &'static str) -> Body {
    Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed()
}

async fn handle(
    request: Request<Incoming>,
    answered: Arc<AtomicU64>,
) -> Result<Response<Body>, Infallible> {
    answered.fetch_add(1, Ordering::Relaxed);
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/") => Response::new(full("Hello, world!\n")),
        (&Method::POST, "/echo") => {
            // Reading the body before answering is what makes hyper send
            // `100 Continue` to a client that asked for it; the rest then
            // streams back while it still arrives.
            let mut body = request.into_body();
            let first = body.frame().await;
            let frames = futures::stream::iter(first).chain(BodyStream::new(body));
            Response::new(BodyExt::boxed(StreamBody::new(frames)))
        }
        _ => {
            let mut not_found = Response::new(full(""));
            *not_found.status_mut() = StatusCode::NOT_FOUND;
            not_found
        }
    };
    Ok(response)
}

async fn run(addr: String) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "hyper_hello: listening on http://{}/",
        listener.local_addr()?
    );
    let mut shutdown = std::pin::pin!(ctrl_c::ctrl_c()?);
    // Kept across loop turns: dropping an accept that already completed
    // would close the connection it accepted.
    let mut accept = Box::pin(listener.accept());
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
                accept = Box::pin(listener.accept());
                let (stream, _) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        eprintln!("hyper_hello: accept: {e}");
                        continue;
                    }
                };
                stream.set_nodelay(true)?;
                let answered = answered.clone();
                let service = hyper::service::service_fn(move |request| handle(request, answered.clone()));
                connections.spawn(
                    hyper::server::conn::http1::Builder::new()
                        // A client that shut its side down still gets its answers.
                        .half_close(true)
                        .serve_connection(TokioIo::new(stream), service),
                );
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
    println!(
        "hyper_hello: shut down cleanly: {} requests answered, {finished} connections finished, {open} closed at exit",
        answered.load(Ordering::Relaxed)
    );
    Ok(())
}

fn main() {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("usage: hyper_hello [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    let served = tokio::runtime::Builder::new_current_thread()
        .build()
        .and_then(|runtime| runtime.block_on(run(addr)));
    if let Err(e) = served {
        eprintln!("hyper_hello: {e}");
        std::process::exit(1);
    }
}
