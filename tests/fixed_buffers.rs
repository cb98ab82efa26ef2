//! Registered (fixed) buffers on both back ends: round trips, a buffer on
//! another driver, drops mid-flight (future, driver, set), the
//! locked-memory limit.
#![cfg(target_os = "linux")]

mod common;

use std::io::ErrorKind;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::Duration;

use proactor::buf::{FixedBuf, FixedBuffers};
use proactor::fs::{File, OpenOptions};
use proactor::op::{Blocking, Op, ReadFixedAt, WriteFixedAt};
use proactor::{Backend, Driver};

fn filled(buffers: &FixedBuffers, data: &[u8]) -> FixedBuf {
    let mut buf = buffers.take().expect("a free buffer");
    buf.extend_from_slice(data).unwrap();
    buf
}

/// A blocking (not `O_NONBLOCK`) pipe: a read of its empty read end waits
/// in the kernel.
fn blocking_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two new fds that we now own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A driver forced onto `backend` with one pool thread.
fn one_thread_driver(backend: Backend) -> Driver {
    Driver::builder()
        .force(backend)
        .blocking_threads(1)
        .build()
        .unwrap()
}

/// A pool job that waits until told to end.
type PoolBlocker = Op<Blocking<Box<dyn FnOnce() + Send>, ()>>;

/// What keeps a [`held_read`] waiting; dropping it lets the read run.
struct Hold {
    _pipe_writer: Option<OwnedFd>,
    release: Option<mpsc::Sender<()>>,
    blocker: Option<PoolBlocker>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        drop(self.blocker.take());
    }
}

/// A fixed read that is in flight (polled once, pending) until its
/// [`Hold`] goes: on io_uring a `READ_FIXED` of an empty blocking pipe,
/// which waits in the kernel; on the readiness back end a read queued on
/// the blocking pool behind a job that holds its one thread
/// ([`one_thread_driver`]).
fn held_read(driver: &Driver, buf: FixedBuf) -> (Op<ReadFixedAt<OwnedFd>>, Hold) {
    let (fd, hold) = match driver.backend() {
        Backend::IoUring => {
            let (reader, writer) = blocking_pipe();
            let hold = Hold {
                _pipe_writer: Some(writer),
                release: None,
                blocker: None,
            };
            (reader, hold)
        }
        Backend::Poll => {
            let (release, released) = mpsc::channel::<()>();
            let job: Box<dyn FnOnce() + Send> = Box::new(move || {
                let _ = released.recv();
            });
            let mut blocker = Op::with_driver(Blocking::new(job), driver.clone());
            assert!(common::poll_once(driver, &mut blocker).is_pending());
            let hold = Hold {
                _pipe_writer: None,
                release: Some(release),
                blocker: Some(blocker),
            };
            (OwnedFd::from(tempfile::tempfile().unwrap()), hold)
        }
    };
    // Not inline: an empty file's read would end at once.
    let read = ReadFixedAt::new(fd, buf, 0).never_inline();
    let mut read = Op::with_driver(read, driver.clone());
    assert!(
        common::poll_once(driver, &mut read).is_pending(),
        "the read waits"
    );
    (read, hold)
}

both_backends! {
    fn reads_and_writes_round_trip_at_offsets(driver) {
        let buffers = FixedBuffers::with_driver(&driver, 4, 8192).unwrap();
        match driver.backend() {
            Backend::Poll => assert!(!buffers.is_registered(), "plain memory"),
            Backend::IoUring => assert_eq!(buffers.is_registered(), common::kernel_at_least(5, 19)),
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let first: Vec<u8> = (0..6000).map(|i| (i % 251) as u8).collect();
        let second: Vec<u8> = (0..3000).map(|i| (i % 7) as u8 + 100).collect();
        driver.block_on(async {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .open(&path)
                .await
                .unwrap();
            let (n, buf) = file.write_fixed_at(filled(&buffers, &first), 0).await;
            assert_eq!(n.unwrap(), first.len());
            drop(buf);
            let (n, _buf) = file.write_fixed_at(filled(&buffers, &second), 5000).await;
            assert_eq!(n.unwrap(), second.len());

            let mut expected = first[..5000].to_vec();
            expected.extend_from_slice(&second);
            for offset in [0, 4990, 5000, 7999] {
                let (n, buf) = file.read_fixed_at(buffers.take().unwrap(), offset).await;
                let n = n.unwrap();
                assert_eq!(n, expected.len() - offset as usize, "at {offset}");
                assert_eq!(buf.len(), n);
                assert_eq!(&buf[..], &expected[offset as usize..], "at {offset}");
            }
            let (n, buf) = file.read_fixed_at(buffers.take().unwrap(), 1 << 20).await;
            assert_eq!((n.unwrap(), buf.len()), (0, 0), "past the end");
            file.close().await.unwrap();
        });
        assert_eq!(std::fs::read(&path).unwrap()[..5000], first[..5000]);
        assert_eq!(buffers.available(), 4, "every buffer came back");
    }

    fn a_buffer_on_another_driver_is_invalid_input(driver) {
        let buffers = FixedBuffers::with_driver(&driver, 2, 4096).unwrap();
        let other = common::driver(driver.backend());
        let file = tempfile::tempfile().unwrap();
        // Through `File` (its driver is `other`) and through a bare `Op`.
        let (result, buf) = other.block_on(async {
            let file = File::from_std(file.try_clone().unwrap()).unwrap();
            file.read_fixed_at(buffers.take().unwrap(), 0).await
        });
        assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(buf.capacity(), 4096, "the buffer comes back");
        let write = WriteFixedAt::new(file.try_clone().unwrap(), buf, 0);
        let (result, buf) = other.block_on(Op::with_driver(write, other.clone()));
        assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidInput);
        drop(buf);
        assert_eq!(other.in_flight(), 0);

        // The set's own driver replaced by a new one (as a per-thread
        // driver is when its thread exits): still another driver.
        let first = common::driver(driver.backend());
        let orphaned = FixedBuffers::with_driver(&first, 1, 4096).unwrap();
        drop(first);
        let second = common::driver(driver.backend());
        let read = ReadFixedAt::new(file, orphaned.take().unwrap(), 0);
        let (result, _buf) = second.block_on(Op::with_driver(read, second.clone()));
        assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    fn a_set_dropped_while_a_buffer_is_out_waits_for_it(driver) {
        let buffers = FixedBuffers::with_driver(&driver, 8, 4096).unwrap();
        let registered = buffers.is_registered();
        let buf = filled(&buffers, b"outlives its set");
        drop(buffers);
        let mut file = tempfile::tempfile().unwrap();
        let write = WriteFixedAt::new(file.try_clone().unwrap(), buf, 3);
        let (n, buf) = driver.block_on(Op::with_driver(write, driver.clone()));
        assert_eq!(n.unwrap(), 16);
        let read = ReadFixedAt::new(file.try_clone().unwrap(), buf, 0);
        let (n, buf) = driver.block_on(Op::with_driver(read, driver.clone()));
        assert_eq!(n.unwrap(), 19);
        assert_eq!(&buf[3..], b"outlives its set");
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut text).unwrap();
        assert_eq!(&text[3..], b"outlives its set");
        if registered {
            // The set's slots are still taken: a set that needs the whole
            // table does not fit yet.
            let whole = FixedBuffers::with_driver(&driver, 4096, 1).unwrap_err();
            assert_eq!(whole.kind(), ErrorKind::OutOfMemory, "{whole}");
        }
        // The last buffer gone: the slots are emptied and given back.
        drop(buf);
        let whole = FixedBuffers::with_driver(&driver, 4096, 1).unwrap();
        assert_eq!(whole.is_registered(), registered);
    }

    fn memlock_limit_on_registration(driver) {
        let name = common::env_name(driver.backend());
        let (ok, output) = common::run_child(
            "memlock_child",
            &[("FIXED_MEMLOCK_CHILD", "1"), ("PROACTOR_BACKEND", name)],
        );
        assert!(ok && output.contains("child passed"), "on {name}:\n{output}");
    }
}

/// With the driver's one pool thread or the kernel holding the read, the
/// future is dropped: the buffer comes back to its set once the read is
/// over, and nothing stays in flight.
#[test]
fn a_read_dropped_mid_flight_gives_its_buffer_back() {
    let _serial = common::serial();
    for backend in common::backends() {
        let driver = one_thread_driver(backend);
        let fds = common::fd_count();
        let buffers = FixedBuffers::with_driver(&driver, 2, 4096).unwrap();
        let (read, hold) = held_read(&driver, buffers.take().unwrap());
        assert_eq!(buffers.available(), 1, "{backend}: out while in flight");
        drop(read);
        drop(hold);
        assert!(
            common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0),
            "{backend}: the cancelled read never ended"
        );
        assert_eq!(buffers.available(), 2, "{backend}: the buffer came back");
        let (a, b) = (buffers.take().unwrap(), buffers.take().unwrap());
        assert!(buffers.take().is_none());
        drop((a, b));
        drop(buffers);
        assert_eq!(common::fd_count_settles(fds), fds, "{backend}: fds");
    }
}

/// The driver dropped with a fixed read in flight (its future dropped,
/// the cancellation not yet seen): no crash, no fd left open, the buffer
/// back in its set; the set dropped before or after the driver.
#[test]
fn a_driver_dropped_with_a_fixed_read_in_flight() {
    let _serial = common::serial();
    for backend in common::backends() {
        for set_first in [false, true] {
            let fds = common::fd_count();
            let driver = one_thread_driver(backend);
            let buffers = FixedBuffers::with_driver(&driver, 2, 4096).unwrap();
            let (read, hold) = held_read(&driver, buffers.take().unwrap());
            drop(read);
            // A pool thread cannot be interrupted: on the readiness back end
            // the job holding it ends first, so the teardown need not wait
            // for it. On io_uring the pipe's write end stays open until the
            // driver is gone: the read waits in the kernel throughout.
            let hold = (backend == Backend::IoUring).then_some(hold);
            if set_first {
                drop(buffers);
                drop(driver);
            } else {
                drop(driver);
                assert_eq!(buffers.available(), 2, "{backend}: the buffer came back");
                drop(buffers);
            }
            drop(hold);
            assert_eq!(common::fd_count_settles(fds), fds, "{backend}: fds");
        }
    }
}

/// Child of `memlock_limit_on_registration`: without CAP_IPC_LOCK and with
/// RLIMIT_MEMLOCK at most 64 KiB, registering 2 MiB fails on io_uring with an
/// error that names the limit; on the readiness back end the buffers are
/// plain memory and work.
#[test]
fn memlock_child() {
    if std::env::var_os("FIXED_MEMLOCK_CHILD").is_none() {
        return;
    }
    common::drop_cap_ipc_lock();
    // The driver first: on kernels before 5.12 the ring itself counts
    // against the limit. Registration reads the limit when it runs.
    let backend = common::backend_named(&std::env::var("PROACTOR_BACKEND").unwrap());
    let driver = common::driver(backend);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct, live for the call.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    assert_eq!(got, 0);
    limit.rlim_cur = limit.rlim_max.min(64 * 1024);
    // SAFETY: setrlimit reads the struct, live for the call.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) }, 0);
    let registered = FixedBuffers::with_driver(&driver, 32, 64 * 1024);
    match backend {
        Backend::IoUring if common::kernel_at_least(5, 19) => {
            let error = registered.expect_err("2 MiB locked beyond a 64 KiB limit");
            assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{error}");
            assert!(error.to_string().contains("RLIMIT_MEMLOCK"), "{error}");
            println!("refused: {error}");
        }
        _ => {
            let buffers = registered.unwrap();
            assert!(!buffers.is_registered());
            let file = tempfile::tempfile().unwrap();
            let write = WriteFixedAt::new(file, filled(&buffers, b"plain"), 0);
            let (n, _) = driver.block_on(Op::with_driver(write, driver.clone()));
            assert_eq!(n.unwrap(), 5);
        }
    }
    println!("child passed");
}

/// The readiness back end reads a cached file into a fixed buffer inline
/// (`RWF_NOWAIT`), as `read_at` does: with the blocking pool disabled the
/// read still succeeds; `never_inline` takes the (disabled) pool.
#[cfg(feature = "poll")]
#[test]
fn cached_fixed_reads_go_inline_on_the_readiness_back_end() {
    let _serial = common::serial();
    let driver = Driver::builder()
        .force(Backend::Poll)
        .blocking_threads(0)
        .build()
        .unwrap();
    let buffers = FixedBuffers::with_driver(&driver, 2, 4096).unwrap();
    let (file, data) = common::pattern_file(3000);
    let (n, buf) = driver.block_on(async {
        let file = File::from_std(file.reopen().unwrap()).unwrap();
        file.read_fixed_at(buffers.take().unwrap(), 100).await
    });
    match n {
        Ok(n) => assert_eq!(&buf[..n], &data[100..]),
        // qemu-user refuses RWF_NOWAIT on every file.
        Err(e) if common::skip::skipped("preadv2(RWF_NOWAIT) is refused", &e) => return,
        Err(e) => panic!("a cached read went to the disabled pool: {e}"),
    }
    let read = ReadFixedAt::new(file.reopen().unwrap(), buf, 0).never_inline();
    let (n, _) = driver.block_on(Op::with_driver(read, driver.clone()));
    assert_eq!(
        n.unwrap_err().kind(),
        ErrorKind::Unsupported,
        "the pool is disabled"
    );
}
