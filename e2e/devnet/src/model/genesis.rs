//! Miners created at genesis with pre-sealed sectors, as Lotus's genesis does (lotus chain/gen/genesis/miners.go):
//! the owner and worker are the pre-seal's key (an account funded at genesis), the miner gets the next ID
//! from 1000, and its sectors are activated at epoch 0 without a seal proof, assigned to deadlines by the
//! actor's rules and marked proven (Lotus's `EraseAllUnproven`): they carry power from the first epoch and
//! are due at their deadlines from the first proving period.

use cid::Cid;
use fvm_shared::address::{Address, Protocol};
use fvm_shared::econ::TokenAmount;
use sealstack_chain::actors::{power_state, window_post_proof};
use sealstack_chain::json::LotusJson;

use super::actors::{ActorKind, ActorState, ActorTable, next_actor_address};
use super::miner::MinerActor;
use super::policy::SectorPolicy;
use super::sectors::{SEALED_CODEC, commitment};

/// Proving periods a pre-sealed sector lives (Lotus gives genesis sectors the longest expiration the policy
/// allows: `MAX_SECTOR_EXPIRATION_EXTENSION`, 1278 days).
pub const GENESIS_SECTOR_LIFETIME_PERIODS: i64 = 1278;

/// A genesis miner, checked: what the model needs of a pre-seal manifest entry.
#[derive(Clone, Debug)]
pub struct GenesisMinerSpec {
    /// The ID the manifest gives the miner; it must be the one the chain assigns.
    pub id: u64,
    /// The owner and worker: a BLS key address with an account at genesis.
    pub worker: Address,
    /// The libp2p peer ID bytes.
    pub peer_id: Vec<u8>,
    /// The sector size in bytes.
    pub sector_size: u64,
    /// Free funds for the miner actor (the manifest's `PowerBalance`).
    pub power_balance: TokenAmount,
    /// The pre-sealed sectors: number, `RegisteredSealProof`, CommR.
    pub sectors: Vec<(u64, i64, Cid)>,
}

impl ActorTable {
    /// Creates a genesis miner with its sectors active. Its balance is minted: the creation deposit (locked),
    /// the pledge of its sectors, and its `PowerBalance`.
    pub fn add_genesis_miner(
        &mut self,
        spec: &GenesisMinerSpec,
        policy: &SectorPolicy,
        creation_deposit: &TokenAmount,
    ) -> Result<u64, String> {
        let id = self.next_id();
        if spec.id != id {
            return Err(format!(
                "genesis miner f0{} would be created as f0{id}: list miners in ID order from f01000",
                spec.id
            ));
        }
        if spec.worker.protocol() != Protocol::BLS {
            return Err(format!("genesis miner f0{id}: worker {} must be a BLS key", spec.worker));
        }
        let worker =
            self.resolve(&spec.worker).ok_or(format!("genesis miner f0{id}: worker {} has no account", spec.worker))?;
        let size = sealstack_chain::actors::sector_size(spec.sector_size)
            .ok_or(format!("genesis miner f0{id}: sector size {} is not a Filecoin sector size", spec.sector_size))?;
        let params = power_state::CreateMinerParams {
            owner: Address::new_id(worker),
            worker: Address::new_id(worker),
            window_post_proof_type: window_post_proof(size),
            peer: spec.peer_id.clone(),
            multiaddrs: Vec::new(),
        };
        let mut miner = MinerActor::new(worker, worker, &params, id, 0, policy.period_deadlines)
            .map_err(|(_, e)| format!("genesis miner f0{id}: {e}"))?;
        let seal_proof = i64::from(miner.seal_proof());
        let mut numbers = std::collections::BTreeSet::new();
        let mut sectors = Vec::with_capacity(spec.sectors.len());
        for (number, proof, comm_r) in &spec.sectors {
            if *proof != seal_proof {
                return Err(format!(
                    "genesis miner f0{id}: sector {number} has proof type {proof}, expected {seal_proof}"
                ));
            }
            commitment(comm_r, SEALED_CODEC).map_err(|e| format!("genesis miner f0{id}: sector {number}: {e}"))?;
            if !numbers.insert(*number) {
                return Err(format!("genesis miner f0{id}: sector {number} listed twice"));
            }
            let expiration = policy.genesis_sector_lifetime_periods * policy.proving_period();
            sectors.push((*number, *proof, LotusJson(*comm_r), expiration));
        }
        let pledge = TokenAmount::from_atto(policy.initial_pledge) * sectors.len() as u64;
        miner.activate(sectors, 0, policy)?;
        for deadline in &mut miner.deadlines {
            for partition in &mut deadline.partitions {
                partition.unproven.clear();
            }
        }
        miner.funds.locked_funds = LotusJson(creation_deposit.clone());
        miner.funds.initial_pledge = LotusJson(pledge.clone());
        let balance = creation_deposit.clone() + pledge + &spec.power_balance;
        let robust = next_actor_address(&spec.worker, 0, id);
        self.insert_actor(
            id,
            ActorState {
                kind: ActorKind::Miner(Box::new(miner)),
                balance: LotusJson(balance),
                nonce: 0,
                robust: Some(LotusJson(robust)),
            },
        );
        Ok(id)
    }
}
