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
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the process did not exit within {within:?}");
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
            .env_remove("SEALSTACK_CORRUPT_POST")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        command
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.join("miner")
    }

    pub fn daemon(&self, log: &str, crash_before_saving: Option<&str>) -> Process {
        self.daemon_with(log, crash_before_saving, &[])
    }

    /// [`World::daemon`] with more `run` arguments.
    pub fn daemon_with(&self, log: &str, crash_before_saving: Option<&str>, more: &[&str]) -> Process {
        let _ = std::fs::remove_file(self.repo().join("api"));
        let mut command = self.command(log);
        command.arg("--repo").arg(self.repo()).arg("run").args([
            "--api-listen",
            &format!("127.0.0.1:{}", self.api_port),
            "--metrics-addr",
            &format!("127.0.0.1:{}", self.metrics_port),
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
        command.args(more);
        if let Some(step) = crash_before_saving {
            command.env("SEALSTACK_CRASH_BEFORE_SAVING", step);
        }
        let process = Process(command.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.repo().join("api").exists() {
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
        let output = Command::new(BIN).arg("--repo").arg(self.repo()).args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "sealstack-miner {args:?}: {text}");
        text
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
        use std::io::{Read, Write};
        let mut text = String::new();
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)) {
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
        let preseal = dir.join("preseal");
        let status = Command::new(BIN)
            .env("FIL_PROOFS_PARAMETER_CACHE", &params)
            .args(["preseal", "--miner", GENESIS_MINER, "--sector-size", "2KiB", "--balance", "100", "--num-sectors"])
            .arg(sectors.to_string())
            .arg("--dir")
            .arg(&preseal)
            .stdout(std::fs::File::create(dir.join("preseal.log")).unwrap())
            .stderr(std::fs::File::create(dir.join("preseal.err")).unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "preseal failed: see {}", dir.join("preseal.err").display());
        let manifest = preseal.join(format!("pre-seal-{GENESIS_MINER}.json"));
        let mut config = DevnetConfig::new(dir.join("devnet"), "127.0.0.1:0".parse().unwrap());
        config.block_time = Duration::from_millis(block_time_ms);
        config.policy.challenge_window = challenge_window;
        config.policy.period_deadlines = period_deadlines;
        // Mainnet's proportions: the challenge a third of a window before it opens, the fault cutoff 7/6 of one.
        config.policy.challenge_lookback = challenge_window / 3;
        config.policy.fault_declaration_cutoff = challenge_window * 7 / 6;
        config.policy.deadline_assignment = sealstack_devnet::model::DeadlineAssignment::Pack;
        config.genesis_miners = sealstack_devnet::genesis::GenesisMinerSetup::load(&manifest, None).unwrap();
        let devnet = sealstack_devnet::start(config).await.unwrap();
        let world = World {
            dir: dir.to_path_buf(),
            params,
            devnet,
            api_port: free_port(),
            metrics_port: free_port(),
            lease_secs: 3,
        };
        let mut command = world.command("init.log");
        command.arg("--repo").arg(world.repo()).args(["init", "--actor", GENESIS_MINER, "--sector-size", "2KiB"]);
        command.args(["--nosync", "--manifest"]).arg(world.params.join("parameters.json"));
        command.arg("--pre-sealed-sectors").arg(&preseal);
        let status = command.status().unwrap();
        assert!(status.success(), "init of the genesis miner failed: see {}", world.dir.join("init.log").display());
        world
    }
}
