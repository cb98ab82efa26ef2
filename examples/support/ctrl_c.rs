//! Ctrl-C as a future, for the examples' clean shutdown: on Unix a SIGINT /
//! SIGTERM handler writes a byte to a self-pipe, which a proactor read waits
//! on. Elsewhere the future never completes and Ctrl-C ends the process the
//! usual way, without the clean shutdown.

#[cfg(unix)]
pub use unix::ctrl_c;

/// Never completes: without Unix signals the process just ends at Ctrl-C.
#[cfg(not(unix))]
pub fn ctrl_c() -> std::io::Result<impl std::future::Future<Output = std::io::Result<()>>> {
    Ok(std::future::pending())
}

#[cfg(unix)]
mod unix {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::atomic::{AtomicI32, Ordering};

    use proactor::op::{Op, Read};

    static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

    extern "C" fn on_signal(_: libc::c_int) {
        let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: write(2) is async-signal-safe; the byte is on the stack.
            unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
        }
    }

    /// Installs the handlers. The future completes at the first SIGINT or
    /// SIGTERM.
    pub fn ctrl_c() -> io::Result<impl std::future::Future<Output = io::Result<()>>> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds pipe writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe returned two new fds that we now own.
        let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in fds {
            // SAFETY: plain fcntl calls on fds we own.
            let flagged = unsafe {
                libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) != -1
                    && libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) != -1
            };
            if !flagged {
                return Err(io::Error::last_os_error());
            }
        }
        SIGNAL_PIPE.store(tx.as_raw_fd(), Ordering::Relaxed);
        // The write end lives as long as the process: the handler may run at
        // any time.
        std::mem::forget(tx);
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: installs a handler that only calls write(2).
            if unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) }
                == libc::SIG_ERR
            {
                return Err(io::Error::last_os_error());
            }
        }
        let read = Op::new(Read::new(rx, Vec::with_capacity(1)))?;
        Ok(async move { read.await.0.map(drop) })
    }
}
