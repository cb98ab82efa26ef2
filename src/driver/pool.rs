//! The bounded blocking pool: operations that may block (regular-file I/O,
//! `open`, `fsync`, `statx`, `close`, and opcodes the running kernel lacks)
//! run here so they never stall a thread that drives an event loop.
//!
//! Threads start on demand up to the bound and exit after a while idle. A
//! job always runs once it is queued, even while the pool shuts down, so the
//! driver gets every lent operation back.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::lifecycle::OpKey;
use crate::op::BoxedOp;

/// One lent operation to perform; its result goes back through `completions`.
pub(crate) struct Job {
    key: OpKey,
    op: BoxedOp,
    completions: Arc<PoolCompletions>,
}

thread_local! {
    /// The job this pool thread runs: its results' destination and key.
    static RUNNING: Cell<Option<(*const PoolCompletions, OpKey)>> = const { Cell::new(None) };
}

/// The key of the job of `completions`' driver that this thread is running,
/// if it is one of that driver's pool threads: a teardown running inside
/// that job must not wait for it to come back.
pub(crate) fn job_running_here(completions: &Arc<PoolCompletions>) -> Option<OpKey> {
    RUNNING
        .try_with(Cell::get)
        .ok()
        .flatten()
        .filter(|&(running, _)| std::ptr::eq(running, Arc::as_ptr(completions)))
        .map(|(_, key)| key)
}

impl Job {
    fn run(mut self) {
        let this_job = (Arc::as_ptr(&self.completions), self.key);
        let _ = RUNNING.try_with(|running| running.set(Some(this_job)));
        #[cfg(proactor_fault)]
        crate::fault::note_pool_run();
        // A job may be user code (`Blocking`), which catches its own panic
        // to hand it to its future. Anything else that panics still ends
        // the operation, with an error, and leaves the thread serving: an
        // unwound worker would never report this job nor leave the pool's
        // thread count.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.op.perform()))
            .unwrap_or_else(|_| {
                Err(io::Error::other(
                    "the operation panicked on the blocking pool",
                ))
            });
        let _ = RUNNING.try_with(|running| running.set(None));
        self.completions
            .done
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push((self.key, result, self.op));
        self.completions.wake.unpark();
    }
}

const IDLE_EXIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
}

struct PoolShared {
    max_threads: usize,
    state: Mutex<PoolState>,
    work_ready: Condvar,
}

impl PoolShared {
    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// A bounded pool of threads for blocking system calls.
pub(crate) struct BlockingPool {
    shared: Arc<PoolShared>,
}

impl std::fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state();
        f.debug_struct("BlockingPool")
            .field("max_threads", &self.shared.max_threads)
            .field("threads", &state.threads)
            .field("queued", &state.queue.len())
            .finish()
    }
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize) -> Self {
        BlockingPool {
            shared: Arc::new(PoolShared {
                max_threads,
                state: Mutex::new(PoolState::default()),
                work_ready: Condvar::new(),
            }),
        }
    }

    /// Queues `job`. Fails, handing the job back, only when the pool has no
    /// threads at all: its bound is zero, or not even one could be started.
    fn spawn(&self, job: Job) -> Result<(), (io::Error, Job)> {
        if self.shared.max_threads == 0 {
            return Err((
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    "this operation needs the blocking pool, which is disabled \
                     (Builder::blocking_threads(0))",
                ),
                job,
            ));
        }
        let mut state = self.shared.state();
        state.queue.push_back(job);
        let wake_idle = state.idle > 0;
        // A woken thread counts as idle until it runs: compare the queue
        // with the idle threads, not with zero, or a burst of jobs would all
        // wait for the one thread woken first.
        if state.queue.len() > state.idle && state.threads < self.shared.max_threads {
            state.threads += 1;
            let shared = self.shared.clone();
            let started = std::thread::Builder::new()
                .name("proactor-blocking".into())
                .spawn(move || worker(shared));
            if let Err(e) = started {
                state.threads -= 1;
                if state.threads == 0 {
                    let job = state.queue.pop_back().expect("queued just above");
                    return Err((e, job));
                }
            }
        }
        drop(state);
        if wake_idle {
            self.shared.work_ready.notify_one();
        }
        Ok(())
    }
}

impl Drop for BlockingPool {
    fn drop(&mut self) {
        self.shared.state().shutdown = true;
        self.shared.work_ready.notify_all();
    }
}

fn worker(shared: Arc<PoolShared>) {
    let mut state = shared.state();
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job.run();
            state = shared.state();
            continue;
        }
        if state.shutdown {
            break;
        }
        state.idle += 1;
        let (next, timeout) = shared
            .work_ready
            .wait_timeout(state, IDLE_EXIT)
            .unwrap_or_else(|poison| poison.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            break;
        }
    }
    state.threads -= 1;
}

/// Something that wakes a driver's parked thread from anywhere.
pub(crate) trait Unpark: Send + Sync {
    fn unpark(&self);
}

/// Results of pool jobs on their way back to a driver.
pub(crate) struct PoolCompletions {
    done: Mutex<Vec<(OpKey, io::Result<usize>, BoxedOp)>>,
    wake: Arc<dyn Unpark>,
}

impl PoolCompletions {
    pub(crate) fn new(wake: Arc<dyn Unpark>) -> Arc<Self> {
        Arc::new(PoolCompletions {
            done: Mutex::new(Vec::new()),
            wake,
        })
    }

    /// Takes every result that came back since the last call.
    pub(crate) fn take(&self) -> Vec<(OpKey, io::Result<usize>, BoxedOp)> {
        std::mem::take(
            &mut *self
                .done
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }
}

/// Runs a lent operation on the pool; its result and the operation come back
/// through `completions`, and the driver is unparked to collect them. On
/// failure the operation is handed back unrun.
pub(crate) fn run_on_pool(
    pool: &BlockingPool,
    completions: &Arc<PoolCompletions>,
    key: OpKey,
    op: BoxedOp,
) -> Result<(), (io::Error, BoxedOp)> {
    let job = Job {
        key,
        op,
        completions: completions.clone(),
    };
    pool.spawn(job).map_err(|(e, job)| (e, job.op))
}
