//! Owned copies of borrowed bytes, for the functions that take `&[u8]`.
//!
//! The kernel may still read a write's buffer after the future that
//! started it is dropped, so a write needs memory the driver can own; a
//! borrowed slice is not. Those functions copy it, a chunk at a time, into
//! a buffer from a small process-wide pool, so steady writing allocates
//! nothing.

use std::sync::{Mutex, PoisonError};

use crate::buf::IoBuf;

/// The most one copy holds: longer data is written a chunk at a time, so a
/// copy never costs more memory than this. Also the largest buffer kept.
pub(crate) const CHUNK: usize = 256 * 1024;

/// How many buffers the pool keeps for reuse; more are freed.
const KEPT: usize = 8;

/// Buffers waiting for reuse: at most [`KEPT`], none larger than
/// [`CHUNK`]. A leaf lock: nothing else is locked while it is held.
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    // Poisoned only by a panic while held; push and pop leave the list
    // whole either way.
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An owned copy of some bytes, in a buffer that goes back to the pool when
/// dropped (wherever that happens: the future, or the driver once the
/// kernel lets go of a cancelled write).
#[derive(Debug)]
pub(crate) struct CopiedBuf {
    buf: Vec<u8>,
}

impl CopiedBuf {
    /// A copy of `data` (at most [`CHUNK`] bytes, so the buffer stays one
    /// the pool keeps).
    pub(crate) fn copy_of(data: &[u8]) -> CopiedBuf {
        debug_assert!(data.len() <= CHUNK, "copies are made a chunk at a time");
        let mut buf = pool().pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(data);
        CopiedBuf { buf }
    }
}

impl Drop for CopiedBuf {
    fn drop(&mut self) {
        if self.buf.capacity() == 0 || self.buf.capacity() > CHUNK {
            return;
        }
        let mut kept = pool();
        if kept.len() < KEPT {
            kept.push(std::mem::take(&mut self.buf));
        }
    }
}

// SAFETY: delegates to the Vec, whose heap buffer does not move when the
// CopiedBuf does; nothing changes it through `&self`.
unsafe impl IoBuf for CopiedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.buf.bytes_total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests share the one pool: run them one at a time.
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        static SERIAL: Mutex<()> = Mutex::new(());
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[test]
    fn a_copy_holds_the_bytes_and_its_buffer_is_reused() {
        let _serial = serial();
        pool().clear();
        let first = CopiedBuf::copy_of(b"first copy");
        assert_eq!(first.bytes_init(), 10);
        let address = first.stable_ptr();
        drop(first);
        let second = CopiedBuf::copy_of(b"second");
        assert_eq!(
            second.stable_ptr(),
            address,
            "the dropped buffer was not reused"
        );
        assert_eq!(&second.buf, b"second");
    }

    #[test]
    fn the_pool_keeps_few_buffers_and_no_large_one() {
        let _serial = serial();
        pool().clear();
        let copies: Vec<_> = (0..KEPT * 2)
            .map(|_| CopiedBuf::copy_of(&[7; CHUNK]))
            .collect();
        drop(copies);
        assert_eq!(pool().len(), KEPT);
        pool().clear();
        drop(CopiedBuf {
            buf: Vec::with_capacity(CHUNK + 1),
        });
        assert!(pool().is_empty(), "a buffer larger than a chunk was kept");
    }
}
