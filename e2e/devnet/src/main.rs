//! `sealstack-devnet run`: serve a Lotus-API devnet from a repo folder until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sealstack_devnet::genesis::GenesisMinerSetup;
use sealstack_devnet::model::DeadlineAssignment;
use sealstack_devnet::{DevnetConfig, start};

/// A single-node Filecoin devnet with the Lotus full-node API.
#[derive(Parser)]
#[command(name = "sealstack-devnet", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and produce epochs.
    Run {
        /// Repo folder: chain state, `api` and `token` files.
        #[arg(long, env = "SEALSTACK_DEVNET_REPO", default_value = "devnet")]
        repo: PathBuf,
        /// Listen address of the API.
        #[arg(long, default_value = "127.0.0.1:1234")]
        listen: SocketAddr,
        /// Milliseconds between epochs.
        #[arg(long, default_value_t = 1000)]
        block_time_ms: u64,
        /// Network name of a new chain.
        #[arg(long, default_value = "sealstack-devnet")]
        network_name: String,
        /// Epochs per WindowPoSt deadline of a new chain (builtin-actors WPOST_CHALLENGE_WINDOW; mainnet 60).
        #[arg(long, default_value_t = 4)]
        challenge_window: i64,
        /// Epochs before a deadline opens that its challenge is drawn, in a new chain
        /// (builtin-actors WPOST_CHALLENGE_LOOKBACK; mainnet 20).
        #[arg(long, default_value_t = 2)]
        challenge_lookback: i64,
        /// Deadlines per proving period of a new chain (builtin-actors' wpost_period_deadlines: 48 on every
        /// network; fewer make the devnet's proving period shorter without shorter deadlines).
        #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u64).range(4..=48))]
        period_deadlines: u64,
        /// Epochs between PreCommit and the interactive seed of a new chain.
        #[arg(long, default_value_t = 10)]
        pre_commit_challenge_delay: i64,
        /// Epochs before a deadline opens after which faults and recoveries for it are refused, in a new
        /// chain (builtin-actors FAULT_DECLARATION_CUTOFF; mainnet 70).
        #[arg(long, default_value_t = 5)]
        fault_declaration_cutoff: i64,
        /// New sectors go to the mutable deadline that opens soonest, filling its partitions, instead of
        /// builtin-actors' spread (a devnet option for tests), in a new chain.
        #[arg(long)]
        pack_sectors: bool,
        /// A `lotus-seed pre-seal` manifest (`pre-seal-t01000.json`, with its `.key` file beside it) whose
        /// miners a new chain starts with, their sectors active; repeat for several, in ID order from t01000.
        #[arg(long = "genesis-miner", value_name = "MANIFEST")]
        genesis_miners: Vec<PathBuf>,
        /// Quality-adjusted power in bytes of the rest of the network, a virtual miner that takes part in every
        /// election of a new chain and makes a block with the pool's messages when it wins (default 1 PiB: a
        /// test's miner of a few 2KiB sectors practically never wins; 0: only real miners make blocks).
        #[arg(long, default_value_t = sealstack_devnet::model::DEFAULT_REST_OF_NETWORK_POWER)]
        rest_of_network_power: u64,
        /// Raw power in bytes a miner needs to mine in a new chain (`ConsensusMinerMinPower`: Lotus's 2k build
        /// 2048; mainnet 10 TiB); with fewer than 4 miners above it any miner with power may mine.
        #[arg(long, default_value_t = 2048)]
        consensus_min_power: u64,
        /// The reward of an epoch in whole FIL in a new chain (the reward actor's `ThisEpochReward`; a block
        /// earns its win count fifths of it).
        #[arg(long, default_value_t = 25)]
        epoch_reward_fil: u64,
    },
}

fn main() -> anyhow::Result<()> {
    sealstack_telemetry::install_crypto_provider();
    sealstack_telemetry::init_logging(sealstack_telemetry::LogFormat::Text);
    let Cli {
        command:
            Command::Run {
                repo,
                listen,
                block_time_ms,
                network_name,
                challenge_window,
                challenge_lookback,
                period_deadlines,
                pre_commit_challenge_delay,
                fault_declaration_cutoff,
                pack_sectors,
                genesis_miners,
                rest_of_network_power,
                consensus_min_power,
                epoch_reward_fil,
            },
    } = Cli::parse();
    let mut config = DevnetConfig::new(repo, listen);
    config.block_time = Duration::from_millis(block_time_ms.max(10));
    config.network_name = network_name;
    config.policy.challenge_window = challenge_window.max(1);
    config.policy.challenge_lookback = challenge_lookback.clamp(0, config.policy.challenge_window);
    config.policy.period_deadlines = period_deadlines;
    config.policy.pre_commit_challenge_delay = pre_commit_challenge_delay.max(1);
    config.policy.fault_declaration_cutoff = fault_declaration_cutoff.max(0);
    config.consensus.rest_of_network_power = rest_of_network_power;
    config.consensus.consensus_miner_min_power = consensus_min_power;
    config.consensus.epoch_reward =
        sealstack_chain::json::LotusJson(fvm_shared::econ::TokenAmount::from_whole(epoch_reward_fil));
    if pack_sectors {
        config.policy.deadline_assignment = DeadlineAssignment::Pack;
    }
    for manifest in &genesis_miners {
        config.genesis_miners.extend(GenesisMinerSetup::load(manifest, None)?);
    }
    tokio::runtime::Runtime::new()?.block_on(async {
        let devnet = start(config).await?;
        println!("FULLNODE_API_INFO={}", devnet.api_info.to_env_value());
        // Ctrl-C or SIGTERM (a pod being stopped): state is on disk after every epoch either way.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = term.recv() => {}
        }
        devnet.stop().await;
        Ok(())
    })
}
