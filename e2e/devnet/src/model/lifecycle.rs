//! A sector's life after activation: miner.ExtendSectorExpiration2 (32) and miner.TerminateSectors (9)
//! (builtin-actors actors/miner/src/lib.rs `extend_sector_expiration2`, `validate_extended_expiration`,
//! `validate_expiration`, `terminate_sectors` with `process_early_terminations`; partition_state.rs
//! `replace_sectors` and `terminate_sectors`). Expiration itself is the deadline cron's (cron.rs).
//!
//! A message is all or nothing, as an actor's transaction is: every declaration is checked before any sector
//! changes. Sectors with FIL+ claims are refused (the devnet has no verified registry); terminations are
//! processed at once, fee and pledge included (builtin-actors processes up to its per-epoch limits at once too,
//! and queues the rest for the cron).

use std::collections::BTreeSet;

use fvm_ipld_encoding::RawBytes;
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use sealstack_chain::actors::miner_state;

use super::ChainEnv;
use super::actors::decode;
use super::deadlines::deadline_is_mutable;
use super::faults::group;
use super::miner::{MinerActor, illegal};
use super::policy::SectorPolicy;

/// One checked extension: the sectors of a partition and their new expiration.
struct Extension {
    sectors: BTreeSet<u64>,
    new_expiration: i64,
}

impl MinerActor {
    /// miner.ExtendSectorExpiration2: each declaration's sectors (active: live, not faulty, proven; in the named
    /// partition) get the new expiration, within builtin-actors' bounds. Power, pledge and the daily fee of a
    /// committed-capacity sector do not change.
    pub(super) fn extend_sector_expiration2(
        &mut self,
        message: &Message,
        caller: u64,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        let params: miner_state::ExtendSectorExpiration2Params = decode(&message.params)?;
        let policy = env.policy();
        for declaration in &params.extensions {
            if declaration.deadline >= policy.period_deadlines {
                return Err(illegal(format!(
                    "deadline {} not in range 0..{}",
                    declaration.deadline, policy.period_deadlines
                )));
            }
            if let Some(claimed) = declaration.sectors_with_claims.first() {
                return Err(illegal(format!(
                    "failed to get claims for sector {}: the devnet has no verified registry (FIL+ claims)",
                    claimed.sector_number
                )));
            }
        }
        self.check_control_caller(caller)?;
        self.ensure_deadlines(&policy);
        let epoch = env.epoch();
        let mut checked = Vec::with_capacity(params.extensions.len());
        for declaration in params.extensions {
            // builtin-actors prints its PartitionKey with Debug.
            let key =
                format!("PartitionKey {{ deadline: {}, partition: {} }}", declaration.deadline, declaration.partition);
            let partition = self.deadlines[declaration.deadline as usize]
                .partitions
                .get(declaration.partition as usize)
                .ok_or_else(|| (ExitCode::USR_NOT_FOUND, format!("no such partition {key}")))?;
            let sectors: BTreeSet<u64> = declaration.sectors.iter().collect();
            for number in &sectors {
                let sector = self.sectors.get(number).ok_or_else(|| {
                    (ExitCode::USR_NOT_FOUND, format!("failed to load sectors: sector not found: {number}"))
                })?;
                validate_extended_expiration(&policy, epoch, declaration.new_expiration, *number, sector)?;
            }
            // builtin-actors `Partition::replace_sectors`: only active sectors of this partition (live, not
            // faulty, proven: `active_sectors`).
            let active = partition.active();
            if !sectors.is_subset(&active) {
                return Err((
                    ExitCode::USR_ILLEGAL_STATE,
                    format!(
                        "failed to replace sector expirations at {key}: refusing to replace inactive sectors in \
                         {sectors:?} (active: {active:?})"
                    ),
                ));
            }
            checked.push(Extension { sectors, new_expiration: declaration.new_expiration });
        }
        for extension in checked {
            for number in extension.sectors {
                self.sectors.get_mut(&number).expect("checked above").expiration = extension.new_expiration;
            }
        }
        Ok(Vec::new())
    }

    /// miner.TerminateSectors: live sectors of mutable deadlines end now; each pays the termination fee and its
    /// pledge is released. Returns the return value (`done`: nothing left queued) and what to burn from
    /// `balance` (the fee, from locked funds first).
    pub(super) fn terminate_sectors(
        &mut self,
        message: &Message,
        caller: u64,
        balance: &TokenAmount,
        env: &dyn ChainEnv,
    ) -> Result<(Vec<u8>, TokenAmount), (ExitCode, String)> {
        let params: miner_state::TerminateSectorsParams = decode(&message.params)?;
        let policy = env.policy();
        let declared = params.terminations.into_iter().map(|t| (t.deadline, t.partition, t.sectors));
        let map = group(declared, policy.period_deadlines)?;
        self.check_control_caller(caller)?;
        self.ensure_deadlines(&policy);
        let epoch = env.epoch();
        let period_start = self.current_period_start(epoch, &policy);
        for (&deadline_index, partitions) in &map {
            if !deadline_is_mutable(&policy, period_start, deadline_index, epoch) {
                return Err(illegal(format!("cannot terminate sectors in immutable deadline {deadline_index}")));
            }
            for (&partition_index, numbers) in partitions {
                let partition = self.deadlines[deadline_index as usize]
                    .partitions
                    .get(partition_index as usize)
                    .ok_or_else(|| (ExitCode::USR_NOT_FOUND, format!("failed to find partition {partition_index}")))?;
                if !numbers.is_subset(&partition.live()) {
                    return Err(illegal("can only terminate live sectors"));
                }
            }
        }
        let mut terminated = BTreeSet::new();
        for (deadline_index, partitions) in map {
            for (partition_index, numbers) in partitions {
                let partition = &mut self.deadlines[deadline_index as usize].partitions[partition_index as usize];
                partition.terminated.extend(&numbers);
                partition.faults.retain(|n| !numbers.contains(n));
                partition.recoveries.retain(|n| !numbers.contains(n));
                partition.unproven.retain(|n| !numbers.contains(n));
                terminated.extend(numbers);
            }
        }
        let (_, burnt) = self.process_terminations(&terminated, epoch, &policy, balance);
        let done = RawBytes::serialize(miner_state::TerminateSectorsReturn { done: true })
            .map_err(|e| (ExitCode::USR_SERIALIZATION, e.to_string()))?;
        Ok((done.to_vec(), burnt))
    }

    /// The fee and pledge of sectors terminated early at `epoch`, by a message or by the deadline cron
    /// (builtin-actors `process_early_terminations`): the termination fee is a penalty (paid from locked funds,
    /// then the balance), the pledge is released. Returns the fee and what was burnt from `balance`.
    pub(super) fn process_terminations(
        &mut self,
        terminated: &BTreeSet<u64>,
        epoch: i64,
        policy: &SectorPolicy,
        balance: &TokenAmount,
    ) -> (TokenAmount, TokenAmount) {
        let zero = TokenAmount::from_atto(0);
        let mut fee = zero.clone();
        let mut pledge = zero;
        for number in terminated {
            let sector = self.sectors.get_mut(number).expect("a partition's sector exists");
            fee += policy.termination_fee(&sector.pledge.0, epoch - sector.activation);
            pledge += &sector.pledge.0;
            sector.fault_expiration = None;
        }
        self.funds.apply_penalty(&fee);
        self.funds.initial_pledge.0 -= pledge;
        let burnt = self.funds.repay_partial_debt(balance);
        (fee, burnt)
    }
}

/// builtin-actors `validate_extended_expiration` and `validate_expiration`, with the devnet's "day" (a proving
/// period) in the day-based bounds.
pub(super) fn validate_extended_expiration(
    policy: &SectorPolicy,
    epoch: i64,
    new_expiration: i64,
    number: u64,
    sector: &super::sectors::SectorOnChain,
) -> Result<(), (ExitCode, String)> {
    if sector.expiration < epoch {
        return Err((
            ExitCode::USR_FORBIDDEN,
            format!("cannot extend expiration for expired sector {number} at {}", sector.expiration),
        ));
    }
    if new_expiration < sector.expiration {
        return Err(illegal(format!(
            "cannot reduce sector {number} expiration to {new_expiration} from {}",
            sector.expiration
        )));
    }
    let activation = sector.activation;
    let lifetime = new_expiration - activation;
    if new_expiration <= activation {
        return Err(illegal(format!("sector expiration {new_expiration} must be after activation {activation}")));
    }
    if lifetime < policy.min_sector_expiration() {
        return Err(illegal(format!(
            "invalid expiration {new_expiration}, total sector lifetime ({lifetime}) must exceed {} after \
             activation {activation}",
            policy.min_sector_expiration()
        )));
    }
    if new_expiration > epoch + policy.max_sector_expiration_extension() {
        return Err(illegal(format!(
            "invalid expiration {new_expiration}, cannot be more than {} past current epoch {epoch}",
            policy.max_sector_expiration_extension()
        )));
    }
    if lifetime > policy.sector_maximum_lifetime() {
        return Err(illegal(format!(
            "invalid expiration {new_expiration}, total sector lifetime ({lifetime}) cannot exceed {} after \
             activation {activation}",
            policy.sector_maximum_lifetime()
        )));
    }
    Ok(())
}
