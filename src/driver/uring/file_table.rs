//! The ring's table of registered files, for [`File::register`]: a file
//! registered there is named by its slot in each submission, and the kernel
//! skips looking its fd up (and taking and dropping a reference to it) for
//! every operation.
//!
//! The table is registered sparse (`IORING_REGISTER_FILES2` with
//! `IORING_RSRC_REGISTER_SPARSE`, Linux 5.19) the first time a file asks;
//! files fill and empty their slot with `IORING_REGISTER_FILES_UPDATE`,
//! which does not wait for the ring to go idle (`IORING_UNREGISTER_FILES`
//! does, before 6.0, and is never used). Without the sparse table, files
//! stay unregistered.
//!
//! [`File::register`]: crate::fs::File::register

use std::io;
use std::os::fd::RawFd;

use io_uring::IoUring;

use super::slot_ranges::SlotRanges;

/// Slots of the table.
const TABLE_SLOTS: u32 = 4096;

#[derive(Default)]
pub(super) struct FileTable {
    state: TableState,
    free: SlotRanges,
}

#[derive(Default, PartialEq)]
enum TableState {
    #[default]
    NotYet,
    Registered,
    /// The kernel has no sparse table: files stay unregistered.
    Unavailable,
}

impl FileTable {
    /// Registers `fd` in a free slot and returns the slot, or `None` where
    /// the kernel has no sparse table.
    pub(super) fn register(&mut self, ring: &IoUring, fd: RawFd) -> io::Result<Option<u32>> {
        match self.state {
            TableState::Unavailable => return Ok(None),
            TableState::Registered => {}
            TableState::NotYet => match sparse_table(|| ring.submitter().register_files_sparse(TABLE_SLOTS)) {
                Ok(()) => {
                    self.state = TableState::Registered;
                    self.free = SlotRanges::new(TABLE_SLOTS);
                }
                // Before 5.13 FILES2 is unknown, before 5.19 the sparse
                // flag: both EINVAL.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.state = TableState::Unavailable;
                    return Ok(None);
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("registering the ring's file table: {e}"))),
            },
        }
        let slot = self.free.allocate(1).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("the driver's table of registered files ({TABLE_SLOTS} slots) is full"),
            )
        })?;
        match update(ring, slot, fd) {
            Ok(()) => Ok(Some(slot)),
            Err(e) => {
                self.free.release(slot, 1);
                Err(io::Error::new(e.kind(), format!("registering a file: {e}")))
            }
        }
    }

    /// Empties `slot`: the kernel drops its reference to the file (once the
    /// operations that use it are done). `false`: it refused, and the slot
    /// stays taken.
    pub(super) fn unregister(&mut self, ring: &IoUring, slot: u32) -> bool {
        let emptied = update(ring, slot, -1).is_ok();
        if emptied {
            self.free.release(slot, 1);
        }
        emptied
    }
}

/// Puts `fd` (-1: none) in `slot`, again while a signal interrupts.
fn update(ring: &IoUring, slot: u32, fd: RawFd) -> io::Result<()> {
    loop {
        match ring.submitter().register_files_update(slot, &[fd]) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(io::Error::other("the kernel updated no slot")),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `register`, or EINVAL where fault injection hides sparse tables.
fn sparse_table(register: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    #[cfg(proactor_fault)]
    if crate::fault::are_sparse_tables_hidden() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    register()
}
