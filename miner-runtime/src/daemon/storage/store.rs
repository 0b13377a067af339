//! One long-term store: a directory in Lotus's layout (`sealed/`, `cache/`) with its `sectorstore.json` (lotus
//! `LocalStorageMeta`: an ID that stays with the directory, so a store re-mounted elsewhere or moved to another
//! Miner is recognised, its weight and its byte limit), what it holds, and its file system's room.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file that marks a directory as a store (lotus-miner's name).
pub const META_FILE: &str = "sectorstore.json";

/// Lotus's default weight of a store.
pub const DEFAULT_WEIGHT: u64 = 10;

/// `sectorstore.json` (lotus `storiface.LocalStorageMeta`'s fields that sealstack uses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoreMeta {
    /// The store's ID, kept for its life.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its share of new sectors, against the other stores' weights.
    pub weight: u64,
    /// Whether it holds sealing scratch (never, here: workers seal on their own scratch).
    pub can_seal: bool,
    /// Whether finalized sectors are placed on it.
    pub can_store: bool,
    /// Bytes its sectors may take at most (0: the file system's room only).
    pub max_storage: u64,
}

/// How a store is attached: its directory, weight and byte limit (`run --store`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Its directory.
    pub path: PathBuf,
    /// Its weight (default 10).
    pub weight: u64,
    /// Bytes its sectors may take at most (0: no limit but the file system's).
    pub max_bytes: u64,
}

impl std::str::FromStr for StoreConfig {
    type Err = String;

    /// `PATH[,weight=N][,max-bytes=N]`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut parts = text.split(',');
        let path = parts.next().filter(|p| !p.is_empty()).ok_or("a store needs a path")?;
        let mut config = StoreConfig { path: PathBuf::from(path), weight: DEFAULT_WEIGHT, max_bytes: 0 };
        for option in parts {
            let (key, value) = option.split_once('=').ok_or(format!("expected key=value, got {option:?}"))?;
            let number: u64 = value.parse().map_err(|e| format!("{key}={value}: {e}"))?;
            match key {
                "weight" if number > 0 => config.weight = number,
                "weight" => return Err("weight must be at least 1".into()),
                "max-bytes" => config.max_bytes = number,
                _ => return Err(format!("unknown store option {key:?} (weight, max-bytes)")),
            }
        }
        Ok(config)
    }
}

/// An attached store.
#[derive(Clone, Debug)]
pub struct Store {
    /// Its directory.
    pub path: PathBuf,
    /// Its `sectorstore.json`.
    pub meta: StoreMeta,
}

/// What a store holds and has room for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreUsage {
    /// Sector numbers whose sealed file it holds.
    pub sectors: BTreeSet<u64>,
    /// Bytes of those sectors' files.
    pub used: u64,
    /// The file system's size (0 when it cannot be read).
    pub capacity: u64,
    /// Bytes the file system has free for us.
    pub available: u64,
    /// Whether the directory is gone (an unmounted volume): its sectors are not readable.
    pub missing: bool,
}

impl Store {
    /// Attaches `config`'s directory: its `sectorstore.json` read (or written with a new ID), with the weight and
    /// limit of `config` (the Miner's spec is the truth). A directory that does not exist is attached as missing,
    /// not created: an unmounted volume must not be filled in its mount point's place.
    pub fn attach(config: &StoreConfig) -> anyhow::Result<Store> {
        let file = config.path.join(META_FILE);
        let existing: Option<StoreMeta> = crate::repo::read_json(&file)?;
        let meta = StoreMeta {
            id: existing.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |m| m.id.clone()),
            weight: config.weight,
            can_seal: false,
            can_store: true,
            max_storage: config.max_bytes,
        };
        if config.path.is_dir() && existing.as_ref() != Some(&meta) {
            crate::repo::write_json(&file, &meta)?;
        }
        Ok(Store { path: config.path.clone(), meta })
    }

    /// The sectors of miner `miner` it holds (by their sealed file), their bytes, and its room.
    pub fn usage(&self, miner: u64) -> StoreUsage {
        if !self.path.is_dir() {
            return StoreUsage { missing: true, ..StoreUsage::default() };
        }
        let prefix = format!("s-t0{miner}-");
        let mut usage = StoreUsage::default();
        if let Ok(entries) = std::fs::read_dir(self.path.join("sealed")) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(number) = name.strip_prefix(&prefix).and_then(|n| n.parse().ok()) else { continue };
                usage.sectors.insert(number);
                usage.used += entry.metadata().map_or(0, |m| m.len());
                usage.used += dir_bytes(&self.path.join("cache").join(&name));
            }
        }
        if let Ok(stats) = fs2::statvfs(&self.path) {
            usage.capacity = stats.total_space();
            usage.available = stats.available_space();
        }
        usage
    }

    /// Bytes it can still take: its file system's room, within its limit.
    pub fn room(&self, usage: &StoreUsage) -> u64 {
        if usage.missing {
            return 0;
        }
        match self.meta.max_storage {
            0 => usage.available,
            max => usage.available.min(max.saturating_sub(usage.used)),
        }
    }
}

/// Bytes of the files directly in `dir`.
pub(super) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_a_path_with_a_weight_and_a_limit() {
        let parsed: StoreConfig = "/stores/a,weight=20,max-bytes=1000".parse().unwrap();
        assert_eq!(parsed, StoreConfig { path: "/stores/a".into(), weight: 20, max_bytes: 1000 });
        let plain: StoreConfig = "/stores/b".parse().unwrap();
        assert_eq!((plain.weight, plain.max_bytes), (DEFAULT_WEIGHT, 0));
        assert!("/s,weight=0".parse::<StoreConfig>().is_err());
        assert!("/s,size=3".parse::<StoreConfig>().unwrap_err().contains("unknown store option"));
        assert!("".parse::<StoreConfig>().is_err());
    }

    #[test]
    fn a_store_keeps_its_id_and_takes_the_weight_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig { path: dir.path().to_path_buf(), weight: 5, max_bytes: 0 };
        let first = Store::attach(&config).unwrap();
        let again = Store::attach(&StoreConfig { weight: 7, ..config }).unwrap();
        assert_eq!(again.meta.id, first.meta.id, "the ID stays with the directory");
        assert_eq!(again.meta.weight, 7);
        let written: StoreMeta = serde_json::from_slice(&std::fs::read(dir.path().join(META_FILE)).unwrap()).unwrap();
        assert_eq!(written, again.meta);
        // A directory that is not there is attached as missing, and not created.
        let gone = StoreConfig { path: dir.path().join("unmounted"), weight: 10, max_bytes: 0 };
        let store = Store::attach(&gone).unwrap();
        assert!(store.usage(1000).missing && !gone.path.exists());
        assert_eq!(store.room(&store.usage(1000)), 0);
    }
}
