//! hyper 1.x, server and client, over proactor's `TcpStream` with
//! `hyper_util::rt::TokioIo::new(stream)` as the only adapter, on both back
//! ends: keep-alive with streamed 1 MiB bodies, pipelined requests,
//! `Expect: 100-continue`, and a client that half-closes its side.
#![cfg(feature = "tokio")]

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use proactor::net::TcpStream;
use proactor::time::timeout;
use proactor::Driver;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// Turns a hang into a failure; never a timing assertion.
const HANG: Duration = Duration::from_secs(60);

/// `len` bytes of a deterministic pseudo-random pattern (xorshift64).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Runs `fut` on a tokio current-thread runtime with `driver` current on
/// this thread, while a helper thread parks on `driver`: tokio polls, the
/// helper reaps.
fn on_tokio_current_thread<F: Future>(driver: &Driver, fut: F) -> F::Output {
    struct StopParking<'a>(&'a AtomicBool, &'a Driver);
    impl Drop for StopParking<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
            self.1.unpark();
        }
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                driver.park(Some(Duration::from_millis(10))).unwrap();
            }
        });
        let _stop = StopParking(&stop, driver);
        let _current = driver.enter();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(fut)
    })
}

type Body = BoxBody<Bytes, hyper::Error>;

/// `/echo` streams the request body back as it arrives; `/count` reads it
/// all first (so hyper sends `100 Continue` when asked) and answers its
/// length; anything else answers its path. Every response names its path.
async fn route(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let body = match path.as_str() {
        "/echo" => request.into_body().boxed(),
        "/count" => {
            let body = request.into_body().collect().await;
            let length = body.map(|body| body.to_bytes().len()).unwrap_or(0);
            full(length.to_string())
        }
        _ => full(format!("hello {path}")),
    };
    Ok(Response::builder()
        .header("x-path", path)
        .body(body)
        .unwrap())
}

fn full(text: String) -> Body {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed()
}

/// Serves one connection with hyper, over the stream itself.
fn serve(stream: TcpStream) -> tokio::task::JoinHandle<hyper::Result<()>> {
    tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .serve_connection(TokioIo::new(stream), hyper::service::service_fn(route)),
    )
}

/// One response from a raw client's side: (head, body), by content-length.
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        assert_ne!(
            stream.read_line(&mut line).await.unwrap(),
            0,
            "response head cut: {head}"
        );
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
            length = value.trim_end().parse().unwrap();
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    tokio::io::AsyncReadExt::read_exact(stream, &mut body)
        .await
        .unwrap();
    (head, body)
}

both_backends! {
    fn hyper_client_and_server_keep_alive_with_1_mib_streamed_echoes(driver) {
        on_tokio_current_thread(&driver, async {
            let (client, server) = common::tcp_pair().await;
            let served = serve(server);
            let (mut requests, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(client)).await.unwrap();
            let connection = tokio::spawn(connection);
            timeout(HANG, async {
                for round in 0..8u64 {
                    let sent = pattern(1 << 20, round + 1);
                    let request = Request::post("/echo")
                        .header("host", "proactor.test")
                        .body(Full::new(Bytes::from(sent.clone())))
                        .unwrap();
                    requests.ready().await.expect("the connection stays open");
                    let response = requests.send_request(request).await.unwrap();
                    assert!(response.status().is_success());
                    let echoed = response.into_body().collect().await.unwrap().to_bytes();
                    assert!(echoed[..] == sent[..], "round {round}: the echo differs");
                }
            })
            .await
            .expect("a keep-alive request was lost");
            drop(requests);
            connection.await.unwrap().unwrap();
            served.await.unwrap().unwrap();
        });
    }

    fn hyper_answers_pipelined_requests_in_order(driver) {
        on_tokio_current_thread(&driver, async {
            let (mut client, server) = common::tcp_pair().await;
            let served = serve(server);
            // Three requests in one segment, before any answer.
            AsyncWriteExt::write_all(
                &mut client,
                b"GET /1 HTTP/1.1\r\nhost: t\r\n\r\nGET /2 HTTP/1.1\r\nhost: t\r\n\r\nGET /3 HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n",
            )
            .await
            .unwrap();
            AsyncWriteExt::flush(&mut client).await.unwrap();
            timeout(HANG, async {
                for path in ["/1", "/2", "/3"] {
                    let (head, body) = read_response(&mut client).await;
                    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                    assert!(head.contains(&format!("x-path: {path}\r\n")), "{head}");
                    assert_eq!(body, format!("hello {path}").as_bytes());
                }
                let mut rest = Vec::new();
                client.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty(), "nothing after the last answer");
            })
            .await
            .expect("a pipelined request was lost");
            served.await.unwrap().unwrap();
        });
    }

    fn hyper_sends_100_continue_then_reads_the_body(driver) {
        on_tokio_current_thread(&driver, async {
            let (mut client, server) = common::tcp_pair().await;
            let served = serve(server);
            let body = pattern(1 << 20, 99);
            let head = format!(
                "POST /count HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            AsyncWriteExt::write_all(&mut client, head.as_bytes()).await.unwrap();
            AsyncWriteExt::flush(&mut client).await.unwrap();
            timeout(HANG, async {
                // Nothing of the body goes before the server asks for it.
                let mut line = String::new();
                client.read_line(&mut line).await.unwrap();
                assert_eq!(line, "HTTP/1.1 100 Continue\r\n");
                line.clear();
                client.read_line(&mut line).await.unwrap();
                assert_eq!(line, "\r\n");
                AsyncWriteExt::write_all(&mut client, &body).await.unwrap();
                AsyncWriteExt::flush(&mut client).await.unwrap();
                let (head, counted) = read_response(&mut client).await;
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                assert_eq!(counted, body.len().to_string().as_bytes());
            })
            .await
            .expect("the 100-continue exchange hung");
            served.await.unwrap().unwrap();
        });
    }

    fn hyper_answers_a_client_that_half_closed_its_side(driver) {
        on_tokio_current_thread(&driver, async {
            let (mut client, server) = common::tcp_pair().await;
            let served = serve(server);
            AsyncWriteExt::write_all(&mut client, b"GET /half HTTP/1.1\r\nhost: t\r\n\r\n").await.unwrap();
            // Flushes, then shuts the write side down: hyper reads end of
            // stream right after the request.
            AsyncWriteExt::shutdown(&mut client).await.unwrap();
            timeout(HANG, async {
                let (head, body) = read_response(&mut client).await;
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                assert_eq!(body, b"hello /half");
                let mut rest = Vec::new();
                client.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty());
            })
            .await
            .expect("no answer to a half-closed client");
            served.await.unwrap().unwrap();
        });
    }
}
