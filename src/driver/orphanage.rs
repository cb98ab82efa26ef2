//! Drivers that nothing drives any more while futures or I/O objects of
//! theirs live on (moved to another runtime, to a thread, or kept idle):
//! a tokio runtime's driver after the runtime shut down, a per-thread
//! driver after its thread exited. One thread, `proactor-orphan`, waits on
//! all their notification fds at once and dispatches each that turns
//! readable, or whose timer is due. A driver leaves when nothing but the
//! orphanage holds it; the thread ends when the last one has left, and
//! starts again with the next.
//!
//! One thread for every orphan, not one each: a program that makes many
//! short runtimes and keeps one socket of each must not collect threads.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::{Driver, NotificationFd};

/// How often the thread looks for drivers nobody holds any more, when no
/// event or timer wakes it sooner.
const SWEEP: Duration = Duration::from_secs(1);

struct Orphan {
    driver: Driver,
    notified: NotificationFd,
    /// When its next timer is due (readiness back end), from its last
    /// dispatch.
    deadline: Option<Instant>,
}

impl Orphan {
    /// Whether anything but the orphanage holds the driver (the orphan's own
    /// handle and its notification fd's are two), in the process that made
    /// it (a forked child's copy takes no work: see `driver::fork`).
    fn still_held(&self) -> bool {
        self.driver.handles() > 2 && !self.driver.is_inherited()
    }
}

#[derive(Default)]
struct Orphanage {
    /// The orphans, except while the thread waits on them.
    waiting: Vec<Orphan>,
    /// Adopted while the thread was waiting on the others.
    adopted: Vec<Orphan>,
    /// The fork generation (see `driver::fork`) whose process runs the
    /// thread, if it runs: a forked child has the flag but not the thread.
    running_in: Option<u64>,
    /// Interrupts the thread's wait (the thread holds the other end). It
    /// lives as long as the thread: no fd stays open once it has ended.
    poke: Option<UnixStream>,
}

impl Orphanage {
    fn running(&self) -> bool {
        self.running_in == Some(crate::driver::fork::generation())
    }
}

fn orphanage() -> &'static Mutex<Orphanage> {
    static ORPHANAGE: OnceLock<Mutex<Orphanage>> = OnceLock::new();
    ORPHANAGE.get_or_init(Default::default)
}

/// Drives `driver` from the orphanage's thread until nothing else holds it.
pub(super) fn adopt(driver: Driver) {
    let notified = driver.notification_fd();
    let orphan = Orphan {
        driver,
        notified,
        deadline: Some(Instant::now()),
    };
    let mut orphanage = orphanage().lock().unwrap_or_else(PoisonError::into_inner);
    orphanage.adopted.push(orphan);
    if orphanage.running() {
        if let Some(poke) = &orphanage.poke {
            // A full buffer means the thread has a poke to read already.
            let _ = (&*poke).write(&[1]);
        }
        return;
    }
    let started = UnixStream::pair().and_then(|(poke, listen)| {
        poke.set_nonblocking(true)?;
        listen.set_nonblocking(true)?;
        std::thread::Builder::new()
            .name("proactor-orphan".into())
            .spawn(move || run(listen))?;
        Ok(poke)
    });
    match started {
        Ok(poke) => {
            orphanage.poke = Some(poke);
            orphanage.running_in = Some(crate::driver::fork::generation());
        }
        Err(_) => {
            // No orphanage (the process is out of fds, or of threads):
            // each orphan gets a thread of its own, which needs no fd; if
            // even that fails, it is driven from here, on the thread
            // letting go of it, until its holders are gone, rather than
            // leave their futures hanging.
            let orphans = std::mem::take(&mut orphanage.adopted);
            drop(orphanage);
            for Orphan { driver, notified, .. } in orphans {
                // Its handle to the driver would keep the driving going for
                // ever.
                drop(notified);
                super::orphan::drive_on_own_thread(driver);
            }
        }
    }
}

/// The orphanage's thread; `listen` is the other end of its `poke`.
fn run(listen: UnixStream) {
    loop {
        let mut orphans = {
            let mut orphanage = orphanage().lock().unwrap_or_else(PoisonError::into_inner);
            let mut orphans = std::mem::take(&mut orphanage.waiting);
            orphans.append(&mut orphanage.adopted);
            // Dropped here (outside the lock, below): a driver nobody else
            // holds tears down as any driver does.
            let (kept, gone): (Vec<_>, Vec<_>) = orphans.into_iter().partition(Orphan::still_held);
            if kept.is_empty() {
                orphanage.running_in = None;
                orphanage.poke = None;
                drop(orphanage);
                drop(gone);
                return;
            }
            drop(orphanage);
            drop(gone);
            kept
        };
        let now = Instant::now();
        let wait = orphans
            .iter()
            .filter_map(|orphan| orphan.deadline)
            .map(|at| at.saturating_duration_since(now))
            .fold(SWEEP, Duration::min);
        let mut fds: Vec<libc::pollfd> = orphans
            .iter()
            .map(|orphan| orphan.notified.as_raw_fd())
            .chain(std::iter::once(listen.as_raw_fd()))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // Rounded up: a wait cut short would spin until the deadline.
        let millis = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a live array of `fds.len()` pollfds for the
        // whole call; each fd is kept open by its orphan, which outlives it.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
        if fds.last().is_some_and(|bell| bell.revents != 0) {
            let mut pokes = [0u8; 64];
            while matches!((&listen).read(&mut pokes), Ok(n) if n > 0) {}
        }
        let now = Instant::now();
        for (orphan, polled) in orphans.iter_mut().zip(&fds) {
            let due = orphan.deadline.is_some_and(|at| at <= now);
            if polled.revents != 0 || due {
                // A panicking waker is the woken future's failure, not the
                // orphanage's: the others still need dispatching.
                orphan.deadline = match catch_unwind(AssertUnwindSafe(|| orphan.driver.dispatch())) {
                    Ok(Ok(deadline)) => deadline,
                    Ok(Err(_)) | Err(_) => Some(now + Duration::from_millis(1)),
                };
            }
        }
        orphanage()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .waiting
            .append(&mut orphans);
    }
}
