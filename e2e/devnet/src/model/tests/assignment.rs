//! Deadline assignment of new sectors: builtin-actors' spread, and the devnet's packing option.

use super::*;

#[test]
fn a_batch_spreads_as_builtin_actors_assigns_it() {
    let world = World::new(7, DeadlineAssignment::Spread);
    let policy = &world.env.policy;
    let start = world.miner().current_period_start(0, policy);
    let mutable: Vec<u64> = (0..PERIOD_DEADLINES).filter(|&i| deadline_is_mutable(policy, start, i, 0)).collect();
    assert_eq!(mutable.len(), 46, "the open deadline and the next are not mutable");
    // One 2KiB partition (2 sectors) per deadline, in index order of the mutable deadlines.
    let expected = [mutable[0], mutable[0], mutable[1], mutable[1], mutable[2], mutable[2], mutable[3]];
    let chosen: Vec<u64> = (0..7).map(|n| world.location(n).0).collect();
    assert_eq!(chosen, expected);
    assert!((0..7).all(|n| world.location(n).1 == 0), "each in its deadline's first partition");
}

#[test]
fn later_activations_fill_open_partitions_first() {
    // Sectors activated one at a time at a later epoch go where builtin-actors' comparator sends them: the
    // open partition of the deadline holding sector 6, then the next empty mutable deadline.
    let mut world = World::new(7, DeadlineAssignment::Spread);
    world.advance_to(10);
    let (deadline_of_6, _) = world.location(6);
    let policy = world.env.policy.clone();
    let id = world.id;
    let ActorKind::Miner(miner) = &mut world.table.get_mut(id).unwrap().kind else { unreachable!() };
    miner.activate(vec![(7, 5, LotusJson(comm_r(7)), 100_000)], 10, &policy).unwrap();
    miner.activate(vec![(8, 5, LotusJson(comm_r(8)), 100_000)], 10, &policy).unwrap();
    assert_eq!(world.location(7), (deadline_of_6, 0), "the open partition is filled");
    assert_ne!(world.location(8).0, deadline_of_6);
    assert_eq!(world.miner().deadlines[world.location(8).0 as usize].total_sectors(), 1);
}

#[test]
fn pack_puts_eight_sectors_in_four_partitions_of_one_deadline() {
    let world = World::new(8, DeadlineAssignment::Pack);
    let deadline = world.location(0).0;
    assert!((0..8).all(|n| world.location(n).0 == deadline));
    let partitions = world.miner().partitions_json(deadline);
    assert_eq!(partitions.len(), 4);
    assert_eq!(partitions[3].all_sectors.numbers(), [6, 7]);
    // The soonest mutable deadline: the one two after the open one.
    let open = world.miner().deadline_info(0, &world.env.policy).index;
    assert_eq!(deadline, (open + 2) % PERIOD_DEADLINES);
    // Genesis sectors are proven: active with power from the first epoch.
    assert_eq!(
        world.miner().sector_count(),
        sealstack_chain::miner::MinerSectorCount { live: 8, active: 8, faulty: 0 }
    );
    assert_eq!(world.miner().power(), 8 * 2048);
}
