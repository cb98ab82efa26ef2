//! Connections a listener's kernel requests accepted that nobody took, and
//! the accept that takes them first.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use socket2::{SockAddr, SockRef};

use super::socket::Socket;
use crate::op::{Accept, Op};
use crate::os::sys::OwnedSocket;

/// Connections the kernel accepted for a listener that no caller took: a
/// request whose stream was dropped, or an accept whose future was dropped
/// after the kernel had accepted for it. The listener's next accept, or its
/// next stream, takes them before asking the kernel again, so no client the
/// kernel accepted is turned away while the listener lives.
#[derive(Debug, Default)]
pub(crate) struct Accepted(Mutex<Unclaimed>);

#[derive(Debug, Default)]
struct Unclaimed {
    sockets: VecDeque<OwnedSocket>,
    /// Accepts waiting in the kernel, to be woken when a socket comes here.
    waiting: Vec<Waker>,
}

impl Accepted {
    fn unclaimed(&self) -> std::sync::MutexGuard<'_, Unclaimed> {
        // Poisoned only by a panic in a push, a pop or a waker's clone made
        // elsewhere: the queue stays whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The oldest connection kept, with its peer's address (one whose peer
    /// already went is closed and skipped). Without one, `waker` (a clone
    /// the caller made: user code runs outside this lock) is woken when one
    /// comes, unless a waker that wakes the same task is already there.
    pub(crate) fn take(&self, waker: Option<Waker>) -> Option<(OwnedSocket, SockAddr)> {
        loop {
            let mut unclaimed = self.unclaimed();
            let Some(socket) = unclaimed.sockets.pop_front() else {
                if let Some(waker) = waker {
                    if !unclaimed.waiting.iter().any(|w| w.will_wake(&waker)) {
                        unclaimed.waiting.push(waker);
                    }
                }
                return None;
            };
            drop(unclaimed);
            if let Ok(peer) = SockRef::from(&socket).peer_addr() {
                return Some((socket, peer));
            }
        }
    }

    /// Keeps `socket` for the next accept, and wakes the accepts waiting.
    pub(crate) fn keep(&self, socket: OwnedSocket) {
        let waiting = {
            let mut unclaimed = self.unclaimed();
            unclaimed.sockets.push_back(socket);
            std::mem::take(&mut unclaimed.waiting)
        };
        waiting.into_iter().for_each(Waker::wake);
    }

    /// Forgets the waker an accept that is done left.
    pub(crate) fn forget(&self, waker: &Waker) {
        self.unclaimed().waiting.retain(|w| !w.will_wake(waker));
    }
}

/// The next connection of a listener: one kept in its [`Accepted`], else
/// one accept operation, whose connection goes back to the listener if
/// this future is dropped after the kernel accepted it.
pub(crate) struct AcceptNext {
    listener: Socket,
    accepted: Arc<Accepted>,
    accept: Option<Op<Accept<Arc<OwnedSocket>>>>,
    /// The waker left with `accepted`, forgotten when done.
    registered: Option<Waker>,
}

impl AcceptNext {
    pub(crate) fn new(listener: &Socket, accepted: &Arc<Accepted>) -> AcceptNext {
        AcceptNext {
            listener: listener.share(),
            accepted: accepted.clone(),
            accept: None,
            registered: None,
        }
    }

    fn done(&mut self) {
        if let Some(waker) = self.registered.take() {
            self.accepted.forget(&waker);
        }
    }
}

impl Future for AcceptNext {
    type Output = io::Result<(Socket, SockAddr)>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let driver = this.listener.driver().clone();
        // Cloned before the queue's lock: a waker's clone is user code.
        // Left each time: a socket kept meanwhile took the last one.
        this.registered = Some(cx.waker().clone());
        if let Some((socket, peer)) = this.accepted.take(this.registered.clone()) {
            // An accept in flight is cancelled: what it may still take
            // goes back to the queue.
            this.accept = None;
            this.done();
            return Poll::Ready(Ok((Socket::from_owned(socket, driver), peer)));
        }
        let accept = this.accept.get_or_insert_with(|| {
            let accept = Accept::handing_back(this.listener.fd().clone(), this.accepted.clone());
            Op::with_driver(accept, driver.clone())
        });
        let accepted = std::task::ready!(Pin::new(accept).poll(cx));
        this.accept = None;
        this.done();
        Poll::Ready(accepted.map(|(socket, peer)| (Socket::from_owned(socket, driver), peer)))
    }
}

impl Drop for AcceptNext {
    fn drop(&mut self) {
        // The accept first: its connection, if any, goes to the queue.
        self.accept = None;
        self.done();
    }
}
