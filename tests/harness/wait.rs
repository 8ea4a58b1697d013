//! Waiting on a condition with a deadline: the one polling loop of the suites.

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// Runs `probe` until it returns `Some`, or panics naming `what` after `timeout`.
pub async fn wait_for<T, F: Future<Output = Option<T>>>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
