//! A per-file lock in the cache directory, held while a file is checked or downloaded.
//!
//! The lock is an OS file lock (`flock`) on `<name>.lock`, so it works between processes and between pods
//! that share the volume; it is released when the process dies, so a killed fetch never blocks the next.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a waiting fetch retries the lock.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// An exclusive lock on one parameter file; released on drop.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Takes the lock for `name` in `dir`, waiting while another process holds it.
    pub async fn acquire(dir: &Path, name: &str) -> std::io::Result<Self> {
        let path = dir.join(format!("{name}.lock"));
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { file, path }),
                Err(TryLockError::WouldBlock) => {
                    if !told {
                        tracing::info!(file = name, "another fetch holds the lock; waiting for it");
                        told = true;
                    }
                    tokio::time::sleep(RETRY_EVERY).await;
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_until_the_first_releases() {
        let dir = tempfile::tempdir().unwrap();
        let first = FileLock::acquire(dir.path(), "a.params").await.unwrap();
        let dir_path = dir.path().to_path_buf();
        let second = tokio::spawn(async move { FileLock::acquire(&dir_path, "a.params").await.unwrap() });
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(!second.is_finished(), "the second lock waits while the first is held");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), second).await.unwrap().unwrap();
        assert!(second.path().ends_with("a.params.lock"));
        // A different file is not blocked.
        FileLock::acquire(dir.path(), "b.params").await.unwrap();
    }
}
