//! Steps both back ends take the same way around their op table.

use std::cell::Cell;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::lifecycle::{CompleteOutcome, OpKey, OpTable};
use super::pool::{run_on_pool, BlockingPool, PoolCompletions};
use crate::op::{downcast, BoxedOp, OpCode, OpId, Submission};

/// The op table of a driver, behind its lock.
pub(crate) type SharedTable = Mutex<OpTable<BoxedOp>>;

/// Locks `mutex`, ignoring poison: every critical section here leaves the
/// data consistent before anything that can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

thread_local! {
    static WAKERS: Cell<Vec<Waker>> = const { Cell::new(Vec::new()) };
}

/// Stores results in the table, then — with the lock released — wakes the
/// futures waiting for them and cleans up results nobody will take.
pub(crate) fn complete_all(
    table: &SharedTable,
    results: impl IntoIterator<Item = (OpKey, io::Result<usize>, Option<BoxedOp>)>,
) {
    // The wakers' vector is kept per thread, so completing allocates nothing
    // once warm. A waker that completes more work on this thread (it may
    // call into the driver) just finds it empty and uses its own.
    let mut wakers = WAKERS.with(Cell::take);
    let mut orphans: Vec<(io::Result<usize>, BoxedOp)> = Vec::new();
    {
        let mut table = lock(table);
        for (key, result, returned) in results {
            match table.complete(key, result, returned) {
                CompleteOutcome::Stored(Some(waker)) => wakers.push(waker),
                CompleteOutcome::Orphaned(result, op) => orphans.push((result, op)),
                CompleteOutcome::Stored(None) | CompleteOutcome::Unknown => {}
            }
        }
    }
    for waker in wakers.drain(..) {
        waker.wake();
    }
    WAKERS.with(|cell| cell.set(wakers));
    for (result, op) in orphans {
        op.cleanup_erased(result);
    }
}

/// Moves results that came back from the blocking pool into the table.
pub(crate) fn collect_pool(table: &SharedTable, completions: &PoolCompletions) {
    let done = completions.take();
    if !done.is_empty() {
        complete_all(
            table,
            done.into_iter()
                .map(|(key, result, op)| (key, result, Some(op))),
        );
    }
}

/// `poll_op` for a table of boxed ops.
pub(crate) fn poll_slot<O: OpCode>(
    table: &SharedTable,
    id: OpId,
    cx: &mut Context<'_>,
) -> Poll<(io::Result<usize>, Box<O>)> {
    match lock(table).poll(id.0, cx.waker()) {
        Some(Poll::Ready((result, op))) => Poll::Ready((result, downcast(op))),
        Some(Poll::Pending) => Poll::Pending,
        None => panic!("proactor: an Op was polled on a driver that does not hold it"),
    }
}

/// Marks `id` cancelled. Returns whether the caller must stop it in the
/// kernel: `false` when it already finished (cleaned up here) or runs on
/// the pool (its result is cleaned up when it comes back).
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) fn cancel_slot(table: &SharedTable, id: OpId) -> bool {
    use super::lifecycle::CancelOutcome;
    let (outcome, lent) = {
        let mut table = lock(table);
        let lent = table.is_lent(id.0);
        (table.cancel(id.0), lent)
    };
    match outcome {
        CancelOutcome::Finished(result, op) => {
            op.cleanup_erased(result);
            false
        }
        CancelOutcome::InFlight => !lent,
        CancelOutcome::Unknown => false,
    }
}

/// Runs `op` on the blocking pool, holding its slot meanwhile.
pub(crate) fn submit_to_pool<O: OpCode>(
    table: &SharedTable,
    pool: &BlockingPool,
    completions: &Arc<PoolCompletions>,
    op: Box<O>,
    waker: Option<&Waker>,
) -> Submission<O> {
    let (key, lent) = {
        let mut table = lock(table);
        let key = table.insert_waiting(op, waker);
        (key, table.lend(key).expect("a new slot holds its data"))
    };
    match run_on_pool(pool, completions, key, lent) {
        Ok(()) => Submission::InFlight(OpId(key)),
        Err((error, op)) => {
            lock(table).remove_unstarted(key);
            Submission::Done(Err(error), downcast(op))
        }
    }
}
