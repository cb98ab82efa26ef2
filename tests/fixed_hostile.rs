//! Fixed buffers and registered files under hostile use: registration the
//! kernel only partly grants, drop orders, fd reuse under a registered file.
#![cfg(target_os = "linux")]

mod common;

use std::io::ErrorKind;

use common::poll_once;
use proactor::buf::FixedBuffers;
use proactor::op::{Op, ReadFixedAt};
use proactor::Backend;

both_backends! {
    fn a_set_the_kernel_only_partly_locks_is_refused_or_works_whole(driver) {
        let name = common::env_name(driver.backend());
        let (ok, output) = common::run_child(
            "partial_memlock_child",
            &[("PARTIAL_MEMLOCK_CHILD", "1"), ("PROACTOR_BACKEND", name)],
        );
        assert!(ok && output.contains("child passed"), "on {name}:\n{output}");
    }
}

both_backends! {
    fn register_works_under_the_usual_open_file_limit(driver) {
        let name = common::env_name(driver.backend());
        let (ok, output) = common::run_child(
            "nofile_child",
            &[("NOFILE_CHILD", "1"), ("PROACTOR_BACKEND", name)],
        );
        assert!(ok && output.contains("child passed"), "on {name}:\n{output}");
    }
}

/// A set made on one thread's driver of a `PerThreadDriver` outlives that
/// thread (and its driver): its buffers then fail on another thread's
/// driver with `InvalidInput`, and the set goes without leaking an fd.
#[test]
fn a_set_outliving_its_per_thread_driver() {
    let _serial = common::serial();
    for backend in common::backends() {
        common::leaks_no_handles("a set outliving its per-thread driver", || {
            let drivers = proactor::Driver::builder().force(backend).per_thread();
            let made = drivers.clone();
            let buffers = std::thread::spawn(move || {
                made.block_on(async { FixedBuffers::new(2, 4096).unwrap() })
            })
            .join()
            .unwrap()
            .unwrap();
            let file = tempfile::tempfile().unwrap();
            drivers
                .block_on(async {
                    let file = proactor::fs::File::from_std(file).unwrap();
                    let mut buf = buffers.take().unwrap();
                    buf.extend_from_slice(b"elsewhere").unwrap();
                    let (written, buf) = file.write_fixed_at(buf, 0).await;
                    assert_eq!(written.unwrap_err().kind(), ErrorKind::InvalidInput);
                    drop(buf);
                    assert_eq!(buffers.available(), 2);
                })
                .unwrap();
            drop(buffers);
            drop(drivers);
        });
    }
}

/// A fixed read in flight (of an empty blocking pipe: on io_uring it waits
/// in the kernel) and a registered file, then the set, the read's future,
/// the driver and the file dropped in every order (24): nothing leaks,
/// nothing hangs, and the pipe's writer, dropped last, ends what is left.
#[test]
fn every_drop_order_of_set_read_driver_and_registered_file() {
    let _serial = common::serial();
    let orders = permutations(&[0, 1, 2, 3]);
    assert_eq!(orders.len(), 24);
    for backend in common::backends() {
        for order in &orders {
            common::leaks_no_handles(&format!("drop order {order:?} on {backend:?}"), || {
                let driver = common::driver(backend);
                let buffers = FixedBuffers::with_driver(&driver, 2, 4096).unwrap();
                let (reader, writer) = blocking_pipe();
                let read = ReadFixedAt::new(reader, buffers.take().unwrap(), 0).never_inline();
                let mut read = Box::pin(Op::with_driver(read, driver.clone()));
                let _ = poll_once(&driver, &mut read);
                let file = driver
                    .block_on(async {
                        let mut file = proactor::fs::File::from_std(tempfile::tempfile()?)?;
                        file.register()?;
                        Ok::<_, std::io::Error>(file)
                    })
                    .unwrap();
                let mut parts: [Option<Box<dyn std::any::Any>>; 4] = [
                    Some(Box::new(buffers)),
                    Some(Box::new(read)),
                    Some(Box::new(driver)),
                    Some(Box::new(file)),
                ];
                for &which in order {
                    drop(parts[which].take());
                }
                drop(writer);
            });
        }
    }
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (at, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(at);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

/// A pipe without `O_NONBLOCK`: a read of its empty read end waits.
fn blocking_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    let made = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(made, 0);
    // SAFETY: pipe2 returned two new fds that we now own.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// Child of `register_works_under_the_usual_open_file_limit`: with the
/// soft `RLIMIT_NOFILE` at 1024, the default of most Linux systems (the
/// kernel refuses a file table larger than the limit with `EMFILE`),
/// `File::register` either registers the file or says it cannot
/// (`Ok(false)`), as its docs promise for every other case; it is not an
/// error, and the file reads the same either way.
#[test]
fn nofile_child() {
    if std::env::var_os("NOFILE_CHILD").is_none() {
        return;
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct, live for the call.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0);
    limit.rlim_cur = limit.rlim_max.min(1024);
    // SAFETY: setrlimit reads the struct, live for the call.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let backend = common::backend_named(&std::env::var("PROACTOR_BACKEND").unwrap());
    let driver = common::driver(backend);
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, b"registered or not").unwrap();
    driver.block_on(async {
        let mut file = proactor::fs::File::from_std(file).unwrap();
        let registered = file
            .register()
            .expect("File::register under RLIMIT_NOFILE 1024");
        if backend == Backend::IoUring && common::kernel_at_least(5, 19) {
            assert!(registered, "a table within the limit registers");
        }
        let (n, buf) = file.read_at(Vec::with_capacity(64), 0).await;
        assert_eq!(&buf[..n.unwrap()], b"registered or not");
    });
    println!("child passed");
}

/// Child of `a_set_the_kernel_only_partly_locks_is_refused_or_works_whole`:
/// without CAP_IPC_LOCK and with RLIMIT_MEMLOCK at 64 KiB, a set of 64
/// one-page buffers (256 KiB) does not fit. The kernel registers buffers one
/// after another and reports how many it took before the limit stopped it,
/// so the set must either be refused with an error that names the limit or
/// have every buffer usable: never registered in part, with the buffers
/// past the limit failing each operation with `EFAULT`.
#[test]
fn partial_memlock_child() {
    if std::env::var_os("PARTIAL_MEMLOCK_CHILD").is_none() {
        return;
    }
    common::drop_cap_ipc_lock();
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
    match FixedBuffers::with_driver(&driver, 64, 4096) {
        Err(error) => {
            assert_eq!(
                backend,
                Backend::IoUring,
                "plain memory cannot be refused: {error}"
            );
            assert!(common::kernel_at_least(5, 19));
            assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{error}");
            assert!(error.to_string().contains("RLIMIT_MEMLOCK"), "{error}");
            println!("refused: {error}");
            // Refused again and again: each time for the limit, never for
            // want of free slots (the slots of a refused set come back).
            for _ in 0..100 {
                let again = FixedBuffers::with_driver(&driver, 64, 4096).unwrap_err();
                assert!(again.to_string().contains("RLIMIT_MEMLOCK"), "{again}");
            }
            // What the kernel had locked before it refused was let go of.
            // The kernel may release the emptied slots' pages a moment
            // later (after its own references to the old table go), so a
            // leak is a refusal that never ends, not the first one.
            let mut refusals = 0;
            let small = loop {
                match FixedBuffers::with_driver(&driver, 4, 4096) {
                    Ok(small) => break small,
                    Err(error) if refusals < 200 => {
                        assert!(error.to_string().contains("RLIMIT_MEMLOCK"), "{error}");
                        refusals += 1;
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    Err(error) => panic!("the refused sets still hold locked memory: {error}"),
                }
            };
            assert!(
                small.is_registered(),
                "the refused set still holds locked memory"
            );
        }
        Ok(buffers) => {
            let file = tempfile::tempfile().unwrap();
            let file = driver
                .block_on(async { proactor::fs::File::from_std(file) })
                .unwrap();
            let all: Vec<_> = std::iter::from_fn(|| buffers.take()).collect();
            assert_eq!(all.len(), 64);
            for (index, mut buf) in all.into_iter().enumerate() {
                buf.extend_from_slice(b"page").unwrap();
                let (n, _) = driver.block_on(file.write_fixed_at(buf, 4 * index as u64));
                let n = n.unwrap_or_else(|e| {
                    panic!("buffer {index} of a set said to be registered: {e}")
                });
                assert_eq!(n, 4);
            }
            println!("registered: {}", buffers.is_registered());
        }
    }
    println!("child passed");
}
