//! Buffers handed to real reads on both back ends: what a read into a window
//! leaves visible, in the window and in the buffer given back.

mod common;

use proactor::buf::IoBuf;
use proactor::fs::File;

/// A Vec of 64 bytes capacity and no length whose memory holds 0xaa: bytes
/// it no longer counts, as stale heap contents would be.
fn vec_over_stale_bytes() -> Vec<u8> {
    let mut buf = vec![0xaa; 64];
    buf.clear();
    buf
}

both_backends! {
    fn slice_set_init_never_marks_bytes_before_the_window(driver) {
        let (file, data) = common::pattern_file(100);
        driver.block_on(async {
            let f = File::open(file.path()).await.unwrap();
            let (n, window) = f.read_at(vec_over_stale_bytes().slice(32..64), 0).await;
            assert_eq!(n.unwrap(), 32);
            assert_eq!(window.bytes_init(), 32);
            assert_eq!(&window[..], &data[..32], "the window shows exactly what was read");
            // Nobody wrote bytes 0..32: the Vec may only count them once the
            // Slice has zeroed them.
            let inner = window.into_inner();
            assert_eq!(inner.len(), 64);
            assert_eq!(&inner[..32], &[0; 32], "stale bytes before the window are exposed");
            assert_eq!(&inner[32..], &data[..32]);
        });
    }

    fn slice_set_init_zeroes_the_gap_before_a_short_read(driver) {
        let (file, data) = common::pattern_file(100);
        driver.block_on(async {
            let f = File::open(file.path()).await.unwrap();
            let mut buf = vec_over_stale_bytes();
            buf.extend_from_slice(b"head");
            // The window starts 4 bytes past the initialised part, and the
            // read is shorter than the window.
            let (n, window) = f.read_at(buf.slice(8..64), 90).await;
            assert_eq!(n.unwrap(), 10);
            assert_eq!(&window[..], &data[90..]);
            let inner = window.into_inner();
            assert_eq!(inner.len(), 18);
            assert_eq!(&inner[..8], b"head\0\0\0\0", "stale bytes 4..8 are exposed");
            assert_eq!(&inner[8..], &data[90..]);
        });
    }

    fn slice_read_at_end_of_file_counts_nothing_before_the_window(driver) {
        let (file, _) = common::pattern_file(100);
        driver.block_on(async {
            let f = File::open(file.path()).await.unwrap();
            let (n, window) = f.read_at(vec_over_stale_bytes().slice(32..64), 100).await;
            assert_eq!(n.unwrap(), 0);
            assert!(window.is_empty());
            assert_eq!(window.into_inner().len(), 0, "an empty read counts stale bytes");
        });
    }
}
