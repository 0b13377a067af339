//! miner.SubmitWindowedPoSt (builtin-actors actors/miner/src/lib.rs `submit_windowed_post`, with
//! deadline_state.rs `record_proven_sectors` and partition_state.rs `record_skipped_faults`,
//! `recover_faults`, `activate_unproven`): its checks and exit codes, skipped sectors faulted, declared
//! recoveries and unproven sectors made active, and the proof verified over the partitions' sectors less the
//! faulty and terminated ones (sectors.rs `load_for_proof`: faulty sectors are replaced by a good one, which
//! proofs verification reads as one sector).

use std::collections::BTreeSet;

use fvm_shared::address::Address;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use fvm_shared::sector::RegisteredPoStProof;
use sealstack_chain::actors::miner_state;
use sealstack_chain::randomness::{miner_entropy, tags};

use super::ChainEnv;
use super::actors::decode;
use super::deadlines::DeadlineTiming;
use super::miner::{MinerActor, illegal};
use super::policy::{ADDRESSED_PARTITIONS_MAX, ADDRESSED_SECTORS_MAX, POSTED_PARTITIONS_MAX};
use super::sectors::{PoStToVerify, SEALED_CODEC, commitment, prover_id};

/// The most randomness bytes a submission may carry.
const RANDOMNESS_LENGTH: usize = 32;

impl MinerActor {
    /// miner.SubmitWindowedPoSt for the current deadline.
    pub(super) fn submit_windowed_post(
        &mut self,
        message: &Message,
        caller: u64,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        let params: miner_state::SubmitWindowedPoStParams = decode(&message.params)?;
        let epoch = env.epoch();
        let policy = env.policy();
        if params.proofs.len() != 1 {
            return Err(illegal(format!("expected exactly one proof, got {}", params.proofs.len())));
        }
        if params.deadline >= policy.period_deadlines {
            return Err(illegal(format!("invalid deadline {} of {}", params.deadline, policy.period_deadlines)));
        }
        if params.chain_commit_rand.0.len() > RANDOMNESS_LENGTH {
            return Err(illegal(format!(
                "expected at most {RANDOMNESS_LENGTH} bytes of randomness, got {}",
                params.chain_commit_rand.0.len()
            )));
        }
        self.check_control_caller(caller)?;
        let proof = &params.proofs[0];
        if i64::from(proof.post_proof) != self.window_post_proof {
            return Err(illegal(format!(
                "expected proof of type {}, got {}",
                self.window_post_proof,
                i64::from(proof.post_proof)
            )));
        }
        let proof_type = RegisteredPoStProof::from(self.window_post_proof);
        let max_size = proof_type.proof_size().map_err(|e| (ExitCode::USR_ILLEGAL_STATE, e.to_string()))?
            * params.partitions.len();
        if proof.proof_bytes.len() > max_size {
            return Err(illegal(format!("expected proof to be smaller than {max_size} bytes")));
        }
        let limit = submission_partition_limit(self.partition_sectors);
        if params.partitions.len() as u64 > limit {
            return Err(illegal(format!("too many partitions {}, limit {limit}", params.partitions.len())));
        }
        let current = self.deadline_info(epoch, &policy);
        if !current.is_open() {
            return Err((
                ExitCode::USR_ILLEGAL_STATE,
                format!("proving period {} not yet open at {epoch}", current.period_start),
            ));
        }
        if params.deadline != current.index {
            return Err(illegal(format!(
                "invalid deadline {} at epoch {epoch}, expected {}",
                params.deadline, current.index
            )));
        }
        if params.chain_commit_epoch < current.challenge {
            return Err(illegal(format!(
                "expected chain commit epoch {} to be after {}",
                params.chain_commit_epoch, current.challenge
            )));
        }
        if params.chain_commit_epoch >= epoch {
            return Err(illegal(format!(
                "chain commit epoch {} must be less than the current epoch {epoch}",
                params.chain_commit_epoch
            )));
        }
        // Drawn with no entropy (builtin-actors `submit_windowed_post`), unlike the challenge.
        let entropy = miner_entropy(&Address::new_id(self.id));
        let commit_rand = env.ticket_randomness(tags::POST_CHAIN_COMMIT, params.chain_commit_epoch, &[]);
        if params.chain_commit_rand.0 != commit_rand {
            return Err(illegal("post commit randomness mismatched"));
        }

        // Record the proven partitions (builtin-actors `record_proven_sectors`).
        self.ensure_deadlines(&policy);
        let fault_expiration = current.last() + policy.fault_max_age();
        let indexes: BTreeSet<u64> = params.partitions.iter().map(|p| p.index).collect();
        if indexes.len() != params.partitions.len() {
            return Err(illegal("duplicate partitions proven"));
        }
        let deadline = &mut self.deadlines[params.deadline as usize];
        let already: Vec<u64> = indexes.intersection(&deadline.posted).copied().collect();
        if !already.is_empty() {
            return Err(illegal(format!("partition already proven: {already:?}")));
        }
        let mut to_prove = BTreeSet::new();
        let mut recovered = false;
        let mut newly_faulty = BTreeSet::new();
        let mut recovered_sectors = BTreeSet::new();
        for post in &params.partitions {
            let partition = deadline
                .partitions
                .get_mut(post.index as usize)
                .ok_or((ExitCode::USR_NOT_FOUND, format!("no such partition {}", post.index)))?;
            let skipped: BTreeSet<u64> = post.skipped.iter().collect();
            if !skipped.is_subset(&partition.sectors) {
                return Err(illegal("skipped faults contains sectors outside partition"));
            }
            // Skipped sectors become faulty; a skipped recovery is retracted.
            partition.recoveries.retain(|n| !skipped.contains(n));
            newly_faulty.extend(partition.add_faults(&skipped));
            // Declared recoveries are taken as proven (the proof is checked below).
            recovered |= !partition.recoveries.is_empty();
            let recoveries = std::mem::take(&mut partition.recoveries);
            partition.faults.retain(|n| !recoveries.contains(n));
            recovered_sectors.extend(recoveries);
            // Unproven sectors become active.
            partition.unproven.clear();
            to_prove.extend(
                partition.sectors.iter().filter(|n| !partition.faults.contains(n) && !partition.terminated.contains(n)),
            );
            deadline.posted.insert(post.index);
        }
        if to_prove.is_empty() {
            return Err(illegal("cannot prove partitions with no active sectors"));
        }
        if !recovered {
            // builtin-actors accepts this proof optimistically (disputable); the devnet verifies it anyway.
            deadline.optimistic_proofs += 1;
        }
        for number in &newly_faulty {
            self.sectors.get_mut(number).expect("a partition's sector exists").fault_expiration =
                Some(fault_expiration);
        }
        for number in &recovered_sectors {
            self.sectors.get_mut(number).expect("a partition's sector exists").fault_expiration = None;
        }

        let post = PoStToVerify {
            proof_type: proof.post_proof,
            randomness: env.beacon_randomness(tags::WINDOWED_POST_CHALLENGE_SEED, current.challenge, &entropy),
            prover_id: prover_id(self.id),
            sectors: to_prove
                .iter()
                .map(|n| Ok((*n, commitment(&self.sectors[n].sealed_cid, SEALED_CODEC)?)))
                .collect::<Result<_, String>>()
                .map_err(illegal)?,
            proof: proof.proof_bytes.clone(),
        };
        match env.verify_window_post(&post) {
            Ok(true) => Ok(Vec::new()),
            Ok(false) => Err(illegal("invalid post was submitted")),
            Err(e) => Err(illegal(format!("window post failed: {e}"))),
        }
    }
}

/// The most partitions one submission may prove: builtin-actors `min(load_partitions_sectors_max,
/// posted_partitions_max)`, 3 for every sector size.
pub fn submission_partition_limit(partition_sectors: u64) -> u64 {
    let loadable = (ADDRESSED_SECTORS_MAX / partition_sectors.max(1)).min(ADDRESSED_PARTITIONS_MAX);
    loadable.min(POSTED_PARTITIONS_MAX)
}
