//! What each waiting operation of the readiness back end waits for: an fd's
//! readiness, a timer, or nothing but its cancellation; and the deadline
//! that may end its wait first (`Op::with_timeout`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::time::Instant;

use super::poller::{Event, Poller};

use crate::driver::lifecycle::OpKey;
use crate::op::Interest;
use crate::os::RawSource;

/// What becomes of a registration that fired once its last waiter leaves.
/// It is kept only on epoll (polling's back end on Linux and Android),
/// where this is sound: the kernel drops a registration when its file
/// closes; polling
/// keeps no state of its own for it (its epoll back end says the rule of
/// deleting before close "doesn't apply to epoll"); and a oneshot
/// registration that fired is disarmed and reports nothing more, not even
/// `EPOLLHUP`/`EPOLLERR`. Keeping it saves the delete, and turns the next
/// wait's add into a modify: one system call per wait instead of two.
///
/// Only a registration that fired is kept. One whose last waiter was
/// cancelled is still armed, and epoll keys registrations by (open file, fd
/// number), not by number: if the file outlives the number (a `dup`, a
/// `fork`ed child, an fd in flight or received over `SCM_RIGHTS`), the
/// armed registration outlives the close, and once the number is reused
/// `epoll_ctl` cannot reach it any more (it looks up the file now at that
/// number). So it is deleted while the waiting operation still holds the fd.
/// Elsewhere (kqueue, IOCP, poll) the rule holds and registrations go with
/// their last waiter. A field of [`Waits`] rather than a constant so that
/// tests run the rule of those pollers on Linux too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IdleRegistrations {
    /// Kept, disarmed, so the next wait is one modify (epoll).
    Keep,
    /// Deleted with the last waiter (every other poller).
    Delete,
}

impl Default for IdleRegistrations {
    fn default() -> Self {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            IdleRegistrations::Keep
        } else {
            IdleRegistrations::Delete
        }
    }
}

/// The waiters on one fd number, and what the poller holds for it.
#[derive(Default)]
struct FdWaiters {
    readers: Vec<OpKey>,
    writers: Vec<OpKey>,
    /// The poller has (or had, until the file closed) a registration for
    /// this number, armed or not.
    registered: bool,
    /// The poller key of the registration's pending oneshot arm: `Some`
    /// from an add or modify until its event is dispatched, or the arm is
    /// replaced or deleted.
    armed: Option<usize>,
}

/// Every wait of the readiness back end.
///
/// Each arm of a registration gets a fresh poller key, never reused, and
/// only the pending arm's key leads to waiters (invariant 11: an event
/// belongs to one registration). An event under any other key is stale: from
/// an arm that was replaced since (its registration now waits under a newer
/// key, and the modify that replaced it polled the file again, so nothing
/// is lost), or from a registration of a file that no longer holds the fd
/// number, which must never wake the operations of whatever holds it now.
#[derive(Default)]
pub(super) struct Waits {
    fds: HashMap<RawSource, FdWaiters>,
    /// The fd of each pending arm, by poller key.
    armed_fds: HashMap<usize, RawSource>,
    /// The next poller key to hand out.
    next_key: usize,
    fd_of: HashMap<OpKey, (RawSource, Interest)>,
    timers: BTreeMap<(Instant, u64), OpKey>,
    timer_of: HashMap<OpKey, Instant>,
    forever: HashSet<OpKey>,
    /// Operations' deadlines, by time. An entry leaves when it passes.
    deadlines: BTreeMap<(Instant, u64), OpKey>,
    /// Each operation's deadline, until the operation ends: it outlives its
    /// entry in `deadlines` while the operation is being retried, so the
    /// retry that would wait again times out instead.
    deadline_of: HashMap<OpKey, Instant>,
    idle_registrations: IdleRegistrations,
}

#[cfg(unix)]
fn borrow(fd: RawSource) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: only used for the duration of one poller call, while an
    // operation that owns (or was promised) the fd waits on it.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

#[cfg(windows)]
fn borrow(socket: RawSource) -> std::os::windows::io::BorrowedSocket<'static> {
    // SAFETY: only used for the duration of one poller call, while an
    // operation that owns (or was promised) the socket waits on it.
    unsafe { std::os::windows::io::BorrowedSocket::borrow_raw(socket) }
}

impl Waits {
    /// `key` waits until `fd` is ready for `interest`.
    pub(super) fn wait_fd(&mut self, poller: &Poller, key: OpKey, fd: RawSource, interest: Interest) -> io::Result<()> {
        let waiters = self.fds.entry(fd).or_default();
        match interest {
            Interest::Readable => waiters.readers.push(key),
            Interest::Writable => waiters.writers.push(key),
        }
        self.fd_of.insert(key, (fd, interest));
        let armed = self.arm(poller, fd);
        if armed.is_err() {
            self.remove(poller, key);
        }
        armed
    }

    /// Registers `fd` for the union of what its waiters want, under a fresh
    /// poller key. When nobody waits any more, deletes the registration, or
    /// on epoll keeps it if it fired (see [`IdleRegistrations`]).
    fn arm(&mut self, poller: &Poller, fd: RawSource) -> io::Result<()> {
        let Some(waiters) = self.fds.get_mut(&fd) else {
            return Ok(());
        };
        let (readable, writable) = (!waiters.readers.is_empty(), !waiters.writers.is_empty());
        if !readable && !writable {
            let pending = waiters.armed.take();
            if let Some(key) = pending {
                self.armed_fds.remove(&key);
            }
            let keep = self.idle_registrations == IdleRegistrations::Keep;
            if keep && waiters.registered && pending.is_none() {
                // Fired, hence disarmed: kept, so the next wait is one modify.
                return Ok(());
            }
            if waiters.registered {
                // Still armed (its last waiter was cancelled) or off epoll:
                // deleted now, while the leaving operation still holds the
                // fd, so the number still names the registered file. This
                // fails only if the fd was closed under a waiting operation;
                // then an armed registration of a file that lives on
                // elsewhere stays out of reach, but its key, forgotten above,
                // leads nowhere.
                let _ = poller.delete(borrow(fd));
            }
            self.fds.remove(&fd);
            return Ok(());
        }
        let key = self.next_key;
        // Never the key polling keeps for `notify`. A key comes back only
        // after `usize::MAX` arms: never, on 64-bit systems.
        self.next_key = if key + 1 == usize::MAX { 0 } else { key + 1 };
        let event = Event::new(key, readable, writable);
        let mut modified = false;
        if waiters.registered {
            match poller.modify(borrow(fd), event) {
                Ok(()) => modified = true,
                // epoll_ctl looks up (the file now at this number, the
                // number): none, so the file registered under this number
                // closed, and the number may now name another file. The
                // old file's registration went with it, or, if the file
                // lives on elsewhere (dup, fork, SCM_RIGHTS), stays where
                // no epoll_ctl on this number can reach it. Either way its
                // pending arm is no concern of this number's waiters any
                // more: forget its key, so its event is dropped as stale,
                // and register the file that holds the number now.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if let Some(stale) = waiters.armed.take() {
                        self.armed_fds.remove(&stale);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if !modified {
            // SAFETY: operations keep their fd open while waiting, and a
            // registration is deleted (above) when its last waiter leaves,
            // except on epoll one that fired, which stays disarmed: polling's
            // epoll back end allows that (see IdleRegistrations), and
            // an add for a new file under a reused number makes a separate
            // registration, keyed by (file, number).
            match unsafe { poller.add(fd, event) } {
                // Registered already for the file at this number, though
                // the map did not know: take it over.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => poller.modify(borrow(fd), event)?,
                other => other?,
            }
        }
        waiters.registered = true;
        if let Some(replaced) = waiters.armed.replace(key) {
            // Its arm is replaced, and the modify polled the file again: a
            // readiness it saw is reported under the new key.
            self.armed_fds.remove(&replaced);
        }
        self.armed_fds.insert(key, fd);
        Ok(())
    }

    /// An event arrived for poller key `key`: the operations to retry. None
    /// if the key is not a pending arm's (see [`Waits`]).
    pub(super) fn ready(&mut self, poller: &Poller, key: usize, readable: bool, writable: bool) -> Vec<OpKey> {
        let Some(fd) = self.armed_fds.remove(&key) else {
            return Vec::new();
        };
        let Some(waiters) = self.fds.get_mut(&fd) else {
            return Vec::new();
        };
        debug_assert_eq!(waiters.armed, Some(key), "armed_fds and fds disagree");
        // A oneshot arm reports once: the registration is disarmed now.
        waiters.armed = None;
        let mut ready = Vec::new();
        if readable {
            ready.append(&mut waiters.readers);
        }
        if writable {
            ready.append(&mut waiters.writers);
        }
        if self.arm(poller, fd).is_err() {
            // Could not wait again: let the rest retry and see the error.
            if let Some(waiters) = self.fds.get_mut(&fd) {
                ready.append(&mut waiters.readers);
                ready.append(&mut waiters.writers);
            }
        }
        for key in &ready {
            self.fd_of.remove(key);
        }
        ready
    }

    /// Adds a timer; returns whether it is now the earliest.
    pub(super) fn add_timer(&mut self, key: OpKey, deadline: Instant) -> bool {
        let earliest = self.next_wakeup().map_or(true, |first| deadline < first);
        self.timers.insert((deadline, key.encode()), key);
        self.timer_of.insert(key, deadline);
        earliest
    }

    /// Gives waiting operation `key` a deadline; returns whether it is now
    /// the earliest time anything is due.
    pub(super) fn set_deadline(&mut self, key: OpKey, deadline: Instant) -> bool {
        let earliest = self.next_wakeup().map_or(true, |first| deadline < first);
        self.deadlines.insert((deadline, key.encode()), key);
        self.deadline_of.insert(key, deadline);
        earliest
    }

    /// Whether `key` has a deadline that has passed at `now`.
    pub(super) fn deadline_passed(&self, key: OpKey, now: Instant) -> bool {
        self.deadline_of.get(&key).is_some_and(|&deadline| deadline <= now)
    }

    /// `key` ended: its deadline, if any, goes.
    pub(super) fn clear_deadline(&mut self, key: OpKey) {
        if let Some(deadline) = self.deadline_of.remove(&key) {
            self.deadlines.remove(&(deadline, key.encode()));
        }
    }

    /// The earliest time a timer or a deadline is due.
    fn next_wakeup(&self) -> Option<Instant> {
        let timer = self.timers.keys().next().map(|&(at, _)| at);
        let deadline = self.deadlines.keys().next().map(|&(at, _)| at);
        match (timer, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes and returns the operations whose deadline passed at `now`
    /// while they waited: their waits end here, and they time out. One that
    /// is not waiting is being retried: it keeps its deadline, and times
    /// out if it would wait again (see [`Waits::deadline_passed`]).
    pub(super) fn expired_deadlines(&mut self, poller: &Poller, now: Instant) -> Vec<OpKey> {
        let mut expired = Vec::new();
        while let Some(entry) = self.deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            if self.remove_wait(poller, key) {
                self.deadline_of.remove(&key);
                expired.push(key);
            }
        }
        expired
    }

    /// `key` waits for nothing; only its cancellation ends it.
    pub(super) fn add_forever(&mut self, key: OpKey) {
        self.forever.insert(key);
    }

    /// Removes and returns the timers due at `now`, and the next deadline.
    pub(super) fn expired_timers(&mut self, now: Instant) -> (Vec<OpKey>, Option<Instant>) {
        let mut expired = Vec::new();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.timer_of.remove(&key);
            expired.push(key);
        }
        (expired, self.next_wakeup())
    }

    /// Stops `key` waiting, and drops its deadline. Returns whether it was
    /// waiting here.
    pub(super) fn remove(&mut self, poller: &Poller, key: OpKey) -> bool {
        self.clear_deadline(key);
        self.remove_wait(poller, key)
    }

    /// Stops `key` waiting. Returns whether it was waiting here.
    fn remove_wait(&mut self, poller: &Poller, key: OpKey) -> bool {
        if let Some((fd, interest)) = self.fd_of.remove(&key) {
            if let Some(waiters) = self.fds.get_mut(&fd) {
                let list = match interest {
                    Interest::Readable => &mut waiters.readers,
                    Interest::Writable => &mut waiters.writers,
                };
                list.retain(|&k| k != key);
            }
            // Re-arming for fewer directions can only fail if the fd is
            // gone, and then nothing waits on it anyway.
            let _ = self.arm(poller, fd);
            return true;
        }
        if let Some(deadline) = self.timer_of.remove(&key) {
            self.timers.remove(&(deadline, key.encode()));
            return true;
        }
        self.forever.remove(&key)
    }

    /// Ends every wait (driver teardown); returns the keys that waited.
    pub(super) fn drain(&mut self, poller: &Poller) -> Vec<OpKey> {
        for (&fd, waiters) in &self.fds {
            if waiters.registered {
                let _ = poller.delete(borrow(fd));
            }
        }
        self.fds.clear();
        self.armed_fds.clear();
        self.timers.clear();
        self.deadlines.clear();
        self.deadline_of.clear();
        let mut keys: Vec<OpKey> = self.fd_of.drain().map(|(key, _)| key).collect();
        keys.extend(self.forever.drain());
        keys.extend(self.timer_of.drain().map(|(key, _)| key));
        keys
    }
}

// The registration rules, each run on a real poller: epoll's on Linux, and
// that of kqueue and the others on every Unix, Linux included.
#[cfg(all(test, unix))]
mod tests {
    use std::io::Write;
    use std::num::NonZeroUsize;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::super::poller::{Events, Poller};
    use super::{IdleRegistrations, Waits};
    use crate::driver::lifecycle::OpKey;
    use crate::op::Interest;

    fn waits(idle_registrations: IdleRegistrations) -> Waits {
        Waits {
            idle_registrations,
            ..Waits::default()
        }
    }

    fn op(n: u64) -> OpKey {
        OpKey::decode(n).unwrap()
    }

    /// A socket that is readable (and stays so: nothing reads it).
    fn readable() -> (UnixStream, UnixStream) {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"x").unwrap();
        (a, b)
    }

    /// Waits for the poller's events and hands them to `waits`; returns the
    /// operations they wake.
    fn dispatch(waits: &mut Waits, poller: &Poller) -> Vec<OpKey> {
        let mut events = Events::with_capacity(NonZeroUsize::new(8).unwrap());
        poller.wait(&mut events, Some(Duration::from_secs(5))).unwrap();
        let ready: Vec<_> = events.iter().map(|ev| (ev.key, ev.readable, ev.writable)).collect();
        let mut woken = Vec::new();
        for (key, readable, writable) in ready {
            woken.extend(waits.ready(poller, key, readable, writable));
        }
        woken
    }

    /// Whether the poller still holds a registration for `fd`: epoll's
    /// modify says ENOENT when it does not.
    #[cfg(target_os = "linux")]
    fn registered_with_epoll(poller: &Poller, fd: &UnixStream) -> bool {
        use std::os::fd::AsFd;
        match poller.modify(fd.as_fd(), super::super::poller::Event::new(usize::MAX - 1, false, false)) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => panic!("modify: {e}"),
        }
    }

    #[test]
    fn off_epoll_a_fired_registration_goes_with_its_last_waiter() {
        let poller = Poller::new().unwrap();
        let mut waits = waits(IdleRegistrations::Delete);
        let (socket, _peer) = readable();
        let fd = socket.as_raw_fd();
        for n in 0..2 {
            // The second wait must add afresh: nothing of the first is left.
            waits.wait_fd(&poller, op(n), fd, Interest::Readable).unwrap();
            assert_eq!(dispatch(&mut waits, &poller), [op(n)]);
            assert!(!waits.fds.contains_key(&fd), "the fired registration was kept");
            #[cfg(target_os = "linux")]
            assert!(!registered_with_epoll(&poller, &socket), "the poller still holds it");
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn on_epoll_a_fired_registration_stays_disarmed() {
        let poller = Poller::new().unwrap();
        let mut waits = waits(IdleRegistrations::Keep);
        let (socket, _peer) = readable();
        let fd = socket.as_raw_fd();
        for n in 0..2 {
            // The second wait re-arms the kept registration.
            waits.wait_fd(&poller, op(n), fd, Interest::Readable).unwrap();
            assert_eq!(dispatch(&mut waits, &poller), [op(n)]);
            let kept = &waits.fds[&fd];
            assert!(kept.registered && kept.armed.is_none(), "not kept disarmed");
            #[cfg(target_os = "linux")]
            assert!(registered_with_epoll(&poller, &socket), "the poller dropped it");
        }
    }

    #[test]
    fn a_passed_deadline_ends_the_wait_or_waits_for_the_retry() {
        let poller = Poller::new().unwrap();
        let mut waits = Waits::default();
        // Never readable: the wait lasts until its deadline.
        let (socket, _peer) = UnixStream::pair().unwrap();
        let fd = socket.as_raw_fd();
        let start = std::time::Instant::now();
        let deadline = start + Duration::from_secs(1);
        waits.wait_fd(&poller, op(0), fd, Interest::Readable).unwrap();
        assert!(waits.set_deadline(op(0), deadline), "the only deadline is the earliest");
        assert!(waits.expired_deadlines(&poller, start).is_empty(), "not due yet");
        assert_eq!(waits.expired_deadlines(&poller, deadline), [op(0)]);
        assert!(!waits.fds.contains_key(&fd), "the timed-out wait still holds its fd");
        assert!(waits.deadline_of.is_empty() && waits.deadlines.is_empty());
        // One being retried (not waiting) when its deadline passes keeps
        // it, for the retry to see.
        assert!(waits.set_deadline(op(1), deadline));
        assert!(waits.expired_deadlines(&poller, deadline).is_empty());
        assert!(waits.deadline_passed(op(1), deadline));
        waits.clear_deadline(op(1));
        assert!(!waits.deadline_passed(op(1), deadline));
        // Cancelled: the deadline goes with the wait.
        waits.wait_fd(&poller, op(2), fd, Interest::Readable).unwrap();
        waits.set_deadline(op(2), deadline);
        assert!(waits.remove(&poller, op(2)));
        assert!(waits.deadline_of.is_empty() && waits.deadlines.is_empty());
        assert_eq!(waits.expired_timers(deadline).1, None, "a deadline was left behind");
    }

    #[test]
    fn a_registration_still_armed_goes_with_its_cancelled_waiter_under_both_rules() {
        for rule in [IdleRegistrations::Keep, IdleRegistrations::Delete] {
            let poller = Poller::new().unwrap();
            let mut waits = waits(rule);
            // Never readable: the arm stays pending.
            let (socket, _peer) = UnixStream::pair().unwrap();
            let fd = socket.as_raw_fd();
            waits.wait_fd(&poller, op(0), fd, Interest::Readable).unwrap();
            assert!(waits.remove(&poller, op(0)));
            assert!(!waits.fds.contains_key(&fd), "{rule:?}: the armed registration was kept");
            assert!(waits.armed_fds.is_empty(), "{rule:?}: its key still leads somewhere");
            #[cfg(target_os = "linux")]
            assert!(!registered_with_epoll(&poller, &socket), "{rule:?}: the poller still holds it");
        }
    }
}
