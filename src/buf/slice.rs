use std::ops::{Bound, Deref, DerefMut, RangeBounds};

use super::{IoBuf, IoBufMut};

/// An owned window `begin..end` of a buffer, itself usable as a buffer.
///
/// Reads into a `Slice` fill the window from its start; writes from it send
/// the initialised part of the window. [`Slice::into_inner`] gives the whole
/// buffer back.
///
/// ```
/// use proactor::buf::IoBuf;
///
/// let s = b"0123456789".to_vec().slice(2..5);
/// assert_eq!((s.begin(), s.end()), (2, 5));
/// assert_eq!(&s[..], b"234");
/// assert_eq!(s.into_inner().len(), 10);
/// ```
///
/// # A window past the buffer's initialised bytes
///
/// The underlying buffer records one initialised prefix (`Vec::len`), so it
/// cannot count bytes read into a window that starts past that prefix while
/// the bytes between were never written. When a read records bytes in such
/// a window, the `Slice` first zeroes that gap (bytes nobody wrote, outside
/// the window). The buffer [`into_inner`](Slice::into_inner) gives back then
/// counts the bytes read, behind zeros where it had nothing:
///
/// ```no_run
/// # async fn demo(file: proactor::fs::File) -> std::io::Result<()> {
/// use proactor::buf::IoBuf;
///
/// let (n, window) = file.read_at(Vec::with_capacity(64).slice(32..64), 0).await;
/// let n = n?;
/// assert_eq!(window.len(), n); // the window shows the bytes read
/// let buf = window.into_inner();
/// if n > 0 {
///     assert_eq!(buf.len(), 32 + n);
///     assert!(buf[..32].iter().all(|&byte| byte == 0));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Slice<T> {
    buf: T,
    begin: usize,
    end: usize,
}

impl<T: IoBuf> Slice<T> {
    pub(crate) fn new(buf: T, range: impl RangeBounds<usize>) -> Self {
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.checked_add(1).expect("range start overflows usize"),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n.checked_add(1).expect("range end overflows usize"),
            Bound::Excluded(&n) => n,
            Bound::Unbounded => buf.bytes_total(),
        };
        assert!(
            begin <= end && end <= buf.bytes_total(),
            "slice {begin}..{end} out of a buffer of {} bytes",
            buf.bytes_total()
        );
        Slice { buf, begin, end }
    }

    /// Start of the window in the underlying buffer; see also
    /// [`end`](Self::end).
    ///
    /// ```
    /// use proactor::buf::IoBuf;
    ///
    /// let window = b"0123456789".to_vec().slice(3..);
    /// assert_eq!(window.begin(), 3);
    /// assert_eq!(&window[..], b"3456789");
    /// ```
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// End of the window in the underlying buffer: with an open range, the
    /// buffer's capacity.
    ///
    /// ```
    /// use proactor::buf::IoBuf;
    ///
    /// let window = Vec::<u8>::with_capacity(64).slice(16..);
    /// assert_eq!((window.begin(), window.end()), (16, 64));
    /// assert_eq!(window.bytes_total(), 48);
    /// ```
    pub fn end(&self) -> usize {
        self.end
    }

    /// The underlying buffer.
    ///
    /// ```
    /// use proactor::buf::IoBuf;
    ///
    /// let window = b"hello world".to_vec().slice(6..);
    /// assert_eq!(&window[..], b"world");
    /// assert_eq!(window.get_ref(), b"hello world");
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.buf
    }

    /// The underlying buffer, mutably. To change the window's bytes, use the
    /// `Slice` itself (it derefs mutably to them): that needs no `unsafe`.
    ///
    /// A safe `get_mut` would let safe code shrink or replace the buffer
    /// after the window was checked against it, and the next read into the
    /// window would write past the end of the new allocation:
    ///
    /// ```compile_fail,E0133
    /// use proactor::buf::IoBuf;
    ///
    /// let mut window = Vec::<u8>::with_capacity(256).slice(0..256);
    /// *window.get_mut() = Vec::with_capacity(16);
    /// ```
    ///
    /// # Safety
    ///
    /// Through the returned reference the caller must not move, free,
    /// replace or shrink the allocation: `stable_ptr()` must stay the same
    /// and `bytes_total()` at least [`end`](Slice::end). So no reallocating
    /// `push` or `reserve`, no `shrink_to_fit`, no assignment of another
    /// buffer. Anything else a `&mut T` allows is fine, as the window's
    /// initialised bytes are whatever the buffer counts.
    ///
    /// ```
    /// use proactor::buf::IoBuf;
    ///
    /// let mut window = Vec::with_capacity(8).slice(4..8);
    /// // SAFETY: pushes within capacity: the allocation stays as it was.
    /// unsafe { window.get_mut().extend_from_slice(b"abcd") };
    /// assert_eq!(window.into_inner(), b"abcd");
    /// ```
    pub unsafe fn get_mut(&mut self) -> &mut T {
        &mut self.buf
    }

    /// Gives back the whole underlying buffer.
    ///
    /// If a read was recorded in a window that starts past the buffer's
    /// initialised bytes, the gap before the window was zeroed so that the
    /// buffer counts the bytes read (see the
    /// [type docs](Slice#a-window-past-the-buffers-initialised-bytes)).
    ///
    /// ```
    /// use proactor::buf::IoBuf;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"world")?;
    /// let mut buf = Vec::with_capacity(16);
    /// buf.extend_from_slice(b"hello ");
    /// let (n, window) = proactor::block_on(async {
    ///     let file = proactor::fs::File::open(&path).await?; // holds "world"
    ///     Ok::<_, std::io::Error>(file.read_at(buf.slice(6..), 0).await)
    /// })?;
    /// assert_eq!(n?, 5);
    /// assert_eq!(window.into_inner(), b"hello world");
    /// # Ok(()) }
    /// ```
    pub fn into_inner(self) -> T {
        self.buf
    }
}

impl<T: IoBuf> Deref for Slice<T> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let init = self.bytes_init();
        // SAFETY: `init` bytes from the window start are initialised (IoBuf
        // contract of the underlying buffer, clamped to the window).
        unsafe { std::slice::from_raw_parts(self.stable_ptr(), init) }
    }
}

impl<T: IoBufMut> DerefMut for Slice<T> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let init = self.bytes_init();
        // SAFETY: as for Deref; we own the buffer uniquely through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.stable_mut_ptr(), init) }
    }
}

// SAFETY: the window lies within the underlying buffer (checked in `new`; the
// buffer cannot shrink under it: `get_mut` is unsafe and IoBuf forbids changes
// through `&T`), so the pointer arithmetic stays inside its stable
// allocation. The window's initialised bytes are those the buffer counts:
// they are read through the buffer's own pointer, within its initialised
// prefix.
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr().wrapping_add(self.begin)
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init().clamp(self.begin, self.end) - self.begin
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
    fn registered(&self) -> Option<(usize, Option<u16>)> {
        // A window of a registered buffer lies within its registration.
        self.buf.registered()
    }
}

// SAFETY: as for IoBuf; set_init only records bytes that are initialised: the
// caller's, and the gap before the window, which it zeroes first.
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr().wrapping_add(self.begin)
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // The clamp keeps a contract-breaking `pos` inside the window.
        let pos = pos.min(self.end - self.begin);
        if pos == 0 {
            return;
        }
        let gap_start = self.buf.bytes_init();
        if gap_start < self.begin {
            // Forwarding begin + pos alone would count bytes
            // gap_start..begin, which nobody wrote, as initialised.
            let gap = self.buf.stable_mut_ptr().wrapping_add(gap_start);
            // SAFETY: gap_start..begin lies inside the allocation (begin <=
            // end <= bytes_total), which stable_mut_ptr may write (IoBufMut),
            // and &mut self means nothing else refers to it.
            unsafe { gap.write_bytes(0, self.begin - gap_start) };
        }
        // SAFETY: bytes 0..begin of the buffer are initialised (counted by
        // the buffer, or zeroed just above), begin..begin + pos are (the
        // caller's guarantee), and begin + pos <= end <= bytes_total().
        unsafe { self.buf.set_init(self.begin + pos) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_of_partly_initialised_vec() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"abcdef");
        let s = v.slice(4..10);
        assert_eq!(s.bytes_init(), 2);
        assert_eq!(s.bytes_total(), 6);
        assert_eq!(&s[..], b"ef");
    }

    #[test]
    fn set_init_through_window_grows_vec() {
        let v: Vec<u8> = Vec::with_capacity(8);
        let mut s = v.slice(0..8);
        // SAFETY: write then record the 3 written bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(b"xyz".as_ptr(), s.stable_mut_ptr(), 3);
            s.set_init(3);
        }
        assert_eq!(s.into_inner(), b"xyz");
    }

    #[test]
    fn slice_set_init_never_marks_bytes_before_the_window() {
        // Bytes 2..8 hold 0xee, but the Vec no longer counts them.
        let mut v = vec![0xee; 8];
        v.truncate(0);
        v.extend_from_slice(b"ab");
        let mut s = v.slice(4..8);
        // SAFETY: write then record the 2 written bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(b"xy".as_ptr(), s.stable_mut_ptr(), 2);
            s.set_init(2);
        }
        assert_eq!(&s[..], b"xy");
        assert_eq!(s.into_inner(), b"ab\0\0xy", "the gap 2..4 must be zeroed");
    }

    #[test]
    fn slice_set_init_of_nothing_leaves_the_gap_uncounted() {
        let mut v = Vec::with_capacity(8);
        v.extend_from_slice(b"ab");
        let mut s = v.slice(4..8);
        // SAFETY: zero bytes are trivially initialised.
        unsafe { s.set_init(0) };
        assert_eq!(s.into_inner(), b"ab");
    }

    #[test]
    #[should_panic(expected = "out of a buffer")]
    fn out_of_range_window_panics() {
        let _ = vec![0u8; 4].slice(2..9);
    }
}
