//! The process-wide io_uring probe: run until it gives a definite answer,
//! which is then cached.

use std::io;
use std::sync::{Mutex, OnceLock, PoisonError};

use io_uring::{opcode, IoUring, Probe};

use crate::driver::FallbackReason;

/// Which opcodes the running kernel supports.
pub(crate) struct Support {
    opcodes: [bool; 256],
}

impl Support {
    pub(crate) fn has(&self, opcode: u8) -> bool {
        #[cfg(proactor_fault)]
        if crate::fault::is_hidden(opcode) {
            return false;
        }
        self.opcodes[usize::from(opcode)]
    }

    /// Whether accept takes `IORING_ACCEPT_MULTISHOT` (Linux 5.19). No probe
    /// lists flags; `IORING_OP_SOCKET` came with the same release, and the
    /// opcode probe lists that (and fault injection can hide it).
    pub(crate) fn has_multishot_accept(&self) -> bool {
        self.has(opcode::Socket::CODE)
    }
}

/// Opcodes io_uring must have to be used at all: the driver's own (NOP,
/// ASYNC_CANCEL, READ for wake-ups), timers and linked timeouts (a pool
/// thread cannot be woken early, nor give an operation a deadline), and
/// those of operations that wait for readiness, which the blocking pool
/// cannot run (it would only see EAGAIN). All exist from Linux 5.6, the
/// first kernel with the opcode probe (LINK_TIMEOUT from 5.5), so requiring
/// them costs no kernel; a ring without one falls back, whole, to the
/// readiness back end. Every other opcode may be missing: its operations
/// run on the pool.
const REQUIRED: [u8; 13] = [
    opcode::Nop::CODE,
    opcode::AsyncCancel::CODE,
    opcode::Timeout::CODE,
    opcode::LinkTimeout::CODE,
    opcode::Read::CODE,
    opcode::Write::CODE,
    opcode::Recv::CODE,
    opcode::Send::CODE,
    opcode::RecvMsg::CODE,
    opcode::SendMsg::CODE,
    opcode::Accept::CODE,
    opcode::Connect::CODE,
    opcode::PollAdd::CODE,
];

/// A probe answer that is cached once it is definite: support, or a failure
/// that means "io_uring is not here". A [`FallbackReason::Transient`]
/// failure (too many open files, a signal, a busy kernel) goes back to the
/// caller that met it, and the next caller probes again.
pub(crate) struct DefiniteAnswer<T> {
    /// Uninitialized (empty), Initialized (`Ok`) or Unsupported (`Err`).
    answer: OnceLock<Result<T, FallbackReason>>,
    /// Held while probing, so threads that race on an empty cache probe one
    /// at a time: once one of them caches an answer the others take it
    /// instead of probing again.
    probing: Mutex<()>,
}

impl<T> DefiniteAnswer<T> {
    pub(crate) const fn new() -> Self {
        DefiniteAnswer {
            answer: OnceLock::new(),
            probing: Mutex::new(()),
        }
    }

    /// The cached answer, else the one `probe` gives now (cached unless it
    /// is transient).
    pub(crate) fn get_or_probe(
        &self,
        probe: impl FnOnce() -> Result<T, FallbackReason>,
    ) -> Result<&T, FallbackReason> {
        if let Some(answer) = self.answer.get() {
            return answer.as_ref().map_err(Clone::clone);
        }
        // Poisoned only if a probe panicked; the guarded state is `answer`,
        // which a panicking probe never touched.
        let _probing = self.probing.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(answer) = self.answer.get() {
            return answer.as_ref().map_err(Clone::clone);
        }
        match probe() {
            Err(reason) if reason.is_transient() => Err(reason),
            definite => self
                .answer
                .get_or_init(|| definite)
                .as_ref()
                .map_err(Clone::clone),
        }
    }
}

static ANSWER: DefiniteAnswer<Support> = DefiniteAnswer::new();

/// Entries of the probe ring: what every driver uses at least.
const PROBE_ENTRIES: u32 = 4;

/// Probes io_uring with the flags every ring uses: ring setup, a NOP round
/// trip, and the opcode probe. A definite answer is probed once per process
/// and cached; a transient failure is returned and probed again next time.
pub(crate) fn probe() -> Result<&'static Support, FallbackReason> {
    ANSWER.get_or_probe(run_probe)
}

/// Runs `call` again while a signal interrupts it: EINTR says nothing about
/// io_uring.
fn retry_interrupted<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

fn failure(stage: &'static str, error: io::Error) -> FallbackReason {
    FallbackReason::from_probe_error(stage, &error)
}

fn run_probe() -> Result<Support, FallbackReason> {
    let mut ring: IoUring = retry_interrupted(|| super::ring_builder().build(PROBE_ENTRIES))
        .map_err(|e| failure("io_uring_setup", e))?;

    const NOP_DATA: u64 = 0x0050_524f_4245; // "PROBE"
    let nop = opcode::Nop::new().build().user_data(NOP_DATA);
    // SAFETY: a NOP entry carries no pointers.
    unsafe { ring.submission().push(&nop) }.map_err(|_| FallbackReason::Unsupported {
        errno: libc::EINVAL,
        stage: "the NOP round trip",
    })?;
    let cqe = loop {
        if let Some(cqe) = ring.completion().next() {
            break cqe;
        }
        // Each turn blocks until a completion is there. A second turn happens
        // only when a signal cut the first wait short after the NOP went in:
        // the kernel then reports the submission instead of EINTR.
        retry_interrupted(|| ring.submit_and_wait(1))
            .map_err(|e| failure("the NOP round trip", e))?;
    };
    if cqe.user_data() != NOP_DATA || cqe.result() != 0 {
        return Err(FallbackReason::Unsupported {
            errno: libc::EINVAL,
            stage: "the NOP round trip",
        });
    }

    let mut probe = Probe::new();
    retry_interrupted(|| ring.submitter().register_probe(&mut probe))
        .map_err(|e| failure("IORING_REGISTER_PROBE", e))?;
    let mut opcodes = [false; 256];
    for (code, supported) in opcodes.iter_mut().enumerate() {
        *supported = probe.is_supported(code as u8);
    }
    if REQUIRED.iter().any(|&code| !opcodes[usize::from(code)]) {
        // A kernel that has the probe (5.6) has all of these; without them
        // readiness-style operations could not fall back to the pool.
        return Err(FallbackReason::Unsupported {
            errno: libc::EINVAL,
            stage: "IORING_REGISTER_PROBE (a required opcode is missing)",
        });
    }
    Ok(Support { opcodes })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    use super::*;

    fn transient() -> FallbackReason {
        FallbackReason::Transient {
            errno: libc::EMFILE,
            stage: "io_uring_setup",
        }
    }

    #[test]
    fn transient_probe_error_is_not_cached() {
        let answer = DefiniteAnswer::<u32>::new();
        let probes = AtomicUsize::new(0);
        let probe = |result: Result<u32, FallbackReason>| {
            let probes = &probes;
            move || {
                probes.fetch_add(1, Ordering::SeqCst);
                result
            }
        };
        assert_eq!(answer.get_or_probe(probe(Err(transient()))), Err(transient()));
        assert_eq!(answer.get_or_probe(probe(Err(transient()))), Err(transient()));
        assert_eq!(probes.load(Ordering::SeqCst), 2, "each transient failure probes again");
        assert_eq!(answer.get_or_probe(probe(Ok(7))), Ok(&7));
        assert_eq!(answer.get_or_probe(probe(Ok(8))), Ok(&7), "success is cached");
        assert_eq!(probes.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn not_here_probe_error_is_cached() {
        let answer = DefiniteAnswer::<u32>::new();
        let not_here = FallbackReason::Unsupported {
            errno: libc::EPERM,
            stage: "io_uring_setup",
        };
        assert_eq!(answer.get_or_probe(|| Err(not_here.clone())), Err(not_here.clone()));
        assert_eq!(
            answer.get_or_probe(|| unreachable!("a definite answer is not probed again")),
            Err(not_here)
        );
    }

    #[test]
    fn racing_callers_probe_once_for_a_definite_answer() {
        const THREADS: usize = 8;
        let answer = DefiniteAnswer::<u32>::new();
        let probes = AtomicUsize::new(0);
        let start = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    start.wait();
                    let got = answer.get_or_probe(|| {
                        probes.fetch_add(1, Ordering::SeqCst);
                        Ok(1)
                    });
                    assert_eq!(got, Ok(&1));
                });
            }
        });
        assert_eq!(probes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn errno_of_a_failed_stage_decides_whether_it_is_cached() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::EAGAIN, libc::EBUSY] {
            let error = io::Error::from_raw_os_error(errno);
            assert!(failure("io_uring_setup", error).is_transient(), "errno {errno}");
        }
        for errno in [libc::ENOSYS, libc::EPERM, libc::EACCES, libc::EINVAL, libc::ENOMEM] {
            let error = io::Error::from_raw_os_error(errno);
            assert!(!failure("io_uring_setup", error).is_transient(), "errno {errno}");
        }
    }

    #[test]
    fn interrupted_probe_calls_are_retried() {
        let mut calls = 0;
        let result = retry_interrupted(|| {
            calls += 1;
            if calls < 3 {
                Err(io::Error::from_raw_os_error(libc::EINTR))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(result.unwrap(), 3);
    }
}
