//! The journal of blocks signed (`<repo>/mining/blocks.json`): the single-writer guarantee of block signatures.
//! An epoch is written (and fsynced) before the node is asked to sign its block; a daemon that finds an epoch
//! there, after a restart or a rollout, never signs a block for it again (two blocks of one miner for one epoch
//! are a consensus fault: lotus's slash filter and `minedBlockHeights` guard). Each entry then gets its block's
//! CID and its fate (submitted, included, lost and why), which `sealstack-miner info` reads.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::repo::{read_json, write_json};

/// Entries kept (older ones are dropped; their totals stay).
const KEPT: usize = 1000;

/// What became of a signed block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockFate {
    /// Signed; not submitted yet (or the daemon stopped before it was).
    Signed,
    /// Accepted by the node, its epoch not closed yet.
    Submitted,
    /// In the chain.
    Included,
    /// Lost: `late` (its epoch closed first), `orphaned` (not in its epoch's tipset), `refused` (the node refused
    /// it) or `proof-failed` (no WinningPoSt could be made: never signed).
    Lost {
        /// Why.
        reason: String,
    },
}

/// [`MinedBlock::prover`] of a block whose WinningPoSt SNARK the daemon made itself.
pub const DAEMON_PROVER: &str = "daemon";

/// One block the miner won and signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinedBlock {
    /// Its epoch.
    pub epoch: i64,
    /// Its base's key, as Lotus prints one.
    pub parents: String,
    /// Its win count.
    pub win_count: i64,
    /// Its CID, once the node signed it.
    #[serde(default)]
    pub cid: Option<String>,
    /// What became of it.
    pub fate: BlockFate,
    /// Who made its WinningPoSt SNARK: [`DAEMON_PROVER`], or the PoSt worker's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prover: Option<String>,
    /// Its reward in attoFIL (the epoch reward × win count / 5), once included.
    #[serde(default)]
    pub reward_atto: Option<String>,
}

/// The journal's content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiningRecord {
    /// The latest blocks, oldest first.
    pub blocks: Vec<MinedBlock>,
    /// Blocks signed since the repo was made.
    pub signed_total: u64,
    /// Of them, included in the chain.
    pub included_total: u64,
    /// Rewards of the included blocks, attoFIL (decimal).
    #[serde(default)]
    pub rewards_atto: String,
}

impl MiningRecord {
    /// The journal's file in a repo.
    pub fn path(repo: &Path) -> PathBuf {
        repo.join("mining").join("blocks.json")
    }

    /// Reads the journal of a repo (empty when there is none).
    pub fn load(repo: &Path) -> anyhow::Result<Self> {
        Ok(read_json(&Self::path(repo))?.unwrap_or_default())
    }

    /// The latest epoch signed.
    pub fn last_signed(&self) -> Option<i64> {
        self.blocks.iter().map(|b| b.epoch).max()
    }

    /// Whether a block was signed for `epoch` (or a later one: the journal only moves forward).
    pub fn signed_at_or_after(&self, epoch: i64) -> bool {
        self.last_signed().is_some_and(|last| last >= epoch)
    }

    /// The latest included block.
    pub fn last_included(&self) -> Option<&MinedBlock> {
        self.blocks.iter().rev().find(|b| b.fate == BlockFate::Included)
    }
}

/// The journal file and its content.
pub struct MiningJournal {
    path: PathBuf,
    record: MiningRecord,
}

impl MiningJournal {
    /// Opens (or starts) the journal of a repo.
    pub fn open(repo: &Path) -> anyhow::Result<Self> {
        Ok(MiningJournal { path: MiningRecord::path(repo), record: MiningRecord::load(repo)? })
    }

    /// The content.
    pub fn record(&self) -> &MiningRecord {
        &self.record
    }

    /// Records that a block for `epoch` is about to be signed, durably, before the node is asked to sign it.
    /// Refuses an epoch signed already (or older than the last one signed).
    pub fn record_signing(&mut self, epoch: i64, parents: String, win_count: i64) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.record.signed_at_or_after(epoch),
            "a block was signed for epoch {} already: never two for one epoch",
            self.record.last_signed().unwrap_or(epoch)
        );
        self.record.blocks.push(MinedBlock {
            epoch,
            parents,
            win_count,
            cid: None,
            prover: None,
            fate: BlockFate::Signed,
            reward_atto: None,
        });
        self.record.signed_total += 1;
        let excess = self.record.blocks.len().saturating_sub(KEPT);
        self.record.blocks.drain(..excess);
        self.save()
    }

    /// Updates the block of `epoch`.
    pub fn update(&mut self, epoch: i64, change: impl FnOnce(&mut MinedBlock)) -> anyhow::Result<()> {
        let Some(block) = self.record.blocks.iter_mut().find(|b| b.epoch == epoch) else { return Ok(()) };
        let was_included = block.fate == BlockFate::Included;
        change(block);
        if !was_included && block.fate == BlockFate::Included {
            self.record.included_total += 1;
            if let Some(reward) = &block.reward_atto {
                let total: u128 = self.record.rewards_atto.parse().unwrap_or(0);
                self.record.rewards_atto = (total + reward.parse::<u128>().unwrap_or(0)).to_string();
            }
        }
        self.save()
    }

    /// The blocks whose fate is not known yet (signed or submitted).
    pub fn undecided(&self) -> Vec<MinedBlock> {
        self.record
            .blocks
            .iter()
            .filter(|b| matches!(b.fate, BlockFate::Signed | BlockFate::Submitted))
            .cloned()
            .collect()
    }

    fn save(&self) -> anyhow::Result<()> {
        write_json(&self.path, &self.record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_signed_is_never_signed_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = MiningJournal::open(dir.path()).unwrap();
        journal.record_signing(10, "{a}".into(), 1).unwrap();
        drop(journal);
        let mut journal = MiningJournal::open(dir.path()).unwrap();
        assert!(journal.record_signing(10, "{a}".into(), 1).is_err());
        assert!(journal.record_signing(9, "{b}".into(), 1).is_err(), "the journal only moves forward");
        journal.record_signing(11, "{c}".into(), 2).unwrap();
        journal
            .update(11, |b| {
                b.fate = BlockFate::Included;
                b.reward_atto = Some("5".into());
            })
            .unwrap();
        journal.update(11, |b| b.fate = BlockFate::Included).unwrap();
        let record = MiningRecord::load(dir.path()).unwrap();
        assert_eq!((record.signed_total, record.included_total, record.rewards_atto.as_str()), (2, 1, "5"));
        assert_eq!(record.last_included().unwrap().epoch, 11);
        assert_eq!(journal.undecided().len(), 1);
    }
}
