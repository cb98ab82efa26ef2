//! `fs::File` on both back ends.

mod common;

use std::io::ErrorKind;

use proactor::buf::IoBuf;
use proactor::fs::{File, OpenOptions};

both_backends! {
    fn write_then_read_back(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        driver.block_on(async {
            let file = File::create(&path).await.unwrap();
            let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
            let (result, payload) = file.write_all_at(payload, 10).await;
            result.unwrap();
            file.sync_all().await.unwrap();
            file.sync_data().await.unwrap();
            let meta = file.metadata().await.unwrap();
            assert_eq!(meta.len(), 100_010);
            assert!(meta.is_file() && !meta.is_dir());
            assert_eq!(file.len().await.unwrap(), 100_010);
            file.close().await.unwrap();

            let file = File::open(&path).await.unwrap();
            let (result, buf) = file.read_exact_at(Vec::with_capacity(100_000), 10).await;
            result.unwrap();
            assert_eq!(buf, payload);
            let (n, head) = file.read_at(vec![0xff; 10], 0).await;
            assert_eq!(n.unwrap(), 10);
            assert_eq!(head, vec![0; 10], "the hole before offset 10 reads as zeros");
            file.close().await.unwrap();
        });
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 100_010);
    }

    fn read_into_a_window_of_a_buffer(driver) {
        let (file, data) = common::pattern_file(100);
        driver.block_on(async {
            let f = File::open(file.path()).await.unwrap();
            let mut buf = Vec::with_capacity(20);
            buf.extend_from_slice(b"0123456789");
            let (n, slice) = f.read_at(buf.slice(10..20), 0).await;
            assert_eq!(n.unwrap(), 10);
            let buf = slice.into_inner();
            assert_eq!(&buf[..10], b"0123456789");
            assert_eq!(&buf[10..], &data[..10]);
        });
    }

    fn many_reads_in_flight_on_one_file(driver) {
        let (file, data) = common::pattern_file(1 << 20);
        driver.block_on(async {
            let f = File::open(file.path()).await.unwrap();
            let reads = (0..64u64).map(|i| {
                let f = &f;
                async move {
                    let offset = i * 16 * 1024;
                    let (result, buf) = f.read_exact_at(vec![0u8; 4096], offset).await;
                    result.unwrap();
                    (offset as usize, buf)
                }
            });
            for (offset, buf) in futures::future::join_all(reads).await {
                assert_eq!(&buf[..], &data[offset..offset + 4096]);
            }
        });
    }

    fn open_options_follow_std_rules(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new");
        driver.block_on(async {
            let err = OpenOptions::new().open(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            let err = OpenOptions::new().read(true).create(true).open(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            let err = File::open(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound);
            let f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).await.unwrap();
            // Windows ignores `mode`, as its docs say.
            if cfg!(unix) {
                assert_eq!(f.metadata().await.unwrap().permissions_mode(), 0o600);
            }
            f.close().await.unwrap();
            let err = OpenOptions::new().write(true).create_new(true).open(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AlreadyExists);
            let f = OpenOptions::new().append(true).open(&path).await.unwrap();
            let (r, _) = f.write_at(b"tail", 0).await;
            assert_eq!(r.unwrap(), 4);
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"tail");
    }

    fn file_ops_run_on_the_driver_of_the_file(driver) {
        let (file, data) = common::pattern_file(32);
        let f = driver.block_on(File::open(file.path())).unwrap();
        // Polled by another executor, completed by a thread parked on the
        // file's driver.
        let parker = {
            let driver = driver.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    driver.park(Some(std::time::Duration::from_millis(5))).unwrap();
                }
            })
        };
        let (n, buf) = futures::executor::block_on(f.read_at(Vec::with_capacity(32), 0));
        assert_eq!(n.unwrap(), 32);
        assert_eq!(buf, data);
        parker.join().unwrap();
    }
}

#[cfg(feature = "bytes")]
mod bytes_buffers {
    use super::*;

    both_backends! {
        fn bytes_and_bytes_mut_round_trip(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("b");
            driver.block_on(async {
                let f = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
                let (r, _) = f.write_all_at(bytes::Bytes::from_static(b"bytes crate"), 0).await;
                r.unwrap();
                let (n, buf) = f.read_at(bytes::BytesMut::with_capacity(5), 6).await;
                assert_eq!(n.unwrap(), 5);
                assert_eq!(&buf[..], b"crate");
            });
        }
    }
}

// Unix only: a FIFO is what makes open(2) block.
#[cfg(unix)]
mod blocking_file_ops {
    use super::*;
    use proactor::op::{Nop, Op, OpenAt};
    use std::time::Duration;

    both_backends! {
        fn a_blocked_open_does_not_stall_other_ops(driver) {
            // open(2) of a FIFO blocks until a writer appears: the event loop
            // (or ring) must keep serving other operations meanwhile.
            let dir = tempfile::tempdir().unwrap();
            let fifo = dir.path().join("fifo");
            let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: mkfifo with a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
            let opened = driver.block_on(async {
                let open = Op::with_driver(OpenAt::new(&fifo, libc::O_RDONLY, 0).unwrap(), driver.clone());
                let others = async {
                    for _ in 0..10 {
                        Op::with_driver(Nop::new(), driver.clone()).await.unwrap();
                        proactor::time::sleep(Duration::from_millis(5)).await.unwrap();
                    }
                    // Only now let the open finish. ENXIO: the reader's
                    // open has not reached the FIFO yet.
                    loop {
                        match std::fs::OpenOptions::new().write(true).custom_flags_nonblock().open(&fifo) {
                            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                                proactor::time::sleep(Duration::from_millis(5)).await.unwrap();
                            }
                            other => break other.unwrap(),
                        }
                    }
                };
                let (fd, writer) = futures::join!(open, others);
                drop(writer);
                fd
            });
            drop(opened.unwrap());
        }
    }

    trait NonBlock {
        fn custom_flags_nonblock(&mut self) -> &mut Self;
    }
    impl NonBlock for std::fs::OpenOptions {
        fn custom_flags_nonblock(&mut self) -> &mut Self {
            use std::os::unix::fs::OpenOptionsExt;
            self.custom_flags(libc::O_NONBLOCK)
        }
    }
}

// Unix only: fd numbers, and the kernel reusing the lowest free one.
#[cfg(unix)]
mod close_ownership {
    use super::*;
    use proactor::op::{Close, Op};
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};
    use std::time::{Duration, Instant};

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD reads a flag; on a number that is not open it only
        // fails with EBADF.
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    }

    both_backends! {
        fn a_dropped_close_never_closes_the_number_again(driver) {
            let file = tempfile::tempfile().unwrap();
            let number = file.as_raw_fd();
            let mut close = Op::with_driver(Close::new(OwnedFd::from(file)), driver.clone());
            assert!(common::poll_once(&driver, &mut close).is_pending());
            // The close itself runs (inline in io_uring_enter, or on the
            // pool) while its result waits for a future that never comes.
            let deadline = Instant::now() + Duration::from_secs(10);
            while is_open(number) {
                assert!(Instant::now() < deadline, "the close never ran");
                std::thread::sleep(Duration::from_millis(1));
            }
            // The lowest free number: the one just closed.
            let reused = tempfile::tempfile().unwrap();
            assert_eq!(reused.as_raw_fd(), number);
            drop(close);
            assert!(common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
            assert!(is_open(number), "cleaning up the dropped close closed a file opened since");
            reused.set_len(3).unwrap();
        }
    }
}

mod path_operations {
    use super::*;

    both_backends! {
        fn whole_files_and_paths(driver) {
            let dir = tempfile::tempdir().unwrap();
            let a = dir.path().join("a");
            let b = dir.path().join("b");
            let sub = dir.path().join("sub");
            driver.block_on(async {
                let big: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
                proactor::fs::write(&a, big.clone()).await.unwrap();
                assert_eq!(proactor::fs::read(&a).await.unwrap(), big);
                let meta = proactor::fs::metadata(&a).await.unwrap();
                assert_eq!(meta.len(), 200_000);
                assert!(meta.is_file());

                proactor::fs::rename(&a, &b).await.unwrap();
                assert_eq!(proactor::fs::metadata(&a).await.unwrap_err().kind(), ErrorKind::NotFound);
                assert_eq!(proactor::fs::read(&b).await.unwrap().len(), 200_000);

                proactor::fs::create_dir(&sub).await.unwrap();
                assert!(proactor::fs::metadata(&sub).await.unwrap().is_dir());
                assert_eq!(proactor::fs::create_dir(&sub).await.unwrap_err().kind(), ErrorKind::AlreadyExists);
                proactor::fs::remove_dir(&sub).await.unwrap();
                proactor::fs::remove_file(&b).await.unwrap();
                assert_eq!(proactor::fs::remove_file(&b).await.unwrap_err().kind(), ErrorKind::NotFound);
                assert_eq!(proactor::fs::read(dir.path().join("missing")).await.unwrap_err().kind(), ErrorKind::NotFound);
                proactor::fs::write(&a, b"").await.unwrap();
                assert!(proactor::fs::read(&a).await.unwrap().is_empty());
            });
        }

        fn set_len_truncates_and_extends(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("len");
            driver.block_on(async {
                let f = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
                let (r, _) = f.write_all_at(b"0123456789", 0).await;
                r.unwrap();
                f.set_len(4).await.unwrap();
                assert_eq!(f.len().await.unwrap(), 4);
                f.set_len(1 << 20).await.unwrap();
                assert_eq!(f.len().await.unwrap(), 1 << 20);
                let (r, buf) = f.read_exact_at(vec![9u8; 8], 0).await;
                r.unwrap();
                assert_eq!(buf, b"0123\0\0\0\0");
                assert_eq!(f.set_len(u64::MAX).await.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
            });
        }
    }
}

mod file_handles {
    use super::*;
    use std::io::{Read, Write};

    both_backends! {
        fn try_clone_outlives_the_original(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("cloned");
            driver.block_on(async {
                let file = File::create(&path).await.unwrap();
                let clone = file.try_clone().unwrap();
                let (r, _) = file.write_all_at(b"first ", 0).await;
                r.unwrap();
                file.close().await.unwrap();
                let (r, _) = clone.write_all_at(b"second", 6).await;
                r.unwrap();
                clone.sync_all().await.unwrap();
                clone.close().await.unwrap();
            });
            assert_eq!(std::fs::read(&path).unwrap(), b"first second");
        }

        fn into_std_hands_over_a_working_file(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("handed");
            let mut file = driver.block_on(async {
                let file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
                let (r, _) = file.write_all_at(b"from proactor", 0).await;
                r.unwrap();
                file.into_std().await.unwrap()
            });
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            assert_eq!(text, "from proactor");
            file.write_all(b", then std").unwrap();
            drop(file);
            assert_eq!(std::fs::read(&path).unwrap(), b"from proactor, then std");
        }

        fn into_std_flushes_the_cursor_and_leaves_the_offset_there(driver) {
            use futures::AsyncWriteExt;
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("cursor");
            let mut file = driver.block_on(async {
                let mut file = OpenOptions::new().read(true).write(true).create(true).open(&path).await.unwrap();
                file.write_all(b"buffered").await.unwrap();
                file.into_std().await.unwrap()
            });
            assert_eq!(std::fs::read(&path).unwrap(), b"buffered", "the buffered bytes were lost");
            file.write_all(b", then std").unwrap();
            drop(file);
            assert_eq!(std::fs::read(&path).unwrap(), b"buffered, then std");
        }

        fn try_into_std_gives_back_a_file_with_a_write_in_flight(driver) {
            use futures::AsyncWriteExt;
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("in flight");
            driver.block_on(async {
                let mut file = File::create(&path).await.unwrap();
                file.write_all(b"not yet").await.unwrap();
                let mut file = match file.try_into_std() {
                    Err(file) => file,
                    // The write may have landed already on a fast path.
                    Ok(_) => return,
                };
                file.flush().await.unwrap();
                let std_file = file.try_into_std().expect("flushed: nothing in flight");
                assert_eq!(std_file.metadata().unwrap().len(), 7);
            });
        }

        fn a_clone_starts_at_the_cursor_and_moves_on_its_own(driver) {
            use futures::AsyncReadExt;
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("clone cursor");
            std::fs::write(&path, b"0123456789").unwrap();
            driver.block_on(async {
                let mut file = File::open(&path).await.unwrap();
                let mut first = [0u8; 3];
                file.read_exact(&mut first).await.unwrap();
                let mut clone = file.try_clone().unwrap();
                let mut next = [0u8; 3];
                clone.read_exact(&mut next).await.unwrap();
                assert_eq!(&next, b"345");
                file.read_exact(&mut next).await.unwrap();
                assert_eq!(&next, b"345", "the clone moved this file's cursor");
            });
        }

        fn file_set_permissions_changes_what_metadata_reports(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("mode");
            driver.block_on(async {
                let file = File::create(&path).await.unwrap();
                let mut permissions = std::fs::metadata(&path).unwrap().permissions();
                permissions.set_readonly(true);
                file.set_permissions(permissions).await.unwrap();
                assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
            });
        }
    }

    // Unix only: fd numbers, and whether one is open.
    #[cfg(unix)]
    mod fd_ownership {
        use super::*;
        use proactor::op::{Blocking, Op};
        use std::os::fd::{AsRawFd, RawFd};
        use std::time::Duration;

        /// `File::from_std` on `driver` (it takes the current one).
        fn file_on(driver: &proactor::Driver, file: std::fs::File) -> File {
            let _current = driver.enter();
            File::from_std(file).unwrap()
        }

        fn is_open(fd: RawFd) -> bool {
            // SAFETY: F_GETFD reads a flag; on a number that is not open it
            // only fails with EBADF.
            unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
        }

        both_backends! {
            fn into_std_takes_the_fd_itself_when_nothing_holds_it(driver) {
                let file = file_on(&driver, tempfile::tempfile().unwrap());
                let number = file.as_raw_fd();
                let std_file = file.try_into_std().unwrap();
                assert_eq!(std_file.as_raw_fd(), number);
            }

            fn into_std_duplicates_the_fd_a_cancelled_op_still_holds(forced) {
                // One pool thread, kept busy: an operation queued behind it
                // holds the file's fd until it has run.
                let driver = proactor::Driver::builder()
                    .force(forced.backend())
                    .blocking_threads(1)
                    .build()
                    .unwrap();
                let (started_tx, started) = std::sync::mpsc::channel();
                let (release, released) = std::sync::mpsc::channel::<()>();
                let mut blocker = Op::with_driver(
                    Blocking::new(move || {
                        started_tx.send(()).unwrap();
                        released.recv_timeout(Duration::from_secs(30)).ok();
                    }),
                    driver.clone(),
                );
                assert!(common::poll_once(&driver, &mut blocker).is_pending());
                started.recv_timeout(Duration::from_secs(10)).expect("the blocker started");

                let path = tempfile::NamedTempFile::new().unwrap();
                let file = file_on(&driver, path.reopen().unwrap());
                let number = file.as_raw_fd();
                let mut queued = Box::pin(file.set_permissions(std::fs::metadata(path.path()).unwrap().permissions()));
                assert!(common::poll_once(&driver, &mut queued).is_pending());
                drop(queued);

                let mut std_file = file.try_into_std().unwrap();
                assert_ne!(std_file.as_raw_fd(), number, "handed out the fd a queued operation holds");
                assert!(is_open(number), "the queued operation's fd was closed under it");
                std_file.write_all(b"mine").unwrap();

                release.send(()).unwrap();
                drop(blocker);
                assert!(common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
                assert!(!is_open(number), "the fd outlived the last operation that held it");
                assert!(is_open(std_file.as_raw_fd()));
                drop(std_file);
                assert_eq!(std::fs::read(path.path()).unwrap(), b"mine");
            }
        }
    }
}

mod borrowed_writes {
    use super::*;

    /// Longer than several copy chunks (256 KiB), and not a multiple of one.
    fn data() -> Vec<u8> {
        (0..(3 << 18) + 123).map(|i: u32| (i % 247) as u8).collect()
    }

    both_backends! {
        fn write_takes_borrowed_bytes(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("borrowed");
            let data = data();
            driver.block_on(async {
                proactor::fs::write(&path, data.as_slice()).await.unwrap();
                assert!(proactor::fs::read(&path).await.unwrap() == data);
                let text = String::from("text, then shorter");
                proactor::fs::write(&path, &text).await.unwrap();
                proactor::fs::write(&path, &text[..4]).await.unwrap();
                proactor::fs::write(dir.path().join("empty"), []).await.unwrap();
            });
            assert_eq!(std::fs::read(&path).unwrap(), b"text");
            assert_eq!(std::fs::read(dir.path().join("empty")).unwrap(), b"");
            assert_eq!(data.len(), (3 << 18) + 123, "the data is still the caller's");
        }

        fn write_all_at_copied_writes_every_chunk_at_its_offset(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("offset");
            let data = data();
            driver.block_on(async {
                let file = File::create(&path).await.unwrap();
                file.write_all_at_copied(&data, 10).await.unwrap();
                file.write_all_at_copied(&[], 1 << 30).await.unwrap();
                file.write_all_at_copied(b"ab", 0).await.unwrap();
                let err = file.write_all_at_copied(b"x", u64::MAX).await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidInput);
                file.close().await.unwrap();
            });
            let back = std::fs::read(&path).unwrap();
            assert_eq!(back.len(), data.len() + 10, "an empty write extended the file");
            assert_eq!(&back[..10], b"ab\0\0\0\0\0\0\0\0");
            assert!(back[10..] == data[..]);
        }

        fn write_owned_takes_any_owned_buffer(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("owned");
            driver.block_on(async {
                proactor::fs::write_owned(&path, b"0123456789".to_vec().slice(2..5)).await.unwrap();
                assert_eq!(proactor::fs::read(&path).await.unwrap(), b"234");
                proactor::fs::write_owned(&path, data()).await.unwrap();
            });
            assert!(std::fs::read(&path).unwrap() == data());
        }
    }
}

mod without_a_pool {
    use super::*;

    both_backends! {
        fn pool_functions_fail_clearly_when_the_pool_is_disabled(forced) {
            let driver = proactor::Driver::builder()
                .force(forced.backend())
                .blocking_threads(0)
                .build()
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("file");
            std::fs::write(&file, "x").unwrap();
            let errors = driver.block_on(async {
                let to = dir.path().join("copy");
                vec![
                    ("read_dir", proactor::fs::read_dir(dir.path()).await.map(drop)),
                    ("create_dir_all", proactor::fs::create_dir_all(dir.path().join("a/b")).await),
                    ("remove_dir_all", proactor::fs::remove_dir_all(dir.path().join("a")).await),
                    ("copy", proactor::fs::copy(&file, &to).await.map(drop)),
                    ("canonicalize", proactor::fs::canonicalize(&file).await.map(drop)),
                    ("read_link", proactor::fs::read_link(&file).await.map(drop)),
                    (
                        "set_permissions",
                        proactor::fs::set_permissions(&file, std::fs::metadata(&file).unwrap().permissions()).await,
                    ),
                ]
            });
            for (what, result) in errors {
                assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported, "{what}");
            }
            assert!(!dir.path().join("a").exists() && !dir.path().join("copy").exists());
        }
    }
}

// Windows only: custom flags are ignored there, even bits that mean
// append, create or truncate to the C runtime's open.
#[cfg(windows)]
mod windows_custom_flags {
    use super::*;

    both_backends! {
        fn custom_flags_do_not_truncate_create_or_append(driver) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("kept");
            std::fs::write(&path, b"kept").unwrap();
            driver.block_on(async {
                let file = OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_TRUNC | libc::O_APPEND)
                    .open(&path)
                    .await
                    .unwrap();
                let (n, _) = file.write_at(&b"K"[..], 0).await;
                assert_eq!(n.unwrap(), 1);
                file.close().await.unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), b"Kept", "not truncated, not appended");

                let missing = dir.path().join("missing");
                let err = OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_CREAT)
                    .open(&missing)
                    .await
                    .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::NotFound);
                assert!(!missing.exists(), "not created");
            });
        }
    }
}
