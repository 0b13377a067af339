//! SubmitWindowedPoSt: the partition limit, several messages per deadline, skipped sectors, and what goes to
//! verification.

use super::*;
use fvm_shared::error::ExitCode;

/// A packed miner with 8 sectors in 4 partitions, at the opening of their deadline.
fn at_open() -> World {
    let mut world = World::new(8, DeadlineAssignment::Pack);
    let open = world.upcoming(world.location(0).0).open;
    world.advance_to(open);
    world
}

#[test]
fn more_partitions_than_allowed_in_one_message_are_refused() {
    let mut world = at_open();
    assert_eq!(submission_partition_limit(2), POSTED_PARTITIONS_MAX);
    let refused = world.post(&[(0, &[]), (1, &[]), (2, &[]), (3, &[])]);
    assert_exit(&refused, ExitCode::USR_ILLEGAL_ARGUMENT, "too many partitions 4, limit 3");
    // Two messages prove the deadline: three partitions, then one.
    assert_ok(&world.post(&[(0, &[]), (1, &[]), (2, &[])]));
    assert_eq!(world.last_proven_set(), [0, 1, 2, 3, 4, 5]);
    assert_ok(&world.post(&[(3, &[])]));
    assert_eq!(world.last_proven_set(), [6, 7]);
    let deadline = world.location(0).0;
    assert_eq!(world.miner().deadlines_json()[deadline as usize].post_submissions.numbers(), [0, 1, 2, 3]);
    // A partition proven twice, a missing partition, a duplicate: refused as builtin-actors does.
    assert_exit(&world.post(&[(3, &[])]), ExitCode::USR_ILLEGAL_ARGUMENT, "partition already proven");
    assert_exit(&world.post(&[(4, &[])]), ExitCode::USR_NOT_FOUND, "no such partition 4");
    let close = world.upcoming(deadline).close;
    world.advance_to(close);
    assert!(world.miner().faults().is_empty(), "the whole deadline was proven");
    assert_eq!(world.miner().deadlines_json()[deadline as usize].disputable_proof_count, 2);
}

#[test]
fn a_skipped_sector_is_faulted_and_left_out_of_the_proof() {
    let mut world = at_open();
    let before = world.miner().power();
    assert_ok(&world.post(&[(0, &[1]), (1, &[])]));
    assert_eq!(world.last_proven_set(), [0, 2, 3], "the skipped sector is not verified");
    assert_eq!(world.miner().faults().into_iter().collect::<Vec<_>>(), [1]);
    assert_eq!(world.miner().power(), before - 2048, "it lost its power at once");
    let info = world.miner().sectors[&1].fault_expiration.unwrap();
    let current = world.miner().deadline_info(world.env.epoch, &world.env.policy);
    assert_eq!(info, current.last() + world.env.policy.fault_max_age());
    // A skipped sector outside the partition is refused.
    assert_exit(&world.post(&[(2, &[0])]), ExitCode::USR_ILLEGAL_ARGUMENT, "skipped faults contains sectors outside");
    // Skipping every sector of the partitions proves nothing: refused.
    assert_exit(&world.post(&[(3, &[6, 7])]), ExitCode::USR_ILLEGAL_ARGUMENT, "no active sectors");
}

#[test]
fn an_invalid_proof_or_a_wrong_deadline_is_refused_and_changes_nothing() {
    let mut world = at_open();
    world.env.posts_valid = false;
    assert_exit(&world.post(&[(0, &[1])]), ExitCode::USR_ILLEGAL_ARGUMENT, "invalid post was submitted");
    assert!(world.miner().faults().is_empty(), "the skip was rolled back with the message");
    world.env.posts_valid = true;
    let deadline = world.location(0).0;
    let next_open = world.upcoming((deadline + 1) % PERIOD_DEADLINES).open;
    world.advance_to(next_open);
    let late = world.post_for(deadline, &[(0, &[])]);
    assert_exit(&late, ExitCode::USR_ILLEGAL_ARGUMENT, &format!("invalid deadline {deadline} at epoch"));
}

#[test]
fn faulty_sectors_are_left_out_and_recovering_ones_proven() {
    // Sector 0 declared faulty, sector 1 faulty and declared recovered: the proof covers 1, not 0.
    let mut world = World::new(8, DeadlineAssignment::Pack);
    let deadline = world.location(0).0;
    let cutoff = world.upcoming(deadline).fault_cutoff;
    world.advance_to(cutoff - 2);
    assert_ok(&world.declare(methods::DECLARE_FAULTS, deadline, 0, &[0, 1]));
    assert_ok(&world.declare(methods::DECLARE_FAULTS_RECOVERED, deadline, 0, &[1]));
    assert_eq!(world.miner().recoveries().into_iter().collect::<Vec<_>>(), [1]);
    let open = world.upcoming(deadline).open;
    world.advance_to(open);
    assert_ok(&world.post(&[(0, &[])]));
    assert_eq!(world.last_proven_set(), [1]);
    assert_eq!(world.miner().faults().into_iter().collect::<Vec<_>>(), [0]);
    assert!(world.miner().recoveries().is_empty());
    assert!(world.miner().active_sectors().contains(&1), "the recovered sector has power again");
    // A proof that recovered power is verified, not accepted optimistically.
    assert_eq!(world.miner().deadlines[deadline as usize].optimistic_proofs, 0);
}
