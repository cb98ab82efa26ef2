//! A file's slot in its driver's table of registered files (see
//! [`File::register`](super::File::register)).

use std::fmt;

use crate::driver::WeakDriver;

/// One taken slot of a ring's file table. Every operation that names the
/// file by its slot holds this, so the slot is emptied (and may be given to
/// another file) only once no such operation is left: an entry that names
/// it can never reach another file.
pub(crate) struct FileSlot {
    index: u32,
    /// Identity of the driver whose ring holds the slot; the weak handle
    /// keeps its allocation, so no other driver can have it.
    owner: usize,
    driver: WeakDriver,
}

impl FileSlot {
    pub(crate) fn new(index: u32, owner: usize, driver: WeakDriver) -> FileSlot {
        FileSlot {
            index,
            owner,
            driver,
        }
    }

    /// The slot, as submission entries name it (`io_uring::types::Fixed`).
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// Identity of the driver the slot belongs to.
    pub(crate) fn owner(&self) -> usize {
        self.owner
    }
}

impl Drop for FileSlot {
    fn drop(&mut self) {
        // The driver gone: its ring, and the table with it, went too.
        if let Some(driver) = self.driver.upgrade() {
            // Refused: the slot stays taken, and the kernel's reference to
            // the file with it; nothing can name it any more.
            let _ = driver.unregister_file(self.index);
        }
    }
}

impl fmt::Debug for FileSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSlot")
            .field("index", &self.index)
            .finish()
    }
}
