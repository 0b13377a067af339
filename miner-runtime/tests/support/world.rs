//! A devnet, a miner repo and `sealstack-miner run` / `worker` processes, for the daemon's tests and benchmark.

#![allow(dead_code)] // each user takes what it needs

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use sealstack_chain::ApiInfo;
use sealstack_devnet::{DevnetConfig, RunningDevnet};
use sealstack_miner::protocol::MinerApiClient;
use sealstack_miner::worker::miner_client;

pub const BIN: &str = env!("CARGO_BIN_EXE_sealstack-miner");

/// The test directory, kept for its logs when `SEALSTACK_KEEP_TEST_DIR` is set or the test fails.
pub struct Keep(pub tempfile::TempDir);

/// Polls `check` until it holds, failing with `what` after `within`.
pub async fn until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Keep {
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Keep {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SEALSTACK_KEEP_TEST_DIR").is_some() {
            let path = self.0.path().to_path_buf();
            eprintln!("test directory kept: {}", path.display());
            std::mem::forget(std::mem::replace(&mut self.0, tempfile::tempdir().unwrap()));
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        self.try_exit(within).unwrap_or_else(|| panic!("the process did not exit within {within:?}"))
    }

    /// Its exit status if it exits within `within`.
    pub fn try_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub struct World {
    /// The test directory.
    pub dir: PathBuf,
    /// The generated parameters.
    pub params: PathBuf,
    /// The devnet.
    pub devnet: RunningDevnet,
    /// The daemon's API port.
    pub api_port: u16,
    /// The daemon's metrics port.
    pub metrics_port: u16,
    /// The daemon's task lease, seconds (short for the crash tests: a killed worker's task moves on quickly).
    pub lease_secs: u64,
    /// More `run` arguments of every daemon (by default the WinningPoSt warm-up is off: the tests that do not
    /// mine need not pay for it).
    pub run_args: Vec<String>,
    /// The second and later genesis miners (`start_genesis_miners`).
    pub others: Vec<MinerSlot>,
}

/// A miner of the world other than the first: its repo and its daemon's ports.
#[derive(Clone, Debug)]
pub struct MinerSlot {
    /// Its actor (`t01001`, ...).
    pub actor: String,
    /// Its repo.
    pub repo: PathBuf,
    /// Its daemon's API port.
    pub api_port: u16,
    /// Its daemon's metrics port.
    pub metrics_port: u16,
}

impl World {
    pub fn command(&self, log: &str) -> Command {
        let mut command = Command::new(BIN);
        let log = std::fs::File::create(self.dir.join(log)).unwrap();
        command
            .env("FULLNODE_API_INFO", self.devnet.api_info.to_env_value())
            .env("FIL_PROOFS_PARAMETER_CACHE", &self.params)
            .env("RUST_LOG", "info")
            .env_remove("SEALSTACK_CRASH_BEFORE_SAVING")
            .env_remove("SEALSTACK_CRASH_IN_TASK")
            .env_remove("SEALSTACK_CRASH_IN_MOVE")
            .env_remove("SEALSTACK_CRASH_AFTER_BATCHING")
            .env_remove("SEALSTACK_FAIL_SECTOR")
            .env_remove("SEALSTACK_CORRUPT_POST")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        command
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.join("miner")
    }

    /// The first miner as a slot.
    pub fn first(&self) -> MinerSlot {
        MinerSlot {
            actor: GENESIS_MINER.into(),
            repo: self.repo(),
            api_port: self.api_port,
            metrics_port: self.metrics_port,
        }
    }

    pub fn daemon(&self, log: &str, crash_before_saving: Option<&str>) -> Process {
        self.daemon_with(log, crash_before_saving, &[])
    }

    /// [`World::daemon`] with more `run` arguments.
    pub fn daemon_with(&self, log: &str, crash_before_saving: Option<&str>, more: &[&str]) -> Process {
        let mut command = self.daemon_command(&self.first(), log);
        command.args(more);
        if let Some(step) = crash_before_saving {
            command.env("SEALSTACK_CRASH_BEFORE_SAVING", step);
        }
        self.spawn_daemon(&self.first(), command, log)
    }

    /// `sealstack-miner run` for a miner, not started.
    pub fn daemon_command(&self, slot: &MinerSlot, log: &str) -> Command {
        let _ = std::fs::remove_file(slot.repo.join("api"));
        let mut command = self.command(log);
        command.env_remove("SEALSTACK_CRASH_AFTER_SIGNING_BLOCK");
        command.arg("--repo").arg(&slot.repo).arg("run").args([
            "--api-listen",
            &format!("127.0.0.1:{}", slot.api_port),
            "--metrics-addr",
            &format!("127.0.0.1:{}", slot.metrics_port),
            "--p2p-listen",
            "/ip4/127.0.0.1/tcp/0",
            "--task-lease-secs",
            &self.lease_secs.to_string(),
            "--poll-ms",
            "100",
            "--seal-randomness-lookback",
            "1",
            "--message-confidence",
            "0",
        ]);
        command.args(&self.run_args);
        command
    }

    /// Starts a daemon command and waits for its API file.
    pub fn spawn_daemon(&self, slot: &MinerSlot, mut command: Command, log: &str) -> Process {
        let process = Process(command.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        while !slot.repo.join("api").exists() {
            assert!(Instant::now() < deadline, "the daemon wrote no api file: see {log}");
            std::thread::sleep(Duration::from_millis(100));
        }
        process
    }

    pub fn worker(&self, log: &str, scratch: &str, tasks: Option<&str>, crash_in: Option<&str>) -> Process {
        self.worker_with(log, scratch, tasks, crash_in, &[])
    }

    /// [`World::worker`] with more environment variables (fault injection).
    pub fn worker_with(
        &self,
        log: &str,
        scratch: &str,
        tasks: Option<&str>,
        crash_in: Option<&str>,
        env: &[(&str, &str)],
    ) -> Process {
        let mut command = self.command(log);
        command.envs(env.iter().copied());
        command.args(["worker", "--scratch"]).arg(self.dir.join(scratch)).args([
            "--heartbeat-ms",
            "500",
            "--name",
            scratch,
        ]);
        command.env("MINER_API_INFO", self.miner_api().to_env_value());
        if let Some(tasks) = tasks {
            command.args(["--tasks", tasks]);
        }
        if let Some(kind) = crash_in {
            command.env("SEALSTACK_CRASH_IN_TASK", kind);
        }
        Process(command.spawn().unwrap())
    }

    pub fn miner_api(&self) -> ApiInfo {
        ApiInfo::from_repo(&self.repo()).unwrap()
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let (success, text) = self.cli_unchecked(args);
        assert!(success, "sealstack-miner {args:?}: {text}");
        text
    }

    /// `sealstack-miner ARGS` on this world's repo: whether it succeeded, and its stdout then stderr (for a
    /// command whose daemon may be killed while it runs).
    pub fn cli_unchecked(&self, args: &[&str]) -> (bool, String) {
        let output = Command::new(BIN)
            .env("FULLNODE_API_INFO", self.devnet.api_info.to_env_value())
            .arg("--repo")
            .arg(self.repo())
            .args(args)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    }

    /// Waits until sector 0's state is one of `states`, printing its progress.
    pub async fn wait_state(&self, states: &[&str], within: Duration) -> String {
        self.wait_sector_state(0, states, within).await
    }

    /// Waits until sector `number`'s state is one of `states`.
    pub async fn wait_sector_state(&self, number: u64, states: &[&str], within: Duration) -> String {
        let client = miner_client(&self.miner_api(), Duration::from_secs(10)).unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(info) = client.sectors_status(number, false).await {
                if states.contains(&info.state.as_str()) {
                    return info.state;
                }
                assert_ne!(info.state, "FailedUnrecoverable", "{info:?}");
            }
            assert!(Instant::now() < deadline, "sector {number} did not reach {states:?} within {within:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn head(&self) -> i64 {
        self.devnet.node.state().height
    }

    pub fn metric(&self, name: &str) -> f64 {
        self.metric_of(self.metrics_port, name)
    }

    /// A metric of the daemon whose metrics port is `port`.
    pub fn metric_of(&self, port: u16, name: &str) -> f64 {
        use std::io::{Read, Write};
        let mut text = String::new();
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let _ = stream.read_to_string(&mut text);
        }
        text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
    }
}

pub fn init(world: &World) -> String {
    let manifest = world.params.join("parameters.json");
    let mut command = world.command("init.log");
    command.arg("--repo").arg(world.repo()).args([
        "init",
        "--create-worker-key",
        "--sector-size",
        "2KiB",
        "--nosync",
        "--confidence",
        "0",
        "--worker-funding",
        "10",
        "--manifest",
    ]);
    command.arg(&manifest);
    let status = command.status().unwrap();
    assert!(status.success(), "init failed: see {}", world.dir.join("init.log").display());
    let identity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.repo().join("miner.json")).unwrap()).unwrap();
    identity["actor"].as_str().unwrap().to_string()
}

pub fn staged_sealed_file(scratch: &Path, actor: &str) -> PathBuf {
    scratch.join("sealed").join(format!("s-t0{}-0.tmp", actor.trim_start_matches(['t', 'f', '0'])))
}

impl World {
    /// A devnet with `block_time_ms` epochs, `challenge_window`-epoch deadlines and a 3-epoch seed delay, in `dir`,
    /// and an initialised 2KiB miner; returns the world and the miner's actor address.
    pub async fn start(dir: &Path, params: PathBuf, block_time_ms: u64, challenge_window: i64) -> (World, String) {
        let mut config = DevnetConfig::new(dir.join("devnet"), "127.0.0.1:0".parse().unwrap());
        config.block_time = Duration::from_millis(block_time_ms);
        config.policy.challenge_window = challenge_window;
        config.policy.pre_commit_challenge_delay = 3;
        // New sectors go to the deadline that opens soonest, not builtin-actors' spread over the period: the
        // tests wait a deadline or two for a WindowPoSt, not up to a proving period.
        config.policy.deadline_assignment = sealstack_devnet::model::DeadlineAssignment::Pack;
        let devnet = sealstack_devnet::start(config).await.unwrap();
        let world = World {
            dir: dir.to_path_buf(),
            params,
            devnet,
            api_port: free_port(),
            metrics_port: free_port(),
            lease_secs: 3,
            run_args: vec!["--no-winning-post-warmup".into()],
            others: Vec::new(),
        };
        let actor = init(&world);
        (world, actor)
    }
}

/// The genesis miner of [`World::start_genesis`].
pub const GENESIS_MINER: &str = "t01000";

impl World {
    /// A devnet whose genesis holds miner t01000 with `sectors` pre-sealed 2KiB sectors (sealed here with
    /// `sealstack-miner preseal`, no seal proof needed), all in one deadline of a proving period of
    /// `period_deadlines` deadlines of `challenge_window` epochs, and the miner's repo taken over with
    /// `sealstack-miner init --actor t01000 --pre-sealed-sectors`.
    pub async fn start_genesis(
        dir: &Path,
        params: PathBuf,
        block_time_ms: u64,
        challenge_window: i64,
        period_deadlines: u64,
        sectors: u64,
    ) -> World {
        let options = GenesisOptions { block_time_ms, challenge_window, period_deadlines, ..Default::default() };
        World::start_genesis_miners(dir, params, &options, &[sectors]).await
    }

    /// A devnet whose genesis holds miners t01000, t01001, ... with `sectors[i]` pre-sealed 2KiB sectors each
    /// (as [`Self::start_genesis`] makes the first), each miner's repo taken over with `init --actor`.
    pub async fn start_genesis_miners(dir: &Path, params: PathBuf, options: &GenesisOptions, sectors: &[u64]) -> World {
        let mut config = DevnetConfig::new(dir.join("devnet"), "127.0.0.1:0".parse().unwrap());
        let challenge_window = options.challenge_window;
        config.block_time = Duration::from_millis(options.block_time_ms);
        config.policy.challenge_window = challenge_window;
        config.policy.period_deadlines = options.period_deadlines;
        // Mainnet's proportions: the challenge a third of a window before it opens, the fault cutoff 7/6 of one.
        config.policy.challenge_lookback = challenge_window / 3;
        config.policy.fault_declaration_cutoff = challenge_window * 7 / 6;
        config.policy.deadline_assignment = sealstack_devnet::model::DeadlineAssignment::Pack;
        if let Some(power) = options.rest_of_network_power {
            config.consensus.rest_of_network_power = power;
        }
        if let Some(periods) = options.sector_lifetime_periods {
            config.policy.genesis_sector_lifetime_periods = periods;
        }
        let mut slots = Vec::new();
        for (index, count) in sectors.iter().enumerate() {
            let actor = format!("t0{}", 1000 + index);
            let preseal = dir.join(format!("preseal-{index}"));
            let status = Command::new(BIN)
                .env("FIL_PROOFS_PARAMETER_CACHE", &params)
                .args(["preseal", "--miner", &actor, "--sector-size", "2KiB", "--balance", "100", "--num-sectors"])
                .arg(count.to_string())
                .arg("--dir")
                .arg(&preseal)
                .stdout(std::fs::File::create(dir.join(format!("preseal-{index}.log"))).unwrap())
                .stderr(std::fs::File::create(dir.join(format!("preseal-{index}.err"))).unwrap())
                .status()
                .unwrap();
            assert!(status.success(), "preseal failed: see {}", dir.join(format!("preseal-{index}.err")).display());
            let manifest = preseal.join(format!("pre-seal-{actor}.json"));
            config.genesis_miners.extend(sealstack_devnet::genesis::GenesisMinerSetup::load(&manifest, None).unwrap());
            let repo = if index == 0 { dir.join("miner") } else { dir.join(format!("miner-{index}")) };
            slots.push((MinerSlot { actor, repo, api_port: free_port(), metrics_port: free_port() }, preseal));
        }
        let devnet = sealstack_devnet::start(config).await.unwrap();
        let (first, _) = &slots[0];
        let world = World {
            dir: dir.to_path_buf(),
            params,
            devnet,
            api_port: first.api_port,
            metrics_port: first.metrics_port,
            lease_secs: 3,
            run_args: vec!["--no-winning-post-warmup".into()],
            others: slots.iter().skip(1).map(|(slot, _)| slot.clone()).collect(),
        };
        for (index, (slot, preseal)) in slots.iter().enumerate() {
            let log = format!("init-{index}.log");
            let mut command = world.command(&log);
            command.arg("--repo").arg(&slot.repo).args(["init", "--actor", &slot.actor, "--sector-size", "2KiB"]);
            command.args(["--nosync", "--manifest"]).arg(world.params.join("parameters.json"));
            command.arg("--pre-sealed-sectors").arg(preseal);
            let status = command.status().unwrap();
            assert!(
                status.success(),
                "init of genesis miner {} failed: see {}",
                slot.actor,
                world.dir.join(log).display()
            );
        }
        world
    }
}

/// The devnet of [`World::start_genesis_miners`].
#[derive(Clone, Debug)]
pub struct GenesisOptions {
    /// Epoch length.
    pub block_time_ms: u64,
    /// Epochs per deadline.
    pub challenge_window: i64,
    /// Deadlines per proving period.
    pub period_deadlines: u64,
    /// The rest of the network's power (default: the devnet's, 1 PiB).
    pub rest_of_network_power: Option<u64>,
    /// Proving periods the pre-sealed sectors live (default: the devnet's, 1278 as Lotus gives them).
    pub sector_lifetime_periods: Option<i64>,
}

impl Default for GenesisOptions {
    fn default() -> Self {
        GenesisOptions {
            block_time_ms: 1000,
            challenge_window: 20,
            period_deadlines: 4,
            rest_of_network_power: None,
            sector_lifetime_periods: None,
        }
    }
}
