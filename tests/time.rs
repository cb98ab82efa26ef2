//! Timers on both back ends.

mod common;

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
        let order = std::sync::Mutex::new(Vec::new());
        driver.block_on(futures::future::join_all((0..20u64).rev().map(|i| {
            let order = &order;
            async move {
                sleep(Duration::from_millis(5 * i)).await.unwrap();
                order.lock().unwrap().push(i);
            }
        })));
        let order = order.into_inner().unwrap();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted);
    }

    fn huge_durations_are_not_errors(driver) {
        let result = driver.block_on(timeout(Duration::from_millis(10), sleep(Duration::MAX)));
        assert!(result.is_err() && result.unwrap_err().timer_error().is_none());
        assert!(common::park_until(&driver, Duration::from_secs(5), || driver.in_flight() == 0));
    }
}
