//! The `sealstack-miner` command line: lotus-miner and lotus-worker's commands, in one binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sealstack_crds::SectorSize;
use sealstack_telemetry::LogFormat;

/// Filecoin storage-provider runtime: parameters, on-chain set-up, the miner daemon and sealing workers.
#[derive(Debug, Parser)]
#[command(name = "sealstack-miner", version, about)]
pub struct Cli {
    /// Miner repository (read from SEALSTACK_MINER_PATH, then LOTUS_MINER_PATH).
    #[arg(long, global = true)]
    pub repo: Option<PathBuf>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t, env = "SEALSTACK_LOG_FORMAT", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// Every `sealstack-miner` subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch and verify the proof parameters for the given sector sizes (like `lotus-miner fetch-params`).
    FetchParams(FetchParamsArgs),
    /// Generate or serve proof parameters for devnets.
    #[command(subcommand)]
    Params(ParamsCommand),
    /// Create the miner repository and the miner actor on chain (like `lotus-miner init`).
    Init(InitArgs),
    /// Seal committed-capacity sectors for a genesis miner and write its genesis metadata (lotus-seed pre-seal).
    Preseal(PresealArgs),
    /// Run the miner daemon: API, libp2p host, sealing scheduler, PoSt.
    Run(Box<RunArgs>),
    /// Run a sealing worker attached to a miner (like `lotus-worker run`).
    Worker(WorkerArgs),
    /// Manage the miner actor on chain.
    #[command(subcommand)]
    Actor(ActorCommand),
    /// Print the miner's actor, power, proving deadline, balances and sectors (lotus-miner info).
    Info {
        #[command(flatten)]
        api: MinerApiArgs,
    },
    /// The proving schedule, faults and recoveries, and checks of a deadline's sectors (lotus-miner proving).
    Proving {
        #[command(flatten)]
        api: MinerApiArgs,
        #[command(subcommand)]
        command: ProvingCommand,
    },
    /// Inspect and pledge sectors (through the running daemon's API).
    Sectors {
        #[command(flatten)]
        api: MinerApiArgs,
        #[command(subcommand)]
        command: SectorsCommand,
    },
    /// The long-term stores (lotus-miner storage; through the running daemon's API).
    Storage {
        #[command(flatten)]
        api: MinerApiArgs,
        #[command(subcommand)]
        command: StorageCommand,
    },
}

/// `storage` subcommands.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Each store: ID, path, weight, sectors, use and room (lotus-miner storage list).
    List,
    /// Read again which store holds each sector, after sector files were moved by hand (lotus-miner storage
    /// redeclare).
    Redeclare,
    /// Move a sector to another store: copied, checked, switched, the source deleted (crash-safe).
    Move {
        /// The sector number.
        sector: u64,
        /// The target store: its ID or directory (as `storage list` shows them).
        store: String,
    },
}

/// Options of `fetch-params`.
#[derive(Debug, Args)]
pub struct FetchParamsArgs {
    /// Sector sizes to fetch parameters for, as Lotus writes them ("2KiB", "32GiB").
    #[arg(required = true)]
    pub sector_sizes: Vec<SectorSize>,
    /// A parameters.json to use instead of the built-in official one.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// An srs-inner-product.json to use instead of the built-in official one.
    #[arg(long)]
    pub srs_manifest: Option<PathBuf>,
    /// Gateway URL prefix the file CIDs are appended to.
    #[arg(long, env = "IPFS_GATEWAY", default_value = sealstack_crds::DEFAULT_PARAMS_GATEWAY)]
    pub gateway: String,
    /// Parameter cache directory.
    #[arg(long, env = "FIL_PROOFS_PARAMETER_CACHE", default_value = "/var/tmp/filecoin-proof-parameters")]
    pub cache: PathBuf,
    /// Most files downloaded at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
}

/// `params` subcommands.
#[derive(Debug, Subcommand)]
pub enum ParamsCommand {
    /// Generate Groth16 parameters for a small sector size and write a parameters.json for them.
    Generate {
        /// "2KiB" or "8MiB".
        sector_size: SectorSize,
        /// Output directory.
        #[arg(long, env = "FIL_PROOFS_PARAMETER_CACHE")]
        out: PathBuf,
    },
    /// Serve a parameter directory over HTTP (with Range support), as a local gateway.
    Serve {
        /// Directory to serve.
        dir: PathBuf,
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
    },
}

/// Options of `init`, as `lotus-miner init` spells them.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Owner address (default: the node's default wallet).
    #[arg(long)]
    pub owner: Option<String>,
    /// Worker address (default: the owner, or a new BLS key with --create-worker-key).
    #[arg(long)]
    pub worker: Option<String>,
    /// Create a new BLS worker key on the node.
    #[arg(long)]
    pub create_worker_key: bool,
    /// Sector size of the new miner.
    #[arg(long, default_value = "32GiB")]
    pub sector_size: SectorSize,
    /// Adopt this existing miner actor instead of creating one.
    #[arg(long)]
    pub actor: Option<String>,
    /// Gas premium of the creation message, attoFIL.
    #[arg(long, default_value = "0")]
    pub gas_premium: String,
    /// Address that sends the creation message (default: the owner).
    #[arg(long)]
    pub from: Option<String>,
    /// Epochs to wait for the creation message to be final.
    #[arg(long, default_value_t = 5)]
    pub confidence: u64,
    /// Do not wait for the node to be in sync.
    #[arg(long)]
    pub nosync: bool,
    /// Do not set up local sealing storage.
    #[arg(long)]
    pub no_local_storage: bool,
    /// FIL sent to the worker with its account-creating send, so it can pay for its messages (lotus-miner
    /// sends 0 and leaves funding to you).
    #[arg(long, default_value = "0")]
    pub worker_funding: String,
    /// A parameters.json to check the cache against instead of the built-in official one.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// A genesis miner's pre-sealed sectors (`sealstack-miner preseal --dir`): moved into the repo's storage and
    /// taken over as proving sectors (needs --actor, the genesis miner).
    #[arg(long, requires = "actor")]
    pub pre_sealed_sectors: Option<PathBuf>,
    /// The pre-seal metadata (default: `pre-seal-<actor>.json` in --pre-sealed-sectors).
    #[arg(long, requires = "pre_sealed_sectors")]
    pub pre_sealed_metadata: Option<PathBuf>,
    /// Parameter cache directory that must hold the sector size's parameters.
    #[arg(long, env = "FIL_PROOFS_PARAMETER_CACHE", default_value = "/var/tmp/filecoin-proof-parameters")]
    pub parameter_cache: PathBuf,
}

/// Options of `preseal`, as `lotus-seed pre-seal` spells them.
#[derive(Debug, Args)]
pub struct PresealArgs {
    /// The miner's ID address, known in advance: a genesis gives miners IDs from t01000 in order.
    #[arg(long, default_value = "t01000")]
    pub miner: String,
    /// Sector size.
    #[arg(long, default_value = "2KiB")]
    pub sector_size: SectorSize,
    /// Sectors to seal.
    #[arg(long, default_value_t = 1)]
    pub num_sectors: u64,
    /// The first sector number.
    #[arg(long, default_value_t = 0)]
    pub sector_offset: u64,
    /// Where the sectors (Lotus's layout), the metadata and the keys go.
    #[arg(long)]
    pub dir: PathBuf,
    /// An existing worker key file (`pre-seal-<miner>.key` format) instead of a new BLS key.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// FIL the genesis gives the miner actor beyond its pledge (the metadata's `PowerBalance`; lotus-seed: 0), for
    /// its fees.
    #[arg(long, default_value = "0", value_parser = crate::commands::amount::fil)]
    pub balance: fvm_shared::econ::TokenAmount,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// JSON-RPC API listen address (also serves `/remote` sector files to workers).
    #[arg(long, default_value = "0.0.0.0:2345")]
    pub api_listen: SocketAddr,
    /// libp2p listen multiaddr.
    #[arg(long, default_value = "/ip4/0.0.0.0/tcp/24001")]
    pub p2p_listen: String,
    /// `/metrics` and health endpoints.
    #[arg(long, default_value = "0.0.0.0:9100")]
    pub metrics_addr: SocketAddr,
    /// The miner actor to run for (default: the repo's, from `init`); the operator passes the actor it made.
    #[arg(long, env = "SEALSTACK_MINER_ACTOR")]
    pub actor: Option<String>,
    /// A protobuf-encoded libp2p key to use instead of the repo's (the operator mounts it from a Secret).
    #[arg(long)]
    pub libp2p_key: Option<PathBuf>,
    /// A file holding the API's JWT secret (the operator mounts it from a Secret, so it can mint the workers'
    /// token); default: the repo's keystore, made on first use.
    #[arg(long)]
    pub jwt_secret_file: Option<PathBuf>,
    /// Long-term sector storage (default: `<repo>/storage`).
    #[arg(long)]
    pub storage: Option<PathBuf>,
    /// Another long-term store, `PATH[,weight=N][,max-bytes=N]` (repeatable; lotus-miner `storage attach --store`):
    /// finalized sectors spread over the stores by weight, within each one's limit and room.
    #[arg(long = "store")]
    pub stores: Vec<sealstack_miner::daemon::storage::StoreConfig>,
    /// Seconds a task lease lasts without a progress report from its worker.
    #[arg(long, default_value_t = 60)]
    pub task_lease_secs: u64,
    /// Milliseconds between polls of the chain head.
    #[arg(long, default_value_t = 500)]
    pub poll_ms: u64,
    /// Epochs before the head that seal tickets are drawn at (lotus: chain finality).
    #[arg(long, default_value_t = 900)]
    pub seal_randomness_lookback: i64,
    /// Epochs from PreCommit to a sector's expiration (540 days).
    #[arg(long, default_value_t = 1_555_200)]
    pub sector_lifetime: i64,
    /// Epochs a message must be buried under before it counts as landed.
    #[arg(long, default_value_t = 1)]
    pub message_confidence: u64,
    /// Committed-capacity sectors to pledge at start when the miner has none.
    #[arg(long, default_value_t = 0)]
    pub pledge: u32,
    /// The most a WindowPoSt or a fault or recovery declaration may cost in fees, its replacements included
    /// (lotus-miner's MaxWindowPoStGasFee).
    #[arg(long, default_value = "5", value_parser = crate::commands::amount::fil)]
    pub post_max_fee: fvm_shared::econ::TokenAmount,
    /// Epochs a proving message may wait in the message pool before it is replaced by one paying more.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..))]
    pub message_stuck_epochs: i64,
    /// Seconds one sector's proving check (its files and a vanilla proof) may take before the sector counts as
    /// bad (lotus-miner's SingleCheckTimeout).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub check_timeout_secs: u64,
    /// PoSt workers (SealingWorkers with the WindowPoSt task) each WindowPoSt SNARK is handed to at once: the first
    /// valid proof is sent, so one lost or wrong worker costs nothing (at most as many as are connected).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub post_redundancy: u64,
    /// Sectors checked at once (lotus-miner's ParallelCheckLimit).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub check_parallel: u64,
    /// A worker balance under this is warned about, in the log and the `worker_balance_low` metric. The default
    /// pays a day of WindowPoSts (48) at a tenth of --post-max-fee each.
    #[arg(long, value_parser = crate::commands::amount::fil)]
    pub worker_balance_low: Option<fvm_shared::econ::TokenAmount>,
    /// Do not mine blocks (the Miner's `spec.mining.enabled: false`).
    #[arg(long)]
    pub no_mining: bool,
    /// Milliseconds between epochs, for mining's deadline (default: the network's `BlockDelaySecs`).
    #[arg(long)]
    pub block_delay_ms: Option<u64>,
    /// Milliseconds of each epoch left for a block to reach the network: a block not ready by the block delay
    /// less this after its round opened is not signed (lotus `PropagationDelaySecs`: 1 s in its 2k build, 10 s
    /// of 30 on mainnet).
    #[arg(long, default_value_t = 1000)]
    pub propagation_delay_ms: u64,
    /// Skip the WinningPoSt warm-up at start (one proof over a real sector, so the first win does not pay for
    /// loading the parameters).
    #[arg(long)]
    pub no_winning_post_warmup: bool,
    /// Extend the active sectors that expire within this many days (proving periods), once a period (the Miner's
    /// `spec.sectorLifecycle.extension`); without it sectors expire on their date.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1278))]
    pub extend_within_days: Option<u32>,
    /// With `--extend-within-days`: their new expiration, in days from the proving period's start (from
    /// builtin-actors' minimum sector lifetime, 180, to its maximum extension, 1278).
    #[arg(long, default_value_t = 540, value_parser = clap::value_parser!(u32).range(180..=1278))]
    pub extend_to_days: u32,
    /// With `--extend-within-days`: leave a sector whose expiration is within this many days of the new one.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(0..=1278))]
    pub extend_tolerance_days: u32,
    /// Batched PreCommits and ProveCommits.
    #[command(flatten)]
    pub batching: crate::commands::batching::BatchingArgs,
}

/// Options of `worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The miner's API, as `token:multiaddr` (MINER_API_INFO).
    #[arg(long, env = "MINER_API_INFO")]
    pub miner_api: String,
    /// Task types this worker accepts (default: all).
    #[arg(long, value_delimiter = ',', value_enum, ignore_case = true)]
    pub tasks: Vec<sealstack_miner::protocol::TaskKind>,
    /// Scratch directory for sector data.
    #[arg(long, default_value = "/var/lib/sealstack/scratch")]
    pub scratch: PathBuf,
    /// GPUs to advertise (default: the NVIDIA devices in /dev).
    #[arg(long)]
    pub gpus: Option<u32>,
    /// Name shown by the miner (default: the host name).
    #[arg(long, env = "HOSTNAME")]
    pub name: Option<String>,
    /// Milliseconds between lease renewals of a running task.
    #[arg(long, default_value_t = 5000)]
    pub heartbeat_ms: u64,
}

/// `actor` subcommands.
#[derive(Debug, Subcommand)]
pub enum ActorCommand {
    /// Set the multiaddrs announced on chain (peer IDs are stripped, as lotus does).
    SetAddrs {
        /// Multiaddrs to publish.
        #[arg(conflicts_with = "unset", required_unless_present = "unset")]
        addrs: Vec<String>,
        /// Publish no address.
        #[arg(long)]
        unset: bool,
    },
    /// Set the libp2p peer ID announced on chain.
    SetPeerId {
        /// Peer ID (12D3KooW...).
        peer_id: String,
    },
}

/// `sectors` subcommands.
#[derive(Debug, Subcommand)]
pub enum SectorsCommand {
    /// List sectors and their states.
    List,
    /// Show one sector's state and history.
    Status {
        /// Sector number.
        number: u64,
    },
    /// Pledge a committed-capacity sector.
    Pledge,
    /// The sectors waiting for a batched message, and the batches in flight (lotus-miner sectors batching).
    Batching {
        /// Which message: `precommit` (PreCommitSectorBatch2) or `commit` (ProveCommitSectors3).
        #[arg(value_enum)]
        kind: BatchingKind,
        /// Send the waiting sectors now, whatever their batch wait.
        #[arg(long)]
        publish_now: bool,
    },
    /// Extend sectors' expiration (ExtendSectorExpiration2 from the worker, as lotus-miner sectors extend):
    /// the listed sectors, or every active one expiring within --from..--to. Days are proving periods.
    Extend(ExtendArgs),
    /// Terminate sectors early (TerminateSectors from the worker, as lotus-miner sectors terminate): their power
    /// goes at once and each pays the termination fee.
    Terminate {
        /// Sectors to terminate.
        #[arg(required = true)]
        sectors: Vec<u64>,
        /// Send the messages (without it, print what would be sent).
        #[arg(long)]
        really_do_it: bool,
    },
}

/// The batched messages `sectors batching` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BatchingKind {
    /// PreCommitSectorBatch2.
    Precommit,
    /// ProveCommitSectors3.
    Commit,
}

/// Options of `sectors extend` (lotus-miner's flags and defaults).
#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// Sectors to extend (default: the active sectors expiring within --from..--to).
    pub sectors: Vec<u64>,
    /// Only sectors expiring at or after this epoch (default: 120 epochs from now).
    #[arg(long)]
    pub from: Option<i64>,
    /// Only sectors expiring at or before this epoch (default: 92 days from now).
    #[arg(long)]
    pub to: Option<i64>,
    /// The new expiration epoch.
    #[arg(long, conflicts_with = "extension")]
    pub new_expiration: Option<i64>,
    /// Epochs from now to the new expiration (default: 540 days).
    #[arg(long)]
    pub extension: Option<i64>,
    /// Leave sectors whose expiration is already within this many epochs of the new one (default: 7 days).
    #[arg(long)]
    pub tolerance: Option<i64>,
    /// Extend at most this many sectors.
    #[arg(long)]
    pub max_sectors: Option<usize>,
    /// Send the messages (without it, print what would be sent).
    #[arg(long)]
    pub really_do_it: bool,
}

/// `proving` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProvingCommand {
    /// The current proving period and deadline, faults and recoveries.
    Info,
    /// Every deadline: its partitions, sectors, faults and the partitions proven in its current window.
    Deadlines,
    /// Every faulty sector, by deadline and partition.
    Faults,
    /// Checks that the sectors of a deadline can be proven (files, then a vanilla proof), through the daemon.
    Check {
        /// The deadline's index (0 to 47).
        deadline: u64,
        /// Check only these sectors of the deadline.
        #[arg(long, value_delimiter = ',')]
        sectors: Vec<u64>,
        /// Print only the sectors that fail.
        #[arg(long)]
        only_bad: bool,
    },
}

/// Where the `sectors`, `proving` and `info` commands find the miner: `MINER_API_INFO`, else the repo's `api` and
/// `token` files.
#[derive(Debug, Args)]
pub struct MinerApiArgs {
    /// The miner's API, as `token:multiaddr`.
    #[arg(long, env = "MINER_API_INFO")]
    pub miner_api: Option<String>,
}

impl Cli {
    /// The miner repository: `--repo`, else SEALSTACK_MINER_PATH, else LOTUS_MINER_PATH, else `~/.sealstack-miner`.
    pub fn repo_path(&self) -> PathBuf {
        self.repo
            .clone()
            .or_else(|| std::env::var_os("SEALSTACK_MINER_PATH").map(PathBuf::from))
            .or_else(|| std::env::var_os("LOTUS_MINER_PATH").map(PathBuf::from))
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
                home.join(".sealstack-miner")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fetch_params_parses_lotus_sizes_and_refuses_others() {
        let cli = Cli::try_parse_from(["sealstack-miner", "fetch-params", "32GiB", "2k"]).unwrap();
        let Command::FetchParams(args) = cli.command else { panic!("not fetch-params") };
        assert_eq!(args.sector_sizes, [SectorSize::GiB32, SectorSize::KiB2]);

        let error = Cli::try_parse_from(["sealstack-miner", "fetch-params", "3GiB"]).unwrap_err().to_string();
        assert!(error.contains("unsupported sector size \"3GiB\""), "{error}");
        assert!(Cli::try_parse_from(["sealstack-miner", "fetch-params"]).is_err(), "a size is required");
    }

    #[test]
    fn init_takes_lotus_miner_flags() {
        let cli = Cli::try_parse_from([
            "sealstack-miner",
            "init",
            "--owner",
            "t01000",
            "--create-worker-key",
            "--sector-size",
            "2KiB",
            "--gas-premium",
            "100",
            "--nosync",
            "--no-local-storage",
        ])
        .unwrap();
        let Command::Init(args) = cli.command else { panic!("not init") };
        assert_eq!(args.owner.as_deref(), Some("t01000"));
        assert!(args.create_worker_key && args.nosync && args.no_local_storage);
        assert_eq!(args.sector_size, SectorSize::KiB2);
    }

    #[test]
    fn worker_tasks_take_lotus_names() {
        use sealstack_miner::protocol::TaskKind;
        let cli = Cli::try_parse_from([
            "sealstack-miner",
            "worker",
            "--miner-api",
            "t:/ip4/127.0.0.1/tcp/2345/http",
            "--tasks",
            "PreCommit1,commit2",
        ])
        .unwrap();
        let Command::Worker(args) = cli.command else { panic!("not worker") };
        assert_eq!(args.tasks, [TaskKind::PreCommit1, TaskKind::Commit2]);
    }

    #[test]
    fn post_redundancy_is_at_least_one() {
        let run = |extra: &[&str]| Cli::try_parse_from([&["sealstack-miner", "run"], extra].concat());
        let Command::Run(args) = run(&[]).unwrap().command else { panic!("not run") };
        assert_eq!(args.post_redundancy, 2, "two PoSt workers at once by default");
        let Command::Run(args) = run(&["--post-redundancy", "3"]).unwrap().command else { panic!("not run") };
        assert_eq!(args.post_redundancy, 3);
        let error = run(&["--post-redundancy", "0"]).unwrap_err().to_string();
        assert!(error.contains("--post-redundancy") && error.contains("0 is not in 1.."), "{error}");
    }

    #[test]
    fn set_addrs_needs_addresses_or_unset() {
        assert!(Cli::try_parse_from(["sealstack-miner", "actor", "set-addrs"]).is_err());
        assert!(Cli::try_parse_from(["sealstack-miner", "actor", "set-addrs", "--unset"]).is_ok());
        assert!(
            Cli::try_parse_from(["sealstack-miner", "actor", "set-addrs", "--unset", "/ip4/1.2.3.4/tcp/1"]).is_err()
        );
    }
}
