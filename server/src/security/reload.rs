//! Material that follows its files: re-read every [`RELOAD_INTERVAL`] and rebuilt when the
//! contents changed. Comparing contents rather than watching for file events sees every way a
//! file is replaced (written in place, renamed over, a Kubernetes Secret volume's symlink
//! swap) with no platform-specific notifier; a few small reads a second cost nothing.

use std::{path::PathBuf, sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often watched files are re-read.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// A set of files read together.
#[derive(Clone, Debug)]
pub(crate) struct Watched {
    paths: Vec<PathBuf>,
}

/// Why files could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {cause}")]
pub struct ReadError {
    /// The file.
    pub path: String,
    /// The OS error.
    pub cause: std::io::Error,
}

impl Watched {
    pub(crate) fn new(paths: Vec<PathBuf>) -> Self {
        Self { paths }
    }

    /// The files' contents, in order.
    pub(crate) fn read(&self) -> Result<Vec<Vec<u8>>, ReadError> {
        self.paths
            .iter()
            .map(|path| {
                std::fs::read(path).map_err(|cause| ReadError {
                    path: path.display().to_string(),
                    cause,
                })
            })
            .collect()
    }

    /// Loads the files once with `build`, then keeps `build`'s latest success in the returned
    /// cell, re-reading every [`RELOAD_INTERVAL`] until `stop`. A change that does not build is
    /// logged once and the previous value stays.
    pub(crate) fn follow<T, E>(
        self,
        what: &'static str,
        build: impl Fn(&[Vec<u8>]) -> Result<T, E> + Send + 'static,
        stop: CancellationToken,
    ) -> Result<Arc<ArcSwap<T>>, String>
    where
        T: Send + Sync + 'static,
        E: std::fmt::Display,
    {
        let contents = self.read().map_err(|err| err.to_string())?;
        let value = build(&contents).map_err(|err| err.to_string())?;
        let cell = Arc::new(ArcSwap::from_pointee(value));
        let target = Arc::clone(&cell);
        tokio::spawn(async move {
            let mut seen = contents;
            let mut interval = tokio::time::interval(RELOAD_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    () = stop.cancelled() => return,
                }
                let read = self.read();
                let current = match read {
                    Ok(current) if current != seen => current,
                    Ok(_) => continue,
                    Err(err) => {
                        // Logged once per distinct failure: a missing file stays missing.
                        let failure = err.to_string().into_bytes();
                        if seen != [failure.clone()] {
                            warn!(%what, error = %err, "cannot re-read; keeping the loaded one");
                            seen = vec![failure];
                        }
                        continue;
                    }
                };
                match build(&current) {
                    Ok(value) => {
                        target.store(Arc::new(value));
                        info!(%what, "reloaded");
                    }
                    Err(err) => {
                        warn!(%what, error = %err, "new contents rejected; keeping the loaded one")
                    }
                }
                seen = current;
            }
        });
        Ok(cell)
    }
}
