//! `cp`: copies a file with N reads in flight, each chunk written back at
//! its offset as soon as it arrives.
//!
//! ```text
//! cargo run --release --features uring --example cp -- SRC DST [--in-flight N] [--chunk BYTES]
//! ```

use std::io;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};
use proactor::fs::{File, OpenOptions};

struct Args {
    src: String,
    dst: String,
    in_flight: usize,
    chunk: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut in_flight = 8;
    let mut chunk = 256 * 1024;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--in-flight" => in_flight = number(args.next(), "--in-flight")?,
            "--chunk" => chunk = number(args.next(), "--chunk")?,
            _ => positional.push(arg),
        }
    }
    let [src, dst]: [String; 2] = positional
        .try_into()
        .map_err(|_| "expected SRC and DST".to_string())?;
    if in_flight == 0 || chunk == 0 {
        return Err("--in-flight and --chunk must be at least 1".into());
    }
    Ok(Args {
        src,
        dst,
        in_flight,
        chunk,
    })
}

fn number(value: Option<String>, flag: &str) -> Result<usize, String> {
    value
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

async fn copy_chunk(src: &File, dst: &File, offset: u64, chunk: usize) -> io::Result<usize> {
    let (result, buf) = src.read_at(Vec::with_capacity(chunk), offset).await;
    let n = result?;
    let (result, _) = dst.write_all_at(buf, offset).await;
    result?;
    Ok(n)
}

async fn copy(args: &Args) -> io::Result<u64> {
    let src = File::open(&args.src).await?;
    let len = src.len().await?;
    let dst = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&args.dst)
        .await?;
    let mut copies = FuturesUnordered::new();
    let mut next = 0u64;
    let mut copied = 0u64;
    loop {
        while copies.len() < args.in_flight && next < len {
            copies.push(copy_chunk(&src, &dst, next, args.chunk));
            next += args.chunk as u64;
        }
        match copies.next().await {
            Some(n) => copied += n? as u64,
            None => break,
        }
    }
    drop(copies);
    dst.sync_all().await?;
    dst.close().await?;
    src.close().await?;
    Ok(copied)
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("cp: {e}\nusage: cp SRC DST [--in-flight N] [--chunk BYTES]");
        std::process::exit(2);
    });
    let start = Instant::now();
    match proactor::block_on(copy(&args)) {
        Ok(bytes) => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "copied {bytes} bytes in {:.1} ms ({:.0} MiB/s, {} reads in flight)",
                secs * 1e3,
                bytes as f64 / (1 << 20) as f64 / secs,
                args.in_flight
            );
        }
        Err(e) => {
            eprintln!("cp: {e}");
            std::process::exit(1);
        }
    }
}
