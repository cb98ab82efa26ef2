//! One figure per process: `--lib` runs `--op` (`nop`, or `randread`: random
//! 4 KiB reads of a file in the page cache) with `--qd` operations in
//! flight for `--secs` seconds, and prints the rate. Every async runtime
//! keeps its operations in flight the same way (a `FuturesUnordered`
//! refilled as each completes, buffers reused), so only the runtime
//! differs; `raw` is a hand-written io-uring loop and `pread` a std loop
//! (one read at a time whatever `--qd` says), the floors to compare with.
//!
//! ```text
//! cargo run --release -- --lib proactor-uring|proactor-poll|tokio-uring|compio|monoio|raw|pread \
//!     --op nop|randread [--qd 32] [--secs 3] [--file PATH]
//! ```

use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

const BLOCK: usize = 4096;
const FILE_SIZE: u64 = 256 << 20;

#[derive(Clone, Copy, PartialEq)]
enum Work {
    Nop,
    RandRead,
}

struct Args {
    lib: String,
    work: Work,
    qd: usize,
    secs: f64,
    file: PathBuf,
}

/// xorshift64: the same offsets for every runtime.
struct Offsets(u64);

impl Offsets {
    fn new() -> Offsets {
        Offsets(0x2545_f491_4f6c_dd1d)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % (FILE_SIZE / BLOCK as u64) * BLOCK as u64
    }
}

/// Keeps `qd` futures made by `start` in flight until `secs` have passed;
/// each gets back the buffer (or whatever) the one before it returned.
/// Returns operations per second.
async fn keep_in_flight<B, F>(qd: usize, secs: f64, mut start: impl FnMut(Option<B>) -> F) -> f64
where
    F: Future<Output = B>,
{
    let begin = Instant::now();
    let deadline = begin + Duration::from_secs_f64(secs);
    let mut pending: FuturesUnordered<F> = (0..qd).map(|_| start(None)).collect();
    let mut done = 0u64;
    let mut refill = true;
    while let Some(returned) = pending.next().await {
        done += 1;
        if done.is_multiple_of(64) && Instant::now() >= deadline {
            refill = false;
        }
        if refill {
            pending.push(start(Some(returned)));
        }
    }
    done as f64 / begin.elapsed().as_secs_f64()
}

/// Random 4 KiB reads of the file through `read_at` (one runtime's
/// positional read, which hands its buffer back), `--qd` in flight, the
/// buffers reused. Returns reads per second.
async fn random_reads<F>(args: &Args, read_at: impl Fn(Vec<u8>, u64) -> F) -> f64
where
    F: Future<Output = (std::io::Result<usize>, Vec<u8>)>,
{
    let mut offsets = Offsets::new();
    keep_in_flight(args.qd, args.secs, |buf: Option<Vec<u8>>| {
        let mut buf = buf.unwrap_or_else(|| Vec::with_capacity(BLOCK));
        buf.clear();
        let read = read_at(buf, offsets.next());
        async move {
            let (result, buf) = read.await;
            assert_eq!(result.expect("read"), BLOCK);
            buf
        }
    })
    .await
}

fn proactor(args: &Args, backend: proactor::Backend) -> f64 {
    use proactor::op::{Nop, Op};
    let driver = proactor::Driver::builder()
        .force(backend)
        .entries(256)
        .build()
        .expect("proactor driver");
    driver.block_on(async {
        match args.work {
            Work::Nop => {
                keep_in_flight(args.qd, args.secs, |_: Option<()>| {
                    let op = Op::with_driver(Nop::new(), driver.clone());
                    async move { op.await.expect("nop") }
                })
                .await
            }
            Work::RandRead => {
                let file = proactor::fs::OpenOptions::new()
                    .read(true)
                    .open_with(&args.file, driver.clone())
                    .await
                    .expect("open");
                random_reads(args, |buf, offset| file.read_at(buf, offset)).await
            }
        }
    })
}

fn tokio_uring(args: &Args) -> f64 {
    tokio_uring::start(async {
        match args.work {
            Work::Nop => {
                keep_in_flight(args.qd, args.secs, |_: Option<()>| async {
                    tokio_uring::no_op().await.expect("nop")
                })
                .await
            }
            Work::RandRead => {
                let file = tokio_uring::fs::File::open(&args.file).await.expect("open");
                random_reads(args, |buf, offset| file.read_at(buf, offset)).await
            }
        }
    })
}

fn compio(args: &Args) -> Option<f64> {
    use compio::io::AsyncReadAt;
    if args.work == Work::Nop {
        // compio has no public NOP operation.
        return None;
    }
    let runtime = compio::runtime::Runtime::new().expect("compio runtime");
    Some(runtime.block_on(async {
        let file = compio::fs::File::open(&args.file).await.expect("open");
        let file = &file;
        random_reads(args, |buf, offset| async move {
            let compio::BufResult(result, buf) = file.read_at(buf, offset).await;
            (result, buf)
        })
        .await
    }))
}

fn monoio(args: &Args) -> Option<f64> {
    if args.work == Work::Nop {
        // monoio has no public NOP operation.
        return None;
    }
    let mut runtime = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(256)
        .build()
        .expect("monoio runtime");
    Some(runtime.block_on(async {
        let file = monoio::fs::File::open(&args.file).await.expect("open");
        random_reads(args, |buf, offset| file.read_at(buf, offset)).await
    }))
}

/// The hand-written loop: push until `qd` are in flight, submit and wait
/// for one, reap all that are there.
fn raw(args: &Args) -> f64 {
    use io_uring::{opcode, types, IoUring};
    use std::os::fd::AsRawFd;
    let mut ring = IoUring::new(256).expect("io_uring");
    let file =
        (args.work == Work::RandRead).then(|| std::fs::File::open(&args.file).expect("open"));
    let fd = file.as_ref().map_or(-1, |file| file.as_raw_fd());
    let mut buffers = vec![[0u8; BLOCK]; args.qd];
    let mut free: Vec<usize> = (0..args.qd).collect();
    let mut offsets = Offsets::new();
    let begin = Instant::now();
    let deadline = begin + Duration::from_secs_f64(args.secs);
    let (mut done, mut in_flight) = (0u64, 0usize);
    let mut refill = true;
    while refill || in_flight > 0 {
        while refill && in_flight < args.qd {
            let slot = free.pop().expect("a free buffer");
            let entry = match args.work {
                Work::Nop => opcode::Nop::new().build(),
                Work::RandRead => {
                    opcode::Read::new(types::Fd(fd), buffers[slot].as_mut_ptr(), BLOCK as u32)
                        .offset(offsets.next())
                        .build()
                }
            };
            // SAFETY: the buffer of `slot` is not reused until this entry's
            // completion comes back, and outlives the ring's use of it.
            unsafe { ring.submission().push(&entry.user_data(slot as u64)) }.expect("sq room");
            in_flight += 1;
        }
        ring.submit_and_wait(1).expect("submit");
        for cqe in ring.completion() {
            assert!(cqe.result() >= 0, "raw op failed: {}", cqe.result());
            free.push(cqe.user_data() as usize);
            in_flight -= 1;
            done += 1;
        }
        if done % 64 < 32 && Instant::now() >= deadline {
            refill = false;
        }
    }
    done as f64 / begin.elapsed().as_secs_f64()
}

fn pread(args: &Args) -> Option<f64> {
    if args.work == Work::Nop {
        return None;
    }
    let file = std::fs::File::open(&args.file).expect("open");
    let mut buf = [0u8; BLOCK];
    let mut offsets = Offsets::new();
    let begin = Instant::now();
    let deadline = begin + Duration::from_secs_f64(args.secs);
    let mut done = 0u64;
    loop {
        for _ in 0..64 {
            assert_eq!(
                file.read_at(&mut buf, offsets.next()).expect("pread"),
                BLOCK
            );
        }
        done += 64;
        if Instant::now() >= deadline {
            return Some(done as f64 / begin.elapsed().as_secs_f64());
        }
    }
}

/// Makes the file if it is missing or short, and reads it once so that it
/// sits in the page cache.
fn prepare(path: &Path) {
    let fresh = std::fs::metadata(path)
        .map(|m| m.len() != FILE_SIZE)
        .unwrap_or(true);
    if fresh {
        let file = std::fs::File::create(path).expect("create the file");
        let mut block = [0u8; 1 << 20];
        let mut offsets = Offsets::new();
        for at in (0..FILE_SIZE).step_by(block.len()) {
            for chunk in block.chunks_mut(8) {
                chunk.copy_from_slice(&offsets.next().to_ne_bytes());
            }
            file.write_all_at(&block, at).expect("write the file");
        }
    }
    let file = std::fs::File::open(path).expect("open");
    let mut block = vec![0u8; 1 << 20];
    for at in (0..FILE_SIZE).step_by(block.len()) {
        file.read_exact_at(&mut block, at).expect("read the file");
    }
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        lib: String::new(),
        work: Work::Nop,
        qd: 32,
        secs: 3.0,
        file: std::env::temp_dir().join("proactor-peers.dat"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--lib" => args.lib = value,
            "--op" => {
                args.work = match value.as_str() {
                    "nop" => Work::Nop,
                    "randread" => Work::RandRead,
                    _ => return Err(format!("unknown --op {value}")),
                }
            }
            "--qd" => {
                args.qd = value
                    .parse()
                    .map_err(|_| "--qd takes a number from 1 to 128")?
            }
            "--secs" => args.secs = value.parse().map_err(|_| "--secs takes a number")?,
            "--file" => args.file = PathBuf::from(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !(1..=128).contains(&args.qd) {
        return Err("--qd takes a number from 1 to 128".into());
    }
    Ok(args)
}

fn main() {
    let args = parse().unwrap_or_else(|e| {
        eprintln!(
            "peers: {e}\nusage: peers --lib proactor-uring|proactor-poll|tokio-uring|compio|monoio|raw|pread \
             --op nop|randread [--qd N] [--secs S] [--file PATH]"
        );
        std::process::exit(2);
    });
    if args.work == Work::RandRead {
        prepare(&args.file);
    }
    let rate = match args.lib.as_str() {
        "proactor-uring" => Some(proactor(&args, proactor::Backend::IoUring)),
        "proactor-poll" => Some(proactor(&args, proactor::Backend::Poll)),
        "tokio-uring" => Some(tokio_uring(&args)),
        "compio" => compio(&args),
        "monoio" => monoio(&args),
        "raw" => Some(raw(&args)),
        "pread" => pread(&args),
        other => {
            eprintln!("peers: unknown --lib {other}");
            std::process::exit(2);
        }
    };
    match rate {
        Some(rate) => println!("{rate:.0}"),
        None => println!("-"),
    }
}
