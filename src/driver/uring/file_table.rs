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

use super::slot_ranges::{SlotRanges, TableState};

/// Most slots of the table.
const MAX_TABLE_SLOTS: u32 = 4096;

#[derive(Default)]
pub(super) struct FileTable {
    state: TableState,
    free: SlotRanges,
    /// Slots of the table, once registered.
    slots: u32,
}

impl FileTable {
    /// Registers `fd` in a free slot and returns the slot, or `None` where
    /// the kernel has no sparse table.
    pub(super) fn register(&mut self, ring: &IoUring, fd: RawFd) -> io::Result<Option<u32>> {
        match self.state {
            TableState::Unavailable => return Ok(None),
            TableState::Registered => {}
            TableState::NotYet => {
                // The kernel refuses a table larger than the soft
                // RLIMIT_NOFILE (EMFILE), which is 1024 on most systems.
                let slots = MAX_TABLE_SLOTS.min(open_file_limit());
                let registered = match slots {
                    0 => Err(io::Error::from_raw_os_error(libc::EMFILE)),
                    _ => sparse_table(|| ring.submitter().register_files_sparse(slots)),
                };
                match registered {
                    Ok(()) => {
                        self.state = TableState::Registered;
                        self.free = SlotRanges::new(slots);
                        self.slots = slots;
                    }
                    // Before 5.13 FILES2 is unknown, before 5.19 the sparse
                    // flag: both EINVAL. EMFILE: a limit of 0, or one
                    // lowered since it was read.
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EMFILE)) => {
                        self.state = TableState::Unavailable;
                        return Ok(None);
                    }
                    Err(e) => return Err(io::Error::new(e.kind(), format!("registering the ring's file table: {e}"))),
                }
            }
        }
        let slot = self.free.allocate(1).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "the driver's table of registered files ({} slots: 4096, or the soft \
                     RLIMIT_NOFILE when the table was made, if lower) is full",
                    self.slots
                ),
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

/// The soft `RLIMIT_NOFILE`, at most `u32::MAX`; `u32::MAX` if unknown.
fn open_file_limit() -> u32 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct, live for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return u32::MAX;
    }
    u32::try_from(limit.rlim_cur).unwrap_or(u32::MAX)
}

/// `register`, or EINVAL where fault injection hides sparse tables.
fn sparse_table(register: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    #[cfg(proactor_fault)]
    if crate::fault::are_sparse_tables_hidden() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    register()
}
