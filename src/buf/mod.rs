//! Owned buffers for completion-based I/O.
//!
//! The kernel reads or writes a buffer after the call that submitted the
//! operation has returned, so every operation takes its buffer by value and
//! gives it back with the result: a [`BufResult`]. While the operation is in
//! flight the buffer belongs to the driver; if the future is dropped early, the
//! driver keeps the buffer alive until the kernel is done with it.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use proactor::buf::{IoBuf, IoBufMut};
//!
//! let buf = Vec::with_capacity(4096);
//! assert_eq!(buf.bytes_init(), 0);
//! assert_eq!(buf.bytes_total(), 4096);
//! let window = b"hello world".to_vec().slice(6..);
//! assert_eq!(&window[..], b"world");
//! # Ok(()) }
//! ```

mod aligned;
mod fixed;
mod io_buf;
mod pool;
#[cfg(test)]
mod properties;
mod slice;

pub use aligned::AlignedBuf;
#[cfg(all(target_os = "linux", feature = "uring"))]
pub(crate) use fixed::MAX_FIXED_BUFFERS;
pub use fixed::{FixedBuf, FixedBuffers};
pub use io_buf::{IoBuf, IoBufMut};
pub(crate) use pool::PoolShared;
pub use pool::{BufPool, PooledBuf, MAX_POOL_BUFFERS};
pub use slice::Slice;

/// The result of an operation that took a buffer by value: the outcome, and
/// the buffer handed back whatever happened.
///
/// ```
/// use proactor::buf::BufResult;
/// use proactor::net::UdpSocket;
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
///     // Not connected: the send fails, and the buffer comes back to reuse.
///     let result: BufResult<usize, Vec<u8>> = socket.send(b"lost?".to_vec()).await;
///     let (sent, buf) = result;
///     assert!(sent.is_err());
///     assert_eq!(buf, b"lost?");
///     Ok(())
/// })
/// # }
/// ```
pub type BufResult<T, B> = (std::io::Result<T>, B);

/// The most one operation transfers. Longer buffers are capped to this
/// length: the operation reports a short count, exactly as a short `read(2)`
/// would, and `read_exact_at` / `write_all_at` continue where it stopped.
///
/// ```
/// assert_eq!(proactor::buf::MAX_OP_LEN, 4_294_967_295); // u32::MAX: 4 GiB - 1
/// ```
pub const MAX_OP_LEN: usize = u32::MAX as usize;

/// Length handed to the kernel for a buffer region of `len` bytes.
pub(crate) fn capped_len(len: usize) -> u32 {
    let len = len.min(MAX_OP_LEN) as u32;
    #[cfg(proactor_fault)]
    let len = crate::fault::shorten(len);
    len
}
