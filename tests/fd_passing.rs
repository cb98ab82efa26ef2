//! File descriptors passed over Unix sockets (`SCM_RIGHTS`): `send_with_fds`
//! and `recv_with_fds` on `UnixStream` and `UnixDatagram`, on both back
//! ends with the same assertions, received fds owned and never leaked.
#![cfg(unix)]

mod common;

use std::io::{self, Read, Seek};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use proactor::net::{UnixDatagram, UnixStream};
use proactor::op::MAX_FDS_PER_MESSAGE;

fn file_with(text: &str) -> std::fs::File {
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

fn contents(fd: OwnedFd) -> String {
    let mut file = std::fs::File::from(fd);
    file.rewind().unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    text
}

fn dups(file: &std::fs::File, count: usize) -> Vec<OwnedFd> {
    (0..count)
        .map(|_| file.as_fd().try_clone_to_owned().unwrap())
        .collect()
}

both_backends! {
    fn a_file_sent_over_a_stream_is_the_same_open_file(driver) {
        let fds = common::fd_count();
        driver.block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let file = file_with("shared contents");
            let (sent, (buf, back)) = a.send_with_fds(b"hdr".to_vec(), vec![file]).await;
            assert_eq!(sent.unwrap(), 3);
            assert_eq!(buf, b"hdr");
            assert_eq!(back.len(), 1, "the sender's file comes back");
            let (received, buf) = b.recv_with_fds(vec![0u8; 16], 4).await;
            let received = received.unwrap();
            assert_eq!(&buf[..received.len], b"hdr");
            assert!(!received.fds_truncated);
            assert_eq!(received.fds.len(), 1);
            let fd = received.fds.into_iter().next().unwrap();
            // SAFETY: F_GETFD on an fd we own.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_ne!(flags & libc::FD_CLOEXEC, 0, "a received fd is close-on-exec");
            assert_eq!(contents(fd), "shared contents");
            // Plain bytes after: no fds.
            a.write_all(b"plain").await.0.unwrap();
            let (received, _) = b.recv_with_fds(vec![0u8; 16], 4).await;
            let received = received.unwrap();
            assert_eq!(received.len, 5);
            assert!(received.fds.is_empty());
        });
        assert_eq!(common::fd_count_settles(fds), fds);
    }

    fn datagrams_keep_their_fds_apart(driver) {
        let fds = common::fd_count();
        driver.block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let file = file_with("x");
            for count in [0usize, 1, 5, MAX_FDS_PER_MESSAGE] {
                let (sent, _) = a.send_with_fds(vec![count as u8], dups(&file, count)).await;
                assert_eq!(sent.unwrap(), 1);
            }
            for count in [0usize, 1, 5, MAX_FDS_PER_MESSAGE] {
                let (received, buf) = b.recv_with_fds(vec![0u8; 4], MAX_FDS_PER_MESSAGE).await;
                let received = received.unwrap();
                assert_eq!((received.len, buf[0] as usize), (1, count % 256));
                assert_eq!(received.fds.len(), count);
                assert!(!received.fds_truncated);
            }
        });
        assert_eq!(common::fd_count_settles(fds), fds);
    }

    fn fds_beyond_the_room_are_reported_and_closed(driver) {
        let fds = common::fd_count();
        let ran = driver.block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let file = file_with("y");
            a.send_with_fds(&b"four"[..], dups(&file, 4)).await.0.unwrap();
            let (received, _) = b.recv_with_fds(vec![0u8; 8], 2).await;
            let received = received.unwrap();
            // qemu-user gives the kernel a control buffer of its own, larger
            // than the caller's, and drops what does not fit the caller's
            // without reporting MSG_CTRUNC (nor closing those fds).
            if !received.fds_truncated
                && common::skip::skipped("truncated control data", &"MSG_CTRUNC not reported")
            {
                return false;
            }
            assert!(received.fds_truncated);
            assert!(received.fds.len() <= 2);
            // No room at all: a plain receive, and the kernel closes them.
            a.send_with_fds(&b"more"[..], dups(&file, 3)).await.0.unwrap();
            let (received, _) = b.recv_with_fds(vec![0u8; 8], 0).await;
            let received = received.unwrap();
            assert!(received.fds.is_empty());
            assert!(received.fds_truncated);
            true
        });
        if ran {
            assert_eq!(common::fd_count_settles(fds), fds, "a truncated fd stayed open");
        }
    }

    fn fds_with_no_byte_on_a_stream_are_a_clear_error(driver) {
        let fds = common::fd_count();
        driver.block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let (sent, (_, back)) = a.send_with_fds(Vec::<u8>::new(), vec![file_with("e")]).await;
            assert_eq!(sent.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert_eq!(back.len(), 1, "the fd comes back");
            // A datagram may be empty and still carry them.
            let (c, d) = UnixDatagram::pair().unwrap();
            c.send_with_fds(Vec::<u8>::new(), back).await.0.unwrap();
            let (received, _) = d.recv_with_fds(vec![0u8; 4], 1).await;
            let received = received.unwrap();
            assert_eq!((received.len, received.fds.len()), (0, 1));
            drop(b);
        });
        assert_eq!(common::fd_count_settles(fds), fds);
    }

    fn too_many_fds_is_a_clear_error(driver) {
        driver.block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let file = file_with("z");
            let (sent, (_, back)) = a.send_with_fds(&b"!"[..], dups(&file, MAX_FDS_PER_MESSAGE + 1)).await;
            assert_eq!(sent.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert_eq!(back.len(), MAX_FDS_PER_MESSAGE + 1, "the fds come back");
            let (received, _) = b.recv_with_fds(vec![0u8; 8], MAX_FDS_PER_MESSAGE + 1).await;
            assert_eq!(received.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        });
    }

    fn fds_received_for_a_dropped_receive_are_closed(driver) {
        let fds = common::fd_count();
        let file = file_with("dropped");
        for round in 0..100 {
            driver.block_on(async {
                // Made inside: the sockets take the driver current here.
                let (a, b) = UnixDatagram::pair().unwrap();
                let mut receive = Box::pin(b.recv_with_fds(vec![0u8; 8], 4));
                assert!(futures::poll!(&mut receive).is_pending());
                a.send_with_fds(&b"m"[..], dups(&file, 3)).await.0.unwrap();
                if round % 2 == 0 {
                    // Let the result arrive first: it is dropped completed.
                    let _ = proactor::time::sleep(Duration::from_millis(1)).await;
                }
                // Dropped here: in flight, or with its fds received.
            });
        }
        assert!(
            common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0),
            "{} receives still held",
            driver.in_flight()
        );
        drop(file);
        assert_eq!(common::fd_count_settles(fds), fds, "a received fd was never closed");
    }
}
