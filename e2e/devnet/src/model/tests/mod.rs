//! Unit tests of the miner model against builtin-actors' rules, on an actor table driven directly: a genesis
//! miner with sectors in deadlines, messages applied at chosen epochs, and the deadline cron. Proofs are not
//! checked here (the environment accepts them and records what it was asked to verify); tests/ checks real
//! ones.

mod assignment;
mod commit;
mod faults;
mod fees;
mod lifecycle;
mod post;

use std::cell::RefCell;

use cid::Cid;
use cid::multihash::Multihash;
use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use fvm_shared::randomness::Randomness;
use fvm_shared::sector::{PoStProof, RegisteredPoStProof};
use sealstack_chain::actors::{methods, miner_state};
use sealstack_chain::json::LotusJson;
use sealstack_chain::miner::DeadlineInfo;
use sealstack_chain::randomness::{draw_randomness, tags};

use super::*;
use crate::wallet::{Key, KeyType};

/// The environment of a test: an epoch, the policy, randomness from a fixed base, and proof checks that
/// pass (or fail) and are recorded.
pub struct TestEnv {
    pub epoch: i64,
    pub policy: SectorPolicy,
    pub posts_valid: bool,
    pub posts: RefCell<Vec<PoStToVerify>>,
    pub aggregates_valid: bool,
    pub aggregates: RefCell<Vec<AggregateToVerify>>,
}

impl ChainEnv for TestEnv {
    fn epoch(&self) -> i64 {
        self.epoch
    }
    fn ticket_randomness(&self, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32] {
        draw_randomness(b"ticket", tag, epoch, entropy)
    }
    fn beacon_randomness(&self, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32] {
        draw_randomness(b"beacon", tag, epoch, entropy)
    }
    fn creation_deposit(&self) -> TokenAmount {
        TokenAmount::from_atto(1_000)
    }
    fn base_fee(&self) -> TokenAmount {
        TokenAmount::from_atto(BASE_FEE_ATTO)
    }
    fn policy(&self) -> SectorPolicy {
        self.policy.clone()
    }
    fn verify_seal(&self, _seal: &SealToVerify) -> Result<bool, String> {
        Ok(true)
    }
    fn verify_aggregate_seal(&self, aggregate: &AggregateToVerify) -> Result<bool, String> {
        self.aggregates.borrow_mut().push(aggregate.clone());
        Ok(self.aggregates_valid)
    }
    fn verify_window_post(&self, post: &PoStToVerify) -> Result<bool, String> {
        self.posts.borrow_mut().push(post.clone());
        Ok(self.posts_valid)
    }
}

/// A genesis miner's world.
pub struct World {
    pub table: ActorTable,
    pub env: TestEnv,
    pub id: u64,
    pub worker: Address,
    nonce: u64,
}

/// The miner's ID in every test.
pub const MINER: u64 = 1000;

/// A CommR CID of sector `n`.
pub fn comm_r(n: u64) -> Cid {
    Cid::new_v1(SEALED_CODEC, Multihash::wrap(0xb401, &[n as u8 + 1; 32]).unwrap())
}

impl World {
    /// A 2KiB genesis miner with sectors `0..sectors` active, `free` attoFIL unlocked, and a creation deposit
    /// of `locked` attoFIL.
    pub fn with(sectors: u64, policy: SectorPolicy, free: u64, locked: u64) -> World {
        let worker = Key::generate(KeyType::Bls).address();
        let mut table = ActorTable::genesis(&[GenesisAccount { key: worker, balance: TokenAmount::from_whole(1_000) }]);
        let spec = GenesisMinerSpec {
            id: MINER,
            worker,
            peer_id: vec![0, 4, 1, 2, 3, 4],
            sector_size: 2048,
            power_balance: TokenAmount::from_atto(free),
            sectors: (0..sectors).map(|n| (n, 5, comm_r(n))).collect(),
        };
        let id = table.add_genesis_miner(&spec, &policy, &TokenAmount::from_atto(locked)).unwrap();
        let env = TestEnv {
            epoch: 0,
            policy,
            posts_valid: true,
            posts: RefCell::new(Vec::new()),
            aggregates_valid: true,
            aggregates: RefCell::new(Vec::new()),
        };
        World { table, env, id, worker, nonce: 0 }
    }

    /// A miner with `deadline_assignment`, 1 FIL free, and deadlines of 20 epochs (so that a deadline two
    /// ahead of the first epoch still takes declarations before its cutoff).
    pub fn new(sectors: u64, assignment: DeadlineAssignment) -> World {
        World::with(sectors, test_policy(assignment), 1_000_000_000_000_000_000, 1_000)
    }
}

/// The policy of the tests: the default with 20-epoch deadlines.
pub fn test_policy(assignment: DeadlineAssignment) -> SectorPolicy {
    SectorPolicy { challenge_window: 20, deadline_assignment: assignment, ..SectorPolicy::default() }
}

impl World {
    pub fn miner(&self) -> &MinerActor {
        self.table.miner(&Address::new_id(self.id)).unwrap()
    }

    pub fn balance(&self) -> TokenAmount {
        self.table.balance(self.id)
    }

    /// Applies a message from the worker to the miner at the current epoch.
    pub fn send(&mut self, method: u64, params: &impl serde::Serialize, value: TokenAmount) -> ApplyReceipt {
        let message = Message {
            version: 0,
            from: self.worker,
            to: Address::new_id(self.id),
            sequence: self.nonce,
            value,
            method_num: method,
            params: RawBytes::serialize(params).unwrap(),
            gas_limit: 10_000_000,
            gas_fee_cap: TokenAmount::from_atto(1_000),
            gas_premium: TokenAmount::from_atto(100),
        };
        self.nonce += 1;
        self.table.apply(&message, &self.env)
    }

    /// Moves to `epoch`, running the cron of every deadline that ends on the way.
    pub fn advance_to(&mut self, epoch: i64) {
        assert!(epoch >= self.env.epoch);
        self.env.epoch = epoch;
        self.table.end_epoch(&self.env);
    }

    /// The next occurrence of `deadline` that has not closed (the current one when open).
    pub fn upcoming(&self, deadline: u64) -> DeadlineInfo {
        let policy = &self.env.policy;
        let start = self.miner().current_period_start(self.env.epoch, policy);
        next_not_elapsed(policy, deadline_info(policy, start, deadline, self.env.epoch))
    }

    /// The deadline and partition of a sector.
    pub fn location(&self, sector: u64) -> (u64, u64) {
        let location = self.miner().sector_location(sector).unwrap();
        (location.deadline, location.partition)
    }

    /// SubmitWindowedPoSt of `partitions` (index, skipped sectors) of the open deadline.
    pub fn post(&mut self, partitions: &[(u64, &[u64])]) -> ApplyReceipt {
        let current = self.miner().deadline_info(self.env.epoch, &self.env.policy).index;
        self.post_for(current, partitions)
    }

    /// SubmitWindowedPoSt naming `deadline`.
    pub fn post_for(&mut self, deadline: u64, partitions: &[(u64, &[u64])]) -> ApplyReceipt {
        let commit_epoch = self.env.epoch - 1;
        let rand = self.env.ticket_randomness(tags::POST_CHAIN_COMMIT, commit_epoch, &[]);
        let params = miner_state::SubmitWindowedPoStParams {
            deadline,
            partitions: partitions
                .iter()
                .map(|(index, skipped)| miner_state::PoStPartition {
                    index: *index,
                    skipped: fvm_ipld_bitfield::BitField::try_from_bits(skipped.iter().copied()).unwrap(),
                })
                .collect(),
            proofs: vec![PoStProof {
                post_proof: RegisteredPoStProof::StackedDRGWindow2KiBV1P1,
                proof_bytes: vec![7; 192],
            }],
            chain_commit_epoch: commit_epoch,
            chain_commit_rand: Randomness(rand.to_vec()),
        };
        self.send(methods::SUBMIT_WINDOWED_POST, &params, TokenAmount::from_atto(0))
    }

    /// A declaration of `sectors` in one partition, as DeclareFaults or DeclareFaultsRecovered params.
    pub fn declare(&mut self, method: u64, deadline: u64, partition: u64, sectors: &[u64]) -> ApplyReceipt {
        let bits = fvm_ipld_bitfield::BitField::try_from_bits(sectors.iter().copied()).unwrap();
        if method == methods::DECLARE_FAULTS {
            let params = miner_state::DeclareFaultsParams {
                faults: vec![miner_state::FaultDeclaration { deadline, partition, sectors: bits }],
            };
            self.send(method, &params, TokenAmount::from_atto(0))
        } else {
            let params = miner_state::DeclareFaultsRecoveredParams {
                recoveries: vec![miner_state::RecoveryDeclaration { deadline, partition, sectors: bits }],
            };
            self.send(method, &params, TokenAmount::from_atto(0))
        }
    }

    /// The numbers the last verified WindowPoSt covered.
    pub fn last_proven_set(&self) -> Vec<u64> {
        self.env.posts.borrow().last().map(|p| p.sectors.iter().map(|(n, _)| *n).collect()).unwrap_or_default()
    }
}

/// Asserts a receipt's exit code and that its reason contains `reason`.
pub fn assert_exit(receipt: &ApplyReceipt, code: fvm_shared::error::ExitCode, reason: &str) {
    assert_eq!(receipt.exit_code, code, "{receipt:?}");
    let text = receipt.reason.as_deref().unwrap_or_default();
    assert!(text.contains(reason), "expected {reason:?} in {text:?}");
}

/// Asserts a receipt succeeded.
pub fn assert_ok(receipt: &ApplyReceipt) {
    assert_eq!(receipt.exit_code, fvm_shared::error::ExitCode::OK, "{receipt:?}");
}
