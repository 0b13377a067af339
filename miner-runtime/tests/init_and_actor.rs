//! `sealstack-miner init`, `actor set-addrs` and `info` against an in-process devnet.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use sealstack_chain::{ConnectOptions, FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_devnet::{DevnetConfig, RunningDevnet};

async fn devnet(dir: &Path) -> RunningDevnet {
    let mut config = DevnetConfig::new(dir.to_path_buf(), "127.0.0.1:0".parse().unwrap());
    config.block_time = Duration::from_millis(100);
    sealstack_devnet::start(config).await.unwrap()
}

/// A parameter cache holding (empty) files under every 2KiB name of the official manifest: `init` checks
/// presence; digests are `fetch-params`' concern and are tested there.
fn parameter_cache(dir: &Path) {
    let manifest = sealstack_miner::params::manifest::official_parameters();
    for (name, entry) in manifest {
        if entry.sector_size == 2048 {
            std::fs::write(dir.join(name), b"").unwrap();
        }
    }
}

async fn miner(devnet: &RunningDevnet, repo: &Path, cache: &Path, args: &[&str], crash: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealstack-miner"));
    command
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env("FULLNODE_API_INFO", devnet.api_info.to_env_value())
        .env("FIL_PROOFS_PARAMETER_CACHE", cache)
        .env_remove("SEALSTACK_CRASH_BEFORE_SAVING");
    if let Some(step) = crash {
        command.env("SEALSTACK_CRASH_BEFORE_SAVING", step);
    }
    command.output().await.unwrap()
}

const INIT: &[&str] = &[
    "init",
    "--create-worker-key",
    "--sector-size",
    "2KiB",
    "--nosync",
    "--confidence",
    "1",
    "--worker-funding",
    "10",
];

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test]
async fn init_then_set_addrs_then_info() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(&dir.path().join("devnet")).await;
    let (repo, cache) = (dir.path().join("miner"), dir.path().join("params"));
    std::fs::create_dir_all(&cache).unwrap();
    parameter_cache(&cache);

    let output = miner(&devnet, &repo, &cache, INIT, None).await;
    assert!(output.status.success(), "{}", text(&output));
    let identity: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join("miner.json")).unwrap()).unwrap();
    let actor = identity["actor"].as_str().unwrap().to_string();
    assert!(actor.starts_with("t0"), "{actor}");
    assert!(repo.join("keystore/libp2p-host").exists());

    let again = miner(&devnet, &repo, &cache, INIT, None).await;
    assert!(!again.status.success());
    assert!(text(&again).contains("already initialised"), "{}", text(&again));

    let set = ["actor", "set-addrs", "/ip4/203.0.113.9/tcp/24001"];
    let output = miner(&devnet, &repo, &cache, &set, None).await;
    assert!(output.status.success(), "{}", text(&output));
    let node = Node::connect(&devnet.api_info, &ConnectOptions::default()).await.unwrap();
    let address = sealstack_chain::json::parse_address(&actor).unwrap();
    let info = node.api().state_miner_info(LotusJson(address), TipSetKey::head()).await.unwrap();
    assert_eq!(info.multiaddrs().iter().map(|m| m.to_string()).collect::<Vec<_>>(), ["/ip4/203.0.113.9/tcp/24001"]);

    let output = miner(&devnet, &repo, &cache, &["info"], None).await;
    assert!(output.status.success(), "{}", text(&output));
    let printed = text(&output);
    assert!(printed.contains(&actor) && printed.contains("/ip4/203.0.113.9/tcp/24001"), "{printed}");
    devnet.stop().await;
}

#[tokio::test]
async fn init_without_parameters_names_the_fix_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(&dir.path().join("devnet")).await;
    let (repo, cache) = (dir.path().join("miner"), dir.path().join("empty"));
    std::fs::create_dir_all(&cache).unwrap();
    let output = miner(&devnet, &repo, &cache, INIT, None).await;
    assert!(!output.status.success());
    let message = text(&output);
    assert!(message.contains("run `sealstack-miner fetch-params 2KiB`"), "{message}");
    assert!(!repo.exists(), "a half-made repo is removed when nothing reached the chain");
    devnet.stop().await;
}

#[tokio::test]
async fn init_killed_after_the_push_resumes_and_creates_one_actor() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(&dir.path().join("devnet")).await;
    let (repo, cache) = (dir.path().join("miner"), dir.path().join("params"));
    std::fs::create_dir_all(&cache).unwrap();
    parameter_cache(&cache);

    let crashed = miner(&devnet, &repo, &cache, INIT, Some("create-miner")).await;
    assert!(!crashed.status.success(), "{}", text(&crashed));
    assert!(text(&crashed).contains("injected crash"), "{}", text(&crashed));
    let journal: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join("init.json")).unwrap()).unwrap();
    assert!(journal["messages"]["create-miner"]["uuid"].is_string());
    assert!(journal["messages"]["create-miner"]["cid"].is_null(), "the crash came before the CID was saved");

    let resumed = miner(&devnet, &repo, &cache, INIT, None).await;
    assert!(resumed.status.success(), "{}", text(&resumed));

    let node = Node::connect(&devnet.api_info, &ConnectOptions::default()).await.unwrap();
    let owner = node.api().wallet_default_address().await.unwrap();
    // fund-worker and create-miner: two messages from the owner, none twice.
    assert_eq!(node.api().mpool_get_nonce(owner).await.unwrap(), 2);
    let miners = devnet.node.state().actors.miner_ids();
    assert_eq!(miners.len(), 1, "exactly one miner actor: {miners:?}");
    devnet.stop().await;
}
