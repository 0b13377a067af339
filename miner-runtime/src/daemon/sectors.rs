//! The sector state machine and its store: one JSON file per sector in the repo's `sectors/`, rewritten
//! atomically at every change, so a restarted daemon resumes every sector where it was.
//!
//! States keep lotus-miner's names. The transitions driven by a worker's result are [`SectorRecord::apply`]
//! (pure, unit-tested); those driven by the chain are in `pipeline`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use filecoin_proofs_api::PieceInfo;
use fvm_shared::sector::RegisteredSealProof;
use sealstack_chain::LotusJson;
use sealstack_chain::push::MessageLog;
use serde::{Deserialize, Serialize};

use crate::protocol::{FileStage, SectorLog, TaskKind, TaskResult};
use crate::repo::{read_json_dir, write_json};
use crate::sealing::{PreCommit2Output, SectorRef};

/// Where a sector is in its life, by lotus-miner's state names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SectorState {
    /// AddPiece: filling the unsealed file.
    Packing,
    /// Waiting for a ticket, then PreCommit1.
    PreCommit1,
    /// PreCommit2.
    PreCommit2,
    /// Sending the PreCommit message and waiting for it to land.
    PreCommitting,
    /// Waiting for the interactive seed's epoch.
    WaitSeed,
    /// Commit1, then Commit2.
    Committing,
    /// Sending the ProveCommit message and waiting for it to land.
    SubmitCommit,
    /// Moving the sealed file and the cache to long-term storage.
    FinalizeSector,
    /// Active on chain and proven each proving period.
    Proving,
    /// Stopped: the chain refused the sector, or its files cannot be rebuilt; see the last error.
    FailedUnrecoverable,
}

impl SectorState {
    /// Every state, in pipeline order.
    pub const ALL: [SectorState; 10] = [
        SectorState::Packing,
        SectorState::PreCommit1,
        SectorState::PreCommit2,
        SectorState::PreCommitting,
        SectorState::WaitSeed,
        SectorState::Committing,
        SectorState::SubmitCommit,
        SectorState::FinalizeSector,
        SectorState::Proving,
        SectorState::FailedUnrecoverable,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            SectorState::Packing => "Packing",
            SectorState::PreCommit1 => "PreCommit1",
            SectorState::PreCommit2 => "PreCommit2",
            SectorState::PreCommitting => "PreCommitting",
            SectorState::WaitSeed => "WaitSeed",
            SectorState::Committing => "Committing",
            SectorState::SubmitCommit => "SubmitCommit",
            SectorState::FinalizeSector => "FinalizeSector",
            SectorState::Proving => "Proving",
            SectorState::FailedUnrecoverable => "FailedUnrecoverable",
        }
    }
}

/// Randomness drawn from the chain at an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drawn {
    /// The randomness.
    pub value: [u8; 32],
    /// The epoch it was drawn at.
    pub epoch: i64,
}

/// The step names of a sector's chain messages in its [`MessageLog`].
pub mod steps {
    /// PreCommitSectorBatch2.
    pub const PRE_COMMIT: &str = "pre-commit";
    /// ProveCommitSectors3.
    pub const PROVE_COMMIT: &str = "prove-commit";
}

/// Everything the daemon knows of one sector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SectorRecord {
    /// The sector (miner id, number, seal proof).
    pub sector: SectorRef,
    /// Its state.
    pub state: SectorState,
    /// Its pieces (AddPiece's result).
    #[serde(default)]
    pub pieces: Vec<PieceInfo>,
    /// The seal ticket, once drawn.
    pub ticket: Option<Drawn>,
    /// CommR and CommD (PreCommit2's result).
    pub commitments: Option<PreCommit2Output>,
    /// The epoch the PreCommit landed at.
    pub pre_commit_epoch: Option<i64>,
    /// The interactive seed, once drawn.
    pub seed: Option<Drawn>,
    /// Commit1's output until Commit2 has used it.
    pub commit1: Option<LotusJson<Vec<u8>>>,
    /// The seal proof (Commit2's result).
    pub proof: Option<LotusJson<Vec<u8>>>,
    /// The sector's chain messages (MsgUuid before the push, CID after: each is sent once).
    #[serde(default)]
    pub messages: MessageLog,
    /// Failed attempts of the current state.
    #[serde(default)]
    pub retries: u64,
    /// The last error, empty when the last attempt succeeded.
    #[serde(default)]
    pub last_error: String,
    /// History.
    #[serde(default)]
    pub log: Vec<SectorLog>,
}

impl AsMut<MessageLog> for SectorRecord {
    fn as_mut(&mut self) -> &mut MessageLog {
        &mut self.messages
    }
}

/// Unix seconds now (the log's timestamps).
pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// A task a sector needs next: its kind and the file stage its worker must hold (none: any worker).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    /// The task.
    pub kind: TaskKind,
    /// The stage of the sector's files the worker must hold.
    pub files: Option<FileStage>,
}

impl SectorRecord {
    /// A new sector in `Packing`.
    pub fn new(sector: SectorRef) -> Self {
        let mut record = SectorRecord {
            sector,
            state: SectorState::Packing,
            pieces: Vec::new(),
            ticket: None,
            commitments: None,
            pre_commit_epoch: None,
            seed: None,
            commit1: None,
            proof: None,
            messages: MessageLog::default(),
            retries: 0,
            last_error: String::new(),
            log: Vec::new(),
        };
        record.note("state", "Packing: pledged a committed-capacity sector".into());
        record
    }

    /// Appends to the log.
    pub fn note(&mut self, kind: &str, message: String) {
        self.log.push(SectorLog { kind: kind.into(), timestamp: now_secs(), message });
    }

    /// Moves to `state`, logging why and clearing the retry count.
    pub fn enter(&mut self, state: SectorState, why: &str) {
        self.state = state;
        self.retries = 0;
        self.last_error.clear();
        self.note("state", format!("{}: {why}", state.as_str()));
    }

    /// Records a failed attempt.
    pub fn fail(&mut self, error: String) {
        self.retries += 1;
        self.note("error", error.clone());
        self.last_error = error;
    }

    /// The state as lotus-miner shows it: `PreCommitWait`/`CommitWait` once the message is out.
    pub fn display_state(&self) -> &'static str {
        let sent = |step: &str| self.messages.0.get(step).is_some_and(|r| r.cid.is_some());
        match self.state {
            SectorState::PreCommitting if sent(steps::PRE_COMMIT) => "PreCommitWait",
            SectorState::SubmitCommit if sent(steps::PROVE_COMMIT) => "CommitWait",
            state => state.as_str(),
        }
    }

    /// True while the sector's sealed file may still be on the worker that sealed it: its ProveCommit may have
    /// landed (the chain counts it) but Finalize has not brought the files to long-term storage yet.
    pub fn awaits_finalize(&self) -> bool {
        matches!(self.state, SectorState::SubmitCommit | SectorState::FinalizeSector)
    }

    /// The worker task this sector waits for, if any.
    pub fn need(&self) -> Option<Need> {
        let (kind, files) = match self.state {
            SectorState::Packing => (TaskKind::AddPiece, None),
            SectorState::PreCommit1 if self.ticket.is_some() => (TaskKind::PreCommit1, Some(FileStage::Unsealed)),
            SectorState::PreCommit2 => (TaskKind::PreCommit2, Some(FileStage::PreCommit1)),
            SectorState::Committing if self.commit1.is_none() => (TaskKind::Commit1, Some(FileStage::PreCommit2)),
            SectorState::Committing => (TaskKind::Commit2, None),
            SectorState::FinalizeSector => (TaskKind::Finalize, Some(FileStage::PreCommit2)),
            _ => return None,
        };
        Some(Need { kind, files })
    }

    /// Applies a worker's result of a `kind` task. A result for a task the sector no longer waits for (a late
    /// duplicate) or of a stage rebuilt on another worker changes nothing but is checked: rebuilt commitments
    /// must equal the recorded ones. `Err` describes a result the sector cannot take.
    pub fn apply(&mut self, kind: TaskKind, result: TaskResult) -> Result<(), String> {
        let waited = self.need().map(|n| n.kind) == Some(kind);
        match result {
            TaskResult::Failed { error } => {
                if waited {
                    self.fail(format!("{}: {error}", kind.as_str()));
                }
            }
            TaskResult::AddPiece { pieces } => {
                if pieces.is_empty() {
                    return Err("AddPiece returned no pieces".into());
                }
                if self.pieces.is_empty() {
                    self.pieces = pieces;
                }
                if waited {
                    self.enter(SectorState::PreCommit1, "the unsealed file is ready");
                }
            }
            TaskResult::PreCommit1 => {
                if waited {
                    self.enter(SectorState::PreCommit2, "labels computed");
                }
            }
            TaskResult::PreCommit2 { comm_r, comm_d } => {
                let output = PreCommit2Output { comm_r, comm_d };
                match &self.commitments {
                    Some(recorded) if *recorded != output => {
                        let error =
                            "rebuilt files give another CommR than the one recorded: the sector cannot be proven";
                        self.fail(error.into());
                        self.state = SectorState::FailedUnrecoverable;
                        return Err(error.into());
                    }
                    Some(_) => {}
                    None => self.commitments = Some(output),
                }
                if waited {
                    self.enter(SectorState::PreCommitting, "CommR computed");
                }
            }
            TaskResult::Commit1 { phase1 } => {
                if waited {
                    self.commit1 = Some(phase1);
                    self.note("task", "Commit1 done".into());
                }
            }
            TaskResult::Commit2 { proof } => {
                if waited {
                    self.proof = Some(proof);
                    self.commit1 = None;
                    self.enter(SectorState::SubmitCommit, "seal proof made");
                }
            }
            TaskResult::Finalize => {
                if waited {
                    self.enter(SectorState::Proving, "files in long-term storage");
                }
            }
            TaskResult::WindowPoSt { .. } | TaskResult::WinningPoSt { .. } => {
                return Err("a PoSt result belongs to no sector".into());
            }
        }
        Ok(())
    }
}

/// The sectors of a miner, in memory and in `<repo>/sectors/<number>.json`.
pub struct SectorStore {
    dir: PathBuf,
    sectors: Mutex<BTreeMap<u64, SectorRecord>>,
}

impl SectorStore {
    /// Opens (and creates) the store in `repo`, loading every sector.
    pub fn open(repo: &Path) -> anyhow::Result<Self> {
        let dir = repo.join("sectors");
        std::fs::create_dir_all(&dir)?;
        let records: Vec<SectorRecord> = read_json_dir(&dir)?;
        let sectors = records.into_iter().map(|r| (r.sector.number, r)).collect();
        Ok(SectorStore { dir, sectors: Mutex::new(sectors) })
    }

    fn path(&self, number: u64) -> PathBuf {
        self.dir.join(format!("{number}.json"))
    }

    /// A copy of one sector.
    pub fn get(&self, number: u64) -> Option<SectorRecord> {
        self.sectors.lock().expect("sector store lock").get(&number).cloned()
    }

    /// Which of `numbers` await Finalize ([`SectorRecord::awaits_finalize`]), read without copying the records.
    pub fn awaiting_finalize(&self, numbers: impl IntoIterator<Item = u64>) -> BTreeSet<u64> {
        let sectors = self.sectors.lock().expect("sector store lock");
        numbers.into_iter().filter(|n| sectors.get(n).is_some_and(SectorRecord::awaits_finalize)).collect()
    }

    /// Copies of every sector, by number.
    pub fn all(&self) -> Vec<SectorRecord> {
        self.sectors.lock().expect("sector store lock").values().cloned().collect()
    }

    /// Saves a sector durably, then makes it the current copy.
    pub fn save(&self, record: &SectorRecord) -> anyhow::Result<()> {
        write_json(&self.path(record.sector.number), record)?;
        self.sectors.lock().expect("sector store lock").insert(record.sector.number, record.clone());
        Ok(())
    }

    /// A new sector with the next free number (lotus-miner numbers a new miner's sectors from 0), saved.
    pub fn pledge(&self, miner: u64, proof: RegisteredSealProof) -> anyhow::Result<SectorRecord> {
        let mut sectors = self.sectors.lock().expect("sector store lock");
        let number = sectors.keys().next_back().map_or(0, |n| n + 1);
        let record = SectorRecord::new(SectorRef { miner, number, proof });
        write_json(&self.path(number), &record)?;
        sectors.insert(number, record.clone());
        Ok(record)
    }

    /// Applies `change` to a sector and saves it, returning the new copy.
    pub fn update<T>(
        &self,
        number: u64,
        change: impl FnOnce(&mut SectorRecord) -> T,
    ) -> anyhow::Result<(SectorRecord, T)> {
        let mut record = self.get(number).ok_or_else(|| anyhow::anyhow!("no sector {number}"))?;
        let value = change(&mut record);
        self.save(&record)?;
        Ok((record, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SectorRecord {
        SectorRecord::new(SectorRef { miner: 1000, number: 0, proof: RegisteredSealProof::StackedDRG2KiBV1P1 })
    }

    fn piece() -> PieceInfo {
        PieceInfo { commitment: [9; 32], size: filecoin_proofs_api::UnpaddedBytesAmount(2032) }
    }

    #[test]
    fn worker_results_move_the_sector_through_sealing() {
        let mut r = record();
        assert_eq!(r.need(), Some(Need { kind: TaskKind::AddPiece, files: None }));
        r.apply(TaskKind::AddPiece, TaskResult::AddPiece { pieces: vec![piece()] }).unwrap();
        assert_eq!(r.state, SectorState::PreCommit1);
        assert_eq!(r.need(), None, "PreCommit1 waits for its ticket");
        r.ticket = Some(Drawn { value: [1; 32], epoch: 5 });
        assert_eq!(r.need().unwrap().files, Some(FileStage::Unsealed));
        r.apply(TaskKind::PreCommit1, TaskResult::PreCommit1).unwrap();
        r.apply(TaskKind::PreCommit2, TaskResult::PreCommit2 { comm_r: [2; 32], comm_d: [3; 32] }).unwrap();
        assert_eq!(r.state, SectorState::PreCommitting);
        assert_eq!(r.need(), None, "the chain's turn");
        r.state = SectorState::Committing;
        assert_eq!(r.need().unwrap().kind, TaskKind::Commit1);
        r.apply(TaskKind::Commit1, TaskResult::Commit1 { phase1: LotusJson(vec![7]) }).unwrap();
        assert_eq!(r.need(), Some(Need { kind: TaskKind::Commit2, files: None }), "C2 runs anywhere");
        r.apply(TaskKind::Commit2, TaskResult::Commit2 { proof: LotusJson(vec![8; 192]) }).unwrap();
        assert_eq!(r.state, SectorState::SubmitCommit);
        assert!(r.commit1.is_none(), "Commit1's output is dropped once used");
        assert!(r.awaits_finalize(), "its ProveCommit may land while its files are on the worker");
        r.state = SectorState::FinalizeSector;
        assert!(r.awaits_finalize());
        r.apply(TaskKind::Finalize, TaskResult::Finalize).unwrap();
        assert_eq!(r.state, SectorState::Proving);
        assert!(!r.awaits_finalize(), "its files are in long-term storage: a failed check is a fault");
        assert_eq!(r.need(), None);
    }

    #[test]
    fn late_and_rebuilt_results_change_nothing_but_are_checked() {
        let mut r = record();
        r.state = SectorState::FinalizeSector;
        r.commitments = Some(PreCommit2Output { comm_r: [2; 32], comm_d: [3; 32] });
        // A stage rebuilt on another worker, with the same commitments: no change.
        r.apply(TaskKind::PreCommit2, TaskResult::PreCommit2 { comm_r: [2; 32], comm_d: [3; 32] }).unwrap();
        assert_eq!(r.state, SectorState::FinalizeSector);
        // A late failure of a task the sector no longer waits for is ignored.
        r.apply(TaskKind::Commit2, TaskResult::Failed { error: "killed".into() }).unwrap();
        assert_eq!(r.retries, 0);
        // A failure of the awaited task is counted.
        r.apply(TaskKind::Finalize, TaskResult::Failed { error: "disk full".into() }).unwrap();
        assert_eq!((r.retries, r.last_error.as_str()), (1, "Finalize: disk full"));
        // Other commitments: the sector is lost.
        let error = r.apply(TaskKind::PreCommit2, TaskResult::PreCommit2 { comm_r: [4; 32], comm_d: [3; 32] });
        assert!(error.is_err());
        assert_eq!(r.state, SectorState::FailedUnrecoverable);
    }

    #[test]
    fn display_state_shows_the_wait_after_a_push() {
        let mut r = record();
        r.state = SectorState::PreCommitting;
        assert_eq!(r.display_state(), "PreCommitting");
        r.messages.0.insert(
            steps::PRE_COMMIT.into(),
            sealstack_chain::push::PushRecord { uuid: "u".into(), cid: Some("bafy".into()) },
        );
        assert_eq!(r.display_state(), "PreCommitWait");
    }

    #[test]
    fn the_store_numbers_sectors_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SectorStore::open(dir.path()).unwrap();
        let proof = RegisteredSealProof::StackedDRG2KiBV1P1;
        assert_eq!(store.pledge(1000, proof).unwrap().sector.number, 0);
        assert_eq!(store.pledge(1000, proof).unwrap().sector.number, 1);
        store.update(1, |r| r.enter(SectorState::PreCommit1, "test")).unwrap();
        let reopened = SectorStore::open(dir.path()).unwrap();
        assert_eq!(reopened.all().len(), 2);
        assert_eq!(reopened.get(1).unwrap().state, SectorState::PreCommit1);
        assert_eq!(reopened.pledge(1000, proof).unwrap().sector.number, 2);
    }

    #[test]
    fn the_store_names_the_sectors_awaiting_finalize() {
        let dir = tempfile::tempdir().unwrap();
        let store = SectorStore::open(dir.path()).unwrap();
        let proof = RegisteredSealProof::StackedDRG2KiBV1P1;
        for state in [SectorState::SubmitCommit, SectorState::FinalizeSector, SectorState::Proving] {
            let number = store.pledge(1000, proof).unwrap().sector.number;
            store.update(number, |r| r.enter(state, "test")).unwrap();
        }
        // Sector 7 is not in the store (a genesis sector, or one sealed elsewhere): it awaits nothing here.
        assert_eq!(store.awaiting_finalize([0, 1, 2, 7]), BTreeSet::from([0, 1]));
    }
}
