//! `cat`: prints files to stdout, reading them through proactor with a few
//! reads in flight.
//!
//! ```text
//! cargo run --release --features uring --example cat -- FILE...
//! ```

use std::io::{self, Write};

use futures::stream::{FuturesOrdered, StreamExt};
use proactor::fs::File;

const CHUNK: usize = 128 * 1024;
const IN_FLIGHT: usize = 4;

async fn cat(path: &str, out: &mut impl Write) -> io::Result<()> {
    let file = File::open(path).await?;
    let len = file.len().await?;
    let mut reads = FuturesOrdered::new();
    let mut next = 0u64;
    loop {
        while reads.len() < IN_FLIGHT && next < len {
            reads.push_back(file.read_at(Vec::with_capacity(CHUNK), next));
            next += CHUNK as u64;
        }
        let Some((result, buf)) = reads.next().await else {
            break;
        };
        let n = result?;
        out.write_all(&buf[..n])?;
        if n < CHUNK {
            // The file shrank while we read it: stop at its new end.
            break;
        }
    }
    drop(reads);
    file.close().await
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: cat FILE...");
        std::process::exit(2);
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    proactor::block_on(async {
        for path in &paths {
            if let Err(e) = cat(path, &mut out).await {
                eprintln!("cat: {path}: {e}");
                failed = true;
            }
        }
    });
    if out.flush().is_err() || failed {
        std::process::exit(1);
    }
}
