//! Zero-copy send (`TcpStream::send_zc`, `op::SendZc`): every byte arrives,
//! the buffer comes back only once the kernel let go of it, also when the
//! future is dropped between the send's two completions; the same
//! assertions on both back ends (a plain send on the readiness back end).

mod common;

use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use proactor::buf::IoBuf;

both_backends! {
    fn every_byte_arrives_and_the_buffer_comes_back(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
            let receiver = async {
                let (got, buf) = server.read_exact(vec![0u8; data.len()]).await;
                got.unwrap();
                buf
            };
            let sender = async {
                let mut buf = data.clone();
                let mut sent = 0;
                while sent < data.len() {
                    let (n, slice) = client.send_zc(buf.slice(sent..)).await;
                    buf = slice.into_inner();
                    sent += n.unwrap();
                }
                buf
            };
            let (received, sent_buf) = futures::join!(receiver, sender);
            assert!(received == data, "the bytes differ");
            assert!(sent_buf == data, "the buffer came back changed");
        });
        assert_eq!(driver.in_flight(), 0);
    }

    fn a_send_to_a_closed_peer_fails_with_its_buffer(driver) {
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            drop(server);
            // The peer's reset may take a send or two to be seen.
            let mut buf = vec![3u8; 64 * 1024];
            let error = loop {
                let (result, back) = client.send_zc(buf).await;
                buf = back;
                match result {
                    Ok(_) => proactor::time::sleep(Duration::from_millis(1)).await.unwrap(),
                    Err(error) => break error,
                }
            };
            assert!(
                matches!(error.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset),
                "{error}"
            );
            assert_eq!(buf.len(), 64 * 1024);
        });
    }

    fn a_send_dropped_in_flight_keeps_its_buffer_until_the_kernel_lets_go(driver) {
        let mut tracked = Vec::new();
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            for _ in 0..8 {
                // Bigger than the socket buffers, and nobody reads: the send
                // stays in flight.
                let (buf, dropped) = common::TrackedBuf::filled(8 << 20, 9);
                tracked.push(dropped);
                let mut send = Box::pin(client.send_zc(buf));
                let _ = futures::poll!(&mut send);
            }
            drop(server);
        });
        assert!(
            common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0),
            "{} sends still held",
            driver.in_flight()
        );
        assert!(
            tracked.iter().all(|dropped| dropped.load(Ordering::SeqCst)),
            "a dropped send's buffer was never freed"
        );
    }
}
