//! Start-up against an etcd that is not up yet, as the Kubernetes API server waits for its
//! etcd: every step is tried again with backoff until it succeeds (or the server is stopped),
//! and the log says so at the first failure and then once in a while, not at every attempt.

use std::{
    fmt::Display,
    future::Future,
    time::{Duration, Instant},
};

use tracing::{info, warn};

use super::feed::retry_delay;

/// How often a start-up still waiting for etcd says so.
const STILL_WAITING_EVERY: Duration = Duration::from_secs(30);

/// The result of `attempt`, tried until it succeeds. `what` names the step in the log
/// ("the first listing"), `endpoints` where etcd was looked for.
pub(super) async fn until_ok<T, E, Fut>(
    what: &str,
    endpoints: &str,
    mut attempt: impl FnMut() -> Fut,
) -> T
where
    E: Display,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut failures = 0u32;
    let mut said_at: Option<Instant> = None;
    loop {
        match attempt().await {
            Ok(value) => {
                if failures > 0 {
                    info!(
                        endpoints,
                        attempts = failures + 1,
                        waited = %humantime::format_duration(whole_seconds(started.elapsed())),
                        "reached etcd for {what}"
                    );
                }
                return value;
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                let due = said_at.is_none_or(|at| at.elapsed() >= STILL_WAITING_EVERY);
                if due {
                    let waited = humantime::format_duration(whole_seconds(started.elapsed()));
                    if said_at.is_none() {
                        warn!(endpoints, error = %err, "cannot reach etcd for {what}; retrying until it answers");
                    } else {
                        warn!(endpoints, attempts = failures, %waited, error = %err, "still waiting for etcd for {what}");
                    }
                    said_at = Some(Instant::now());
                }
                tokio::time::sleep(retry_delay(failures)).await;
            }
        }
    }
}

/// A wait in whole seconds, as people read it.
fn whole_seconds(elapsed: Duration) -> Duration {
    Duration::from_secs(elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_are_tried_again_until_one_succeeds() {
        let calls = Cell::new(0);
        let value = until_ok("the test", "http://127.0.0.1:1", || {
            calls.set(calls.get() + 1);
            let ok = calls.get() == 4;
            async move { if ok { Ok(7) } else { Err("refused") } }
        })
        .await;
        assert_eq!((value, calls.get()), (7, 4));
    }
}
