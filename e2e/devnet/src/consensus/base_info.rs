//! `MinerGetBaseInfo` (lotus stmgr `MinerGetBaseInfo`, `GetSectorsForWinningPoSt`): what a miner needs to mine a
//! round on a base. The devnet reads power and sectors at the base, not at Lotus's lookback of chain finality
//! (`WinningPoStSectorSetLookback`, 900 epochs): a named departure, so that a new miner can mine as soon as it
//! has power.

use fvm_shared::address::Address;
use fvm_shared::sector::RegisteredPoStProof;
use sealstack_chain::block::{ExtendedSectorInfo, MiningBaseInfo};
use sealstack_chain::election::winning_post_randomness;
use sealstack_chain::json::{LotusJson, TipSetKey};

use crate::model::{MinerActor, StateEngine, prover_id};
use crate::node::ChainState;

/// A sector the WinningPoSt challenges: its number and on-chain info.
pub type ChallengedSector = (u64, crate::model::SectorOnChain);

impl ChainState {
    /// The sectors a WinningPoSt of `miner` with `randomness` challenges: picked by index among its active
    /// sectors (lotus `GetSectorsForWinningPoSt`). None when it has no active sector.
    pub fn winning_post_sectors(
        &self,
        miner: &MinerActor,
        randomness: [u8; 32],
    ) -> Result<Vec<ChallengedSector>, String> {
        let active: Vec<u64> = miner.active_sectors().into_iter().collect();
        if active.is_empty() {
            return Ok(Vec::new());
        }
        let window = RegisteredPoStProof::from(miner.window_post_proof);
        let (proof, _) = crate::proofs::winning_post_proof_of(window)?;
        let indexes =
            crate::proofs::winning_post_challenge(proof, randomness, prover_id(miner.id), active.len() as u64)
                .map_err(|e| format!("generating winning post challenges: {e}"))?;
        indexes
            .into_iter()
            .map(|i| {
                let number = *active.get(i as usize).ok_or_else(|| format!("challenge index {i} out of range"))?;
                let info = miner.sectors.get(&number).ok_or_else(|| format!("sector {number} not found"))?;
                Ok((number, info.clone()))
            })
            .collect()
    }

    /// `MinerGetBaseInfo` of `miner` for `round` on `base`: `None` when it has no sector to prove.
    pub fn mining_base_info(
        &self,
        miner: &Address,
        round: i64,
        base: &TipSetKey,
    ) -> Result<Option<MiningBaseInfo>, String> {
        let base_height = self.height_of(base).map_err(|e| format!("failed to load tipset for mining base: {e}"))?;
        if round <= base_height {
            return Err(format!("round {round} is not after the base at height {base_height}"));
        }
        if round > self.height + 1 {
            return Err(format!(
                "failed to get beacon entry for round {round}: not available yet (the open epoch is {})",
                self.height + 1
            ));
        }
        let base_tipset = self.tipset_at(base_height).expect("height_of found it");
        let prev = base_tipset.latest_beacon().cloned().unwrap_or_else(|| self.beacon_entry(base_height));
        let entries = self.beacon_entries_after(base_height, round);
        let rbase = entries.last().cloned().unwrap_or_else(|| prev.clone());
        let actor =
            self.actors.miner(miner).ok_or_else(|| format!("failed to load miner actor: actor {} not found", miner))?;
        let miner_id = Address::new_id(actor.id);
        let randomness = winning_post_randomness(&rbase.data, round, &miner_id);
        let sectors = self
            .winning_post_sectors(actor, randomness)
            .map_err(|e| format!("getting winning post proving set: {e}"))?;
        if sectors.is_empty() {
            return Ok(None);
        }
        let worker = self
            .actors
            .account_key(&Address::new_id(actor.worker))
            .ok_or("resolving worker address: not an account")?;
        Ok(Some(MiningBaseInfo {
            miner_power: actor.power().to_string(),
            network_power: self.network_power().to_string(),
            sectors: sectors
                .into_iter()
                .map(|(number, info)| ExtendedSectorInfo {
                    seal_proof: info.seal_proof,
                    sector_number: number,
                    sector_key: None,
                    sealed_cid: info.sealed_cid,
                })
                .collect(),
            worker_key: LotusJson(worker),
            sector_size: actor.sector_size,
            prev_beacon_entry: prev,
            beacon_entries: entries,
            eligible_for_mining: self.eligible_to_mine(miner, base_height),
        }))
    }
}
