//! `sealstack-miner run` and `worker` processes sealing a real 2KiB committed-capacity sector on an in-process
//! devnet (which verifies the seal and the WindowPoSt with filecoin-proofs), through faults:
//! 1. worker A is killed during PreCommit1 (a half-written staged file left behind); restarted on the same scratch,
//!    it seals on from its unsealed file;
//! 2. the daemon is killed right after pushing PreCommit, before recording the message CID; the restarted daemon
//!    resumes the sector and the worker address has sent exactly one PreCommit;
//! 3. worker A (reconnected to the new daemon) is killed during Commit2; worker B, a Commit2-only worker, takes
//!    the task over once A's lease runs out;
//! 4. A comes back to finalize (the sector's files are on its scratch), the sector is proven on chain, and the
//!    daemon's WindowPoSt of the sector's deadline is accepted: the sector is not faulty after the deadline.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`).

#[path = "support/generated.rs"]
mod generated;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use sealstack_chain::{ApiInfo, FullNodeClient, LotusJson, TipSetKey};
use sealstack_devnet::{DevnetConfig, RunningDevnet};
use sealstack_miner::protocol::{MinerApiClient, TaskKind};
use sealstack_miner::worker::miner_client;

const BIN: &str = env!("CARGO_BIN_EXE_sealstack-miner");
/// Epochs per WindowPoSt deadline: 10 s at 250 ms epochs, room to generate and land a PoSt.
const CHALLENGE_WINDOW: i64 = 40;

/// The test directory, kept for its logs when `SEALSTACK_KEEP_TEST_DIR` is set or the test fails.
struct Keep(tempfile::TempDir);

impl Keep {
    fn path(&self) -> &Path {
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
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

struct World {
    dir: PathBuf,
    params: PathBuf,
    devnet: RunningDevnet,
    api_port: u16,
    metrics_port: u16,
}

impl World {
    fn command(&self, log: &str) -> Command {
        let mut command = Command::new(BIN);
        let log = std::fs::File::create(self.dir.join(log)).unwrap();
        command
            .env("FULLNODE_API_INFO", self.devnet.api_info.to_env_value())
            .env("FIL_PROOFS_PARAMETER_CACHE", &self.params)
            .env("RUST_LOG", "info")
            .env_remove("SEALSTACK_CRASH_BEFORE_SAVING")
            .env_remove("SEALSTACK_CRASH_IN_TASK")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        command
    }

    fn repo(&self) -> PathBuf {
        self.dir.join("miner")
    }

    fn daemon(&self, log: &str, crash_before_saving: Option<&str>) -> Process {
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
            "3",
            "--poll-ms",
            "100",
            "--seal-randomness-lookback",
            "1",
            "--message-confidence",
            "0",
        ]);
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

    fn worker(&self, log: &str, scratch: &str, tasks: Option<&str>, crash_in: Option<&str>) -> Process {
        let mut command = self.command(log);
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

    fn miner_api(&self) -> ApiInfo {
        ApiInfo::from_repo(&self.repo()).unwrap()
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(BIN).arg("--repo").arg(self.repo()).args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "sealstack-miner {args:?}: {text}");
        text
    }

    /// Waits until sector 0's state is one of `states`, printing its progress.
    async fn wait_state(&self, states: &[&str], within: Duration) -> String {
        let client = miner_client(&self.miner_api(), Duration::from_secs(10)).unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(info) = client.sectors_status(0, false).await {
                if states.contains(&info.state.as_str()) {
                    return info.state;
                }
                assert_ne!(info.state, "FailedUnrecoverable", "{info:?}");
            }
            assert!(Instant::now() < deadline, "sector 0 did not reach {states:?} within {within:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn head(&self) -> i64 {
        self.devnet.node.state().height
    }

    fn metric(&self, name: &str) -> f64 {
        use std::io::{Read, Write};
        let mut text = String::new();
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)) {
            let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let _ = stream.read_to_string(&mut text);
        }
        text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
    }
}

fn init(world: &World) -> String {
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

fn staged_sealed_file(scratch: &Path, actor: &str) -> PathBuf {
    scratch.join("sealed").join(format!("s-t0{}-0.tmp", actor.trim_start_matches(['t', 'f', '0'])))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_and_workers_seal_and_prove_a_sector_through_crashes() {
    let Some(params) = generated::generated_dir() else { return };
    // SAFETY: the in-process devnet verifies proofs with these parameters; the proofs library reads the variable
    // once per process. This is the only test of this binary and no other thread exists yet.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let started = Instant::now();
    let elapsed = move || format!("{:.1}s", started.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os("SEALSTACK_KEEP_TEST_DIR").is_some() {
        eprintln!("keeping {}", dir.path().display());
    }
    let dir = Keep(dir);
    let mut config = DevnetConfig::new(dir.path().join("devnet"), "127.0.0.1:0".parse().unwrap());
    config.block_time = Duration::from_millis(250);
    config.policy.challenge_window = CHALLENGE_WINDOW;
    config.policy.pre_commit_challenge_delay = 3;
    let devnet = sealstack_devnet::start(config).await.unwrap();
    let world =
        World { dir: dir.path().to_path_buf(), params, devnet, api_port: free_port(), metrics_port: free_port() };
    let actor = init(&world);
    let miner: fvm_shared::address::Address = sealstack_chain::json::parse_address(&actor).unwrap();
    eprintln!("[{}] miner {actor} created", elapsed());

    // 1. Worker A dies in PreCommit1; restarted on its scratch, it goes on.
    let mut daemon = world.daemon("daemon-1.log", Some("pre-commit"));
    let mut worker_a = world.worker("worker-a1.log", "scratch-a", None, Some("PreCommit1"));
    assert!(world.cli(&["sectors", "pledge"]).contains("Created CC sector: 0"));
    assert!(!worker_a.wait_exit(Duration::from_secs(120)).success(), "worker A was killed in PreCommit1");
    assert!(staged_sealed_file(&world.dir.join("scratch-a"), &actor).exists(), "a half-written stage output");
    eprintln!("[{}] worker A killed during PreCommit1", elapsed());
    let mut worker_a = world.worker("worker-a2.log", "scratch-a", None, Some("Commit2"));

    // 2. The daemon dies right after pushing PreCommit; the next one sends nothing new.
    assert!(!daemon.wait_exit(Duration::from_secs(180)).success(), "the daemon was killed after the push");
    eprintln!("[{}] daemon killed after pushing PreCommit", elapsed());
    let _daemon = world.daemon("daemon-2.log", None);
    world.wait_state(&["WaitSeed", "Committing", "SubmitCommit", "CommitWait"], Duration::from_secs(120)).await;
    let node = sealstack_chain::Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let worker_address = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.unwrap().worker;
    let nonce = node.api().mpool_get_nonce(worker_address).await.unwrap();
    assert_eq!(nonce, 1, "exactly one PreCommit was sent by the worker address");
    eprintln!("[{}] sector 0 pre-committed once; waiting for its seed", elapsed());

    // 3. A dies in Commit2; B (Commit2 only) takes it over.
    assert!(!worker_a.wait_exit(Duration::from_secs(180)).success(), "worker A was killed in Commit2");
    eprintln!("[{}] worker A killed during Commit2", elapsed());
    let _worker_b = world.worker("worker-b.log", "scratch-b", Some("Commit2"), None);
    let client = miner_client(&world.miner_api(), Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = client.worker_stats().await.unwrap();
        let b_runs_c2 =
            stats.values().any(|w| w.name == "scratch-b" && w.running.iter().any(|t| t.ends_with("Commit2")));
        if b_runs_c2 {
            assert_eq!(stats.values().find(|w| w.name == "scratch-b").unwrap().tasks, [TaskKind::Commit2]);
            break;
        }
        assert!(Instant::now() < deadline, "worker B never took Commit2: {stats:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("[{}] worker B runs Commit2", elapsed());

    // 4. A comes back and finalizes; the sector is proven, stored and WindowPoSted.
    let _worker_a = world.worker("worker-a3.log", "scratch-a", None, None);
    world.wait_state(&["Proving"], Duration::from_secs(600)).await;
    eprintln!("[{}] sector 0 Proving", elapsed());
    let status = world.cli(&["sectors", "status", "0"]);
    assert!(status.contains("Status:     Proving"), "{status}");
    assert!(world.cli(&["sectors", "list"]).contains("Proving"));
    let stored = client.storage_list().await.unwrap();
    assert_eq!(stored["local"].len(), 1, "{stored:?}");

    let sectors = node.api().state_miner_sectors(LotusJson(miner), None, TipSetKey::head()).await.unwrap();
    assert_eq!(sectors.iter().map(|s| s.sector_number).collect::<Vec<_>>(), [0]);
    let info = client.sectors_status(0, true).await.unwrap();
    assert_eq!(info.comm_r.unwrap().0, sectors[0].sealed_cid.0, "the on-chain CommR is the sealed one");

    let deadline = Instant::now() + Duration::from_secs(180);
    while world.metric("sealstack_miner_window_posts_total{outcome=\"accepted\"}") < 1.0 {
        assert!(Instant::now() < deadline, "no WindowPoSt accepted; see daemon-2.log");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("[{}] WindowPoSt accepted", elapsed());
    // The deadline closes with the sector proven: not faulty.
    let proving = node.api().state_miner_proving_deadline(LotusJson(miner), TipSetKey::head()).await.unwrap();
    while world.head().await <= proving.close {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for index in 0..48 {
        for partition in node.api().state_miner_partitions(LotusJson(miner), index, TipSetKey::head()).await.unwrap() {
            assert!(partition.faulty_sectors.numbers().is_empty(), "deadline {index}: {partition:?}");
        }
    }
    eprintln!("[{}] done", elapsed());
}
