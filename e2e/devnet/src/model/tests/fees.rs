//! Fees: the daily fee and the continued-fault fee at deadline ends, the termination fee, fee debt when the
//! balance runs short, and PreCommit refused while in debt.

use super::*;
use fvm_shared::error::ExitCode;
use sealstack_chain::actors::seal_proof;

fn precommit_params(world: &World, number: u64) -> miner_state::PreCommitSectorBatchParams2 {
    miner_state::PreCommitSectorBatchParams2 {
        sectors: vec![miner_state::SectorPreCommitInfo {
            seal_proof: seal_proof(fvm_shared::sector::SectorSize::_2KiB),
            sector_number: number,
            sealed_cid: comm_r(number),
            seal_rand_epoch: world.env.epoch - 1,
            deal_ids: Vec::new(),
            expiration: world.env.epoch + 100_000,
            unsealed_cid: miner_state::CompactCommD(None),
        }],
    }
}

#[test]
fn daily_and_fault_fees_are_charged_at_the_deadline_end() {
    let mut world = World::new(4, DeadlineAssignment::Pack);
    let policy = world.env.policy.clone();
    let deadline = world.location(0).0;
    let first = world.upcoming(deadline);
    // First end, nothing proven: the missed PoSt faults the sectors without a fault fee (FIP-0002); the
    // daily fee of the 4 live sectors is charged.
    let balance = world.balance();
    world.advance_to(first.close);
    let daily = TokenAmount::from_atto(policy.daily_fee) * 4u64;
    assert_eq!(world.balance(), balance.clone() - &daily);
    // Second end, still faulty: the continued-fault fee of 4 sectors, and the daily fee.
    let second = world.upcoming(deadline);
    world.advance_to(second.close);
    assert_eq!(world.balance(), balance - &daily - &daily - policy.fault_fee() * 4u64);
    assert!(world.miner().funds.fee_debt.is_zero());
    assert_eq!(world.miner().deadlines_json()[deadline as usize].daily_fee.0, daily);
}

#[test]
fn fees_beyond_the_balance_become_fee_debt_which_blocks_precommit_until_repaid() {
    // No free balance and a locked deposit of 1,000 attoFIL: fees first take the locked funds, then debt.
    let mut world = World::with(4, test_policy(DeadlineAssignment::Pack), 0, 1_000);
    let policy = world.env.policy.clone();
    let deadline = world.location(0).0;
    let first = world.upcoming(deadline);
    world.advance_to(first.close);
    let daily = TokenAmount::from_atto(policy.daily_fee) * 4u64;
    assert!(world.miner().funds.locked_funds.is_zero(), "the locked funds paid first");
    assert_eq!(world.miner().funds.fee_debt.0, daily.clone() - TokenAmount::from_atto(1_000));
    let available = world.miner().funds.available(&world.balance());
    assert!(available.is_negative(), "in debt the available balance is negative: {available}");

    // PreCommit while the unlocked balance cannot repay the debt: builtin-actors' USR_INSUFFICIENT_FUNDS.
    let params = precommit_params(&world, 10);
    let refused = world.send(methods::PRE_COMMIT_SECTOR_BATCH2, &params, TokenAmount::from_atto(0));
    assert_exit(&refused, ExitCode::USR_INSUFFICIENT_FUNDS, "unlocked balance can not repay fee debt");
    assert!(world.miner().precommits.is_empty());

    // With enough value sent, the debt is repaid (burnt) and the deposit locked.
    let debt = world.miner().funds.fee_debt.0.clone();
    let value = debt.clone() + TokenAmount::from_atto(policy.pre_commit_deposit);
    let burnt_before = world.table.balance(99);
    let params = precommit_params(&world, 10);
    assert_ok(&world.send(methods::PRE_COMMIT_SECTOR_BATCH2, &params, value));
    assert!(world.miner().funds.fee_debt.is_zero());
    assert_eq!(world.miner().funds.pre_commit_deposits.0, TokenAmount::from_atto(policy.pre_commit_deposit));
    assert!(world.table.balance(99) - burnt_before >= debt, "the debt was burnt");
}

#[test]
fn a_recovery_declaration_needs_the_debt_repaid() {
    let mut world = World::with(2, test_policy(DeadlineAssignment::Pack), 0, 0);
    let deadline = world.location(0).0;
    let first = world.upcoming(deadline);
    world.advance_to(first.close);
    assert!(!world.miner().funds.fee_debt.is_zero());
    let refused = world.declare(methods::DECLARE_FAULTS_RECOVERED, deadline, 0, &[0]);
    assert_exit(&refused, ExitCode::USR_INSUFFICIENT_FUNDS, "unlocked balance can not repay fee debt");
}

#[test]
fn termination_fee_is_charged_as_penalty() {
    let policy = test_policy(DeadlineAssignment::Pack);
    let pledge = TokenAmount::from_atto(policy.initial_pledge);
    // A sector terminated at age 4 periods: the floor of 2 % of pledge or 1.05 fault fees, whichever is more.
    let age = 4 * policy.proving_period();
    let fee = policy.termination_fee(&pledge, age);
    let floor =
        std::cmp::max((pledge.clone() * 2u64).div_floor(100u64), (policy.fault_fee() * 105u64).div_floor(100u64));
    let by_age = ((pledge * 85u64).div_floor(1000u64) * age).div_floor(140 * policy.proving_period());
    assert_eq!(fee, std::cmp::max(floor, by_age));
}
