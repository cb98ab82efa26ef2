//! Run-time fallback: a seccomp filter makes io_uring_setup fail in a child
//! process, as Docker's default profile or an old kernel would; a child
//! that uses up every fd makes the probe fail for a passing reason.
#![cfg(all(target_os = "linux", feature = "uring", feature = "poll"))]

mod common;

use std::time::Duration;

use proactor::fs::OpenOptions;
use proactor::{Backend, Driver};

const CHILD_ERRNO: &str = "PROACTOR_TEST_SECCOMP_ERRNO";
const CHILD_EXHAUSTS_FDS: &str = "PROACTOR_TEST_EXHAUST_FDS";

/// The errnos that mean "io_uring is not here" (DESIGN.md, "Back-end choice
/// at run time"); every other one is transient.
fn means_not_here(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOSYS | libc::EPERM | libc::EACCES | libc::EINVAL | libc::ENOMEM
    )
}

/// What a child prints when it could not run and recorded a skip: its
/// parent then has nothing to check.
const CHILD_SKIPPED: &str = "CHILD-SKIPPED";

/// Makes every later call of `syscalls` by this thread (and threads it
/// starts) fail with `errno`. False, with a skip recorded, where this run
/// allows skips and seccomp filters cannot be installed (qemu-user refuses
/// `PR_SET_SECCOMP`, so that its own system calls are never filtered).
#[must_use = "false means the test was skipped and must end"]
fn fail_syscalls(syscalls: &[libc::c_long], errno: u32) -> bool {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code, k, jt, jf| libc::sock_filter { code, jt, jf, k };
    let mut filter = vec![
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jump(JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(RET_K, RET_ALLOW),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
    ];
    // One test per syscall; a match jumps past the rest and the allow.
    for (i, &nr) in syscalls.iter().enumerate() {
        let to_errno = u8::try_from(syscalls.len() - i).expect("a short list");
        filter.push(jump(JEQ_K, nr as u32, to_errno, 0));
    }
    filter.push(stmt(RET_K, RET_ALLOW));
    filter.push(stmt(RET_K, RET_ERRNO | (errno & 0xffff)));
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; `prog` points at a filter that outlives them.
    let installed = unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    };
    if installed != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINVAL)
            && common::skip::skipped("a seccomp filter", &err)
        {
            println!("{CHILD_SKIPPED}");
            return false;
        }
        panic!("seccomp: {err}");
    }
    true
}

/// Makes every later io_uring_setup of this thread (and threads it starts)
/// fail with `errno` (false: skipped, see [`fail_syscalls`]).
#[must_use = "false means the test was skipped and must end"]
fn block_io_uring_setup(errno: u32) -> bool {
    fail_syscalls(&[libc::SYS_io_uring_setup], errno)
}

/// In a child that needs io_uring to be there: true, with a skip recorded,
/// where it is not and this run allows skips.
fn uring_skipped_in_child() -> bool {
    match common::uring_unavailable() {
        Some(why) if common::skip::skipped("io_uring", &why) => {
            println!("{CHILD_SKIPPED}");
            true
        }
        _ => false,
    }
}

/// Runs only as a child of `falls_back_when_io_uring_is_blocked` and
/// `transient_io_uring_error_falls_back_to_poll_for_that_driver`.
#[test]
fn child_with_io_uring_blocked() {
    let Some(errno) = std::env::var(CHILD_ERRNO)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    else {
        return;
    };
    if !block_io_uring_setup(errno as u32) {
        return;
    }

    let driver = Driver::new().expect("auto choice falls back instead of failing");
    assert_eq!(driver.backend(), Backend::Poll);
    let reason = driver.fallback_reason().expect("the fallback says why");
    assert_eq!(reason.errno(), Some(errno));
    assert_eq!(reason.is_transient(), !means_not_here(errno), "{reason}");
    println!("fallback reason: {reason}");
    // Whether the answer was kept or probed again, the next driver falls
    // back for the same reason.
    let again = Driver::new().expect("a second automatic driver");
    assert_eq!(again.backend(), Backend::Poll);
    assert_eq!(again.fallback_reason(), Some(reason));

    let err = Driver::builder()
        .force(Backend::IoUring)
        .build()
        .unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        None,
        "the error carries the reason: {err}"
    );
    let expected_kind = std::io::Error::from_raw_os_error(errno).kind();
    assert_eq!(err.kind(), expected_kind, "{err}");
    assert!(err.to_string().contains("io_uring_setup"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    driver.block_on(async {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        let (r, _) = f.write_all_at(b"works without io_uring", 0).await;
        r.unwrap();
        let (n, buf) = f.read_at(Vec::with_capacity(5), 0).await;
        assert_eq!(n.unwrap(), 5);
        assert_eq!(&buf[..], b"works");
        f.close().await.unwrap();
    });
    println!("CHILD-OK");
}

#[test]
fn falls_back_when_io_uring_is_blocked() {
    for (errno, meaning) in [(libc::ENOSYS, "no io_uring"), (libc::EPERM, "seccomp")] {
        let errno_text = errno.to_string();
        let (ok, out) =
            common::run_child("child_with_io_uring_blocked", &[(CHILD_ERRNO, &errno_text)]);
        if ok && out.contains(CHILD_SKIPPED) {
            return;
        }
        assert!(
            ok && out.contains("CHILD-OK"),
            "child with errno {errno} failed:\n{out}"
        );
        assert!(
            out.contains(meaning),
            "reason should mention {meaning:?}:\n{out}"
        );
    }
}

#[test]
fn transient_io_uring_error_falls_back_to_poll_for_that_driver() {
    for errno in [libc::EMFILE, libc::EAGAIN] {
        let errno_text = errno.to_string();
        let (ok, out) =
            common::run_child("child_with_io_uring_blocked", &[(CHILD_ERRNO, &errno_text)]);
        if ok && out.contains(CHILD_SKIPPED) {
            return;
        }
        assert!(
            ok && out.contains("CHILD-OK"),
            "child with errno {errno} failed:\n{out}"
        );
        assert!(
            out.contains("tried again"),
            "the reason should say io_uring is tried again:\n{out}"
        );
    }
}

/// Runs only as a child of `transient_probe_error_is_not_cached`.
#[test]
fn child_probing_with_every_fd_in_use() {
    if std::env::var_os(CHILD_EXHAUSTS_FDS).is_none() || uring_skipped_in_child() {
        return;
    }
    let original = common::nofile_limit();
    // A low soft limit keeps the fd table small enough to fill.
    common::set_nofile_limit(libc::rlimit {
        rlim_cur: original.rlim_cur.min(64),
        ..original
    });
    let files = common::use_up_every_fd();

    // No fd for the probe's ring, nor for the readiness back end's poller:
    // no back end can run, and the error says why.
    let err = Driver::new().expect_err("no back end can run without an fd");
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
    let err = Driver::try_current().expect_err("nor can the process-wide driver");
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");

    drop(files);
    common::set_nofile_limit(original);

    // Nothing of the failure was kept: io_uring is probed again and used.
    let driver = Driver::new().expect("a driver once fds are free");
    assert_eq!(
        driver.backend(),
        Backend::IoUring,
        "{:?}",
        driver.fallback_reason()
    );
    assert_eq!(driver.fallback_reason(), None);
    assert_eq!(Driver::current().backend(), Backend::IoUring);
    let slept = proactor::block_on(async {
        proactor::time::sleep(Duration::from_millis(1))
            .await
            .unwrap();
        "slept"
    });
    assert_eq!(slept, "slept");
    println!("CHILD-OK");
}

#[test]
fn transient_probe_error_is_not_cached() {
    let (ok, out) = common::run_child(
        "child_probing_with_every_fd_in_use",
        &[(CHILD_EXHAUSTS_FDS, "1")],
    );
    if ok && out.contains(CHILD_SKIPPED) {
        return;
    }
    assert!(ok && out.contains("CHILD-OK"), "child failed:\n{out}");
    assert!(!out.contains("panicked"), "{out}");
}

const CHILD_CANNOT_START_THREADS: &str = "PROACTOR_TEST_NO_THREADS";

/// Runs only as a child of
/// `process_wide_driver_is_not_kept_when_its_thread_cannot_start`.
#[test]
fn child_starting_the_process_wide_driver_without_threads() {
    if std::env::var_os(CHILD_CANNOT_START_THREADS).is_none() {
        return;
    }
    // Thread creation fails as it does at the task limit (pthread_create
    // tries clone3, then clone).
    if !fail_syscalls(&[libc::SYS_clone3, libc::SYS_clone], libc::EAGAIN as u32) {
        return;
    }
    assert!(
        std::thread::Builder::new().spawn(|| ()).is_err(),
        "the filter stops threads"
    );

    // Without its parker thread the process-wide driver would never reap
    // completions for futures run by another executor: it is not kept.
    let err = Driver::try_current().expect_err("the driver's thread cannot start");
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
    let err = Driver::try_current().expect_err("nor can it on the second call");
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
    println!("CHILD-OK");
}

#[test]
fn process_wide_driver_is_not_kept_when_its_thread_cannot_start() {
    let (ok, out) = common::run_child(
        "child_starting_the_process_wide_driver_without_threads",
        &[(CHILD_CANNOT_START_THREADS, "1")],
    );
    if ok && out.contains(CHILD_SKIPPED) {
        return;
    }
    assert!(ok && out.contains("CHILD-OK"), "child failed:\n{out}");
}

#[test]
fn auto_choice_here_is_io_uring() {
    // This machine allows io_uring (checked by the probe), unless the
    // environment asks otherwise.
    if std::env::var_os("PROACTOR_BACKEND").is_some() {
        return;
    }
    let driver = Driver::new().unwrap();
    match driver.backend() {
        Backend::IoUring => assert!(driver.fallback_reason().is_none()),
        Backend::Poll => {
            let reason = driver.fallback_reason().unwrap();
            assert!(
                reason.errno().is_some(),
                "an automatic fallback names its errno: {reason}"
            );
        }
    }
}
