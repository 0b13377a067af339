//! A worker's scratch directory: its stable id (`worker.json`), the sector files it made (Lotus's layout) and, per
//! sector, a record of how far those files got with each stage's output (`sectors/<number>.json`), so a
//! restarted worker reports what it holds and a stage asked for twice returns its recorded output instead of
//! running again on files it already changed.

use std::path::{Path, PathBuf};

use filecoin_proofs_api::PieceInfo;
use sealstack_chain::LotusJson;
use serde::{Deserialize, Serialize};

use crate::protocol::{FileStage, HeldSector};
use crate::repo::{read_json, read_json_dir, write_json};
use crate::sealing::{PreCommit1Output, PreCommit2Output, SectorFiles, SectorRef};

/// What a worker recorded of one sector's local files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalSector {
    /// The sector.
    pub sector: SectorRef,
    /// How far the files got.
    pub stage: FileStage,
    /// AddPiece's pieces.
    pub pieces: Vec<PieceInfo>,
    /// The ticket PreCommit1 used.
    pub ticket: Option<[u8; 32]>,
    /// PreCommit1's output.
    pub phase1: Option<PreCommit1Output>,
    /// PreCommit2's output.
    pub commitments: Option<PreCommit2Output>,
}

#[derive(Serialize, Deserialize)]
struct WorkerIdentity {
    id: String,
}

/// The scratch directory.
#[derive(Clone, Debug)]
pub struct Scratch {
    root: PathBuf,
}

impl Scratch {
    /// Opens (creates) the scratch directory.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join("sectors"))?;
        Ok(Scratch { root: root.to_path_buf() })
    }

    /// The worker's id, made on first use and kept with its files.
    pub fn worker_id(&self) -> anyhow::Result<String> {
        let path = self.root.join("worker.json");
        if let Some(identity) = read_json::<WorkerIdentity>(&path)? {
            return Ok(identity.id);
        }
        let id = uuid::Uuid::new_v4().to_string();
        write_json(&path, &WorkerIdentity { id: id.clone() })?;
        Ok(id)
    }

    /// A sector's files in the scratch directory.
    pub fn files(&self, sector: &SectorRef) -> SectorFiles {
        SectorFiles::new(&self.root, sector)
    }

    fn record_path(&self, number: u64) -> PathBuf {
        self.root.join("sectors").join(format!("{number}.json"))
    }

    /// The record of a sector, if the worker holds its files.
    pub fn sector(&self, number: u64) -> anyhow::Result<Option<LocalSector>> {
        read_json(&self.record_path(number))
    }

    /// Saves a sector's record (after its files are in place).
    pub fn save(&self, record: &LocalSector) -> anyhow::Result<()> {
        write_json(&self.record_path(record.sector.number), record)
    }

    /// Removes a sector's files and record (the record first: files without a record are never reported).
    pub fn remove(&self, sector: &SectorRef) -> anyhow::Result<()> {
        let path = self.record_path(sector.number);
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        let files = self.files(sector);
        for file in [&files.unsealed, &files.sealed] {
            if file.exists() {
                std::fs::remove_file(file)?;
            }
        }
        if files.cache.exists() {
            std::fs::remove_dir_all(&files.cache)?;
        }
        Ok(())
    }

    /// The sectors whose files the worker holds, for its reports.
    pub fn held(&self) -> anyhow::Result<Vec<HeldSector>> {
        let records: Vec<LocalSector> = read_json_dir(&self.root.join("sectors"))?;
        let mut held: Vec<HeldSector> = records
            .into_iter()
            .map(|r| HeldSector {
                number: r.sector.number,
                stage: r.stage,
                ticket: r.ticket.map(|t| LotusJson(t.to_vec())),
            })
            .collect();
        held.sort_by_key(|h| h.number);
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fvm_shared::sector::RegisteredSealProof;

    #[test]
    fn the_id_and_sector_records_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::open(dir.path()).unwrap();
        let id = scratch.worker_id().unwrap();
        assert_eq!(Scratch::open(dir.path()).unwrap().worker_id().unwrap(), id);
        let sector = SectorRef { miner: 1000, number: 4, proof: RegisteredSealProof::StackedDRG2KiBV1P1 };
        let record = LocalSector {
            sector,
            stage: FileStage::PreCommit1,
            pieces: Vec::new(),
            ticket: Some([7; 32]),
            phase1: None,
            commitments: None,
        };
        scratch.save(&record).unwrap();
        let held = scratch.held().unwrap();
        assert_eq!(
            held,
            vec![HeldSector { number: 4, stage: FileStage::PreCommit1, ticket: Some(LotusJson(vec![7; 32])) }]
        );
        scratch.files(&sector).create_dirs().unwrap();
        scratch.remove(&sector).unwrap();
        assert!(scratch.held().unwrap().is_empty());
        assert!(!scratch.files(&sector).cache.exists());
    }
}
