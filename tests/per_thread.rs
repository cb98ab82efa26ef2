//! `PerThreadDriver`: a driver of its own for each thread, the rules its
//! docs state (which driver an operation takes, futures moved to another
//! thread, a thread that exits with operations in flight, handles dropped),
//! and afterwards no fd (Windows: handle) and no thread left behind.

mod common;

use std::io::Write;
use std::time::Duration;

use proactor::op::{Nop, Op, Recv};
use proactor::{Backend, Driver, PerThreadDriver};

/// Runs `body` on a thread of its own, which exits before this returns:
/// the drivers it made for itself go with it, before the next test counts
/// fds.
fn on_a_thread<T: Send>(body: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(body).join().unwrap())
}

/// A receive on `socket` started on this thread's driver, in flight
/// (nothing has been sent yet).
fn started_recv(
    drivers: &PerThreadDriver,
    socket: std::net::TcpStream,
) -> Op<Recv<std::net::TcpStream, Vec<u8>>> {
    common::started_on(drivers, Recv::new(socket, vec![0; 16]))
}

/// The thread's own driver, kept; another thread's and another handle's
/// are others; `block_on` and the operations inside take the thread's.
fn threads_get_drivers_of_their_own(backend: Backend) {
    let drivers = common::per_thread(backend);
    let here = drivers.driver().unwrap();
    assert!(
        here.same_driver(&drivers.driver().unwrap()),
        "kept for the thread"
    );
    assert_eq!(here.backend(), backend);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            drivers
                .block_on(async {
                    let current = Driver::current();
                    assert!(
                        current.same_driver(&drivers.driver().unwrap()),
                        "block_on runs on it"
                    );
                    assert!(
                        !current.same_driver(&here),
                        "another thread, another driver"
                    );
                    let nop = Op::new(Nop::new()).unwrap();
                    assert!(nop.driver().same_driver(&current), "operations take it");
                    nop.await.unwrap();
                })
                .unwrap()
        });
    });
    let other = common::per_thread(backend);
    assert!(
        !here.same_driver(&other.driver().unwrap()),
        "another handle, another driver"
    );
}

both_backends! {
    fn each_thread_gets_a_driver_of_its_own_and_its_operations_use_it(driver) {
        on_a_thread(|| threads_get_drivers_of_their_own(driver.backend()));
    }

    fn a_future_moved_to_another_thread_completes_while_its_thread_parks(driver) {
        // On a thread of its own, which ends before the count: Windows
        // keeps some handles per thread (see `leaks_no_handles`).
        common::leaks_no_handles("a moved receive", || {
            let drivers = common::per_thread(driver.backend());
            let (mut client, server) = common::std_tcp_pair();
            let (moved_tx, moved_rx) = std::sync::mpsc::channel();
            let (done_tx, done_rx) = futures::channel::oneshot::channel::<()>();
            std::thread::scope(|scope| {
                let drivers = &drivers;
                scope.spawn(move || {
                    moved_tx.send(started_recv(drivers, server)).unwrap();
                    // Parks on its own driver until told the moved receive is
                    // done: the receive's completion is reaped here.
                    drivers.block_on(done_rx).unwrap().unwrap();
                });
                let recv = moved_rx.recv().unwrap();
                client.write_all(b"moved").unwrap();
                let (result, buf) = common::finishes_within(Duration::from_secs(10), "the moved receive", move || {
                    futures::executor::block_on(recv)
                });
                assert_eq!(&buf[..result.unwrap()], b"moved");
                done_tx.send(()).unwrap();
            });
            drop((client, drivers));
        });
    }

    fn a_thread_that_exits_hands_its_operations_on(driver) {
        // On a thread of its own, which ends before the count: Windows
        // keeps some handles per thread (see `leaks_no_handles`).
        common::leaks_no_handles("an orphaned receive", || {
            let drivers = common::per_thread(driver.backend());
            let (mut client, server) = common::std_tcp_pair();
            let (parked_client, parked_server) = common::std_tcp_pair();
            let (recv, dropped) = std::thread::scope(|scope| {
                scope
                    .spawn(|| (started_recv(&drivers, server), started_recv(&drivers, parked_server)))
                    .join()
                    .unwrap()
            });
            // Its thread is gone: the receive is driven elsewhere now, and so is
            // the one dropped here, which is cancelled and cleaned up.
            drop(dropped);
            client.write_all(b"orphan").unwrap();
            let (result, buf) = common::finishes_within(Duration::from_secs(10), "the orphaned receive", move || {
                futures::executor::block_on(recv)
            });
            assert_eq!(&buf[..result.unwrap()], b"orphan");
            drop((client, parked_client, drivers));
        });
        #[cfg(target_os = "linux")]
        assert_eq!(
            common::orphan_threads_settle(),
            0,
            "the thread that drove the exited thread's driver ended"
        );
    }

    fn a_thread_that_exits_with_nothing_in_flight_leaves_nothing(driver) {
        let fds = common::open_handles();
        let drivers = common::per_thread(driver.backend());
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| drivers.block_on(async { Op::new(Nop::new()).unwrap().await.unwrap() }).unwrap());
            }
        });
        let now = common::open_handles_settle(fds);
        common::assert_no_more_handles(now, fds, "each thread's driver");
        drop(drivers);
    }

    fn a_dropped_handle_lets_the_threads_drivers_go(driver) {
        let fds = common::open_handles();
        on_a_thread(|| {
            let first = common::per_thread(driver.backend());
            drop(first.driver().unwrap());
            let with_one = common::open_handles();
            drop(first);
            // The next call on this thread lets the first handle's driver go.
            let second = common::per_thread(driver.backend());
            let _kept = second.driver().unwrap();
            assert_eq!(common::open_handles(), with_one, "the first driver was let go as the second was made");
        });
        let now = common::open_handles_settle(fds);
        common::assert_no_more_handles(now, fds, "the thread's driver");
    }
}
