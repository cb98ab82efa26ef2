//! Differential test: a seeded random program of operations (file reads and
//! writes at offsets, length changes, socket round trips, timers,
//! cancellations at random points, driver drops) runs on both back ends and
//! on a plain std model. What a program can observe (bytes, lengths, error
//! kinds) must match everywhere; with the `tokio` feature the program also
//! runs inside a tokio runtime, on the driver its reactor dispatches. A
//! second test runs programs on 2 and 8 threads at once, all on one shared
//! driver of each back end.
//! `PROACTOR_DIFF_SEEDS` sets how many seeds
//! (default 200); a failure names its seed. Round trips and idle reads use
//! loopback TCP connections, so the programs run on every OS.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use positional::{read_at, read_exact_at, write_all_at};
use proactor::buf::IoBuf;
use proactor::fs::{File, OpenOptions};
use proactor::op::{Op, Timeout};
use proactor::{Backend, Driver};

/// Positional reads and writes on a std file, for the model: `FileExt` on
/// Unix; on Windows `seek_read` and `seek_write`, which also move the file's
/// cursor (the model never reads it). The loops give both the same
/// `*_all_at` and `*_exact_at` semantics, and error kinds, as Unix's.
mod positional {
    use std::fs::File;
    use std::io;
    #[cfg(unix)]
    use std::os::unix::fs::FileExt;
    #[cfg(windows)]
    use std::os::windows::fs::FileExt;

    pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        #[cfg(unix)]
        return file.read_at(buf, offset);
        #[cfg(windows)]
        return file.seek_read(buf, offset);
    }

    fn write_at(file: &File, data: &[u8], offset: u64) -> io::Result<usize> {
        #[cfg(unix)]
        return file.write_at(data, offset);
        #[cfg(windows)]
        return file.seek_write(data, offset);
    }

    pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match read_at(file, buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn write_all_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
        while !data.is_empty() {
            match write_at(file, data, offset) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    data = &data[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// One step of a program.
#[derive(Debug, Clone)]
enum Step {
    WriteAt {
        offset: u64,
        data: Vec<u8>,
    },
    ReadAt {
        offset: u64,
        len: usize,
    },
    ReadExactAt {
        offset: u64,
        len: usize,
    },
    SetLen(u64),
    Len,
    SyncData,
    RoundTrip(Vec<u8>),
    Sleep(u64),
    /// Start an operation that cannot finish, poll it once, drop it.
    CancelIdleRead,
    CancelTimer,
    /// Drop the driver (with a cancelled op in flight) and make a new one.
    DropDriver,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn program(seed: u64) -> Vec<Step> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    (0..40)
        .map(|_| match rng.below(11) {
            0 | 1 => {
                let len = rng.below(9000) as usize;
                Step::WriteAt {
                    offset: rng.below(70_000),
                    data: rng.bytes(len),
                }
            }
            2 | 3 => Step::ReadAt {
                offset: rng.below(80_000),
                len: rng.below(9000) as usize,
            },
            4 => Step::ReadExactAt {
                offset: rng.below(80_000),
                len: rng.below(4000) as usize,
            },
            5 => Step::SetLen(rng.below(80_000)),
            6 => match rng.below(2) {
                0 => Step::Len,
                _ => Step::SyncData,
            },
            7 => {
                let len = 1 + rng.below(100_000) as usize;
                Step::RoundTrip(rng.bytes(len))
            }
            8 => Step::Sleep(rng.below(3)),
            9 => match rng.below(3) {
                0 => Step::CancelIdleRead,
                1 => Step::CancelTimer,
                _ => Step::DropDriver,
            },
            _ => Step::CancelIdleRead,
        })
        .collect()
}

fn kind(e: &std::io::Error) -> String {
    format!("error {:?}", e.kind())
}

/// The program on std: the reference.
fn run_std(steps: &[Step], path: &Path) -> Vec<String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    let (mut a, mut b) = common::std_tcp_pair();
    // The model reads with plain blocking calls.
    b.set_nonblocking(false).unwrap();
    let mut trace = Vec::new();
    for step in steps {
        trace.push(match step {
            Step::WriteAt { offset, data } => match write_all_at(&file, data, *offset) {
                Ok(()) => format!("wrote {}", data.len()),
                Err(e) => kind(&e),
            },
            Step::ReadAt { offset, len } => {
                // A positional read returns what is there, up to len; proactor
                // may return less only at EOF for regular files, like pread.
                let mut buf = vec![0; *len];
                let mut filled = 0;
                loop {
                    match read_at(&file, &mut buf[filled..], offset + filled as u64) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => return vec![kind(&e)],
                    }
                    if filled == *len {
                        break;
                    }
                }
                format!("read {:?}", &buf[..filled])
            }
            Step::ReadExactAt { offset, len } => {
                let mut buf = vec![0; *len];
                match read_exact_at(&file, &mut buf, *offset) {
                    Ok(()) => format!("exact {buf:?}"),
                    Err(e) => kind(&e),
                }
            }
            Step::SetLen(len) => file
                .set_len(*len)
                .map_or_else(|e| kind(&e), |()| format!("len {len}")),
            Step::Len => format!("len is {}", file.metadata().unwrap().len()),
            Step::SyncData => file
                .sync_data()
                .map_or_else(|e| kind(&e), |()| "synced".into()),
            Step::RoundTrip(data) => {
                let writer = {
                    let mut a = a.try_clone().unwrap();
                    let data = data.clone();
                    std::thread::spawn(move || a.write_all(&data).unwrap())
                };
                let mut buf = vec![0; data.len()];
                b.read_exact(&mut buf).unwrap();
                writer.join().unwrap();
                format!("echoed {}", u8::from(&buf == data))
            }
            Step::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(*ms));
                "slept".into()
            }
            Step::CancelIdleRead | Step::CancelTimer | Step::DropDriver => "cancelled".into(),
        });
    }
    let _ = a.flush();
    trace
}

/// Reads at most `len` bytes at `offset`, as many calls as it takes before
/// EOF: the same observable as the std loop above.
async fn read_up_to(file: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let filled = buf.len();
        let (result, slice) = file
            .read_at(buf.slice(filled..len), offset + filled as u64)
            .await;
        buf = slice.into_inner();
        if result? == 0 {
            break;
        }
    }
    Ok(buf)
}

/// What runs a program's futures: proactor's own `block_on` on a driver of
/// one back end (its own, or one other threads share), or (feature `tokio`)
/// a tokio runtime whose own driver the runtime's reactor dispatches.
#[derive(Clone, Debug)]
enum HostKind {
    Own(Backend),
    /// `block_on` on this driver, which other threads use at the same time;
    /// the program's driver drop drops only its own handle.
    Shared(Driver),
    #[cfg(feature = "tokio")]
    Tokio,
}

enum Host {
    Own(Driver),
    #[cfg(feature = "tokio")]
    Tokio(tokio::runtime::Runtime),
}

impl Host {
    fn new(kind: &HostKind) -> Host {
        match kind {
            HostKind::Own(backend) => Host::Own(common::driver(*backend)),
            HostKind::Shared(driver) => Host::Own(driver.clone()),
            #[cfg(feature = "tokio")]
            HostKind::Tokio => Host::Tokio(common::current_thread_runtime()),
        }
    }

    /// Runs `fut` to completion; inside it, `Driver::current()` is the
    /// host's driver.
    fn run<F: std::future::Future>(&self, fut: F) -> F::Output {
        match self {
            Host::Own(driver) => driver.block_on(fut),
            #[cfg(feature = "tokio")]
            Host::Tokio(runtime) => runtime.block_on(fut),
        }
    }
}

fn run_proactor(steps: &[Step], path: &Path, host_kind: &HostKind) -> Vec<String> {
    let mut host = Host::new(host_kind);
    let mut trace = Vec::new();
    let std_file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    drop(std_file);
    let mut file = host
        .run(OpenOptions::new().read(true).write(true).open(path))
        .unwrap();
    let (mut a, mut b) = host.run(common::tcp_pair());
    for step in steps {
        let entry = match step {
            Step::WriteAt { offset, data } => {
                let (r, _) = host.run(file.write_all_at(data.clone(), *offset));
                r.map_or_else(|e| kind(&e), |()| format!("wrote {}", data.len()))
            }
            Step::ReadAt { offset, len } => match host.run(read_up_to(&file, *offset, *len)) {
                Ok(buf) => format!("read {buf:?}"),
                Err(e) => kind(&e),
            },
            Step::ReadExactAt { offset, len } => {
                let (r, buf) = host.run(file.read_exact_at(Vec::with_capacity(*len), *offset));
                r.map_or_else(|e| kind(&e), |()| format!("exact {buf:?}"))
            }
            Step::SetLen(len) => host
                .run(file.set_len(*len))
                .map_or_else(|e| kind(&e), |()| format!("len {len}")),
            Step::Len => format!("len is {}", host.run(file.len()).unwrap()),
            Step::SyncData => host
                .run(file.sync_data())
                .map_or_else(|e| kind(&e), |()| "synced".into()),
            Step::RoundTrip(data) => {
                let (sent, got) = host.run(async {
                    futures::join!(
                        a.write_all(data.clone()),
                        b.read_exact(Vec::with_capacity(data.len()))
                    )
                });
                sent.0.unwrap();
                got.0.unwrap();
                format!("echoed {}", u8::from(&got.1 == data))
            }
            Step::Sleep(ms) => {
                host.run(proactor::time::sleep(Duration::from_millis(*ms)))
                    .unwrap();
                "slept".into()
            }
            Step::CancelIdleRead => {
                host.run(async {
                    let mut read = Box::pin(b.read(Vec::with_capacity(8)));
                    assert!(futures::poll!(read.as_mut()).is_pending());
                });
                "cancelled".into()
            }
            Step::CancelTimer => {
                host.run(async {
                    let mut timer = Op::new(Timeout::new(Duration::from_secs(3600))).unwrap();
                    assert!(futures::poll!(&mut timer).is_pending());
                });
                "cancelled".into()
            }
            Step::DropDriver => {
                host.run(async {
                    let mut timer = Op::new(Timeout::new(Duration::from_secs(3600))).unwrap();
                    assert!(futures::poll!(&mut timer).is_pending());
                });
                let std_file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .unwrap();
                drop((file, a, b));
                drop(std::mem::replace(&mut host, Host::new(host_kind)));
                file = host.run(async { File::from_std(std_file) }).unwrap();
                (a, b) = host.run(common::tcp_pair());
                "cancelled".into()
            }
        };
        trace.push(entry);
    }
    trace
}

/// Every host a program runs on here.
fn hosts() -> Vec<HostKind> {
    #[allow(unused_mut)]
    let mut hosts: Vec<HostKind> = common::backends().into_iter().map(HostKind::Own).collect();
    #[cfg(feature = "tokio")]
    hosts.push(HostKind::Tokio);
    hosts
}

/// How many programs a test runs: `PROACTOR_DIFF_SEEDS`, default 200.
fn seeds() -> u64 {
    std::env::var("PROACTOR_DIFF_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

#[test]
fn back_ends_and_std_agree_on_random_programs() {
    let _serial = common::serial();
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let mut cancellations = 0;
    for seed in 0..seeds {
        let steps = program(seed);
        cancellations += steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Step::CancelIdleRead | Step::CancelTimer | Step::DropDriver
                )
            })
            .count();
        let expected = run_std(&steps, &dir.path().join("std"));
        for (n, host) in hosts().into_iter().enumerate() {
            let got = run_proactor(&steps, &dir.path().join(format!("host{n}")), &host);
            assert_same_traces(seed, &host, &steps, &expected, &got);
        }
    }
    println!("{seeds} seeds, {} steps each, {cancellations} cancellations or driver drops: back ends and std agree", program(0).len());
}

/// Checks `seed`'s program on `host` against the std model, in files of
/// `dir` named after `name`.
fn check_seed(seed: u64, host: &HostKind, dir: &Path, name: &str) {
    let steps = program(seed);
    let expected = run_std(&steps, &dir.join(format!("{name}-std")));
    let got = run_proactor(&steps, &dir.join(name), host);
    assert_same_traces(seed, host, &steps, &expected, &got);
}

/// Fails, naming the seed, the host and the first step that differs, unless
/// the std model's trace and proactor's are the same.
fn assert_same_traces(
    seed: u64,
    host: &HostKind,
    steps: &[Step],
    expected: &[String],
    got: &[String],
) {
    for (i, (want, have)) in expected.iter().zip(got).enumerate() {
        assert!(
            want == have,
            "seed {seed}, {host:?}, step {i} ({:?}):\n  std:      {}\n  proactor: {}",
            steps[i],
            &want[..want.len().min(200)],
            &have[..have.len().min(200)],
        );
    }
    assert_eq!(
        expected.len(),
        got.len(),
        "seed {seed}, {host:?}: trace lengths"
    );
}

#[test]
fn threads_sharing_one_driver_agree_with_std() {
    let _serial = common::serial();
    let seeds = seeds() / 4;
    let dir = tempfile::tempdir().unwrap();
    for backend in common::backends() {
        for threads in [2u64, 8] {
            let driver = common::driver(backend);
            let shared = HostKind::Shared(driver.clone());
            std::thread::scope(|scope| {
                for thread in 0..threads {
                    let (shared, dir) = (&shared, dir.path());
                    scope.spawn(move || {
                        // Each thread its own seeds, offset from the
                        // single-thread test's.
                        for seed in (thread..seeds).step_by(threads as usize) {
                            check_seed(
                                1_000_000 + seed,
                                shared,
                                dir,
                                &format!("{backend:?}-{threads}-{thread}"),
                            );
                        }
                    });
                }
            });
            assert!(
                common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0),
                "{backend:?}, {threads} threads: {} operations left in flight",
                driver.in_flight()
            );
        }
    }
    println!("{seeds} seeds on 2 and on 8 threads sharing a driver: back ends and std agree");
}
