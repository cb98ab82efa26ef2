//! The ring's table of registered buffers, shared by every
//! [`FixedBuffers`](crate::buf::FixedBuffers) set of the driver: each set
//! holds a range of its slots.
//!
//! The table is registered sparse (`IORING_REGISTER_BUFFERS2` with
//! `IORING_RSRC_REGISTER_SPARSE`, Linux 5.19) the first time a set asks,
//! and sets fill and empty their slots with `IORING_REGISTER_BUFFERS_UPDATE`.
//! Neither call waits for the ring to go idle. The older
//! `IORING_REGISTER_BUFFERS` / `UNREGISTER_BUFFERS` pair does, on kernels
//! before 6.0: with a receive waiting for data on the ring, a set's drop
//! would hang. So that pair is never used; without the sparse table, sets
//! are plain memory.

use std::io;

use io_uring::IoUring;

use super::slot_ranges::{SlotRanges, TableState};
use crate::buf::MAX_FIXED_BUFFERS;

/// Slots of the table: as many as one set may hold.
const TABLE_SLOTS: u32 = MAX_FIXED_BUFFERS as u32;

#[derive(Default)]
pub(super) struct FixedTable {
    state: TableState,
    free: SlotRanges,
}

impl FixedTable {
    /// Registers `iovecs` in a free range of slots and returns its first
    /// slot, or `None` where the kernel has no sparse table.
    ///
    /// # Safety
    ///
    /// The memory the iovecs describe must stay valid until
    /// [`FixedTable::unregister`] of the same range succeeds, or the ring
    /// is gone.
    pub(super) unsafe fn register(&mut self, ring: &IoUring, iovecs: &[libc::iovec]) -> io::Result<Option<u32>> {
        match self.state {
            TableState::Unavailable => return Ok(None),
            TableState::Registered => {}
            TableState::NotYet => match sparse_table(|| ring.submitter().register_buffers_sparse(TABLE_SLOTS)) {
                Ok(()) => {
                    self.state = TableState::Registered;
                    self.free = SlotRanges::new(TABLE_SLOTS);
                }
                // Before 5.13 BUFFERS2 is unknown, before 5.19 the sparse
                // flag: both EINVAL.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.state = TableState::Unavailable;
                    return Ok(None);
                }
                Err(e) => return Err(explain(e, "registering the ring's buffer table")),
            },
        }
        let count = iovecs.len() as u32;
        let first = self.free.allocate(count).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "the driver's table of fixed buffers ({TABLE_SLOTS} slots) has no {count} free \
                     slots in a row: drop other sets of fixed buffers first"
                ),
            )
        })?;
        // One slot per call: the kernel fills the slots of one update in
        // order and, when one fails (the locked-memory limit reached half
        // way), reports how many it filled, which `register_buffers_update`
        // does not pass on. A set registered in part would look whole, and
        // each operation on a buffer past the limit would fail with EFAULT.
        for (filled, iovec) in (0..count).zip(iovecs) {
            // SAFETY: the caller keeps the memory valid until the slots are
            // emptied or the ring is gone.
            let update = unsafe {
                ring.submitter()
                    .register_buffers_update(first + filled, std::slice::from_ref(iovec), None)
            };
            if let Err(e) = update {
                // This slot and those after it stayed empty: given back.
                self.free.release(first + filled, count - filled);
                // Those before it are emptied again, and given back too
                // (refused: they stay taken, so no entry can name them
                // again, and the kernel keeps the pages it pinned).
                if filled > 0 {
                    self.unregister(ring, first, filled);
                }
                return Err(explain(e, "registering fixed buffers"));
            }
        }
        Ok(Some(first))
    }

    /// Empties `count` slots from `first`. After it returns `true`, no
    /// operation submitted later can reach the memory they held; `false`:
    /// the kernel refused, and the memory must be leaked.
    pub(super) fn unregister(&mut self, ring: &IoUring, first: u32, count: u32) -> bool {
        let empty = vec![
            libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            };
            count as usize
        ];
        let emptied = loop {
            // SAFETY: empty iovecs point to nothing.
            match unsafe { ring.submitter().register_buffers_update(first, &empty, None) } {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                result => break result.is_ok(),
            }
        };
        if emptied {
            self.free.release(first, count);
        }
        emptied
    }
}

/// The kernel's error, with what was being done; ENOMEM named for what it
/// means here: registered buffers are locked memory.
fn explain(error: io::Error, doing: &str) -> io::Error {
    if error.raw_os_error() == Some(libc::ENOMEM) {
        return io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "{doing}: the kernel refused to lock the memory (ENOMEM): registered buffers \
                 count against RLIMIT_MEMLOCK (`ulimit -l`); raise it, or register fewer or \
                 smaller buffers"
            ),
        );
    }
    io::Error::new(error.kind(), format!("{doing}: {error}"))
}

/// `register`, or EINVAL where fault injection hides sparse tables.
fn sparse_table(register: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    #[cfg(proactor_fault)]
    if crate::fault::are_sparse_tables_hidden() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    register()
}
