//! `File::into_std`, `try_into_std` and `try_clone` under hostile use.
#![cfg(unix)]

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use proactor::fs::{File, OpenOptions};

both_backends! {
    /// A write through the cursor's AsyncWrite to a read-only file fails
    /// with EBADF: into_std must report it, not hand back a std file.
    fn into_std_reports_a_failed_buffered_write(driver) {
        let (tmp, _) = common::pattern_file(64);
        let path = tmp.path().to_owned();
        let d = driver.clone();
        let result = driver.block_on(async move {
            let mut file = File::open(&path).await.unwrap();
            let wrote = AsyncWriteExt::write(&mut file, b"doomed").await;
            assert!(matches!(wrote, Ok(6)), "{wrote:?}");
            let _ = d;
            file.into_std().await
        });
        assert!(result.is_err(), "the failed write's error was lost: {result:?}");
    }

    /// Same, but the write is given time to fail before the conversion:
    /// try_into_std must not return a std file as if all were well.
    fn try_into_std_after_a_failed_buffered_write(driver) {
        let (tmp, _) = common::pattern_file(64);
        let path = tmp.path().to_owned();
        let lost = driver.block_on(async move {
            let mut file = File::open(&path).await.unwrap();
            let wrote = AsyncWriteExt::write(&mut file, b"doomed").await;
            assert!(matches!(wrote, Ok(6)), "{wrote:?}");
            proactor::time::sleep(Duration::from_millis(20)).await.unwrap();
            match file.try_into_std() {
                Ok(_) => true,
                Err(mut file) => {
                    // If it refused, the error must come out of a flush.
                    file.flush().await.is_ok()
                }
            }
        });
        assert!(!lost, "a failed buffered write's error was never reported");
    }

    /// into_std while a read-ahead is in flight, after consuming part of
    /// it: the OS offset is the logical cursor, not where the read-ahead got.
    fn into_std_after_partial_read_ahead(driver) {
        let (tmp, data) = common::pattern_file(100_000);
        let path = tmp.path().to_owned();
        let mut std_file = driver.block_on(async move {
            let mut file = File::open(&path).await.unwrap();
            let mut five = [0u8; 5];
            file.read_exact(&mut five).await.unwrap();
            file.into_std().await.unwrap()
        });
        assert_eq!(std_file.stream_position().unwrap(), 5);
        let mut rest = Vec::new();
        std_file.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[5..]);
    }

    /// try_clone: the clone starts at the original's cursor, even when the
    /// original has a read-ahead buffered.
    fn try_clone_starts_at_the_cursor(driver) {
        let (tmp, data) = common::pattern_file(50_000);
        let path = tmp.path().to_owned();
        driver.block_on(async move {
            let mut file = File::open(&path).await.unwrap();
            let mut seven = [0u8; 7];
            file.read_exact(&mut seven).await.unwrap();
            let mut clone = file.try_clone().unwrap();
            let mut next = [0u8; 3];
            clone.read_exact(&mut next).await.unwrap();
            assert_eq!(next, data[7..10]);
            // The original is unaffected by the clone's reads.
            file.read_exact(&mut next).await.unwrap();
            assert_eq!(next, data[7..10]);
        });
    }

    /// try_clone with buffered (unflushed) writes: the clone's cursor is
    /// past them, and once flushed they are visible through the clone.
    fn try_clone_with_buffered_writes(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        driver.block_on(async move {
            let mut file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
            file.write_all(b"0123456789").await.unwrap();
            let mut clone = file.try_clone().unwrap();
            file.flush().await.unwrap();
            clone.write_all(b"AB").await.unwrap();
            clone.flush().await.unwrap();
            drop((file, clone));
            assert_eq!(std::fs::read(&path).unwrap(), b"0123456789AB");
        });
    }

    /// A FIFO: into_std with a read-ahead blocked in flight must return
    /// promptly (the read cancelled) and the std file must still read.
    fn into_std_on_a_fifo_with_a_blocked_read_ahead(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let rw = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let writer = rw.try_clone().unwrap();
        let d = driver.clone();
        let mut std_file = common::finishes_within(Duration::from_secs(10), "into_std on a fifo", move || {
            d.block_on(async move {
                let mut file = File::from_std(rw).unwrap();
                let waker = common::FnWaker::waker(|| {}, || {});
                let mut b = [0u8; 4];
                let polled = futures::AsyncRead::poll_read(
                    std::pin::Pin::new(&mut file),
                    &mut std::task::Context::from_waker(&waker),
                    &mut b,
                );
                assert!(polled.is_pending(), "{polled:?}");
                file.into_std().await.unwrap()
            })
        });
        std::io::Write::write_all(&mut &writer, b"ping").unwrap();
        let mut b = [0u8; 4];
        std_file.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        let _ = SeekFrom::Start(0);
    }
}

both_backends! {
    /// Bytes written through the cursor's AsyncWrite and not flushed:
    /// try_into_std must refuse (Err(self)) or have them land; never drop
    /// them silently. Also after a second write that only buffered.
    fn try_into_std_never_loses_buffered_bytes(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let p = path.clone();
        let outcome = driver.block_on(async move {
            let mut file = OpenOptions::new().read(true).write(true).create(true).open(&p).await.unwrap();
            AsyncWriteExt::write_all(&mut file, b"first").await.unwrap();
            AsyncWriteExt::write_all(&mut file, b"second").await.unwrap();
            match file.try_into_std() {
                Ok(std_file) => {
                    drop(std_file);
                    "converted"
                }
                Err(mut file) => {
                    file.flush().await.unwrap();
                    "refused"
                }
            }
        });
        let contents = std::fs::read(&path).unwrap();
        assert_eq!(contents, b"firstsecond", "try_into_std {outcome}: {:?}", String::from_utf8_lossy(&contents));
    }

    /// into_std after a seek past buffered writes: they land where they
    /// were written, and the OS offset is the cursor.
    fn into_std_after_write_then_seek(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let p = path.clone();
        let mut std_file = driver.block_on(async move {
            let mut file = OpenOptions::new().read(true).write(true).create(true).open(&p).await.unwrap();
            AsyncWriteExt::write_all(&mut file, b"0123456789").await.unwrap();
            futures::AsyncSeekExt::seek(&mut file, SeekFrom::Start(3)).await.unwrap();
            AsyncWriteExt::write_all(&mut file, b"x").await.unwrap();
            file.into_std().await.unwrap()
        });
        assert_eq!(std_file.stream_position().unwrap(), 4);
        assert_eq!(std::fs::read(&path).unwrap(), b"012x456789");
    }
}
