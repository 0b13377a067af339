//! What the WindowPoSt benchmarks share: the bare library call they are measured against.

use std::time::Instant;

use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_miner::sealing::{ProvingSector, SEALED_CODEC, SectorRef, commitment_of, generate_window_post};

use super::world;

/// Seconds of the bare call over the world's stored sectors.
pub async fn bare(world: &world::World, sectors: u64) -> f64 {
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let miner = LotusJson(sealstack_chain::json::parse_address(world::GENESIS_MINER).unwrap());
    let on_chain = node.api().state_miner_sectors(miner, None, TipSetKey::head()).await.unwrap();
    assert_eq!(on_chain.len() as u64, sectors);
    let storage = world.repo().join("storage");
    let proving: Vec<ProvingSector> = on_chain
        .iter()
        .map(|s| {
            let sector = SectorRef {
                miner: 1000,
                number: s.sector_number,
                proof: fvm_shared::sector::RegisteredSealProof::StackedDRG2KiBV1P1,
            };
            let files = sealstack_miner::sealing::SectorFiles::new(&storage, &sector);
            ProvingSector { sector, files, comm_r: commitment_of(&s.sealed_cid.0, SEALED_CODEC).unwrap() }
        })
        .collect();
    let mut seconds = 0.0;
    for _ in 0..2 {
        let proving = proving.clone();
        let started = Instant::now();
        tokio::task::spawn_blocking(move || generate_window_post([7; 32], &proving).unwrap()).await.unwrap();
        seconds = started.elapsed().as_secs_f64();
    }
    seconds
}
