//! The proofs library's view of on-chain values: proof types, the prover id of a miner, and the CIDs of sector
//! commitments (CommR and CommD).

use cid::Cid;
use cid::multihash::Multihash;
use filecoin_proofs_api as api;
use fvm_shared::sector::{RegisteredPoStProof, RegisteredSealProof};

use super::error::SealingError;

/// The CID codec of a sealed-sector commitment (CommR): `fil-commitment-sealed`.
pub const SEALED_CODEC: u64 = 0xf102;
/// The CID codec of an unsealed-sector commitment (CommD): `fil-commitment-unsealed`.
pub const UNSEALED_CODEC: u64 = 0xf101;
/// The multihash code of CommR: `poseidon-bls12_381-a2-fc1`.
pub const POSEIDON_HASH: u64 = 0xb401;
/// The multihash code of CommD: `sha2-256-trunc254-padded`.
pub const SHA256_TRUNC254_HASH: u64 = 0x1012;

/// The filecoin-proofs-api seal type of an on-chain V1_1 seal proof type.
pub fn api_seal_proof(proof: RegisteredSealProof) -> Result<api::RegisteredSealProof, SealingError> {
    use RegisteredSealProof as F;
    use api::RegisteredSealProof as P;
    Ok(match proof {
        F::StackedDRG2KiBV1P1 => P::StackedDrg2KiBV1_1,
        F::StackedDRG8MiBV1P1 => P::StackedDrg8MiBV1_1,
        F::StackedDRG512MiBV1P1 => P::StackedDrg512MiBV1_1,
        F::StackedDRG32GiBV1P1 => P::StackedDrg32GiBV1_1,
        F::StackedDRG64GiBV1P1 => P::StackedDrg64GiBV1_1,
        other => return Err(SealingError::UnsupportedSealProof(i64::from(other))),
    })
}

/// The filecoin-proofs-api WindowPoSt type of an on-chain Window V1_1 PoSt type (V1_2 in the proofs library).
pub fn api_window_post_proof(proof: RegisteredPoStProof) -> Result<api::RegisteredPoStProof, SealingError> {
    use RegisteredPoStProof as F;
    use api::RegisteredPoStProof as P;
    Ok(match proof {
        F::StackedDRGWindow2KiBV1P1 => P::StackedDrgWindow2KiBV1_2,
        F::StackedDRGWindow8MiBV1P1 => P::StackedDrgWindow8MiBV1_2,
        F::StackedDRGWindow512MiBV1P1 => P::StackedDrgWindow512MiBV1_2,
        F::StackedDRGWindow32GiBV1P1 => P::StackedDrgWindow32GiBV1_2,
        F::StackedDRGWindow64GiBV1P1 => P::StackedDrgWindow64GiBV1_2,
        other => return Err(SealingError::UnsupportedPoStProof(i64::from(other))),
    })
}

/// The on-chain WindowPoSt type (Window V1_1) that proves sectors sealed with `proof`.
pub fn window_post_proof_of(proof: RegisteredSealProof) -> Result<RegisteredPoStProof, SealingError> {
    use RegisteredPoStProof as P;
    use RegisteredSealProof as F;
    Ok(match proof {
        F::StackedDRG2KiBV1P1 => P::StackedDRGWindow2KiBV1P1,
        F::StackedDRG8MiBV1P1 => P::StackedDRGWindow8MiBV1P1,
        F::StackedDRG512MiBV1P1 => P::StackedDRGWindow512MiBV1P1,
        F::StackedDRG32GiBV1P1 => P::StackedDRGWindow32GiBV1P1,
        F::StackedDRG64GiBV1P1 => P::StackedDRGWindow64GiBV1P1,
        other => return Err(SealingError::UnsupportedSealProof(i64::from(other))),
    })
}

/// The prover id of miner `t0{miner}`: the payload of its ID address (the unsigned LEB128 encoding of the id),
/// zero-padded to 32 bytes.
pub fn prover_id(miner: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut rest = miner;
    for byte in out.iter_mut() {
        // Seven bits a byte, low bits first; the high bit says that more bytes follow. A u64 needs at most 10.
        *byte = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest == 0 {
            break;
        }
        *byte |= 0x80;
    }
    out
}

/// Why a CID does not hold a sector commitment of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentError {
    /// Only [`SEALED_CODEC`] and [`UNSEALED_CODEC`] name commitments.
    #[error("codec {0:#x} is not a sector commitment codec")]
    UnknownCodec(u64),
    /// The CID has another codec than the one expected.
    #[error("CID {cid} has codec {found:#x}, expected {expected:#x}")]
    WrongCodec {
        /// The CID, as a string.
        cid: String,
        /// Its codec.
        found: u64,
        /// The codec expected.
        expected: u64,
    },
    /// The CID's multihash is not the one of its codec.
    #[error("CID {cid} has multihash {found:#x}, expected {expected:#x}")]
    WrongHash {
        /// The CID, as a string.
        cid: String,
        /// Its multihash code.
        found: u64,
        /// The multihash code of the codec.
        expected: u64,
    },
    /// The digest is not 32 bytes long.
    #[error("CID {cid} holds a {len}-byte digest, not a 32-byte commitment")]
    WrongLength {
        /// The CID, as a string.
        cid: String,
        /// The digest's length.
        len: usize,
    },
}

/// The multihash code that goes with a commitment codec.
fn hash_of(codec: u64) -> Result<u64, CommitmentError> {
    match codec {
        SEALED_CODEC => Ok(POSEIDON_HASH),
        UNSEALED_CODEC => Ok(SHA256_TRUNC254_HASH),
        other => Err(CommitmentError::UnknownCodec(other)),
    }
}

fn commitment_cid(codec: u64, hash: u64, commitment: [u8; 32]) -> Cid {
    // A 32-byte digest always fits the 64-byte multihash: `wrap` cannot fail here.
    Cid::new_v1(codec, Multihash::wrap(hash, &commitment).expect("32 bytes fit a multihash"))
}

/// The CID of a sealed-sector commitment CommR (`bagboea4b5abc...`).
pub fn sealed_cid(comm_r: [u8; 32]) -> Cid {
    commitment_cid(SEALED_CODEC, POSEIDON_HASH, comm_r)
}

/// The CID of an unsealed-sector commitment CommD (`baga6ea4sea...`).
pub fn unsealed_cid(comm_d: [u8; 32]) -> Cid {
    commitment_cid(UNSEALED_CODEC, SHA256_TRUNC254_HASH, comm_d)
}

/// The commitment held by `cid`, which must have `codec` ([`SEALED_CODEC`] or [`UNSEALED_CODEC`]) and its
/// multihash.
pub fn commitment_of(cid: &Cid, codec: u64) -> Result<[u8; 32], CommitmentError> {
    let expected_hash = hash_of(codec)?;
    if cid.codec() != codec {
        return Err(CommitmentError::WrongCodec { cid: cid.to_string(), found: cid.codec(), expected: codec });
    }
    if cid.hash().code() != expected_hash {
        return Err(CommitmentError::WrongHash {
            cid: cid.to_string(),
            found: cid.hash().code(),
            expected: expected_hash,
        });
    }
    let digest = cid.hash().digest();
    digest.try_into().map_err(|_| CommitmentError::WrongLength { cid: cid.to_string(), len: digest.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fvm_shared::address::Address;

    #[test]
    fn prover_id_is_the_id_address_payload() {
        for id in [0, 1, 127, 128, 1000, 16_383, 16_384, 1 << 35, u64::MAX] {
            let payload = Address::new_id(id).payload_bytes();
            let mut expected = [0u8; 32];
            expected[..payload.len()].copy_from_slice(&payload);
            assert_eq!(prover_id(id), expected, "t0{id}");
        }
        assert_eq!(prover_id(1000)[..3], [0xe8, 0x07, 0x00]);
    }

    #[test]
    fn seal_proof_types_map_to_v1_1() {
        use RegisteredSealProof as F;
        use api::RegisteredSealProof as P;
        let pairs = [
            (F::StackedDRG2KiBV1P1, P::StackedDrg2KiBV1_1),
            (F::StackedDRG8MiBV1P1, P::StackedDrg8MiBV1_1),
            (F::StackedDRG512MiBV1P1, P::StackedDrg512MiBV1_1),
            (F::StackedDRG32GiBV1P1, P::StackedDrg32GiBV1_1),
            (F::StackedDRG64GiBV1P1, P::StackedDrg64GiBV1_1),
        ];
        for (on_chain, library) in pairs {
            assert_eq!(api_seal_proof(on_chain).unwrap(), library);
            let window = window_post_proof_of(on_chain).unwrap();
            // The WindowPoSt type proves sectors of the same size.
            let post = api_window_post_proof(window).unwrap();
            assert_eq!(u64::from(post.sector_size()), u64::from(library.sector_size()), "{on_chain:?}");
        }
        assert!(matches!(api_seal_proof(F::StackedDRG2KiBV1), Err(SealingError::UnsupportedSealProof(0))));
        assert!(matches!(window_post_proof_of(F::StackedDRG32GiBV1), Err(SealingError::UnsupportedSealProof(3))));
    }

    #[test]
    fn window_post_types_map_to_v1_2() {
        use RegisteredPoStProof as F;
        use api::RegisteredPoStProof as P;
        assert_eq!(api_window_post_proof(F::StackedDRGWindow2KiBV1P1).unwrap(), P::StackedDrgWindow2KiBV1_2);
        assert_eq!(api_window_post_proof(F::StackedDRGWindow64GiBV1P1).unwrap(), P::StackedDrgWindow64GiBV1_2);
        // WinningPoSt and unknown types are not WindowPoSt V1_1.
        assert!(matches!(api_window_post_proof(F::Invalid(99)), Err(SealingError::UnsupportedPoStProof(_))));
        assert!(matches!(
            api_window_post_proof(F::StackedDRGWinning2KiBV1),
            Err(SealingError::UnsupportedPoStProof(_))
        ));
    }

    #[test]
    fn commitment_cids_round_trip() {
        let comm = std::array::from_fn(|i| i as u8);
        let sealed = sealed_cid(comm);
        assert!(sealed.to_string().starts_with("bagboea4b5abc"), "{sealed}");
        assert_eq!(commitment_of(&sealed, SEALED_CODEC).unwrap(), comm);
        let unsealed = unsealed_cid(comm);
        assert!(unsealed.to_string().starts_with("baga6ea4sea"), "{unsealed}");
        assert_eq!(commitment_of(&unsealed, UNSEALED_CODEC).unwrap(), comm);
        let parsed: Cid = sealed.to_string().parse().unwrap();
        assert_eq!(parsed, sealed);
    }

    #[test]
    fn the_empty_2kib_sector_has_lotus_zero_comm_d() {
        let comm_d = api::seal::compute_comm_d(api::RegisteredSealProof::StackedDrg2KiBV1_1, &[]).unwrap();
        assert_eq!(
            unsealed_cid(comm_d).to_string(),
            "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy"
        );
    }

    #[test]
    fn commitment_of_refuses_other_cids() {
        let comm = [7u8; 32];
        let sealed = sealed_cid(comm);
        assert!(matches!(
            commitment_of(&sealed, UNSEALED_CODEC),
            Err(CommitmentError::WrongCodec { found: SEALED_CODEC, expected: UNSEALED_CODEC, .. })
        ));
        assert_eq!(commitment_of(&sealed, 0x71), Err(CommitmentError::UnknownCodec(0x71)));
        let wrong_hash = Cid::new_v1(SEALED_CODEC, Multihash::wrap(SHA256_TRUNC254_HASH, &comm).unwrap());
        assert!(matches!(commitment_of(&wrong_hash, SEALED_CODEC), Err(CommitmentError::WrongHash { .. })));
        let short = Cid::new_v1(SEALED_CODEC, Multihash::wrap(POSEIDON_HASH, &comm[..31]).unwrap());
        assert!(matches!(commitment_of(&short, SEALED_CODEC), Err(CommitmentError::WrongLength { len: 31, .. })));
    }
}
