//! `Compat` under real adapters (tokio-util's compat with
//! `copy_bidirectional`, `BufReader`, `split`; futures' `copy`), and its
//! file cursor on error paths.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use proactor::compat::Compat;
use proactor::Driver;

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// tokio current-thread runtime, `driver` current, a helper parking on it
/// without a timeout (as the process-wide driver's thread does).
fn on_tokio<F: std::future::Future>(driver: &Driver, fut: F) -> F::Output {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                driver.park(None).unwrap();
            }
        });
        let _current = driver.enter();
        let out = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(fut);
        stop.store(true, Ordering::SeqCst);
        driver.unpark();
        out
    })
}

both_backends! {
    /// A proxy: client <-> [Compat a | copy_bidirectional | Compat b] <-> server,
    /// 4 MiB each way, then the client shuts down its write side; the proxy
    /// must forward the EOF and end, and every byte must arrive.
    fn tokio_copy_bidirectional_proxy(driver) {
        use tokio_util::compat::FuturesAsyncReadCompatExt;
        let d = driver.clone();
        common::finishes_within(Duration::from_secs(60), "copy_bidirectional proxy", move || {
            on_tokio(&d.clone(), async move {
                let (client, proxy_front) = common::tcp_pair().await;
                let (proxy_back, server) = common::tcp_pair().await;
                let mut front = Compat::new(proxy_front).compat();
                let mut back = Compat::new(proxy_back).compat();
                let proxy = tokio::spawn(async move {
                    tokio::io::copy_bidirectional(&mut front, &mut back).await
                });
                let up = pattern(4 << 20, 1);
                let down = pattern(4 << 20, 2);
                let (up2, down2) = (up.clone(), down.clone());
                let mut client = Compat::new(client);
                let mut server = Compat::new(server);
                let server_task = tokio::spawn(async move {
                    let mut got = vec![0u8; up2.len()];
                    server.read_exact(&mut got).await.unwrap();
                    assert!(got == up2, "upstream bytes differ");
                    server.write_all(&down2).await.unwrap();
                    server.close().await.unwrap();
                    let mut rest = Vec::new();
                    server.read_to_end(&mut rest).await.unwrap();
                    assert!(rest.is_empty());
                });
                client.write_all(&up).await.unwrap();
                client.flush().await.unwrap();
                let mut got = vec![0u8; down.len()];
                client.read_exact(&mut got).await.unwrap();
                assert!(got == down, "downstream bytes differ");
                client.close().await.unwrap();
                let mut rest = Vec::new();
                client.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty());
                server_task.await.unwrap();
                let (a, b) = proxy.await.unwrap().unwrap();
                assert_eq!((a, b), (up.len() as u64, down.len() as u64));
            })
        });
    }

    /// `futures::io::copy` from a file `Compat` (through a `BufReader`) into a
    /// stream, and back into another file: same bytes.
    fn futures_copy_file_to_stream_to_file(driver) {
        let data = pattern(3_000_001, 3);
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let dst = dir.path().join("dst");
        std::fs::write(&src, &data).unwrap();
        driver.block_on(async {
            let (a, b) = common::tcp_pair().await;
            let file = proactor::fs::File::open(&src).await.unwrap();
            let reader = futures::io::BufReader::with_capacity(7919, Compat::with_capacity(4093, file));
            let mut a = Compat::new(a);
            let out = proactor::fs::File::create(&dst).await.unwrap();
            let mut out = Compat::with_capacity(1000, out);
            let mut b = Compat::new(b);
            let send = async {
                let n = futures::io::copy(reader, &mut a).await.unwrap();
                a.close().await.unwrap();
                n
            };
            let recv = async {
                let n = futures::io::copy(&mut b, &mut out).await.unwrap();
                out.close().await.unwrap();
                n
            };
            let (n1, n2) = futures::join!(send, recv);
            assert_eq!((n1, n2), (data.len() as u64, data.len() as u64));
        });
        assert!(std::fs::read(&dst).unwrap() == data, "copied file differs");
    }

    /// A file opened read-only: a write through `Compat` fails. The failed
    /// write must not move the cursor past bytes that were never written
    /// (as `std::fs::File` would not): the next read starts where it was.
    fn compat_file_failed_write_moves_the_cursor(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro");
        std::fs::write(&path, b"0123456789").unwrap();
        driver.block_on(async {
            let file = proactor::fs::File::open(&path).await.unwrap();
            let mut file = Compat::new(file);
            let wrote = file.write(b"abc").await;
            let flushed = file.flush().await;
            assert!(wrote.is_err() || flushed.is_err(), "a write to a read-only file failed somewhere");
            let mut all = String::new();
            file.read_to_string(&mut all).await.unwrap();
            assert_eq!(all, "0123456789", "cursor after the failed write: {}", file.position());
        });
    }
}
