//! Positional reads and writes over several buffers (`File::read_vectored_at`,
//! `File::write_vectored_at`, `op::ReadVectoredAt`, `op::WriteVectoredAt`)
//! on both back ends, with the same assertions.

mod common;

use std::io;
use std::time::Duration;

use proactor::buf::IoBuf;
use proactor::fs::File;
use proactor::op::{Op, ReadVectoredAt, MAX_BUFFERS};

both_backends! {
    fn buffers_fill_in_order_and_stop_at_the_end_of_the_file(driver) {
        let (file, data) = common::pattern_file(10_000);
        driver.block_on(async {
            let file = File::open(file.path()).await.unwrap();
            let bufs = vec![Vec::with_capacity(3000), Vec::with_capacity(9000), Vec::with_capacity(64)];
            let (n, bufs) = file.read_vectored_at(bufs, 1000).await;
            assert_eq!(n.unwrap(), 9000);
            assert_eq!(bufs[0], data[1000..4000]);
            assert_eq!(bufs[1], data[4000..]);
            assert!(bufs[2].is_empty(), "nothing past the end of the file");
            // At the end: nothing, and no buffer touched.
            let (n, bufs) = file.read_vectored_at(vec![vec![9u8; 4]], 10_000).await;
            assert_eq!(n.unwrap(), 0);
            assert_eq!(bufs[0], [9u8; 4]);
        });
    }

    fn a_reused_buffer_is_overwritten_from_its_start_and_never_shrinks(driver) {
        let (file, data) = common::pattern_file(100);
        driver.block_on(async {
            let file = File::open(file.path()).await.unwrap();
            let mut long = Vec::with_capacity(50);
            long.extend_from_slice(&[0xee; 40]);
            let (n, bufs) = file.read_vectored_at(vec![vec![0u8; 10], long], 90).await;
            assert_eq!(n.unwrap(), 10);
            assert_eq!(bufs[0], data[90..]);
            assert_eq!(bufs[1], [0xee; 40], "kept as it was: no byte reached it");
        });
    }

    fn writes_go_out_in_order_from_slices_and_come_back(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        driver.block_on(async {
            let file = File::create(&path).await.unwrap();
            let head = b"0123456789".to_vec();
            let parts = vec![head.slice(2..5), b"abc".to_vec().slice(..), Vec::new().slice(..)];
            let (n, parts) = file.write_vectored_at(parts, 4).await;
            assert_eq!(n.unwrap(), 6);
            let first = parts.into_iter().next().unwrap().into_inner();
            assert_eq!(first, b"0123456789", "the buffers come back");
            file.sync_all().await.unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"\x00\x00\x00\x00234abc");
    }

    fn no_buffers_is_nothing_and_too_many_is_a_clear_error(driver) {
        let (file, _) = common::pattern_file(16);
        driver.block_on(async {
            let file = File::open(file.path()).await.unwrap();
            let (n, bufs) = file.read_vectored_at(Vec::<Vec<u8>>::new(), 0).await;
            assert_eq!(n.unwrap(), 0);
            assert!(bufs.is_empty());
            let many = vec![vec![0u8; 1]; MAX_BUFFERS + 1];
            let (n, bufs) = file.read_vectored_at(many, 0).await;
            let error = n.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            assert_eq!(bufs.len(), MAX_BUFFERS + 1, "the buffers come back");
            let (n, _) = file.write_vectored_at(vec![&b"x"[..]; MAX_BUFFERS + 1], 0).await;
            assert_eq!(n.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            // An offset off_t cannot hold.
            let (n, _) = file.read_vectored_at(vec![Vec::<u8>::with_capacity(1)], u64::MAX).await;
            assert!(n.is_err());
            // Exactly the most: fine.
            // (Built one by one: a clone of an empty Vec has no capacity.)
            let most: Vec<_> = (0..MAX_BUFFERS).map(|_| Vec::<u8>::with_capacity(1)).collect();
            let (n, _) = file.read_vectored_at(most, 0).await;
            assert_eq!(n.unwrap(), 16);
        });
    }

    fn reads_dropped_in_flight_release_everything(driver) {
        let (file, _) = common::pattern_file(1 << 20);
        let std_file = std::sync::Arc::new(std::fs::File::open(file.path()).unwrap());
        let mut tracked = Vec::new();
        driver.block_on(async {
            let mut reads: Vec<_> = (0..64u64)
                .map(|i| {
                    let (buf, dropped) = common::TrackedBuf::new(4096);
                    tracked.push(dropped);
                    let read = ReadVectoredAt::new(std_file.clone(), vec![buf], i * 4096);
                    Box::pin(Op::with_driver(read, driver.clone()))
                })
                .collect();
            for read in &mut reads {
                let _ = futures::poll!(read);
            }
        });
        assert!(
            common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0),
            "{} reads still held",
            driver.in_flight()
        );
        assert!(
            tracked.iter().all(|dropped| dropped.load(std::sync::atomic::Ordering::SeqCst)),
            "a buffer of a dropped read was never freed"
        );
        assert_eq!(std::sync::Arc::strong_count(&std_file), 1, "a dropped read kept the file");
    }
}
