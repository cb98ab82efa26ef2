//! The run-time choice of back end.

use std::error::Error;
use std::fmt;
use std::io;

use super::{Backend, Builder, Driver, Inner};

/// Environment variable that overrides the automatic choice: `uring` or
/// `poll`.
pub(crate) const BACKEND_ENV: &str = "PROACTOR_BACKEND";

/// Why a driver is not on io_uring.
///
/// ```
/// use proactor::{Backend, Driver, FallbackReason};
///
/// # fn main() -> std::io::Result<()> {
/// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
/// let driver = Driver::builder().force(Backend::Poll).build()?;
/// let reason = driver.fallback_reason().expect("not on io_uring");
/// assert!(matches!(reason, FallbackReason::Requested(_)));
/// println!("poll back end because: {reason}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FallbackReason {
    /// The io_uring probe failed with an errno that means "not here".
    Unsupported {
        /// The `errno` the kernel returned.
        errno: i32,
        /// What was being done: `io_uring_setup`, the NOP round trip,
        /// `IORING_REGISTER_PROBE`, or the io_uring driver's own setup.
        stage: &'static str,
    },
    /// io_uring could not be probed or set up *now*, for a reason that says
    /// nothing about whether it is there: too many open files (EMFILE,
    /// ENFILE), a busy kernel (EAGAIN), or any errno other than the "not
    /// here" ones of [`Unsupported`](FallbackReason::Unsupported). This
    /// driver uses the readiness back end; nothing is cached, so the next
    /// driver tries io_uring again.
    Transient {
        /// The `errno` the kernel returned.
        errno: i32,
        /// What was being done: `io_uring_setup`, the NOP round trip,
        /// `IORING_REGISTER_PROBE`, or the io_uring driver's own setup.
        stage: &'static str,
    },
    /// The readiness back end was asked for (by `PROACTOR_BACKEND=poll` or
    /// [`Builder::force`]).
    Requested(&'static str),
    /// This build has no io_uring back end (not Linux, or no `uring`
    /// feature).
    NotBuilt,
}

impl FallbackReason {
    /// The errno behind the fallback, if the kernel gave one.
    ///
    /// ```
    /// use proactor::{Backend, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let driver = Driver::builder().force(Backend::Poll).build()?;
    /// assert_eq!(driver.fallback_reason().unwrap().errno(), None); // asked for
    /// if let Some(errno) = Driver::new()?.fallback_reason().and_then(|r| r.errno()) {
    ///     println!("io_uring refused: {}", std::io::Error::from_raw_os_error(errno));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn errno(&self) -> Option<i32> {
        match self {
            FallbackReason::Unsupported { errno, .. } | FallbackReason::Transient { errno, .. } => {
                Some(*errno)
            }
            _ => None,
        }
    }

    /// Whether the fallback is for a passing reason (see
    /// [`Transient`](FallbackReason::Transient)): a driver built later may
    /// get io_uring.
    ///
    /// ```
    /// use proactor::{Backend, Driver};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # if !cfg!(feature = "poll") { return Ok(()); } // a build with no readiness back end
    /// let driver = Driver::builder().force(Backend::Poll).build()?;
    /// assert!(!driver.fallback_reason().unwrap().is_transient());
    /// # Ok(()) }
    /// ```
    pub fn is_transient(&self) -> bool {
        matches!(self, FallbackReason::Transient { .. })
    }

    /// Whether a probe failing with `errno` means "use the readiness back
    /// end" rather than a real error.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn is_fallback_errno(errno: i32) -> bool {
        matches!(
            errno,
            libc::ENOSYS | libc::EPERM | libc::EACCES | libc::EINVAL | libc::ENOMEM
        )
    }

    /// The reason for an io_uring setup that failed with `error` at `stage`:
    /// [`Unsupported`](FallbackReason::Unsupported) if its errno means "not
    /// here", else [`Transient`](FallbackReason::Transient). An error
    /// without an errno cannot be told apart from a broken kernel interface,
    /// so it counts as EINVAL.
    #[cfg(all(target_os = "linux", feature = "uring"))]
    pub(crate) fn from_probe_error(stage: &'static str, error: &io::Error) -> FallbackReason {
        let errno = error.raw_os_error().unwrap_or(libc::EINVAL);
        if Self::is_fallback_errno(errno) {
            FallbackReason::Unsupported { errno, stage }
        } else {
            FallbackReason::Transient { errno, stage }
        }
    }

    /// The error to return when io_uring was demanded but is unavailable.
    pub(crate) fn into_error(self) -> io::Error {
        let kind = match self.errno() {
            Some(errno) => io::Error::from_raw_os_error(errno).kind(),
            None => io::ErrorKind::Unsupported,
        };
        io::Error::new(kind, self)
    }
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::ENOSYS => "ENOSYS",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::EINVAL => "EINVAL",
        libc::ENOMEM => "ENOMEM",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::EAGAIN => "EAGAIN",
        libc::EINTR => "EINTR",
        _ => "errno",
    }
}

fn errno_meaning(errno: i32) -> &'static str {
    match errno {
        libc::ENOSYS => {
            "this kernel has no io_uring (older than 5.1, or built without CONFIG_IO_URING)"
        }
        libc::EPERM => {
            "io_uring is blocked: a seccomp filter (such as Docker's default profile) \
             or kernel.io_uring_disabled"
        }
        libc::EACCES => "io_uring is denied by a security module or kernel.io_uring_disabled",
        libc::EINVAL => "this kernel is too old for the ring parameters or the opcode probe",
        libc::ENOMEM => {
            "the locked-memory limit (RLIMIT_MEMLOCK) is too low for a ring on this kernel"
        }
        libc::EMFILE => "too many open files in this process (RLIMIT_NOFILE)",
        libc::ENFILE => "too many open files in the system (fs.file-max)",
        libc::EAGAIN => "resources are temporarily unavailable",
        libc::EINTR => "interrupted by a signal",
        _ => "unexpected error",
    }
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FallbackReason::Unsupported { errno, stage } => write!(
                f,
                "{stage} failed with {} (os error {errno}): {}",
                errno_name(*errno),
                errno_meaning(*errno)
            ),
            FallbackReason::Transient { errno, stage } => write!(
                f,
                "{stage} failed with {} (os error {errno}): {}; io_uring could not be \
                 set up now, and it will be tried again for the next driver",
                errno_name(*errno),
                errno_meaning(*errno)
            ),
            FallbackReason::Requested(by) => {
                write!(f, "the readiness back end was requested by {by}")
            }
            FallbackReason::NotBuilt => f.write_str(
                "this build has no io_uring back end (enable the `uring` feature, on Linux)",
            ),
        }
    }
}

impl Error for FallbackReason {}

/// The back end named by `PROACTOR_BACKEND`, if set.
pub(crate) fn backend_from_env() -> io::Result<Option<Backend>> {
    match std::env::var_os(BACKEND_ENV) {
        None => Ok(None),
        Some(value) => parse_backend(&value.to_string_lossy()).map(Some),
    }
}

fn parse_backend(value: &str) -> io::Result<Backend> {
    value.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{BACKEND_ENV}={:?} is not a back end: use `uring` or `poll`",
                value.trim()
            ),
        )
    })
}

/// A back end's name, as `PROACTOR_BACKEND` takes it: `uring`, `io_uring`
/// or `io-uring`, and `poll` (surrounding spaces ignored).
impl std::str::FromStr for Backend {
    type Err = io::Error;

    fn from_str(name: &str) -> io::Result<Backend> {
        match name.trim() {
            "uring" | "io_uring" | "io-uring" => Ok(Backend::IoUring),
            "poll" => Ok(Backend::Poll),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{other:?} is not a back end: use `uring` or `poll`"),
            )),
        }
    }
}

pub(crate) fn build(builder: &Builder) -> io::Result<Driver> {
    let (wanted, by) = match builder.force {
        Some(backend) => (Some(backend), "Builder::force"),
        None => (backend_from_env()?, "PROACTOR_BACKEND"),
    };
    match wanted {
        Some(Backend::IoUring) => build_uring(builder),
        Some(Backend::Poll) => build_poll(builder, FallbackReason::Requested(by)),
        None => build_auto(builder),
    }
}

#[cfg(all(target_os = "linux", feature = "uring"))]
fn build_uring(builder: &Builder) -> io::Result<Driver> {
    super::uring::probe::probe().map_err(|reason| reason.into_error())?;
    let driver = super::UringDriver::new(builder)?;
    Ok(Driver::from_inner(Inner::Uring(driver), None))
}

#[cfg(not(all(target_os = "linux", feature = "uring")))]
fn build_uring(_builder: &Builder) -> io::Result<Driver> {
    Err(FallbackReason::NotBuilt.into_error())
}

#[cfg(feature = "poll")]
fn build_poll(builder: &Builder, reason: FallbackReason) -> io::Result<Driver> {
    let driver = super::PollDriver::new(builder)?;
    Ok(Driver::from_inner(Inner::Poll(driver), Some(reason)))
}

#[cfg(not(feature = "poll"))]
fn build_poll(_builder: &Builder, reason: FallbackReason) -> io::Result<Driver> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("the readiness back end is needed ({reason}) but this build has no `poll` feature"),
    ))
}

#[cfg(all(target_os = "linux", feature = "uring"))]
fn build_auto(builder: &Builder) -> io::Result<Driver> {
    let uring_error = match super::uring::probe::probe() {
        Ok(_) => match super::UringDriver::new(builder) {
            Ok(driver) => return Ok(Driver::from_inner(Inner::Uring(driver), None)),
            Err(e) => e,
        },
        Err(reason) => return fall_back(builder, reason),
    };
    // The probe passed but this driver's ring (its size, or the fds it
    // needs) did not.
    let reason = match uring_error.raw_os_error() {
        Some(_) => FallbackReason::from_probe_error("setting up the io_uring driver", &uring_error),
        // Not a kernel answer about io_uring: nothing to fall back for.
        None => return Err(uring_error),
    };
    fall_back(builder, reason)
}

/// The readiness back end, because io_uring failed for `reason`. A transient
/// failure is not cached by anyone: if no readiness back end can be built
/// either, the error is returned and the next driver starts over.
#[cfg(all(target_os = "linux", feature = "uring"))]
fn fall_back(builder: &Builder, reason: FallbackReason) -> io::Result<Driver> {
    if reason.is_transient() && cfg!(not(feature = "poll")) {
        // "No readiness back end in this build" would hide the real,
        // passing cause.
        return Err(reason.into_error());
    }
    build_poll(builder, reason)
}

#[cfg(not(all(target_os = "linux", feature = "uring")))]
fn build_auto(builder: &Builder) -> io::Result<Driver> {
    build_poll(builder, FallbackReason::NotBuilt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_parse() {
        assert_eq!(parse_backend("uring").unwrap(), Backend::IoUring);
        assert_eq!(parse_backend(" poll ").unwrap(), Backend::Poll);
        let err = parse_backend("epoll").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("PROACTOR_BACKEND"), "{err}");
    }

    // A Linux errno read as the OS's own error code: io_uring's fallback
    // reasons only arise on Linux (on Windows 1 is another error).
    #[cfg(unix)]
    #[test]
    fn fallback_reason_names_errno_and_meaning() {
        let reason = FallbackReason::Unsupported {
            errno: libc::EPERM,
            stage: "io_uring_setup",
        };
        let text = reason.to_string();
        assert!(text.contains("EPERM") && text.contains("seccomp"), "{text}");
        let err = reason.into_error();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn transient_fallback_reason_names_errno_and_says_it_will_retry() {
        let reason = FallbackReason::Transient {
            errno: libc::EMFILE,
            stage: "io_uring_setup",
        };
        assert!(reason.is_transient());
        assert_eq!(reason.errno(), Some(libc::EMFILE));
        let text = reason.to_string();
        assert!(
            text.contains("EMFILE") && text.contains("too many open files"),
            "{text}"
        );
        assert!(text.contains("tried again"), "{text}");
        for errno in [libc::ENFILE, libc::EAGAIN, libc::EINTR] {
            let name = errno_name(errno);
            assert_ne!(name, "errno", "errno {errno} has a name");
            assert_ne!(
                errno_meaning(errno),
                "unexpected error",
                "{name} has a meaning"
            );
        }
    }
}
