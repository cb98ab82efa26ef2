use std::ops::RangeBounds;

use super::Slice;

/// A buffer whose initialised bytes the kernel may read (for writes).
///
/// # Safety
///
/// The memory `stable_ptr()` points to must stay valid, and must not move,
/// for as long as the value lives, even if the value itself is moved (a heap
/// allocation or `'static` memory). `bytes_init()` bytes from that pointer
/// must be initialised, `bytes_total()` bytes must be allocated, and
/// `bytes_init() <= bytes_total()`.
///
/// None of this may change through a shared reference: until the value is
/// next used mutably (`&mut self`), `stable_ptr()` and `bytes_total()` return
/// the same values and `bytes_init()` does not decrease. A [`Slice`] checks
/// its window against the buffer once and relies on it while it holds the
/// buffer, handing out only `&T` to safe code.
///
/// Implemented for `Vec<u8>`, `Box<[u8]>`, `String`, `&'static [u8]`,
/// `&'static [u8; N]`, `&'static str`, [`AlignedBuf`](super::AlignedBuf),
/// [`Slice`] and, with the `bytes` feature, `Bytes` and `BytesMut`:
///
/// ```
/// use proactor::buf::IoBuf;
///
/// fn sent(buf: &impl IoBuf) -> usize {
///     buf.bytes_init()
/// }
///
/// assert_eq!(sent(&"static str"), 10);
/// assert_eq!(sent(&String::from("owned")), 5);
/// let mut v = Vec::with_capacity(100);
/// v.extend_from_slice(b"abc");
/// assert_eq!((sent(&v), v.bytes_total()), (3, 100)); // len, not capacity
/// # #[cfg(feature = "bytes")]
/// # assert_eq!(sent(&bytes::Bytes::from_static(b"shared")), 6);
/// ```
pub unsafe trait IoBuf: Unpin + Send + 'static {
    /// Pointer to the first byte; stable across moves of `self`.
    fn stable_ptr(&self) -> *const u8;

    /// Number of initialised bytes (what a write sends).
    fn bytes_init(&self) -> usize;

    /// Number of bytes the buffer can hold (what a read may fill).
    fn bytes_total(&self) -> usize;

    /// The registered buffer this one is or lies in (a
    /// [`FixedBuf`](super::FixedBuf)): the identity of the driver its set
    /// belongs to, and its slot in that driver's buffer table if the set is
    /// registered there. Internal: the default, `None`, is right for every
    /// buffer outside the crate.
    #[doc(hidden)]
    fn registered(&self) -> Option<(usize, Option<u16>)> {
        None
    }

    /// A view of `range` of this buffer, owning it.
    ///
    /// # Panics
    ///
    /// If the range is out of `0..bytes_total()` or decreasing, like slice
    /// indexing does.
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        Slice::new(self, range)
    }
}

/// A buffer the kernel may write into (for reads).
///
/// # Safety
///
/// As for [`IoBuf`]; in addition `stable_mut_ptr()` must point to the same
/// memory as `stable_ptr()` and be valid for writes of `bytes_total()` bytes,
/// and `set_init(pos)` must only record what the caller guarantees was
/// written: afterwards `bytes_init()` is at most the larger of its previous
/// value and `pos` (it may record less, for example a buffer that is always
/// fully initialised ignores it), and never smaller than before.
///
/// Reads take one, fill it from its start, and record what they wrote:
///
/// ```
/// use proactor::buf::{IoBuf, IoBufMut};
///
/// let mut buf = Vec::with_capacity(8);
/// assert_eq!((buf.bytes_init(), buf.bytes_total()), (0, 8));
/// // What a read does once the kernel wrote 3 bytes:
/// // SAFETY: 3 bytes were written at the start, within the capacity.
/// unsafe {
///     buf.stable_mut_ptr().copy_from_nonoverlapping(b"abc".as_ptr(), 3);
///     buf.set_init(3);
/// }
/// assert_eq!(buf, b"abc");
/// ```
pub unsafe trait IoBufMut: IoBuf {
    /// Writable pointer to the first byte; stable across moves of `self`.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Records that bytes `0..pos` are initialised, if that grows the
    /// initialised region.
    ///
    /// # Safety
    ///
    /// Bytes `0..pos` must really be initialised and `pos <= bytes_total()`.
    unsafe fn set_init(&mut self, pos: usize);
}

// SAFETY: a Vec's heap buffer does not move when the Vec is moved; len bytes
// are initialised, capacity bytes allocated.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for IoBuf; the spare capacity is writable.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller guarantees 0..pos is initialised and within
            // capacity.
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: a boxed slice is a fixed heap allocation, fully initialised.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; every byte is already initialised, so set_init is a no-op.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _pos: usize) {}
}

// SAFETY: 'static data never moves or goes away.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: 'static data never moves or goes away.
unsafe impl<const N: usize> IoBuf for &'static [u8; N] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
    fn bytes_total(&self) -> usize {
        N
    }
}

// SAFETY: 'static data never moves or goes away.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: a String's heap buffer does not move when the String is moved.
// String is only an IoBuf: letting the kernel write into it could break UTF-8.
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

cfg_bytes! {
    // SAFETY: Bytes is an immutable, reference-counted heap (or 'static)
    // region; moving the handle does not move the data.
    unsafe impl IoBuf for bytes::Bytes {
        fn stable_ptr(&self) -> *const u8 {
            self.as_ptr()
        }
        fn bytes_init(&self) -> usize {
            self.len()
        }
        fn bytes_total(&self) -> usize {
            self.len()
        }
    }

    // SAFETY: BytesMut owns its region uniquely; moving the handle does not
    // move the data.
    unsafe impl IoBuf for bytes::BytesMut {
        fn stable_ptr(&self) -> *const u8 {
            self.as_ptr()
        }
        fn bytes_init(&self) -> usize {
            self.len()
        }
        fn bytes_total(&self) -> usize {
            self.capacity()
        }
    }

    // SAFETY: as above; the spare capacity is writable.
    unsafe impl IoBufMut for bytes::BytesMut {
        fn stable_mut_ptr(&mut self) -> *mut u8 {
            // The pointer must be valid for writes over the whole capacity.
            // BytesMut only lends its initialised part (`as_mut_ptr` via
            // `DerefMut`) or its spare part; with the length at zero for a
            // moment, the spare part is all of it.
            let len = self.len();
            // SAFETY: a shorter length is always valid for bytes, and it is
            // restored at once; bytes 0..len stay initialised meanwhile.
            unsafe { self.set_len(0) };
            let ptr = self.spare_capacity_mut().as_mut_ptr().cast::<u8>();
            // SAFETY: as above: bytes 0..len are still initialised.
            unsafe { self.set_len(len) };
            ptr
        }
        unsafe fn set_init(&mut self, pos: usize) {
            if self.len() < pos {
                // SAFETY: the caller guarantees 0..pos is initialised and
                // within capacity.
                unsafe { self.set_len(pos) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init_bytes<B: IoBuf>(buf: &B) -> &[u8] {
        // SAFETY: IoBuf promises bytes_init initialised bytes at stable_ptr.
        unsafe { std::slice::from_raw_parts(buf.stable_ptr(), buf.bytes_init()) }
    }

    fn fill<B: IoBufMut>(buf: &mut B, data: &[u8]) {
        assert!(data.len() <= buf.bytes_total());
        // SAFETY: writes within bytes_total, then records exactly those bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), buf.stable_mut_ptr(), data.len());
            buf.set_init(data.len());
        }
    }

    #[test]
    fn every_buffer_type_exposes_its_bytes() {
        assert_eq!(init_bytes(&b"array".as_slice()), b"array");
        assert_eq!(init_bytes(&b"array"), b"array");
        assert_eq!(init_bytes(&"str"), b"str");
        assert_eq!(init_bytes(&String::from("string")), b"string");
        assert_eq!(init_bytes(&vec![1u8, 2]), [1, 2]);
        assert_eq!(init_bytes(&vec![3u8; 4].into_boxed_slice()), [3; 4]);
    }

    #[test]
    fn writable_buffers_record_what_was_written() {
        let mut v: Vec<u8> = Vec::with_capacity(8);
        fill(&mut v, b"abc");
        assert_eq!(v, b"abc");
        // A shorter fill never shrinks what is already initialised.
        fill(&mut v, b"x");
        assert_eq!(v, b"xbc");
        let mut boxed = vec![0u8; 4].into_boxed_slice();
        fill(&mut boxed, b"hi");
        assert_eq!(&boxed[..], b"hi\0\0");
    }

    #[cfg(feature = "bytes")]
    #[test]
    fn bytes_mut_records_what_was_written() {
        let mut b = bytes::BytesMut::with_capacity(8);
        fill(&mut b, b"bytes");
        assert_eq!(&b[..], b"bytes");
        assert_eq!(init_bytes(&b.freeze()), b"bytes");
    }
}
