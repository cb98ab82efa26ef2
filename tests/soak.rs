//! Soak: mixed file, TCP, timer and cancellation traffic for
//! `PROACTOR_SOAK_SECS` seconds per back end (skipped when unset; run by
//! `ci/soak.sh`). Reports ops done, fd count and RSS at the start (after a
//! warm-up) and at the end; fds must match and RSS must stay within a
//! bound.

// Unix only: the fd count and RSS come from /proc (or /dev/fd).
#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use proactor::fs::OpenOptions;
use proactor::net::{TcpListener, TcpStream};
use proactor::time::{sleep, timeout};

/// RSS growth allowed between the warmed-up start and the end.
const RSS_SLACK_KIB: u64 = 16 * 1024;

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page / 1024
}

#[derive(Default, Debug)]
struct Counts {
    file: u64,
    tcp: u64,
    timers: u64,
    cancels: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.file + self.tcp + self.timers + self.cancels
    }
}

async fn traffic(dir: &std::path::Path, until: Instant, counts: &mut Counts) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut round = 0u64;
    while Instant::now() < until {
        round += 1;
        // Files: write, read back, check, rotate.
        let path = dir.join(format!("soak{}", round % 4));
        let data = vec![(round % 251) as u8; 64 * 1024];
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        let (r, _) = file.write_all_at(data.clone(), 0).await;
        r.unwrap();
        let (r, back) = file.read_exact_at(Vec::with_capacity(data.len()), 0).await;
        r.unwrap();
        assert!(back == data);
        file.close().await.unwrap();
        counts.file += 4;

        // TCP: a fresh connection, a burst of round trips.
        let (client, server) = futures::join!(TcpStream::connect(addr), listener.accept());
        let (client, (server, _)) = (client.unwrap(), server.unwrap());
        for _ in 0..20 {
            let (r, sent) = client.write_all(vec![7u8; 512]).await;
            r.unwrap();
            let (r, echoed) = server.read_exact(sent).await;
            r.unwrap();
            let (r, _) = server.write_all(echoed).await;
            r.unwrap();
            let (r, _) = client.read_exact(vec![0u8; 512]).await;
            r.unwrap();
            counts.tcp += 4;
        }

        // Timers and cancellations.
        sleep(Duration::from_micros(200)).await.unwrap();
        counts.timers += 1;
        assert!(timeout(
            Duration::from_micros(100),
            client.read(Vec::with_capacity(8))
        )
        .await
        .is_err());
        assert!(timeout(Duration::from_micros(100), listener.accept())
            .await
            .is_err());
        assert!(
            timeout(Duration::from_micros(100), sleep(Duration::from_secs(60)))
                .await
                .is_err()
        );
        counts.cancels += 3;
    }
}

both_backends! {
    fn soak(driver) {
        let Some(secs) = std::env::var("PROACTOR_SOAK_SECS").ok().and_then(|v| v.parse::<u64>().ok()) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let _current = driver.enter();
        // Warm-up: pools, allocator arenas and slabs reach their size.
        let mut warm = Counts::default();
        driver.block_on(traffic(dir.path(), Instant::now() + Duration::from_secs(1), &mut warm));
        let (fds_start, rss_start) = (common::fd_count(), rss_kib());
        let mut counts = Counts::default();
        let started = Instant::now();
        driver.block_on(traffic(dir.path(), started + Duration::from_secs(secs), &mut counts));
        assert!(common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        let (fds_end, rss_end) = (common::fd_count(), rss_kib());
        println!(
            "soak {}: {:.1} s, {} ops ({counts:?}), fds {fds_start} -> {fds_end}, RSS {rss_start} KiB -> {rss_end} KiB",
            driver.backend(),
            started.elapsed().as_secs_f64(),
            counts.total(),
        );
        assert_eq!(fds_start, fds_end, "fds grew during the soak");
        assert!(rss_end <= rss_start + RSS_SLACK_KIB, "RSS grew from {rss_start} KiB to {rss_end} KiB");
    }
}
