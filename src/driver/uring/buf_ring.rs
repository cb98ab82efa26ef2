//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19): the
//! free buffers of a [`BufPool`](crate::buf::BufPool), from which the
//! kernel picks one for each chunk a receive brings.
//!
//! The ring is an array of `{addr, len, bid}` entries in memory of ours; we
//! add entries at its tail, the kernel takes them from its head. A buffer
//! is the kernel's to write from the moment its entry is published until
//! the completion that names its id is reaped; then it is the pool's alone
//! until it is given back.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{UringDriver, WeakUringDriver};

/// The kernel's `struct io_uring_buf`. The first entry's `resv` is the
/// ring's tail.
#[repr(C)]
struct RingEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

const _: () = assert!(std::mem::size_of::<RingEntry>() == 16);

/// Buffer group ids, unique in the process (the kernel needs them unique
/// per ring only): a group id goes back to the list once its ring is
/// unregistered, never while the kernel may still pick from it.
struct GroupIds {
    next: u32,
    free: Vec<u16>,
}

static GROUP_IDS: Mutex<GroupIds> = Mutex::new(GroupIds {
    next: 0,
    free: Vec::new(),
});

fn take_group_id() -> io::Result<u16> {
    let mut ids = GROUP_IDS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(id) = ids.free.pop() {
        return Ok(id);
    }
    let id = u16::try_from(ids.next).map_err(|_| {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            "65 536 buffer pools are registered with io_uring: no group id is left",
        )
    })?;
    ids.next += 1;
    Ok(id)
}

fn release_group_id(id: u16) {
    GROUP_IDS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .free
        .push(id);
}

/// One registered ring of provided buffers.
pub(crate) struct BufRing {
    entries: NonNull<RingEntry>,
    map_len: usize,
    mask: u16,
    /// Our copy of the tail; the lock serialises givers.
    tail: Mutex<u16>,
    group: u16,
    /// Whether the kernel took the registration.
    registered: bool,
    driver: WeakUringDriver,
}

// SAFETY: the ring memory is written only under the `tail` lock (entries,
// then the tail with a release store), and read by the kernel only.
unsafe impl Send for BufRing {}
// SAFETY: as above.
unsafe impl Sync for BufRing {}

impl BufRing {
    /// Registers `count` (a power of two, at most 32 768) buffers of `size`
    /// bytes each, the `i`th at `base + i * size`, all of them in the ring.
    ///
    /// # Safety
    ///
    /// The buffers must stay allocated, and not be read or written by
    /// anyone else while in the ring, until this value is dropped and no
    /// operation that selects from its group is in flight.
    pub(crate) unsafe fn register(
        driver: &UringDriver,
        base: NonNull<u8>,
        count: u16,
        size: u32,
    ) -> io::Result<BufRing> {
        debug_assert!(count.is_power_of_two());
        // The kernel wants the ring page-aligned: a mapping of its own.
        let map_len = usize::from(count) * std::mem::size_of::<RingEntry>();
        // SAFETY: an anonymous private mapping; no pointer is passed in.
        let mapped = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let entries = NonNull::new(mapped.cast::<RingEntry>()).expect("mmap never maps page 0");
        let group = match take_group_id() {
            Ok(group) => group,
            Err(error) => {
                // SAFETY: mapped just above, `map_len` long, unused.
                unsafe { libc::munmap(mapped, map_len) };
                return Err(error);
            }
        };
        let mut ring = BufRing {
            entries,
            map_len,
            mask: count - 1,
            tail: Mutex::new(0),
            group,
            registered: false,
            driver: driver.downgrade(),
        };
        for id in 0..count {
            // SAFETY: the caller's promise: buffer `id` is `size` bytes at
            // that offset, and now the kernel's.
            let addr = unsafe { base.as_ptr().add(usize::from(id) * size as usize) };
            ring.give_back(id, addr, size);
        }
        // SAFETY: the ring memory is mapped, `count` entries long, and lives
        // until drop, which unregisters it first (or the ring is gone).
        // On failure the kernel knows nothing of it: dropping releases the
        // id and the mapping.
        unsafe { driver.register_buf_ring(entries.as_ptr() as u64, count, group) }?;
        ring.registered = true;
        Ok(ring)
    }

    /// The group id operations select from.
    pub(crate) fn group(&self) -> u16 {
        self.group
    }

    /// Puts buffer `id` (`len` bytes at `addr`) back in the ring.
    pub(crate) fn give_back(&self, id: u16, addr: *mut u8, len: u32) {
        let mut tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = usize::from(*tail & self.mask);
        // SAFETY: `slot` is within the mapping. No entry the kernel has not
        // consumed yet is overwritten: each of the `count` ids is in the
        // ring at most once, so at most `count` entries are unconsumed. The
        // fields are written one by one so the first entry's `resv`, the
        // tail, is left alone.
        unsafe {
            let entry = self.entries.as_ptr().add(slot);
            std::ptr::addr_of_mut!((*entry).addr).write(addr as u64);
            std::ptr::addr_of_mut!((*entry).len).write(len);
            std::ptr::addr_of_mut!((*entry).bid).write(id);
        }
        *tail = tail.wrapping_add(1);
        // SAFETY: the first entry's `resv` is a u16 the kernel reads with
        // acquire ordering and never writes; an `AtomicU16` has its layout.
        let shared_tail = unsafe {
            &*std::ptr::addr_of!((*self.entries.as_ptr()).resv).cast::<AtomicU16>()
        };
        // Release: the entry is written before the kernel can see it.
        shared_tail.store(*tail, Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // Unregistered while the driver lives; a driver that is gone took
        // the registration with its ring (and a forked child's copy shares
        // its parent's ring, which is not the child's to change). An id
        // whose unregistering failed is never used again.
        let released = match self.driver.upgrade() {
            Some(driver) if self.registered && !driver.is_inherited() => {
                driver.unregister_buf_ring(self.group).is_ok()
            }
            _ => true,
        };
        if released {
            release_group_id(self.group);
        }
        // SAFETY: mapped in `register`, `map_len` long. If the kernel still
        // holds the registration it has the pages pinned and reads them
        // through its own mapping, never through this address.
        unsafe { libc::munmap(self.entries.as_ptr().cast(), self.map_len) };
    }
}
