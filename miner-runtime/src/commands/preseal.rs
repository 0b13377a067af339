//! `sealstack-miner preseal` (lotus-seed pre-seal): committed-capacity sectors sealed for a genesis miner, in
//! Lotus's storage layout under `--dir`, with the genesis metadata (`pre-seal-<miner>.json`) and the worker key
//! (`pre-seal-<miner>.key`) a devnet starts from, and the libp2p key (`libp2p.key`) the miner will announce.
//! `sealstack-miner init --actor <miner> --pre-sealed-sectors <dir>` then takes them over.

use bls_signatures::Serialize as _;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::LotusJson;
use sealstack_chain::genesis::{GenesisMiner, KeyInfo, PreSeal, read_key_file, write_pre_seal_files};
use sealstack_miner::preseal::preseal_sector;
use sealstack_miner::sealing::{sealed_cid, unsealed_cid};

use super::chain;
use crate::cli::PresealArgs;

/// The file the libp2p key of a pre-sealed miner is written to, beside its metadata.
pub const LIBP2P_KEY_FILE: &str = "libp2p.key";

/// Runs `preseal`.
pub async fn run(args: PresealArgs) -> anyhow::Result<()> {
    // Addresses are written in the network's form the miner is given in (`t01000` for a devnet or a testnet).
    if args.miner.starts_with('t') {
        fvm_shared::address::set_current_network(fvm_shared::address::Network::Testnet);
    }
    let miner = chain::address(&args.miner)?;
    let miner_id = miner.id().map_err(|_| anyhow::anyhow!("--miner {miner} is not an ID address (t01000)"))?;
    let proof = sealstack_chain::actors::seal_proof(
        sealstack_chain::actors::sector_size(args.sector_size.bytes())
            .ok_or_else(|| anyhow::anyhow!("{} is not a Filecoin sector size", args.sector_size))?,
    );
    std::fs::create_dir_all(&args.dir)?;
    let key = match &args.key {
        Some(path) => read_key_file(path)?,
        None => KeyInfo {
            key_type: "bls".into(),
            private_key: bls_signatures::PrivateKey::generate(&mut rand::rngs::OsRng).as_bytes(),
        },
    };
    anyhow::ensure!(key.key_type == "bls", "the worker key must be a BLS key, not {}", key.key_type);
    let private = bls_signatures::PrivateKey::from_bytes(&key.private_key)
        .map_err(|e| anyhow::anyhow!("invalid BLS private key: {e}"))?;
    let worker = Address::new_bls(&private.public_key().as_bytes())?;
    let libp2p = libp2p_identity::Keypair::generate_ed25519();
    std::fs::write(args.dir.join(LIBP2P_KEY_FILE), libp2p.to_protobuf_encoding()?)?;

    let mut sectors = Vec::new();
    for number in args.sector_offset..args.sector_offset + args.num_sectors {
        let dir = args.dir.clone();
        let (_, commitments) =
            tokio::task::spawn_blocking(move || preseal_sector(&dir, miner_id, number, proof)).await??;
        println!("sector {number}: CommR {}", sealed_cid(commitments.comm_r));
        sectors.push(PreSeal {
            comm_r: LotusJson(sealed_cid(commitments.comm_r)),
            comm_d: LotusJson(unsealed_cid(commitments.comm_d)),
            sector_id: number,
            deal: None,
            deal_client_key: None,
            proof_type: i64::from(proof),
        });
    }
    let genesis = GenesisMiner {
        id: LotusJson(miner),
        owner: LotusJson(worker),
        worker: LotusJson(worker),
        peer_id: libp2p.public().to_peer_id().to_base58(),
        market_balance: LotusJson(TokenAmount::from_atto(0)),
        power_balance: LotusJson(args.balance.clone()),
        sector_size: args.sector_size.bytes(),
        sectors,
    };
    let manifest = write_pre_seal_files(&args.dir, &genesis, &key)?;
    println!("pre-sealed {} sectors of {miner} (worker {worker}): {}", args.num_sectors, manifest.display());
    Ok(())
}
