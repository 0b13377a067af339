//! The Miner's spec checked before anything is written (pure), for what the schema cannot check: address checksums and
//! key types, amounts, multiaddrs, the maintenance bound and batch waits, quantities. Everything refused is named in
//! one [`crate::error::Error::InvalidSpec`] (the reconcile sets `SpecValid` False with it); what passes is parsed once
//! into a [`ValidSpec`], which the later steps use instead of the spec's strings.

use std::time::Duration;

use fvm_shared::address::{Address, Protocol};
use fvm_shared::econ::TokenAmount;
use multiaddr::Multiaddr;
use sealstack_chain::miner_creation::CreateMinerRequest;
use sealstack_crds::Miner;
use sealstack_crds::miner::{MinerSpec, parse_duration};

use super::announce::strip_peer_id;
use crate::error::Result;
use crate::validation::{Refusals, resources, size};

/// A Miner's spec as the reconcile uses it, every field checked.
#[derive(Clone, Debug)]
pub struct ValidSpec {
    /// Where the actor comes from.
    pub actor: ActorSource,
    /// `spec.p2p.announceAddresses`, without peer IDs (empty: the addresses are computed from the Service).
    pub announce_addresses: Vec<Multiaddr>,
    /// `spec.maintenance.maxBlockedDuration`.
    pub max_blocked: Duration,
}

/// Where a Miner's actor comes from.
#[derive(Clone, Debug)]
pub enum ActorSource {
    /// `spec.actor`: an existing miner actor, adopted.
    Adopt(Address),
    /// Created on chain as the spec asks (owner, worker, sender, amounts, sector size, confidence); the peer ID
    /// is filled in once the identity is known.
    Create(Box<CreateMinerRequest>),
}

/// Checks `miner`'s spec; the refused fields, by their path, in one [`crate::error::Error::InvalidSpec`].
pub fn validate(miner: &Miner) -> Result<ValidSpec> {
    let spec = &miner.spec;
    let mut refusals = Refusals::default();
    let actor = match &spec.actor {
        Some(actor) => refusals.check("spec.actor", adopted_actor(actor.as_str())).map(ActorSource::Adopt),
        None => creation_request(spec, &mut refusals).map(|request| ActorSource::Create(Box::new(request))),
    };
    let announce_addresses: Vec<Multiaddr> = spec
        .p2p
        .announce_addresses
        .iter()
        .enumerate()
        .filter_map(|(i, address)| {
            let parsed = strip_peer_id(address.as_str()).parse::<Multiaddr>();
            refusals.check(&format!("spec.p2p.announceAddresses[{i}]"), parsed.map_err(|e| format!("{address}: {e}")))
        })
        .collect();
    let max_blocked = refusals.check(
        "spec.maintenance.maxBlockedDuration",
        parse_duration(&spec.maintenance.max_blocked_duration).map_err(|e| e.to_string()),
    );
    let batching = &spec.sealing.batching;
    for (field, wait) in [("preCommit", &batching.pre_commit.wait), ("commit", &batching.commit.wait)] {
        refusals.check(&format!("spec.sealing.batching.{field}.wait"), parse_duration(wait).map_err(|e| e.to_string()));
    }
    if let Some(claim_size) = &spec.storage.size {
        refusals.check("spec.storage.size", size(claim_size));
    }
    for (i, store) in spec.long_term_stores.iter().enumerate() {
        if let Some(claim_size) = &store.volume.size {
            refusals.check(&format!("spec.longTermStores[{i}].volume.size"), size(claim_size));
        }
        if let Some(max) = &store.max_size {
            refusals.check(&format!("spec.longTermStores[{i}].maxSize"), size(max));
        }
    }
    resources(&mut refusals, "spec.runtime.resources", spec.runtime.container.resources.as_ref());
    // A value missing below was refused: `into_result` returns the refusals then.
    refusals.into_result(|| ValidSpec {
        actor: actor.expect("refused when missing"),
        announce_addresses,
        max_blocked: max_blocked.expect("refused when missing"),
    })
}

/// The creation request `spec` describes (an empty peer ID), its fields refused into `refusals`.
fn creation_request(spec: &MinerSpec, refusals: &mut Refusals) -> Option<CreateMinerRequest> {
    let sector_size = sealstack_chain::actors::sector_size(spec.sector_size.bytes());
    let sector_size = refusals.check("spec.sectorSize", sector_size.ok_or("not a Filecoin sector size".to_owned()));
    let mut address =
        |field: &str, text: Option<&str>| text.and_then(|text| refusals.check(field, parse_address(text)));
    let owner = address("spec.owner", spec.owner.as_ref().map(|a| a.as_str()));
    let worker_text = spec.worker.as_ref().and_then(|w| w.address.as_ref()).map(|a| a.as_str());
    let worker = address("spec.worker.address", worker_text);
    let sender = address("spec.from", spec.from.as_ref().map(|a| a.as_str()));
    let create_worker_key = spec.worker.as_ref().is_some_and(|w| w.create.is_some());
    // The miner actor takes only a BLS worker; an ID address may be one (only the chain can tell).
    if let Some(worker) = worker {
        refusals.check("spec.worker.address", bls_or_id(worker, "the miner actor's worker must be a BLS key"));
    } else if let Some(owner) = owner.filter(|_| !create_worker_key) {
        let why = "without spec.worker the owner is also the worker, which must be a BLS key \
                   (set spec.worker.address, or spec.worker.create: bls)";
        refusals.check("spec.owner", bls_or_id(owner, why));
    }
    let gas_premium = refusals.check("spec.gasPremium", amount(spec.gas_premium.as_ref().map(|a| a.as_str())));
    let worker_funding = refusals.check("spec.workerFunding", amount(spec.worker_funding.as_ref().map(|a| a.as_str())));
    let mut request = CreateMinerRequest::new(sector_size?, Vec::new());
    request.owner = owner;
    request.worker = worker;
    request.create_worker_key = create_worker_key;
    request.sender = sender;
    request.gas_premium = gas_premium?;
    request.worker_funding = worker_funding?;
    request.confidence = u64::from(spec.confidence);
    Some(request)
}

/// A Filecoin address, checksum included.
fn parse_address(text: &str) -> Result<Address, String> {
    sealstack_chain::json::parse_address(text).map_err(|e| format!("{text}: {e}"))
}

/// The actor to adopt: an ID (`f0`) or actor (`f2`) address; a key's address is never a miner actor.
fn adopted_actor(text: &str) -> Result<Address, String> {
    let actor = parse_address(text)?;
    match actor.protocol() {
        Protocol::ID | Protocol::Actor => Ok(actor),
        _ => Err(format!("{text} is not a miner actor's address (f0... or f2...)")),
    }
}

/// `address` when it is a BLS key or an ID address; `why` otherwise.
fn bls_or_id(address: Address, why: &str) -> Result<(), String> {
    match address.protocol() {
        Protocol::BLS | Protocol::ID => Ok(()),
        _ => Err(format!("{address} is not a BLS key: {why}")),
    }
}

/// An amount of attoFIL (absent: zero).
fn amount(text: Option<&str>) -> Result<TokenAmount, String> {
    let Some(text) = text else { return Ok(TokenAmount::from_atto(0)) };
    let atto: fvm_shared::bigint::BigInt = text.parse().map_err(|_| format!("{text:?} is not an attoFIL amount"))?;
    if atto.sign() == fvm_shared::bigint::Sign::Minus {
        return Err(format!("{text:?} is negative"));
    }
    Ok(TokenAmount::from_atto(atto))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
