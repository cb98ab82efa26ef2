//! The synchronisation primitives of the model-checked modules: std's, or
//! loom's under `--cfg proactor_loom` so `ci/loom.sh` can explore every interleaving.

#[cfg(proactor_loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicUsize},
    Condvar, Mutex, MutexGuard,
};
#[cfg(not(proactor_loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicUsize},
    Condvar, Mutex, MutexGuard,
};
