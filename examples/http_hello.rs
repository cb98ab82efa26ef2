//! `http_hello`: a minimal HTTP/1.1 server with keep-alive (and pipelining)
//! that answers `GET /` with "Hello, world!". Ctrl-C stops it cleanly.
//!
//! ```text
//! cargo run --release --features uring --example http_hello -- [--addr 127.0.0.1:8080]
//! curl http://127.0.0.1:8080/
//! wrk -t1 -c16 -d1s http://127.0.0.1:8080/
//! ```

#[path = "support/accept_loop.rs"]
mod accept_loop;
#[path = "support/ctrl_c.rs"]
mod ctrl_c;
#[path = "support/server.rs"]
mod server;

use std::cell::Cell;
use std::io;

use proactor::buf::IoBuf;
use proactor::net::{TcpListener, TcpStream};

const BODY: &str = "Hello, world!\n";
/// Largest request head accepted; larger ones get 431 and a close.
const MAX_HEAD: usize = 16 * 1024;

struct Request {
    /// Bytes of the head and body, to drop from the buffer.
    len: usize,
    status: &'static str,
    with_body: bool,
    close: bool,
}

/// Parses one request from the start of `buf`, if it is all there.
fn parse(buf: &[u8]) -> Option<Request> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let (method, path, version) = (
        request_line.next().unwrap_or(""),
        request_line.next().unwrap_or(""),
        request_line.next().unwrap_or(""),
    );
    let mut close = version != "HTTP/1.1";
    let mut body_len = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close")
                || (close && !value.eq_ignore_ascii_case("keep-alive"));
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().unwrap_or(0);
        }
    }
    if buf.len() < head_end + body_len {
        return None;
    }
    let status = match (method, path) {
        ("GET" | "HEAD", "/") => "200 OK",
        ("GET" | "HEAD", _) => "404 Not Found",
        _ => "405 Method Not Allowed",
    };
    Some(Request {
        len: head_end + body_len,
        status,
        with_body: method != "HEAD",
        close,
    })
}

fn response(request: &Request) -> Vec<u8> {
    let body = if request.status.starts_with("200") {
        BODY
    } else {
        ""
    };
    let connection = if request.close { "close" } else { "keep-alive" };
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        request.status,
        body.len()
    )
    .into_bytes();
    if request.with_body {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

async fn serve(stream: TcpStream, answered: &Cell<u64>) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_HEAD);
    loop {
        // Answer every complete request already buffered (pipelining).
        let mut replies = Vec::new();
        let mut consumed = 0;
        let mut close = false;
        while let Some(request) = parse(&buf[consumed..]) {
            consumed += request.len;
            replies.extend_from_slice(&response(&request));
            answered.set(answered.get() + 1);
            if request.close {
                close = true;
                break;
            }
        }
        buf.drain(..consumed);
        if !replies.is_empty() {
            let (result, _) = stream.write_all(replies).await;
            result?;
        }
        if close {
            return Ok(());
        }
        if buf.len() >= MAX_HEAD {
            let (result, _) = stream
                .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            return result;
        }
        let filled = buf.len();
        let (result, slice) = stream.read(buf.slice(filled..MAX_HEAD)).await;
        buf = slice.into_inner();
        if result? == 0 {
            return Ok(());
        }
    }
}

async fn run(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "http_hello: listening on http://{}/",
        listener.local_addr()?
    );
    let requests = Cell::new(0u64);
    let served = accept_loop::serve_until_ctrl_c(
        "http_hello",
        || async {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        },
        |stream| serve(stream, &requests),
        |result| match result {
            Ok(()) => {}
            // Load generators often end with a reset.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => eprintln!("http_hello: connection: {e}"),
        },
    )
    .await?;
    println!(
        "http_hello: shut down cleanly: {} requests answered, {} connections finished, {} closed at exit",
        requests.get(),
        served.finished,
        served.open
    );
    Ok(())
}

fn main() {
    server::main("http_hello", "127.0.0.1:8080", |addr| async move {
        run(&addr).await
    });
}
