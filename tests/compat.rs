//! `futures::io` compatibility on both back ends.

mod common;

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use proactor::compat::Compat;
use proactor::fs::OpenOptions;
use proactor::net::{TcpListener, TcpStream};

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
            let file = file.into_inner();
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
}
