//! The same futures, doing real file and TCP I/O, under every executor:
//! proactor's own block_on, tokio (current-thread and multi-thread with
//! `tokio::spawn`), smol, and futures' `block_on` and `ThreadPool`. They run
//! on the process-wide driver, once per back end, each in a child process
//! with `PROACTOR_BACKEND` set.

mod common;

use std::time::Duration;

use futures::task::SpawnExt;
use proactor::net::{TcpListener, TcpStream};
use proactor::time::{sleep, timeout};

/// File and TCP I/O and timers, as a library would use them.
async fn workload(id: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("file-{id}"));
    let data = format!("workload {id}").into_bytes();
    proactor::fs::write(&path, data.clone()).await.unwrap();
    assert_eq!(proactor::fs::read(&path).await.unwrap(), data);

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let (r, _) = client.write_all(data.clone()).await;
    r.unwrap();
    let (r, echoed) = server.read_exact(vec![0; data.len()]).await;
    r.unwrap();
    assert_eq!(echoed, data);

    sleep(Duration::from_millis(2)).await.unwrap();
    assert!(
        timeout(Duration::from_millis(5), sleep(Duration::from_secs(60)))
            .await
            .is_err()
    );
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

fn run_everywhere() {
    proactor::block_on(workload(0));

    common::current_thread_runtime().block_on(workload(1));

    common::multi_thread_runtime().block_on(async {
        let tasks: Vec<_> = (10..18)
            .map(|id| tokio::spawn(assert_send(workload(id))))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });

    smol::block_on(workload(2));
    let executor = smol::Executor::new();
    let tasks: Vec<_> = (20..24).map(|id| executor.spawn(workload(id))).collect();
    smol::block_on(executor.run(futures::future::join_all(tasks)));

    futures::executor::block_on(workload(3));
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(2)
        .create()
        .unwrap();
    let handles: Vec<_> = (30..36)
        .map(|id| pool.spawn_with_handle(workload(id)).unwrap())
        .collect();
    futures::executor::block_on(futures::future::join_all(handles));
}

/// Runs only as a child of `same_futures_under_every_runtime`.
#[test]
fn child_runs_every_runtime() {
    let Ok(expected) = std::env::var("PROACTOR_TEST_RUNTIME_CHILD") else {
        return;
    };
    assert_eq!(proactor::Driver::current().backend().to_string(), expected);
    run_everywhere();
    let global = proactor::Driver::current();
    assert!(
        common::park_until(&global, Duration::from_secs(10), || global.in_flight() == 0),
        "ops left on the global driver: {}",
        global.in_flight()
    );
    println!("CHILD-OK");
}

#[test]
fn same_futures_under_every_runtime() {
    for backend in common::backends() {
        let name = backend.to_string();
        let (ok, out) = common::run_child(
            "child_runs_every_runtime",
            &[
                ("PROACTOR_TEST_RUNTIME_CHILD", &name),
                ("PROACTOR_BACKEND", common::env_name(backend)),
            ],
        );
        assert!(
            ok && out.contains("CHILD-OK"),
            "{name}: child failed:\n{out}"
        );
    }
}
