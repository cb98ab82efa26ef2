//! Timers on both back ends.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use proactor::time::{sleep, sleep_until, timeout};

both_backends! {
    fn sleep_until_a_deadline(driver) {
        let start = Instant::now();
        driver.block_on(sleep_until(start + Duration::from_millis(30))).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(30));
        // A deadline in the past completes at once.
        driver.block_on(sleep_until(start)).unwrap();
    }

    fn timeout_elapses_and_cancels_the_future(driver) {
        let result = driver.block_on(timeout(Duration::from_millis(20), sleep(Duration::from_secs(3600))));
        let elapsed = result.unwrap_err();
        assert!(elapsed.timer_error().is_none());
        assert_eq!(std::io::Error::from(elapsed).kind(), std::io::ErrorKind::TimedOut);
        assert!(
            common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0),
            "the hour-long sleep was not cancelled"
        );
    }

    fn timeout_passes_the_output_and_cancels_its_timer(driver) {
        let value = driver.block_on(timeout(Duration::from_secs(3600), async {
            sleep(Duration::from_millis(5)).await.unwrap();
            42
        }));
        assert_eq!(value.unwrap(), 42);
        assert!(
            common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0),
            "the hour-long timeout timer was not cancelled"
        );
    }

    fn many_timers_fire_in_order(driver) {
        // The driver promises deadline order, not one wake-up per timer:
        // timers due together (a slow or emulated machine makes 5 ms
        // apart "together") complete in one turn, and the order in which
        // an executor then polls their futures says nothing. So one future
        // polls every sleep itself and checks what the driver has
        // completed at each look: a timer seen pending while a later one
        // was already seen done proves a later deadline ended first.
        const TIMERS: usize = 20;
        const STEP: Duration = Duration::from_millis(5);
        let start = Instant::now();
        let mut sleeps: Vec<_> = (0..TIMERS).map(|i| Some(Box::pin(sleep(STEP * i as u32)))).collect();
        let mut done_at: Vec<Option<Instant>> = vec![None; TIMERS];
        let mut first_pass = true;
        driver.block_on(futures::future::poll_fn(|cx| {
            // Submitted (first polled) in deadline order, so each deadline
            // the driver computes is STEP after the one before, however
            // slowly the submissions run. After that, latest deadline
            // first: a timer found pending is judged only against later
            // timers looked at before it, so a timer completed between
            // two looks is never blamed.
            let order: Vec<usize> = if first_pass { (0..TIMERS).collect() } else { (0..TIMERS).rev().collect() };
            first_pass = false;
            for i in order {
                let Some(timer) = sleeps[i].as_mut() else { continue };
                match timer.as_mut().poll(cx) {
                    std::task::Poll::Ready(result) => {
                        result.unwrap();
                        done_at[i] = Some(Instant::now());
                        sleeps[i] = None;
                    }
                    std::task::Poll::Pending => {
                        let later_done: Vec<usize> = (i + 1..TIMERS).filter(|&j| done_at[j].is_some()).collect();
                        assert!(later_done.is_empty(), "timer {i} is pending but later timers {later_done:?} are done");
                    }
                }
            }
            if sleeps.iter().all(Option::is_none) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        }));
        // `start` precedes every submission: no driver deadline is earlier.
        for (i, done) in done_at.into_iter().enumerate() {
            let deadline = start + STEP * i as u32;
            assert!(done.unwrap() >= deadline, "timer {i} completed before its deadline");
        }
    }

    fn huge_durations_are_not_errors(driver) {
        let result = driver.block_on(timeout(Duration::from_millis(10), sleep(Duration::MAX)));
        assert!(result.is_err() && result.unwrap_err().timer_error().is_none());
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
    }
}
