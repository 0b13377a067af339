//! A sector's identity and its files under a storage root, in Lotus's layout, and the staging of writes: a stage
//! never writes a sector file in place but writes a staged copy and renames it over the file when done.

use std::path::{Path, PathBuf};

use fvm_shared::sector::RegisteredSealProof;
use serde::{Deserialize, Serialize};

use super::error::SealingError;

/// A sector of a miner: the miner's actor id, the sector number and its on-chain seal proof type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorRef {
    /// The miner actor's id (`1000` for `t01000`).
    pub miner: u64,
    /// The sector number.
    pub number: u64,
    /// The on-chain seal proof type.
    pub proof: RegisteredSealProof,
}

impl SectorRef {
    /// The sector's file name in Lotus's layout: `s-t0{miner}-{number}`.
    pub fn file_name(&self) -> String {
        sector_file_name(self.miner, self.number)
    }
}

/// The file name of sector `number` of miner `miner` in Lotus's layout: `s-t0{miner}-{number}`.
pub fn sector_file_name(miner: u64, number: u64) -> String {
    format!("s-t0{miner}-{number}")
}

/// The paths of a sector under a storage root: `unsealed/s-t0M-N`, `sealed/s-t0M-N` and `cache/s-t0M-N/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorFiles {
    /// The unsealed data (the sector's pieces, padded).
    pub unsealed: PathBuf,
    /// The sealed replica.
    pub sealed: PathBuf,
    /// The directory of the sector's trees and auxiliary files.
    pub cache: PathBuf,
}

impl SectorFiles {
    /// The files of `sector` under the storage root `root`.
    pub fn new(root: &Path, sector: &SectorRef) -> Self {
        Self::named(root, &sector.file_name())
    }

    /// The files of the sector named `name` ([`sector_file_name`]) under the storage root `root`.
    pub fn named(root: &Path, name: &str) -> Self {
        Self {
            unsealed: root.join("unsealed").join(name),
            sealed: root.join("sealed").join(name),
            cache: root.join("cache").join(name),
        }
    }

    /// Creates the `unsealed/` and `sealed/` directories and the sector's cache directory (existing ones are kept).
    pub fn create_dirs(&self) -> Result<(), SealingError> {
        let dirs = [self.unsealed.parent(), self.sealed.parent(), Some(self.cache.as_path())];
        for dir in dirs.into_iter().flatten() {
            std::fs::create_dir_all(dir).map_err(|e| SealingError::io("create directory", dir, e))?;
        }
        Ok(())
    }
}

/// The staged path of a sector file: its name with `.tmp` appended, in the same directory (so a rename is atomic).
pub fn staged_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes the file `target` through its [`staged_path`]: removes a stale staged file, runs `write` on the staged
/// path, then syncs it and renames it over `target`. When `write` fails the staged file is removed and `target`
/// is left as it was.
pub fn write_staged<T>(target: &Path, write: impl FnOnce(&Path) -> Result<T, SealingError>) -> Result<T, SealingError> {
    let staged = staged_path(target);
    remove_if_present(&staged)?;
    let written = write(&staged).and_then(|value| {
        let file = std::fs::File::open(&staged).map_err(|e| SealingError::io("open", &staged, e))?;
        file.sync_all().map_err(|e| SealingError::io("sync", &staged, e))?;
        Ok(value)
    });
    match written {
        Ok(value) => {
            std::fs::rename(&staged, target).map_err(|e| SealingError::io("rename into place", &staged, e))?;
            Ok(value)
        }
        Err(error) => {
            // The stage's error is the one to report; a staged file left behind is removed by the next try.
            let _ = std::fs::remove_file(&staged);
            Err(error)
        }
    }
}

fn remove_if_present(path: &Path) -> Result<(), SealingError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SealingError::io("remove", path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sector() -> SectorRef {
        SectorRef { miner: 1000, number: 7, proof: RegisteredSealProof::StackedDRG2KiBV1P1 }
    }

    #[test]
    fn files_follow_the_lotus_layout() {
        let files = SectorFiles::new(Path::new("/store"), &sector());
        assert_eq!(files.unsealed, Path::new("/store/unsealed/s-t01000-7"));
        assert_eq!(files.sealed, Path::new("/store/sealed/s-t01000-7"));
        assert_eq!(files.cache, Path::new("/store/cache/s-t01000-7"));
        assert_eq!(staged_path(&files.sealed), Path::new("/store/sealed/s-t01000-7.tmp"));
    }

    #[test]
    fn sector_ref_round_trips_through_json() {
        let json = serde_json::to_string(&sector()).unwrap();
        assert_eq!(serde_json::from_str::<SectorRef>(&json).unwrap(), sector());
    }

    #[test]
    fn create_dirs_makes_the_three_directories() {
        let root = tempfile::tempdir().unwrap();
        let files = SectorFiles::new(root.path(), &sector());
        files.create_dirs().unwrap();
        files.create_dirs().unwrap();
        assert!(root.path().join("unsealed").is_dir());
        assert!(root.path().join("sealed").is_dir());
        assert!(files.cache.is_dir());
    }

    #[test]
    fn a_staged_write_replaces_the_file_only_when_it_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("s-t01000-7");
        std::fs::write(&target, b"old").unwrap();
        std::fs::write(staged_path(&target), b"stale").unwrap();

        let failed: Result<(), _> = write_staged(&target, |staged| {
            std::fs::write(staged, b"half").unwrap();
            Err(SealingError::InvalidInput("stage failed".into()))
        });
        assert!(matches!(failed, Err(SealingError::InvalidInput(_))));
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert!(!staged_path(&target).exists());

        let value = write_staged(&target, |staged| {
            assert!(!staged.exists(), "a stale staged file is removed first");
            std::fs::write(staged, b"new").map_err(|e| SealingError::io("write", staged, e))?;
            Ok(42)
        })
        .unwrap();
        assert_eq!(value, 42);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert!(!staged_path(&target).exists());
    }

    #[test]
    fn a_staged_write_that_writes_nothing_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing");
        let result = write_staged(&target, |_| Ok(()));
        assert!(matches!(result, Err(SealingError::Io { action: "open", .. })), "{result:?}");
        assert!(!target.exists());
    }
}
