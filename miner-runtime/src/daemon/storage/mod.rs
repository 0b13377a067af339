//! The miner's long-term sector storage: one or more stores in Lotus's layout (`lotus-miner storage attach
//! --store`), the default one `<repo>/storage` and those attached with `run --store`. Each finalized sector is
//! placed on the store with room whose bytes per weight are lowest (so sectors spread by weight), and an index
//! says which store holds each sector; PoSt reads from there. A store whose directory is gone makes its sectors
//! unreadable (they fail the proving check and are declared faulty) and takes no new ones. The HTTP endpoints
//! ([`remote`]): workers upload a finalized sector into `incoming/<task>/` of the store chosen for it; the daemon
//! moves the files into place once the task is done, so a half-finished upload never replaces anything. A sector
//! moves between stores by [`moving`], crash-safe.

pub mod metrics;
pub mod moving;
pub mod remote;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

pub use remote::RemoteFiles;
pub use store::{Store, StoreConfig, StoreUsage};

use crate::sealing::sector::sector_file_name;
use crate::sealing::{SectorFiles, SectorRef};

/// Files of the cache directory a finalized sector keeps: the layers and other PreCommit1 scratch are left behind.
pub fn kept_in_cache(name: &str) -> bool {
    !name.starts_with("sc-02-data-layer-") && !name.ends_with(".tmp")
}

/// A store with what it holds, as read now.
#[derive(Clone, Debug)]
pub struct StoreState {
    /// The store.
    pub store: Store,
    /// What it holds and its room.
    pub usage: StoreUsage,
}

impl StoreState {
    /// As the API answers it.
    pub fn stat(&self) -> crate::protocol::StoreStat {
        crate::protocol::StoreStat {
            id: self.store.meta.id.clone(),
            path: self.store.path.display().to_string(),
            weight: self.store.meta.weight,
            max_storage: self.store.meta.max_storage,
            sectors: self.usage.sectors.len() as u64,
            used: self.usage.used,
            capacity: self.usage.capacity,
            available: self.usage.available,
            room: self.store.room(&self.usage),
            missing: self.usage.missing,
        }
    }
}

/// The long-term stores and the index of which holds each sector.
#[derive(Debug)]
pub struct Storage {
    miner: u64,
    /// Bytes a finalized sector takes ([`finalized_bytes`]).
    sector_bytes: u64,
    stores: Vec<Store>,
    /// Sector number → index in `stores`.
    index: Mutex<BTreeMap<u64, usize>>,
}

impl Storage {
    /// The default store `root` (created) and the `attached` ones, for miner `miner`'s sectors of `sector_size`;
    /// the index read from what each holds.
    pub fn open(miner: u64, sector_size: u64, root: &Path, attached: &[StoreConfig]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)?;
        let mut stores = vec![Store::attach(&StoreConfig {
            path: root.to_path_buf(),
            weight: store::DEFAULT_WEIGHT,
            max_bytes: 0,
        })?];
        for config in attached {
            let store = Store::attach(config)?;
            if let Some(twin) = stores.iter().find(|s| s.meta.id == store.meta.id) {
                anyhow::bail!(
                    "{} and {} are the same store ({})",
                    twin.path.display(),
                    store.path.display(),
                    twin.meta.id
                );
            }
            stores.push(store);
        }
        let sector_bytes = finalized_bytes(sector_size);
        let storage = Storage { miner, sector_bytes, stores, index: Mutex::new(BTreeMap::new()) };
        storage.recover()?;
        storage.redeclare();
        Ok(storage)
    }

    /// Reads again which store holds each sector (after files were moved by hand: `storage redeclare`); a sector
    /// found on two stores counts where its files are complete, the first store on a tie. Returns each store's
    /// state.
    pub fn redeclare(&self) -> Vec<StoreState> {
        let stats = self.stats();
        let mut index = BTreeMap::new();
        for (position, stat) in stats.iter().enumerate() {
            for number in &stat.usage.sectors {
                let complete = |at: usize| self.complete_at(at, *number);
                match index.get(number) {
                    Some(&first) if complete(first) || !complete(position) => {
                        let (kept, also) = (stats[first].store.path.display(), stat.store.path.display());
                        tracing::warn!(sector = number, %kept, %also, "a sector on two stores");
                    }
                    _ => {
                        index.insert(*number, position);
                    }
                }
            }
        }
        *self.index.lock().expect("storage index lock") = index;
        stats
    }

    /// Each store with its sectors, bytes used and room.
    pub fn stats(&self) -> Vec<StoreState> {
        self.stores.iter().map(|s| StoreState { store: s.clone(), usage: s.usage(self.miner) }).collect()
    }

    /// The files of sector `number` on store `store`.
    fn files_at(&self, store: usize, number: u64) -> SectorFiles {
        SectorFiles::named(&self.stores[store].path, &sector_file_name(self.miner, number))
    }

    /// Whether store `store` holds a complete copy of sector `number`.
    fn complete_at(&self, store: usize, number: u64) -> bool {
        complete(&self.files_at(store, number))
    }

    /// A sector's stored files: on the store the index names (the default store for a sector not stored yet).
    pub fn files(&self, sector: &SectorRef) -> SectorFiles {
        let store = self.index.lock().expect("storage index lock").get(&sector.number).copied().unwrap_or(0);
        self.files_at(store, sector.number)
    }

    /// Whether a sector's sealed file and cache are stored.
    pub fn holds(&self, sector: &SectorRef) -> bool {
        let store = self.index.lock().expect("storage index lock").get(&sector.number).copied();
        store.is_some_and(|store| self.complete_at(store, sector.number))
    }

    /// The store a new sector of `bytes` goes to: of those that can store it and have room, the one whose bytes
    /// per weight would be lowest with it (the first on a tie).
    pub fn place(&self, bytes: u64) -> anyhow::Result<usize> {
        let stats = self.stats();
        let fits =
            |(_, state): &(usize, &StoreState)| state.store.meta.can_store && state.store.room(&state.usage) >= bytes;
        let load = |(i, state): &(usize, &StoreState)| {
            (u128::from(state.usage.used + bytes) * 1_000_000 / u128::from(state.store.meta.weight.max(1)), *i)
        };
        let chosen = stats.iter().enumerate().filter(fits).min_by_key(load).map(|(i, _)| i);
        chosen.ok_or_else(|| {
            let rooms: Vec<String> = stats
                .iter()
                .map(|state| format!("{}: {} bytes free", state.store.path.display(), state.store.room(&state.usage)))
                .collect();
            anyhow::anyhow!("no long-term store has room for {bytes} bytes ({})", rooms.join(", "))
        })
    }

    /// The incoming directory of a finalize task: on the store that already holds part of its upload, or on the
    /// store chosen for a new sector.
    fn incoming(&self, task: &str) -> anyhow::Result<PathBuf> {
        let holding = self.stores.iter().map(|s| s.path.join("incoming").join(task)).find(|p| p.exists());
        match holding {
            Some(path) => Ok(path),
            None => Ok(self.stores[self.place(self.sector_bytes)?].path.join("incoming").join(task)),
        }
    }

    /// Moves a finalize task's upload into place on its store (replacing older copies there and dropping copies on
    /// other stores), after checking it is complete, and indexes the sector there.
    pub fn finalize(&self, task: &str, sector: &SectorRef) -> anyhow::Result<()> {
        let store = self
            .stores
            .iter()
            .position(|s| s.path.join("incoming").join(task).exists())
            .ok_or_else(|| anyhow::anyhow!("no upload of task {task} on any store"))?;
        let incoming = self.stores[store].path.join("incoming").join(task);
        let (sealed, cache) = (incoming.join("sealed"), incoming.join("cache"));
        for required in [sealed.clone(), cache.join("p_aux"), cache.join("t_aux")] {
            anyhow::ensure!(required.is_file(), "the upload of task {task} lacks {}", required.display());
        }
        let files = self.files_at(store, sector.number);
        files.create_dirs()?;
        std::fs::rename(&sealed, &files.sealed)?;
        if files.cache.exists() {
            std::fs::remove_dir_all(&files.cache)?;
        }
        std::fs::rename(&cache, &files.cache)?;
        std::fs::remove_dir_all(&incoming)?;
        let previous = self.index.lock().expect("storage index lock").insert(sector.number, store);
        if let Some(other) = previous.filter(|p| *p != store) {
            let stale = self.files_at(other, sector.number);
            let _ = std::fs::remove_file(&stale.sealed);
            let _ = std::fs::remove_dir_all(&stale.cache);
        }
        Ok(())
    }

    /// Receives one uploaded file of a finalize task (`part` is `sealed` or `cache/<file>`).
    async fn receive<B>(&self, task: &str, part: &str, mut body: B) -> Result<(), String>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let incoming = self.incoming(task).map_err(|e| format!("{e:#}"))?;
        let target = match part.split_once('/') {
            None if part == "sealed" => incoming.join("sealed"),
            Some(("cache", file)) if safe_name(file) => incoming.join("cache").join(file),
            _ => return Err(format!("unknown upload part {part:?}")),
        };
        let parent = target.parent().expect("under incoming");
        tokio::fs::create_dir_all(parent).await.map_err(|e| e.to_string())?;
        let staged = target.with_extension("part");
        let mut file = tokio::fs::File::create(&staged).await.map_err(|e| e.to_string())?;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("upload interrupted: {e}"))?;
            if let Ok(data) = frame.into_data() {
                file.write_all(&data).await.map_err(|e| e.to_string())?;
            }
        }
        file.sync_all().await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&staged, &target).await.map_err(|e| e.to_string())
    }

    /// A stored file (`sealed/<name>` or `cache/<name>/<file>`), on whichever store holds it.
    fn stored(&self, path: &str) -> Option<PathBuf> {
        let parts: Vec<&str> = path.split('/').collect();
        let relative = match parts.as_slice() {
            ["sealed", name] if safe_name(name) => Path::new("sealed").join(name),
            ["cache", name, file] if safe_name(name) && safe_name(file) => Path::new("cache").join(name).join(file),
            _ => return None,
        };
        let found = self.stores.iter().map(|s| s.path.join(&relative)).find(|p| p.exists());
        Some(found.unwrap_or_else(|| self.stores[0].path.join(&relative)))
    }
}

/// Whether `files` are a complete finalized sector: its sealed file and its cache's aux files (a finalize upload
/// lacking one is refused; a move renames the whole cache directory at once).
fn complete(files: &SectorFiles) -> bool {
    files.sealed.is_file() && files.cache.join("p_aux").is_file() && files.cache.join("t_aux").is_file()
}

/// Bytes a finalized sector of `sector_size` takes on a store: its sealed file and its kept cache (trees and
/// aux files, about an eighth of the sector).
pub fn finalized_bytes(sector_size: u64) -> u64 {
    sector_size + sector_size / 8
}

/// A single path component without separators or dot-dot.
fn safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\'])
}

#[cfg(test)]
mod tests;
