//! A listener's connections as a `Stream`.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;

use super::socket::Socket;
#[cfg(all(target_os = "linux", feature = "uring"))]
use crate::driver::ShotPoll;
use crate::op::{Accept, Op};
use crate::os::sys::OwnedSocket;

/// The connections a listener accepts, as a [`Stream`]: made by
/// [`TcpListener::incoming`](super::TcpListener::incoming) and
/// [`UnixListener::incoming`](super::UnixListener::incoming).
///
/// On io_uring (Linux 5.19 or newer) one multishot accept request serves
/// every connection: the kernel accepts each as it arrives and queues it
/// here, and the request is made again only when the kernel ends it (after
/// an error such as `EMFILE`, which the stream yields, or when its
/// completion queue overflowed). Elsewhere, and on older kernels, it runs
/// one non-blocking accept after another, each at once while the backlog
/// has connections.
///
/// An error does not end the stream: the next poll accepts again (after
/// `EMFILE`, back off before polling again, as with any accept loop).
/// Dropping the stream cancels its request; connections the kernel
/// accepted for it that nobody took are closed. The listener stays usable.
pub struct Incoming<S> {
    listener: Socket,
    into_stream: fn(Socket) -> S,
    state: State,
    /// Whether to try a multishot request: this driver and kernel offer it,
    /// and it has not been refused.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    multishot: bool,
}

enum State {
    Idle,
    /// A multishot request in flight, or ended with results still queued.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    Multishot {
        id: crate::op::OpId,
        /// Whether a result has come from this request yet.
        answered: bool,
    },
    OneShot(Op<Accept<Arc<OwnedSocket>>>),
}

impl<S> fmt::Debug for Incoming<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle => "idle",
            #[cfg(all(target_os = "linux", feature = "uring"))]
            State::Multishot { .. } => "multishot accept",
            State::OneShot(_) => "accept",
        };
        f.debug_struct("Incoming").field("state", &state).finish()
    }
}

impl<S> Incoming<S> {
    pub(crate) fn new(listener: &Socket, into_stream: fn(Socket) -> S) -> Self {
        Incoming {
            #[cfg(all(target_os = "linux", feature = "uring"))]
            multishot: listener
                .driver()
                .uring()
                .is_some_and(|uring| uring.has_multishot_accept()),
            listener: listener.share(),
            into_stream,
            state: State::Idle,
        }
    }

    fn accepted(&self, socket: OwnedSocket) -> S {
        (self.into_stream)(Socket::from_owned(socket, self.listener.driver().clone()))
    }

    /// Starts the next request: multishot where it is offered.
    fn start(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if self.multishot {
            let uring = self
                .listener
                .driver()
                .uring()
                .expect("multishot is io_uring's");
            let accept = crate::op::MultishotAccept::new(self.listener.fd().clone());
            let id = uring
                .submit_stream(Box::new(accept), cx.waker(), crate::op::discard_accepted)
                .map_err(|(error, _)| error)?;
            self.state = State::Multishot {
                id,
                answered: false,
            };
            return Ok(());
        }
        let _ = cx;
        let accept = Accept::new(self.listener.fd().clone());
        self.state = State::OneShot(Op::with_driver(accept, self.listener.driver().clone()));
        Ok(())
    }
}

impl<S> Stream for Incoming<S> {
    type Item = io::Result<S>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<S>>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle => {
                    if let Err(error) = this.start(cx) {
                        return Poll::Ready(Some(Err(error)));
                    }
                }
                #[cfg(all(target_os = "linux", feature = "uring"))]
                State::Multishot { id, answered } => {
                    let uring = this
                        .listener
                        .driver()
                        .uring()
                        .expect("multishot is io_uring's");
                    let first = !std::mem::replace(answered, true);
                    let shot = match ready!(uring.poll_shot(*id, cx)) {
                        ShotPoll::Next(result) => Some(result),
                        ShotPoll::Ended(_) => None,
                    };
                    match shot {
                        Some(Ok(raw)) => {
                            let socket = crate::op::accepted(raw);
                            return Poll::Ready(Some(Ok(this.accepted(socket))));
                        }
                        // Ended by the kernel, not by anyone who wanted it
                        // ended (the thread that submitted it exited): the
                        // request is made again once the end is taken.
                        Some(Err(error)) if error.raw_os_error() == Some(libc::ECANCELED) => {}
                        Some(Err(error)) if first && error.raw_os_error() == Some(libc::EINVAL) => {
                            // The kernel knows no multishot accept after all:
                            // one accept after another from now on.
                            this.multishot = false;
                        }
                        Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                        None => this.state = State::Idle,
                    }
                }
                State::OneShot(accept) => {
                    let accepted = ready!(Pin::new(accept).poll(cx));
                    this.state = State::Idle;
                    let stream = accepted.map(|(socket, _)| this.accepted(socket));
                    return Poll::Ready(Some(stream));
                }
            }
        }
    }
}

impl<S> Drop for Incoming<S> {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let State::Multishot { id, .. } = self.state {
            if let Some(uring) = self.listener.driver().uring() {
                uring.cancel_stream(id);
            }
        }
    }
}
