//! Sending from registered (fixed) buffers: `send_zc` names the buffer's
//! slot (`IORING_RECVSEND_FIXED_BUF`) on io_uring, and every send refuses a
//! buffer of another driver's set; the same assertions on both back ends.
#![cfg(target_os = "linux")]

mod common;

use std::io::{ErrorKind, Read};

use proactor::buf::{FixedBuf, FixedBuffers, IoBuf};
use proactor::Driver;

fn filled(buffers: &FixedBuffers, data: &[u8]) -> FixedBuf {
    let mut buf = buffers.take().expect("a free buffer");
    buf.extend_from_slice(data).unwrap();
    buf
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

both_backends! {
    fn send_zc_from_a_fixed_buffer(driver) {
        let buffers = FixedBuffers::with_driver(&driver, 2, 64 * 1024).unwrap();
        let sent = pattern(64 * 1024);
        let (mut client, server) = common::std_tcp_pair();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            client.read_to_end(&mut all).unwrap();
            all
        });
        driver.block_on(async {
            let server = proactor::net::TcpStream::from_std(server).unwrap();
            let mut buf = filled(&buffers, &sent);
            let mut total = 0;
            // Whole buffer, then a window of it: both lie in the slot.
            for range in [0..sent.len(), 1000..5000] {
                let (result, back) = server.send_zc(buf.slice(range.clone())).await;
                let n = result.unwrap();
                assert!(n > 0 && n <= range.len());
                total += n;
                buf = back.into_inner();
                if n < range.len() {
                    let (rest, back) = server.write_all(buf.slice(range.start + n..range.end)).await;
                    rest.unwrap();
                    buf = back.into_inner();
                    total += range.len() - n;
                }
            }
            assert_eq!(total, sent.len() + 4000);
            drop(server);
            assert_eq!(buffers.available(), 1, "the buffer is back in hand, not in the set");
            drop(buf);
            assert_eq!(buffers.available(), 2);
        });
        let all = reader.join().unwrap();
        assert_eq!(&all[..sent.len()], &sent[..]);
        assert_eq!(&all[sent.len()..], &sent[1000..5000]);
    }

    fn sends_refuse_a_buffer_of_another_driver(driver) {
        let other = Driver::builder().force(driver.backend()).build().unwrap();
        let buffers = FixedBuffers::with_driver(&other, 2, 4096).unwrap();
        driver.block_on(async {
            let (client, server) = common::tcp_pair().await;
            let (result, buf) = client.send_zc(filled(&buffers, b"not here")).await;
            assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidInput);
            let (result, buf) = client.write_all(buf).await;
            assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidInput);
            drop(buf);
            // Nothing was sent: the next bytes are the first.
            client.write_all(b"first".to_vec()).await.0.unwrap();
            let (n, got) = server.read_exact(vec![0u8; 5]).await;
            n.unwrap();
            assert_eq!(got, b"first");
            assert_eq!(buffers.available(), 2);
        });
    }
}
