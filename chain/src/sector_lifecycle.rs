//! Extending and terminating sectors: the miner.ExtendSectorExpiration2 and miner.TerminateSectors messages that
//! `lotus-miner sectors extend` and `sectors terminate` send (lotus cli/spcli/sectors.go), from the worker,
//! batched within builtin-actors' per-message limits. [`extension_batches`] and [`termination_batches`] are pure;
//! [`send_batches`] pushes each batch through [`push_once`], so a rerun after a crash waits for a pushed
//! message instead of sending another.

use std::collections::BTreeMap;

use fvm_ipld_bitfield::BitField;
use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;

use crate::actors::miner_state;
use crate::api::FullNodeClient;
use crate::client::Node;
use crate::error::ChainError;
use crate::json::{LotusJson, TipSetKey};
use crate::message::unsigned_message;
use crate::node::MsgLookup;
use crate::push::{Journal, MessageLog, forget_if_landed, push_once};

/// Declarations one message carries at most (builtin-actors `DECLARATIONS_MAX`, which lotus-miner's `sectors
/// extend` keeps to).
pub const DECLARATIONS_MAX: usize = 3000;
/// Sectors one message addresses at most (builtin-actors `ADDRESSED_SECTORS_MAX`).
pub const ADDRESSED_SECTORS_MAX: usize = 25_000;

/// A live sector where the chain keeps it, with its expiration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocatedSector {
    /// Its number.
    pub number: u64,
    /// Its deadline.
    pub deadline: u64,
    /// Its partition in that deadline.
    pub partition: u64,
    /// The epoch it expires.
    pub expiration: i64,
}

/// An active sector located, with its activation (which bounds how far it may be extended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveSector {
    /// Where it is and when it expires.
    pub located: LocatedSector,
    /// The epoch it was activated.
    pub activation: i64,
}

/// The miner's active sectors (live, not faulty, proven), each located: StateMinerActiveSectors for their
/// expiration and activation, and StateMinerPartitions of each of the `period_deadlines` deadlines for their place
/// (one call per deadline, not one per sector).
pub async fn active_sectors(
    node: &Node,
    miner: Address,
    period_deadlines: u64,
) -> Result<Vec<ActiveSector>, ChainError> {
    let api = node.api();
    let mut places = BTreeMap::new();
    for deadline in 0..period_deadlines {
        let partitions = api.state_miner_partitions(LotusJson(miner), deadline, TipSetKey::head());
        for (partition, sectors) in partitions.await.map_err(node.err())?.iter().enumerate() {
            for number in sectors.active_sectors.numbers() {
                places.insert(number, (deadline, partition as u64));
            }
        }
    }
    let active = api.state_miner_active_sectors(LotusJson(miner), TipSetKey::head()).await.map_err(node.err())?;
    Ok(active
        .into_iter()
        .filter_map(|sector| {
            let &(deadline, partition) = places.get(&sector.sector_number)?;
            let located =
                LocatedSector { number: sector.sector_number, deadline, partition, expiration: sector.expiration };
            Some(ActiveSector { located, activation: sector.activation })
        })
        .collect())
}

/// Which sectors to extend to `new_expiration`, as `lotus-miner sectors extend` picks them: those expiring within
/// `from..=to`, less those already within `tolerance` epochs of the new expiration (not worth a message) or
/// past it; the soonest expiring first, at most `max_sectors`.
pub fn select_for_extension(
    sectors: &[LocatedSector],
    from: i64,
    to: i64,
    new_expiration: i64,
    tolerance: i64,
    max_sectors: Option<usize>,
) -> Vec<LocatedSector> {
    let mut chosen: Vec<LocatedSector> = sectors
        .iter()
        .filter(|s| (from..=to).contains(&s.expiration) && new_expiration - s.expiration > tolerance)
        .cloned()
        .collect();
    chosen.sort_by_key(|s| (s.expiration, s.number));
    chosen.truncate(max_sectors.unwrap_or(usize::MAX));
    chosen
}

/// Declarations (deadline, partition, sector numbers) in messages: one declaration per partition (split when a
/// partition alone exceeds the sector limit), a new message when either limit would be passed.
fn declarations(sectors: &[LocatedSector]) -> Vec<Vec<(u64, u64, Vec<u64>)>> {
    let mut by_partition: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    for sector in sectors {
        by_partition.entry((sector.deadline, sector.partition)).or_default().push(sector.number);
    }
    let mut messages: Vec<Vec<(u64, u64, Vec<u64>)>> = Vec::new();
    let mut addressed = 0;
    for ((deadline, partition), mut numbers) in by_partition {
        numbers.sort_unstable();
        for chunk in numbers.chunks(ADDRESSED_SECTORS_MAX) {
            let full = messages
                .last()
                .is_none_or(|m| m.len() >= DECLARATIONS_MAX || addressed + chunk.len() > ADDRESSED_SECTORS_MAX);
            if full {
                messages.push(Vec::new());
                addressed = 0;
            }
            addressed += chunk.len();
            messages.last_mut().expect("pushed above").push((deadline, partition, chunk.to_vec()));
        }
    }
    messages
}

fn bitfield(numbers: &[u64]) -> BitField {
    BitField::try_from_bits(numbers.iter().copied()).expect("sector numbers fit a bitfield")
}

/// ExtendSectorExpiration2 parameters extending `sectors` to `new_expiration`, in as few messages as the limits
/// allow (committed-capacity sectors: no FIL+ claims).
pub fn extension_batches(
    sectors: &[LocatedSector],
    new_expiration: i64,
) -> Vec<miner_state::ExtendSectorExpiration2Params> {
    declarations(sectors)
        .into_iter()
        .map(|message| miner_state::ExtendSectorExpiration2Params {
            extensions: message
                .into_iter()
                .map(|(deadline, partition, numbers)| miner_state::ExpirationExtension2 {
                    deadline,
                    partition,
                    sectors: bitfield(&numbers),
                    sectors_with_claims: Vec::new(),
                    new_expiration,
                })
                .collect(),
        })
        .collect()
}

/// TerminateSectors parameters for `sectors`, in as few messages as the limits allow.
pub fn termination_batches(sectors: &[LocatedSector]) -> Vec<miner_state::TerminateSectorsParams> {
    declarations(sectors)
        .into_iter()
        .map(|message| miner_state::TerminateSectorsParams {
            terminations: message
                .into_iter()
                .map(|(deadline, partition, numbers)| miner_state::TerminationDeclaration {
                    deadline,
                    partition,
                    sectors: bitfield(&numbers),
                })
                .collect(),
        })
        .collect()
}

/// The journal step of a message with `params` for `method`: the same batch after a crash is the same step.
pub fn batch_step(method: &str, params: &RawBytes) -> String {
    let digest = blake2b_simd::Params::new().hash_length(8).hash(params.bytes());
    format!("{method}-{}", digest.to_hex())
}

/// Sends each of `batches` (a journal step and the encoded parameters of `method_num`) from `worker` to `miner`, one
/// after the other, each journaled under its step and waited for with `confidence`; fails at the first refused. A
/// step whose logged message the chain refused (it changed nothing) is sent again when asked again. Steps made by
/// [`batch_step`] name the parameters, so the same batch after a crash is recognised.
#[allow(clippy::too_many_arguments)]
pub async fn send_batches<T, J>(
    node: &Node,
    miner: Address,
    worker: Address,
    method_num: u64,
    batches: Vec<(String, RawBytes)>,
    record: &mut T,
    journal: &mut J,
    confidence: u64,
) -> Result<Vec<MsgLookup>, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let mut landed = Vec::with_capacity(batches.len());
    for (step, params) in batches {
        let refused = |lookup: &MsgLookup| lookup.receipt.exit_code != 0;
        if let Some(cid) = forget_if_landed(node, record, journal, &step, refused).await? {
            tracing::info!(step, %cid, "the chain refused this batch's message: it is sent again");
        }
        let message = unsigned_message(worker, miner, TokenAmount::from_atto(0), method_num, params);
        landed.push(push_once(node, record, journal, &step, &message, confidence).await?);
    }
    Ok(landed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sector(number: u64, deadline: u64, partition: u64, expiration: i64) -> LocatedSector {
        LocatedSector { number, deadline, partition, expiration }
    }

    #[test]
    fn extension_picks_what_lotus_picks() {
        let sectors = [
            sector(0, 0, 0, 100),
            sector(1, 0, 0, 500),
            sector(2, 1, 0, 990),
            sector(3, 1, 0, 300),
            sector(4, 2, 0, 50),
        ];
        let numbers = |chosen: Vec<LocatedSector>| chosen.iter().map(|s| s.number).collect::<Vec<_>>();
        // Within 60..=1000, not within 20 epochs of 1000: 0, 3, 1 (soonest first); 2 is too close, 4 too soon.
        assert_eq!(numbers(select_for_extension(&sectors, 60, 1000, 1000, 20, None)), [0, 3, 1]);
        assert_eq!(numbers(select_for_extension(&sectors, 60, 1000, 1000, 20, Some(2))), [0, 3]);
        assert_eq!(numbers(select_for_extension(&sectors, 0, 1000, 400, 0, None)), [4, 0, 3], "never shortened");
    }

    #[test]
    fn batches_keep_to_builtin_actors_limits() {
        let params = extension_batches(&[sector(5, 1, 0, 10), sector(2, 1, 0, 10), sector(9, 3, 2, 10)], 700);
        assert_eq!(params.len(), 1);
        let declared: Vec<(u64, u64, Vec<u64>, i64)> = params[0]
            .extensions
            .iter()
            .map(|e| (e.deadline, e.partition, e.sectors.iter().collect(), e.new_expiration))
            .collect();
        assert_eq!(declared, [(1, 0, vec![2, 5], 700), (3, 2, vec![9], 700)]);
        // One declaration per partition: 3001 partitions take two messages.
        let many: Vec<LocatedSector> = (0..3001).map(|n| sector(n, n % 48, n / 48, 10)).collect();
        let messages = termination_batches(&many);
        assert_eq!(messages.iter().map(|m| m.terminations.len()).collect::<Vec<_>>(), [3000, 1]);
        // 25001 sectors of one partition: split at the sector limit.
        let crowded: Vec<LocatedSector> = (0..25_001).map(|n| sector(n, 0, 0, 10)).collect();
        let messages = termination_batches(&crowded);
        let sizes: Vec<u64> = messages.iter().map(|m| m.terminations.iter().map(|t| t.sectors.len()).sum()).collect();
        assert_eq!(sizes, [25_000, 1]);
    }

    #[test]
    fn a_batch_is_the_same_step_after_a_crash() {
        let params = |n| RawBytes::serialize(&termination_batches(&[sector(n, 0, 0, 1)])[0]).unwrap();
        assert_eq!(batch_step("terminate", &params(1)), batch_step("terminate", &params(1)));
        assert_ne!(batch_step("terminate", &params(1)), batch_step("terminate", &params(2)));
        assert!(batch_step("extend", &params(1)).starts_with("extend-"));
    }
}
