//! A devnet process for tests: the real `sealstack-devnet` binary on a loopback port with fast epochs; sealed
//! sectors for genesis miners ([`sealing`]).

// Not every test binary seals.
#[allow(dead_code)]
pub mod sealing;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use sealstack_chain::{ApiInfo, ConnectOptions, Node};

/// Epoch length in tests.
pub const BLOCK_TIME_MS: u64 = 100;

/// A running `sealstack-devnet run`, killed on drop.
pub struct DevnetProcess {
    child: Child,
    /// Admin API info.
    pub api_info: ApiInfo,
}

impl DevnetProcess {
    /// Starts a devnet on `repo` (new or existing) with test epochs.
    pub fn start(repo: &Path) -> Self {
        Self::start_with(repo, BLOCK_TIME_MS, 2, 3)
    }

    /// Starts a devnet with the given epoch length, challenge window and pre-commit challenge delay (the
    /// last two only matter to a new chain).
    pub fn start_with(repo: &Path, block_time_ms: u64, challenge_window: i64, challenge_delay: i64) -> Self {
        Self::start_with_args(repo, block_time_ms, challenge_window, challenge_delay, &[])
    }

    /// [`Self::start_with`] with more `run` arguments.
    pub fn start_with_args(
        repo: &Path,
        block_time_ms: u64,
        challenge_window: i64,
        challenge_delay: i64,
        extra: &[&std::ffi::OsStr],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sealstack-devnet"));
        command
            .args(["run", "--listen", "127.0.0.1:0", "--block-time-ms", &block_time_ms.to_string()])
            .args(["--challenge-window", &challenge_window.to_string()])
            .args(["--pre-commit-challenge-delay", &challenge_delay.to_string()])
            .arg("--repo")
            .arg(repo)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(params) = std::env::var_os("SEALSTACK_GENERATED_PARAMS") {
            command.env("FIL_PROOFS_PARAMETER_CACHE", params);
        }
        let mut child = command.spawn().expect("sealstack-devnet starts");
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("devnet prints its API info");
        let value =
            line.trim().strip_prefix("FULLNODE_API_INFO=").unwrap_or_else(|| panic!("unexpected output {line:?}"));
        DevnetProcess { child, api_info: ApiInfo::parse(value).expect("valid API info") }
    }

    /// Connects with the admin token.
    pub async fn connect(&self) -> Node {
        Node::connect(&self.api_info, &ConnectOptions::default()).await.expect("devnet reachable")
    }

    /// API info with another token (or none).
    pub fn with_token(&self, token: Option<String>) -> ApiInfo {
        ApiInfo { base_url: self.api_info.base_url.clone(), token }
    }

    /// Kills the process (as a crash would).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevnetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An Ed25519 libp2p peer ID's bytes.
pub fn peer_id() -> Vec<u8> {
    libp2p_identity::Keypair::generate_ed25519().public().to_peer_id().to_bytes()
}
