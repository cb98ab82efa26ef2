//! A receive into a buffer the kernel picks from a registered
//! [`BufPool`](crate::buf::BufPool): one-shot, or multishot (Linux 6.0).

use std::io;
use std::sync::Arc;

use super::{Interest, OpCode, Readiness};
use crate::buf::PoolShared;
use crate::os::sys::OwnedSocket;
use crate::os::AsRawSource;

/// Runs only as an io_uring stream (`submit_stream`): each result names
/// the buffer it filled in its completion's flags, which only streams
/// carry.
pub(crate) struct RecvPooled {
    fd: Arc<OwnedSocket>,
    /// Keeps the buffers (and the ring naming them) alive while the kernel
    /// may pick one for this receive.
    pool: Arc<PoolShared>,
    group: u16,
    multishot: bool,
}

impl RecvPooled {
    /// `None` if the pool is not registered with io_uring.
    pub(crate) fn new(
        fd: Arc<OwnedSocket>,
        pool: &Arc<PoolShared>,
        multishot: bool,
    ) -> Option<Self> {
        Some(RecvPooled {
            fd,
            group: pool.group()?,
            pool: pool.clone(),
            multishot,
        })
    }
}

// SAFETY: the entry carries no pointer: the kernel writes into a buffer of
// the group, which `pool` keeps registered and allocated while this lives
// (the driver keeps it until the last completion).
unsafe impl OpCode for RecvPooled {
    type Output = ();

    const URING_OPCODE: u8 = io_uring::opcode::Recv::CODE;

    fn uring_entry(&mut self) -> io_uring::squeue::Entry {
        let fd = io_uring::types::Fd(self.fd.as_raw_source());
        if self.multishot {
            io_uring::opcode::RecvMulti::new(fd, self.group).build()
        } else {
            // The kernel takes the length from the buffer it picks.
            io_uring::opcode::Recv::new(fd, std::ptr::null_mut(), 0)
                .buf_group(self.group)
                .build()
                .flags(io_uring::squeue::Flags::BUFFER_SELECT)
        }
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd {
            fd: self.fd.as_raw_source(),
            interest: Interest::Readable,
        }
    }

    fn perform(&mut self) -> io::Result<usize> {
        let _ = &self.pool;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a receive into a registered pool runs only on io_uring",
        ))
    }

    fn complete(self: Box<Self>, _result: io::Result<usize>) {}
}
