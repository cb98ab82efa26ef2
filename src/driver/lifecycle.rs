//! The life of one in-flight operation, independent of any back end.
//!
//! Each operation a back end holds lives in one slot of an [`OpTable`]. The
//! slot owns the operation's data (buffers, paths, timespecs) for as long as
//! the kernel or a pool thread may use it, whatever happens to the future
//! that started it:
//!
//! ```text
//!             submit                   result arrives
//!   (none) ──────────► Submitted ─────────────────────► Completed ──► taken by poll
//!                        │   ▲ poll                         ▲
//!                        ▼   │ (waker kept)                 │
//!                       Waiting ────────────────────────────┘
//!                        │
//!          future dropped│ (either state)          result arrives
//!                        ▼
//!                      Cancelled ────────────────────────────► slot freed, result cleaned up
//! ```
//!
//! A multishot operation (io_uring's multishot accept) lives in a slot too,
//! in the one state `Streaming`: each result the kernel posts while the
//! operation goes on is queued there for its stream, and the last one
//! (io_uring's completion without `F_MORE`) ends it. A stream dropped
//! before its end marks the slot cancelled: results that still come are
//! discarded as they arrive (an accepted fd closed), and the last frees the
//! slot.
//!
//! A future dropped after its result arrived releases the slot at once. No
//! waker is woken, dropped or cleaned up here: wakers and leftovers are user
//! code (a waker's `wake` and `drop`, a buffer's `drop`), so the table hands
//! them back to the caller, who runs them after releasing its lock.
//!
//! This module makes no system calls, so it can be model-checked and run
//! under Miri.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::task::Waker;

use slab::Slab;

/// Identifies one slot across reuse: the slab index plus a generation, so a
/// late completion or cancel for an old occupant never touches a new one.
/// Encoded as the `user_data` of io_uring entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct OpKey {
    index: u32,
    generation: u32,
}

impl OpKey {
    /// Largest encoded value a key can take; values above are free for a back
    /// end's own markers.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) const MAX_ENCODED: u64 = u64::MAX - 16;

    pub(crate) fn encode(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// Inverse of [`OpKey::encode`]; `None` for values no key can encode to.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn decode(value: u64) -> Option<OpKey> {
        (value <= Self::MAX_ENCODED).then_some(OpKey {
            index: value as u32,
            generation: (value >> 32) as u32,
        })
    }
}

/// Where an operation is in its life. See the module docs for the diagram.
#[derive(Debug)]
pub(crate) enum Lifecycle {
    /// In flight; its future has not asked for the result yet.
    Submitted,
    /// In flight; wake this when the result arrives.
    Waiting(Waker),
    /// In flight, but its future is gone: the slot keeps the data alive until
    /// the result arrives, then frees it.
    Cancelled,
    /// The result arrived; kept until the future takes it.
    Completed(io::Result<usize>),
    /// A multishot operation: in flight until its last result, the results
    /// so far queued for its stream. Boxed: rare, and larger than the rest.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    Streaming(Box<Shots>),
}

/// One result a multishot operation posted: the result, and the provided
/// buffer the kernel filled for it (io_uring's `IORING_CQE_F_BUFFER`), which
/// whoever takes the result must give back to its pool.
#[derive(Debug)]
#[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
pub(crate) struct Posted {
    pub(crate) result: io::Result<usize>,
    pub(crate) buffer: Option<u16>,
}

impl From<io::Result<usize>> for Posted {
    fn from(result: io::Result<usize>) -> Self {
        Posted {
            result,
            buffer: None,
        }
    }
}

/// How a result of a multishot operation that its stream will not take is
/// released (an accepted fd closed, or handed back to its listener; a
/// provided buffer given back to its pool). Crate code, not user code; run
/// outside locks.
#[derive(Clone)]
pub(crate) struct Discard(Arc<dyn Fn(Posted) + Send + Sync>);

#[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
impl Discard {
    pub(crate) fn new(release: impl Fn(Posted) + Send + Sync + 'static) -> Self {
        Discard(Arc::new(release))
    }

    pub(crate) fn run(&self, posted: Posted) {
        (self.0)(posted)
    }
}

impl std::fmt::Debug for Discard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Discard")
    }
}

/// Results a multishot operation may queue before the kernel is asked to
/// stop it: an unpolled stream must not take every connection the kernel
/// can accept (each an fd). Its stream makes it again once it took them.
pub(crate) const SHOT_QUEUE_LIMIT: usize = 32;

/// A multishot operation's state.
#[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Shots {
    results: VecDeque<Posted>,
    waker: Option<Waker>,
    /// Its last result is among `results`: nothing more will come.
    ended: bool,
    /// Its stream is gone: results are discarded as they come, and the
    /// last one frees the slot.
    cancelled: bool,
    /// Results are event masks (multishot poll): one that comes while
    /// another waits untaken is merged into it (their union), so the queue
    /// never grows, and never fills up, for a stream nobody polls.
    coalesce: bool,
    discard: Discard,
}

struct Slot<T> {
    generation: u32,
    lifecycle: Lifecycle,
    /// `None` only while a pool thread has borrowed the operation.
    data: Option<T>,
}

/// What the caller must do after marking a slot cancelled.
#[derive(Debug)]
pub(crate) enum CancelOutcome<T> {
    /// Still in flight: ask the back end to stop it. The slot stays until the
    /// result arrives. The future's waker, if it left one, is handed back to
    /// be dropped outside the lock.
    InFlight(Option<Waker>),
    /// The result was already there: the slot is free; clean up the result
    /// (close an fd it carries) and drop the data, outside any lock.
    Finished(io::Result<usize>, T),
    /// No such slot (already released).
    Unknown,
}

/// What the caller must do after a result arrived.
#[derive(Debug)]
pub(crate) enum CompleteOutcome<T> {
    /// Stored; wake this (after unlocking) if present.
    Stored(Option<Waker>),
    /// The future is gone: the slot is free; clean up the result and the data.
    Orphaned(io::Result<usize>, T),
    /// The last result of a multishot operation whose stream is gone: the
    /// slot is free; release the result with the discard, drop the data.
    OrphanedShot(Posted, Discard, T),
    /// No slot for that key (a stale or foreign value): ignore it.
    Unknown,
}

/// What the caller must do with a result of a multishot operation that
/// goes on.
#[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum ShotOutcome {
    /// Queued for the stream; wake this (after unlocking) if present.
    Stored(Option<Waker>),
    /// Queued, and the queue is full: ask the kernel to stop the operation
    /// (its stream makes it again once it took what is queued).
    StoredFull(Option<Waker>),
    /// The stream is gone: release the result with this, outside the lock.
    Discard(Posted, Discard),
    /// No multishot operation has that key (a stale or foreign value).
    Unknown,
}

/// What [`OpTable::poll_shot`] found.
#[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum Shot<T> {
    /// The next result.
    Next(Posted),
    /// Every result was taken and the kernel posts no more: the slot is
    /// free, and its data handed back.
    Ended(T),
    /// Nothing yet; the waker is registered.
    Pending,
    /// Nothing yet, with another waker: poll again with a clone.
    NeedsWaker,
    /// No such multishot operation, or its stream was already dropped.
    Unknown,
}

/// What the caller must do after dropping a multishot operation's stream.
#[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum StreamCancel<T> {
    /// Still in the kernel: ask it to stop. Results it queued are released
    /// with `discard`; the waker is dropped; both outside the lock.
    InFlight {
        waker: Option<Waker>,
        leftovers: Vec<Posted>,
        discard: Discard,
    },
    /// It had ended: the slot is free; release the leftovers and the data.
    Finished {
        leftovers: Vec<Posted>,
        discard: Discard,
        data: T,
    },
    /// No such multishot operation.
    Unknown,
}

/// What [`OpTable::poll`] found.
#[derive(Debug)]
pub(crate) enum Polled<T> {
    /// The result, and the data back; the slot is free.
    Ready(io::Result<usize>, T),
    /// Still in flight; the waker is registered.
    Pending,
    /// Still in flight, with another waker: poll again with a clone.
    NeedsWaker,
    /// No such slot, or its future was already dropped.
    Unknown,
}

/// The slots of every operation a back end holds. `R`: what a back end
/// keeps per slot to submit an operation again (see
/// [`OpTable::resubmission`]).
pub(crate) struct OpTable<T, R = ()> {
    slots: Slab<Slot<T>>,
    /// What the back end needs to hand each slot's operation to the kernel
    /// again (io_uring: the entry it submitted), or `()`, by slot index.
    /// Kept beside the slots, not in them: it is written once per
    /// operation and read only in the rare resubmission, while a slot moves
    /// in and out of the slab on every operation.
    resubmits: Vec<R>,
    next_generation: u32,
}

impl<T, R> std::fmt::Debug for OpTable<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpTable")
            .field("in_flight", &self.slots.len())
            .finish()
    }
}

impl<T, R> Default for OpTable<T, R> {
    fn default() -> Self {
        OpTable {
            slots: Slab::new(),
            resubmits: Vec::new(),
            next_generation: 0,
        }
    }
}

impl<T, R: Default> OpTable<T, R> {
    /// Number of slots held: in flight, cancelled or completed-not-taken.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Takes ownership of `data` for a new in-flight operation.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, data: T) -> OpKey {
        self.insert_waiting(data, None)
    }

    /// Like [`insert`](Self::insert), with the submitting future's waker
    /// registered at once: the future need not poll again (and take the
    /// table's lock again) just to be woken. The caller clones the waker
    /// before locking: a waker's clone is user code.
    pub(crate) fn insert_waiting(&mut self, data: T, waker: Option<Waker>) -> OpKey {
        let key = self.insert_slot(data, waker);
        // Nothing to submit again: not what an earlier occupant left.
        if let Some(resubmit) = self.resubmits.get_mut(key.index as usize) {
            *resubmit = R::default();
        }
        key
    }

    fn insert_slot(&mut self, data: T, waker: Option<Waker>) -> OpKey {
        self.insert_as(data, waker.map_or(Lifecycle::Submitted, Lifecycle::Waiting))
    }

    fn insert_as(&mut self, data: T, lifecycle: Lifecycle) -> OpKey {
        let generation = self.next_generation;
        // Generations stay below 2^31 so an encoded key never reaches the
        // values back ends reserve for their own markers.
        self.next_generation = self.next_generation.wrapping_add(1) & 0x7fff_ffff;
        let index = self.slots.insert(Slot {
            generation,
            lifecycle,
            data: Some(data),
        });
        OpKey {
            index: u32::try_from(index).expect("more than 2^32 operations in flight"),
            generation,
        }
    }

    /// [`insert_waiting`](Self::insert_waiting), then `prepare` builds, from
    /// the data at its final place in the slot and the new key, what
    /// submitting the operation (again) takes; it is kept with the slot and
    /// lent back for the caller to hand to the kernel without a copy.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn insert_prepared(
        &mut self,
        data: T,
        waker: Option<Waker>,
        prepare: impl FnOnce(&mut T, OpKey) -> R,
    ) -> (OpKey, &R) {
        let lifecycle = waker.map_or(Lifecycle::Submitted, Lifecycle::Waiting);
        self.insert_prepared_as(data, lifecycle, prepare)
    }

    /// [`insert_prepared`](Self::insert_prepared) for a multishot
    /// operation, whose results nobody takes are released with `discard`.
    /// It is never submitted again: what `prepare` builds is only lent
    /// back, for the first submission. With `coalesce`, its results are
    /// event masks, merged while they wait (see [`Shots`]).
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn insert_stream_prepared(
        &mut self,
        data: T,
        waker: Option<Waker>,
        discard: Discard,
        coalesce: bool,
        prepare: impl FnOnce(&mut T, OpKey) -> R,
    ) -> (OpKey, &R) {
        let shots = Shots {
            results: VecDeque::new(),
            waker,
            ended: false,
            cancelled: false,
            coalesce,
            discard,
        };
        self.insert_prepared_as(data, Lifecycle::Streaming(Box::new(shots)), prepare)
    }

    fn insert_prepared_as(
        &mut self,
        data: T,
        lifecycle: Lifecycle,
        prepare: impl FnOnce(&mut T, OpKey) -> R,
    ) -> (OpKey, &R) {
        let key = self.insert_as(data, lifecycle);
        let index = key.index as usize;
        let data = self.slots[index]
            .data
            .as_mut()
            .expect("a new slot holds its data");
        let resubmit = prepare(data, key);
        if index >= self.resubmits.len() {
            // Slots inserted unprepared may have taken the indices between.
            self.resubmits.resize_with(index + 1, R::default);
        }
        self.resubmits[index] = resubmit;
        (key, &self.resubmits[index])
    }

    /// What submitting the operation again takes, if it is still wanted:
    /// in flight, its future alive, its data here. The kernel may end a
    /// request nobody cancelled (io_uring does when the submitting thread
    /// exits): such an operation is submitted again rather than failed.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn resubmission(&mut self, key: OpKey) -> Option<&R> {
        let wanted = self.slot_mut(key).is_some_and(|slot| {
            matches!(slot.lifecycle, Lifecycle::Submitted | Lifecycle::Waiting(_))
                && slot.data.is_some()
        });
        // A slot inserted unprepared past the last prepared one has none.
        wanted
            .then(|| self.resubmits.get(key.index as usize))
            .flatten()
    }

    fn slot_mut(&mut self, key: OpKey) -> Option<&mut Slot<T>> {
        self.slots
            .get_mut(key.index as usize)
            .filter(|slot| slot.generation == key.generation)
    }

    /// The data of an in-flight operation (to build its request or run it).
    #[cfg(test)]
    pub(crate) fn data_mut(&mut self, key: OpKey) -> Option<&mut T> {
        self.slot_mut(key).and_then(|slot| slot.data.as_mut())
    }

    /// Lends the data out (to a pool thread); the slot stays in flight.
    pub(crate) fn lend(&mut self, key: OpKey) -> Option<T> {
        self.slot_mut(key).and_then(|slot| slot.data.take())
    }

    /// Whether the slot's data is lent out to a pool thread.
    pub(crate) fn is_lent(&mut self, key: OpKey) -> bool {
        self.slot_mut(key).is_some_and(|slot| slot.data.is_none())
    }

    /// Removes a slot whose operation never reached the kernel or pool,
    /// handing back its data (`None` if lent out or no such slot) and the
    /// waker it held, to drop outside the lock.
    pub(crate) fn remove_unstarted(&mut self, key: OpKey) -> (Option<T>, Option<Waker>) {
        if self.slot_mut(key).is_none() {
            return (None, None);
        }
        let slot = self.slots.remove(key.index as usize);
        let waker = match slot.lifecycle {
            Lifecycle::Waiting(waker) => Some(waker),
            Lifecycle::Streaming(shots) => shots.waker,
            _ => None,
        };
        (slot.data, waker)
    }

    /// Returns lent data whose operation must wait again. If the future was
    /// dropped meanwhile, the slot is freed and the data handed back for
    /// cleanup.
    #[cfg_attr(not(feature = "poll"), allow(dead_code))]
    pub(crate) fn give_back(&mut self, key: OpKey, data: T) -> Option<T> {
        let Some(slot) = self.slot_mut(key) else {
            return Some(data);
        };
        if matches!(slot.lifecycle, Lifecycle::Cancelled) {
            self.slots.remove(key.index as usize);
            return Some(data);
        }
        slot.data = Some(data);
        None
    }

    /// The lifecycle of a slot, if it exists.
    #[cfg(test)]
    pub(crate) fn lifecycle(&mut self, key: OpKey) -> Option<&Lifecycle> {
        self.slot_mut(key).map(|slot| &slot.lifecycle)
    }

    /// The future asks for its result, with `waker` to wake. Installing a
    /// new waker takes the clone the caller made before locking (`fresh`):
    /// without one the answer is [`Polled::NeedsWaker`], and the caller
    /// clones and asks again. A waker this replaces is put in `displaced`.
    /// Both are dropped by the caller once the lock is released: a waker's
    /// clone and drop are user code.
    pub(crate) fn poll(
        &mut self,
        key: OpKey,
        waker: &Waker,
        fresh: &mut Option<Waker>,
        displaced: &mut Option<Waker>,
    ) -> Polled<T> {
        let Some(slot) = self.slot_mut(key) else {
            return Polled::Unknown;
        };
        match &mut slot.lifecycle {
            Lifecycle::Completed(_) => {
                let slot = self.slots.remove(key.index as usize);
                let Lifecycle::Completed(result) = slot.lifecycle else {
                    unreachable!("checked just above")
                };
                let data = slot.data.expect("a completed slot holds its data");
                Polled::Ready(result, data)
            }
            Lifecycle::Waiting(current) if current.will_wake(waker) => Polled::Pending,
            Lifecycle::Cancelled | Lifecycle::Streaming(_) => Polled::Unknown,
            lifecycle => match fresh.take() {
                Some(fresh) => {
                    if let Lifecycle::Waiting(old) =
                        std::mem::replace(lifecycle, Lifecycle::Waiting(fresh))
                    {
                        *displaced = Some(old);
                    }
                    Polled::Pending
                }
                None => Polled::NeedsWaker,
            },
        }
    }

    /// The future is gone.
    pub(crate) fn cancel(&mut self, key: OpKey) -> CancelOutcome<T> {
        let Some(slot) = self.slot_mut(key) else {
            return CancelOutcome::Unknown;
        };
        match slot.lifecycle {
            Lifecycle::Completed(_) => {
                let slot = self.slots.remove(key.index as usize);
                let Lifecycle::Completed(result) = slot.lifecycle else {
                    unreachable!("checked just above")
                };
                CancelOutcome::Finished(result, slot.data.expect("a completed slot holds its data"))
            }
            Lifecycle::Cancelled => CancelOutcome::InFlight(None),
            // Streams go with `cancel_stream`, which knows their results.
            Lifecycle::Streaming(_) => CancelOutcome::Unknown,
            _ => match std::mem::replace(&mut slot.lifecycle, Lifecycle::Cancelled) {
                Lifecycle::Waiting(waker) => CancelOutcome::InFlight(Some(waker)),
                _ => CancelOutcome::InFlight(None),
            },
        }
    }

    /// The result of an operation arrived. `returned` gives back data lent
    /// to a pool thread.
    pub(crate) fn complete(
        &mut self,
        key: OpKey,
        result: io::Result<usize>,
        returned: Option<T>,
    ) -> CompleteOutcome<T> {
        self.complete_posted(key, Posted::from(result), returned)
    }

    /// [`complete`](Self::complete) with what the kernel posted: a
    /// multishot operation's last result may carry a provided buffer.
    pub(crate) fn complete_posted(
        &mut self,
        key: OpKey,
        posted: Posted,
        returned: Option<T>,
    ) -> CompleteOutcome<T> {
        let Some(slot) = self.slot_mut(key) else {
            return CompleteOutcome::Unknown;
        };
        if let Some(data) = returned {
            slot.data = Some(data);
        }
        match std::mem::replace(&mut slot.lifecycle, Lifecycle::Submitted) {
            Lifecycle::Cancelled => {
                let slot = self.slots.remove(key.index as usize);
                match slot.data {
                    Some(data) => CompleteOutcome::Orphaned(posted.result, data),
                    None => CompleteOutcome::Unknown,
                }
            }
            Lifecycle::Waiting(waker) => {
                slot.lifecycle = Lifecycle::Completed(posted.result);
                CompleteOutcome::Stored(Some(waker))
            }
            Lifecycle::Submitted => {
                slot.lifecycle = Lifecycle::Completed(posted.result);
                CompleteOutcome::Stored(None)
            }
            previous @ Lifecycle::Completed(_) => {
                // A second result for one operation: keep the first.
                slot.lifecycle = previous;
                CompleteOutcome::Unknown
            }
            // A multishot operation's last result.
            Lifecycle::Streaming(shots) if shots.cancelled => {
                let slot = self.slots.remove(key.index as usize);
                match slot.data {
                    Some(data) => CompleteOutcome::OrphanedShot(posted, shots.discard, data),
                    None => CompleteOutcome::Unknown,
                }
            }
            Lifecycle::Streaming(mut shots) => {
                shots.results.push_back(posted);
                shots.ended = true;
                let waker = shots.waker.take();
                slot.lifecycle = Lifecycle::Streaming(shots);
                CompleteOutcome::Stored(waker)
            }
        }
    }

    /// A result of a multishot operation that goes on (more will come).
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn shot(&mut self, key: OpKey, posted: impl Into<Posted>) -> ShotOutcome {
        let posted = posted.into();
        let Some(Slot {
            lifecycle: Lifecycle::Streaming(shots),
            ..
        }) = self.slot_mut(key)
        else {
            return ShotOutcome::Unknown;
        };
        if shots.cancelled {
            return ShotOutcome::Discard(posted, shots.discard.clone());
        }
        let waker = shots.waker.take();
        if shots.coalesce {
            if let (
                Some(Posted {
                    result: Ok(queued),
                    buffer: None,
                }),
                Ok(mask),
            ) = (shots.results.back_mut(), &posted.result)
            {
                *queued |= *mask;
                return ShotOutcome::Stored(waker);
            }
        }
        shots.results.push_back(posted);
        if shots.results.len() == SHOT_QUEUE_LIMIT {
            ShotOutcome::StoredFull(waker)
        } else {
            ShotOutcome::Stored(waker)
        }
    }

    /// The stream of a multishot operation asks for its next result, with
    /// `waker` to wake: as [`poll`](Self::poll) for its waker.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn poll_shot(
        &mut self,
        key: OpKey,
        waker: &Waker,
        fresh: &mut Option<Waker>,
        displaced: &mut Option<Waker>,
    ) -> Shot<T> {
        let Some(Slot {
            lifecycle: Lifecycle::Streaming(shots),
            ..
        }) = self.slot_mut(key)
        else {
            return Shot::Unknown;
        };
        if shots.cancelled {
            return Shot::Unknown;
        }
        if let Some(result) = shots.results.pop_front() {
            return Shot::Next(result);
        }
        if shots.ended {
            let slot = self.slots.remove(key.index as usize);
            return match slot.data {
                Some(data) => Shot::Ended(data),
                None => Shot::Unknown,
            };
        }
        if shots
            .waker
            .as_ref()
            .is_some_and(|current| current.will_wake(waker))
        {
            return Shot::Pending;
        }
        match fresh.take() {
            Some(fresh) => {
                *displaced = shots.waker.replace(fresh);
                Shot::Pending
            }
            None => Shot::NeedsWaker,
        }
    }

    /// The stream of a multishot operation is gone.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn cancel_stream(&mut self, key: OpKey) -> StreamCancel<T> {
        let Some(Slot {
            lifecycle: Lifecycle::Streaming(shots),
            ..
        }) = self.slot_mut(key)
        else {
            return StreamCancel::Unknown;
        };
        if shots.cancelled {
            return StreamCancel::Unknown;
        }
        let leftovers: Vec<_> = shots.results.drain(..).collect();
        let discard = shots.discard.clone();
        if shots.ended {
            let slot = self.slots.remove(key.index as usize);
            return match slot.data {
                Some(data) => StreamCancel::Finished {
                    leftovers,
                    discard,
                    data,
                },
                None => StreamCancel::Unknown,
            };
        }
        shots.cancelled = true;
        StreamCancel::InFlight {
            waker: shots.waker.take(),
            leftovers,
            discard,
        }
    }

    /// Forgets a slot whose data is lent to the job that is running this
    /// very call (a driver dropped inside its own pool job): its result
    /// will never be collected, and the job owns the data.
    pub(crate) fn abandon_lent(&mut self, key: OpKey) {
        if self.slot_mut(key).is_some_and(|slot| slot.data.is_none()) {
            self.slots.remove(key.index as usize);
        }
    }

    /// Takes a slot out whatever its state, for a driver inherited by a
    /// forked child (the kernel works on the parent's memory, never on this
    /// copy): its data (`None` if it was lent to a pool thread, which the
    /// child does not have) and its waker, to drop outside the lock.
    pub(crate) fn take_inherited(&mut self, key: OpKey) -> (Option<T>, Option<Waker>) {
        self.remove_unstarted(key)
    }

    /// Keys of every slot still waiting for a result.
    #[cfg_attr(not(all(target_os = "linux", feature = "uring")), allow(dead_code))]
    pub(crate) fn in_flight_keys(&self) -> Vec<OpKey> {
        self.slots
            .iter()
            .filter(|(_, slot)| !matches!(slot.lifecycle, Lifecycle::Completed(_)))
            .map(|(index, slot)| OpKey {
                index: index as u32,
                generation: slot.generation,
            })
            .collect()
    }

    /// Empties the table, handing every slot's data back, for a teardown
    /// that has confirmed nothing uses it any more.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.slots.drain().filter_map(|slot| slot.data).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Polls as a future does: with a fresh clone of its waker.
    fn poll_now<T, R: Default>(table: &mut OpTable<T, R>, key: OpKey, waker: &Waker) -> Polled<T> {
        table.poll(key, waker, &mut Some(waker.clone()), &mut None)
    }

    fn waker() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }

    #[test]
    fn complete_then_poll_returns_result_and_frees() {
        let mut table = OpTable::<_>::default();
        let key = table.insert("data");
        let (_, w) = waker();
        assert!(matches!(poll_now(&mut table, key, &w), Polled::Pending));
        let CompleteOutcome::Stored(Some(to_wake)) = table.complete(key, Ok(7), None) else {
            panic!("waiting slot must hand back its waker")
        };
        to_wake.wake();
        let Polled::Ready(Ok(7), "data") = poll_now(&mut table, key, &w) else {
            panic!("result not delivered")
        };
        assert!(table.is_empty());
    }

    #[test]
    fn cancel_in_flight_keeps_data_until_result() {
        let mut table = OpTable::<_>::default();
        let key = table.insert(String::from("buffer"));
        assert!(matches!(table.cancel(key), CancelOutcome::InFlight(_)));
        assert_eq!(table.len(), 1, "a cancelled op keeps its slot");
        match table.complete(key, Ok(3), None) {
            CompleteOutcome::Orphaned(Ok(3), data) => assert_eq!(data, "buffer"),
            other => panic!("expected orphaned result, got {other:?}"),
        }
        assert!(table.is_empty());
    }

    #[test]
    fn only_a_wanted_operation_is_resubmitted() {
        let mut table: OpTable<u8, u32> = OpTable::default();
        let (waiting, prepared) =
            table.insert_prepared(1, Some(waker().1), |data, _| u32::from(*data) + 10);
        assert_eq!(*prepared, 11, "prepared from the data in its slot");
        assert_eq!(table.resubmission(waiting), Some(&11));
        let (submitted, _) = table.insert_prepared(2, None, |data, key| {
            assert_eq!(*data, 2);
            key.index + 22
        });
        assert_eq!(table.resubmission(submitted), Some(&(submitted.index + 22)));
        // Its future is gone: the kernel's cancellation is its end.
        let _ = table.cancel(submitted);
        assert_eq!(table.resubmission(submitted), None);
        // Its result is in: nothing to submit.
        table.complete(waiting, Ok(0), None);
        assert_eq!(table.resubmission(waiting), None);
        // Lent to a pool thread: not the kernel's.
        let lent = table.insert(3);
        let _ = table.lend(lent);
        assert_eq!(table.resubmission(lent), None);
        // A slot taken again without preparing keeps nothing of the
        // entry its earlier occupant left.
        assert!(matches!(
            table.poll(waiting, &waker().1, &mut None, &mut None),
            Polled::Ready(..)
        ));
        let reused = table.insert(4);
        assert_eq!(reused.index, waiting.index, "the freed slot is taken again");
        assert_eq!(table.resubmission(reused), Some(&0));
    }

    #[test]
    fn completed_then_dropped_releases_at_once() {
        let mut table = OpTable::<_>::default();
        let key = table.insert(1u8);
        table.complete(key, Ok(0), None);
        assert!(matches!(
            table.cancel(key),
            CancelOutcome::Finished(Ok(0), 1)
        ));
        assert!(table.is_empty());
    }

    #[test]
    fn stale_key_is_ignored_after_reuse() {
        let mut table = OpTable::<_>::default();
        let old = table.insert(1u8);
        table.complete(old, Ok(0), None);
        let (_, w) = waker();
        let _ = poll_now(&mut table, old, &w);
        let new = table.insert(2u8);
        assert_eq!(old.index, new.index, "slab reuses the index");
        assert!(matches!(
            table.complete(old, Ok(9), None),
            CompleteOutcome::Unknown
        ));
        assert!(matches!(table.cancel(old), CancelOutcome::Unknown));
        assert!(matches!(table.lifecycle(new), Some(Lifecycle::Submitted)));
    }

    #[test]
    fn lent_data_comes_back_with_the_result() {
        let mut table = OpTable::<_>::default();
        let key = table.insert(vec![1u8]);
        let lent = table.lend(key).unwrap();
        assert!(table.data_mut(key).is_none());
        assert!(matches!(table.cancel(key), CancelOutcome::InFlight(_)));
        match table.complete(key, Ok(1), Some(lent)) {
            CompleteOutcome::Orphaned(_, data) => assert_eq!(data, vec![1u8]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn repoll_with_same_waker_keeps_it() {
        let mut table = OpTable::<_>::default();
        let key = table.insert(());
        let (count, w) = waker();
        let _ = poll_now(&mut table, key, &w);
        let _ = poll_now(&mut table, key, &w);
        if let CompleteOutcome::Stored(Some(w)) = table.complete(key, Ok(0), None) {
            w.wake();
        }
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn replaced_or_cancelled_waker_is_handed_back_not_dropped() {
        // Told apart by waking them: `will_wake` may not recognise a clone
        // (Miri gives each use of a vtable its own address).
        let woken = |waker: Waker, counter: &Arc<CountingWaker>| {
            let before = counter.0.load(Ordering::SeqCst);
            waker.wake();
            counter.0.load(Ordering::SeqCst) == before + 1
        };
        let mut table = OpTable::<_>::default();
        let key = table.insert(());
        let (first, w1) = waker();
        let (second, w2) = waker();
        let mut displaced = None;
        assert!(matches!(
            table.poll(key, &w1, &mut None, &mut displaced),
            Polled::NeedsWaker
        ));
        let _ = table.poll(key, &w1, &mut Some(w1.clone()), &mut displaced);
        assert!(displaced.is_none());
        let _ = table.poll(key, &w2, &mut Some(w2.clone()), &mut displaced);
        let displaced = displaced.expect("the replaced waker comes back to the caller");
        assert!(woken(displaced, &first));
        drop(w1);
        assert_eq!(
            Arc::strong_count(&first),
            1,
            "the table kept no clone of it"
        );
        let CancelOutcome::InFlight(Some(last)) = table.cancel(key) else {
            panic!("cancelling a waiting slot hands its waker back")
        };
        assert!(woken(last, &second));
        let unstarted = table.insert_waiting((), Some(w2.clone()));
        let (data, waker) = table.remove_unstarted(unstarted);
        assert!(data.is_some());
        assert!(woken(
            waker.expect("an unstarted slot hands its waker back"),
            &second
        ));
    }

    fn stream(table: &mut OpTable<&'static str>, waker: Option<Waker>) -> OpKey {
        table
            .insert_stream_prepared("listener", waker, Discard::new(drop), false, |_, _| ())
            .0
    }

    fn next(table: &mut OpTable<&'static str>, key: OpKey, waker: &Waker) -> Shot<&'static str> {
        table.poll_shot(key, waker, &mut Some(waker.clone()), &mut None)
    }

    #[test]
    fn shots_come_in_order_and_the_last_frees_the_slot() {
        let mut table = OpTable::<&'static str>::default();
        let (count, w) = waker();
        let key = stream(&mut table, Some(w.clone()));
        assert!(matches!(next(&mut table, key, &w), Shot::Pending));
        let ShotOutcome::Stored(Some(wake)) = table.shot(key, Ok(10)) else {
            panic!("a waiting stream hands its waker back")
        };
        wake.wake();
        assert!(matches!(table.shot(key, Ok(11)), ShotOutcome::Stored(None)));
        assert!(matches!(
            table.complete(key, Err(io::Error::from_raw_os_error(24)), None),
            CompleteOutcome::Stored(None)
        ));
        assert!(matches!(
            next(&mut table, key, &w),
            Shot::Next(Posted { result: Ok(10), .. })
        ));
        assert!(matches!(
            next(&mut table, key, &w),
            Shot::Next(Posted { result: Ok(11), .. })
        ));
        let Shot::Next(Posted {
            result: Err(last), ..
        }) = next(&mut table, key, &w)
        else {
            panic!("the last result is the stream's too")
        };
        assert_eq!(last.raw_os_error(), Some(24));
        assert!(matches!(next(&mut table, key, &w), Shot::Ended("listener")));
        assert!(table.is_empty());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_dropped_stream_discards_what_comes_and_its_last_result_frees() {
        let mut table = OpTable::<&'static str>::default();
        let key = stream(&mut table, None);
        table.shot(key, Ok(3));
        let StreamCancel::InFlight { leftovers, .. } = table.cancel_stream(key) else {
            panic!("still in the kernel")
        };
        assert_eq!(leftovers.len(), 1, "what was queued goes to be discarded");
        assert!(matches!(
            table.shot(key, Ok(4)),
            ShotOutcome::Discard(Posted { result: Ok(4), .. }, _)
        ));
        assert_eq!(table.len(), 1, "kept until the kernel's last result");
        assert!(matches!(table.cancel_stream(key), StreamCancel::Unknown));
        let (_, w) = waker();
        assert!(matches!(next(&mut table, key, &w), Shot::Unknown));
        assert!(matches!(
            table.complete(key, Ok(5), None),
            CompleteOutcome::OrphanedShot(Posted { result: Ok(5), .. }, _, "listener")
        ));
        assert!(table.is_empty());
    }

    #[test]
    fn a_full_queue_asks_for_the_operation_to_stop_once() {
        let mut table = OpTable::<&'static str>::default();
        let key = stream(&mut table, None);
        for shot in 1..SHOT_QUEUE_LIMIT {
            assert!(matches!(
                table.shot(key, Ok(shot)),
                ShotOutcome::Stored(None)
            ));
        }
        assert!(matches!(
            table.shot(key, Ok(0)),
            ShotOutcome::StoredFull(None)
        ));
        // What the kernel posts before it stops is still queued.
        assert!(matches!(table.shot(key, Ok(0)), ShotOutcome::Stored(None)));
    }

    #[test]
    fn coalesced_masks_merge_while_they_wait_and_never_fill_the_queue() {
        let mut table = OpTable::<&'static str>::default();
        let (key, _) =
            table.insert_stream_prepared("poll", None, Discard::new(drop), true, |_, _| ());
        for shot in 0..SHOT_QUEUE_LIMIT * 4 {
            assert!(matches!(
                table.shot(key, Ok(1 << (shot % 3))),
                ShotOutcome::Stored(None)
            ));
        }
        let (_, w) = waker();
        assert!(matches!(
            next(&mut table, key, &w),
            Shot::Next(Posted {
                result: Ok(0b111),
                ..
            })
        ));
        assert!(matches!(next(&mut table, key, &w), Shot::Pending));
        // An error is not a mask: it is queued on its own.
        table.shot(key, Ok(1));
        table.shot(key, Err(io::Error::from_raw_os_error(9)));
        table.shot(key, Ok(2));
        assert!(matches!(
            next(&mut table, key, &w),
            Shot::Next(Posted { result: Ok(1), .. })
        ));
        assert!(matches!(
            next(&mut table, key, &w),
            Shot::Next(Posted { result: Err(_), .. })
        ));
        assert!(matches!(
            next(&mut table, key, &w),
            Shot::Next(Posted { result: Ok(2), .. })
        ));
    }

    #[test]
    fn a_stream_dropped_after_its_end_frees_at_once() {
        let mut table = OpTable::<&'static str>::default();
        let key = stream(&mut table, None);
        table.shot(key, Ok(1));
        table.complete(key, Ok(2), None);
        let StreamCancel::Finished {
            leftovers, data, ..
        } = table.cancel_stream(key)
        else {
            panic!("it had ended")
        };
        assert_eq!((leftovers.len(), data), (2, "listener"));
        assert!(table.is_empty());
    }

    #[test]
    fn one_shot_calls_leave_a_stream_alone() {
        let mut table = OpTable::<&'static str>::default();
        let key = stream(&mut table, None);
        let (_, w) = waker();
        assert!(matches!(poll_now(&mut table, key, &w), Polled::Unknown));
        assert!(matches!(table.cancel(key), CancelOutcome::Unknown));
        assert_eq!(
            table.resubmission(key),
            None,
            "a stream is never submitted again"
        );
        assert!(matches!(table.shot(key, Ok(1)), ShotOutcome::Stored(None)));
        let one_shot = table.insert("op");
        assert!(matches!(table.shot(one_shot, Ok(1)), ShotOutcome::Unknown));
        assert!(matches!(
            table.cancel_stream(one_shot),
            StreamCancel::Unknown
        ));
        assert!(matches!(next(&mut table, one_shot, &w), Shot::Unknown));
    }

    #[test]
    fn key_encoding_round_trips_and_reserves_markers() {
        let key = OpKey {
            index: 5,
            generation: 9,
        };
        assert_eq!(OpKey::decode(key.encode()), Some(key));
        assert_eq!(OpKey::decode(u64::MAX), None);
    }
}
