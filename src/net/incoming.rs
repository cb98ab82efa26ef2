//! A listener's connections as a `Stream`.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;

use super::accepted::{AcceptNext, Accepted};
use super::socket::Socket;
#[cfg(all(target_os = "linux", feature = "uring"))]
use crate::driver::ShotPoll;
use crate::os::sys::OwnedSocket;

/// The connections a listener accepts, as a [`Stream`]: made by
/// [`TcpListener::incoming`](super::TcpListener::incoming) and
/// `UnixListener::incoming` (Unix).
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
/// While nobody polls the stream, the request is stopped once 32
/// connections wait in it untaken, and the rest wait in the listen
/// backlog, as they would for one accept after another. So a stream nobody
/// polls holds a bounded number of accepted connections: 32, or a burst
/// that was already waiting in the backlog when the request ran (the kernel
/// accepts a waiting backlog in one go, up to the room in its completion
/// queue). Dropping the stream cancels its request; connections the kernel
/// accepted for it that it did not take go back to the listener, whose
/// next `accept` or stream takes them first.
pub struct Incoming<S> {
    listener: Socket,
    accepted: Arc<Accepted>,
    /// The waker left with `accepted` while a multishot request waits.
    registered: Option<std::task::Waker>,
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
    OneShot(AcceptNext),
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
    pub(crate) fn new(
        listener: &Socket,
        accepted: &Arc<Accepted>,
        into_stream: fn(Socket) -> S,
    ) -> Self {
        Incoming {
            accepted: accepted.clone(),
            registered: None,
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
            let accepted = self.accepted.clone();
            // What the stream does not take goes back to the listener.
            let hand_back = crate::driver::Discard::new(move |posted| {
                if let Ok(raw) = posted.result {
                    accepted.keep(crate::op::accepted(raw));
                }
            });
            let id = uring
                .submit_stream(Box::new(accept), cx.waker(), hand_back)
                .map_err(|(error, _)| error)?;
            self.state = State::Multishot {
                id,
                answered: false,
            };
            return Ok(());
        }
        let _ = cx;
        self.state = State::OneShot(AcceptNext::new(&self.listener, &self.accepted));
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
                    if let Some((socket, _)) = this.accepted.take(None) {
                        return Poll::Ready(Some(Ok(this.accepted(socket))));
                    }
                    if let Err(error) = this.start(cx) {
                        return Poll::Ready(Some(Err(error)));
                    }
                }
                #[cfg(all(target_os = "linux", feature = "uring"))]
                State::Multishot { id, answered } => {
                    // What an accept or an earlier stream of this listener
                    // handed back comes first, and wakes this one.
                    let waker = cx.waker().clone();
                    this.registered = Some(waker.clone());
                    if let Some((socket, _)) = this.accepted.take(Some(waker)) {
                        return Poll::Ready(Some(Ok(this.accepted(socket))));
                    }
                    let uring = this
                        .listener
                        .driver()
                        .uring()
                        .expect("multishot is io_uring's");
                    let polled = ready!(uring.poll_shot(*id, cx));
                    // Whether this is the request's first result (not its
                    // first poll, which finds nothing yet).
                    let first = !std::mem::replace(answered, true);
                    let shot = match polled {
                        ShotPoll::Next(posted) => Some(posted.result),
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
                    let stream = accepted.map(|(socket, _)| (this.into_stream)(socket));
                    return Poll::Ready(Some(stream));
                }
            }
        }
    }
}

impl<S> Drop for Incoming<S> {
    fn drop(&mut self) {
        if let Some(waker) = self.registered.take() {
            self.accepted.forget(&waker);
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        if let State::Multishot { id, .. } = self.state {
            if let Some(uring) = self.listener.driver().uring() {
                uring.cancel_stream(id);
            }
        }
    }
}
