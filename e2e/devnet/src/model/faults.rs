//! miner.DeclareFaults (10) and miner.DeclareFaultsRecovered (11) (builtin-actors actors/miner/src/lib.rs
//! `declare_faults`, `declare_faults_recovered`, `validate_fr_declaration_deadline`; sector_map.rs; and
//! deadline_state.rs / partition_state.rs `record_faults`, `declare_faults_recovered`): declarations grouped
//! by deadline and partition, refused past the target deadline's fault cutoff. A declared fault loses its
//! power at once; a declared recovery regains it when the sector is next proven.

use std::collections::{BTreeMap, BTreeSet};

use fvm_ipld_bitfield::BitField;
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use sealstack_chain::actors::miner_state;
use sealstack_chain::miner::DeadlineInfo;

use super::ChainEnv;
use super::actors::decode;
use super::deadlines::{DeadlineTiming, deadline_info, next_not_elapsed};
use super::miner::{MinerActor, illegal};
use super::policy::{ADDRESSED_PARTITIONS_MAX, ADDRESSED_SECTORS_MAX, SectorPolicy};

/// Sector numbers by deadline, then partition (builtin-actors `DeadlineSectorMap`).
type DeadlineSectorMap = BTreeMap<u64, BTreeMap<u64, BTreeSet<u64>>>;

/// What is being declared, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Declaration {
    Fault,
    Recovery,
}

impl Declaration {
    fn noun(self) -> &'static str {
        match self {
            Declaration::Fault => "fault",
            Declaration::Recovery => "recovery",
        }
    }
}

/// Groups declarations (faults, recoveries, terminations) and checks their size (builtin-actors
/// `DeadlineSectorMap::add` and `check`).
pub(super) fn group(
    declarations: impl IntoIterator<Item = (u64, u64, BitField)>,
    period_deadlines: u64,
) -> Result<DeadlineSectorMap, (ExitCode, String)> {
    let mut map = DeadlineSectorMap::new();
    for (deadline, partition, sectors) in declarations {
        if deadline >= period_deadlines {
            return Err(illegal(format!(
                "failed to process deadline {deadline}, partition {partition}: invalid deadline {deadline}"
            )));
        }
        map.entry(deadline).or_default().entry(partition).or_default().extend(sectors.iter());
    }
    let partitions: u64 = map.values().map(|p| p.len() as u64).sum();
    let sectors: u64 = map.values().flat_map(|p| p.values()).map(|s| s.len() as u64).sum();
    if partitions > ADDRESSED_PARTITIONS_MAX {
        return Err(illegal(format!(
            "cannot process requested parameters: too many partitions {partitions}, max {ADDRESSED_PARTITIONS_MAX}"
        )));
    }
    if sectors > ADDRESSED_SECTORS_MAX {
        return Err(illegal(format!(
            "cannot process requested parameters: too many sectors {sectors}, max {ADDRESSED_SECTORS_MAX}"
        )));
    }
    Ok(map)
}

impl MinerActor {
    /// miner.DeclareFaults: the sectors lose their power now; their fault fee is charged at their deadline's
    /// end.
    pub(super) fn declare_faults(
        &mut self,
        message: &Message,
        caller: u64,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        let params: miner_state::DeclareFaultsParams = decode(&message.params)?;
        let declared = params.faults.into_iter().map(|f| (f.deadline, f.partition, f.sectors));
        let map = group(declared, env.policy().period_deadlines)?;
        self.check_control_caller(caller)?;
        let policy = env.policy();
        let epoch = env.epoch();
        self.ensure_deadlines(&policy);
        let period_start = self.current_period_start(epoch, &policy);
        for (deadline_index, partitions) in map {
            let target = Self::declaration_target(&policy, deadline_index, period_start, epoch, Declaration::Fault)?;
            let fault_expiration = target.last() + policy.fault_max_age();
            let deadline = &mut self.deadlines[deadline_index as usize];
            let mut newly_faulty = BTreeSet::new();
            for (partition_index, numbers) in partitions {
                let partition = deadline
                    .partitions
                    .get_mut(partition_index as usize)
                    .ok_or((ExitCode::USR_NOT_FOUND, format!("no such partition {partition_index}")))?;
                if !numbers.is_subset(&partition.sectors) {
                    return Err(illegal("failed fault declaration: not all sectors are assigned to the partition"));
                }
                // A declared recovery is retracted (the sector stays faulty); others become faulty.
                let retracted: BTreeSet<u64> = numbers.intersection(&partition.recoveries).copied().collect();
                partition.recoveries.retain(|n| !retracted.contains(n));
                let new: BTreeSet<u64> = numbers.difference(&retracted).copied().collect();
                newly_faulty.extend(partition.add_faults(&new));
            }
            for number in newly_faulty {
                self.sectors.get_mut(&number).expect("a partition's sector exists").fault_expiration =
                    Some(fault_expiration);
            }
        }
        Ok(Vec::new())
    }

    /// miner.DeclareFaultsRecovered: the fee debt is repaid first (or the message refused); the sectors are
    /// marked recovering, to regain power when proven. Returns the debt to burn.
    pub(super) fn declare_faults_recovered(
        &mut self,
        message: &Message,
        caller: u64,
        balance: &TokenAmount,
        env: &dyn ChainEnv,
    ) -> Result<TokenAmount, (ExitCode, String)> {
        let params: miner_state::DeclareFaultsRecoveredParams = decode(&message.params)?;
        let declared = params.recoveries.into_iter().map(|r| (r.deadline, r.partition, r.sectors));
        let map = group(declared, env.policy().period_deadlines)?;
        let to_burn = self.funds.repay_debts(balance)?;
        self.check_control_caller(caller)?;
        let policy = env.policy();
        let epoch = env.epoch();
        self.ensure_deadlines(&policy);
        let period_start = self.current_period_start(epoch, &policy);
        for (deadline_index, partitions) in map {
            Self::declaration_target(&policy, deadline_index, period_start, epoch, Declaration::Recovery)?;
            let deadline = &mut self.deadlines[deadline_index as usize];
            for (partition_index, numbers) in partitions {
                let partition = deadline
                    .partitions
                    .get_mut(partition_index as usize)
                    .ok_or((ExitCode::USR_NOT_FOUND, format!("no such partition {partition_index}")))?;
                if !numbers.is_subset(&partition.sectors) {
                    return Err(illegal("failed fault declaration: not all sectors are assigned to the partition"));
                }
                // Only faulty sectors can recover.
                partition.recoveries.extend(numbers.intersection(&partition.faults));
            }
        }
        Ok(to_burn)
    }

    /// The next occurrence of the declared deadline, which must not have passed its fault cutoff
    /// (builtin-actors `declaration_deadline_info` and `validate_fr_declaration_deadline`).
    fn declaration_target(
        policy: &SectorPolicy,
        deadline: u64,
        period_start: i64,
        epoch: i64,
        what: Declaration,
    ) -> Result<DeadlineInfo, (ExitCode, String)> {
        let target = next_not_elapsed(policy, deadline_info(policy, period_start, deadline, epoch));
        if target.fault_cutoff_passed() {
            return Err(illegal(format!(
                "failed {} declaration at deadline {deadline}: late fault or recovery declaration",
                what.noun()
            )));
        }
        Ok(target)
    }
}
