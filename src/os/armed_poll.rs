//! One direction of an [`AsyncFd`](super::AsyncFd) on io_uring: a
//! multishot poll kept armed, whose events wait, merged, for the next wait.
//!
//! A multishot `IORING_OP_POLL_ADD` posts the fd's events each time the fd
//! wakes its waiters (new data, room to write, a hang-up), not while it
//! stays ready: it tells of changes, where a wait asks about a state. So
//! the events are turned back into "ready now":
//!
//! - A wait takes the events posted since the last wait took some: if
//!   there are any, the fd is ready. The driver merges events that come
//!   while none is taken into one, so an fd nobody waits on holds one.
//! - Readiness a wait handed out stays *unproven* until an I/O call
//!   reports `WouldBlock` (`read_with`/`write_with` report it). A wait that
//!   finds no new event while the last readiness is unproven asks `poll(2)`
//!   once, so a caller that read only part of the data, or read it
//!   elsewhere, is still told the state, as by a one-shot wait.
//! - No wake-up is lost: the poll stays armed while the caller does its
//!   I/O, so data that comes after the events were taken is posted anew
//!   and waits for the next wait; at worst that wait is answered by an
//!   event whose data the last read already took, and the next I/O call
//!   says `WouldBlock`. Only the readiness handed out before an I/O call
//!   is disproven by its `WouldBlock` (a count tells them apart).
//!
//! A kernel that ends the poll (an error, its completion queue overflowed,
//! the thread that submitted it exited) is asked again at the next wait;
//! the new poll looks at the fd's state when it starts, so nothing is lost
//! in between. A kernel that refuses the flag (before 5.13: EINVAL)
//! makes this direction wait one-shot from then on.

use std::io;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use super::{sys, AsRawSource};
use crate::driver::{ShotPoll, UringDriver};
use crate::op::{Interest, MultishotReady, OpId};

/// Tasks waiting beyond which all are woken (to wait again if they still
/// want to): waits dropped without an event leave their task's waker
/// behind, and this bounds what they hold.
const MAX_WAITERS: usize = 64;

pub(super) struct ArmedPoll {
    interest: Interest,
    state: Mutex<State>,
    waiters: Arc<Waiters>,
    /// Wakes every waiter: the one waker the driver holds for the poll.
    waker: Waker,
}

struct State {
    /// The poll in the kernel, or ended with events still to take.
    armed: Option<Armed>,
    /// Whether to arm a multishot poll: not refused by the kernel.
    multishot: bool,
    /// Readiness was handed out that no `WouldBlock` has disproven.
    unproven: bool,
    /// How many readinesses were handed out.
    handed_out: u64,
}

struct Armed {
    id: OpId,
    /// Whether a result came from it yet.
    answered: bool,
}

impl State {
    fn hand_out(&mut self) {
        self.unproven = true;
        self.handed_out += 1;
    }
}

impl ArmedPoll {
    pub(super) fn new(interest: Interest) -> Self {
        let waiters = Arc::new(Waiters::default());
        ArmedPoll {
            interest,
            state: Mutex::new(State {
                armed: None,
                multishot: true,
                unproven: false,
                handed_out: 0,
            }),
            waker: Waker::from(waiters.clone()),
            waiters,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Poisoned only by a panic in crate code between consistent states.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Ready(Some(..))` once `fd` is ready (or in an error or hang-up
    /// state), else `Pending` and `cx`'s task is woken on the next event;
    /// `Ready(None)` when the kernel has no multishot poll: wait one-shot.
    pub(super) fn poll_ready<F>(
        &self,
        uring: &UringDriver,
        fd: &F,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<()>>>
    where
        F: AsRawSource + Clone + Send + 'static,
    {
        // Registered before looking: an event posted after the look wakes
        // this task.
        self.waiters.register(cx.waker());
        let mut own = Context::from_waker(&self.waker);
        let mut state = self.state();
        loop {
            let Some(armed) = &mut state.armed else {
                if !state.multishot {
                    return Poll::Ready(None);
                }
                // Submitted with the lock released: a submission that finds
                // the kernel busy may run other futures' wakers, which may
                // wait on this fd.
                drop(state);
                let poll = MultishotReady::new(fd.clone(), self.interest);
                let id = match uring.submit_poll_stream(Box::new(poll), &self.waker) {
                    Ok(id) => id,
                    Err((error, _poll)) => return Poll::Ready(Some(Err(error))),
                };
                state = self.state();
                if state.armed.is_some() {
                    // Another wait armed one meanwhile: one is enough.
                    drop(state);
                    uring.cancel_stream(id);
                    state = self.state();
                } else {
                    state.armed = Some(Armed {
                        id,
                        answered: false,
                    });
                }
                continue;
            };
            let posted = match uring.poll_shot(armed.id, &mut own) {
                Poll::Ready(ShotPoll::Next(posted)) => posted,
                Poll::Ready(ShotPoll::Ended(_)) => {
                    state.armed = None;
                    continue;
                }
                Poll::Pending if mem::take(&mut state.unproven) => {
                    match sys::poll_ready(fd.as_raw_source(), self.interest, true) {
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            return Poll::Pending
                        }
                        // Ready, or an error the next I/O call reports.
                        _ => {
                            state.hand_out();
                            return Poll::Ready(Some(Ok(())));
                        }
                    }
                }
                Poll::Pending => return Poll::Pending,
            };
            let first = !mem::replace(&mut armed.answered, true);
            match posted.result {
                Ok(_events) => {
                    state.hand_out();
                    return Poll::Ready(Some(Ok(())));
                }
                // Ended by the kernel, not by anyone who wanted it ended
                // (the thread that submitted it exited): armed again once
                // the end is taken.
                Err(error) if error.raw_os_error() == Some(libc::ECANCELED) => {}
                // A kernel without multishot poll (before 5.13).
                Err(error) if first && error.raw_os_error() == Some(libc::EINVAL) => {
                    state.multishot = false
                }
                Err(error) => return Poll::Ready(Some(Err(error))),
            }
        }
    }

    /// How many readinesses were handed out so far: pass it to
    /// [`would_block`](Self::would_block) after the I/O call it precedes.
    pub(super) fn handed_out(&self) -> u64 {
        self.state().handed_out
    }

    /// An I/O call made when `handed_out` readinesses had been handed out
    /// said `WouldBlock`: they are disproven, unless one came since.
    pub(super) fn would_block(&self, handed_out: u64) {
        let mut state = self.state();
        if state.handed_out == handed_out {
            state.unproven = false;
        }
    }

    /// Asks the kernel to end the poll (the fd's owner is going).
    pub(super) fn disarm(&self, uring: &UringDriver) {
        let armed = self.state().armed.take();
        if let Some(armed) = armed {
            uring.cancel_stream(armed.id);
        }
    }
}

/// The tasks waiting on one direction.
#[derive(Default)]
struct Waiters(Mutex<Vec<Waker>>);

impl Waiters {
    fn list(&self) -> MutexGuard<'_, Vec<Waker>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, waker: &Waker) {
        if self.list().iter().any(|kept| kept.will_wake(waker)) {
            return;
        }
        // Cloned with no lock held: a waker's clone is user code.
        let waker = waker.clone();
        let mut list = self.list();
        list.push(waker);
        if list.len() > MAX_WAITERS {
            let all = mem::take(&mut *list);
            drop(list);
            wake_all(all);
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let all = mem::take(&mut *self.list());
        wake_all(all);
    }
}

/// Wakes each (user code, no lock held): one that panics does not keep
/// the rest asleep; the first panic goes on once all are woken.
fn wake_all(wakers: Vec<Waker>) {
    let mut panicked = None;
    for waker in wakers {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            panicked.get_or_insert(payload);
        }
    }
    if let Some(payload) = panicked {
        panic::resume_unwind(payload);
    }
}
