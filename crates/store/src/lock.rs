//! The data directory's holder lock: `sesame serve` holds it while it runs, and
//! commands that rewrite configuration under the server's feet (import) take it too,
//! so they refuse to run beside a server instead of leaving its caches stale.

use crate::{Result, StoreError};
use std::fs::{File, OpenOptions};
use std::path::Path;

/// Held until dropped (or the process ends, even by `kill -9`).
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock of `data_dir` (created if missing), or fails at once with
    /// [`StoreError::InUse`] when another process holds it.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock> {
        let path = data_dir.join("sesame.lock");
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(StoreError::InUse(data_dir.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DataDirLock::acquire(dir.path()),
            Err(StoreError::InUse(_))
        ));
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
