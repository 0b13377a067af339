//! ExtendSectorExpiration2 and TerminateSectors against builtin-actors' checks, and an extended sector expiring at
//! its new expiration.

use super::*;
use fvm_ipld_bitfield::BitField;
use fvm_shared::error::ExitCode;

fn bits(sectors: &[u64]) -> BitField {
    BitField::try_from_bits(sectors.iter().copied()).unwrap()
}

impl World {
    /// ExtendSectorExpiration2 of `sectors` in one partition to `new_expiration`.
    fn extend(&mut self, deadline: u64, partition: u64, sectors: &[u64], new_expiration: i64) -> ApplyReceipt {
        let params = miner_state::ExtendSectorExpiration2Params {
            extensions: vec![miner_state::ExpirationExtension2 {
                deadline,
                partition,
                sectors: bits(sectors),
                sectors_with_claims: Vec::new(),
                new_expiration,
            }],
        };
        self.send(methods::EXTEND_SECTOR_EXPIRATION2, &params, TokenAmount::from_atto(0))
    }

    /// TerminateSectors of `sectors` in one partition.
    fn terminate(&mut self, deadline: u64, partition: u64, sectors: &[u64]) -> ApplyReceipt {
        let params = miner_state::TerminateSectorsParams {
            terminations: vec![miner_state::TerminationDeclaration { deadline, partition, sectors: bits(sectors) }],
        };
        self.send(methods::TERMINATE_SECTORS, &params, TokenAmount::from_atto(0))
    }

    fn expiration(&self, sector: u64) -> i64 {
        self.miner().sectors[&sector].expiration
    }
}

#[test]
fn an_extension_within_the_bounds_moves_the_expiration() {
    let mut world = World::new(4, DeadlineAssignment::Pack);
    let policy = world.env.policy.clone();
    let (deadline, partition) = world.location(0);
    // Before the sectors' first deadline (no missed proof yet): later than the genesis expiration needs time.
    let epoch = world.upcoming(deadline).open - 1;
    world.advance_to(epoch);
    let longest = epoch + policy.max_sector_expiration_extension();
    assert!(longest > world.expiration(0));
    let beyond = world.extend(deadline, partition, &[0, 1], longest + 1);
    assert_exit(&beyond, ExitCode::USR_ILLEGAL_ARGUMENT, "cannot be more than");
    assert_ok(&world.extend(deadline, partition, &[0, 1], longest));
    assert_eq!([world.expiration(0), world.expiration(1)], [longest, longest]);
    assert_eq!(world.miner().power(), 4 * 2048, "power does not change");
    let shorter = world.extend(deadline, partition, &[0], longest - 1);
    assert_exit(
        &shorter,
        ExitCode::USR_ILLEGAL_ARGUMENT,
        &format!("cannot reduce sector 0 expiration to {}", longest - 1),
    );
}

#[test]
fn extensions_are_checked_as_builtin_actors_checks_them() {
    let mut world = World::new(4, DeadlineAssignment::Pack);
    let (deadline, partition) = world.location(0);
    let target = world.expiration(0);
    let out_of_range = world.extend(48, 0, &[0], target);
    assert_exit(&out_of_range, ExitCode::USR_ILLEGAL_ARGUMENT, "deadline 48 not in range 0..48");
    let missing = world.extend(deadline, 7, &[0], target);
    assert_exit(&missing, ExitCode::USR_NOT_FOUND, "no such partition");
    let unknown = world.extend(deadline, partition, &[0, 99], target);
    assert_exit(&unknown, ExitCode::USR_NOT_FOUND, "sector not found: 99");
    let elsewhere = world.extend(deadline, partition, &[2], target);
    assert_exit(&elsewhere, ExitCode::USR_ILLEGAL_STATE, "refusing to replace inactive sectors");
    // A faulty sector cannot be extended; the whole message fails, its other sectors unchanged.
    assert_ok(&world.declare(methods::DECLARE_FAULTS, deadline, partition, &[1]));
    let faulty = world.extend(deadline, partition, &[0, 1], target);
    assert_exit(&faulty, ExitCode::USR_ILLEGAL_STATE, "refusing to replace inactive sectors");
    // FIL+ claims need the verified registry, which the devnet does not have.
    let params = miner_state::ExtendSectorExpiration2Params {
        extensions: vec![miner_state::ExpirationExtension2 {
            deadline,
            partition,
            sectors: bits(&[]),
            sectors_with_claims: vec![miner_state::SectorClaim {
                sector_number: 0,
                maintain_claims: vec![1],
                drop_claims: Vec::new(),
            }],
            new_expiration: target,
        }],
    };
    let claims = world.send(methods::EXTEND_SECTOR_EXPIRATION2, &params, TokenAmount::from_atto(0));
    assert_exit(&claims, ExitCode::USR_ILLEGAL_ARGUMENT, "failed to get claims for sector 0");
}

#[test]
fn the_lifetime_bounds_follow_builtin_actors() {
    let policy = test_policy(DeadlineAssignment::Pack);
    let day = policy.proving_period();
    let mut sector = World::new(1, DeadlineAssignment::Pack).miner().sectors[&0].clone();
    sector.activation = 0;
    let check = |sector: &SectorOnChain, epoch, new| {
        crate::model::lifecycle::validate_extended_expiration(&policy, epoch, new, 0, sector).map_err(|e| e.1)
    };
    sector.expiration = 10;
    assert!(check(&sector, 5, 100 * day).unwrap_err().contains("must exceed 172800"), "shorter than 180 days");
    assert!(check(&sector, 11, 300 * day).unwrap_err().contains("expired sector 0 at 10"));
    // At most 5 years of 365.25 days from activation, and at most 1278 days past now.
    let epoch = 1000 * day;
    sector.expiration = epoch + 1;
    assert!(check(&sector, epoch, epoch + 1278 * day).unwrap_err().contains("cannot exceed 1753200"));
    assert!(check(&sector, epoch, 1826 * day).is_ok());
    assert!(check(&sector, epoch, 1827 * day).unwrap_err().contains("cannot exceed"));
}

#[test]
fn termination_ends_live_sectors_of_mutable_deadlines_with_the_fee() {
    let mut world = World::new(4, DeadlineAssignment::Pack);
    let policy = world.env.policy.clone();
    let (deadline, partition) = world.location(0);
    let info = world.upcoming(deadline);
    // The last epoch at which the deadline is still mutable (Pack put the sectors in a mutable one).
    world.advance_to(info.open - policy.challenge_window - 1);
    let missing = world.terminate(deadline, 9, &[0]);
    assert_exit(&missing, ExitCode::USR_NOT_FOUND, "failed to find partition 9");
    let (balance, pledge) = (world.balance(), world.miner().funds.initial_pledge.0.clone());
    let receipt = world.terminate(deadline, partition, &[0]);
    assert_ok(&receipt);
    let done: miner_state::TerminateSectorsReturn = fvm_ipld_encoding::from_slice(&receipt.return_data).unwrap();
    assert!(done.done, "nothing left queued");
    assert!(world.miner().deadlines[deadline as usize].partitions[partition as usize].terminated.contains(&0));
    assert_eq!(world.miner().power(), 3 * 2048, "its power goes at once");
    let sector_pledge = TokenAmount::from_atto(policy.initial_pledge);
    assert_eq!(world.miner().funds.initial_pledge.0, pledge - &sector_pledge, "its pledge is released");
    let fee = policy.termination_fee(&sector_pledge, world.env.epoch - world.miner().sectors[&0].activation);
    assert_eq!(balance - world.balance(), fee, "the termination fee is burnt from the miner's balance");
    let again = world.terminate(deadline, partition, &[0]);
    assert_exit(&again, ExitCode::USR_ILLEGAL_ARGUMENT, "can only terminate live sectors");
    let extended = world.extend(deadline, partition, &[0], world.expiration(1));
    assert_exit(&extended, ExitCode::USR_ILLEGAL_STATE, "refusing to replace inactive sectors");
    // From one challenge window before it opens, the deadline cannot be changed (nor while it is open).
    world.advance_to(info.open - policy.challenge_window);
    let immutable = world.terminate(deadline, partition, &[1]);
    let reason = format!("cannot terminate sectors in immutable deadline {deadline}");
    assert_exit(&immutable, ExitCode::USR_ILLEGAL_ARGUMENT, &reason);
}
