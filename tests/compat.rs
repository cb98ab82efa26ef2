//! `futures::io` compatibility on both back ends: streams stay full duplex
//! (a write never costs received data, a read never waits for a write), and
//! a file keeps one cursor.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use futures::{AsyncRead, StreamExt};
use proactor::compat::{Compat, CompatIo};
use proactor::fs::OpenOptions;
use proactor::net::{TcpListener, TcpStream};
use proactor::time::{sleep, timeout};
use proactor::Driver;

/// Turns a hang (a lost byte, a lost waker) into a failure. Only a bound,
/// never a timing assertion: it is far above what any test here needs.
const HANG: Duration = Duration::from_secs(60);

/// `len` bytes of a deterministic pseudo-random pattern (xorshift64), so a
/// lost, doubled or reordered chunk cannot go unnoticed.
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

/// Byte-for-byte equality that reports where the streams part, instead of
/// printing megabytes.
fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    let first_difference = got.iter().zip(expected).position(|(g, e)| g != e);
    assert!(
        got.len() == expected.len() && first_difference.is_none(),
        "{what}: got {} bytes, expected {}; first difference at {:?}",
        got.len(),
        expected.len(),
        first_difference
    );
}

/// A waker that only records that it was woken.
#[derive(Default)]
struct WokenFlag(AtomicBool);

impl Wake for WokenFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl WokenFlag {
    /// Polls `reader` once for a read, with this flag as the waker.
    fn poll_read_once(
        self: &Arc<Self>,
        reader: &mut (impl AsyncRead + Unpin),
        out: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let waker = Waker::from(self.clone());
        Pin::new(reader).poll_read(&mut Context::from_waker(&waker), out)
    }

    /// Waits (driving the current driver) until woken; panics at [`HANG`].
    async fn wait(&self, what: &str) {
        let deadline = Instant::now() + HANG;
        while !self.0.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "never woken: {what}");
            sleep(Duration::from_millis(1)).await.unwrap();
        }
    }
}

/// Sends 8 MiB each way at once over one connection: `server` echoes with
/// `futures::io::copy` between the halves of `AsyncReadExt::split`, while
/// `client`'s halves write and read concurrently. Checked byte for byte.
async fn echo_8_mib_each_way<T: CompatIo + Unpin>(client: T, server: T) {
    let sent = pattern(8 << 20, 0x9E37_79B9_7F4A_7C15);
    let (server_reader, mut server_writer) = Compat::new(server).split();
    let echo = async move {
        let copied = futures::io::copy(server_reader, &mut server_writer)
            .await
            .unwrap();
        server_writer.close().await.unwrap();
        copied
    };
    let (mut client_reader, mut client_writer) = Compat::new(client).split();
    let send = async {
        client_writer.write_all(&sent).await.unwrap();
        client_writer.close().await.unwrap();
    };
    // Not `read_to_end`: it zero-fills its spare capacity again after every
    // `Pending`, which makes an unoptimised build crawl at 8 MiB.
    let receive = async {
        let mut echoed = futures::io::Cursor::new(Vec::with_capacity(sent.len()));
        futures::io::copy(&mut client_reader, &mut echoed)
            .await
            .unwrap();
        echoed.into_inner()
    };
    let (copied, (), echoed) = timeout(HANG, futures::future::join3(echo, send, receive))
        .await
        .expect("the full-duplex echo hung");
    assert_eq!(copied as usize, sent.len(), "bytes the echo copied");
    assert_same_bytes(&echoed, &sent, "echoed bytes");
}

/// Runs `fut` on a tokio current-thread runtime with `driver` current on
/// this thread, while a helper thread parks on `driver` (as the
/// process-wide driver's own thread does): tokio polls, the helper reaps.
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
        // Also stops the helper if `fut` panics, so the scope can end.
        let _stop = StopParking(&stop, driver);
        let _current = driver.enter();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(fut)
    })
}

/// The body of the response to request `path`: large enough that writing
/// it is still under way when the next request arrives.
fn response_body(path: &str) -> Vec<u8> {
    let seed = path.bytes().fold(7u64, |seed, b| seed * 31 + u64::from(b));
    pattern(1 << 20, seed)
}

/// Client side of the keep-alive test: reads one response to
/// `expected_path` and checks its body; if `send_meanwhile`, sends those
/// requests after the first bytes of the body, while the server is still
/// writing the rest.
async fn read_response(
    reader: &mut (impl tokio::io::AsyncBufRead + Unpin),
    writer: &mut (impl tokio::io::AsyncWrite + Unpin),
    expected_path: &str,
    send_meanwhile: Option<&[u8]>,
) {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
    let mut head = String::new();
    let mut content_length = None;
    loop {
        let mut line = String::new();
        assert_ne!(
            reader.read_line(&mut line).await.unwrap(),
            0,
            "response head cut: {head}"
        );
        if let Some(length) = line.strip_prefix("content-length: ") {
            content_length = Some(length.trim_end().parse::<usize>().unwrap());
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    assert!(
        head.contains(&format!("x-path: {expected_path}\r\n")),
        "{head}"
    );
    let mut body = vec![0; content_length.expect("a content length")];
    let (start, rest) = body.split_at_mut(4096);
    reader.read_exact(start).await.unwrap();
    if let Some(requests) = send_meanwhile {
        writer.write_all(requests).await.unwrap();
        writer.flush().await.unwrap();
    }
    reader.read_exact(rest).await.unwrap();
    assert_same_bytes(&body, &response_body(expected_path), expected_path);
}

/// A real HTTP/1.1 server and client (hyper 1.x) over one keep-alive
/// connection of `Compat` streams, through tokio-util's compat layer and
/// hyper-util's `TokioIo`: the stack that lost every second request.
async fn hyper_keep_alive_round_trips(client: TcpStream, server: TcpStream) {
    use http_body_util::{BodyExt, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;
    use tokio_util::compat::FuturesAsyncReadCompatExt;

    // Streams each request body back as it arrives: the server writes the
    // response while the rest of the request is still coming in.
    let echo = hyper::service::service_fn(|request: Request<Incoming>| async move {
        let path = request.uri().path().to_owned();
        Response::builder()
            .header("x-path", path)
            .body(request.into_body())
    });
    let serve = tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(Compat::new(server).compat()), echo),
    );
    let (mut requests, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(Compat::new(client).compat()))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    for round in 0..8u64 {
        // Large enough that request and response bodies stream in pieces.
        let sent = pattern(1 << 20, round + 1);
        let request = Request::post(format!("/round/{round}"))
            .header("host", "proactor.test")
            .body(Full::new(Bytes::from(sent.clone())))
            .unwrap();
        requests.ready().await.expect("the connection stays open");
        let response = requests.send_request(request).await.unwrap();
        assert!(response.status().is_success());
        let path = format!("/round/{round}");
        assert_eq!(response.headers()["x-path"], path.as_str());
        let echoed = response.into_body().collect().await.unwrap().to_bytes();
        assert_same_bytes(&echoed, &sent, &path);
    }
    drop(requests);
    connection.await.unwrap().unwrap();
    serve.await.unwrap().unwrap();
}

both_backends! {
    fn copy_between_streams(driver) {
        driver.block_on(async {
            let (a, b) = common::tcp_pair().await;
            let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
            let writer = async {
                let mut a = Compat::with_capacity(4096, a);
                a.write_all(&data).await.unwrap();
                a.close().await.unwrap();
            };
            let reader = async {
                let mut sink = futures::io::Cursor::new(Vec::new());
                let copied = futures::io::copy(Compat::new(b), &mut sink).await.unwrap();
                assert_eq!(copied as usize, data.len());
                sink.into_inner()
            };
            let ((), got) = futures::join!(writer, reader);
            assert_eq!(got, data);
        });
    }

    fn buffered_lines_over_tcp(driver) {
        driver.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let mut client = Compat::new(client);
            client.write_all(b"first line\nsecond line\n").await.unwrap();
            client.flush().await.unwrap();
            let mut lines = Compat::new(server).lines();
            use futures::StreamExt;
            assert_eq!(lines.next().await.unwrap().unwrap(), "first line");
            assert_eq!(lines.next().await.unwrap().unwrap(), "second line");
        });
    }

    fn file_cursor_reads_what_it_wrote(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cursor");
        driver.block_on(async {
            let file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
            let mut file = Compat::with_capacity(16, file);
            file.write_all(b"0123456789abcdefghij").await.unwrap();
            file.flush().await.unwrap();
            assert_eq!(file.position(), 20);
            let mut rest = Vec::new();
            file.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty(), "the cursor is at the end");
            // The cursor is the file's own now, so the file comes back
            // where the adapter left it (it used to restart at 0).
            let mut file = file.into_inner();
            assert_eq!(file.seek(std::io::SeekFrom::Start(0)).await.unwrap(), 0);
            let mut file = Compat::new(file);
            let mut all = String::new();
            file.read_to_string(&mut all).await.unwrap();
            assert_eq!(all, "0123456789abcdefghij");
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"0123456789abcdefghij");
    }

    fn tokio_util_compat_layer(driver) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        use tokio_util::compat::FuturesAsyncReadCompatExt;
        driver.block_on(async {
            let (a, b) = common::tcp_pair().await;
            let mut a = Compat::new(a).compat();
            let mut b = Compat::new(b).compat();
            a.write_all(b"tokio traits").await.unwrap();
            a.flush().await.unwrap();
            let mut got = [0u8; 12];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"tokio traits");
        });
    }

    fn stream_write_keeps_read_ahead_and_the_read_in_flight(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let mut client = Compat::new(client);
            let mut line = String::new();

            // A write while read-ahead is buffered.
            server.write_all(b"ping 1\nping 2\n".to_vec()).await.0.unwrap();
            client.read_line(&mut line).await.unwrap();
            assert_eq!(line, "ping 1\n");
            assert_eq!(client.fill_buf().await.unwrap(), b"ping 2\n", "read ahead");
            client.write_all(b"pong 1\n").await.unwrap();
            client.flush().await.unwrap();
            line.clear();
            timeout(HANG, client.read_line(&mut line)).await.expect("read-ahead lost").unwrap();
            assert_eq!(line, "ping 2\n");
            let (r, pong) = server.read_exact(vec![0; 7]).await;
            r.unwrap();
            assert_eq!(pong, b"pong 1\n");

            // A write while a read has completed in the kernel but its
            // result has not been collected yet.
            let woken = Arc::new(WokenFlag::default());
            let mut got = [0u8; 64];
            assert!(woken.poll_read_once(&mut client, &mut got).is_pending(), "nothing was sent yet");
            server.write_all(b"ping 3\n".to_vec()).await.0.unwrap();
            woken.wait("the read of ping 3 completed").await;
            client.write_all(b"pong 2\n").await.unwrap();
            client.flush().await.unwrap();
            let n = timeout(HANG, client.read(&mut got)).await.expect("completed read lost").unwrap();
            assert_eq!(&got[..n], b"ping 3\n");

            // A write while a read waits for data: the reader is still woken
            // when the data comes, and gets it.
            let woken = Arc::new(WokenFlag::default());
            assert!(woken.poll_read_once(&mut client, &mut got).is_pending(), "nothing was sent yet");
            client.write_all(b"pong 3\n").await.unwrap();
            client.flush().await.unwrap();
            let (r, pongs) = server.read_exact(vec![0; 14]).await;
            r.unwrap();
            assert_eq!(pongs, b"pong 2\npong 3\n");
            server.write_all(b"ping 4\n".to_vec()).await.0.unwrap();
            woken.wait("the read in flight across a write").await;
            let n = client.read(&mut got).await.unwrap();
            assert_eq!(&got[..n], b"ping 4\n");
        });
    }

    fn pipelined_requests_stay_in_read_ahead_across_responses(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let serve = async {
                let mut server = Compat::new(server);
                let mut handled = Vec::new();
                let mut request = String::new();
                loop {
                    request.clear();
                    if server.read_line(&mut request).await.unwrap() == 0 {
                        break;
                    }
                    let path = request.trim_end().trim_start_matches("GET ").to_owned();
                    server.write_all(format!("200 {path}\n").as_bytes()).await.unwrap();
                    server.flush().await.unwrap();
                    handled.push(path);
                }
                server.close().await.unwrap();
                handled
            };
            let ask = async {
                // All three requests in one segment, before any response.
                client.write_all(b"GET /1\nGET /2\nGET /3\n".to_vec()).await.0.unwrap();
                client.shutdown(std::net::Shutdown::Write).await.unwrap();
                let mut responses = Vec::new();
                futures::io::copy(Compat::new(client), &mut futures::io::Cursor::new(&mut responses))
                    .await
                    .unwrap();
                responses
            };
            let (handled, responses) = timeout(HANG, futures::future::join(serve, ask)).await.expect("hung");
            assert_eq!(handled, ["/1", "/2", "/3"]);
            assert_eq!(String::from_utf8(responses).unwrap(), "200 /1\n200 /2\n200 /3\n");
        });
    }

    fn split_full_duplex_8_mib_each_way_over_tcp(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            echo_8_mib_each_way(client, server).await;
        });
    }

    fn stream_read_does_not_wait_for_a_write_the_peer_is_not_reading(driver) {
        driver.block_on(async {
            let (a, b) = common::tcp_pair().await;
            // Small fixed buffers (no autotuning), so 8 MiB cannot all be
            // accepted by the kernel before the peer reads.
            socket2::SockRef::from(&a).set_send_buffer_size(64 << 10).unwrap();
            socket2::SockRef::from(&b).set_recv_buffer_size(64 << 10).unwrap();
            let flood = pattern(8 << 20, 42);
            let (mut a_reader, mut a_writer) = Compat::new(a).split();
            let (replied, got_reply) = futures::channel::oneshot::channel();
            let write = async {
                a_writer.write_all(&flood).await.unwrap();
                a_writer.flush().await.unwrap();
            };
            let read = async {
                let mut hello = [0u8; 5];
                a_reader.read_exact(&mut hello).await.unwrap();
                assert_eq!(&hello, b"hello");
                replied.send(()).unwrap();
            };
            let peer = async {
                b.write_all(b"hello".to_vec()).await.0.unwrap();
                // Reads only once its message was read on the other side.
                got_reply.await.unwrap();
                let (r, received) = b.read_exact(vec![0; flood.len()]).await;
                r.unwrap();
                received
            };
            let ((), (), received) = timeout(HANG, futures::future::join3(write, read, peer))
                .await
                .expect("the read waited for a write that needs it first");
            assert_same_bytes(&received, &flood, "flooded bytes");
        });
    }

    fn keep_alive_requests_arriving_during_a_response_under_tokio(driver) {
        use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
        use tokio_util::compat::FuturesAsyncReadCompatExt;

        on_tokio_current_thread(&driver, async {
            let (client, server) = common::tcp_pair().await;
            // Small fixed buffers, so a 1 MiB response is still being
            // written when the client sends its next requests.
            socket2::SockRef::from(&server).set_send_buffer_size(64 << 10).unwrap();
            socket2::SockRef::from(&client).set_recv_buffer_size(64 << 10).unwrap();

            // Like hyper, the server keeps a read waiting for the next
            // request while it writes a response. Here its reading and its
            // writing are two tasks over the halves of one stream, so each
            // direction also waits with its own task's waker.
            let (server_reader, mut server_writer) = tokio::io::split(Compat::new(server).compat());
            let (requests, mut to_answer) = futures::channel::mpsc::unbounded::<String>();
            let read_requests = tokio::spawn(async move {
                let mut server_reader = BufReader::new(server_reader);
                let mut line = String::new();
                let mut path = None;
                loop {
                    line.clear();
                    if server_reader.read_line(&mut line).await.unwrap() == 0 {
                        return;
                    }
                    if let Some(request_line) = line.strip_prefix("GET ") {
                        path = request_line.split(' ').next().map(str::to_owned);
                    } else if line == "\r\n" {
                        requests.unbounded_send(path.take().expect("a request line")).unwrap();
                    }
                }
            });
            let write_responses = tokio::spawn(async move {
                while let Some(path) = to_answer.next().await {
                    let body = response_body(&path);
                    let head = format!("HTTP/1.1 200 OK\r\nx-path: {path}\r\ncontent-length: {}\r\n\r\n", body.len());
                    server_writer.write_all(head.as_bytes()).await.unwrap();
                    server_writer.write_all(&body).await.unwrap();
                    server_writer.flush().await.unwrap();
                }
                server_writer.shutdown().await.unwrap();
            });

            let client = async move {
                let (client_reader, mut client_writer) = tokio::io::split(Compat::new(client).compat());
                let mut client_reader = BufReader::new(client_reader);
                client_writer.write_all(b"GET /1 HTTP/1.1\r\nhost: t\r\n\r\n").await.unwrap();
                client_writer.flush().await.unwrap();
                read_response(&mut client_reader, &mut client_writer, "/1", Some(b"GET /2 HTTP/1.1\r\nhost: t\r\n\r\n")).await;
                read_response(&mut client_reader, &mut client_writer, "/2", Some(b"GET /3 HTTP/1.1\r\nhost: t\r\n\r\nGET /4 HTTP/1.1\r\nhost: t\r\n\r\n")).await;
                read_response(&mut client_reader, &mut client_writer, "/3", None).await;
                read_response(&mut client_reader, &mut client_writer, "/4", None).await;
                client_writer.shutdown().await.unwrap();
                let mut rest = Vec::new();
                client_reader.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty(), "nothing after the last response");
            };
            let everything = async {
                client.await;
                read_requests.await.unwrap();
                write_responses.await.unwrap();
            };
            timeout(HANG, everything).await.expect("a keep-alive request was lost");
        });
    }

    fn hyper_serves_every_keep_alive_request(driver) {
        on_tokio_current_thread(&driver, async {
            let (client, server) = common::tcp_pair().await;
            timeout(HANG, hyper_keep_alive_round_trips(client, server))
                .await
                .expect("a keep-alive request was lost");
        });
    }

    fn file_write_after_read_ahead_lands_at_the_logical_cursor(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cursor");
        std::fs::write(&path, b"0123456789abcdef").unwrap();
        driver.block_on(async {
            let file = OpenOptions::new().read(true).write(true).open(&path).await.unwrap();
            let mut file = Compat::new(file);
            let mut head = [0u8; 4];
            file.read_exact(&mut head).await.unwrap();
            assert_eq!(&head, b"0123");
            assert_eq!(file.fill_buf().await.unwrap(), b"456789abcdef", "read ahead");
            file.write_all(b"WXYZ").await.unwrap();
            file.flush().await.unwrap();
            assert_eq!(file.position(), 8);
            let mut rest = String::new();
            file.read_to_string(&mut rest).await.unwrap();
            assert_eq!(rest, "89abcdef", "the read resumes after the written bytes");
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"0123WXYZ89abcdef");
    }

    fn file_write_during_a_read_in_flight_wakes_the_reader_and_reads_after_it(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cursor");
        std::fs::write(&path, b"0123456789abcdef").unwrap();
        let written_at = driver.block_on(async {
            let file = OpenOptions::new().read(true).write(true).open(&path).await.unwrap();
            let mut file = Compat::with_capacity(4, file);
            let woken = Arc::new(WokenFlag::default());
            let mut got = [0u8; 4];
            // The readiness back end may serve this from the page cache at
            // once; then it is read-ahead, which the test above covers.
            let pending = match woken.poll_read_once(&mut file, &mut got) {
                Poll::Pending => true,
                Poll::Ready(n) => {
                    assert_eq!(&got[..n.unwrap()], b"0123");
                    false
                }
            };
            let written_at = file.position() as usize;
            file.write_all(b"WX").await.unwrap();
            file.flush().await.unwrap();
            if pending {
                woken.wait("the read that was in flight during the write").await;
            }
            let mut rest = Vec::new();
            file.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, &b"0123456789abcdef"[written_at + 2..], "read from after the write");
            written_at
        });
        let mut expected = *b"0123456789abcdef";
        expected[written_at..written_at + 2].copy_from_slice(b"WX");
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }
}

/// `UnixStream` exists on Unix only.
#[cfg(unix)]
mod unix_only {
    use super::*;

    both_backends! {
        fn split_full_duplex_8_mib_each_way_over_unix_stream(driver) {
            driver.block_on(async {
                let (client, server) = proactor::net::UnixStream::pair().unwrap();
                echo_8_mib_each_way(client, server).await;
            });
        }
    }
}
