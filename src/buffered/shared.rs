//! One direction's state polled through shared references: a lock held for
//! one step at a time, and a waker that wakes every task waiting on it.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Distinct wakers kept before the oldest are woken early (a spurious wake
/// is harmless): a poller that makes a new waker for every poll cannot grow
/// the list without bound.
const MAX_WAITERS: usize = 32;

/// A direction's state, pollable from any number of handles at once.
///
/// Each poll takes the lock for one step only, never across a `Pending`,
/// so a handle that is forgotten or stops polling blocks nobody. The
/// operation in flight always waits with this direction's own waker, and
/// every task that found nothing ready registers here: when the operation
/// completes all of them are woken, whichever of them polled last.
pub(crate) struct Shared<T> {
    /// Boxed: a stream's two directions stay a few words, cheap to move.
    state: Box<Mutex<T>>,
    waiters: Arc<Waiters>,
    /// `waiters` as a waker, made once.
    waker: Waker,
}

impl<T> Shared<T> {
    pub(crate) fn new(state: T) -> Self {
        let waiters = Arc::new(Waiters::default());
        Shared {
            state: Box::new(Mutex::new(state)),
            waker: Waker::from(waiters.clone()),
            waiters,
        }
    }

    /// Runs one step on the state; if it is not ready, `cx`'s task is
    /// woken when the direction's operation completes.
    pub(crate) fn poll<R>(
        &self,
        cx: &mut Context<'_>,
        step: impl FnOnce(&mut T, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        let seen = self.waiters.generation();
        let result = step(&mut self.lock(), &mut Context::from_waker(&self.waker));
        if result.is_pending() {
            self.waiters.register(cx.waker(), seen);
        }
        result
    }

    /// As [`Shared::poll`], through an exclusive reference (no locking).
    pub(crate) fn poll_mut<R>(
        &mut self,
        cx: &mut Context<'_>,
        step: impl FnOnce(&mut T, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        let seen = self.waiters.generation();
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let result = step(state, &mut Context::from_waker(&self.waker));
        if result.is_pending() {
            self.waiters.register(cx.waker(), seen);
        }
        result
    }

    /// The state, for a step that cannot wait.
    ///
    /// A panic under the lock (a waker the driver ran during a submission)
    /// leaves the state consistent: every step moves an operation out of
    /// the state before polling it. So a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, through an exclusive reference (no locking).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.state.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The tasks waiting on one direction.
#[derive(Default)]
struct Waiters {
    /// Bumped (under the `wakers` lock) at every wake, so a task that
    /// registers after the wake it waited for sees it missed it.
    generation: AtomicUsize,
    wakers: Mutex<Vec<Waker>>,
}

impl Waiters {
    fn generation(&self) -> usize {
        self.generation.load(Ordering::Acquire)
    }

    fn wakers(&self) -> MutexGuard<'_, Vec<Waker>> {
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes `waker` at the next wake after generation `seen`: at once if
    /// that has already happened.
    fn register(&self, waker: &Waker, seen: usize) {
        let mut wakers = self.wakers();
        if self.generation.load(Ordering::Acquire) != seen {
            drop(wakers);
            waker.wake_by_ref();
            return;
        }
        if wakers.iter().any(|known| known.will_wake(waker)) {
            return;
        }
        let early = if wakers.len() >= MAX_WAITERS {
            std::mem::take(&mut *wakers)
        } else {
            Vec::new()
        };
        wakers.push(waker.clone());
        drop(wakers);
        wake_all(early);
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let woken = {
            let mut wakers = self.wakers();
            self.generation.fetch_add(1, Ordering::AcqRel);
            std::mem::take(&mut *wakers)
        };
        // Wakers are user code: they run outside the lock.
        let emptied = wake_all(woken);
        // Give the allocation back for the next waiters, so waiting
        // allocates nothing once warm.
        let mut wakers = self.wakers();
        if wakers.capacity() == 0 {
            *wakers = emptied;
        }
    }
}

/// Wakes every waker, even if one panics; the first panic is then resumed.
/// Returns the emptied vector.
fn wake_all(mut wakers: Vec<Waker>) -> Vec<Waker> {
    let mut first_panic = None;
    for waker in wakers.drain(..) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            first_panic.get_or_insert(payload);
        }
    }
    if let Some(payload) = first_panic {
        panic::resume_unwind(payload);
    }
    wakers
}
