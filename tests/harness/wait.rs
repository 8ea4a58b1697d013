//! Waiting on a condition with a deadline: the one polling loop of the suites.

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// Runs `probe` until it returns `Some`, or panics naming `what` after `timeout`.
pub async fn wait_for<T, F: Future<Output = Option<T>>>(
    what: &str,
    timeout: Duration,
    probe: impl FnMut() -> F,
) -> T {
    wait_for_explained(what, timeout, probe, String::new).await
}

/// [`wait_for`], whose panic adds what `explain` says then (a process's log, say).
pub async fn wait_for_explained<T, F: Future<Output = Option<T>>>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> F,
    explain: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}\n{}", explain());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
