//! Bad input gets a clear result or `io::Error`, never a panic or a hang.

mod common;

use std::io::ErrorKind;
#[cfg(unix)]
use std::os::fd::{BorrowedFd, RawFd};
use std::path::Path;

use proactor::fs::File;
use proactor::op::OpenAt;
#[cfg(unix)]
use proactor::op::{Op, Read, ReadAt, Write};

both_backends! {
    fn zero_length_buffers_and_eof(driver) {
        let (file, _) = common::pattern_file(10);
        driver.block_on(async {
            let f = File::open(file.path()).await.unwrap();
            let (n, buf) = f.read_at(Vec::new(), 0).await;
            assert_eq!(n.unwrap(), 0);
            assert!(buf.is_empty());
            let (n, _) = f.read_at(Vec::with_capacity(8), 10).await;
            assert_eq!(n.unwrap(), 0, "reading at EOF");
            let (n, _) = f.read_at(Vec::with_capacity(8), 1 << 40).await;
            assert_eq!(n.unwrap(), 0, "reading far past EOF");
            let (n, buf) = f.read_at(Vec::with_capacity(8), 6).await;
            assert_eq!(n.unwrap(), 4, "a short read at the end");
            assert_eq!(buf.len(), 4);
            let (r, buf) = f.read_exact_at(Vec::with_capacity(16), 0).await;
            assert_eq!(r.unwrap_err().kind(), ErrorKind::UnexpectedEof);
            assert_eq!(buf.len(), 10, "what was read is kept");
            let (r, _) = f.read_exact_at(Vec::new(), 0).await;
            r.unwrap();
            let (r, _) = f.write_at(b"x", 0).await;
            assert!(r.is_err(), "writing to a read-only file fails");
            let (r, _) = f.read_at(Vec::with_capacity(8), u64::MAX).await;
            assert!(r.is_err(), "an offset beyond off_t is an error, not a panic");
        });
    }

    fn buffer_longer_than_u32_is_capped(driver) {
        let (file, data) = common::pattern_file(4096);
        // Reserved, never touched: no real memory is used.
        let huge: Vec<u8> = Vec::with_capacity(u32::MAX as usize + 4096);
        let (n, buf) = driver.block_on(async {
            let f = File::open(file.path()).await.unwrap();
            f.read_at(huge, 0).await
        });
        assert_eq!(n.unwrap(), 4096);
        assert_eq!(&buf[..], &data[..]);
    }

    fn path_with_interior_nul(driver) {
        let err = OpenAt::new(Path::new("bad\0path"), libc::O_RDONLY, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = driver.block_on(File::open("bad\0path")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("NUL"), "{err}");
    }

    fn missing_path_is_not_found(driver) {
        let err = driver.block_on(File::open("/nonexistent/proactor/path")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }
}

#[cfg(feature = "poll")]
#[test]
fn disabled_blocking_pool_is_a_clear_error() {
    let _serial = common::serial();
    let driver = proactor::Driver::builder()
        .force(proactor::Backend::Poll)
        .blocking_threads(0)
        .build()
        .unwrap();
    let (file, _) = common::pattern_file(8);
    let err = driver.block_on(File::open(file.path())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("blocking_threads(0)"), "{err}");
    // Sockets and pipes still work without the pool.
    #[cfg(unix)]
    {
        let (rx, tx) = common::pipe();
        let (n, _) = driver.block_on(Op::with_driver(Write::new(tx, b"ok"), driver.clone()));
        assert_eq!(n.unwrap(), 2);
        let (n, _) = driver.block_on(Op::with_driver(
            Read::new(rx, Vec::with_capacity(2)),
            driver.clone(),
        ));
        assert_eq!(n.unwrap(), 2);
    }
    let echoed = driver.block_on(async {
        let (client, server) = common::tcp_pair().await;
        let (sent, _) = client.write_all(b"ok").await;
        sent?;
        let (got, buf) = server.read_exact(Vec::with_capacity(2)).await;
        got.map(|()| buf)
    });
    assert_eq!(echoed.unwrap(), b"ok");
}

/// Runs only as a child of `unknown_backend_env_is_an_error`.
#[test]
fn child_with_unknown_backend_env() {
    if std::env::var_os("PROACTOR_TEST_CHILD").is_none() {
        return;
    }
    let err = proactor::Driver::new().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("PROACTOR_BACKEND"), "{err}");
    let err = proactor::Driver::try_current().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = futures::executor::block_on(File::open("/")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // force() overrides the variable.
    #[cfg(feature = "poll")]
    proactor::Driver::builder()
        .force(proactor::Backend::Poll)
        .build()
        .unwrap();
    println!("CHILD-OK");
}

#[test]
fn unknown_backend_env_is_an_error() {
    let _serial = common::serial();
    let (ok, out) = common::run_child(
        "child_with_unknown_backend_env",
        &[("PROACTOR_TEST_CHILD", "1"), ("PROACTOR_BACKEND", "epoll")],
    );
    assert!(ok && out.contains("CHILD-OK"), "child failed:\n{out}");
}

/// Raw fd numbers are a Unix notion.
#[cfg(unix)]
mod unix_only {
    use super::*;

    /// An fd number no file can have: at or above the soft limit on open
    /// fds, where the kernel never puts one. Unlike a number just closed, no
    /// other thread can open a file under it meanwhile.
    fn never_open_fd() -> RawFd {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the rlimit it is given.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
        RawFd::try_from(limit.rlim_cur).unwrap_or(RawFd::MAX)
    }

    both_backends! {
        fn closed_fd_is_ebadf(driver) {
            // Safe code cannot name a closed fd (I/O safety): only a broken
            // `borrow_raw` promise can, and this checks what it costs.
            // SAFETY: deliberately not kept (the fd is not open), with a
            // number no file can have, so no I/O reaches a file someone else
            // owns; BorrowedFd's only validity rule, not -1, holds.
            let closed = unsafe { BorrowedFd::borrow_raw(never_open_fd()) };
            let (result, _) = driver.block_on(Op::with_driver(Read::new(closed, Vec::with_capacity(8)), driver.clone()));
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EBADF));
            let (result, _) = driver.block_on(Op::with_driver(Write::new(closed, b"x"), driver.clone()));
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EBADF));
            let (result, _) = driver.block_on(Op::with_driver(ReadAt::new(closed, Vec::with_capacity(8), 0), driver.clone()));
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EBADF));
        }
    }
}
