//! The data directory's lock: one hostendpointd per directory, said in words.
//!
//! sled locks its own `db` file too, but its refusal is an I/O error of Rust debug text
//! ("could not acquire lock on ...: Os { code: 11, kind: WouldBlock, .. }"). Taking our own
//! lock first, on `LOCK` as etcd's bbolt and LevelDB do, lets the server name the cause.

use std::{
    fs::{File, OpenOptions, TryLockError},
    path::Path,
};

use super::OpenError;

/// The lock file in the data directory.
const LOCK_FILE: &str = "LOCK";

/// Holds the lock until dropped (the OS drops it when the process ends, however it ends).
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Creates the directory if needed and locks it, or says who holds it.
    pub(super) fn acquire(dir: &Path) -> Result<Self, OpenError> {
        let io_err = |cause| OpenError::Io {
            path: dir.to_path_buf(),
            cause,
        };
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(OpenError::Locked {
                path: dir.to_path_buf(),
            }),
            Err(TryLockError::Error(cause)) => Err(io_err(cause)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let first = DirLock::acquire(dir.path()).expect("the first lock");
        let second = DirLock::acquire(dir.path());
        assert!(
            matches!(second, Err(OpenError::Locked { .. })),
            "{second:?}"
        );
        drop(first);
        DirLock::acquire(dir.path()).expect("the lock once released");
    }
}
