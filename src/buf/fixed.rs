//! Registered ("fixed") buffers: memory a driver's io_uring pins once, so
//! reads and writes into it skip mapping the pages on every operation.

use std::alloc::{self, Layout};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, PoisonError};

use super::{IoBuf, IoBufMut};
use crate::driver::sealed::Sealed;
use crate::driver::WeakDriver;
use crate::Driver;

/// Where each buffer starts: a page boundary, so every buffer suits
/// `O_DIRECT` (which needs the logical block size, at most a page).
const BUF_ALIGN: usize = 4096;
/// The kernel's bound on one registered buffer (`SZ_1G`).
pub(crate) const MAX_FIXED_LEN: usize = 1 << 30;

/// A set of equal buffers registered with one driver.
///
/// On io_uring the buffers are registered with the driver's ring (a slot
/// range of the ring's sparse buffer table, `IORING_REGISTER_BUFFERS2` and
/// `IORING_REGISTER_BUFFERS_UPDATE`, Linux 5.19), so
/// [`File::read_fixed_at`](crate::fs::File::read_fixed_at) and
/// [`write_fixed_at`](crate::fs::File::write_fixed_at) run as
/// `IORING_OP_READ_FIXED` / `WRITE_FIXED`, which need not pin the pages for
/// every operation. Where the ring has no such table (a kernel before
/// 5.19), and on the readiness back end, the same buffers are plain memory
/// and the same calls are plain positional reads and writes:
/// [`is_registered`](Self::is_registered) says which. Registration that the
/// kernel refuses for want of locked memory is an error that names
/// `RLIMIT_MEMLOCK`.
///
/// Take a buffer with [`take`](Self::take); it comes back to the set when
/// the [`FixedBuf`] is dropped. The memory lives until the set and every
/// buffer taken from it are gone; then the slots are emptied and the memory
/// freed. A buffer may only be used with the driver the set was registered
/// with: on another, the operation fails with `InvalidInput`.
///
/// ```
/// use proactor::buf::FixedBuffers;
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// let driver = proactor::Driver::new()?;
/// let buffers = FixedBuffers::with_driver(&driver, 4, 4096)?;
/// driver.block_on(async {
///     let file = proactor::fs::OpenOptions::new()
///         .read(true).write(true).create(true).open(&path).await?;
///     let mut buf = buffers.take().expect("4 buffers, none taken");
///     buf.extend_from_slice(b"pinned once")?;
///     let (n, buf) = file.write_fixed_at(buf, 0).await;
///     assert_eq!(n?, 11);
///     drop(buf); // back to the set
///     let (n, buf) = file.read_fixed_at(buffers.take().unwrap(), 7).await;
///     assert_eq!(&buf[..n?], b"once");
///     file.close().await
/// })?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FixedBuffers {
    region: Arc<Region>,
}

/// One buffer of a [`FixedBuffers`] set, taken with
/// [`FixedBuffers::take`]. Its initialised bytes (`len`) dereference to a
/// `[u8]`; reads set them, [`extend_from_slice`](Self::extend_from_slice)
/// and [`set_len`](Self::set_len) too. Dropping it gives it back to the set.
///
/// ```
/// use proactor::buf::{FixedBuffers, IoBuf};
///
/// # fn main() -> std::io::Result<()> {
/// let buffers = FixedBuffers::with_driver(&proactor::Driver::new()?, 1, 100)?;
/// let mut buf = buffers.take().unwrap();
/// assert_eq!((buf.len(), buf.capacity()), (0, 100));
/// buf.extend_from_slice(b"abc")?;
/// assert_eq!(&buf[..], b"abc");
/// assert!(buffers.take().is_none(), "the only buffer is out");
/// drop(buf);
/// assert_eq!(buffers.take().unwrap().len(), 0, "back, and empty");
/// # Ok(()) }
/// ```
pub struct FixedBuf {
    region: Arc<Region>,
    index: u16,
    len: usize,
}

/// The memory of a set, and its registration. Freed when the set and all
/// its buffers are gone, after the registration has let go of it.
struct Region {
    base: NonNull<u8>,
    layout: Layout,
    /// Distance from one buffer's start to the next.
    stride: usize,
    /// Each buffer's capacity.
    buf_len: usize,
    count: u16,
    /// Buffers not taken.
    free: Mutex<Vec<u16>>,
    /// Identity of the driver the set belongs to; the weak handle below
    /// keeps its allocation, so no other driver can have it.
    owner: usize,
    driver: WeakDriver,
    /// The first slot of the ring's buffer table holding buffer 0, if the
    /// set is registered with a ring.
    first_slot: Option<u32>,
}

// SAFETY: the memory is owned by the region; each buffer's bytes are
// reached only through the one `FixedBuf` holding that index (the free list
// hands each index out once), or by the kernel for the operation that owns
// that `FixedBuf`.
unsafe impl Send for Region {}
// SAFETY: as above; the shared state is the free list, behind a mutex.
unsafe impl Sync for Region {}

impl FixedBuffers {
    /// `count` buffers of `len` bytes each, registered with the current
    /// driver ([`Driver::try_current`]). See
    /// [`with_driver`](Self::with_driver).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let buffers = proactor::buf::FixedBuffers::new(2, 4096)?;
    ///     assert_eq!(buffers.count(), 2);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn new(count: usize, len: usize) -> io::Result<FixedBuffers> {
        FixedBuffers::with_driver(&Driver::try_current()?, count, len)
    }

    /// `count` buffers of `len` bytes each (zeroed; each starts at a page
    /// boundary), registered with `driver`. A `count` of 0 or above 4096, a
    /// `len` of 0 or above 1 GiB: `InvalidInput`. On io_uring: locked memory
    /// beyond `RLIMIT_MEMLOCK` is an `OutOfMemory` error that says so; so
    /// is a ring whose 4096-slot table has no room left for `count`.
    ///
    /// ```
    /// use proactor::buf::FixedBuffers;
    /// use std::io::ErrorKind;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = proactor::Driver::new()?;
    /// let buffers = FixedBuffers::with_driver(&driver, 8, 64 * 1024)?;
    /// println!("registered with the ring: {}", buffers.is_registered());
    /// let zero = FixedBuffers::with_driver(&driver, 0, 4096).unwrap_err();
    /// assert_eq!(zero.kind(), ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    pub fn with_driver(driver: &Driver, count: usize, len: usize) -> io::Result<FixedBuffers> {
        let invalid = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
        if count == 0 || count > MAX_FIXED_BUFFERS {
            return Err(invalid("a set of fixed buffers holds 1 to 4096 buffers"));
        }
        if len == 0 || len > MAX_FIXED_LEN {
            return Err(invalid("a fixed buffer holds 1 byte to 1 GiB"));
        }
        let stride = len.next_multiple_of(BUF_ALIGN);
        let layout = stride
            .checked_mul(count)
            .and_then(|size| Layout::from_size_align(size, BUF_ALIGN).ok())
            .ok_or_else(|| invalid("the buffers do not fit in the address space"))?;
        // SAFETY: the layout's size is at least one page (count, len > 0).
        let base = unsafe { alloc::alloc_zeroed(layout) };
        let base = NonNull::new(base).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let mut region = Region {
            base,
            layout,
            stride,
            buf_len: len,
            count: count as u16,
            free: Mutex::new((0..count as u16).rev().collect()),
            owner: driver.identity(),
            driver: driver.downgrade(),
            first_slot: None,
        };
        let bufs: Vec<(*mut u8, usize)> = (0..region.count)
            .map(|index| (region.buf_ptr(index), len))
            .collect();
        // SAFETY: `bufs` describe `region`'s memory, which is freed only
        // after `Region::drop` emptied the slots again (or is leaked).
        region.first_slot = unsafe { driver.register_fixed(&bufs) }?;
        Ok(FixedBuffers {
            region: Arc::new(region),
        })
    }

    /// A buffer not in use, empty (`len() == 0`), or `None` if all are out.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let buffers = proactor::buf::FixedBuffers::with_driver(&proactor::Driver::new()?, 2, 512)?;
    /// let (a, b) = (buffers.take().unwrap(), buffers.take().unwrap());
    /// assert!(buffers.take().is_none());
    /// assert_eq!(buffers.available(), 0);
    /// drop((a, b));
    /// assert_eq!(buffers.available(), 2);
    /// # Ok(()) }
    /// ```
    pub fn take(&self) -> Option<FixedBuf> {
        let index = self.region.free().pop()?;
        Some(FixedBuf {
            region: self.region.clone(),
            index,
            len: 0,
        })
    }

    /// How many buffers the set has.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let buffers = proactor::buf::FixedBuffers::with_driver(&proactor::Driver::new()?, 3, 512)?;
    /// assert_eq!(buffers.count(), 3);
    /// # Ok(()) }
    /// ```
    pub fn count(&self) -> usize {
        usize::from(self.region.count)
    }

    /// How many buffers are not taken.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let buffers = proactor::buf::FixedBuffers::with_driver(&proactor::Driver::new()?, 3, 512)?;
    /// let _one = buffers.take();
    /// assert_eq!(buffers.available(), 2);
    /// # Ok(()) }
    /// ```
    pub fn available(&self) -> usize {
        self.region.free().len()
    }

    /// Each buffer's capacity.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let buffers = proactor::buf::FixedBuffers::with_driver(&proactor::Driver::new()?, 1, 512)?;
    /// assert_eq!(buffers.buf_len(), 512);
    /// # Ok(()) }
    /// ```
    pub fn buf_len(&self) -> usize {
        self.region.buf_len
    }

    /// Whether the buffers are registered with an io_uring ring (else they
    /// are plain memory: the readiness back end, or a kernel before 5.19).
    ///
    /// ```
    /// use proactor::Backend;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let driver = proactor::Driver::builder().force(Backend::Poll).build()?;
    /// let buffers = proactor::buf::FixedBuffers::with_driver(&driver, 1, 512)?;
    /// assert!(!buffers.is_registered());
    /// # Ok(()) }
    /// ```
    pub fn is_registered(&self) -> bool {
        self.region.first_slot.is_some()
    }
}

/// Most buffers in one set (and slots in a ring's table).
pub(crate) const MAX_FIXED_BUFFERS: usize = 4096;

impl Region {
    fn free(&self) -> std::sync::MutexGuard<'_, Vec<u16>> {
        // Poisoned only by a panic between lock and unlock, which pushes or
        // pops one index at most: the list is consistent.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn buf_ptr(&self, index: u16) -> *mut u8 {
        // SAFETY: index < count, so the offset stays inside the allocation.
        unsafe { self.base.as_ptr().add(usize::from(index) * self.stride) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Some(first) = self.first_slot {
            // The driver gone: its ring takes no more operations, and those
            // it held are over (else they would hold this region).
            if let Some(driver) = self.driver.upgrade() {
                if !driver.unregister_fixed(first, u32::from(self.count)) {
                    // Still registered: a later READ_FIXED could write into
                    // the memory. Leak it rather than free it.
                    return;
                }
            }
        }
        // SAFETY: allocated in `with_driver` with this layout; no buffer is
        // out (each holds the region) and no ring refers to it any more.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) };
    }
}

impl FixedBuf {
    /// Bytes initialised (read into it, or put there).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is initialised.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.region.buf_len
    }

    /// Forgets the contents, keeping the memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Sets how many bytes count as initialised. The memory is always
    /// initialised (zeroed, then written), so this is safe; more than the
    /// capacity is an `InvalidInput` error.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let buffers = proactor::buf::FixedBuffers::with_driver(&proactor::Driver::new()?, 1, 8)?;
    /// let mut buf = buffers.take().unwrap();
    /// buf.set_len(8)?;
    /// buf.fill(b'x');
    /// assert_eq!(&buf[..], b"xxxxxxxx");
    /// assert!(buf.set_len(9).is_err());
    /// # Ok(()) }
    /// ```
    pub fn set_len(&mut self, len: usize) -> io::Result<()> {
        if len > self.capacity() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a fixed buffer's length cannot exceed its capacity",
            ));
        }
        self.len = len;
        Ok(())
    }

    /// Appends `data`; if it does not fit, an `InvalidInput` error and no
    /// change.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> io::Result<()> {
        let end = self
            .len
            .checked_add(data.len())
            .filter(|&end| end <= self.capacity());
        let Some(end) = end else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the bytes do not fit in the fixed buffer",
            ));
        };
        let old = self.len;
        self.len = end;
        self[old..].copy_from_slice(data);
        Ok(())
    }

    /// The ring's buffer-table slot holding this buffer, if registered.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn slot(&self) -> Option<u16> {
        let slot = self.region.first_slot? + u32::from(self.index);
        // Below 4096 + 4096: the table's size bounds it.
        u16::try_from(slot).ok()
    }

    /// Identity of the driver the buffer belongs to.
    pub(crate) fn owner(&self) -> usize {
        self.region.owner
    }

    fn ptr(&self) -> *mut u8 {
        self.region.buf_ptr(self.index)
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        self.region.free().push(self.index);
    }
}

impl Deref for FixedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` bytes of this buffer, initialised memory (zeroed at
        // allocation), reached only through this `FixedBuf`.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }
}

// SAFETY: the pointer is into the region, which this buffer keeps alive and
// which never moves; `bytes_total` is the buffer's own share of it.
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    fn registered(&self) -> Option<(usize, Option<u16>)> {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        let slot = self.slot();
        #[cfg(not(all(target_os = "linux", feature = "uring")))]
        let slot = None;
        Some((self.owner(), slot))
    }
}

// SAFETY: as for IoBuf; only this buffer's share of the region is written.
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // Never shrinks, as for the other buffers.
        self.len = self.len.max(pos.min(self.capacity()));
    }
}

impl fmt::Debug for FixedBuffers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuffers")
            .field("count", &self.count())
            .field("buf_len", &self.buf_len())
            .field("available", &self.available())
            .field("registered", &self.is_registered())
            .finish()
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

static_assertions::assert_impl_all!(FixedBuffers: Send, Sync, Clone);
static_assertions::assert_impl_all!(FixedBuf: Send, Sync, Unpin);
