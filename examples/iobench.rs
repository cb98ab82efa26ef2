//! `iobench`: a small fio-like load generator for proactor.
//!
//! ```text
//! cargo run --release --features uring --example iobench -- \
//!     --op randread --qd 32 --bs 4096 --size 256M --secs 5 [--direct] [--backend uring|poll]
//! ```
//!
//! `--op`: `nop` (driver overhead), `randread` (random aligned reads of a
//! file, page cache unless `--direct`), `write` (sequential writes, wrapping
//! at `--size`), `echo` (TCP ping-pong of `--bs` bytes on `--qd` loopback
//! connections; the server runs on its own thread and driver, or is the one
//! at `--connect HOST:PORT`). A progress line is printed every second; at
//! the end: ops/s, MiB/s and p50 / p99 / p99.9 latency.

#[path = "support/echo_server.rs"]
mod echo_server;

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use proactor::buf::{AlignedBuf, IoBuf};
use proactor::fs::{File, OpenOptions};
use proactor::net::{TcpListener, TcpStream};
use proactor::op::{Nop, Op};
use proactor::{Backend, Driver};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Nop,
    RandRead,
    Write,
    Echo,
}

struct Args {
    kind: Kind,
    qd: usize,
    bs: usize,
    size: u64,
    secs: u64,
    direct: bool,
    backend: Option<Backend>,
    file: Option<PathBuf>,
    /// `echo` against this server instead of one of its own.
    connect: Option<std::net::SocketAddr>,
}

fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits.parse().ok()?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        kind: Kind::RandRead,
        qd: 32,
        bs: 4096,
        size: 256 << 20,
        secs: 5,
        direct: false,
        backend: None,
        file: None,
        connect: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--op" => {
                args.kind = match value()?.as_str() {
                    "nop" => Kind::Nop,
                    "randread" => Kind::RandRead,
                    "write" => Kind::Write,
                    "echo" => Kind::Echo,
                    other => return Err(format!("unknown --op {other}")),
                }
            }
            "--qd" => args.qd = value()?.parse().map_err(|_| "--qd takes a number")?,
            "--bs" => args.bs = parse_size(&value()?).ok_or("--bs takes a size")? as usize,
            "--size" => args.size = parse_size(&value()?).ok_or("--size takes a size like 256M")?,
            "--secs" => args.secs = value()?.parse().map_err(|_| "--secs takes a number")?,
            "--direct" => args.direct = true,
            "--file" => args.file = Some(PathBuf::from(value()?)),
            "--connect" => {
                args.connect = Some(value()?.parse().map_err(|_| "--connect takes HOST:PORT")?)
            }
            "--backend" => {
                args.backend = match value()?.as_str() {
                    "uring" => Some(Backend::IoUring),
                    "poll" => Some(Backend::Poll),
                    "auto" => None,
                    other => return Err(format!("unknown --backend {other}")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.qd == 0 || args.bs == 0 || args.secs == 0 {
        return Err("--qd, --bs and --secs must be above zero".into());
    }
    if args.size < args.bs as u64 {
        return Err("--size must be at least --bs".into());
    }
    Ok(args)
}

/// Latencies in nanoseconds, and counts.
#[derive(Default)]
struct Stats {
    latencies: Vec<u32>,
    bytes: u64,
}

impl Stats {
    fn record(&mut self, started: Instant, bytes: usize) {
        self.latencies
            .push(started.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32);
        self.bytes += bytes as u64;
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Makes (or reuses) the file and brings it to `size` bytes.
async fn prepare_file(args: &Args, path: &std::path::Path) -> io::Result<()> {
    if std::fs::metadata(path)
        .map(|m| m.len() >= args.size)
        .unwrap_or(false)
    {
        return Ok(());
    }
    eprintln!(
        "iobench: writing a {} MiB test file at {}",
        args.size >> 20,
        path.display()
    );
    let file = File::create(path).await?;
    let chunk = 1 << 20;
    let mut offset = 0;
    while offset < args.size {
        let len = chunk.min((args.size - offset) as usize);
        let data: Vec<u8> = (0..len)
            .map(|i| ((offset as usize + i) % 251) as u8)
            .collect();
        let (r, _) = file.write_all_at(data, offset).await;
        r?;
        offset += len as u64;
    }
    file.sync_all().await?;
    file.close().await
}

fn progress(start: Instant, last: &mut Instant, stats: &Stats, last_ops: &mut usize) {
    if last.elapsed() >= Duration::from_secs(1) {
        let ops = stats.latencies.len();
        let rate = (ops - *last_ops) as f64 / last.elapsed().as_secs_f64();
        eprint!(
            "\r{:>5.1} s  {:>12.0} ops/s  {:>10} ops",
            start.elapsed().as_secs_f64(),
            rate,
            ops
        );
        *last = Instant::now();
        *last_ops = ops;
    }
}

async fn run_file(args: &Args, driver: &Driver, path: &std::path::Path) -> io::Result<Stats> {
    prepare_file(args, path).await?;
    let mut options = OpenOptions::new();
    options.read(true).write(args.kind == Kind::Write);
    if args.direct {
        #[cfg(target_os = "linux")]
        options.custom_flags(libc::O_DIRECT);
        #[cfg(not(target_os = "linux"))]
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "--direct (O_DIRECT) is Linux-only",
        ));
    }
    let file = options.open_with(path, driver.clone()).await?;
    let blocks = args.size / args.bs as u64;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut next_write = 0u64;
    let mut stats = Stats::default();
    let (start, mut last, mut last_ops) = (Instant::now(), Instant::now(), 0);
    let deadline = start + Duration::from_secs(args.secs);
    let mut in_flight = FuturesUnordered::new();
    let mut spare: Vec<AlignedBuf> = Vec::new();
    let file = &file;
    loop {
        while in_flight.len() < args.qd && Instant::now() < deadline {
            let mut buf = match spare.pop() {
                Some(buf) => buf,
                None => AlignedBuf::new(args.bs, 4096)?,
            };
            let started = Instant::now();
            let kind = args.kind;
            let offset = if kind == Kind::Write {
                let at = next_write % blocks * args.bs as u64;
                next_write += 1;
                at
            } else {
                rng.next() % blocks * args.bs as u64
            };
            in_flight.push(async move {
                let (result, buf) = if kind == Kind::Write {
                    if buf.len() < buf.bytes_total() {
                        let total = buf.bytes_total();
                        buf.clear();
                        // SAFETY: a write buffer's content does not matter
                        // for the benchmark, but must be initialised.
                        unsafe {
                            std::ptr::write_bytes(
                                proactor::buf::IoBufMut::stable_mut_ptr(&mut buf),
                                0xab,
                                total,
                            );
                            proactor::buf::IoBufMut::set_init(&mut buf, total);
                        }
                    }
                    file.write_at(buf, offset).await
                } else {
                    buf.clear();
                    file.read_at(buf, offset).await
                };
                (started, result, buf)
            });
        }
        let Some((started, result, buf)) = in_flight.next().await else {
            break;
        };
        stats.record(started, result?);
        spare.push(buf);
        progress(start, &mut last, &stats, &mut last_ops);
    }
    Ok(stats)
}

async fn run_nop(args: &Args, driver: &Driver) -> io::Result<Stats> {
    let mut stats = Stats::default();
    let (start, mut last, mut last_ops) = (Instant::now(), Instant::now(), 0);
    let deadline = start + Duration::from_secs(args.secs);
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < args.qd && Instant::now() < deadline {
            let started = Instant::now();
            let op = Op::with_driver(Nop::new(), driver.clone());
            in_flight.push(async move { (started, op.await) });
        }
        let Some((started, result)) = in_flight.next().await else {
            break;
        };
        result?;
        stats.record(started, 0);
        progress(start, &mut last, &stats, &mut last_ops);
    }
    Ok(stats)
}

fn spawn_echo_server(backend: Backend) -> io::Result<std::net::SocketAddr> {
    let driver = Driver::builder().force(backend).build()?;
    let listener = driver.block_on(async { TcpListener::bind("127.0.0.1:0").await })?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("iobench-server".into())
        .spawn(move || driver.block_on(echo_server::serve_all(listener)))?;
    Ok(addr)
}

async fn run_echo(args: &Args, backend: Backend) -> io::Result<Stats> {
    let addr = match args.connect {
        Some(addr) => addr,
        None => spawn_echo_server(backend)?,
    };
    let mut clients = Vec::new();
    for _ in 0..args.qd {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        clients.push(stream);
    }
    let mut stats = Stats::default();
    let (start, mut last, mut last_ops) = (Instant::now(), Instant::now(), 0);
    let deadline = start + Duration::from_secs(args.secs);
    let mut in_flight: FuturesUnordered<_> = clients
        .iter()
        .map(|c| round_trip(c, vec![7u8; args.bs]))
        .collect();
    while let Some((started, result, buf, client)) = in_flight.next().await {
        result?;
        stats.record(started, args.bs * 2);
        if Instant::now() < deadline {
            in_flight.push(round_trip(client, buf));
        }
        progress(start, &mut last, &stats, &mut last_ops);
    }
    Ok(stats)
}

async fn round_trip(
    client: &TcpStream,
    buf: Vec<u8>,
) -> (Instant, io::Result<()>, Vec<u8>, &TcpStream) {
    let started = Instant::now();
    let (r, buf) = client.write_all(buf).await;
    if let Err(e) = r {
        return (started, Err(e), buf, client);
    }
    let (r, buf) = client.read_exact(buf).await;
    (started, r, buf, client)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("iobench: {e}\nusage: iobench --op nop|randread|write|echo [--qd N] [--bs SIZE] [--size SIZE] [--secs N] [--direct] [--backend uring|poll|auto] [--file PATH] [--connect HOST:PORT]");
        std::process::exit(2);
    });
    let mut builder = Driver::builder().entries(args.qd.max(32).next_power_of_two() as u32);
    if let Some(backend) = args.backend {
        builder = builder.force(backend);
    }
    let driver = builder.build().unwrap_or_else(|e| {
        eprintln!("iobench: {e}");
        std::process::exit(1);
    });
    let backend = driver.backend();
    let temp = std::env::temp_dir().join("proactor-iobench.dat");
    let path = args.file.clone().unwrap_or(temp);
    let started = Instant::now();
    let result = driver.block_on(async {
        match args.kind {
            Kind::Nop => run_nop(&args, &driver).await,
            Kind::RandRead | Kind::Write => run_file(&args, &driver, &path).await,
            Kind::Echo => run_echo(&args, backend).await,
        }
    });
    let mut stats = match result {
        Ok(stats) => stats,
        Err(e) => {
            eprintln!("\niobench: {e}");
            std::process::exit(1);
        }
    };
    let secs = started.elapsed().as_secs_f64();
    stats.latencies.sort_unstable();
    let ops = stats.latencies.len();
    eprintln!();
    println!(
        "iobench: op={:?} backend={backend} qd={} bs={} direct={}: {ops} ops in {secs:.2} s, {:.0} ops/s, {:.1} MiB/s, latency p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us",
        args.kind,
        args.qd,
        args.bs,
        args.direct,
        ops as f64 / secs,
        stats.bytes as f64 / (1 << 20) as f64 / secs,
        percentile(&stats.latencies, 0.50),
        percentile(&stats.latencies, 0.99),
        percentile(&stats.latencies, 0.999),
    );
}
