//! `sealstack-devnet`: a single-node Filecoin devnet that serves the Lotus full-node API subset of
//! `sealstack-chain`, for tests and demos. It is a devnet, not the chain: it models the built-in actors
//! sealstack talks to (see [`model`]) and verifies proofs for real; the README lists where it departs from
//! Lotus.

pub mod blocks;
pub mod consensus;
pub mod genesis;
pub mod lookup;
pub mod mempool;
pub mod model;
pub mod node;
pub mod proofs;
pub mod repo;
pub mod rpc;
pub mod rpc_mining;
pub mod store;
pub mod wallet;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fvm_shared::econ::TokenAmount;
use jsonrpsee::core::middleware::RpcServiceBuilder;
use jsonrpsee::server::{BatchRequestConfig, ServerBuilder, ServerConfig, ServerHandle};
use sealstack_chain::api::{FullNodeServer, method_spec};
use sealstack_chain::api_info::ApiInfo;
use sealstack_chain::server_auth;

use crate::genesis::GenesisMinerSetup;
use crate::model::{ConsensusPolicy, SectorPolicy};
use crate::node::{ChainState, DevnetNode};
use crate::repo::Repo;
use crate::store::ChainStore;

/// How to run a devnet.
#[derive(Clone, Debug)]
pub struct DevnetConfig {
    /// The repo folder (state, token, api files).
    pub repo: PathBuf,
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Time between epochs.
    pub block_time: Duration,
    /// The network name of a new chain.
    pub network_name: String,
    /// The genesis balance of the default wallet address.
    pub genesis_balance: TokenAmount,
    /// The deposit CreateMiner must carry (the value builtin-actors v18 computes on a fresh network).
    pub creation_deposit: TokenAmount,
    /// Sector lifecycle parameters of a new chain.
    pub policy: SectorPolicy,
    /// Miners a new chain starts with, their pre-sealed sectors active (IDs from 1000 in this order).
    pub genesis_miners: Vec<GenesisMinerSetup>,
    /// The genesis balance of each genesis miner's worker account.
    pub genesis_worker_balance: TokenAmount,
    /// Consensus parameters of a new chain: the rest of the network's power, the minimum power, rewards.
    pub consensus: ConsensusPolicy,
}

impl DevnetConfig {
    /// Defaults: 1 s epochs, network `sealstack-devnet`, 10,000 FIL at genesis.
    pub fn new(repo: PathBuf, listen: SocketAddr) -> Self {
        DevnetConfig {
            repo,
            listen,
            block_time: Duration::from_secs(1),
            network_name: "sealstack-devnet".into(),
            genesis_balance: TokenAmount::from_whole(10_000),
            creation_deposit: TokenAmount::from_atto(5_937_181_320u64),
            policy: SectorPolicy::default(),
            genesis_miners: Vec::new(),
            genesis_worker_balance: genesis::default_worker_balance(),
            consensus: ConsensusPolicy::default(),
        }
    }
}

/// A running devnet.
pub struct RunningDevnet {
    /// The node.
    pub node: Arc<DevnetNode>,
    /// The bound address.
    pub addr: SocketAddr,
    /// The admin API info.
    pub api_info: ApiInfo,
    server: ServerHandle,
    epochs: tokio::task::JoinHandle<()>,
}

impl RunningDevnet {
    /// Stops the server and the epoch loop.
    pub async fn stop(self) {
        self.epochs.abort();
        let _ = self.server.stop();
        self.server.stopped().await;
    }
}

/// Loads (or creates) the chain in the repo, serves the API and produces epochs.
pub async fn start(config: DevnetConfig) -> anyhow::Result<RunningDevnet> {
    fvm_shared::address::set_current_network(fvm_shared::address::Network::Testnet);
    let repo = Repo::open(&config.repo)?;
    let block_delay_secs = config.block_time.as_secs().max(1);
    let (mut state, store) = ChainStore::open(&repo, || {
        let mut state = ChainState::genesis_with_miners(
            &config.network_name,
            config.genesis_balance.clone(),
            config.creation_deposit.clone(),
            config.policy.clone(),
            &config.genesis_miners,
            &config.genesis_worker_balance,
        )?;
        state.consensus = config.consensus.clone();
        state.block_delay_secs = block_delay_secs;
        Ok(state)
    })?;
    anyhow::ensure!(
        !state.blocks.is_empty(),
        "{} was written by a devnet without blocks: start the devnet on a new repo",
        config.repo.display()
    );
    state.block_delay_secs = block_delay_secs;
    let secret = Arc::new(repo.jwt_secret()?);
    let node = DevnetNode::new(state, store, config.block_time);

    let http = tower::ServiceBuilder::new().layer_fn({
        let secret = secret.clone();
        move |inner| server_auth::HttpAuth::new(inner, secret.clone())
    });
    let server_config = ServerConfig::builder().set_batch_request_config(BatchRequestConfig::Disabled).build();
    let server = ServerBuilder::default()
        .set_config(server_config)
        .set_http_middleware(http)
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(|inner| server_auth::RpcAuth::new(inner, method_spec)))
        .build(config.listen)
        .await?;
    let addr = server.local_addr()?;
    let token = repo.write_api_files(addr, &secret)?;
    let api = rpc::DevnetApi { node: node.clone(), secret, peer_id: peer_id(&repo)? }.into_rpc();
    server_auth::table_matches(api.method_names(), sealstack_chain::api::METHODS).map_err(anyhow::Error::msg)?;
    let handle = server.start(api);
    let epochs = tokio::spawn(node.clone().run_epochs());
    let api_info = ApiInfo { base_url: format!("http://{addr}"), token: Some(token) };
    tracing::info!(%addr, repo = %config.repo.display(), height = node.state().height, "devnet serving the Lotus API");
    Ok(RunningDevnet { node, addr, api_info, server: handle, epochs })
}

/// The devnet's libp2p peer ID, from an Ed25519 key kept in the repo.
fn peer_id(repo: &Repo) -> anyhow::Result<String> {
    let path = repo.dir.join("keystore").join("libp2p-host");
    let seed = match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => bytes,
        _ => {
            let mut seed = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut seed);
            repo::write_atomically(&path, &seed)?;
            seed
        }
    };
    let keypair = libp2p_identity::Keypair::ed25519_from_bytes(seed)?;
    Ok(keypair.public().to_peer_id().to_base58())
}
