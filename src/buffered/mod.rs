//! The owned buffers behind the poll-based I/O traits (`futures::io`'s and
//! `tokio::io`'s) of the stream types, their halves and `File`.
//!
//! A poll-based trait lends the caller's buffer for one call only, while a
//! completion operation needs a buffer it owns until the kernel is done
//! with it. So each direction keeps one buffer of its own and copies once:
//! a read lands in [`ReadAhead`]'s buffer and is copied out to the caller; a
//! write is copied into [`WriteBehind`]'s buffer, which the kernel then
//! sends. A write is reported done once copied, and its outcome shows at
//! the next write, flush or shutdown, as with a `BufWriter`.
//!
//! The rules every user of this module keeps:
//!
//! - **Directions are independent.** The read and the write state never
//!   touch each other on a stream: writing never drops read-ahead, and
//!   reading never waits for a write. (A file has one cursor, so its
//!   writes make read-ahead stale; that is the cursor's business.)
//! - **Read-ahead is never dropped or duplicated on a stream.** The state
//!   lives with the stream; splitting it moves the state into the halves
//!   and reuniting moves it back. No handle ever gets a fresh buffer while
//!   another holds read-ahead.
//! - **Buffers are sized on demand** (from [`INITIAL_BUFFER`], doubling up
//!   to a limit, [`MAX_BUFFER`] by default) and reused: once warm, a call
//!   allocates no buffer.
//! - **Each waiting task is woken.** [`Shared`] lets several handles (a
//!   `&TcpStream`, borrowed halves) poll one direction: the operation
//!   always waits with the direction's own waker, which wakes every task
//!   that found it busy, so none is left behind whichever task polls last.

mod duplex;
mod read_ahead;
mod shared;
mod traits;
mod write_behind;

pub(crate) use duplex::{Duplex, ReadSide, WriteSide};
pub(crate) use read_ahead::ReadAhead;
pub(crate) use shared::Shared;
pub(crate) use traits::{impl_async_buf_read, impl_async_read, impl_async_write};
pub(crate) use write_behind::WriteBehind;

/// What a direction's buffer starts at, unless the first read asks for more.
pub(crate) const INITIAL_BUFFER: usize = 8 * 1024;

/// The default limit of a direction's buffer.
pub(crate) const MAX_BUFFER: usize = 64 * 1024;

/// Copies as much of `data` as fits into `buf`'s window and records it as
/// initialised; returns how many bytes.
pub(crate) fn copy_into<B: crate::buf::IoBufMut>(data: &[u8], buf: &mut B) -> usize {
    let n = data.len().min(buf.bytes_total());
    // SAFETY: `stable_mut_ptr` is valid for writes of `bytes_total()` bytes
    // (IoBufMut) and `n` is at most that. `data` is a direction's own
    // buffer, which no caller's owned buffer can overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(data.as_ptr(), buf.stable_mut_ptr(), n);
        buf.set_init(n);
    }
    n
}
