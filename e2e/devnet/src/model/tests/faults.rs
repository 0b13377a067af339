//! Fault and recovery declarations, missed deadlines, recoveries proven or not, and termination after
//! `FAULT_MAX_AGE`.

use super::*;
use fvm_shared::error::ExitCode;

#[test]
fn declarations_after_the_fault_cutoff_are_refused() {
    let mut world = World::new(4, DeadlineAssignment::Pack);
    let deadline = world.location(0).0;
    let target = world.upcoming(deadline);
    assert_eq!(target.fault_cutoff, target.open - world.env.policy.fault_declaration_cutoff);
    // The last epoch before the cutoff: accepted.
    world.advance_to(target.fault_cutoff - 1);
    assert_ok(&world.declare(methods::DECLARE_FAULTS, deadline, 0, &[0]));
    assert_eq!(world.miner().power(), 3 * 2048, "a declared fault loses its power at once");
    // From the cutoff on: refused, faults and recoveries alike (builtin-actors validate_fr_declaration_deadline).
    world.advance_to(target.fault_cutoff);
    let late = world.declare(methods::DECLARE_FAULTS, deadline, 1, &[2]);
    let reason = format!("failed fault declaration at deadline {deadline}: late fault or recovery declaration");
    assert_exit(&late, ExitCode::USR_ILLEGAL_ARGUMENT, &reason);
    let late = world.declare(methods::DECLARE_FAULTS_RECOVERED, deadline, 0, &[0]);
    assert_exit(&late, ExitCode::USR_ILLEGAL_ARGUMENT, "failed recovery declaration at deadline");
    // Once the deadline has closed, declarations target its next occurrence and are taken again.
    world.advance_to(target.close);
    assert_ok(&world.declare(methods::DECLARE_FAULTS_RECOVERED, deadline, 0, &[0]));
}

#[test]
fn declarations_are_checked_as_builtin_actors_checks_them() {
    let mut world = World::new(4, DeadlineAssignment::Pack);
    let deadline = world.location(0).0;
    let invalid = world.declare(methods::DECLARE_FAULTS, 48, 0, &[0]);
    assert_exit(&invalid, ExitCode::USR_ILLEGAL_ARGUMENT, "invalid deadline 48");
    let missing = world.declare(methods::DECLARE_FAULTS, deadline, 5, &[0]);
    assert_exit(&missing, ExitCode::USR_NOT_FOUND, "no such partition 5");
    let elsewhere = world.declare(methods::DECLARE_FAULTS, deadline, 0, &[3]);
    assert_exit(&elsewhere, ExitCode::USR_ILLEGAL_ARGUMENT, "not all sectors are assigned to the partition");
    // Recovering a sector that is not faulty is a no-op.
    assert_ok(&world.declare(methods::DECLARE_FAULTS_RECOVERED, deadline, 0, &[0]));
    assert!(world.miner().recoveries().is_empty());
}

#[test]
fn a_missed_deadline_faults_and_a_proven_recovery_restores_power() {
    // Two partitions: {0, 1} and {2, 3}.
    let mut world = World::new(4, DeadlineAssignment::Pack);
    let deadline = world.location(0).0;
    let first = world.upcoming(deadline);
    world.advance_to(first.close);
    assert_eq!(world.miner().faults().into_iter().collect::<Vec<_>>(), [0, 1, 2, 3], "no PoSt: all faulty");
    assert_eq!(world.miner().power(), 0);
    // Recoveries of 0 (partition 0) and 2 (partition 1), before the next cutoff.
    let second = world.upcoming(deadline);
    world.advance_to(second.fault_cutoff - 1);
    assert_ok(&world.declare(methods::DECLARE_FAULTS_RECOVERED, deadline, 0, &[0]));
    assert_ok(&world.declare(methods::DECLARE_FAULTS_RECOVERED, deadline, 1, &[2]));
    assert_eq!(world.miner().recoveries().into_iter().collect::<Vec<_>>(), [0, 2]);
    assert_eq!(world.miner().power(), 0, "power comes back only with a proof");
    // Only partition 0 is proven: sector 0 recovers; sector 2's recovery fails with its partition.
    world.advance_to(second.open);
    assert_ok(&world.post(&[(0, &[])]));
    assert_eq!(world.last_proven_set(), [0]);
    assert_eq!(world.miner().power(), 2048);
    world.advance_to(second.close);
    assert_eq!(world.miner().faults().into_iter().collect::<Vec<_>>(), [1, 2, 3], "the unproven recovery stays faulty");
    assert!(world.miner().recoveries().is_empty());
    assert_eq!(
        world.miner().sector_count(),
        sealstack_chain::miner::MinerSectorCount { live: 4, active: 1, faulty: 3 }
    );
}

#[test]
fn a_sector_faulty_past_the_fault_max_age_is_terminated_with_its_fee() {
    let mut world = World::new(2, DeadlineAssignment::Pack);
    let deadline = world.location(0).0;
    let policy = world.env.policy.clone();
    let first = world.upcoming(deadline);
    // Sector 1 is proven every period; sector 0 is skipped in the first and never recovered.
    let mut info = first;
    let mut periods = 0;
    let pledge_before = world.miner().funds.initial_pledge.0.clone();
    loop {
        world.advance_to(info.open);
        let skipped: &[u64] = if world.miner().faults().contains(&0) { &[] } else { &[0] };
        assert_ok(&world.post(&[(0, skipped)]));
        world.advance_to(info.close);
        periods += 1;
        if world.miner().sector_count().live == 1 {
            break;
        }
        assert!(periods <= policy.fault_max_age_periods + 1, "not terminated after {periods} periods");
        info = world.upcoming(deadline);
    }
    // Faulty from the first period; terminated at the deadline end FAULT_MAX_AGE (3 periods) after.
    assert_eq!(periods, policy.fault_max_age_periods + 1);
    let partition = &world.miner().deadlines[deadline as usize].partitions[0];
    assert!(partition.terminated.contains(&0) && !partition.faults.contains(&0));
    assert_eq!(world.miner().power(), 2048, "sector 1 keeps its power");
    let pledge = TokenAmount::from_atto(policy.initial_pledge);
    assert_eq!(world.miner().funds.initial_pledge.0, pledge_before - &pledge, "its pledge is released");
    assert!(world.miner().sector_info_json(0).is_some(), "a terminated sector's info stays (no compaction)");
    assert!(!world.miner().active_sectors().contains(&0));
}
