//! Helpers shared by every integration test: one test per back end, pipes,
//! fd and handle counting, buffers that report their drop, child processes.
#![allow(dead_code)]

pub mod skip;

#[cfg(unix)]
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proactor::buf::{IoBuf, IoBufMut};
use proactor::op::{Op, OpCode};
use proactor::{Backend, Driver, PerThreadDriver};

/// Makes one `#[test]` per back end compiled in, each handed a driver forced
/// onto that back end: `both_backends! { fn name(driver) { ... } }`. The
/// tests of one binary run one at a time, so fd counts are exact.
#[macro_export]
macro_rules! both_backends {
    ($($(#[$meta:meta])* fn $name:ident($driver:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[allow(dead_code)]
                fn run($driver: proactor::Driver) $body

                #[cfg(all(target_os = "linux", feature = "uring"))]
                #[test]
                $(#[$meta])*
                fn uring() {
                    let _serial = $crate::common::serial();
                    if let Some(driver) = $crate::common::driver_unless_skipped(proactor::Backend::IoUring) {
                        run(driver);
                    }
                }

                #[cfg(feature = "poll")]
                #[test]
                $(#[$meta])*
                fn poll() {
                    let _serial = $crate::common::serial();
                    run($crate::common::driver(proactor::Backend::Poll));
                }
            }
        )*
    };
}

/// The back ends this build has (less io_uring where it cannot run and the
/// run allows skips: see [`skip`]).
pub fn backends() -> Vec<Backend> {
    let mut backends = Vec::new();
    if cfg!(all(target_os = "linux", feature = "uring")) {
        match uring_unavailable() {
            Some(why) if skip::skipped("its io_uring half", &why) => {}
            _ => backends.push(Backend::IoUring),
        }
    }
    if cfg!(feature = "poll") {
        backends.push(Backend::Poll);
    }
    backends
}

/// How `PROACTOR_BACKEND` spells `backend`.
pub fn env_name(backend: Backend) -> &'static str {
    match backend {
        Backend::IoUring => "uring",
        Backend::Poll => "poll",
    }
}

/// The back end `PROACTOR_BACKEND` spells `name`.
pub fn backend_named(name: &str) -> Backend {
    if name == "uring" {
        Backend::IoUring
    } else {
        Backend::Poll
    }
}

/// A driver forced onto `backend`.
pub fn driver(backend: Backend) -> Driver {
    Driver::builder()
        .force(backend)
        .build()
        .unwrap_or_else(|e| panic!("cannot build a {backend} driver: {e}"))
}

/// Why an io_uring driver cannot be built here, if it cannot (asked once).
pub fn uring_unavailable() -> Option<&'static str> {
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(|| {
        Driver::builder()
            .force(Backend::IoUring)
            .build()
            .err()
            .map(|e| e.to_string())
    })
    .as_deref()
}

/// A driver forced onto `backend`; or, where that back end cannot run and
/// the run allows skips ([`skip`]), `None` with the skip recorded.
pub fn driver_unless_skipped(backend: Backend) -> Option<Driver> {
    match Driver::builder().force(backend).build() {
        Ok(driver) => Some(driver),
        Err(e) if skip::skipped(&format!("its {backend} half"), &e) => None,
        Err(e) => panic!("cannot build a {backend} driver: {e}"),
    }
}

/// A driver forced onto `backend` with `entries` ring entries.
pub fn small_driver(backend: Backend, entries: u32) -> Driver {
    Driver::builder()
        .force(backend)
        .entries(entries)
        .build()
        .unwrap()
}

/// A tokio current-thread runtime with its I/O and time drivers, as a
/// tokio program builds it (and the kind whose own driver proactor uses).
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The same with two worker threads.
pub fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A connected loopback TCP pair: (the connecting end, blocking; the
/// accepted end, non-blocking, as an fd the readiness back end waits on
/// must be).
pub fn std_tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let connected = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    accepted.set_nonblocking(true).unwrap();
    (connected, accepted)
}

/// A non-blocking, close-on-exec pipe: (read end, write end). Unix only:
/// the readiness back end waits on sockets alone on Windows.
#[cfg(unix)]
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe writes.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe: {}", std::io::Error::last_os_error());
    for fd in fds {
        // SAFETY: plain fcntl calls on fds we own.
        unsafe {
            assert_ne!(libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK), -1);
            assert_ne!(libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC), -1);
        }
    }
    // SAFETY: pipe returned two new fds that we now own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Two connected loopback TCP streams, on the current driver: the stream
/// pair every OS has.
pub async fn tcp_pair() -> (proactor::net::TcpStream, proactor::net::TcpStream) {
    let listener = proactor::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap();
    let client = proactor::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// A connected UDP pair: (the sender, blocking; the receiver,
/// non-blocking, as an fd the readiness back end waits on must be).
pub fn udp_pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_nonblocking(true).unwrap();
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    (tx, rx)
}

/// Waits until `driver` holds nothing, then checks that no timer is left
/// in its queue either (`dispatch` reports the next one).
pub fn settles_with_no_timer(driver: &Driver) {
    assert!(
        park_until(driver, Duration::from_secs(10), || driver.in_flight() == 0),
        "operations still held: {}",
        driver.in_flight()
    );
    assert_eq!(driver.dispatch().unwrap(), None, "a timer was left behind");
}

/// Whether the running kernel is Linux `major.minor` or newer (`false`
/// off Linux): what tests expect io_uring to use where it may fall back.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) >= (major, minor)
}

/// Serialises the tests of one binary that count fds, so another test's
/// fds do not show up in their counts. Hold the guard for the whole test.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Number of fds this process has open (Unix: `/proc/self/fd` on Linux,
/// `/dev/fd` elsewhere). Tests that count fds are Unix-only.
#[cfg(unix)]
pub fn fd_count() -> usize {
    let dir = if cfg!(any(target_os = "linux", target_os = "android")) {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    std::fs::read_dir(dir)
        .map(|dir| dir.count())
        .expect("list the open fds")
}

/// Number of handles this process has open: its fds on Unix
/// ([`fd_count`]); on Windows its kernel handles (`GetProcessHandleCount`),
/// which also counts threads, events, and a poller's IOCP and AFD handles:
/// compare counts around a scope with [`leaks_no_handles`].
pub fn open_handles() -> usize {
    #[cfg(unix)]
    {
        fd_count()
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessHandleCount};
        handles_of_first_use();
        let mut count = 0u32;
        // SAFETY: GetCurrentProcess returns a pseudo handle that needs no
        // closing; GetProcessHandleCount writes one u32 into `count`, which
        // outlives the call.
        let ok = unsafe { GetProcessHandleCount(GetCurrentProcess(), &mut count) };
        assert_ne!(
            ok,
            0,
            "GetProcessHandleCount: {}",
            std::io::Error::last_os_error()
        );
        // A live process always has handles open: 0 is Wine's stub (8.0),
        // which does not count them.
        if count > 0 {
            count as usize
        } else {
            handles_in_use()
        }
    }
}

/// Opens a socket, waits on one, and runs a blocking-pool job, once per
/// process on a driver of its own, before the first handle count: Winsock's
/// start-up (the first socket) opens a handle it keeps for the rest of the
/// process, which a count around that first socket would take for a leak.
/// The first wait and pool job are done here too, in case their first use
/// does the same.
#[cfg(windows)]
fn handles_of_first_use() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let driver = Driver::new().unwrap();
        let (_tx, rx) = std_tcp_pair();
        let mut read = Op::with_driver(
            proactor::op::Recv::new(rx, Vec::with_capacity(1)),
            driver.clone(),
        );
        assert!(
            poll_once(&driver, &mut read).is_pending(),
            "nothing was sent"
        );
        drop(read);
        let file = std::env::current_exe().unwrap();
        driver.block_on(proactor::fs::File::open(file)).unwrap();
    });
}

/// Counts this process's open handles one handle value at a time, for
/// where `GetProcessHandleCount` does not (Wine): a handle table hands out
/// freed slots again before new ones, so every open handle lies below the
/// first long run (4096) of free values.
#[cfg(windows)]
fn handles_in_use() -> usize {
    use windows_sys::Win32::Foundation::{GetHandleInformation, HANDLE};
    const FREE_RUN: usize = 4096;
    let (mut open, mut free_run) = (0, 0);
    // Handle values are multiples of 4, from 4.
    let mut value = 4usize;
    while free_run < FREE_RUN {
        let mut flags = 0u32;
        // SAFETY: GetHandleInformation only looks `value` up in this
        // process's handle table (a value that names nothing is an error,
        // and the object behind one that does is not touched), and writes
        // one u32 into `flags`, which outlives the call.
        if unsafe { GetHandleInformation(value as HANDLE, &mut flags) } != 0 {
            open += 1;
            free_run = 0;
        } else {
            free_run += 1;
        }
        value += 4;
    }
    open
}

/// Waits until [`open_handles`] settles at or below `expected` and returns
/// the last reading: closes the kernel defers, and (Windows) the handles of
/// a dropped driver's threads, go away asynchronously.
pub fn open_handles_settle(expected: usize) -> usize {
    settles_at_or_below(expected, open_handles)
}

/// Runs `scope` on a thread of its own and fails the test, naming `what`,
/// if the process has more fds (Unix) or handles (Windows) open after it
/// than before. `scope` makes and drops its own driver, so the driver's
/// handles (Windows: its IOCP and AFD handles, its pool's threads) come
/// and go inside it; the thread is joined before the count, because
/// Windows keeps some handles per thread until the thread ends (under
/// Wine, a thread's first blocking socket calls leave one behind).
pub fn leaks_no_handles(what: &str, scope: impl FnOnce() + Send) {
    let before = open_handles();
    std::thread::scope(|threads| {
        if let Err(panic) = threads.spawn(scope).join() {
            std::panic::resume_unwind(panic);
        }
    });
    // At most as many: fewer is an earlier test's handle going late (Wine
    // closes some asynchronously), not a leak of this one.
    let after = open_handles_settle(before);
    assert_no_more_handles(after, before, what);
}

/// Fails the test, naming `what`, if `now` handles are open where `before`
/// were. Under Wine 8.0, whose GetProcessHandleCount answers 0, the count
/// is of handle values in use, which Wine's own handles make noisy: there,
/// in a run that allows skips (ci/wine.sh), a higher count is recorded as a
/// skip instead; real Windows and Unix always fail.
pub fn assert_no_more_handles(now: usize, before: usize, what: &str) {
    if now > before && handle_count_is_estimated() {
        let why = format!("{now} open, {before} before, by Wine's noisy handle-value count");
        if skip::skipped(&format!("the handle count of {what}"), &why) {
            return;
        }
    }
    assert!(
        now <= before,
        "{what}: fds or handles leaked: {now} open, {before} before"
    );
}

/// Whether [`open_handles`] counts handle values in use rather than asking
/// the system (Wine 8.0).
fn handle_count_is_estimated() -> bool {
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessHandleCount};
        let mut count = 0u32;
        // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no
        // closing; GetProcessHandleCount writes one u32 into `count`.
        let ok = unsafe { GetProcessHandleCount(GetCurrentProcess(), &mut count) };
        ok != 0 && count == 0
    }
    #[cfg(not(windows))]
    {
        false
    }
}

/// Waits (parking on `driver`) until `done()` or `limit` passes.
pub fn park_until(driver: &Driver, limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        driver.park(Some(Duration::from_millis(10))).unwrap();
    }
    true
}

/// Waits until the fd count settles at or below `expected` (threads of a
/// dropped pool exit asynchronously but hold no fds, so this is immediate in
/// practice; the bound is for the kernel's deferred closes).
#[cfg(unix)]
pub fn fd_count_settles(expected: usize) -> usize {
    settles_at_or_below(expected, fd_count)
}

/// Reads `count` every 10 ms until it is at most `limit` or 5 s have
/// passed, and returns the last reading: for counts that fall back
/// asynchronously (fds closed, threads exited).
pub fn settles_at_or_below<T: PartialOrd>(limit: T, count: impl Fn() -> T) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = count();
        if now <= limit || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A buffer that records when it is dropped.
pub struct TrackedBuf {
    data: Vec<u8>,
    dropped: Arc<AtomicBool>,
}

impl TrackedBuf {
    pub fn new(capacity: usize) -> (TrackedBuf, Arc<AtomicBool>) {
        let dropped = Arc::new(AtomicBool::new(false));
        (
            TrackedBuf {
                data: Vec::with_capacity(capacity),
                dropped: dropped.clone(),
            },
            dropped,
        )
    }

    /// A buffer of `len` bytes, each `byte`, all initialised: for sends.
    pub fn filled(len: usize, byte: u8) -> (TrackedBuf, Arc<AtomicBool>) {
        let (mut buf, dropped) = TrackedBuf::new(len);
        buf.data.resize(len, byte);
        (buf, dropped)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for TrackedBuf {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

// SAFETY: delegates to Vec<u8>, whose heap buffer is stable across moves.
unsafe impl IoBuf for TrackedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.data.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.data.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.data.bytes_total()
    }
}

// SAFETY: delegates to Vec<u8>.
unsafe impl IoBufMut for TrackedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.data.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: forwarded caller guarantee.
        unsafe { self.data.set_init(pos) }
    }
}

/// Polls `fut` exactly once with a no-op waker context of `driver`'s
/// block_on, returning it if still pending.
pub fn poll_once<F: std::future::Future + Unpin>(
    driver: &Driver,
    fut: &mut F,
) -> std::task::Poll<F::Output> {
    driver.block_on(futures::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx))
    }))
}

/// Runs this test binary again as a child, running only `test` (exact
/// name), with `env` set. Returns (success, stdout + stderr).
pub fn run_child(test: &str, env: &[(&str, &str)]) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    // Under an emulator without binfmt_misc (ci/qemu.sh), the binary runs
    // through the emulator command `PROACTOR_TEST_RUNNER` names.
    let runner = std::env::var("PROACTOR_TEST_RUNNER").unwrap_or_default();
    let mut runner = runner.split_whitespace();
    let mut cmd = match runner.next() {
        Some(emulator) => {
            let mut cmd = std::process::Command::new(emulator);
            cmd.args(runner).arg(exe);
            cmd
        }
        None => std::process::Command::new(exe),
    };
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    // The child chooses its back end itself unless told otherwise.
    cmd.env_remove("PROACTOR_BACKEND");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn child test process");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs the test `child` of this binary in a process of its own once per
/// back end, with the environment variable `marker` set and
/// `PROACTOR_BACKEND` naming the back end; each run must succeed and print
/// "child passed", within `limit` if one is given.
pub fn run_child_on_each_backend(child: &str, marker: &str, limit: Option<Duration>) {
    for backend in backends() {
        let name = env_name(backend);
        let run = {
            let (child, marker) = (child.to_owned(), marker.to_owned());
            move || run_child(&child, &[(&marker, "1"), ("PROACTOR_BACKEND", name)])
        };
        let (ok, output) = match limit {
            Some(limit) => finishes_within(limit, child, run),
            None => run(),
        };
        assert!(ok, "{child} on {name}:\n{output}");
        assert!(
            output.contains("child passed"),
            "{child} on {name} did not run:\n{output}"
        );
    }
}

/// Whether this process is a child of [`run_child_on_each_backend`] (its
/// `marker` is set); if so, checks that the process-wide driver runs on the
/// back end it was asked for.
pub fn in_backend_child(marker: &str) -> bool {
    if std::env::var_os(marker).is_none() {
        return false;
    }
    let asked = std::env::var("PROACTOR_BACKEND").unwrap();
    assert_eq!(Driver::current().backend(), backend_named(&asked));
    true
}

/// A temporary file holding `len` bytes of a known pattern.
pub fn pattern_file(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, &data).unwrap();
    (file, data)
}

/// Runs `f` on a thread of its own and returns its result, or fails the
/// test if it has not finished within `limit`: a hang becomes a failure
/// (the stuck thread is left behind).
pub fn finishes_within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match finished.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: still running after {limit:?} (hung)"),
    }
}

/// A waker made of two closures: what `wake` does, and what dropping the
/// waker's last clone does. Both are user code as far as a driver knows.
pub struct FnWaker {
    on_wake: Box<dyn Fn() + Send + Sync>,
    on_drop: Box<dyn Fn() + Send + Sync>,
}

impl FnWaker {
    pub fn waker(
        on_wake: impl Fn() + Send + Sync + 'static,
        on_drop: impl Fn() + Send + Sync + 'static,
    ) -> std::task::Waker {
        std::task::Waker::from(Arc::new(FnWaker {
            on_wake: Box::new(on_wake),
            on_drop: Box::new(on_drop),
        }))
    }
}

impl std::task::Wake for FnWaker {
    fn wake(self: Arc<Self>) {
        (self.on_wake)()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        (self.on_wake)()
    }
}

impl Drop for FnWaker {
    fn drop(&mut self) {
        (self.on_drop)()
    }
}

/// Polls `fut` once with `waker`.
pub fn poll_with<F: std::future::Future + Unpin>(
    fut: &mut F,
    waker: &std::task::Waker,
) -> std::task::Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut std::task::Context::from_waker(waker))
}

/// How many of this process's threads are named `name` (Linux:
/// `/proc/self/task/*/comm`).
#[cfg(target_os = "linux")]
pub fn threads_named(name: &str) -> usize {
    thread_names().iter().filter(|comm| *comm == name).count()
}

/// The names of the threads proactor and tokio started (`proactor-*`,
/// `tokio-*`): what a leak check counts. The rest are the test harness's
/// (a thread per test, started while another test runs) or an emulator's
/// own (qemu-user's), which come and go on their own.
#[cfg(target_os = "linux")]
pub fn library_threads() -> Vec<String> {
    thread_names()
        .into_iter()
        .filter(|name| name.starts_with("proactor") || name.starts_with("tokio-"))
        .collect()
}

/// The names of this process's threads (Linux: `/proc/self/task/*/comm`).
#[cfg(target_os = "linux")]
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .map(|task| {
            std::fs::read_to_string(task.unwrap().path().join("comm"))
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}

/// Waits for every `proactor-orphan` thread to end (they end within the
/// orphanage's sweep once nothing is left to drive) and returns how many
/// are left after 5 s.
#[cfg(target_os = "linux")]
pub fn orphan_threads_settle() -> usize {
    settles_at_or_below(0, || threads_named("proactor-orphan"))
}

/// A `PerThreadDriver` forced onto `backend`, with small rings.
pub fn per_thread(backend: Backend) -> PerThreadDriver {
    Driver::builder().force(backend).entries(16).per_thread()
}

/// `op` made on this thread's driver of `drivers` and polled once inside
/// its `block_on`: in flight when returned.
pub fn started_on<O: OpCode>(drivers: &PerThreadDriver, op: O) -> Op<O> {
    let mut slot = None;
    drivers
        .block_on(async {
            let mut op = Op::new(op).unwrap();
            assert!(futures::poll!(&mut op).is_pending(), "in flight");
            slot = Some(op);
        })
        .unwrap();
    slot.expect("started above")
}

/// The process's fd limits.
#[cfg(unix)]
pub fn nofile_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `limit`, which outlives it.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    limit
}

/// Sets the process's fd limits (in a child process: it is process-wide).
#[cfg(unix)]
pub fn set_nofile_limit(limit: libc::rlimit) {
    // SAFETY: setrlimit only reads the rlimit `limit` points to.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// Opens /dev/null until the fd table is full; the files free it again.
#[cfg(unix)]
pub fn use_up_every_fd() -> Vec<std::fs::File> {
    let mut files = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => return files,
            Err(e) => panic!("open /dev/null: {e}"),
        }
    }
}

#[cfg(target_os = "linux")]
/// Takes CAP_IPC_LOCK out of this process's effective and permitted sets:
/// with it (root), locked memory is not limited.
pub fn drop_cap_ipc_lock() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_IPC_LOCK: u32 = 14;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes the header and two data structs, all live.
    let got = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(got, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !(1 << CAP_IPC_LOCK);
    data[0].permitted &= !(1 << CAP_IPC_LOCK);
    // SAFETY: capset reads the header and two data structs, all live.
    let set = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(set, 0, "capset: {}", std::io::Error::last_os_error());
}
