//! `grep`: prints the lines that contain a fixed string, as
//! `grep -rnHF PATTERN PATH...` does (`path:line-number:line`). A directory
//! is searched recursively: listed through `fs::read_dir` (a `Stream`),
//! in name order, skipping the symlinks inside it as `grep -r` does. Files
//! are read with a few in flight.
//!
//! ```text
//! cargo run --release --features uring --example grep -- PATTERN PATH...
//! ```
//!
//! The exit status is grep's: 0 if a line matched, 1 if none did, 2 if
//! something could not be read.
//!
//! Each file is read line by line through its cursor (`File` is a
//! `futures::io::AsyncBufRead`, so `AsyncBufReadExt::lines` applies): the
//! memory a file takes is its read-ahead buffer, whatever its size.

use std::io::{self, Write};
use std::path::PathBuf;

use futures::io::AsyncBufReadExt;
use futures::stream::{self, StreamExt};
use proactor::fs;

/// Files read at once.
const IN_FLIGHT: usize = 8;

/// Reports a path that could not be read; the search goes on.
fn report(path: &std::path::Path, error: &io::Error) {
    eprintln!("grep: {}: {error}", path.display());
}

/// A path still to look at.
enum Pending {
    /// Named on the command line: a directory is listed, anything else
    /// searched (a symlink counts as what it points to, as grep's
    /// arguments do).
    Argument(PathBuf),
    /// A directory met while listing.
    Dir(PathBuf),
    /// A regular file met while listing.
    File(PathBuf),
}

/// The files to search, in order: the arguments, each directory replaced by
/// the regular files below it, depth first, in name order. What cannot be
/// read is reported, and sets `failed`.
async fn files_to_search(paths: Vec<PathBuf>, failed: &mut bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    // Last in, first out: pushed in reverse, so taken in order.
    let mut pending: Vec<Pending> = paths.into_iter().rev().map(Pending::Argument).collect();
    while let Some(next) = pending.pop() {
        let dir = match next {
            Pending::File(path) => {
                files.push(path);
                continue;
            }
            Pending::Dir(path) => path,
            Pending::Argument(path) => match fs::metadata(&path).await {
                Ok(meta) if meta.is_dir() => path,
                Ok(_) => {
                    files.push(path);
                    continue;
                }
                Err(e) => {
                    report(&path, &e);
                    *failed = true;
                    continue;
                }
            },
        };
        let mut entries = match fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) => {
                report(&dir, &e);
                *failed = true;
                continue;
            }
        };
        let mut here = Vec::new();
        while let Some(entry) = entries.next().await {
            match entry.and_then(|entry| Ok((entry.file_type()?, entry))) {
                Ok((kind, entry)) if kind.is_dir() => {
                    here.push((entry.file_name(), Pending::Dir(entry.path())))
                }
                Ok((kind, entry)) if kind.is_file() => {
                    here.push((entry.file_name(), Pending::File(entry.path())))
                }
                // Symlinks, sockets, FIFOs, devices: grep -r skips them.
                Ok(_) => {}
                Err(e) => {
                    report(&dir, &e);
                    *failed = true;
                }
            }
        }
        here.sort_by(|a, b| a.0.cmp(&b.0));
        pending.extend(here.into_iter().rev().map(|(_, path)| path));
    }
    files
}

/// The lines of `path` that contain `pattern`, with their numbers.
async fn matching_lines(path: &PathBuf, pattern: &str) -> io::Result<Vec<(usize, String)>> {
    let file = fs::File::open(path).await?;
    let mut lines = file.lines().enumerate();
    let mut matching = Vec::new();
    while let Some((index, line)) = lines.next().await {
        let line = line?;
        if line.contains(pattern) {
            matching.push((index + 1, line));
        }
    }
    Ok(matching)
}

/// Searches every file; returns (whether a line matched, whether something
/// failed).
async fn grep(
    pattern: &str,
    paths: Vec<PathBuf>,
    out: &mut impl Write,
) -> io::Result<(bool, bool)> {
    let mut failed = false;
    let files = files_to_search(paths, &mut failed).await;
    let mut searches = stream::iter(files)
        .map(|path| async move {
            let lines = matching_lines(&path, pattern).await;
            (path, lines)
        })
        .buffered(IN_FLIGHT);
    let mut matched = false;
    while let Some((path, lines)) = searches.next().await {
        match lines {
            Ok(lines) => {
                for (number, line) in lines {
                    matched = true;
                    writeln!(out, "{}:{number}:{line}", path.display())?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                eprintln!("grep: {}: not UTF-8 text, skipped", path.display());
            }
            Err(e) => {
                report(&path, &e);
                failed = true;
            }
        }
    }
    Ok((matched, failed))
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(pattern), paths) = (args.next(), args.map(PathBuf::from).collect::<Vec<_>>()) else {
        eprintln!("usage: grep PATTERN PATH...");
        std::process::exit(2);
    };
    let Some(pattern) = pattern.to_str().map(str::to_owned) else {
        eprintln!("grep: the pattern must be UTF-8");
        std::process::exit(2);
    };
    if paths.is_empty() {
        eprintln!("usage: grep PATTERN PATH...");
        std::process::exit(2);
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let outcome = proactor::block_on(grep(&pattern, paths, &mut out));
    let status = match outcome.and_then(|found| out.flush().map(|()| found)) {
        // A closed stdout (`grep ... | head`) ends the search quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("grep: {e}");
            2
        }
        Ok((_, true)) => 2,
        Ok((true, false)) => 0,
        Ok((false, false)) => 1,
    };
    std::process::exit(status);
}
