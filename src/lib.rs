//! # proactor
//!
//! Completion-based I/O that runs everywhere: io_uring on Linux where the
//! kernel allows it, and a readiness emulation (epoll on Linux; kqueue, event
//! ports and IOCP through the `polling` crate elsewhere; plus a bounded
//! blocking pool for regular files) everywhere else. One API, one set of futures, and no tie to an
//! async runtime: the futures work under proactor's own [`block_on`], tokio,
//! smol or `futures::executor`.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let driver = proactor::Driver::new()?;
//! println!("back end: {}", driver.backend());
//! let path = std::env::temp_dir().join(format!("proactor-lib-doc-{}", std::process::id()));
//! driver.block_on(async {
//!     let file = proactor::fs::OpenOptions::new()
//!         .read(true)
//!         .write(true)
//!         .create(true)
//!         .open(&path)
//!         .await?;
//!     let (result, _buf) = file.write_all_at(b"completion-based".to_vec(), 0).await;
//!     result?;
//!     let (result, buf) = file.read_at(Vec::with_capacity(10), 0).await;
//!     assert_eq!(&buf[..result?], b"completion");
//!     file.close().await
//! })?;
//! # std::fs::remove_file(&path)?;
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `poll` | yes | the readiness back end: epoll, kqueue, event ports, IOCP |
//! | `uring` | no | the io_uring back end (Linux; compiles to nothing elsewhere) |
//! | `bytes` | no | [`IoBuf`](buf::IoBuf) / [`IoBufMut`](buf::IoBufMut) for `bytes::Bytes` and `BytesMut` |
//! | `tokio` | no | `tokio::io`'s `AsyncRead`, `AsyncBufRead`, `AsyncWrite` (and `AsyncSeek` for [`File`](fs::File)) on the streams, their halves and files; inside a tokio runtime, operations run on a driver the runtime's own reactor dispatches |
//! | `async-io` | no | for smol and async-std: the process-wide driver is dispatched by async-io's reactor, on its threads, instead of by a `proactor-driver` thread |
//!
//! With both back ends the choice is made at run time; with one, that one.
//!
//! ## Who drives the driver
//!
//! A future's operation goes to [`Driver::current`]:
//!
//! 1. the driver of the thread's [`Driver::block_on`] (or
//!    [`Driver::enter`]): that thread parks on it between polls, and what it
//!    submits goes to the kernel in one system call per park. The cheapest.
//! 2. else, with the `tokio` feature and inside a tokio runtime, that
//!    runtime's driver: a task on the runtime waits on the driver's
//!    notification fd through tokio's own reactor and dispatches it, so
//!    completions are taken and futures woken on the runtime's threads with
//!    no thread of proactor's; on io_uring what a scheduler tick submits
//!    goes to the kernel together.
//! 3. else the process-wide driver. With the `async-io` feature, async-io's
//!    reactor (the one smol and async-std run on) waits on its
//!    notification fd and dispatches it: completions are taken and futures
//!    woken on the `async-io` thread or on a thread in `async_io::block_on`
//!    (`smol::block_on`) that waits on the reactor, with no thread of
//!    proactor's. Submissions are not batched as under tokio (nor per park
//!    in [`block_on`] on that driver), and a dispatch runs while that
//!    thread holds the reactor's lock.
//! 4. without that feature, the process-wide driver has a thread of its own
//!    (`proactor-driver`) parked on it: any executor works
//!    (`futures::executor`, smol, ...), at the cost of a hop between
//!    threads for every completion.
//!
//! A tokio runtime comes before async-io: inside one, its own driver is
//! used even with both features.
//!
//! Any other event loop can drive a driver the way the tokio integration
//! does, through `Driver::notification_fd` (on systems where the driver
//! waits on an fd) and [`Driver::dispatch`].
//!
//! Threads that each run their own work (a thread per core) do best with a
//! driver each: [`PerThreadDriver`] gives every thread that uses it one of
//! its own, and states what happens to futures that move between threads
//! and to operations in flight when a thread exits.
//!
//! ## Poll-based I/O traits
//!
//! [`TcpStream`](net::TcpStream), `net::UnixStream` (Unix),
//! their halves ([`into_split`](net::TcpStream::into_split),
//! [`split`](net::TcpStream::split)) and [`File`](fs::File) (at its
//! cursor) implement `futures::io`'s `AsyncRead`, `AsyncBufRead` and
//! `AsyncWrite`, and with the `tokio` feature `tokio::io`'s, so they plug
//! into `futures::io::copy`, `tokio::io::copy_bidirectional`, codecs and
//! hyper (through `hyper_util::rt::TokioIo::new(stream)` alone). They copy
//! through one buffer per direction, allocated on first use and sized to
//! the traffic; the owned-buffer methods (`read`, `write_all`, `read_at`,
//! ...) copy nothing. Both kinds can be mixed on one object.
//!
//! ## Choosing the back end
//!
//! 1. [`Builder::force`] gives exactly that back end, or the error that
//!    prevents it.
//! 2. Else `PROACTOR_BACKEND=uring|poll` does the same; another value is an
//!    error, never a silent default.
//! 3. Else io_uring is probed (ring setup, a NOP round trip,
//!    `IORING_REGISTER_PROBE`). ENOSYS, EPERM, EACCES, EINVAL and ENOMEM mean
//!    "not here": the answer is kept for the process, the readiness back end
//!    is used and [`Driver::fallback_reason`] says why. Any other errno
//!    (EMFILE, EAGAIN, ...) is transient: this driver uses the readiness back
//!    end and the next driver probes again. If no back end can be built,
//!    the error is returned.
//! 4. An opcode the running kernel lacks runs on the blocking pool.

#![cfg_attr(docsrs, feature(doc_cfg))]

cfg_if::cfg_if! {
    if #[cfg(any(feature = "poll", all(target_os = "linux", feature = "uring")))] {
        #[macro_use]
        mod macros;
        mod sync;

        pub mod buf;
        mod buffered;
        #[cfg(proactor_fault)]
        pub mod fault;
        pub mod compat;
        pub mod driver;
        pub mod fs;
        mod host;
        pub mod net;
        pub mod op;
        pub mod os;
        pub mod time;

        // The integration tests' skip rule (only in a run that opts in,
        // counted), shared so unit tests skip alike.
        #[cfg(test)]
        #[path = "../tests/common/skip.rs"]
        mod test_skip;

        /// The README's examples, compiled and run as doc tests.
        #[cfg(doctest)]
        #[doc = include_str!("../README.md")]
        struct ReadmeDoctests;

        pub use driver::{block_on, Backend, Builder, CompletionDriver, Driver, EnterGuard, FallbackReason, PerThreadDriver};
        cfg_notification_fd! {
            pub use driver::NotificationFd;
        }
    } else if #[cfg(feature = "uring")] {
        compile_error!(
            "proactor: the `uring` feature only works on Linux; enable the `poll` feature \
             for a back end on this OS"
        );
    } else {
        compile_error!(
            "proactor needs a back end: enable the `poll` feature (every OS) and/or \
             `uring` (Linux io_uring)"
        );
    }
}
