//! What each waiting operation of the readiness back end waits for: an fd's
//! readiness, a deadline, or nothing but its cancellation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::time::Instant;

use polling::{Event, Poller};

use crate::driver::lifecycle::OpKey;
use crate::op::Interest;
use crate::os::RawSource;

/// Whether an fd's registration stays after its last waiter leaves. Only
/// on epoll (polling's back end on Linux and Android), where this is sound:
/// the kernel drops a registration when its file closes; polling keeps no
/// state of its own for it (its epoll back end says the rule of deleting
/// before close "doesn't apply to epoll"); and a oneshot registration that
/// fired is disarmed and reports nothing more. Keeping it saves the delete,
/// and turns the next wait's add into a modify: one system call per wait
/// instead of two. Elsewhere (kqueue, IOCP, poll) the rule holds and
/// registrations go with their last waiter.
const KEEP_IDLE_REGISTRATIONS: bool = cfg!(any(target_os = "linux", target_os = "android"));

#[derive(Default)]
struct FdWaiters {
    readers: Vec<OpKey>,
    writers: Vec<OpKey>,
    registered: bool,
}

#[derive(Default)]
pub(super) struct Waits {
    fds: HashMap<RawSource, FdWaiters>,
    fd_of: HashMap<OpKey, (RawSource, Interest)>,
    timers: BTreeMap<(Instant, u64), OpKey>,
    timer_of: HashMap<OpKey, Instant>,
    forever: HashSet<OpKey>,
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

    /// Registers `fd` for the union of what its waiters want. When nobody
    /// waits any more, removes it, or on epoll keeps the registration (see
    /// [`KEEP_IDLE_REGISTRATIONS`]).
    fn arm(&mut self, poller: &Poller, fd: RawSource) -> io::Result<()> {
        let Some(waiters) = self.fds.get_mut(&fd) else {
            return Ok(());
        };
        let (readable, writable) = (!waiters.readers.is_empty(), !waiters.writers.is_empty());
        if !readable && !writable {
            if KEEP_IDLE_REGISTRATIONS && waiters.registered {
                // Kept, disarmed once it fired: the next wait is one modify.
                return Ok(());
            }
            if waiters.registered {
                // Fails only if the fd was closed, which removed it already.
                let _ = poller.delete(borrow(fd));
            }
            self.fds.remove(&fd);
            return Ok(());
        }
        let event = Event::new(fd as usize, readable, writable);
        if waiters.registered {
            match poller.modify(borrow(fd), event) {
                // The fd was closed and its number reused: register anew.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => return other,
            }
        }
        // SAFETY: operations keep their fd open while waiting. Off epoll the
        // registration is deleted (above) once no operation waits on the
        // fd; on epoll it may stay, which polling's epoll back end allows
        // (see KEEP_IDLE_REGISTRATIONS).
        match unsafe { poller.add(fd, event) } {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => poller.modify(borrow(fd), event)?,
            other => other?,
        }
        waiters.registered = true;
        Ok(())
    }

    /// An event arrived for poller key `key`: the operations to retry.
    pub(super) fn ready(&mut self, poller: &Poller, key: usize, readable: bool, writable: bool) -> Vec<OpKey> {
        let Ok(fd) = RawSource::try_from(key) else {
            return Vec::new();
        };
        let Some(waiters) = self.fds.get_mut(&fd) else {
            return Vec::new();
        };
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
        let earliest = self.timers.keys().next().map_or(true, |&(first, _)| deadline < first);
        self.timers.insert((deadline, key.encode()), key);
        self.timer_of.insert(key, deadline);
        earliest
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
        (expired, self.timers.keys().next().map(|&(deadline, _)| deadline))
    }

    /// Stops `key` waiting. Returns whether it was waiting here.
    pub(super) fn remove(&mut self, poller: &Poller, key: OpKey) -> bool {
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
        self.timers.clear();
        let mut keys: Vec<OpKey> = self.fd_of.drain().map(|(key, _)| key).collect();
        keys.extend(self.forever.drain());
        keys.extend(self.timer_of.drain().map(|(key, _)| key));
        keys
    }
}
