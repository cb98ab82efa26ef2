//! System calls that may raise SIGPIPE (`splice(2)` and `tee(2)` into a
//! pipe with no reader or onto a reset socket; they take no
//! `MSG_NOSIGNAL`), made so that the signal never reaches the process:
//! the caller gets `EPIPE` alone, as proactor's sends promise.

use std::io;
use std::mem::MaybeUninit;

/// Runs `call` with SIGPIPE blocked on this thread; if it failed with
/// `EPIPE`, takes back the SIGPIPE it raised (unless one was already
/// pending, which is left for its owner), then restores the mask. The
/// default action of SIGPIPE kills the process, and a library cannot count
/// on its host ignoring it.
pub(crate) fn without_sigpipe<T>(call: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let only_sigpipe = sigpipe_set();
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: both sets are valid for the call; `old` is written by it.
    let blocked =
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &only_sigpipe, old.as_mut_ptr()) };
    if blocked != 0 {
        return call();
    }
    // SAFETY: pthread_sigmask succeeded, so it wrote `old`.
    let old = unsafe { old.assume_init() };
    // Only where this thread already blocked SIGPIPE can one be pending
    // for it from before the call (else it would have been delivered).
    // SAFETY: `old` is an initialised set.
    let was_pending = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1 && is_pending();
    let result = call();
    if !was_pending && matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            // SAFETY: the set and timespec are valid for the call; no
            // siginfo is asked for.
            let taken = unsafe { libc::sigtimedwait(&only_sigpipe, std::ptr::null_mut(), &zero) };
            if taken >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
    // SAFETY: `old` is the mask this thread had; nothing else is written.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    result
}

/// A signal set holding SIGPIPE alone.
fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset then adds a valid
    // signal number to it.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

/// Whether a SIGPIPE is pending for this thread or the process.
fn is_pending() -> bool {
    let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending writes the set, valid for the call.
    if unsafe { libc::sigpending(pending.as_mut_ptr()) } != 0 {
        // Unknown: assume one is, so none is taken that is not ours.
        return true;
    }
    // SAFETY: sigpending succeeded, so it wrote the set.
    unsafe { libc::sigismember(pending.as_ptr(), libc::SIGPIPE) == 1 }
}
