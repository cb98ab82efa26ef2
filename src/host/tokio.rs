//! tokio: a driver per runtime, dispatched by a task on that runtime that
//! waits on the driver's notification fd through the runtime's own reactor.
//!
//! How it maps onto the runtime:
//!
//! - **One driver per runtime**, made when the first operation is polled in
//!   it. All its worker threads submit to that driver; its dispatcher task
//!   takes the completions and wakes their futures, on whichever worker
//!   tokio runs the dispatcher. A task that migrates between workers keeps
//!   its operations on the runtime's one driver: it costs nothing more than
//!   the cross-worker wake tokio itself does for such a task.
//! - **Batched submission**: on io_uring, operations submitted while tasks
//!   run wait in the submission queue; the first of them wakes the
//!   dispatcher, which yields once (so the tick's other ready tasks run and
//!   submit too) and then hands the lot to the kernel in one system call.
//! - **Shutdown**: when the runtime shuts down, its tasks are dropped (their
//!   operations cancelled) and so is the dispatcher. If futures or I/O
//!   objects of the runtime's driver are still alive elsewhere (moved out
//!   to another runtime, or to a thread), the orphanage's one thread
//!   (`proactor-orphan`, shared by every such driver) drives it until they
//!   are gone, so they still complete.
//! - Operations of a `current_thread` runtime's driver make progress while
//!   that runtime runs (inside its `block_on`), as tokio's own sockets
//!   wait for readiness only then: on io_uring, even an operation that
//!   could finish at once waits for the runtime's next turn. Inside a
//!   [`Driver::block_on`](crate::Driver::block_on), that driver comes
//!   first: a tokio runtime's `block_on` nested inside one runs its
//!   operations on the outer driver, which nothing drives meanwhile; nest
//!   them the other way round.
//! - A runtime built without its I/O or time driver (`enable_io`,
//!   `enable_time`) cannot dispatch: operations there use the process-wide
//!   driver instead.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::runtime::{Handle, Id};

use crate::driver::WeakDriver;
use crate::{Driver, NotificationFd};

/// What a runtime was given. The driver itself is kept alive by the
/// runtime's dispatcher task and by the operations and I/O objects that
/// use it, never by this record: when the runtime and they are gone, so is
/// the driver.
#[derive(Clone)]
enum Hosting {
    /// A driver with its dispatcher, while `alive`.
    Driver {
        driver: WeakDriver,
        alive: Arc<AtomicBool>,
    },
    /// The runtime cannot host one (no I/O or time driver).
    Unable,
}

impl Hosting {
    /// `Some(driver)` or `Some(None)` (the runtime cannot host one) while
    /// the record holds; `None` once its dispatcher is gone.
    fn driver(&self) -> Option<Option<Driver>> {
        match self {
            Hosting::Driver { driver, alive } if alive.load(SeqCst) => driver.upgrade().map(Some),
            Hosting::Driver { .. } => None,
            Hosting::Unable => Some(None),
        }
    }
}

/// Every runtime's record, by id (ids are unique among running runtimes
/// and may be reused after one ends: the `alive` flag tells).
fn registry() -> &'static Mutex<HashMap<Id, Hosting>> {
    static REGISTRY: OnceLock<Mutex<HashMap<Id, Hosting>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

thread_local! {
    /// The record of the last runtime this thread asked about, to skip the
    /// registry's lock: most threads only ever run in one runtime.
    static LAST: RefCell<Option<(Id, Hosting)>> = const { RefCell::new(None) };
}

/// The driver of the tokio runtime this thread runs in, made (with its
/// dispatcher) on first use; `None` outside a runtime, or in one that
/// cannot host a driver.
pub(crate) fn current_driver() -> Option<Driver> {
    let handle = Handle::try_current().ok()?;
    let id = handle.id();
    let cached = LAST
        .try_with(|last| match &*last.borrow() {
            Some((last_id, hosting)) if *last_id == id => hosting.driver(),
            _ => None,
        })
        .ok()
        .flatten();
    if let Some(driver) = cached {
        return driver;
    }
    let (hosting, driver, dispatcher) = {
        let mut registry = registry().lock().unwrap_or_else(PoisonError::into_inner);
        match registry.get(&id).and_then(|hosting| Some((hosting.clone(), hosting.driver()?))) {
            Some((hosting, driver)) => (hosting, driver, None),
            // New, or an id reused after its runtime ended.
            None => {
                let (hosting, driver, dispatcher) = host(id);
                registry.insert(id, hosting.clone());
                (hosting, driver, dispatcher)
            }
        }
    };
    // Spawned with the registry unlocked: a runtime that is shutting down
    // drops the task inside `spawn`, and the dispatcher's drop takes the
    // registry's lock (it then hands the driver to the orphanage).
    if let Some((dispatcher, notified)) = dispatcher {
        handle.spawn(dispatcher.run(notified));
    }
    let _ = LAST.try_with(|last| *last.borrow_mut() = Some((id, hosting)));
    driver
}

/// A dispatcher not spawned yet, with the registration it waits on.
type Unspawned = (Dispatcher, AsyncFd<NotificationFd>);

/// Makes a driver for the runtime `id` and its dispatcher, for the caller
/// to spawn.
fn host(id: Id) -> (Hosting, Option<Driver>, Option<Unspawned>) {
    let Ok(driver) = Driver::new() else {
        return (Hosting::Unable, None, None);
    };
    let Some(notified) = register(driver.notification_fd()) else {
        return (Hosting::Unable, None, None);
    };
    let alive = Arc::new(AtomicBool::new(true));
    let dispatcher = Dispatcher {
        driver: driver.clone(),
        alive: alive.clone(),
        id,
    };
    let hosting = Hosting::Driver {
        driver: driver.downgrade(),
        alive,
    };
    (hosting, Some(driver), Some((dispatcher, notified)))
}

/// Registers the fd with the runtime's reactor, and checks that the runtime
/// has timers (the readiness back end's timers need them). tokio has no
/// way to ask whether a runtime has either driver but to use it, and panics
/// when it lacks one: that panic is caught here (the panic hook reports it,
/// once per such runtime), and the runtime then hosts nothing. Where panics
/// abort, nothing can be caught: no runtime hosts a driver there, and
/// operations use the process-wide one.
fn register(fd: NotificationFd) -> Option<AsyncFd<NotificationFd>> {
    if cfg!(panic = "abort") {
        return None;
    }
    catch_unwind(AssertUnwindSafe(|| {
        drop(tokio::time::sleep(Duration::ZERO));
        // `AsyncFd::new` (deprecated from tokio 1.54 for `register`, which
        // older tokio lacks) is sound here: the `NotificationFd` keeps its
        // driver, and so the fd, open and unchanged for as long as the
        // AsyncFd holds it.
        #[allow(deprecated)]
        AsyncFd::new(fd).ok()
    }))
    .ok()
    .flatten()
}

/// The task that dispatches a runtime's driver.
struct Dispatcher {
    driver: Driver,
    alive: Arc<AtomicBool>,
    id: Id,
}

impl Dispatcher {
    async fn run(self, notified: AsyncFd<NotificationFd>) {
        let deferral = self.driver.deferral();
        let mut deadline: Option<Instant> = None;
        let mut sleep = Box::pin(tokio::time::sleep(Duration::ZERO));
        loop {
            let flush = poll_fn(|cx| {
                if let Some(deferral) = deferral {
                    deferral.set_flusher(Some(cx.waker()));
                    if deferral.take_request() {
                        return Poll::Ready(true);
                    }
                }
                if let Poll::Ready(ready) = notified.poll_read_ready(cx) {
                    // Cleared before the dispatch below, which takes
                    // whatever made it readable: a completion after this is
                    // a new edge.
                    if let Ok(mut guard) = ready {
                        guard.clear_ready();
                    }
                    return Poll::Ready(false);
                }
                if deadline.is_some() && sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(false);
                }
                Poll::Pending
            })
            .await;
            if flush {
                // Let the rest of this tick's ready tasks submit first.
                tokio::task::yield_now().await;
            }
            // A panicking waker is user code failing on this task: the
            // panic hook reported it, the driver is consistent, and every
            // other future of the runtime still needs this task.
            deadline = match catch_unwind(AssertUnwindSafe(|| self.driver.dispatch())) {
                Ok(Ok(deadline)) => deadline,
                Ok(Err(_)) | Err(_) => Some(Instant::now() + Duration::from_millis(1)),
            };
            if let Some(at) = deadline {
                sleep.as_mut().reset(at.into());
            }
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        // The runtime is shutting down (or the task was aborted).
        self.alive.store(false, SeqCst);
        {
            let mut registry = registry().lock().unwrap_or_else(PoisonError::into_inner);
            if matches!(registry.get(&self.id), Some(Hosting::Driver { alive, .. }) if Arc::ptr_eq(alive, &self.alive)) {
                registry.remove(&self.id);
            }
        }
        if let Some(deferral) = self.driver.deferral() {
            deferral.set_flusher(None);
        }
        let _ = catch_unwind(AssertUnwindSafe(|| self.driver.dispatch()));
        if self.driver.handles() > 1 {
            // Futures or I/O objects of this driver live on elsewhere: the
            // orphanage drives it for them.
            crate::driver::orphan::adopt(self.driver.clone());
        }
    }
}
