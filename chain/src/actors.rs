//! Built-in actor addresses, method numbers and CBOR parameters, with the types of ChainSafe's
//! `fil_actor_*_state` crates for actors v18 (builtin-actors v18, network version 28).

use fvm_ipld_encoding::{BytesDe, RawBytes};
use fvm_shared::address::Address;
use fvm_shared::sector::{RegisteredPoStProof, RegisteredSealProof, SectorSize};

pub use fil_actor_miner_state::v18 as miner_state;
pub use fil_actor_power_state::v18 as power_state;

/// The storage power actor, f04.
pub const STORAGE_POWER_ACTOR: Address = Address::new_id(4);
/// The burnt-funds actor, f099.
pub const BURNT_FUNDS_ACTOR: Address = Address::new_id(99);
/// The first ID the init actor assigns on a network made from scratch.
pub const FIRST_NON_SINGLETON_ID: u64 = 100;

/// The most partitions one SubmitWindowedPoSt may prove (builtin-actors runtime policy `POSTED_PARTITIONS_MAX`;
/// with the small sector sizes' 2-sector partitions the per-message sector bound is far above it).
pub const POSTED_PARTITIONS_MAX: u64 = 3;

/// Method numbers sealstack sends. The power and miner methods are the legacy numbers `lotus-miner` uses
/// (callable by account actors); the FRC-42 exported numbers work too.
pub mod methods {
    use super::{miner_state, power_state};

    /// A plain value transfer.
    pub const SEND: u64 = fvm_shared::METHOD_SEND;
    /// power.CreateMiner.
    pub const CREATE_MINER: u64 = power_state::Method::CreateMiner as u64;
    /// power.CreateMiner, FRC-42 number.
    pub const CREATE_MINER_EXPORTED: u64 = power_state::Method::CreateMinerExported as u64;
    /// miner.ChangePeerID.
    pub const CHANGE_PEER_ID: u64 = miner_state::Method::ChangePeerID as u64;
    /// miner.ChangePeerID, FRC-42 number.
    pub const CHANGE_PEER_ID_EXPORTED: u64 = miner_state::Method::ChangePeerIDExported as u64;
    /// miner.ChangeMultiaddrs.
    pub const CHANGE_MULTIADDRS: u64 = miner_state::Method::ChangeMultiaddrs as u64;
    /// miner.ChangeMultiaddrs, FRC-42 number.
    pub const CHANGE_MULTIADDRS_EXPORTED: u64 = miner_state::Method::ChangeMultiaddrsExported as u64;
    /// miner.SubmitWindowedPoSt.
    pub const SUBMIT_WINDOWED_POST: u64 = miner_state::Method::SubmitWindowedPoSt as u64;
    /// miner.DeclareFaults.
    pub const DECLARE_FAULTS: u64 = miner_state::Method::DeclareFaults as u64;
    /// miner.DeclareFaultsRecovered.
    pub const DECLARE_FAULTS_RECOVERED: u64 = miner_state::Method::DeclareFaultsRecovered as u64;
    /// miner.PreCommitSectorBatch2.
    pub const PRE_COMMIT_SECTOR_BATCH2: u64 = miner_state::Method::PreCommitSectorBatch2 as u64;
    /// miner.ProveCommitSectors3.
    pub const PROVE_COMMIT_SECTORS3: u64 = miner_state::Method::ProveCommitSectors3 as u64;
    /// miner.ExtendSectorExpiration2.
    pub const EXTEND_SECTOR_EXPIRATION2: u64 = miner_state::Method::ExtendSectorExpiration2 as u64;
    /// miner.TerminateSectors.
    pub const TERMINATE_SECTORS: u64 = miner_state::Method::TerminateSectors as u64;
}

/// The WindowPoSt proof type of a sector size, as Lotus picks it (`WindowPoStProofTypeFromSectorSize`):
/// the V1_1 types from network version 19 on.
pub fn window_post_proof(sector_size: SectorSize) -> RegisteredPoStProof {
    match sector_size {
        SectorSize::_2KiB => RegisteredPoStProof::StackedDRGWindow2KiBV1P1,
        SectorSize::_8MiB => RegisteredPoStProof::StackedDRGWindow8MiBV1P1,
        SectorSize::_512MiB => RegisteredPoStProof::StackedDRGWindow512MiBV1P1,
        SectorSize::_32GiB => RegisteredPoStProof::StackedDRGWindow32GiBV1P1,
        SectorSize::_64GiB => RegisteredPoStProof::StackedDRGWindow64GiBV1P1,
    }
}

/// The seal proof type of a sector size for new sectors (V1_1, no synthetic PoRep).
pub fn seal_proof(sector_size: SectorSize) -> RegisteredSealProof {
    RegisteredSealProof::from_sector_size(sector_size, fvm_shared::version::NetworkVersion::V28)
}

/// The sector size of a byte count, if it is one Filecoin knows.
pub fn sector_size(bytes: u64) -> Option<SectorSize> {
    [SectorSize::_2KiB, SectorSize::_8MiB, SectorSize::_512MiB, SectorSize::_32GiB, SectorSize::_64GiB]
        .into_iter()
        .find(|size| *size as u64 == bytes)
}

/// Encodes `value` as actor parameters.
fn encode<T: serde::Serialize>(value: &T) -> RawBytes {
    RawBytes::serialize(value).expect("actor parameters always encode")
}

/// power.CreateMiner parameters.
pub fn create_miner_params(
    owner: Address,
    worker: Address,
    post_proof: RegisteredPoStProof,
    peer_id: Vec<u8>,
    multiaddrs: Vec<Vec<u8>>,
) -> RawBytes {
    encode(&power_state::CreateMinerParams {
        owner,
        worker,
        window_post_proof_type: post_proof,
        peer: peer_id,
        multiaddrs: multiaddrs.into_iter().map(BytesDe).collect(),
    })
}

/// Decodes power.CreateMiner's return: the new miner's ID and robust addresses.
pub fn decode_create_miner_return(bytes: &[u8]) -> Result<(Address, Address), fvm_ipld_encoding::Error> {
    let ret: power_state::CreateMinerReturn = fvm_ipld_encoding::from_slice(bytes)?;
    Ok((ret.id_address, ret.robust_address))
}

/// miner.ChangeMultiaddrs parameters.
pub fn change_multiaddrs_params(multiaddrs: Vec<Vec<u8>>) -> RawBytes {
    encode(&miner_state::ChangeMultiaddrsParams { new_multi_addrs: multiaddrs.into_iter().map(BytesDe).collect() })
}

/// miner.ChangePeerID parameters.
pub fn change_peer_id_params(peer_id: Vec<u8>) -> RawBytes {
    encode(&miner_state::ChangePeerIDParams { new_id: peer_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;

    fn peer() -> Vec<u8> {
        // An Ed25519 PeerId: identity multihash 00 24, protobuf 08 01 12 20, key bytes 01..20.
        let mut bytes = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
        bytes.extend(1..=32u8);
        bytes
    }

    fn loopback_24001() -> Vec<u8> {
        "/ip4/127.0.0.1/tcp/24001".parse::<multiaddr::Multiaddr>().unwrap().to_vec()
    }

    /// Vectors from shared/notes/lotus-api.md "Verified byte examples", which were checked against the
    /// real builtin-actors v18 WASM (CreateMinerReturn) and the tuple layout of actors/power/src/types.rs.
    #[test]
    fn create_miner_params_match_builtin_actors_v18() {
        let params = create_miner_params(
            Address::new_id(1000),
            Address::new_id(1001),
            window_post_proof(SectorSize::_2KiB),
            peer(),
            vec![loopback_24001()],
        );
        assert_eq!(
            BASE64.encode(params.bytes()),
            "hUMA6AdDAOkHClgmACQIARIgAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyCBSAR/AAABBl3B"
        );
    }

    #[test]
    fn create_miner_return_decodes() {
        let bytes = BASE64.decode("gkIAZlUCNxLOmEj9gZKM7PVlZiUhY1i2Hu8=").unwrap();
        let (id, robust) = decode_create_miner_return(&bytes).unwrap();
        assert_eq!(id, Address::new_id(102));
        assert_eq!(
            crate::json::format_address(&robust, fvm_shared::address::Network::Mainnet),
            "f2g4jm5gci7wazfdhm6vswmjjbmnmlmhxpgkldw5y"
        );
    }

    #[test]
    fn change_params_match_builtin_actors_v18() {
        assert_eq!(BASE64.encode(change_multiaddrs_params(vec![loopback_24001()]).bytes()), "gYFIBH8AAAEGXcE=");
        let peer_params = change_peer_id_params(vec![0xcd; 38]);
        assert_eq!(&peer_params.bytes()[..3], &[0x81, 0x58, 0x26]);
    }

    #[test]
    fn method_numbers() {
        assert_eq!(methods::CREATE_MINER, 2);
        assert_eq!(methods::CREATE_MINER_EXPORTED, 1173380165);
        assert_eq!(methods::CHANGE_PEER_ID, 4);
        assert_eq!(methods::CHANGE_MULTIADDRS, 18);
        assert_eq!(methods::CHANGE_MULTIADDRS_EXPORTED, 1063480576);
        assert_eq!(methods::PRE_COMMIT_SECTOR_BATCH2, 28);
        assert_eq!(methods::PROVE_COMMIT_SECTORS3, 34);
        assert_eq!(methods::SUBMIT_WINDOWED_POST, 5);
        assert_eq!(methods::DECLARE_FAULTS, 10);
        assert_eq!(methods::DECLARE_FAULTS_RECOVERED, 11);
    }

    #[test]
    fn proof_types_by_sector_size() {
        assert_eq!(i64::from(window_post_proof(SectorSize::_2KiB)), 10);
        assert_eq!(i64::from(window_post_proof(SectorSize::_32GiB)), 13);
        assert_eq!(seal_proof(SectorSize::_2KiB), RegisteredSealProof::StackedDRG2KiBV1P1);
        assert_eq!(sector_size(2048), Some(SectorSize::_2KiB));
        assert_eq!(sector_size(4096), None);
    }
}
