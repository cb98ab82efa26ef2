use std::alloc::{self, Layout};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use super::{IoBuf, IoBufMut};

/// A heap buffer whose start is aligned, for `O_DIRECT` I/O (which needs
/// the buffer, the offset and the length aligned to the device's logical
/// block size; 4096 is safe everywhere).
///
/// ```
/// use proactor::buf::{AlignedBuf, IoBuf};
///
/// let buf = AlignedBuf::new(8192, 4096).unwrap();
/// assert_eq!(buf.stable_ptr() as usize % 4096, 0);
/// assert_eq!((buf.bytes_init(), buf.bytes_total()), (0, 8192));
/// ```
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
    len: usize,
}

// SAFETY: the buffer is uniquely owned heap memory, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// An empty buffer of `capacity` bytes starting at a multiple of
    /// `align` (a power of two). A zero capacity or a bad alignment is an
    /// `InvalidInput` error; no memory is an `OutOfMemory` error.
    ///
    /// ```
    /// use proactor::buf::{AlignedBuf, IoBuf};
    /// use std::io::ErrorKind;
    ///
    /// let buf = AlignedBuf::new(4096, 512).unwrap();
    /// assert_eq!(buf.stable_ptr() as usize % 512, 0);
    /// assert_eq!(buf.bytes_total(), 4096);
    /// assert_eq!(AlignedBuf::new(0, 512).unwrap_err().kind(), ErrorKind::InvalidInput);
    /// assert_eq!(AlignedBuf::new(4096, 3).unwrap_err().kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn new(capacity: usize, align: usize) -> io::Result<AlignedBuf> {
        let invalid = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
        if capacity == 0 {
            return Err(invalid("an aligned buffer needs a capacity above zero"));
        }
        let layout = Layout::from_size_align(capacity, align)
            .map_err(|_| invalid("alignment must be a power of two, and the size fit in isize"))?;
        // SAFETY: the layout has a non-zero size (checked above).
        let ptr = unsafe { alloc::alloc(layout) };
        let ptr = NonNull::new(ptr).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        Ok(AlignedBuf {
            ptr,
            layout,
            len: 0,
        })
    }

    /// Bytes initialised so far: what reads recorded, not the capacity.
    ///
    /// ```
    /// use proactor::buf::AlignedBuf;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"hello")?;
    /// let (n, mut buf) = proactor::block_on(async {
    ///     let file = proactor::fs::File::open(&path).await?; // holds "hello"
    ///     let (n, buf) = file.read_at(AlignedBuf::new(4096, 4096)?, 0).await;
    ///     Ok::<_, std::io::Error>((n?, buf))
    /// })?;
    /// assert_eq!((n, buf.len()), (5, 5));
    /// assert_eq!(&buf[..], b"hello");
    /// buf[0] = b'j'; // the initialised bytes are a `[u8]`
    /// assert_eq!(&buf[..], b"jello");
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is initialised.
    ///
    /// ```
    /// use proactor::buf::AlignedBuf;
    ///
    /// let buf = AlignedBuf::new(4096, 4096).unwrap();
    /// assert!(buf.is_empty()); // allocated, but nothing read into it yet
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the contents (keeps the memory), so the next read's length
    /// is all [`len`](Self::len) counts.
    ///
    /// ```
    /// use proactor::buf::{AlignedBuf, IoBuf};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"hello")?;
    /// let (n, mut buf) = proactor::block_on(async {
    ///     let file = proactor::fs::File::open(&path).await?; // holds "hello"
    ///     let (n, buf) = file.read_at(AlignedBuf::new(4096, 4096)?, 0).await;
    ///     Ok::<_, std::io::Error>((n?, buf))
    /// })?;
    /// assert_eq!(n, 5);
    /// buf.clear();
    /// assert!(buf.is_empty());
    /// assert_eq!(buf.bytes_total(), 4096); // the memory stays
    /// # Ok(()) }
    /// ```
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.layout.size())
            .field("align", &self.layout.align())
            .finish()
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are initialised (set_init contract).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for Deref, and we own the memory uniquely.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

// SAFETY: a fixed heap allocation that never moves; `len` bytes initialised,
// `layout.size()` allocated.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.layout.size()
    }
}

// SAFETY: as above; the whole allocation is writable.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.len = self.len.max(pos.min(self.layout.size()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_writable() {
        let mut buf = AlignedBuf::new(4096, 512).unwrap();
        assert_eq!(buf.stable_mut_ptr() as usize % 512, 0);
        // SAFETY: writes 3 bytes within capacity, then records them.
        unsafe {
            std::ptr::copy_nonoverlapping(b"abc".as_ptr(), buf.stable_mut_ptr(), 3);
            buf.set_init(3);
        }
        assert_eq!(&buf[..], b"abc");
        buf.clear();
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert_eq!(
            AlignedBuf::new(0, 4096).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            AlignedBuf::new(4096, 3).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
