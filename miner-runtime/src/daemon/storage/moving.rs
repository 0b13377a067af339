//! Moving a sector between stores (`sealstack-miner storage move`), crash-safe: the move is journaled
//! (`<default store>/moves/s-t0M-N.json`) before anything is written; the files are copied into the target's
//! `incoming/move-N/`, checked byte for byte against the source, renamed into place (sealed file, then cache), the
//! index switched, and only then the source deleted (sealed file first). A sector has one complete copy at every
//! moment but the switch, where it has two identical ones and the index counts one. After a crash, [`recover`]
//! finishes or undoes each journaled move by what is complete: a complete target wins (the source's rest is
//! deleted), else the target's part is deleted and the source stays.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Storage, complete};
use crate::sealing::SectorFiles;
use crate::sealing::sector::sector_file_name;

/// A move in progress, as journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// The sector.
    pub sector: u64,
    /// The source store's directory.
    pub from: PathBuf,
    /// The target store's directory.
    pub to: PathBuf,
}

/// Fault injection for crash tests: with `SEALSTACK_CRASH_IN_MOVE=<step>` (`copy`, `switch`, `delete`), the daemon
/// aborts half-way through that step of a move.
fn crash_point(step: &str) {
    if std::env::var("SEALSTACK_CRASH_IN_MOVE").is_ok_and(|s| s == step) {
        eprintln!("injected crash: killed in the {step} step of a sector move");
        std::process::abort();
    }
}

/// Copies `from` to `to` and syncs it.
fn copy_synced(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to).map_err(|e| anyhow::anyhow!("copy {} to {}: {e}", from.display(), to.display()))?;
    std::fs::File::open(to)?.sync_all()?;
    Ok(())
}

/// Whether two files have the same bytes.
fn same_bytes(a: &Path, b: &Path) -> anyhow::Result<bool> {
    if std::fs::metadata(a)?.len() != std::fs::metadata(b)?.len() {
        return Ok(false);
    }
    let digest = |path: &Path| -> anyhow::Result<blake2b_simd::Hash> {
        let mut state = blake2b_simd::State::new();
        let mut file = std::fs::File::open(path)?;
        let mut buffer = vec![0; 1 << 20];
        loop {
            let read = file.read(&mut buffer)?;
            if read == 0 {
                return Ok(state.finalize());
            }
            state.update(&buffer[..read]);
        }
    };
    Ok(digest(a)? == digest(b)?)
}

impl Storage {
    fn moves_dir(&self) -> PathBuf {
        self.stores[0].path.join("moves")
    }

    /// Moves sector `number` to the store `target` (its ID or directory): copied, checked, switched, and the
    /// source deleted. Refused when the sector is not stored, is on that store already, or the store is missing or
    /// has no room.
    pub fn move_sector(&self, number: u64, target: &str) -> anyhow::Result<()> {
        let name = sector_file_name(self.miner, number);
        let from = self.index.lock().expect("storage index lock").get(&number).copied();
        let from = from
            .filter(|&f| self.complete_at(f, number))
            .ok_or_else(|| anyhow::anyhow!("sector {number} is not stored"))?;
        let to = self
            .stores
            .iter()
            .position(|s| s.meta.id == target || s.path == Path::new(target))
            .ok_or_else(|| anyhow::anyhow!("no store {target:?}"))?;
        anyhow::ensure!(from != to, "sector {number} is on {} already", self.stores[to].path.display());
        let (source, destination) = (self.stores[from].path.clone(), self.stores[to].path.clone());
        let SectorFiles { sealed, cache, .. } = self.files_at(from, number);
        let bytes = std::fs::metadata(&sealed)?.len() + super::store::dir_bytes(&cache);
        let usage = self.stores[to].usage(self.miner);
        let room = self.stores[to].room(&usage);
        anyhow::ensure!(
            room >= bytes,
            "{} has {room} bytes of room, sector {number} takes {bytes}",
            destination.display()
        );

        let journal = self.moves_dir().join(format!("{name}.json"));
        crate::repo::write_json(&journal, &Move { sector: number, from: source.clone(), to: destination.clone() })?;
        // Copy into the target's incoming directory, and check the copy.
        let staged = destination.join("incoming").join(format!("move-{number}"));
        let _ = std::fs::remove_dir_all(&staged);
        std::fs::create_dir_all(staged.join("cache"))?;
        copy_synced(&sealed, &staged.join("sealed"))?;
        crash_point("copy");
        let mut cached = Vec::new();
        for entry in std::fs::read_dir(&cache)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                copy_synced(&entry.path(), &staged.join("cache").join(entry.file_name()))?;
                cached.push(entry.file_name());
            }
        }
        anyhow::ensure!(
            same_bytes(&sealed, &staged.join("sealed"))?,
            "the copy of sector {number}'s sealed file differs"
        );
        for file in &cached {
            anyhow::ensure!(
                same_bytes(&cache.join(file), &staged.join("cache").join(file))?,
                "the copy of {file:?} differs"
            );
        }
        // Switch: into place on the target (two identical copies now), then the index names the target.
        let SectorFiles { sealed: new_sealed, cache: new_cache, .. } = self.files_at(to, number);
        std::fs::create_dir_all(destination.join("sealed"))?;
        std::fs::create_dir_all(destination.join("cache"))?;
        let _ = std::fs::remove_dir_all(&new_cache);
        std::fs::rename(staged.join("sealed"), &new_sealed)?;
        crash_point("switch");
        std::fs::rename(staged.join("cache"), &new_cache)?;
        std::fs::remove_dir_all(&staged)?;
        self.index.lock().expect("storage index lock").insert(number, to);
        // The source goes: its sealed file first, so an interrupted delete leaves no complete copy there.
        std::fs::remove_file(&sealed)?;
        crash_point("delete");
        std::fs::remove_dir_all(&cache)?;
        std::fs::remove_file(&journal)?;
        tracing::info!(sector = number, from = %source.display(), to = %destination.display(), "sector moved");
        Ok(())
    }

    /// Finishes or undoes the moves a crash interrupted (at start, before the index is read): a complete target
    /// copy wins and the source's rest is deleted; otherwise the target's part is deleted and the source stays.
    pub fn recover(&self) -> anyhow::Result<()> {
        let Ok(entries) = std::fs::read_dir(self.moves_dir()) else { return Ok(()) };
        for entry in entries.flatten() {
            let Some(interrupted): Option<Move> = crate::repo::read_json(&entry.path())? else { continue };
            let name = sector_file_name(self.miner, interrupted.sector);
            let (to, from) = (&interrupted.to, &interrupted.from);
            let on = |root: &Path| SectorFiles::named(root, &name);
            let (done, undone) = if complete(&on(to)) { (to, from) } else { (from, to) };
            anyhow::ensure!(
                complete(&on(done)),
                "sector {}: no complete copy on {} or {}",
                interrupted.sector,
                from.display(),
                to.display()
            );
            let undone = on(undone);
            let _ = std::fs::remove_file(undone.sealed);
            let _ = std::fs::remove_dir_all(undone.cache);
            let _ = std::fs::remove_dir_all(to.join("incoming").join(format!("move-{}", interrupted.sector)));
            tracing::warn!(sector = interrupted.sector, kept = %done.display(), "an interrupted sector move settled");
            std::fs::remove_file(entry.path())?;
        }
        Ok(())
    }
}
