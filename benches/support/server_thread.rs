//! What the server benches share: a server on a thread of its own, pinned
//! to one core, and that thread's CPU time, read from the bench thread.

use std::net::SocketAddr;
use std::time::Duration;

/// Pins the calling thread to `core` (best effort: a machine with one core
/// still runs the bench).
pub fn pin_to_core(core: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The CPU clock of the calling thread, readable from any thread.
pub fn this_thread_cpu_clock() -> libc::clockid_t {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: pthread_self is always valid; `clock` is writable.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
    assert_eq!(rc, 0, "pthread_getcpuclockid");
    clock
}

/// The CPU time (user + system) `clock` has counted.
fn cpu_time(clock: libc::clockid_t) -> Duration {
    // SAFETY: a zeroed timespec is valid; clock_gettime writes it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A running server: its address and its thread's CPU clock. The thread
/// serves until the process exits.
pub struct Server {
    pub addr: SocketAddr,
    pub cpu_clock: libc::clockid_t,
}

impl Server {
    /// Runs `client` and returns how long it took: the wall time, or with
    /// `server_cpu` the CPU time the server's thread spent meanwhile.
    pub fn measure(&self, server_cpu: bool, client: impl FnOnce()) -> Duration {
        let (wall, cpu) = (std::time::Instant::now(), cpu_time(self.cpu_clock));
        client();
        if server_cpu {
            cpu_time(self.cpu_clock) - cpu
        } else {
            wall.elapsed()
        }
    }
}

/// Starts `serve` on a thread named `name`, pinned to core 0; `serve` sends
/// its address and CPU clock once it listens.
pub fn start(
    name: &str,
    serve: impl FnOnce(std::sync::mpsc::Sender<(SocketAddr, libc::clockid_t)>) + Send + 'static,
) -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            pin_to_core(0);
            serve(tx)
        })
        .expect("server thread");
    let (addr, cpu_clock) = rx.recv().expect("server started");
    Server { addr, cpu_clock }
}

/// A server on tokio's current-thread runtime: `serve` gets its listener,
/// bound to a loopback port.
pub fn tokio_server<F, Fut>(name: &str, serve: F) -> Server
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    start(name, |ready| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            ready
                .send((listener.local_addr().unwrap(), this_thread_cpu_clock()))
                .unwrap();
            serve(listener).await
        })
    })
}

/// A server on a proactor driver of `backend`'s, in its `block_on`: `serve`
/// gets its listener, bound to a loopback port.
pub fn proactor_server<F, Fut>(name: &str, backend: proactor::Backend, serve: F) -> Server
where
    F: FnOnce(proactor::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future,
{
    start(name, move |ready| {
        let driver = proactor::Driver::builder()
            .force(backend)
            .build()
            .expect("driver");
        driver.block_on(async {
            let listener = proactor::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            ready
                .send((listener.local_addr().unwrap(), this_thread_cpu_clock()))
                .unwrap();
            drop(serve(listener).await);
        })
    })
}
