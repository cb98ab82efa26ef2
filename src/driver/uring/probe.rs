//! The process-wide io_uring probe, run once and cached.

use std::sync::OnceLock;

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
}

/// Opcodes io_uring must have to be used at all: the driver's own (NOP,
/// ASYNC_CANCEL, READ for wake-ups), timers (a pool thread cannot be woken
/// early), and those of operations that wait for readiness, which the
/// blocking pool cannot run (it would only see EAGAIN). All exist from
/// Linux 5.6, the first kernel with the opcode probe. Every other opcode may
/// be missing: its operations run on the pool.
const REQUIRED: [u8; 11] = [
    opcode::Nop::CODE,
    opcode::AsyncCancel::CODE,
    opcode::Timeout::CODE,
    opcode::Read::CODE,
    opcode::Write::CODE,
    opcode::Recv::CODE,
    opcode::Send::CODE,
    opcode::RecvMsg::CODE,
    opcode::SendMsg::CODE,
    opcode::Accept::CODE,
    opcode::Connect::CODE,
];

/// Uninitialized (empty), Initialized (`Ok`) or Unsupported (`Err`): the
/// `OnceLock` is the atomic state, and races to fill it run the probe once.
static RESULT: OnceLock<Result<Support, FallbackReason>> = OnceLock::new();

/// Entries of the probe ring: what every driver uses at least.
const PROBE_ENTRIES: u32 = 4;

/// Probes io_uring once per process, with the flags every ring uses: ring
/// setup, a NOP round trip, and the opcode probe. Later calls return the
/// cached answer.
pub(crate) fn probe() -> Result<&'static Support, FallbackReason> {
    RESULT.get_or_init(run_probe).as_ref().map_err(Clone::clone)
}

fn failure(stage: &'static str, error: std::io::Error) -> FallbackReason {
    FallbackReason::Unsupported {
        errno: error.raw_os_error().unwrap_or(libc::EINVAL),
        stage,
    }
}

fn run_probe() -> Result<Support, FallbackReason> {
    let mut ring: IoUring = super::ring_builder()
        .build(PROBE_ENTRIES)
        .map_err(|e| failure("io_uring_setup", e))?;

    const NOP_DATA: u64 = 0x0050_524f_4245; // "PROBE"
    let nop = opcode::Nop::new().build().user_data(NOP_DATA);
    // SAFETY: a NOP entry carries no pointers.
    unsafe { ring.submission().push(&nop) }.map_err(|_| FallbackReason::Unsupported {
        errno: libc::EINVAL,
        stage: "the NOP round trip",
    })?;
    ring.submit_and_wait(1).map_err(|e| failure("the NOP round trip", e))?;
    let cqe = ring.completion().next();
    if !cqe.is_some_and(|cqe| cqe.user_data() == NOP_DATA && cqe.result() == 0) {
        return Err(FallbackReason::Unsupported {
            errno: libc::EINVAL,
            stage: "the NOP round trip",
        });
    }

    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
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
