//! Sealed 2KiB committed-capacity sectors for genesis miners (PreCommit1 and 2 only: genesis checks no seal
//! proof), and their `lotus-seed pre-seal` files.

use std::path::{Path, PathBuf};

use cid::Cid;
use cid::multihash::Multihash;
use filecoin_proofs_api as proofs;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::sector::SectorSize;
use sealstack_chain::actors::seal_proof;
use sealstack_chain::genesis::{GenesisMiner, KeyInfo, PreSeal, write_pre_seal_files};
use sealstack_chain::json::LotusJson;
use sealstack_devnet::model::prover_id;
use sealstack_devnet::proofs::api_seal_proof;
use sealstack_devnet::wallet::Key;

/// The parameters `scripts/params.sh` generates (`SEALSTACK_GENERATED_PARAMS`); without them a test says so and
/// passes, unless `SEALSTACK_REQUIRE_GENERATED_PARAMS=1`.
pub fn generated_dir() -> Option<PathBuf> {
    match std::env::var_os("SEALSTACK_GENERATED_PARAMS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("SEALSTACK_REQUIRE_GENERATED_PARAMS").is_ok_and(|v| v == "1") => {
            panic!("SEALSTACK_GENERATED_PARAMS is not set; run scripts/params.sh")
        }
        None => {
            eprintln!("skipped: SEALSTACK_GENERATED_PARAMS is not set (scripts/params.sh makes the parameters)");
            None
        }
    }
}

/// A sealed committed-capacity sector's files and CommR.
pub struct Sealed {
    /// The miner's ID.
    pub miner: u64,
    /// The sector number.
    pub number: u64,
    /// Its cache folder.
    pub cache: PathBuf,
    /// Its sealed file.
    pub sealed: PathBuf,
    /// Its CommR.
    pub comm_r: [u8; 32],
}

/// PC1 + PC2 of committed-capacity sector `number` of miner `miner`, in `dir`.
pub fn seal(dir: &Path, miner: u64, number: u64) -> Sealed {
    let registered = api_seal_proof(seal_proof(SectorSize::_2KiB)).unwrap();
    let cache = dir.join(format!("cache-{miner}-{number}"));
    let sealed = dir.join(format!("sealed-{miner}-{number}"));
    std::fs::create_dir(&cache).unwrap();
    std::fs::File::create(&sealed).unwrap();
    let ticket = [number as u8 + 1; 32];
    let phase1 = proofs::seal::seal_pre_commit_phase1(
        registered,
        &cache,
        "/dev/zero",
        &sealed,
        prover_id(miner),
        proofs::SectorId::from(number),
        ticket,
        &[],
    )
    .unwrap();
    let output = proofs::seal::seal_pre_commit_phase2(phase1, &cache, &sealed).unwrap();
    Sealed { miner, number, cache, sealed, comm_r: output.comm_r }
}

/// A commitment as a CID.
pub fn commitment_cid(codec: u64, hash: u64, digest: [u8; 32]) -> Cid {
    Cid::new_v1(codec, Multihash::wrap(hash, &digest).unwrap())
}

/// The genesis manifest entry of a miner with `sectors`, its owner and worker `worker`.
pub fn genesis_miner(sectors: &[Sealed], worker: &Key) -> GenesisMiner {
    let registered = api_seal_proof(seal_proof(SectorSize::_2KiB)).unwrap();
    let comm_d = proofs::seal::compute_comm_d(registered, &[]).unwrap();
    let worker_address = LotusJson(worker.address());
    GenesisMiner {
        id: LotusJson(Address::new_id(sectors[0].miner)),
        owner: worker_address.clone(),
        worker: worker_address,
        peer_id: libp2p_identity::Keypair::generate_ed25519().public().to_peer_id().to_base58(),
        market_balance: LotusJson(TokenAmount::from_atto(0)),
        power_balance: LotusJson(TokenAmount::from_whole(1)),
        sector_size: 2048,
        sectors: sectors
            .iter()
            .map(|s| PreSeal {
                comm_r: LotusJson(commitment_cid(0xf102, 0xb401, s.comm_r)),
                comm_d: LotusJson(commitment_cid(0xf101, 0x1012, comm_d)),
                sector_id: s.number,
                deal: None,
                deal_client_key: None,
                proof_type: i64::from(seal_proof(SectorSize::_2KiB)),
            })
            .collect(),
    }
}

/// The pre-seal manifest and key files of the miner, as `lotus-seed pre-seal` writes them.
pub fn write_files(dir: &Path, sectors: &[Sealed], worker: &Key) -> PathBuf {
    let info = worker.key_info();
    let key = KeyInfo { key_type: info.key_type.to_string(), private_key: info.private_key.clone() };
    write_pre_seal_files(dir, &genesis_miner(sectors, worker), &key).unwrap()
}
