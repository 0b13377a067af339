//! Elections over many rounds, with fixed keys (a fixed seed): win counts follow the power shares, and with the
//! rest of the network holding the power null rounds are as rare as Poisson(5) makes them.

use fvm_shared::address::Address;
use fvm_shared::bigint::BigInt;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::election::{compute_win_count, election_vrf_input};

use super::rest;
use crate::model::SectorPolicy;
use crate::node::ChainState;
use crate::wallet::{Key, KeyInfo, KeyType};

fn key(seed: u8) -> Key {
    let secret = bls_signatures::PrivateKey::new([seed; 32]);
    Key::from_key_info(KeyInfo::new(KeyType::Bls, bls_signatures::Serialize::as_bytes(&secret))).unwrap()
}

fn state() -> ChainState {
    ChainState::genesis(
        "sealstack-devnet",
        TokenAmount::from_whole(1),
        TokenAmount::from_atto(1),
        SectorPolicy::default(),
    )
}

#[test]
fn win_counts_follow_power_shares_over_many_rounds() {
    const ROUNDS: i64 = 1500;
    let state = state();
    // Miner A holds 3 parts of the power, B 1, the rest of the network 4: 5 × 3/8, 5 × 1/8, 5 × 4/8 wins a round.
    let parties = [
        (Address::new_id(1000), key(1), 3u64),
        (Address::new_id(1001), key(2), 1),
        (Address::new_id(super::REST_OF_NETWORK_MINER), rest::key(&state.network_name), 4),
    ];
    let total = BigInt::from(8u64 * 2048);
    let mut wins = [0i64; 3];
    let mut null_rounds = 0;
    for round in 1..=ROUNDS {
        let beacon = state.beacon_entry(round);
        let mut any = false;
        for (i, (miner, key, parts)) in parties.iter().enumerate() {
            let vrf = key.sign(&election_vrf_input(&beacon.data, round, miner)).bytes;
            let won = compute_win_count(&vrf, &BigInt::from(parts * 2048), &total);
            wins[i] += won;
            any |= won > 0;
        }
        null_rounds += i64::from(!any);
    }
    for (i, (_, _, parts)) in parties.iter().enumerate() {
        let expected = 5.0 * *parts as f64 / 8.0 * ROUNDS as f64;
        let got = wins[i] as f64;
        // Poisson: the standard deviation is the square root of the mean; 4 of them.
        assert!((got - expected).abs() < 4.0 * expected.sqrt(), "party {i}: {got} wins, expected {expected:.0}");
    }
    // P(nobody wins) = e^-5 ≈ 0.67 %.
    let expected_nulls = (-5f64).exp() * ROUNDS as f64;
    assert!(
        (null_rounds as f64 - expected_nulls).abs() < 4.0 * expected_nulls.sqrt() + 1.0,
        "{null_rounds} null rounds"
    );
}

#[test]
fn the_rest_of_the_network_keeps_the_chain_going() {
    let mut state = state();
    let (mut nulls, mut blocks) = (0, 0);
    for _ in 0..300 {
        crate::node::tests::next_epoch(&mut state);
        match state.tipset_at(state.height) {
            Some(tipset) => {
                blocks += 1;
                let block = &tipset.blocks[0].header;
                assert_eq!(block.miner.0, Address::new_id(super::REST_OF_NETWORK_MINER));
                assert!(block.win_post_proof.is_empty(), "the rest of the network proves nothing");
                assert!(block.election_proof.as_ref().unwrap().win_count >= 1);
            }
            None => nulls += 1,
        }
    }
    assert_eq!(blocks + nulls, 300);
    assert!(nulls <= 8, "{nulls} null rounds in 300 (expected about 2)");
}
