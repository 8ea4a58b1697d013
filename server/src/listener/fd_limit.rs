//! The open-files limit: raised to its hard limit at start, and shared between client
//! connections and the store, which must always be able to open its files.

use tracing::{info, warn};

/// Descriptors kept for the store (log segments, sled's files, checkpoints) and the process.
pub(super) const STORE_RESERVE: usize = 256;

/// Raises the soft RLIMIT_NOFILE to the hard limit, as etcd and most servers do, and returns
/// the soft limit now in force (`None` when it cannot be read).
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            info!(
                from = limit.rlim_cur,
                to = raised.rlim_cur,
                "raised the open-files limit"
            );
            limit = raised;
        }
    }
    Some(limit.rlim_cur)
}

/// The connection cap: `requested`, lowered so that the store keeps [`STORE_RESERVE`]
/// descriptors under `open_files`.
pub fn connection_cap(requested: usize, open_files: Option<u64>) -> usize {
    let Some(open_files) = open_files else {
        return requested;
    };
    let available = usize::try_from(open_files)
        .unwrap_or(usize::MAX)
        .saturating_sub(STORE_RESERVE)
        .max(1);
    if requested > available {
        warn!(
            requested,
            allowed = available,
            open_files,
            "--max-connections lowered to keep descriptors for the store"
        );
    }
    requested.min(available)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_keeps_its_reserve() {
        assert_eq!(connection_cap(10_000, Some(1024)), 1024 - STORE_RESERVE);
        assert_eq!(connection_cap(100, Some(1024)), 100);
        assert_eq!(connection_cap(100, Some(10)), 1);
        assert_eq!(connection_cap(100, None), 100);
    }
}
