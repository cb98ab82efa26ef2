//! `splice` and `tee` under hostile use: pipe ends that hold their driver
//! handed to the operations, blocking pipes, a pipe teed into itself.
#![cfg(target_os = "linux")]

mod common;

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use common::poll_once;
use proactor::op::Splice;
use proactor::os::pipe_on;

/// A pipe without `O_NONBLOCK`: (read end, write end).
fn blocking_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two new fds that we now own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Fills the pipe behind `fd` (made non-blocking for it) and returns how
/// many bytes it took.
fn fill_pipe(fd: &OwnedFd) -> usize {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFL / F_SETFL on an open fd; no memory involved.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    // SAFETY: as above.
    let set = unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    assert_eq!(set, 0);
    let chunk = [7u8; 4096];
    let mut total = 0;
    loop {
        // SAFETY: `chunk` is valid for reads of its length.
        let n = unsafe { libc::write(raw, chunk.as_ptr().cast(), chunk.len()) };
        if n <= 0 {
            break;
        }
        total += n as usize;
    }
    // SAFETY: as above.
    assert_eq!(unsafe { libc::fcntl(raw, libc::F_SETFL, flags) }, 0);
    total
}

both_backends! {
    /// With SIGPIPE at its default action (a host that did not ignore it,
    /// as Rust's runtime does), a splice onto a connection the peer reset
    /// is a `BrokenPipe` error, as `net` promises for every send: it never
    /// kills the process with SIGPIPE. So is a splice or tee into a pipe
    /// whose reader is gone.
    fn a_splice_onto_a_reset_connection_raises_no_sigpipe(driver) {
        let name = common::env_name(driver.backend());
        let (ok, output) = common::run_child(
            "sigpipe_child",
            &[("SPLICE_SIGPIPE_CHILD", "1"), ("PROACTOR_BACKEND", name)],
        );
        assert!(ok && output.contains("child passed"), "on {name}:\n{output}");
    }

    /// A pipe end without `O_NONBLOCK` is accepted; the splice still never
    /// blocks a thread of the driver: into a full blocking pipe it waits,
    /// and moves the bytes once the pipe is drained.
    fn a_blocking_pipe_end_waits_without_blocking_a_thread(driver) {
        let (reader, writer) = blocking_pipe();
        let full = fill_pipe(&writer);
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"after the drain").unwrap();
        let writer = Arc::new(writer);
        let mut splice = Splice::new(file, Some(0), writer.clone(), None, 15).run_on(driver.clone());
        assert!(poll_once(&driver, &mut splice).is_pending(), "a full pipe takes nothing");
        // Other work on the driver still runs meanwhile.
        let (r2, w2) = pipe_on(driver.clone()).unwrap();
        driver.block_on(async {
            w2.write_all(b"x".to_vec()).await.0.unwrap();
            let (n, _) = r2.read(Vec::with_capacity(1)).await;
            assert_eq!(n.unwrap(), 1);
        });
        let mut drained = vec![0u8; full];
        let mut got = 0;
        while got < full {
            // SAFETY: `drained` is valid for writes past `got`.
            let n = unsafe {
                libc::read(reader.as_raw_fd(), drained[got..].as_mut_ptr().cast(), full - got)
            };
            assert!(n > 0);
            got += n as usize;
        }
        assert_eq!(driver.block_on(splice).unwrap(), 15);
        let mut tail = [0u8; 15];
        // SAFETY: `tail` is valid for writes of its length.
        let n = unsafe { libc::read(reader.as_raw_fd(), tail.as_mut_ptr().cast(), 15) };
        assert_eq!(n, 15);
        assert_eq!(&tail, b"after the drain");
    }

    /// `tee` of a pipe into itself is the kernel's `EINVAL`, at once, also
    /// with the pipe empty (not a wait for bytes that cannot come).
    fn a_pipe_teed_into_itself_is_an_error(driver) {
        let (reader, writer) = pipe_on(driver.clone()).unwrap();
        let result = driver.block_on(proactor::os::tee(&reader, &writer, 64));
        let error = result.expect_err("a pipe teed into itself");
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL), "{error}");
    }
}

/// Child of `a_splice_onto_a_reset_connection_raises_no_sigpipe`.
#[test]
fn sigpipe_child() {
    if std::env::var_os("SPLICE_SIGPIPE_CHILD").is_none() {
        return;
    }
    // SAFETY: setting a signal's disposition to its default; no handler.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR);
    let backend = common::backend_named(&std::env::var("PROACTOR_BACKEND").unwrap());
    let driver = common::driver(backend);
    let _current = driver.enter();
    driver.block_on(async {
        let (client, server) = common::tcp_pair().await;
        // The peer resets the connection: closed with unread bytes.
        let (sent, _) = client.write_all(b"unread".to_vec()).await;
        sent.unwrap();
        drop(server);
        let (reader, writer) = proactor::os::pipe().unwrap();
        let mut failed = None;
        for _ in 0..64 {
            writer.write_all(vec![1u8; 4096]).await.0.unwrap();
            match client.splice_from(&reader, 4096).await {
                Ok(_) => continue,
                // The reset itself comes first; EPIPE after it.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => continue,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let error = failed.expect("a reset connection takes bytes for ever");
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
        // Into a pipe whose reader is gone: a splice, and a tee.
        let (source, source_writer) = proactor::os::pipe().unwrap();
        let (gone, orphan) = proactor::os::pipe().unwrap();
        drop(gone);
        source_writer.write_all(b"bytes".to_vec()).await.0.unwrap();
        let orphan = Arc::new(orphan);
        let teed = proactor::os::tee(&source, &orphan, 64).await;
        assert_eq!(teed.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
        let spliced = Splice::new(
            source.as_fd().try_clone_to_owned().unwrap(),
            None,
            orphan,
            None,
            64,
        )
        .run()
        .unwrap()
        .await;
        assert_eq!(spliced.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
    });
    println!("child passed");
}

both_backends! {
    /// `splice_to` first hands over what the poll traits read ahead, by a
    /// write into the pipe. Dropped after that write went in but before
    /// its result was seen (a timeout, a `select!`), it must not leave the
    /// same bytes in the stream's buffer too: every byte reaches the pipe
    /// or the stream's next read exactly once.
    fn a_splice_to_dropped_after_its_read_ahead_write_duplicates_nothing(driver) {
        use futures::{AsyncBufReadExt, AsyncReadExt};
        let _current = driver.enter();
        let (client, mut server) = driver.block_on(common::tcp_pair());
        driver.block_on(async {
            client.write_all(b"0123456789".to_vec()).await.0.unwrap();
            client.shutdown(std::net::Shutdown::Write).await.unwrap();
            // All ten bytes read ahead into the stream's buffer.
            loop {
                if server.fill_buf().await.unwrap().len() == 10 {
                    break;
                }
            }
        });
        let (reader, writer) = pipe_on(driver.clone()).unwrap();
        let mut splice = Box::pin(server.splice_to(&writer, 64));
        let _ = poll_once(&driver, &mut splice);
        drop(splice);
        drop(writer);
        // Let whatever the dropped splice left in flight finish.
        assert!(common::park_until(&driver, std::time::Duration::from_secs(10), || driver.in_flight() == 0));
        driver.block_on(async {
            let mut piped = Vec::new();
            loop {
                let (n, buf) = reader.read(Vec::with_capacity(64)).await;
                if n.unwrap() == 0 {
                    break;
                }
                piped.extend_from_slice(&buf);
            }
            let mut rest = Vec::new();
            server.read_to_end(&mut rest).await.unwrap();
            piped.extend_from_slice(&rest);
            assert_eq!(piped, b"0123456789", "each byte once, in order");
        });
    }

    /// Bytes read ahead into a full pipe: `splice_to` waits for room
    /// without holding a thread, then hands them over.
    fn a_splice_to_of_read_ahead_bytes_waits_for_a_full_pipe(driver) {
        use futures::AsyncBufReadExt;
        let _current = driver.enter();
        let (client, mut server) = driver.block_on(common::tcp_pair());
        driver.block_on(async {
            client.write_all(b"0123456789".to_vec()).await.0.unwrap();
            while server.fill_buf().await.unwrap().len() < 10 {}
        });
        let (reader, writer) = pipe_on(driver.clone()).unwrap();
        let full = fill_pipe(&writer.as_fd().try_clone_to_owned().unwrap());
        let mut splice = Box::pin(server.splice_to(&writer, 64));
        assert!(poll_once(&driver, &mut splice).is_pending(), "a full pipe takes nothing");
        let mut drained = vec![0u8; full];
        let mut got = 0;
        while got < full {
            // SAFETY: `drained` is valid for writes past `got`.
            let n = unsafe { libc::read(reader.as_raw_fd(), drained[got..].as_mut_ptr().cast(), full - got) };
            assert!(n > 0);
            got += n as usize;
        }
        assert_eq!(driver.block_on(splice).unwrap(), 10);
        let (n, buf) = driver.block_on(reader.read(Vec::with_capacity(64)));
        assert_eq!(&buf[..n.unwrap()], b"0123456789");
    }
}
