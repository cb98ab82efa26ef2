//! A pool of same-sized buffers that receives pick from, and the buffers
//! they hand out.

use std::alloc::{self, Layout};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::{IoBuf, IoBufMut};
use crate::driver::{PanicGuard, WeakDriver};
use crate::Driver;

/// The most buffers one pool holds: the kernel's limit for a
/// provided-buffer ring.
pub const MAX_POOL_BUFFERS: usize = 1 << 15;

/// Distinct wakers kept waiting for a buffer before the oldest are woken
/// early (a spurious wake is harmless).
const MAX_WAITERS: usize = 64;

/// A pool of `count` buffers of `size` bytes each, for
/// [`TcpStream::recv_stream`](crate::net::TcpStream::recv_stream) and
/// `UnixStream::recv_stream` (Unix): each chunk the socket receives comes
/// in one of them, and the buffer goes back to the pool when its
/// [`PooledBuf`] is dropped.
///
/// On io_uring (Linux 5.19 or newer) the pool is a provided-buffer ring
/// registered with the driver's ring: the kernel picks a free buffer for
/// each chunk as it arrives, so no buffer is tied up in a receive that
/// waits, and one multishot receive (Linux 6.0) serves the whole stream.
/// Elsewhere the same pool is plain memory: a receive takes a free buffer
/// when the socket is readable. [`BufPool::is_registered`] tells which.
///
/// A pool belongs to the driver it was made on; a stream of a socket on
/// another driver fails with `InvalidInput`. A pool is cheap to clone
/// (all clones are the same pool), and its memory lives until the pool,
/// every buffer it handed out and every receive that may still fill one
/// are gone.
///
/// ```
/// use futures::StreamExt;
/// use proactor::buf::BufPool;
/// use proactor::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     let pool = BufPool::new(16, 4096)?;
///     client.write_all(b"hello").await.0?;
///     drop(client);
///     let mut received = Vec::new();
///     let mut chunks = server.recv_stream(&pool);
///     while let Some(chunk) = chunks.next().await {
///         received.extend_from_slice(&chunk?); // the buffer goes back here
///     }
///     assert_eq!(received, b"hello");
///     Ok(())
/// })
/// # }
/// ```
#[derive(Clone)]
pub struct BufPool {
    shared: Arc<PoolShared>,
}

/// What a pool, its buffers and the receives filling them share.
pub(crate) struct PoolShared {
    /// Declared before `memory`, so the kernel's registration goes before
    /// the memory it names.
    refill: Refill,
    memory: Memory,
    driver: WeakDriver,
    /// How many buffers ever came back: a receive that found none waits
    /// for this to move.
    returns: AtomicU64,
    /// Buffers handed out as `PooledBuf`s and not yet back.
    in_use: AtomicUsize,
    waiters: Mutex<Vec<Waker>>,
}

/// Where free buffers wait.
enum Refill {
    /// In the pool's own list: a receive takes one.
    Free(Mutex<Vec<u16>>),
    /// In a ring registered with io_uring: the kernel takes one.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    Ring(crate::driver::BufRing),
}

/// The buffers' memory: one zeroed allocation, so every byte is always
/// initialised.
struct Memory {
    base: NonNull<u8>,
    layout: Layout,
    count: u16,
    size: usize,
}

// SAFETY: the memory is only reached through `PooledBuf`s, each of which
// has its buffer alone, or by the kernel for buffers no `PooledBuf` holds.
unsafe impl Send for Memory {}
// SAFETY: as above.
unsafe impl Sync for Memory {}

impl Memory {
    fn new(count: u16, size: usize) -> io::Result<Memory> {
        let total = usize::from(count)
            .checked_mul(size)
            .filter(|&total| total <= isize::MAX as usize)
            .ok_or_else(|| invalid("a buffer pool's size overflows"))?;
        let layout = Layout::from_size_align(total, 64)
            .map_err(|_| invalid("a buffer pool's size overflows"))?;
        // SAFETY: the layout's size is not zero (count and size are at
        // least 1, checked by the caller).
        let base = unsafe { alloc::alloc_zeroed(layout) };
        let base = NonNull::new(base).ok_or_else(|| {
            io::Error::new(io::ErrorKind::OutOfMemory, "no memory for the buffer pool")
        })?;
        Ok(Memory {
            base,
            layout,
            count,
            size,
        })
    }

    fn buffer(&self, id: u16) -> *mut u8 {
        debug_assert!(id < self.count);
        // SAFETY: `id < count`, so the offset is within the allocation.
        unsafe { self.base.as_ptr().add(usize::from(id) * self.size) }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) }
    }
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl BufPool {
    /// A pool of `count` buffers of `size` bytes on the
    /// [current driver](Driver::try_current). `count` is a power of two up
    /// to [`MAX_POOL_BUFFERS`]; `size` at least 1 and at most
    /// [`MAX_OP_LEN`](super::MAX_OP_LEN). Anything else is an
    /// `InvalidInput` error.
    ///
    /// ```
    /// use proactor::buf::BufPool;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// proactor::block_on(async {
    ///     let pool = BufPool::new(64, 16 * 1024)?;
    ///     assert_eq!((pool.count(), pool.buf_size()), (64, 16 * 1024));
    ///     assert!(BufPool::new(3, 4096).is_err()); // not a power of two
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn new(count: usize, size: usize) -> io::Result<BufPool> {
        BufPool::with_driver(&Driver::try_current()?, count, size)
    }

    /// A pool of `count` buffers of `size` bytes on `driver`, as
    /// [`BufPool::new`].
    ///
    /// ```
    /// use proactor::buf::BufPool;
    /// use proactor::Driver;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = Driver::new()?;
    /// let pool = BufPool::with_driver(&driver, 8, 2048)?;
    /// assert_eq!(pool.in_use(), 0);
    /// # Ok(()) }
    /// ```
    pub fn with_driver(driver: &Driver, count: usize, size: usize) -> io::Result<BufPool> {
        if count == 0 || !count.is_power_of_two() || count > MAX_POOL_BUFFERS {
            return Err(invalid(
                "a buffer pool's count must be a power of two from 1 to 32768",
            ));
        }
        if size == 0 || size > super::MAX_OP_LEN {
            return Err(invalid(
                "a buffer pool's buffers must be from 1 byte to 4 GiB - 1",
            ));
        }
        let count = u16::try_from(count).map_err(|_| invalid("too many buffers"))?;
        let memory = Memory::new(count, size)?;
        let refill = Refill::for_driver(driver, &memory);
        Ok(BufPool {
            shared: Arc::new(PoolShared {
                refill,
                memory,
                driver: driver.downgrade(),
                returns: AtomicU64::new(0),
                in_use: AtomicUsize::new(0),
                waiters: Mutex::new(Vec::new()),
            }),
        })
    }

    /// How many buffers the pool has.
    pub fn count(&self) -> usize {
        usize::from(self.shared.memory.count)
    }

    /// The size of each buffer: the most one chunk holds.
    pub fn buf_size(&self) -> usize {
        self.shared.memory.size
    }

    /// How many of its buffers are out as [`PooledBuf`]s right now.
    pub fn in_use(&self) -> usize {
        self.shared.in_use.load(Ordering::Acquire)
    }

    /// Whether the pool is registered with io_uring, so the kernel picks
    /// its buffers (Linux 5.19 or newer); `false` on the readiness back end
    /// and on older kernels, where receives take free buffers themselves.
    pub fn is_registered(&self) -> bool {
        match self.shared.refill {
            Refill::Free(_) => false,
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Refill::Ring(_) => true,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<PoolShared> {
        &self.shared
    }
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPool")
            .field("count", &self.count())
            .field("buf_size", &self.buf_size())
            .field("in_use", &self.in_use())
            .field("registered", &self.is_registered())
            .finish()
    }
}

impl Refill {
    fn for_driver(driver: &Driver, memory: &Memory) -> Refill {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let Some(uring) = driver.uring().filter(|uring| uring.has_buf_rings()) {
            let size = u32::try_from(memory.size).expect("checked against MAX_OP_LEN");
            // SAFETY: the buffers are `memory`'s, which the pool drops after
            // the ring (field order), and which outlives every receive that
            // selects from it (each holds the pool). No `PooledBuf` exists
            // yet, so the kernel has them alone.
            let registered =
                unsafe { crate::driver::BufRing::register(uring, memory.base, memory.count, size) };
            // Refused (a kernel without the register call, or out of locked
            // memory): the pool works as plain memory instead, which
            // `is_registered` reports.
            if let Ok(ring) = registered {
                return Refill::Ring(ring);
            }
        }
        let _ = driver;
        Refill::Free(Mutex::new((0..memory.count).rev().collect()))
    }
}

impl PoolShared {
    /// The ring's group id, if the kernel picks the buffers.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn group(&self) -> Option<u16> {
        match &self.refill {
            Refill::Ring(ring) => Some(ring.group()),
            Refill::Free(_) => None,
        }
    }

    /// The size of each buffer.
    pub(crate) fn buf_size(&self) -> usize {
        self.memory.size
    }

    /// Whether the pool was made on `driver`.
    pub(crate) fn belongs_to(&self, driver: &Driver) -> bool {
        self.driver
            .upgrade()
            .is_some_and(|own| own.same_driver(driver))
    }

    /// How many buffers ever came back (see [`PoolShared::poll_returned`]).
    pub(crate) fn returns(&self) -> u64 {
        self.returns.load(Ordering::Acquire)
    }

    /// Ready once a buffer came back after the count was `seen`; else
    /// `cx` is woken when one does.
    pub(crate) fn poll_returned(&self, cx: &mut Context<'_>, seen: u64) -> Poll<()> {
        {
            let waiters = self.waiters();
            if self.returns.load(Ordering::Acquire) != seen {
                return Poll::Ready(());
            }
            // `will_wake` compares the wakers' parts: no user code.
            if waiters.iter().any(|known| known.will_wake(cx.waker())) {
                return Poll::Pending;
            }
        }
        // Cloned with no lock held: a waker's clone is user code, which
        // may even give a buffer of this pool back.
        let waker = cx.waker().clone();
        let mut waiters = self.waiters();
        if self.returns.load(Ordering::Acquire) != seen {
            drop(waiters);
            return Poll::Ready(());
        }
        let early = if waiters.len() >= MAX_WAITERS {
            std::mem::take(&mut *waiters)
        } else {
            Vec::new()
        };
        waiters.push(waker);
        drop(waiters);
        let mut guard = PanicGuard::default();
        for waker in early {
            guard.run(|| waker.wake());
        }
        guard.resume();
        Poll::Pending
    }

    /// A free buffer of a pool whose receives take their own, or `cx` is
    /// woken when one comes back.
    // Without io_uring the match has one arm.
    #[allow(clippy::infallible_destructuring_match)]
    pub(crate) fn poll_take_free(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<PooledBuf> {
        let free = match &self.refill {
            Refill::Free(free) => free,
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Refill::Ring(_) => {
                unreachable!("only a pool the kernel does not fill lends buffers to receives")
            }
        };
        loop {
            let seen = self.returns();
            if let Some(id) = free.lock().unwrap_or_else(PoisonError::into_inner).pop() {
                return Poll::Ready(self.hand_out(id, 0));
            }
            std::task::ready!(self.poll_returned(cx, seen));
        }
    }

    /// Buffer `id`, with its first `len` bytes received, as a `PooledBuf`.
    pub(crate) fn hand_out(self: &Arc<Self>, id: u16, len: usize) -> PooledBuf {
        assert!(
            id < self.memory.count,
            "proactor: the kernel named buffer {id} of a pool of {}",
            self.memory.count
        );
        self.in_use.fetch_add(1, Ordering::AcqRel);
        PooledBuf {
            home: Home::Pool {
                shared: self.clone(),
                id,
            },
            len: len.min(self.memory.size),
        }
    }

    /// Gives buffer `id` back to where free buffers wait, and wakes the
    /// receives waiting for one.
    pub(crate) fn give_back(&self, id: u16) {
        if id >= self.memory.count {
            // Only a kernel naming a buffer the pool never had could get
            // here: putting it in the ring would hand the kernel an
            // address past the pool's memory.
            return;
        }
        match &self.refill {
            Refill::Free(free) => free.lock().unwrap_or_else(PoisonError::into_inner).push(id),
            #[cfg(all(target_os = "linux", feature = "uring"))]
            Refill::Ring(ring) => {
                let size = self.memory.size as u32;
                ring.give_back(id, self.memory.buffer(id), size)
            }
        }
        self.returns.fetch_add(1, Ordering::AcqRel);
        let waiting = std::mem::take(&mut *self.waiters());
        // Wakers are user code: one that panics must not leave the others
        // waiting for a return that already happened.
        let mut guard = PanicGuard::default();
        for waker in waiting {
            guard.run(|| waker.wake());
        }
        guard.resume();
    }

    fn waiters(&self) -> MutexGuard<'_, Vec<Waker>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One chunk a [`RecvStream`](crate::net::RecvStream) received: a buffer of
/// its [`BufPool`], which goes back to the pool when this is dropped.
/// Derefs to the bytes received; also an [`IoBuf`], so it can be written
/// out as it is (an echo), and an [`IoBufMut`] to read into again.
///
/// Bytes a stream had already read ahead (through `AsyncRead`) before its
/// `recv_stream` began come in a buffer of their own, not the pool's.
///
/// Forgetting one (`mem::forget`) is safe: its buffer is lost to the pool,
/// which works on with one fewer.
///
/// ```
/// use futures::StreamExt;
/// use proactor::buf::BufPool;
/// use proactor::net::{TcpListener, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// proactor::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     let pool = BufPool::new(4, 1024)?;
///     client.write_all(b"echo").await.0?;
///     let chunk = server.recv_stream(&pool).next().await.expect("a chunk")?;
///     assert_eq!(&chunk[..], b"echo");
///     assert_eq!(pool.in_use(), 1);
///     let (sent, chunk) = server.write_all(chunk).await; // written as it is
///     sent?;
///     drop(chunk);
///     assert_eq!(pool.in_use(), 0);
///     Ok(())
/// })
/// # }
/// ```
pub struct PooledBuf {
    home: Home,
    len: usize,
}

enum Home {
    Pool { shared: Arc<PoolShared>, id: u16 },
    Own(Box<[u8]>),
}

impl PooledBuf {
    /// Bytes of no pool (read ahead before the stream began).
    pub(crate) fn detached(bytes: Vec<u8>) -> PooledBuf {
        let len = bytes.len();
        PooledBuf {
            home: Home::Own(bytes.into_boxed_slice()),
            len,
        }
    }

    /// The bytes received.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte was received into it.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most the buffer holds.
    pub fn capacity(&self) -> usize {
        match &self.home {
            Home::Pool { shared, .. } => shared.memory.size,
            Home::Own(bytes) => bytes.len(),
        }
    }

    /// Shortens the bytes to `len`; a longer `len` does nothing.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    fn base(&self) -> *const u8 {
        match &self.home {
            Home::Pool { shared, id } => shared.memory.buffer(*id),
            Home::Own(bytes) => bytes.as_ptr(),
        }
    }

    fn base_mut(&mut self) -> *mut u8 {
        match &mut self.home {
            Home::Pool { shared, id } => shared.memory.buffer(*id),
            Home::Own(bytes) => bytes.as_mut_ptr(),
        }
    }
}

impl Deref for PooledBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the buffer is this value's alone (a pool buffer is handed
        // out once until it comes back, which only dropping this does), its
        // memory is zeroed at allocation so every byte is initialised, and
        // `len <= capacity`.
        unsafe { std::slice::from_raw_parts(self.base(), self.len) }
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        // SAFETY: as for `deref`; `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.base_mut(), len) }
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Home::Pool { shared, id } = &self.home {
            shared.in_use.fetch_sub(1, Ordering::AcqRel);
            shared.give_back(*id);
        }
    }
}

// SAFETY: the pointer is into memory the value keeps alive (the pool's,
// through its `Arc`, or its own box) and does not move when the value
// does; `len` bytes are initialised (all `capacity` are), `capacity`
// allocated.
unsafe impl IoBuf for PooledBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.base()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for IoBuf; the whole capacity is writable memory of this
// value's alone.
unsafe impl IoBufMut for PooledBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.base_mut()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.len = self.len.max(pos.min(self.capacity()));
    }
}
