//! Liveness under load: many ping-pongs while a second thread parks on the
//! same driver, as the process-wide driver's own thread does. A lost
//! wake-up shows here as a stall, which the watchdog turns into a failure.

mod common;

use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use proactor::net::{TcpListener, TcpStream};

const CONNECTIONS: usize = 16;
const ROUND_TRIPS: usize = 1500;
/// Rounds of connections; `PROACTOR_STRESS_ROUNDS` raises it (ci/test.sh
/// runs a longer release-mode pass).
fn rounds() -> usize {
    std::env::var("PROACTOR_STRESS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}
/// No progress at all for this long is a hang, not slowness.
const STALL_LIMIT: Duration = Duration::from_secs(20);

fn watchdog(progress: Arc<AtomicU64>, done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut last, mut since) = (0, Instant::now());
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
            let now = progress.load(Ordering::SeqCst);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > STALL_LIMIT {
                eprintln!("stalled after {now} round trips: a lost wake-up");
                std::process::exit(101);
            }
        }
    })
}

/// A future handed to a `block_on`.
type Work<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

/// Ping-pongs on `CONNECTIONS` connections, `rounds` times, each round run
/// by `block_on`; counts round trips in `progress`.
fn ping_pong(block_on: &dyn Fn(Work<'_>), progress: &AtomicU64, rounds: usize) {
    for _ in 0..rounds {
        block_on(Box::pin(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = async {
                let mut echoes = Vec::new();
                for _ in 0..CONNECTIONS {
                    let (stream, _) = listener.accept().await.unwrap();
                    echoes.push(async move {
                        let mut buf = Vec::with_capacity(64);
                        loop {
                            buf.clear();
                            let (n, read) = stream.read(buf).await;
                            if n.unwrap() == 0 {
                                break;
                            }
                            let (r, written) = stream.write_all(read).await;
                            r.unwrap();
                            buf = written;
                        }
                    });
                }
                join_all(echoes).await;
            };
            let clients = join_all((0..CONNECTIONS).map(|_| async {
                let client = TcpStream::connect(addr).await.unwrap();
                let mut buf = vec![1u8; 64];
                for _ in 0..ROUND_TRIPS {
                    let (r, sent) = client.write_all(buf).await;
                    r.unwrap();
                    let (r, echoed) = client.read_exact(sent).await;
                    r.unwrap();
                    buf = echoed;
                    progress.fetch_add(1, Ordering::SeqCst);
                }
                client.shutdown(Shutdown::Write).await.unwrap();
            }));
            futures::join!(server, clients);
        }));
    }
}

both_backends! {
    fn ping_pong_with_a_second_parker(driver) {
        let stop = Arc::new(AtomicBool::new(false));
        let second_parker = {
            let (driver, stop) = (driver.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    driver.park(None).unwrap();
                }
            })
        };
        let progress = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let dog = watchdog(progress.clone(), done.clone());
        let rounds = rounds();
        ping_pong(&|fut| driver.block_on(fut), &progress, rounds);
        done.store(true, Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        driver.unpark();
        second_parker.join().unwrap();
        dog.join().unwrap();
        assert_eq!(progress.load(Ordering::SeqCst), (CONNECTIONS * ROUND_TRIPS * rounds) as u64);
    }
}

/// Runs only as a child of `ping_pong_on_the_process_wide_driver`.
#[test]
fn child_ping_pong_on_the_global_driver() {
    if std::env::var_os("PROACTOR_TEST_STRESS_CHILD").is_none() {
        return;
    }
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let dog = watchdog(progress.clone(), done.clone());
    let rounds = rounds();
    ping_pong(&|fut| proactor::block_on(fut), &progress, rounds);
    done.store(true, Ordering::SeqCst);
    dog.join().unwrap();
    assert_eq!(
        progress.load(Ordering::SeqCst),
        (CONNECTIONS * ROUND_TRIPS * rounds) as u64
    );
    println!("CHILD-OK");
}

/// `proactor::block_on` on the process-wide driver, whose own thread parks
/// on it too, on each back end.
#[test]
fn ping_pong_on_the_process_wide_driver() {
    let _serial = common::serial();
    let rounds = rounds().to_string();
    for backend in common::backends().into_iter().map(common::env_name) {
        let (ok, out) = common::run_child(
            "child_ping_pong_on_the_global_driver",
            &[
                ("PROACTOR_TEST_STRESS_CHILD", "1"),
                ("PROACTOR_BACKEND", backend),
                ("PROACTOR_STRESS_ROUNDS", &rounds),
            ],
        );
        assert!(ok && out.contains("CHILD-OK"), "{backend}: {out}");
    }
}
