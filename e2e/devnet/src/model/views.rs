//! What the state methods read from a miner, in Lotus's JSON: partitions, faults, recoveries, deadlines,
//! sector counts and infos, power, and the actor state of `StateReadState`.

use std::collections::BTreeSet;

use fvm_shared::econ::TokenAmount;
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::cbor_cid;
use sealstack_chain::miner::{
    BitFieldJson, MinerDeadline, MinerSectorCount, PartitionJson, SectorLocation, SectorOnChainInfoJson,
};
use serde_json::json;

use super::miner::MinerActor;
use super::policy::SectorPolicy;

impl MinerActor {
    /// The partitions of one deadline (`StateMinerPartitions`); empty for an index out of range.
    pub fn partitions_json(&self, deadline: u64) -> Vec<PartitionJson> {
        let Some(deadline) = self.deadlines.get(deadline as usize) else { return Vec::new() };
        deadline
            .partitions
            .iter()
            .map(|p| PartitionJson {
                all_sectors: BitFieldJson::from_numbers(&p.sectors),
                faulty_sectors: BitFieldJson::from_numbers(&p.faults),
                recovering_sectors: BitFieldJson::from_numbers(&p.recoveries),
                live_sectors: BitFieldJson::from_numbers(&p.live()),
                active_sectors: BitFieldJson::from_numbers(&p.active()),
            })
            .collect()
    }

    /// Faulty sectors of every partition.
    pub fn faults(&self) -> BTreeSet<u64> {
        self.partitions().flat_map(|p| p.faults.iter().copied()).collect()
    }

    /// Recovering sectors of every partition.
    pub fn recoveries(&self) -> BTreeSet<u64> {
        self.partitions().flat_map(|p| p.recoveries.iter().copied()).collect()
    }

    /// Active sectors (live, not faulty, proven): those carrying power.
    pub fn active_sectors(&self) -> BTreeSet<u64> {
        self.partitions().flat_map(|p| p.active()).collect()
    }

    /// Live, active and faulty counts (`StateMinerSectorCount`).
    pub fn sector_count(&self) -> MinerSectorCount {
        self.partitions().fold(MinerSectorCount::default(), |count, p| MinerSectorCount {
            live: count.live + p.live().len() as u64,
            active: count.active + p.active().len() as u64,
            faulty: count.faulty + p.faults.len() as u64,
        })
    }

    /// Raw (= quality-adjusted, no deals) power in bytes: active sectors × sector size.
    pub fn power(&self) -> u64 {
        self.sector_size * self.active_sectors().len() as u64
    }

    /// The period's deadlines (`StateMinerDeadlines`).
    pub fn deadlines_json(&self) -> Vec<MinerDeadline> {
        (0..self.deadlines.len())
            .map(|index| {
                let deadline = self.deadlines.get(index).cloned().unwrap_or_default();
                let daily_fee = deadline
                    .partitions
                    .iter()
                    .flat_map(|p| p.live())
                    .map(|n| self.sectors[&n].daily_fee.0.clone())
                    .fold(TokenAmount::from_atto(0), |a, b| a + b);
                MinerDeadline {
                    post_submissions: BitFieldJson::from_numbers(&deadline.posted),
                    disputable_proof_count: deadline.disputable_proofs,
                    daily_fee: LotusJson(daily_fee),
                }
            })
            .collect()
    }

    /// Where a sector is proven, if it is in a partition.
    pub fn sector_location(&self, number: u64) -> Option<SectorLocation> {
        self.sectors.get(&number).map(|s| SectorLocation { deadline: s.deadline, partition: s.partition })
    }

    /// One sector's info in Lotus's JSON.
    pub fn sector_info_json(&self, number: u64) -> Option<SectorOnChainInfoJson> {
        let s = self.sectors.get(&number)?;
        Some(SectorOnChainInfoJson {
            sector_number: number,
            seal_proof: s.seal_proof,
            sealed_cid: s.sealed_cid.clone(),
            activation: s.activation,
            expiration: s.expiration,
            deal_weight: "0".into(),
            verified_deal_weight: "0".into(),
            initial_pledge: s.pledge.clone(),
            // Not set since actors v16 (FIP-0100): Lotus answers null (the model keeps its own figure for fees).
            expected_day_reward: None,
            expected_storage_pledge: None,
            power_base_epoch: s.activation,
            replaced_day_reward: None,
            sector_key_cid: None,
            flags: 0,
            daily_fee: s.daily_fee.clone(),
        })
    }

    /// The miner's state as Lotus's `StateReadState` marshals builtin-actors' `State` (field names of
    /// go-state-types); the HAMT and AMT roots are CIDs of the devnet's own JSON, not of real IPLD blocks.
    pub fn state_json(&self, epoch: i64, policy: &SectorPolicy) -> serde_json::Value {
        let current = self.deadline_info(epoch, policy);
        let root = |name: &str, value: serde_json::Value| json!({ "/": cbor_cid(&serde_json::to_vec(&(name, self.id, value)).unwrap_or_default()).to_string() });
        let early: BTreeSet<u64> = BTreeSet::new();
        json!({
            "Info": root("info", serde_json::to_value(self.info()).unwrap_or_default()),
            "PreCommitDeposits": LotusJson(self.funds.pre_commit_deposits.0.clone()),
            "LockedFunds": LotusJson(self.funds.locked_funds.0.clone()),
            "VestingFunds": if self.funds.vesting.is_empty() { json!(null) } else { json!(self.funds.vesting) },
            "FeeDebt": LotusJson(self.funds.fee_debt.0.clone()),
            "InitialPledge": LotusJson(self.funds.initial_pledge.0.clone()),
            "PreCommittedSectors": root("precommits", serde_json::to_value(&self.precommits).unwrap_or_default()),
            "PreCommittedSectorsCleanUp": root("precommit-cleanup", json!(null)),
            "AllocatedSectors": root("allocated", json!(self.sectors.keys().chain(self.precommits.keys()).collect::<Vec<_>>())),
            "Sectors": root("sectors", serde_json::to_value(&self.sectors).unwrap_or_default()),
            "ProvingPeriodStart": current.period_start,
            "CurrentDeadline": current.index,
            "Deadlines": root("deadlines", serde_json::to_value(&self.deadlines).unwrap_or_default()),
            "EarlyTerminations": BitFieldJson::from_numbers(&early),
            "DeadlineCronActive": !self.sectors.is_empty() || !self.precommits.is_empty(),
        })
    }

    fn partitions(&self) -> impl Iterator<Item = &super::deadlines::Partition> {
        self.deadlines.iter().flat_map(|d| d.partitions.iter())
    }
}
