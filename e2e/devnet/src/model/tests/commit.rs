//! Onboarding against builtin-actors' checks: PreCommitSectorBatch2 (duplicates, no batch-size limit since
//! FIP-0100) and ProveCommitSectors3 with batched or aggregated proofs (the aggregate's limits and type, exactly
//! one kind of proof, duplicates, pre-commits past their prove-commit duration, the aggregate's verification).

use super::*;
use fvm_shared::error::ExitCode;
use fvm_shared::sector::{RegisteredAggregateProof, SectorSize};
use sealstack_chain::actors::seal_proof;
use sealstack_chain::randomness::miner_entropy;

/// The epoch the tests pre-commit at (after their sealing ticket's epoch).
const START: i64 = 100;

impl World {
    /// PreCommitSectorBatch2 of `numbers` at the current epoch, with a ticket of the epoch before.
    fn precommit(&mut self, numbers: impl IntoIterator<Item = u64>) -> ApplyReceipt {
        let sectors = numbers
            .into_iter()
            .map(|number| miner_state::SectorPreCommitInfo {
                seal_proof: seal_proof(SectorSize::_2KiB),
                sector_number: number,
                sealed_cid: sealed(number),
                seal_rand_epoch: self.env.epoch - 1,
                deal_ids: Vec::new(),
                expiration: self.env.epoch + 100_000,
                unsealed_cid: miner_state::CompactCommD(None),
            })
            .collect();
        let params = miner_state::PreCommitSectorBatchParams2 { sectors };
        self.send(methods::PRE_COMMIT_SECTOR_BATCH2, &params, TokenAmount::from_atto(0))
    }

    /// A miner with no sectors at [`START`] that pre-committed `numbers` and can prove them (the challenge delay
    /// passed).
    fn precommitted(numbers: impl IntoIterator<Item = u64>) -> World {
        let mut world = World::new(0, DeadlineAssignment::Spread);
        world.advance_to(START);
        assert_ok(&world.precommit(numbers));
        world.advance_to(START + world.env.policy.pre_commit_challenge_delay + 1);
        world
    }

    fn prove(&mut self, params: &miner_state::ProveCommitSectors3Params) -> ApplyReceipt {
        self.send(methods::PROVE_COMMIT_SECTORS3, params, TokenAmount::from_atto(0))
    }

    fn active(&self) -> Vec<u64> {
        self.miner().sectors.keys().copied().collect()
    }

    fn pending(&self) -> Vec<u64> {
        self.miner().precommits.keys().copied().collect()
    }
}

/// A CommR CID of sector `n` (distinct for any number, unlike [`comm_r`]).
fn sealed(n: u64) -> Cid {
    let mut digest = [1u8; 32];
    digest[..8].copy_from_slice(&n.to_le_bytes());
    Cid::new_v1(SEALED_CODEC, Multihash::wrap(0xb401, &digest).unwrap())
}

fn activations(numbers: &[u64]) -> Vec<miner_state::SectorActivationManifest> {
    numbers.iter().map(|&n| miner_state::SectorActivationManifest { sector_number: n, pieces: Vec::new() }).collect()
}

/// ProveCommitSectors3 of `numbers` with one (2KiB-sized) proof each.
fn batched(numbers: &[u64]) -> miner_state::ProveCommitSectors3Params {
    miner_state::ProveCommitSectors3Params {
        sector_activations: activations(numbers),
        sector_proofs: numbers.iter().map(|_| RawBytes::new(vec![7; 192])).collect(),
        aggregate_proof: RawBytes::default(),
        aggregate_proof_type: None,
        require_activation_success: true,
        require_notification_success: true,
    }
}

/// ProveCommitSectors3 of `numbers` with a SnarkPackV2 aggregate of `size` bytes.
fn aggregated(numbers: &[u64], size: usize) -> miner_state::ProveCommitSectors3Params {
    miner_state::ProveCommitSectors3Params {
        sector_proofs: Vec::new(),
        aggregate_proof: RawBytes::new(vec![9; size]),
        aggregate_proof_type: Some(RegisteredAggregateProof::SnarkPackV2),
        ..batched(numbers)
    }
}

#[test]
fn a_valid_aggregate_activates_every_sector_and_is_verified_over_their_inputs_in_order() {
    let mut world = World::precommitted(10..15);
    let policy = world.env.policy.clone();
    let order = [13, 10, 14, 11, 12];
    let receipt = world.prove(&aggregated(&order, 20_000));
    assert_ok(&receipt);
    assert_eq!(receipt.gas_used, BASE_GAS, "an aggregate costs the flat gas of every message");
    assert_eq!(world.active(), [10, 11, 12, 13, 14]);
    assert!(world.pending().is_empty());
    let funds = &world.miner().funds;
    assert!(funds.pre_commit_deposits.0.is_zero(), "the deposits are released");
    assert_eq!(funds.initial_pledge.0, TokenAmount::from_atto(policy.initial_pledge) * 5u64);
    assert!(world.miner().power() == 0, "unproven until their first WindowPoSt");

    let aggregates = world.env.aggregates.borrow();
    assert_eq!(aggregates.len(), 1);
    let entropy = miner_entropy(&Address::new_id(MINER));
    let seed_epoch = START + policy.pre_commit_challenge_delay;
    let seed = world.env.beacon_randomness(tags::INTERACTIVE_SEAL_CHALLENGE_SEED, seed_epoch, &entropy);
    let ticket = world.env.ticket_randomness(tags::SEAL_RANDOMNESS, START - 1, &entropy);
    let expected: Vec<SealInputs> = order
        .iter()
        .map(|&n| SealInputs {
            proof_type: seal_proof(SectorSize::_2KiB),
            comm_r: commitment(&sealed(n), SEALED_CODEC).unwrap(),
            comm_d: None,
            prover_id: prover_id(MINER),
            sector: n,
            ticket,
            seed,
        })
        .collect();
    assert_eq!(aggregates[0].seals, expected, "the sectors' inputs, in the message's order");
    assert_eq!(aggregates[0].proof, vec![9; 20_000]);
}

#[test]
fn an_invalid_aggregate_fails_the_whole_message() {
    let mut world = World::precommitted(0..4);
    world.env.aggregates_valid = false;
    let receipt = world.prove(&aggregated(&[0, 1, 2, 3], 1_000));
    assert_exit(&receipt, ExitCode::USR_ILLEGAL_ARGUMENT, "aggregate seal verify failed: invalid aggregate");
    assert_eq!(receipt.gas_used, BASE_GAS, "a failed message is charged too");
    assert!(world.active().is_empty());
    assert_eq!(world.pending(), [0, 1, 2, 3], "the sectors stay pre-committed");
}

#[test]
fn the_aggregate_limits_follow_builtin_actors_and_precommit_batches_have_none() {
    // 820 sectors in one PreCommitSectorBatch2: builtin-actors v18 has no batch-size limit (FIP-0100 removed 256).
    let mut world = World::precommitted(0..820);
    assert_eq!(world.pending().len(), 820);
    let all: Vec<u64> = (0..820).collect();
    let few = world.prove(&aggregated(&all[..3], 1_000));
    assert_exit(&few, ExitCode::USR_ILLEGAL_ARGUMENT, "too few sectors addressed, addressed 3 want >= 4");
    let many = world.prove(&aggregated(&all, 1_000));
    assert_exit(&many, ExitCode::USR_ILLEGAL_ARGUMENT, "too many sectors addressed, addressed 820 want <= 819");
    let big = world.prove(&aggregated(&all[..819], MAX_AGGREGATED_PROOF_SIZE + 1));
    assert_exit(
        &big,
        ExitCode::USR_ILLEGAL_ARGUMENT,
        "sector prove-commit proof of size 81961 exceeds max size of 81960",
    );
    assert!(world.env.aggregates.borrow().is_empty(), "refused before verification");
    assert_ok(&world.prove(&aggregated(&all[..819], MAX_AGGREGATED_PROOF_SIZE)));
    assert_eq!(world.active().len(), 819);
    assert_eq!(world.pending(), [819]);
    assert_ok(&world.prove(&batched(&[819])));
}

#[test]
fn exactly_one_kind_of_proof_of_the_right_type() {
    let mut world = World::precommitted(0..4);
    let numbers = [0, 1, 2, 3];
    let both = miner_state::ProveCommitSectors3Params {
        sector_proofs: batched(&numbers).sector_proofs,
        ..aggregated(&numbers, 100)
    };
    let exactly_one = "exactly one of sector proofs or aggregate proof must be non-empty";
    assert_exit(&world.prove(&both), ExitCode::USR_ILLEGAL_ARGUMENT, exactly_one);
    let neither = miner_state::ProveCommitSectors3Params { sector_proofs: Vec::new(), ..batched(&numbers) };
    assert_exit(&world.prove(&neither), ExitCode::USR_ILLEGAL_ARGUMENT, exactly_one);
    for kind in [None, Some(RegisteredAggregateProof::SnarkPackV1)] {
        let wrong = miner_state::ProveCommitSectors3Params { aggregate_proof_type: kind, ..aggregated(&numbers, 100) };
        assert_exit(&world.prove(&wrong), ExitCode::USR_ILLEGAL_ARGUMENT, "aggregate proof type must be SnarkPackV2");
    }
    let typed = miner_state::ProveCommitSectors3Params {
        aggregate_proof_type: Some(RegisteredAggregateProof::SnarkPackV2),
        ..batched(&numbers)
    };
    let reason = "aggregate proof type must be null with batched proofs";
    assert_exit(&world.prove(&typed), ExitCode::USR_ILLEGAL_ARGUMENT, reason);
    let mut short = batched(&numbers);
    short.sector_proofs.pop();
    assert_exit(
        &world.prove(&short),
        ExitCode::USR_ILLEGAL_ARGUMENT,
        "mismatched lengths: 4 sector activations, 3 proofs",
    );
    let mut long_proof = batched(&numbers);
    long_proof.sector_proofs[2] = RawBytes::new(vec![7; 193]);
    assert_exit(&world.prove(&long_proof), ExitCode::USR_ILLEGAL_ARGUMENT, "sector proof size 193 exceeds max 192");
    let unknown = world.prove(&aggregated(&[0, 1, 2, 99], 100));
    assert_exit(&unknown, ExitCode::USR_NOT_FOUND, "sector 99 not found");
    assert!(world.active().is_empty());
    assert_eq!(world.pending(), numbers);
}

#[test]
fn duplicate_sector_numbers_are_refused_as_builtin_actors_refuses_them() {
    let mut world = World::precommitted(0..4);
    // ProveCommitSectors3 loads a duplicate twice; the second activation finds it no longer pre-committed.
    let aggregate = world.prove(&aggregated(&[0, 1, 2, 3, 3], 100));
    assert_exit(&aggregate, ExitCode::USR_ILLEGAL_STATE, "sector 3 not pre-committed");
    let batch = world.prove(&batched(&[1, 1]));
    assert_exit(&batch, ExitCode::USR_ILLEGAL_STATE, "sector 1 not pre-committed");
    assert!(world.active().is_empty());
    assert_eq!(world.pending(), [0, 1, 2, 3], "nothing changed");
    // PreCommitSectorBatch2 refuses a number given twice, or one already allocated.
    assert_exit(&world.precommit([7, 7]), ExitCode::USR_ILLEGAL_ARGUMENT, "duplicate sector number 7");
    assert_exit(&world.precommit([8, 0]), ExitCode::USR_ILLEGAL_ARGUMENT, "sector 0 already allocated");
}

#[test]
fn too_early_or_past_the_prove_commit_duration() {
    let mut world = World::new(0, DeadlineAssignment::Spread);
    let policy = world.env.policy.clone();
    world.advance_to(START);
    assert_ok(&world.precommit([0]));
    let early = world.prove(&batched(&[0]));
    assert_exit(&early, ExitCode::USR_FORBIDDEN, "too early to prove sector 0");
    // Sectors 1-3 pre-committed late enough that sector 0 is past its due epoch when they can be proven.
    let due = START + policy.max_prove_commit_duration();
    world.advance_to(due - policy.pre_commit_challenge_delay);
    assert_ok(&world.precommit([1, 2, 3]));
    world.advance_to(due + 1);
    let late = world.prove(&batched(&[0]));
    assert_exit(&late, ExitCode::USR_ILLEGAL_ARGUMENT, "invalid pre-commit 0 while requiring activation success");
    let skipped = miner_state::ProveCommitSectors3Params { require_activation_success: false, ..batched(&[0]) };
    assert_exit(&world.prove(&skipped), ExitCode::USR_ILLEGAL_ARGUMENT, "no valid precommits specified");
    // In an aggregate the late sector is still a witness of the proof, but only the others are activated.
    let mut params = aggregated(&[0, 1, 2, 3], 100);
    params.require_activation_success = false;
    assert_ok(&world.prove(&params));
    assert_eq!(world.env.aggregates.borrow()[0].seals.len(), 4);
    assert_eq!(world.active(), [1, 2, 3]);
    assert_eq!(world.pending(), [0], "builtin-actors leaves it for the pre-commit expiry");
}
