//! A tour of proactor: which back end runs and why, a 64 MiB file written
//! and read back at random offsets with 32 reads in flight, and a timer.
//!
//! ```text
//! cargo run --release --features uring --example tour
//! PROACTOR_BACKEND=poll cargo run --release --features uring --example tour
//! ```

use std::io;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use proactor::fs::OpenOptions;
use proactor::Driver;

const FILE_SIZE: u64 = 64 << 20;
const WRITE_CHUNK: usize = 1 << 20;
const WRITES_IN_FLIGHT: usize = 8;
const READ_SIZE: usize = 4096;
const READS: usize = 16 * 1024;
const READS_IN_FLIGHT: usize = 32;

/// The byte the file holds at `offset`: reads are checked against it.
fn pattern(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// xorshift64: random offsets without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
}

fn main() -> io::Result<()> {
    let driver = Driver::new()?;
    println!("back end: {}", driver.backend());
    match driver.fallback_reason() {
        Some(reason) => println!("why not io_uring: {reason}"),
        None => println!("io_uring is available and in use"),
    }

    let dir = std::env::temp_dir().join(format!("proactor-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("tour.dat");
    let result = driver.block_on(tour(&path));
    std::fs::remove_dir_all(&dir)?;
    result
}

async fn tour(path: &std::path::Path) -> io::Result<()> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await?;

    // Write 64 MiB, 1 MiB at a time, 8 writes in flight.
    let start = Instant::now();
    let mut writes = FuturesUnordered::new();
    let mut next_chunk = 0u64;
    let chunks = FILE_SIZE / WRITE_CHUNK as u64;
    loop {
        while writes.len() < WRITES_IN_FLIGHT && next_chunk < chunks {
            let offset = next_chunk * WRITE_CHUNK as u64;
            let data: Vec<u8> = (0..WRITE_CHUNK as u64)
                .map(|i| pattern(offset + i))
                .collect();
            writes.push(file.write_all_at(data, offset));
            next_chunk += 1;
        }
        match writes.next().await {
            Some((result, _)) => result?,
            None => break,
        }
    }
    drop(writes);
    file.sync_all().await?;
    let elapsed = start.elapsed();
    println!(
        "wrote {} MiB in {:.1} ms ({:.0} MiB/s, {WRITES_IN_FLIGHT} writes in flight, then fsync)",
        FILE_SIZE >> 20,
        elapsed.as_secs_f64() * 1e3,
        mib_per_s(FILE_SIZE, elapsed)
    );
    let len = file.len().await?;
    assert_eq!(len, FILE_SIZE, "file size after writing");

    // Read it back: 4 KiB at random aligned offsets, 32 in flight, checked.
    let start = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let blocks = FILE_SIZE / READ_SIZE as u64;
    let mut reads = FuturesUnordered::new();
    let mut issued = 0;
    let mut checked = 0;
    loop {
        while reads.len() < READS_IN_FLIGHT && issued < READS {
            let offset = (rng.next() % blocks) * READ_SIZE as u64;
            let read = file.read_exact_at(Vec::with_capacity(READ_SIZE), offset);
            reads.push(async move { (offset, read.await) });
            issued += 1;
        }
        let Some((offset, (result, buf))) = reads.next().await else {
            break;
        };
        result?;
        let expected = (0..READ_SIZE as u64).map(|i| pattern(offset + i));
        if !buf.iter().copied().eq(expected) {
            return Err(io::Error::other(format!(
                "wrong data read at offset {offset}"
            )));
        }
        checked += 1;
    }
    drop(reads);
    let elapsed = start.elapsed();
    println!(
        "read {checked} random 4 KiB blocks in {:.1} ms ({:.0} reads/s, {:.0} MiB/s, {READS_IN_FLIGHT} in flight), all verified",
        elapsed.as_secs_f64() * 1e3,
        checked as f64 / elapsed.as_secs_f64(),
        mib_per_s((checked * READ_SIZE) as u64, elapsed)
    );

    let start = Instant::now();
    proactor::time::sleep(Duration::from_millis(100)).await?;
    println!(
        "slept 100 ms: woke after {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );

    file.close().await?;
    println!(
        "done: {} ops still held by the driver",
        proactor::Driver::current().in_flight()
    );
    Ok(())
}
