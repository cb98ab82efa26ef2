//! Waiting for readiness of an fd proactor does not do the I/O on.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use super::AsRawSource;
use crate::op::{Interest, Op, Ready};
use crate::Driver;

/// An fd (on Windows: a socket) whose I/O someone else does, awaited for
/// readiness through a proactor driver: a `signalfd`, an `inotify` or
/// `eventfd` instance, a pipe, or a socket a third-party library reads and
/// writes itself, awaited through the driver, so no second event loop is
/// needed.
///
/// On io_uring (Linux 5.13 and newer) the first wait for a direction arms
/// one multishot `IORING_OP_POLL_ADD` that stays armed until the `AsyncFd`
/// is dropped: waiting again costs no submission, and
/// [`Driver::in_flight`] counts one operation per direction waited for.
/// The kernel posts the fd's events each time it wakes (new data, room to
/// write); a wait takes the events that came since the last (merged into
/// one while nobody waits), and a readiness it handed out holds until an
/// I/O call in [`read_with`](Self::read_with) or
/// [`write_with`](Self::write_with) says `WouldBlock`: until then, a wait
/// that finds no new event asks `poll(2)` whether the fd is still ready.
/// So a caller that reads until `WouldBlock` never waits for data that is
/// already there (data that came meanwhile was posted anew), and one that
/// reads only part of it is told it is still readable. At worst a wait is
/// answered by an event whose data an earlier read already took: the next
/// read says `WouldBlock`, and the wait after that waits. Elsewhere (the
/// readiness back end, older kernels) each wait is one [`Ready`]
/// operation, with the same results.
///
/// Dropping the `AsyncFd` cancels its polls; the fd is closed once the
/// kernel has let go of it (the polls share it until their last
/// completion).
///
/// Readiness is a hint: another reader may take the data first, and the
/// readiness back end on Windows may report a socket ready when it is not.
/// Do the I/O with a non-blocking call and wait again on `WouldBlock`;
/// [`read_with`](Self::read_with) and [`write_with`](Self::write_with) run
/// that loop. The fd should be in non-blocking mode (this type does not
/// change its mode), or those calls block the thread.
///
/// ```
/// # #[cfg(unix)] {
/// use proactor::os::AsyncFd;
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
///
/// # fn main() -> std::io::Result<()> {
/// let (a, b) = UnixStream::pair()?;
/// b.set_nonblocking(true)?;
/// proactor::block_on(async {
///     let b = AsyncFd::new(b)?;
///     let writer = std::thread::spawn(move || (&a).write_all(b"late"));
///     let mut buf = [0; 8];
///     let n = b.read_with(|mut socket| socket.read(&mut buf)).await?;
///     assert_eq!(&buf[..n], b"late");
///     writer.join().unwrap()
/// })
/// # }
/// # main().unwrap() }
/// ```
pub struct AsyncFd<T> {
    /// Shared with the waits in flight, so the fd stays open while the
    /// driver may still watch it, even for a wait whose future is gone.
    inner: Arc<T>,
    driver: Driver,
    read: Direction,
    write: Direction,
}

/// How one direction is waited for.
struct Direction {
    /// The wait [`AsyncFd::poll_read_ready`] or
    /// [`AsyncFd::poll_write_ready`] keeps between polls (one-shot waits).
    kept: Mutex<Option<Wait>>,
    /// The multishot poll, where the driver is io_uring's and its kernel
    /// has it (Linux 5.13).
    #[cfg(all(target_os = "linux", feature = "uring"))]
    armed: Option<super::armed_poll::ArmedPoll>,
}

impl Direction {
    fn new(driver: &Driver, interest: Interest) -> Self {
        let _ = (driver, interest);
        Direction {
            kept: Mutex::new(None),
            #[cfg(all(target_os = "linux", feature = "uring"))]
            armed: driver
                .uring()
                .is_some_and(|uring| uring.has_multishot_poll())
                .then(|| super::armed_poll::ArmedPoll::new(interest)),
        }
    }
}

/// A wait kept between polls: a [`Ready`] operation, boxed so the type
/// needs no bounds.
type Wait = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

impl<T> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("backend", &self.driver.backend())
            .finish_non_exhaustive()
    }
}

impl<T> AsyncFd<T>
where
    T: Send + Sync + 'static,
    Arc<T>: AsRawSource,
{
    /// Waits for `inner` on the current driver ([`Driver::try_current`]).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use proactor::os::AsyncFd;
    /// use std::sync::Arc;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// // Shared: the caller keeps a handle of its own to the socket.
    /// let a = Arc::new(a);
    /// let waiting = proactor::block_on(async { AsyncFd::new(a.clone()) })?;
    /// assert_eq!(waiting.get_ref().local_addr()?.is_unnamed(), true);
    /// # Ok(()) }
    /// # main().unwrap() }
    /// ```
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        Ok(AsyncFd::with_driver(inner, Driver::try_current()?))
    }

    /// Waits for `inner` on `driver`.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use proactor::os::AsyncFd;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let driver = proactor::Driver::new()?;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = AsyncFd::with_driver(a, driver.clone());
    /// driver.block_on(a.writable())?;
    /// # Ok(()) }
    /// # main().unwrap() }
    /// ```
    pub fn with_driver(inner: T, driver: Driver) -> AsyncFd<T> {
        AsyncFd {
            inner: Arc::new(inner),
            read: Direction::new(&driver, Interest::Readable),
            write: Direction::new(&driver, Interest::Writable),
            driver,
        }
    }

    /// The fd's owner, to do I/O with.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The driver the waits run on.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// Completes once the fd is ready for `interest` (or in an error or
    /// hang-up state): at once if it already is.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use proactor::op::Interest;
    /// use proactor::os::AsyncFd;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// proactor::block_on(async {
    ///     let b = AsyncFd::new(b)?;
    ///     drop(a); // a hang-up: readable, and a read says end of stream
    ///     b.ready(Interest::Readable).await
    /// })
    /// # }
    /// # main().unwrap() }
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<()> {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if self.direction(interest).armed.is_some() {
            let armed = std::future::poll_fn(|cx| self.poll_armed(interest, cx)).await;
            if let Some(ready) = armed {
                return ready;
            }
        }
        Op::with_driver(
            Ready::new(self.inner.clone(), interest),
            self.driver.clone(),
        )
        .await
    }

    fn direction(&self, interest: Interest) -> &Direction {
        match interest {
            Interest::Readable => &self.read,
            Interest::Writable => &self.write,
        }
    }

    /// A wait on the multishot poll: `Ready(None)` if there is none (not
    /// offered, or refused by the kernel): wait one-shot.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn poll_armed(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<Option<io::Result<()>>> {
        match (&self.direction(interest).armed, self.driver.uring()) {
            (Some(armed), Some(uring)) => armed.poll_ready(uring, &self.inner, cx),
            _ => Poll::Ready(None),
        }
    }

    /// [`ready`](Self::ready) for reading.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::Readable).await
    }

    /// [`ready`](Self::ready) for writing.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::Writable).await
    }

    /// Runs `io` until it does not say `WouldBlock`, waiting for
    /// readability before each new attempt.
    pub async fn read_with<R>(&self, io: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io_with(Interest::Readable, io).await
    }

    /// Runs `io` until it does not say `WouldBlock`, waiting for
    /// writability before each new attempt.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use proactor::os::AsyncFd;
    /// use std::io::Write;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// proactor::block_on(async {
    ///     let a = AsyncFd::new(a)?;
    ///     let n = a.write_with(|mut socket| socket.write(b"hello")).await?;
    ///     assert_eq!(n, 5);
    ///     Ok(())
    /// })
    /// # }
    /// # main().unwrap() }
    /// ```
    pub async fn write_with<R>(&self, io: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.io_with(Interest::Writable, io).await
    }

    /// Polls for readability, for code written with poll functions (an
    /// `AsyncRead` over a foreign fd): `Ready` once the fd is readable (or
    /// in an error or hang-up state), else `Pending`, and `cx`'s task is
    /// woken when that changes. The wait is kept between polls. The task
    /// that polled last is woken; with a multishot poll (io_uring, Linux
    /// 5.13) so is every other task that polled since the last event, which
    /// then polls again and finds what there is.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use proactor::os::AsyncFd;
    /// use std::io::Write;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// proactor::block_on(async {
    ///     let b = AsyncFd::new(b)?;
    ///     (&a).write_all(b"x")?;
    ///     std::future::poll_fn(|cx| b.poll_read_ready(cx)).await
    /// })
    /// # }
    /// # main().unwrap() }
    /// ```
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Interest::Readable, cx)
    }

    /// [`poll_read_ready`](Self::poll_read_ready) for writability.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Interest::Writable, cx)
    }

    fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let Some(ready) = std::task::ready!(self.poll_armed(interest, cx)) {
            return Poll::Ready(ready);
        }
        let kept = &self.direction(interest).kept;
        // Taken out to be polled with no lock held: polling may run user
        // code (a waker's clone). A poll from elsewhere meanwhile starts a
        // wait of its own.
        let taken = kept.lock().unwrap_or_else(PoisonError::into_inner).take();
        let mut wait = taken.unwrap_or_else(|| {
            let ready = Ready::new(self.inner.clone(), interest);
            Box::pin(Op::with_driver(ready, self.driver.clone()))
        });
        match wait.as_mut().poll(cx) {
            Poll::Ready(ready) => Poll::Ready(ready),
            Poll::Pending => {
                // Kept for the next poll; one another poll kept meanwhile
                // is dropped (cancelled) outside the lock.
                let displaced = kept
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .replace(wait);
                drop(displaced);
                Poll::Pending
            }
        }
    }

    async fn io_with<R>(
        &self,
        interest: Interest,
        mut io: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            let armed = self.direction(interest).armed.as_ref();
            #[cfg(all(target_os = "linux", feature = "uring"))]
            let handed_out = armed.map(|armed| armed.handed_out());
            match io(&self.inner) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    // What the waits said before this call is disproven.
                    #[cfg(all(target_os = "linux", feature = "uring"))]
                    if let (Some(armed), Some(handed_out)) = (armed, handed_out) {
                        armed.would_block(handed_out);
                    }
                    self.ready(interest).await?
                }
                result => return result,
            }
        }
    }
}

impl<T> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let Some(uring) = self.driver.uring() {
            for direction in [&self.read, &self.write] {
                if let Some(armed) = &direction.armed {
                    armed.disarm(uring);
                }
            }
        }
    }
}
