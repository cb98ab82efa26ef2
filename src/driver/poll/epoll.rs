//! The readiness back end's poller on Linux: epoll itself, with `polling`'s
//! shape (the subset the back end uses), so the rest of the back end reads
//! the same on every OS.
//!
//! Why not `polling` here: its epoll wait arms a timerfd for every wait
//! (`timerfd_settime`, then an `epoll_ctl` to re-arm it), and re-arms its
//! notifier after every wait (a `read` and another `epoll_ctl`): five
//! system calls where epoll needs one. A dispatch under a host runtime is
//! such a wait, once per readiness edge, so those four extra calls were a
//! large share of the back end's cost per operation. Here a wait is one
//! `epoll_pwait2` (nanosecond timeout; `epoll_wait` with the timeout
//! rounded up to a millisecond where the kernel lacks it, before 5.11), and
//! the notifier, an eventfd registered level-triggered, is read only in a
//! wait that it woke.
//!
//! Registrations are oneshot, as `polling` makes them: an fd that fired stays
//! registered but disarmed until the next `modify`.

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The epoll data of the notifier's registration; never a poller key
/// (keys stop short of `usize::MAX`, see `Waits`).
const NOTIFY_DATA: u64 = u64::MAX;

/// What an fd is registered for, and under which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
}

impl Event {
    pub(crate) fn new(key: usize, readable: bool, writable: bool) -> Event {
        Event {
            key,
            readable,
            writable,
        }
    }

    /// The epoll flags for this interest, oneshot. A hang-up or an error
    /// counts as both directions, as in `polling`: the operation then runs
    /// and meets it.
    fn flags(self) -> u32 {
        let mut flags = libc::EPOLLONESHOT as u32;
        if self.readable {
            flags |= (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI) as u32;
        }
        if self.writable {
            flags |= (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
        }
        flags
    }
}

/// The events one wait gathered.
pub(crate) struct Events {
    /// Room for `capacity` events and the notifier's.
    list: Vec<libc::epoll_event>,
    /// How many entries of `list` the last wait filled.
    filled: usize,
    capacity: NonZeroUsize,
}

impl Events {
    pub(crate) fn with_capacity(capacity: NonZeroUsize) -> Events {
        let empty = libc::epoll_event { events: 0, u64: 0 };
        Events {
            list: vec![empty; capacity.get() + 1],
            filled: 0,
            capacity,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.filled = 0;
    }

    /// Events of registered fds (the notifier's is not one).
    pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.list[..self.filled]
            .iter()
            .filter(|event| event.u64 != NOTIFY_DATA)
            .map(|event| {
                let flags = event.events;
                let any = |mask: libc::c_int| flags & mask as u32 != 0;
                Event {
                    key: event.u64 as usize,
                    readable: any(libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI),
                    writable: any(libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR),
                }
            })
    }

    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }

    pub(crate) fn capacity(&self) -> NonZeroUsize {
        self.capacity
    }
}

/// An epoll instance and the eventfd that wakes its waits.
#[derive(Debug)]
pub(crate) struct Poller {
    epoll: OwnedFd,
    notifier: OwnedFd,
}

/// Whether `epoll_pwait2` is known to be missing (ENOSYS, or refused by a
/// seccomp filter): then waits use `epoll_wait`.
static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        // SAFETY: epoll_create1 takes no pointers; a valid fd is ours to own.
        let epoll = unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // SAFETY: as above, for eventfd.
        let notifier =
            unsafe { OwnedFd::from_raw_fd(check(libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?) };
        let poller = Poller { epoll, notifier };
        // Level-triggered: a notification stays until a wait reads it.
        poller.ctl(libc::EPOLL_CTL_ADD, poller.notifier.as_raw_fd(), libc::EPOLLIN as u32, NOTIFY_DATA)?;
        Ok(poller)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, flags: u32, data: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events: flags, u64: data };
        // SAFETY: `event` is a live epoll_event for the call's duration;
        // epoll_ctl checks `fd` itself (EBADF, ENOENT, EEXIST).
        check(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) }).map(drop)
    }

    /// Registers `fd` for `event`, armed once.
    ///
    /// # Safety
    ///
    /// `fd` must stay open until it is deleted, or until this poller is
    /// dropped (the contract of `polling::Poller::add`).
    pub(crate) unsafe fn add(&self, fd: RawFd, event: Event) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, event.flags(), event.key as u64)
    }

    /// Re-arms `fd`'s registration for `event`.
    pub(crate) fn modify(&self, fd: BorrowedFd<'_>, event: Event) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), event.flags(), event.key as u64)
    }

    /// Removes `fd`'s registration.
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0)
    }

    /// Waits until an fd is ready, `notify` is called, or `timeout` passes
    /// (`None`: no limit). An interrupted wait goes on for the time left.
    /// Returns how many fds are ready.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        events.filled = 0;
        loop {
            // No deadline (none given, or beyond the clock's range): no limit.
            let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            match self.wait_once(&mut events.list, left) {
                Ok(filled) => {
                    events.filled = filled;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if events.list[..events.filled].iter().any(|event| event.u64 == NOTIFY_DATA) {
            let mut counter = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a live stack buffer. EAGAIN
            // (another wait read it first) is as good as a read.
            let _ = unsafe { libc::read(self.notifier.as_raw_fd(), counter.as_mut_ptr().cast(), counter.len()) };
        }
        Ok(events.len())
    }

    /// One `epoll_pwait2` (or `epoll_wait`) into `list`.
    fn wait_once(&self, list: &mut [libc::epoll_event], timeout: Option<Duration>) -> io::Result<usize> {
        let max = libc::c_int::try_from(list.len()).unwrap_or(libc::c_int::MAX);
        if !NO_PWAIT2.load(Ordering::Relaxed) {
            let spec = timeout.map(|t| libc::timespec {
                tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: t.subsec_nanos().into(),
            });
            let spec_ptr = spec.as_ref().map_or(std::ptr::null(), |spec| spec as *const libc::timespec);
            // SAFETY: `list` has room for `max` events; `spec_ptr` is null
            // or points to a live timespec; no signal mask is passed.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.epoll.as_raw_fd(),
                    list.as_mut_ptr(),
                    max,
                    spec_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            };
            if rc >= 0 {
                return Ok(rc as usize);
            }
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::ENOSYS) | Some(libc::EPERM) => NO_PWAIT2.store(true, Ordering::Relaxed),
                _ => return Err(error),
            }
        }
        // Rounded up: a wait that ends before its deadline would only be
        // followed by another.
        let millis = timeout.map_or(-1, |t| {
            let millis = t.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX)
        });
        // SAFETY: `list` has room for `max` events.
        let rc = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), list.as_mut_ptr(), max, millis) };
        check(rc).map(|n| n as usize)
    }

    /// Wakes the current wait, or the next one.
    pub(crate) fn notify(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live stack buffer to our eventfd.
        // EAGAIN (the counter is full) means a wake-up is pending anyway.
        let rc = unsafe { libc::write(self.notifier.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        if rc < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::WouldBlock {
                return Err(error);
            }
        }
        Ok(())
    }
}

impl AsFd for Poller {
    /// The epoll fd: readable while an fd is ready or a notification waits.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

impl AsRawFd for Poller {
    fn as_raw_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds pipe2 writes.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) }, 0);
        // SAFETY: pipe2 gave us both fds.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn events() -> Events {
        Events::with_capacity(NonZeroUsize::new(8).unwrap())
    }

    #[test]
    fn a_registration_fires_once_until_modified() {
        let poller = Poller::new().unwrap();
        let (reader, writer) = pipe();
        // SAFETY: `reader` outlives the poller's use of it (deleted below).
        unsafe { poller.add(reader.as_raw_fd(), Event::new(7, true, false)) }.unwrap();
        let mut events = events();
        assert_eq!(poller.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
        // SAFETY: writes one byte from a live buffer.
        assert_eq!(unsafe { libc::write(writer.as_raw_fd(), b"x".as_ptr().cast(), 1) }, 1);
        assert_eq!(poller.wait(&mut events, Some(Duration::from_secs(5))).unwrap(), 1);
        assert_eq!(events.iter().collect::<Vec<_>>(), [Event::new(7, true, false)]);
        // Oneshot: still readable, but disarmed.
        assert_eq!(poller.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
        poller.modify(reader.as_fd(), Event::new(8, true, false)).unwrap();
        assert_eq!(poller.wait(&mut events, Some(Duration::ZERO)).unwrap(), 1);
        assert_eq!(events.iter().next().unwrap().key, 8);
        poller.delete(reader.as_fd()).unwrap();
        let unknown = poller.modify(reader.as_fd(), Event::new(9, true, false)).unwrap_err();
        assert_eq!(unknown.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_second_add_of_the_same_file_is_already_exists() {
        let poller = Poller::new().unwrap();
        let (reader, _writer) = pipe();
        // SAFETY: `reader` lives as long as the poller.
        unsafe { poller.add(reader.as_raw_fd(), Event::new(1, true, false)) }.unwrap();
        // SAFETY: as above.
        let again = unsafe { poller.add(reader.as_raw_fd(), Event::new(2, true, false)) }.unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn notify_wakes_one_wait_and_is_not_an_event() {
        let poller = Poller::new().unwrap();
        let mut events = events();
        poller.notify().unwrap();
        poller.notify().unwrap();
        let started = Instant::now();
        assert_eq!(poller.wait(&mut events, Some(Duration::from_secs(10))).unwrap(), 0);
        assert!(started.elapsed() < Duration::from_secs(5), "the notification woke the wait");
        // Read by that wait: the next one times out.
        let started = Instant::now();
        assert_eq!(poller.wait(&mut events, Some(Duration::from_millis(20))).unwrap(), 0);
        assert!(started.elapsed() >= Duration::from_millis(20), "no notification left");
    }

    #[test]
    fn a_timed_wait_never_ends_early() {
        let poller = Poller::new().unwrap();
        let mut events = events();
        for wait in [Duration::from_micros(300), Duration::from_millis(3)] {
            let started = Instant::now();
            poller.wait(&mut events, Some(wait)).unwrap();
            assert!(started.elapsed() >= wait, "woke {:?} into a {wait:?} wait", started.elapsed());
        }
    }

    #[test]
    fn waits_without_epoll_pwait2_never_end_early_either() {
        // As on a kernel before 5.11, or under a seccomp filter that refuses
        // the call: millisecond waits, rounded up. Other tests running now
        // wait the same way meanwhile, which is as correct.
        NO_PWAIT2.store(true, Ordering::Relaxed);
        let poller = Poller::new().unwrap();
        let mut events = events();
        for wait in [Duration::from_micros(1), Duration::from_micros(1500)] {
            let started = Instant::now();
            poller.wait(&mut events, Some(wait)).unwrap();
            assert!(started.elapsed() >= wait, "woke {:?} into a {wait:?} wait", started.elapsed());
        }
        poller.notify().unwrap();
        assert_eq!(poller.wait(&mut events, None).unwrap(), 0, "a notification ends an endless wait");
    }

    #[test]
    fn a_hang_up_counts_as_both_directions() {
        let poller = Poller::new().unwrap();
        let (reader, writer) = pipe();
        // SAFETY: `reader` lives as long as the poller.
        unsafe { poller.add(reader.as_raw_fd(), Event::new(3, true, false)) }.unwrap();
        drop(writer);
        let mut events = events();
        assert_eq!(poller.wait(&mut events, Some(Duration::from_secs(5))).unwrap(), 1);
        assert_eq!(events.iter().next().unwrap(), Event::new(3, true, true));
    }
}
