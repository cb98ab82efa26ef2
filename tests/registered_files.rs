//! Registered files (`File::register`) on both back ends: the same bytes
//! through a registered file, slots given back, drops mid-flight.
#![cfg(target_os = "linux")]

mod common;

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use proactor::buf::FixedBuffers;
use proactor::fs::{File, OpenOptions};
use proactor::Backend;

fn expect_registered(backend: Backend) -> bool {
    backend == Backend::IoUring && common::kernel_at_least(5, 19)
}

both_backends! {
    fn a_registered_file_reads_and_writes_the_same_bytes(driver) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let buffers = FixedBuffers::with_driver(&driver, 2, 4096).unwrap();
        driver.block_on(async {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .open(&path)
                .await
                .unwrap();
            assert!(!file.is_registered());
            let registered = file.register().unwrap();
            assert_eq!(registered, expect_registered(driver.backend()));
            assert_eq!(file.is_registered(), registered);
            assert_eq!(file.register().unwrap(), registered, "again: the same");

            let (n, _) = file.write_at(b"plain write, ".to_vec(), 0).await;
            assert_eq!(n.unwrap(), 13);
            let mut buf = buffers.take().unwrap();
            buf.extend_from_slice(b"fixed write").unwrap();
            let (n, buf) = file.write_fixed_at(buf, 13).await;
            assert_eq!(n.unwrap(), 11);
            drop(buf);

            let (n, buf) = file.read_at(Vec::with_capacity(64), 6).await;
            assert_eq!(&buf[..n.unwrap()], b"write, fixed write");
            let (n, buf) = file.read_fixed_at(buffers.take().unwrap(), 0).await;
            assert_eq!(&buf[..n.unwrap()], b"plain write, fixed write");
            let (n, buf) = file.read_exact_at(vec![0; 5], 19).await;
            n.unwrap();
            assert_eq!(buf, b"write");
            file.close().await.unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"plain write, fixed write");
    }

    fn a_registered_file_is_named_by_its_slot(driver) {
        // The file's fd number is made to name another file behind its
        // back (dup2): a read that looks the fd up reads the other one, a
        // read that names the slot still reads the file registered.
        let (original, _) = common::pattern_file(16);
        let other = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut &other, b"the other file").unwrap();
        let _current = driver.enter();
        let mut file = File::from_std(original.reopen().unwrap()).unwrap();
        let registered = file.register().unwrap();
        assert_eq!(registered, expect_registered(driver.backend()));
        use std::os::fd::AsRawFd;
        // SAFETY: both fds are open; the test owns both files, and the
        // swap is what it checks (the fd stays open, naming `other`).
        assert!(unsafe { libc::dup2(other.as_raw_fd(), file.as_raw_fd()) } >= 0);
        let (n, buf) = driver.block_on(file.read_at(Vec::with_capacity(32), 0));
        let n = n.unwrap();
        if registered {
            assert_eq!(&buf[..n], &std::fs::read(original.path()).unwrap()[..]);
        } else {
            assert_eq!(&buf[..n], b"the other file");
        }
    }

    fn slots_are_given_back_when_files_go(driver) {
        // More files, one after another, than the table has slots (4096):
        // a slot not given back would make a registration fail.
        let file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut &file, b"x").unwrap();
        let fds = common::fd_count();
        driver.block_on(async {
            for i in 0..4200 {
                let mut file = File::from_std(file.try_clone().unwrap()).unwrap();
                let registered = file.register().unwrap_or_else(|e| panic!("file {i}: {e}"));
                assert_eq!(registered, expect_registered(driver.backend()));
                let (n, _) = file.read_at(Vec::with_capacity(1), 0).await;
                assert_eq!(n.unwrap(), 1);
            }
        });
        assert_eq!(common::fd_count_settles(fds), fds);
    }

    fn a_registered_read_dropped_mid_flight_and_its_file_dropped(driver) {
        if driver.backend() == Backend::Poll {
            // A pipe read is positional (`pread`) there: ESPIPE at once,
            // nothing in flight to drop. The readiness half registers
            // nothing anyway (see above).
            return;
        }
        let fds = common::fd_count();
        for drop_driver in [false, true] {
            let driver = common::driver(Backend::IoUring);
            let (reader, writer) = blocking_pipe();
            let mut file = {
                let _current = driver.enter();
                File::from_std(reader).unwrap()
            };
            assert_eq!(file.register().unwrap(), common::kernel_at_least(5, 19));
            let mut read = Box::pin(file.read_at(Vec::with_capacity(8), 0));
            assert!(common::poll_once(&driver, &mut read).is_pending(), "the pipe is empty");
            drop(read); // cancelled; the driver keeps it, and its slot
            drop(file);
            if drop_driver {
                drop(driver);
            } else {
                let settled = || driver.in_flight() == 0;
                assert!(common::park_until(&driver, Duration::from_secs(10), settled));
                drop(driver);
            }
            drop(writer);
            assert_eq!(common::fd_count_settles(fds), fds, "driver dropped: {drop_driver}");
        }
    }
}

/// A blocking (not `O_NONBLOCK`) pipe: a read of its empty read end waits
/// in the kernel.
fn blocking_pipe() -> (std::fs::File, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two new fds that we now own.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            OwnedFd::from_raw_fd(fds[1]),
        )
    }
}
