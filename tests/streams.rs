//! The stream types, their halves and `File`'s cursor under the poll-based
//! traits, driven by futures' and tokio's own I/O helpers on both back
//! ends: every byte arrives once and in order, full duplex, whichever API
//! or handle moves it; hostile uses (dropped or forgotten halves,
//! concurrent borrowed readers, mismatched halves, writes after shutdown,
//! empty and one-byte buffers) end in a result, never a hang or a loss.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::{poll_fn, Future};
use std::io::{IoSlice, SeekFrom};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use futures::{AsyncRead, AsyncWrite, StreamExt};
use proactor::compat::Compat;
use proactor::fs::{File, OpenOptions};
use proactor::net::TcpStream;
use proactor::time::timeout;
use proactor::Driver;

/// Turns a hang (a lost byte, a lost waker) into a failure. Only a bound,
/// never a timing assertion: it is far above what any test here needs.
const HANG: Duration = Duration::from_secs(60);

/// Counts allocations of at least [`LARGE`] bytes: buffers, not the small
/// boxes every operation needs.
struct CountingAllocator;

const LARGE: usize = 4096;
static LARGE_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LARGE_BYTES: AtomicUsize = AtomicUsize::new(0);

fn count(size: usize) {
    if size >= LARGE {
        LARGE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LARGE_BYTES.fetch_add(size, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; counting
// touches only atomics (it never allocates).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's guarantees, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's guarantees, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller's guarantees, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// (count, bytes) of large allocations made while `f` runs.
async fn large_allocations_during<T>(f: impl Future<Output = T>) -> (T, usize, usize) {
    let (count, bytes) = (
        LARGE_ALLOCATIONS.load(Ordering::SeqCst),
        LARGE_BYTES.load(Ordering::SeqCst),
    );
    let value = f.await;
    (
        value,
        LARGE_ALLOCATIONS.load(Ordering::SeqCst) - count,
        LARGE_BYTES.load(Ordering::SeqCst) - bytes,
    )
}

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

/// Runs `fut` on a tokio current-thread runtime with `driver` current on
/// this thread, while a helper thread parks on `driver` (as the
/// process-wide driver's own thread does): tokio polls, the helper reaps.
/// Each spawned task has its own waker, as in a real server.
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

/// Ten bytes there and back through the traits.
async fn ping_pong(client: &mut Compat<TcpStream>, server: &mut Compat<TcpStream>) {
    let mut got = [0u8; 10];
    client.write_all(b"ten bytes!").await.unwrap();
    client.flush().await.unwrap();
    server.read_exact(&mut got).await.unwrap();
    server.write_all(&got).await.unwrap();
    server.flush().await.unwrap();
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"ten bytes!");
}

/// 8 MiB each way at once over one connection, through owned halves:
/// the server side echoes with `futures::io::copy` from its read half to
/// its write half while the client's halves write and read concurrently.
async fn echo_8_mib_each_way_through_halves(
    (client_read, mut client_write): (impl AsyncRead + Unpin, impl AsyncWrite + Unpin),
    (server_read, mut server_write): (impl AsyncRead + Unpin, impl AsyncWrite + Unpin),
) {
    let sent = pattern(8 << 20, 0x9E37_79B9_7F4A_7C15);
    let echo = async move {
        let copied = futures::io::copy(server_read, &mut server_write)
            .await
            .unwrap();
        server_write.close().await.unwrap();
        copied
    };
    let send = async {
        client_write.write_all(&sent).await.unwrap();
        client_write.close().await.unwrap();
    };
    let receive = async move {
        let mut echoed = futures::io::Cursor::new(Vec::with_capacity(8 << 20));
        futures::io::copy(client_read, &mut echoed).await.unwrap();
        echoed.into_inner()
    };
    let (copied, (), echoed) = timeout(HANG, futures::future::join3(echo, send, receive))
        .await
        .expect("the full-duplex echo hung");
    assert_eq!(copied as usize, sent.len(), "bytes the echo copied");
    assert_same_bytes(&echoed, &sent, "echoed bytes");
}

both_backends! {
    fn futures_copy_read_to_end_lines_buf_reader_and_buf_writer(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let lines: Vec<String> = (0..2000).map(|i| format!("line {i} {}", "x".repeat(i % 97))).collect();
            let write = async {
                let mut writer = futures::io::BufWriter::new(client);
                for line in &lines {
                    writer.write_all(line.as_bytes()).await.unwrap();
                    writer.write_all(b"\n").await.unwrap();
                }
                writer.close().await.unwrap();
                writer.into_inner()
            };
            let read = async {
                // `lines` straight off the stream: it is an `AsyncBufRead`.
                let mut server = server;
                let got: Vec<String> = (&mut server).lines().take(lines.len()).map(Result::unwrap).collect().await;
                let mut rest = Vec::new();
                server.read_to_end(&mut rest).await.unwrap();
                (got, rest, server)
            };
            let (client, (got, rest, server)) = timeout(HANG, futures::future::join(write, read)).await.expect("hung");
            assert_eq!(got, lines);
            assert!(rest.is_empty(), "nothing after the last line");

            // And back, through `futures::io::BufReader` and `copy`.
            let data = pattern(300_000, 3);
            let back = async {
                let mut server = server;
                AsyncWriteExt::write_all(&mut server, &data).await.unwrap();
                server.close().await.unwrap();
            };
            let copy = async {
                let mut sink = futures::io::Cursor::new(Vec::new());
                futures::io::copy(futures::io::BufReader::new(client), &mut sink).await.unwrap();
                sink.into_inner()
            };
            let ((), copied) = timeout(HANG, futures::future::join(back, copy)).await.expect("hung");
            assert_same_bytes(&copied, &data, "copied back");
        });
    }

    fn full_duplex_8_mib_each_way_through_owned_tcp_halves(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            echo_8_mib_each_way_through_halves(client.into_split(), server.into_split()).await;
        });
    }

    fn full_duplex_8_mib_each_way_through_borrowed_tcp_halves(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            // By the type's name: with `AsyncReadExt` in scope, `client.split()`
            // is that trait's by-value `split`.
            echo_8_mib_each_way_through_halves(TcpStream::split(&client), TcpStream::split(&server)).await;
        });
    }

    fn full_duplex_8_mib_each_way_through_futures_split(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            echo_8_mib_each_way_through_halves(client.split_via_futures(), server.split_via_futures()).await;
        });
    }

    fn one_byte_reads_take_an_8_mib_stream_in_order(driver) {
        driver.block_on(async {
            let (client, mut server) = common::tcp_pair().await;
            let sent = pattern(8 << 20, 11);
            let send = async {
                client.write_all(sent.clone()).await.0.unwrap();
                client.shutdown(std::net::Shutdown::Write).await.unwrap();
            };
            let receive = async {
                let mut got = Vec::with_capacity(sent.len());
                let mut one = [0u8; 1];
                loop {
                    match poll_fn(|cx| Pin::new(&mut server).poll_read(cx, &mut one)).await.unwrap() {
                        0 => return got,
                        n => got.extend_from_slice(&one[..n]),
                    }
                }
            };
            let ((), got) = timeout(HANG, futures::future::join(send, receive)).await.expect("hung");
            assert_same_bytes(&got, &sent, "one byte at a time");
        });
    }

    fn an_empty_read_buffer_gets_zero_and_leaves_the_read_ahead(driver) {
        driver.block_on(async {
            let (mut client, server) = common::tcp_pair().await;
            server.write_all(b"abc").await.0.unwrap();
            let mut first = [0u8; 1];
            AsyncReadExt::read_exact(&mut client, &mut first).await.unwrap();
            assert_eq!(&first, b"a");
            assert_eq!(AsyncReadExt::read(&mut client, &mut []).await.unwrap(), 0);
            let (read, empty) = client.read(Vec::new()).await;
            assert_eq!((read.unwrap(), empty.len()), (0, 0));
            let mut rest = [0u8; 2];
            timeout(HANG, AsyncReadExt::read_exact(&mut client, &mut rest)).await.expect("read-ahead lost").unwrap();
            assert_eq!(&rest, b"bc");
        });
    }

    fn owned_buffer_and_trait_calls_keep_the_bytes_in_order(driver) {
        driver.block_on(async {
            let (mut client, server) = common::tcp_pair().await;
            server.write_all(b"0123456789").await.0.unwrap();
            server.shutdown(std::net::Shutdown::Write).await.unwrap();
            // The traits read ahead...
            assert_eq!(timeout(HANG, client.fill_buf()).await.unwrap().unwrap(), b"0123456789");
            AsyncBufReadExt::consume_unpin(&mut client, 2);
            // ...and the owned-buffer read takes the read-ahead first.
            let (read, three) = client.read(Vec::with_capacity(3)).await;
            assert_eq!(&three[..read.unwrap()], b"234");
            let (read, rest) = client.read(Vec::with_capacity(64)).await;
            assert_eq!(&rest[..read.unwrap()], b"56789");
            let (read, _) = client.read(Vec::with_capacity(64)).await;
            assert_eq!(read.unwrap(), 0, "end of stream");

            // A buffered trait write goes out before a later owned-buffer one.
            AsyncWriteExt::write_all(&mut client, b"first ").await.unwrap();
            client.write_all(b"second").await.0.unwrap();
            let (read, got) = server.read_exact(vec![0; 12]).await;
            read.unwrap();
            assert_eq!(got, b"first second");
        });
    }

    fn vectored_writes_gather_every_slice_into_one_write(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let slices = [IoSlice::new(b"HTTP/1.1 200 OK\r\n"), IoSlice::new(b""), IoSlice::new(b"content-length: 4\r\n\r\n"), IoSlice::new(b"body")];
            let total: usize = slices.iter().map(|s| s.len()).sum();
            // Through Compat too, which used to take the first slice only.
            let mut client = Compat::new(client);
            for _ in 0..2 {
                let taken = poll_fn(|cx| Pin::new(&mut client).poll_write_vectored(cx, &slices)).await.unwrap();
                assert_eq!(taken, total, "every slice taken at once, not just the first");
                client.flush().await.unwrap();
                let (read, got) = server.read_exact(vec![0; total]).await;
                read.unwrap();
                assert_eq!(got, b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody");
            }
            let mut client = client.into_inner();
            let taken = poll_fn(|cx| Pin::new(&mut client).poll_write_vectored(cx, &slices)).await.unwrap();
            assert_eq!(taken, total, "every slice taken at once, not just the first");
        });
    }

    fn read_ahead_moves_into_the_read_half_and_back_on_reunite(driver) {
        // Counted on Unix only, where fds can be listed.
        #[cfg(unix)]
        let fds_before = common::fd_count();
        driver.block_on(async {
            let (mut client, server) = common::tcp_pair().await;
            server.write_all(b"one\ntwo\n").await.0.unwrap();
            let mut line = String::new();
            client.read_line(&mut line).await.unwrap();
            assert_eq!(line, "one\n");
            assert_eq!(client.fill_buf().await.unwrap(), b"two\n", "read ahead");

            let (mut read, write) = client.into_split();
            line.clear();
            timeout(HANG, read.read_line(&mut line)).await.expect("the read half lost the read-ahead").unwrap();
            assert_eq!(line, "two\n");

            server.write_all(b"three\nfour\n").await.0.unwrap();
            line.clear();
            read.read_line(&mut line).await.unwrap();
            assert_eq!(line, "three\n");
            let mut client = read.reunite(write).expect("halves of one stream");
            line.clear();
            timeout(HANG, client.read_line(&mut line)).await.expect("reunite lost the read-ahead").unwrap();
            assert_eq!(line, "four\n");
        });
        #[cfg(unix)]
        assert_eq!(common::fd_count_settles(fds_before), fds_before, "fds leaked");
    }

    fn reuniting_halves_of_two_streams_fails_and_gives_both_back(driver) {
        // Counted on Unix only, where fds can be listed.
        #[cfg(unix)]
        let fds_before = common::fd_count();
        driver.block_on(async {
            let (a, a_peer) = common::tcp_pair().await;
            let (b, b_peer) = common::tcp_pair().await;
            let (a_read, a_write) = a.into_split();
            let (b_read, b_write) = b.into_split();
            let error = a_read.reunite(b_write).expect_err("halves of two streams");
            assert!(error.to_string().contains("not from the same stream"), "{error}");
            let proactor::net::tcp::ReuniteError(a_read, b_write) = error;
            let error = b_write.reunite(a_read).expect_err("still two streams");
            let proactor::net::tcp::ReuniteError(a_read, b_write) = error;
            // Both come back whole.
            let a = a_read.reunite(a_write).expect("a's halves");
            let b = b_write.reunite(b_read).expect("b's halves");
            a.write_all(b"to a's peer").await.0.unwrap();
            b.write_all(b"to b's peer").await.0.unwrap();
            assert_eq!(a_peer.read_exact(vec![0; 11]).await.1, b"to a's peer");
            assert_eq!(b_peer.read_exact(vec![0; 11]).await.1, b"to b's peer");
        });
        #[cfg(unix)]
        assert_eq!(common::fd_count_settles(fds_before), fds_before, "fds leaked");
    }

    fn dropping_a_read_half_mid_read_cancels_it_and_the_write_half_goes_on(driver) {
        // Counted on Unix only, where fds can be listed.
        #[cfg(unix)]
        let fds_before = common::fd_count();
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let (mut read, mut write) = client.into_split();
            let mut buf = [0u8; 16];
            let waker = futures::task::noop_waker();
            let polled = Pin::new(&mut read).poll_read(&mut std::task::Context::from_waker(&waker), &mut buf);
            assert!(polled.is_pending(), "nothing was sent yet");
            drop(read);
            write.write_all(b"after the drop").await.unwrap();
            write.flush().await.unwrap();
            let (got, buf) = server.read_exact(vec![0; 14]).await;
            got.unwrap();
            assert_eq!(buf, b"after the drop");
            // Nobody reads this; nothing breaks.
            server.write_all(b"unread").await.0.unwrap();
            write.close().await.unwrap();
            let (end, _) = server.read(Vec::with_capacity(1)).await;
            assert_eq!(end.unwrap(), 0, "the write half shut down");
        });
        assert!(common::park_until(&driver, HANG, || driver.in_flight() == 0), "the cancelled read stayed in flight");
        #[cfg(unix)]
        assert_eq!(common::fd_count_settles(fds_before), fds_before, "fds leaked");
    }

    fn a_forgotten_half_leaks_but_breaks_nothing(driver) {
        let driver_for_teardown = driver.clone();
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let (mut read, write) = client.into_split();
            // A write half forgotten with a write in flight...
            let mut write = write;
            write.write_all(&pattern(1 << 20, 5)).await.unwrap();
            std::mem::forget(write);
            // ...and the read half still reads.
            server.write_all(b"still readable").await.0.unwrap();
            let mut got = [0u8; 14];
            timeout(HANG, read.read_exact(&mut got)).await.expect("hung").unwrap();
            assert_eq!(&got, b"still readable");
            // A read half forgotten with a read in flight.
            let waker = futures::task::noop_waker();
            assert!(Pin::new(&mut read).poll_read(&mut std::task::Context::from_waker(&waker), &mut got).is_pending());
            std::mem::forget(read);
        });
        // Teardown cancels what the forgotten halves left in flight.
        common::finishes_within(HANG, "dropping the driver", move || drop(driver_for_teardown));
    }

    fn writing_after_shutdown_is_an_error_not_a_panic(driver) {
        driver.block_on(async {
            let (mut client, server) = common::tcp_pair().await;
            AsyncWriteExt::write_all(&mut client, b"last words").await.unwrap();
            client.close().await.unwrap();
            // Twice is fine.
            client.close().await.unwrap();
            let late = async {
                AsyncWriteExt::write_all(&mut client, b"too late").await?;
                client.flush().await
            };
            let error = late.await.expect_err("a write after shutdown");
            assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
            let (owned, _) = client.write_all(b"too late").await;
            assert_eq!(owned.expect_err("an owned write after shutdown").kind(), std::io::ErrorKind::BrokenPipe);
            let (read, got) = server.read(Vec::with_capacity(64)).await;
            assert_eq!(&got[..read.unwrap()], b"last words");
            let (end, _) = server.read(Vec::with_capacity(64)).await;
            assert_eq!(end.unwrap(), 0);
        });
    }

    fn compat_and_streams_allocate_buffers_on_use_sized_to_it_and_then_reuse_them(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            // Compat used to allocate 64 KiB per direction up front.
            let ((mut client, mut server), wrapped, _) =
                large_allocations_during(async { (Compat::new(client), Compat::new(server)) }).await;
            assert_eq!(wrapped, 0, "no buffer before the first use");

            let ((), first, first_bytes) = large_allocations_during(ping_pong(&mut client, &mut server)).await;
            // A read and a write buffer on each side, each of the starting
            // size: 8 KiB.
            assert!(first <= 4 && first_bytes <= 4 * 8192, "{first} buffers, {first_bytes} bytes for a 10-byte exchange");

            let ((), warm, _) = large_allocations_during(async {
                for _ in 0..100 {
                    ping_pong(&mut client, &mut server).await;
                }
            })
            .await;
            assert_eq!(warm, 0, "warm streams allocated {warm} buffers");
        });
    }

    fn compat_with_a_huge_capacity_sizes_its_buffers_by_use(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            // The capacity is a limit now, not an allocation made up front
            // (which failed with a capacity overflow).
            let mut client = Compat::with_capacity(usize::MAX, client);
            let mut server = Compat::with_capacity(usize::MAX, server);
            ping_pong(&mut client, &mut server).await;
        });
    }

    fn file_cursor_methods_read_write_seek_read_to_end_and_read_to_string(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cursor");
        driver.block_on(async {
            let mut file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
            let (written, _) = file.write(b"0123456789").await;
            assert_eq!(written.unwrap(), 10);
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 10);
            let mut rest = Vec::new();
            assert_eq!(file.read_to_end(&mut rest).await.unwrap(), 0, "at the end");
            assert_eq!(file.seek(SeekFrom::Start(2)).await.unwrap(), 2);
            let (read, got) = file.read(Vec::with_capacity(3)).await;
            assert_eq!(&got[..read.unwrap()], b"234");
            let (written, _) = file.write(b"ab").await;
            assert_eq!(written.unwrap(), 2);
            let mut tail = String::new();
            assert_eq!(file.read_to_string(&mut tail).await.unwrap(), 3);
            assert_eq!(tail, "789");
            assert_eq!(file.seek(SeekFrom::End(-10)).await.unwrap(), 0);
            let mut all = b">".to_vec();
            assert_eq!(file.read_to_end(&mut all).await.unwrap(), 10);
            assert_eq!(all, b">01234ab789");
            let error = file.seek(SeekFrom::Current(-11)).await.expect_err("before the start");
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
            file.close().await.unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"01234ab789");
    }

    fn file_read_to_string_refuses_invalid_utf8_and_leaves_the_string(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1");
        std::fs::write(&path, b"caf\xe9").unwrap();
        driver.block_on(async {
            let mut file = File::open(&path).await.unwrap();
            let mut text = String::from("kept");
            let error = file.read_to_string(&mut text).await.expect_err("not UTF-8");
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
            assert_eq!(text, "kept");
        });
    }

    fn file_failed_write_puts_the_cursor_back_where_the_bytes_stopped(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read-only");
        std::fs::write(&path, b"0123456789").unwrap();
        driver.block_on(async {
            let mut file = File::open(&path).await.unwrap();
            let mut head = [0u8; 2];
            file.read_exact(&mut head).await.unwrap();
            // Reported by the write or by the flush, depending on the back end.
            let wrote = AsyncWriteExt::write(&mut file, b"abc").await;
            let flushed = file.flush().await;
            assert!(wrote.is_err() || flushed.is_err(), "a write to a read-only file fails somewhere");
            assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 2, "the cursor after the failed write");
            let mut rest = String::new();
            file.read_to_string(&mut rest).await.unwrap();
            assert_eq!(rest, "23456789");
        });
    }

    fn file_traits_read_ahead_write_at_the_cursor_and_seek(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traits");
        let data = pattern(300_000, 9);
        std::fs::write(&path, &data).unwrap();
        driver.block_on(async {
            let mut file = OpenOptions::new().read(true).write(true).open(&path).await.unwrap();
            let mut head = vec![0u8; 1000];
            file.read_exact(&mut head).await.unwrap();
            assert_same_bytes(&head, &data[..1000], "head");
            // Seeking within the read-ahead, forward, keeps it.
            assert_eq!(AsyncSeekExt::seek(&mut file, SeekFrom::Current(24)).await.unwrap(), 1024);
            file.write_all(b"WRITTEN").await.unwrap();
            file.flush().await.unwrap();
            let mut next = [0u8; 9];
            file.read_exact(&mut next).await.unwrap();
            assert_eq!(&next, &data[1031..1040], "read after the written bytes");
            let mut sink = futures::io::Cursor::new(Vec::new());
            AsyncSeekExt::seek(&mut file, SeekFrom::Start(0)).await.unwrap();
            futures::io::copy(&mut file, &mut sink).await.unwrap();
            let mut expected = data.clone();
            expected[1024..1031].copy_from_slice(b"WRITTEN");
            assert_same_bytes(&sink.into_inner(), &expected, "the whole file");
        });
    }

    fn tasks_reading_through_borrowed_halves_at_once_each_get_woken_and_lose_nothing(driver) {
        on_tokio_current_thread(&driver, async {
            let (client, server) = common::tcp_pair().await;
            let client = Arc::new(client);
            let sent = pattern(1 << 20, 21);
            // Appended in the order the reads completed: one thread, so
            // that is the order the bytes were taken in.
            let taken = Arc::new(std::sync::Mutex::new(Vec::with_capacity(sent.len())));
            let readers: Vec<_> = (0..3u64)
                .map(|id| {
                    let (client, taken) = (client.clone(), taken.clone());
                    tokio::spawn(async move {
                        let (mut read, _) = TcpStream::split(&client);
                        let mut buf = vec![0u8; 4096];
                        let mut size = id as usize + 1;
                        loop {
                            size = (size * 31 + 7) % buf.len() + 1;
                            let n = read.read(&mut buf[..size]).await.unwrap();
                            if n == 0 {
                                return;
                            }
                            taken.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                    })
                })
                .collect();
            let send = {
                let sent = sent.clone();
                tokio::spawn(async move {
                    for chunk in sent.chunks(10_000) {
                        server.write_all(chunk.to_vec()).await.0.unwrap();
                        tokio::task::yield_now().await;
                    }
                    server.shutdown(std::net::Shutdown::Write).await.unwrap();
                })
            };
            timeout(HANG, async {
                send.await.unwrap();
                for reader in readers {
                    reader.await.unwrap();
                }
            })
            .await
            .expect("a reader was never woken");
            assert_same_bytes(&taken.lock().unwrap(), &sent, "bytes taken by three readers");
        });
    }
}

/// Borrowed halves by way of `futures::io::AsyncReadExt::split`, the
/// generic splitter, over `&TcpStream`.
trait SplitViaFutures {
    fn split_via_futures(
        &self,
    ) -> (
        futures::io::ReadHalf<&TcpStream>,
        futures::io::WriteHalf<&TcpStream>,
    );
}

impl SplitViaFutures for TcpStream {
    fn split_via_futures(
        &self,
    ) -> (
        futures::io::ReadHalf<&TcpStream>,
        futures::io::WriteHalf<&TcpStream>,
    ) {
        AsyncReadExt::split(self)
    }
}

/// `UnixStream` exists on Unix only.
#[cfg(unix)]
mod unix_only {
    use super::*;
    use proactor::net::UnixStream;

    both_backends! {
        fn full_duplex_8_mib_each_way_through_owned_unix_halves(driver) {
            driver.block_on(async {
                let (client, server) = UnixStream::pair().unwrap();
                echo_8_mib_each_way_through_halves(client.into_split(), server.into_split()).await;
            });
        }

        fn unix_read_ahead_survives_split_and_reunite(driver) {
            driver.block_on(async {
                let (mut client, server) = UnixStream::pair().unwrap();
                server.write_all(b"a\nb\n").await.0.unwrap();
                let mut line = String::new();
                client.read_line(&mut line).await.unwrap();
                assert_eq!(client.fill_buf().await.unwrap(), b"b\n", "read ahead");
                let (mut read, write) = client.into_split();
                line.clear();
                timeout(HANG, read.read_line(&mut line)).await.expect("read-ahead lost").unwrap();
                assert_eq!(line, "b\n");
                let (other, _other_peer) = UnixStream::pair().unwrap();
                let (_, other_write) = other.into_split();
                let proactor::net::unix::ReuniteError(read, _) = read.reunite(other_write).expect_err("two streams");
                read.reunite(write).expect("one stream");
            });
        }
    }
}

/// tokio's own helpers over proactor's types, with no adapter.
#[cfg(feature = "tokio")]
mod tokio_traits {
    use super::*;
    use tokio::io::{AsyncBufReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

    both_backends! {
        fn tokio_copy_bidirectional_carries_8_mib_each_way_through_a_proxy(driver) {
            on_tokio_current_thread(&driver, async {
                let (mut client, mut proxy_front) = common::tcp_pair().await;
                let (mut proxy_back, upstream) = common::tcp_pair().await;
                let proxy = tokio::spawn(async move {
                    tokio::io::copy_bidirectional(&mut proxy_front, &mut proxy_back).await.unwrap()
                });
                let up = pattern(8 << 20, 1);
                let down = pattern(8 << 20, 2);
                let client_side = {
                    let up = up.clone();
                    tokio::spawn(async move {
                        let (mut read, mut write) = tokio::io::split(&mut client);
                        let send = async {
                            tokio::io::AsyncWriteExt::write_all(&mut write, &up).await.unwrap();
                            tokio::io::AsyncWriteExt::shutdown(&mut write).await.unwrap();
                        };
                        let mut got = Vec::with_capacity(8 << 20);
                        let receive = tokio::io::AsyncReadExt::read_to_end(&mut read, &mut got);
                        let ((), received) = tokio::join!(send, receive);
                        received.unwrap();
                        got
                    })
                };
                let upstream_side = {
                    let down = down.clone();
                    tokio::spawn(async move {
                        let (mut read, mut write) = TcpStream::split(&upstream);
                        let send = async {
                            tokio::io::AsyncWriteExt::write_all(&mut write, &down).await.unwrap();
                            tokio::io::AsyncWriteExt::shutdown(&mut write).await.unwrap();
                        };
                        let mut got = Vec::with_capacity(8 << 20);
                        let receive = tokio::io::AsyncReadExt::read_to_end(&mut read, &mut got);
                        let ((), received) = tokio::join!(send, receive);
                        received.unwrap();
                        got
                    })
                };
                let (copied, at_client, at_upstream) = timeout(HANG, async {
                    (proxy.await.unwrap(), client_side.await.unwrap(), upstream_side.await.unwrap())
                })
                .await
                .expect("copy_bidirectional hung");
                assert_eq!(copied, (up.len() as u64, down.len() as u64));
                assert_same_bytes(&at_upstream, &up, "client to upstream");
                assert_same_bytes(&at_client, &down, "upstream to client");
            });
        }

        fn tokio_owned_halves_echo_8_mib_each_way_with_copy_buf(driver) {
            on_tokio_current_thread(&driver, async {
                let (client, server) = common::tcp_pair().await;
                let (mut server_read, mut server_write) = server.into_split();
                let echo = tokio::spawn(async move {
                    // Straight from the read half's buffer: no third one.
                    let copied = tokio::io::copy_buf(&mut server_read, &mut server_write).await.unwrap();
                    server_write.shutdown().await.unwrap();
                    copied
                });
                let sent = pattern(8 << 20, 7);
                let (mut client_read, mut client_write) = client.into_split();
                let send = {
                    let sent = sent.clone();
                    tokio::spawn(async move {
                        tokio::io::AsyncWriteExt::write_all(&mut client_write, &sent).await.unwrap();
                        client_write.shutdown().await.unwrap();
                        client_write
                    })
                };
                let receive = tokio::spawn(async move {
                    let mut got = Vec::with_capacity(8 << 20);
                    tokio::io::AsyncReadExt::read_to_end(&mut client_read, &mut got).await.unwrap();
                    (got, client_read)
                });
                let (copied, client_write, (got, client_read)) = timeout(HANG, async {
                    (echo.await.unwrap(), send.await.unwrap(), receive.await.unwrap())
                })
                .await
                .expect("the echo hung");
                assert_eq!(copied as usize, sent.len());
                assert_same_bytes(&got, &sent, "echoed");
                client_read.reunite(client_write).expect("one stream's halves");
            });
        }

        fn tokio_buf_reader_buf_writer_lines_read_to_end_and_split(driver) {
            on_tokio_current_thread(&driver, async {
                let (client, server) = common::tcp_pair().await;
                let (server_read, mut server_write) = tokio::io::split(server);
                let lines: Vec<String> = (0..3000).map(|i| format!("{i}: {}", "y".repeat(i % 113))).collect();
                let write = {
                    let lines = lines.clone();
                    tokio::spawn(async move {
                        let mut writer = tokio::io::BufWriter::new(client);
                        for line in &lines {
                            writer.write_all(line.as_bytes()).await.unwrap();
                            writer.write_all(b"\n").await.unwrap();
                        }
                        writer.shutdown().await.unwrap();
                        writer.into_inner()
                    })
                };
                let read = tokio::spawn(async move {
                    let mut reader = tokio::io::BufReader::new(server_read).lines();
                    let mut got = Vec::new();
                    while let Some(line) = reader.next_line().await.unwrap() {
                        got.push(line);
                    }
                    got
                });
                let (mut client, got) = timeout(HANG, async { (write.await.unwrap(), read.await.unwrap()) })
                    .await
                    .expect("hung");
                assert_eq!(got, lines);

                server_write.write_all(b"bye").await.unwrap();
                server_write.shutdown().await.unwrap();
                let mut rest = Vec::new();
                // `TcpStream` is an `AsyncBufRead` itself: `read_until` on it directly.
                tokio::io::AsyncBufReadExt::read_until(&mut client, b'y', &mut rest).await.unwrap();
                assert_eq!(rest, b"by");
                rest.clear();
                tokio::io::AsyncReadExt::read_to_end(&mut client, &mut rest).await.unwrap();
                assert_eq!(rest, b"e");
            });
        }

        fn tokio_streams_write_vectored(driver) {
            on_tokio_current_thread(&driver, async {
                let (mut client, server) = common::tcp_pair().await;
                assert!(tokio::io::AsyncWrite::is_write_vectored(&client));
                let slices = [IoSlice::new(b"head "), IoSlice::new(b"and "), IoSlice::new(b"body")];
                let taken = tokio::io::AsyncWriteExt::write_vectored(&mut client, &slices).await.unwrap();
                assert_eq!(taken, 13);
                tokio::io::AsyncWriteExt::flush(&mut client).await.unwrap();
                let (read, got) = server.read_exact(vec![0; 13]).await;
                read.unwrap();
                assert_eq!(got, b"head and body");
            });
        }

        fn tokio_file_read_write_seek_through_its_traits(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tokio-file");
            on_tokio_current_thread(&driver, async {
                let mut file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
                tokio::io::AsyncWriteExt::write_all(&mut file, b"hello, tokio file").await.unwrap();
                tokio::io::AsyncWriteExt::flush(&mut file).await.unwrap();
                assert_eq!(tokio::io::AsyncSeekExt::stream_position(&mut file).await.unwrap(), 17);
                file.rewind().await.unwrap();
                let mut hello = [0u8; 5];
                tokio::io::AsyncReadExt::read_exact(&mut file, &mut hello).await.unwrap();
                assert_eq!(&hello, b"hello");
                tokio::io::AsyncSeekExt::seek(&mut file, SeekFrom::End(-4)).await.unwrap();
                let mut rest = String::new();
                tokio::io::AsyncReadExt::read_to_string(&mut file, &mut rest).await.unwrap();
                assert_eq!(rest, "file");
                file.close().await.unwrap();
            });
        }
    }
}
