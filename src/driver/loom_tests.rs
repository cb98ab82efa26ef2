//! Model checks (`ci/loom.sh`: `RUSTFLAGS="--cfg proactor_loom" cargo test --lib
//! loom`): every interleaving of the op lifecycle and of park / unpark.

use std::sync::atomic::Ordering::SeqCst;

use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use super::lifecycle::{
    CancelOutcome, CompleteOutcome, Discard, OpKey, OpTable, Polled, Shot, ShotOutcome,
    StreamCancel,
};
use super::parker::{ParkTurn, Parker};

/// Op data that counts how often it is dropped.
struct Data(Arc<AtomicUsize>);

impl Drop for Data {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn noop_waker() -> std::task::Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    std::task::Waker::from(std::sync::Arc::new(Noop))
}

/// The kernel's result, the future's cancel (drop) and a re-poll race: the
/// data is released exactly once, never while the result may still come,
/// and the slot ends up free.
#[test]
fn loom_complete_races_cancel_and_poll() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let table = Arc::new(Mutex::new(OpTable::<_>::default()));
        let key = table.lock().unwrap().insert(Data(drops.clone()));
        let completed = Arc::new(AtomicBool::new(false));

        let kernel = {
            let (table, completed) = (table.clone(), completed.clone());
            thread::spawn(move || {
                let outcome = table.lock().unwrap().complete(key, Ok(7), None);
                completed.store(true, SeqCst);
                match outcome {
                    CompleteOutcome::Orphaned(result, data) => {
                        assert_eq!(result.unwrap(), 7);
                        drop(data);
                    }
                    CompleteOutcome::Stored(_) => {}
                    CompleteOutcome::OrphanedShot(..) => {
                        panic!("a one-shot operation is no stream")
                    }
                    CompleteOutcome::Unknown => panic!("the slot vanished before its result"),
                }
            })
        };

        // The future polls once, then is dropped.
        let waker = noop_waker();
        let polled = table
            .lock()
            .unwrap()
            .poll(key, &waker, &mut Some(waker.clone()), &mut None);
        match polled {
            Polled::Ready(result, data) => {
                assert_eq!(result.unwrap(), 7);
                drop(data);
            }
            Polled::Pending => match table.lock().unwrap().cancel(key) {
                CancelOutcome::Finished(_, data) => drop(data),
                CancelOutcome::InFlight(_) => {
                    assert!(!completed.load(SeqCst) || drops.load(SeqCst) <= 1);
                }
                CancelOutcome::Unknown => panic!("a live future's slot vanished"),
            },
            Polled::NeedsWaker | Polled::Unknown => panic!("a live future's slot vanished"),
        }
        kernel.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "data released exactly once");
        assert!(table.lock().unwrap().is_empty(), "slot freed");
    });
}

/// Cancelled ops resolve through teardown: whatever order the results and
/// the drain come in, nothing is freed before its result and nothing twice.
#[test]
fn loom_results_race_teardown() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let table = Arc::new(Mutex::new(OpTable::<_>::default()));
        let keys: Vec<OpKey> = (0..2)
            .map(|_| table.lock().unwrap().insert(Data(drops.clone())))
            .collect();
        for &key in &keys {
            assert!(matches!(
                table.lock().unwrap().cancel(key),
                CancelOutcome::InFlight(_)
            ));
        }
        let kernel = {
            let table = table.clone();
            let key = keys[0];
            thread::spawn(move || {
                if let CompleteOutcome::Orphaned(_, data) =
                    table.lock().unwrap().complete(key, Ok(0), None)
                {
                    drop(data);
                }
            })
        };
        // Teardown: the second op's cancellation resolves it.
        if let CompleteOutcome::Orphaned(_, data) =
            table.lock().unwrap().complete(keys[1], Ok(0), None)
        {
            drop(data);
        }
        kernel.join().unwrap();
        assert_eq!(drops.load(SeqCst), 2);
        assert!(table.lock().unwrap().is_empty());
    });
}

/// A multishot operation's results (one that goes on, then its last) race
/// its stream taking one and then being dropped: every result reaches the
/// stream or is released exactly once, the data too, and the slot ends free.
#[test]
fn loom_shots_race_their_stream_and_its_drop() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        // Results the kernel posted, counted where each ends: taken by the
        // stream, discarded, or cleaned up with the data.
        let ends = Arc::new(AtomicUsize::new(0));
        let table = Arc::new(Mutex::new(OpTable::<_>::default()));
        let key = table
            .lock()
            .unwrap()
            .insert_stream_prepared(
                Data(drops.clone()),
                None,
                Discard::new(drop),
                false,
                |_, _| (),
            )
            .0;

        let kernel = {
            let (table, ends) = (table.clone(), ends.clone());
            thread::spawn(move || {
                match table.lock().unwrap().shot(key, Ok(1)) {
                    ShotOutcome::Discard(..) => {
                        ends.fetch_add(1, SeqCst);
                    }
                    ShotOutcome::Stored(_) | ShotOutcome::StoredFull(_) => {}
                    ShotOutcome::Unknown => panic!("the slot vanished before its last result"),
                }
                match table.lock().unwrap().complete(key, Ok(2), None) {
                    CompleteOutcome::OrphanedShot(_, _, data) => {
                        ends.fetch_add(1, SeqCst);
                        drop(data);
                    }
                    CompleteOutcome::Stored(_) => {}
                    CompleteOutcome::Orphaned(..) | CompleteOutcome::Unknown => {
                        panic!("a stream's last result went astray")
                    }
                }
            })
        };

        // The stream takes what it finds, once, then is dropped.
        let waker = noop_waker();
        let polled =
            table
                .lock()
                .unwrap()
                .poll_shot(key, &waker, &mut Some(waker.clone()), &mut None);
        match polled {
            Shot::Next(_) => {
                ends.fetch_add(1, SeqCst);
            }
            Shot::Pending => {}
            Shot::Ended(_) | Shot::NeedsWaker | Shot::Unknown => {
                panic!("a stream's first poll cannot see its end: one result is still queued")
            }
        }
        match table.lock().unwrap().cancel_stream(key) {
            StreamCancel::InFlight { leftovers, .. } => {
                ends.fetch_add(leftovers.len(), SeqCst);
            }
            StreamCancel::Finished {
                leftovers, data, ..
            } => {
                ends.fetch_add(leftovers.len(), SeqCst);
                drop(data);
            }
            StreamCancel::Unknown => panic!("a live stream's slot vanished"),
        }
        kernel.join().unwrap();
        assert_eq!(ends.load(SeqCst), 2, "each result ends exactly once");
        assert_eq!(drops.load(SeqCst), 1, "data released exactly once");
        assert!(table.lock().unwrap().is_empty(), "slot freed");
    });
}

/// The kernel wait, as the model sees it: a sticky flag like an eventfd.
#[derive(Default)]
struct Kernel {
    poked: Mutex<bool>,
    changed: Condvar,
}

impl Kernel {
    fn poke(&self) {
        *self.poked.lock().unwrap() = true;
        self.changed.notify_all();
    }

    /// Blocks until poked; loom reports a deadlock if that never happens.
    fn wait(&self) {
        let mut poked = self.poked.lock().unwrap();
        while !*poked {
            poked = self.changed.wait(poked).unwrap();
        }
    }
}

/// Unpark racing park: a wake-up is never lost. The parked thread either
/// does not block, or is poked while it blocks.
#[test]
fn loom_unpark_races_park() {
    loom::model(|| {
        let parker = Arc::new(Parker::default());
        let woken = Arc::new(AtomicBool::new(false));
        let kernel = Arc::new(Kernel::default());

        let waker = {
            let (parker, woken, kernel) = (parker.clone(), woken.clone(), kernel.clone());
            thread::spawn(move || {
                woken.store(true, SeqCst);
                if parker.unpark() {
                    kernel.poke();
                }
            })
        };

        let turn = parker.park(None, &|| !woken.load(SeqCst), &|| {});
        match turn {
            ParkTurn::Kernel(None) => {
                kernel.wait();
                parker.leave_turn();
            }
            ParkTurn::Poll => parker.leave_turn(),
            other => panic!("a lone parker got {other:?}"),
        }
        waker.join().unwrap();
    });
}

/// Two parkers and an unpark: the one waiting for the turn holder returns
/// when the holder leaves or when unparked, never sleeps on.
#[test]
fn loom_second_parker_is_released() {
    loom::model(|| {
        let parker = Arc::new(Parker::default());
        let woken = Arc::new(AtomicBool::new(false));
        let turn = parker.park(None, &|| true, &|| {});
        assert_eq!(turn, ParkTurn::Kernel(None));

        let second = {
            let (parker, woken) = (parker.clone(), woken.clone());
            thread::spawn(move || {
                let turn = parker.park(None, &|| !woken.load(SeqCst), &|| {});
                if turn != ParkTurn::Return {
                    parker.leave_turn();
                }
            })
        };
        woken.store(true, SeqCst);
        let _ = parker.unpark();
        parker.leave_turn();
        second.join().unwrap();
    });
}
