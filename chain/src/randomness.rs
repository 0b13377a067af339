//! Chain randomness as the actors draw it (builtin-actors runtime/src/runtime/randomness.rs, lotus
//! chain/rand): `blake2b-256(tag as i64 BE || base || round as i64 BE || entropy)`, where `base` is the
//! ticket or beacon value of the round.

/// Domain separation tags (builtin-actors DomainSeparationTag).
pub mod tags {
    /// Block tickets.
    pub const TICKET_PRODUCTION: i64 = 1;
    /// WinningPoSt challenges.
    pub const WINNING_POST_CHALLENGE_SEED: i64 = 3;
    /// WindowPoSt challenges.
    pub const WINDOWED_POST_CHALLENGE_SEED: i64 = 4;
    /// The sealing ticket of PreCommit.
    pub const SEAL_RANDOMNESS: i64 = 5;
    /// The interactive seed of ProveCommit.
    pub const INTERACTIVE_SEAL_CHALLENGE_SEED: i64 = 6;
    /// The chain commitment of a WindowPoSt.
    pub const POST_CHAIN_COMMIT: i64 = 9;
}

/// Draws 32 bytes of randomness from a round's base value.
pub fn draw_randomness(base: &[u8], tag: i64, round: i64, entropy: &[u8]) -> [u8; 32] {
    let base_digest = blake2b_simd::Params::new().hash_length(32).hash(base);
    let mut state = blake2b_simd::Params::new().hash_length(32).to_state();
    state.update(&tag.to_be_bytes());
    state.update(base_digest.as_bytes());
    state.update(&round.to_be_bytes());
    state.update(entropy);
    state.finalize().as_bytes().try_into().expect("32-byte digest")
}

/// The entropy actors use for a miner's randomness: the CBOR of its (ID) address.
pub fn miner_entropy(miner: &fvm_shared::address::Address) -> Vec<u8> {
    fvm_ipld_encoding::to_vec(miner).expect("an address encodes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_by_every_input() {
        let a = draw_randomness(b"base", tags::SEAL_RANDOMNESS, 10, b"e");
        assert_eq!(a, draw_randomness(b"base", tags::SEAL_RANDOMNESS, 10, b"e"));
        assert_ne!(a, draw_randomness(b"base", tags::INTERACTIVE_SEAL_CHALLENGE_SEED, 10, b"e"));
        assert_ne!(a, draw_randomness(b"base", tags::SEAL_RANDOMNESS, 11, b"e"));
        assert_ne!(a, draw_randomness(b"base", tags::SEAL_RANDOMNESS, 10, b"f"));
        assert_eq!(miner_entropy(&fvm_shared::address::Address::new_id(1000)), vec![0x43, 0x00, 0xe8, 0x07]);
    }
}
