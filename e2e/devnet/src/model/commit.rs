//! miner.ProveCommitSectors3 (builtin-actors actors/miner/src/lib.rs `prove_commit_sectors3`): the pre-commits
//! loaded (`get_precommitted_sectors`), the proofs' shape checked (`validate_seal_proofs`,
//! `validate_seal_aggregate_proof`), the pre-commits validated (`validate_precommits`), then one seal proof per
//! sector (batched) or one SnarkPackV2 aggregate over all of them (`verify_aggregate_seal`) verified through
//! [`ChainEnv`], and the proven sectors activated. A message costs the devnet's flat gas whatever its proofs
//! (see `actors::BASE_GAS`); builtin-actors v18 charges no aggregate network fee (FIP-0100).

use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use fvm_shared::sector::{RegisteredAggregateProof, RegisteredSealProof};
use sealstack_chain::actors::miner_state;
use sealstack_chain::randomness::{miner_entropy, tags};

use super::ChainEnv;
use super::actors::decode;
use super::miner::{MinerActor, illegal};
use super::policy::{MAX_AGGREGATED_PROOF_SIZE, MAX_AGGREGATED_SECTORS, MIN_AGGREGATED_SECTORS};
use super::sectors::{
    AggregateToVerify, PreCommit, SEALED_CODEC, SealInputs, SealToVerify, UNSEALED_CODEC, commitment, prover_id,
};

/// The largest sector number (builtin-actors `MAX_SECTOR_NUMBER`).
const MAX_SECTOR_NUMBER: u64 = i64::MAX as u64;

impl MinerActor {
    /// miner.ProveCommitSectors3: the proofs checked (one per sector, or one aggregate), the proven sectors
    /// activated with their pledge. Pre-commits not valid any more are skipped unless the message requires every
    /// activation to succeed.
    pub(super) fn prove_commit(
        &mut self,
        message: &Message,
        balance: &TokenAmount,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        let params: miner_state::ProveCommitSectors3Params = decode(&message.params)?;
        let numbers: Vec<u64> = params.sector_activations.iter().map(|a| a.sector_number).collect();
        let precommits = self.precommitted(&numbers)?;
        if precommits.is_empty() {
            return Err(illegal("no sectors to prove"));
        }
        if params.sector_proofs.is_empty() == params.aggregate_proof.is_empty() {
            return Err(illegal("exactly one of sector proofs or aggregate proof must be non-empty"));
        }
        let batched = !params.sector_proofs.is_empty();
        if batched {
            if params.aggregate_proof_type.is_some() {
                return Err(illegal("aggregate proof type must be null with batched proofs"));
            }
            if params.sector_activations.len() != params.sector_proofs.len() {
                return Err(illegal(format!(
                    "mismatched lengths: {} sector activations, {} proofs",
                    params.sector_activations.len(),
                    params.sector_proofs.len()
                )));
            }
            validate_seal_proofs(RegisteredSealProof::from(precommits[0].1.seal_proof), &params.sector_proofs)?;
        } else {
            if params.aggregate_proof_type != Some(RegisteredAggregateProof::SnarkPackV2) {
                return Err(illegal("aggregate proof type must be SnarkPackV2"));
            }
            validate_seal_aggregate_proof(params.aggregate_proof.bytes().len(), numbers.len() as u64)?;
        }

        let (valid, inputs) = self.validate_precommits(&precommits, params.require_activation_success, env)?;
        if !valid.contains(&true) {
            return Err(illegal("no valid precommits specified"));
        }
        let eligible = (0..precommits.len()).filter(|&i| valid[i]);
        let proven: Vec<usize> = if batched {
            let results: Vec<bool> = eligible
                .clone()
                .map(|i| {
                    let seal =
                        SealToVerify { inputs: inputs[i].clone(), proof: params.sector_proofs[i].bytes().to_vec() };
                    // As the FVM's batch_verify_seals: a proof that fails to verify is an invalid one.
                    env.verify_seal(&seal).unwrap_or_else(|e| {
                        tracing::debug!(sector = seal.inputs.sector, error = %e, "seal verify in batch failed");
                        false
                    })
                })
                .collect();
            let mut proven = Vec::new();
            for (i, ok) in eligible.zip(&results) {
                if *ok {
                    proven.push(i);
                } else if params.require_activation_success {
                    return Err(illegal(format!(
                        "invalid proof for sector {} while requiring activation success: {results:?}",
                        precommits[i].0
                    )));
                }
            }
            proven
        } else {
            // Every pre-commit's inputs, the invalid ones' too, are witnesses of the aggregate.
            let aggregate = AggregateToVerify { seals: inputs, proof: params.aggregate_proof.bytes().to_vec() };
            match env.verify_aggregate_seal(&aggregate) {
                Ok(true) => {}
                Ok(false) => return Err(illegal("aggregate seal verify failed: invalid aggregate")),
                Err(e) => {
                    return Err(illegal(format!("aggregate seal verify failed: failed to verify aggregate: {e}")));
                }
            }
            eligible.collect()
        };
        if proven.is_empty() {
            return Err(illegal("no valid proofs specified"));
        }
        self.activate_proven(proven.into_iter().map(|i| precommits[i].0).collect(), balance, env)
    }

    /// The pre-commits of `numbers`, in order, a number given twice loaded twice (builtin-actors state.rs
    /// `get_precommitted_sectors`, which does not look for duplicates).
    fn precommitted(&self, numbers: &[u64]) -> Result<Vec<(u64, PreCommit)>, (ExitCode, String)> {
        numbers
            .iter()
            .map(|&number| {
                if number > MAX_SECTOR_NUMBER {
                    return Err(illegal("loading precommits: sector number greater than maximum"));
                }
                match self.precommits.get(&number) {
                    Some(precommit) => Ok((number, precommit.clone())),
                    None => Err((ExitCode::USR_NOT_FOUND, format!("loading precommits: sector {number} not found"))),
                }
            })
            .collect()
    }

    /// builtin-actors `validate_precommits`: whether each pre-commit may be proven now (not past its
    /// `max_prove_commit_duration`), and the seal proof inputs of every one of them. Too early for any is a
    /// USR_FORBIDDEN abort; one too late aborts the message when all must succeed, else it is skipped.
    fn validate_precommits(
        &self,
        precommits: &[(u64, PreCommit)],
        all_or_nothing: bool,
        env: &dyn ChainEnv,
    ) -> Result<(Vec<bool>, Vec<SealInputs>), (ExitCode, String)> {
        let (epoch, policy) = (env.epoch(), env.policy());
        let entropy = miner_entropy(&Address::new_id(self.id));
        let mut valid = Vec::with_capacity(precommits.len());
        let mut inputs = Vec::with_capacity(precommits.len());
        for (i, (number, precommit)) in precommits.iter().enumerate() {
            let due = precommit.pre_commit_epoch + policy.max_prove_commit_duration();
            let too_late = epoch > due;
            if too_late {
                tracing::info!(sector = number, epoch, due, "skipping commitment: too late");
            }
            let seed_epoch = precommit.pre_commit_epoch + policy.pre_commit_challenge_delay;
            if epoch <= seed_epoch {
                return Err((
                    ExitCode::USR_FORBIDDEN,
                    format!("too early to prove sector {number}: seed epoch {seed_epoch}"),
                ));
            }
            inputs.push(self.seal_inputs(*number, precommit, seed_epoch, &entropy, env)?);
            if too_late && all_or_nothing {
                return Err(illegal(format!(
                    "invalid pre-commit {i} while requiring activation success: sector {number} too late at \
                     {epoch}, due {due}"
                )));
            }
            valid.push(!too_late);
        }
        Ok((valid, inputs))
    }

    /// What a pre-committed sector's seal proof proves: its commitments, the devnet's ticket and seed.
    fn seal_inputs(
        &self,
        number: u64,
        precommit: &PreCommit,
        seed_epoch: i64,
        entropy: &[u8],
        env: &dyn ChainEnv,
    ) -> Result<SealInputs, (ExitCode, String)> {
        Ok(SealInputs {
            proof_type: RegisteredSealProof::from(precommit.seal_proof),
            comm_r: commitment(&precommit.sealed_cid, SEALED_CODEC).map_err(illegal)?,
            comm_d: match &precommit.unsealed_cid {
                Some(cid) => Some(commitment(cid, UNSEALED_CODEC).map_err(illegal)?),
                None => None,
            },
            prover_id: prover_id(self.id),
            sector: number,
            ticket: env.ticket_randomness(tags::SEAL_RANDOMNESS, precommit.seal_rand_epoch, entropy),
            seed: env.beacon_randomness(tags::INTERACTIVE_SEAL_CHALLENGE_SEED, seed_epoch, entropy),
        })
    }

    /// builtin-actors `activate_new_sector_infos`: the pre-commits removed (a sector proven twice in one message
    /// is not pre-committed the second time: USR_ILLEGAL_STATE, as builtin-actors' `delete_precommitted_sectors`),
    /// their deposits released, the pledge locked from the unlocked balance, the sectors assigned to deadlines.
    fn activate_proven(
        &mut self,
        numbers: Vec<u64>,
        balance: &TokenAmount,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        let (epoch, policy) = (env.epoch(), env.policy());
        let mut activated = Vec::with_capacity(numbers.len());
        for number in numbers {
            let Some(precommit) = self.precommits.remove(&number) else {
                return Err((ExitCode::USR_ILLEGAL_STATE, format!("sector {number} not pre-committed")));
            };
            // The deposit is released, available for the pledge.
            self.funds.pre_commit_deposits.0 -= &precommit.deposit.0;
            activated.push((number, precommit.seal_proof, precommit.sealed_cid, precommit.expiration));
        }
        let total_pledge = TokenAmount::from_atto(policy.initial_pledge) * activated.len() as u64;
        let unlocked = self.funds.unlocked(balance);
        if unlocked < total_pledge {
            return Err((
                ExitCode::USR_INSUFFICIENT_FUNDS,
                format!(
                    "insufficient funds for aggregate initial pledge requirement {}, available: {}",
                    total_pledge.atto(),
                    unlocked.atto()
                ),
            ));
        }
        self.funds.initial_pledge.0 += &total_pledge;
        self.activate(activated, epoch, &policy)
            .map_err(|e| (ExitCode::USR_ILLEGAL_STATE, format!("failed to assign new sectors to deadlines: {e}")))?;
        Ok(Vec::new())
    }
}

/// builtin-actors `validate_seal_proofs`: no batched proof larger than its type's proof size.
fn validate_seal_proofs(proof_type: RegisteredSealProof, proofs: &[RawBytes]) -> Result<(), (ExitCode, String)> {
    let max = proof_type.proof_size().map_err(|e| {
        (ExitCode::USR_ILLEGAL_STATE, format!("failed to determine max proof size for type {proof_type:?}: {e}"))
    })?;
    match proofs.iter().find(|proof| proof.bytes().len() > max) {
        Some(proof) => Err(illegal(format!("sector proof size {} exceeds max {max}", proof.bytes().len()))),
        None => Ok(()),
    }
}

/// builtin-actors `validate_seal_aggregate_proof` (interactive PoRep): `MIN_AGGREGATED_SECTORS` to
/// `MAX_AGGREGATED_SECTORS` sectors, at most `MAX_AGGREGATED_PROOF_SIZE` bytes.
fn validate_seal_aggregate_proof(proof_len: usize, sector_count: u64) -> Result<(), (ExitCode, String)> {
    if sector_count > MAX_AGGREGATED_SECTORS {
        return Err(illegal(format!(
            "too many sectors addressed, addressed {sector_count} want <= {MAX_AGGREGATED_SECTORS}"
        )));
    }
    if sector_count < MIN_AGGREGATED_SECTORS {
        return Err(illegal(format!(
            "too few sectors addressed, addressed {sector_count} want >= {MIN_AGGREGATED_SECTORS}"
        )));
    }
    if proof_len > MAX_AGGREGATED_PROOF_SIZE {
        return Err(illegal(format!(
            "sector prove-commit proof of size {proof_len} exceeds max size of {MAX_AGGREGATED_PROOF_SIZE}"
        )));
    }
    Ok(())
}
