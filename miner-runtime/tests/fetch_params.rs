//! `fetch-params` against a loopback gateway: good files, corrupt files (in the cache and on the gateway),
//! a download cut halfway and resumed, two processes on one cache, TRUST_PARAMS, an unreachable gateway.

mod support;

use std::path::Path;
use std::sync::Arc;

use sealstack_crds::SectorSize;
use sealstack_miner::params::digest::ParamDigest;
use sealstack_miner::params::fetch::{FetchError, FetchOptions, Fetcher};
use sealstack_miner::params::manifest::{self, Manifest, ManifestEntry};
use sealstack_miner::params::progress::{LineProgress, Outcome, ProgressLine};
use support::gateway::Gateway;

/// Deterministic pseudo-random content of `len` bytes.
fn content(seed: u8, len: usize) -> Vec<u8> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn digest_of(bytes: &[u8]) -> String {
    let mut digest = ParamDigest::new();
    digest.update(bytes);
    digest.hex()
}

/// A 2KiB-shaped manifest: one .params and one .vk for 2KiB, one .params for 32GiB (not wanted), an SRS.
struct World {
    gateway: Gateway,
    parameters: Manifest,
    srs: Manifest,
    contents: Vec<(String, String, Vec<u8>)>,
}

const PARAMS: &str = "v28-test-porep-2k.params";
const VK: &str = "v28-test-porep-2k.vk";
const BIG: &str = "v28-test-porep-32g.params";
const SRS: &str = "v28-fil-inner-product-v1.srs";

async fn world() -> World {
    let gateway = Gateway::start().await;
    let files = [
        (PARAMS, 2048, content(1, 3 << 20)),
        (VK, 2048, content(2, 10_000)),
        (BIG, 32 << 30, content(3, 1000)),
        (SRS, 0, content(4, 50_000)),
    ];
    let mut parameters = Manifest::new();
    let mut srs = Manifest::new();
    let mut contents = Vec::new();
    for (name, sector_size, bytes) in files {
        let cid = format!("Qm{}", &digest_of(name.as_bytes())[..20]);
        let entry = ManifestEntry { cid: cid.clone(), digest: digest_of(&bytes), sector_size };
        if name == SRS {
            srs.insert(name.into(), entry)
        } else {
            parameters.insert(name.into(), entry)
        };
        gateway.put(&cid, bytes.clone());
        contents.push((name.to_owned(), cid, bytes));
    }
    World { gateway, parameters, srs, contents }
}

impl World {
    fn cid(&self, name: &str) -> &str {
        &self.contents.iter().find(|(n, _, _)| n == name).unwrap().1
    }

    fn bytes(&self, name: &str) -> &[u8] {
        &self.contents.iter().find(|(n, _, _)| n == name).unwrap().2
    }

    /// Fetches the 2KiB set into `cache`, returning the result and the JSON progress lines written.
    async fn fetch(
        &self,
        cache: &Path,
        trust_params: bool,
    ) -> (Result<Vec<ProgressLine>, FetchError>, Vec<ProgressLine>) {
        let progress = Arc::new(LineProgress::new(Vec::new()));
        let options =
            FetchOptions { gateway: self.gateway.url.clone(), cache: cache.to_path_buf(), parallel: 2, trust_params };
        let fetcher = Fetcher::new(options, progress.clone()).unwrap();
        let files = manifest::select(&self.parameters, &self.srs, &[SectorSize::KiB2]);
        let result = fetcher.fetch_all(files).await;
        drop(fetcher);
        let out = Arc::into_inner(progress).unwrap().into_inner();
        let lines = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (result, lines)
    }
}

fn outcome_of(lines: &[ProgressLine], name: &str) -> Outcome {
    lines.iter().find(|l| l.param_file.name == name).unwrap_or_else(|| panic!("no line for {name}")).outcome
}

#[tokio::test]
async fn fetches_the_files_of_a_size_once_and_verifies_them() {
    sealstack_telemetry::install_crypto_provider();
    let world = world().await;
    let cache = tempfile::tempdir().unwrap();
    let (result, lines) = world.fetch(cache.path(), false).await;
    assert_eq!(result.unwrap().len(), 3, "2KiB params, the vk and the SRS");
    for name in [PARAMS, VK, SRS] {
        assert_eq!(std::fs::read(cache.path().join(name)).unwrap(), world.bytes(name), "{name}");
        assert_eq!(outcome_of(&lines, name), Outcome::Downloaded);
    }
    assert!(!cache.path().join(BIG).exists(), "params of other sizes are not fetched");
    assert!(world.gateway.requests_for(world.cid(BIG)).is_empty());
    let line = lines.iter().find(|l| l.param_file.name == PARAMS).unwrap();
    assert!(line.param_file.verified);
    assert_eq!(line.param_file.size, Some(3 << 20));
    assert_eq!(line.param_file.expected_digest, world.parameters[PARAMS].digest);

    // A second run finds everything in place and asks the gateway nothing.
    let before = world.gateway.requests().len();
    let (result, lines) = world.fetch(cache.path(), false).await;
    result.unwrap();
    assert_eq!(world.gateway.requests().len(), before);
    assert!(lines.iter().all(|l| l.outcome == Outcome::Present && l.param_file.verified));
}

#[tokio::test]
async fn a_corrupt_file_in_the_cache_is_detected_and_fetched_again() {
    sealstack_telemetry::install_crypto_provider();
    let world = world().await;
    let cache = tempfile::tempdir().unwrap();
    world.fetch(cache.path(), false).await.0.unwrap();
    let mut corrupt = world.bytes(VK).to_vec();
    corrupt[100] ^= 0xff;
    std::fs::write(cache.path().join(VK), &corrupt).unwrap();

    let (result, lines) = world.fetch(cache.path(), false).await;
    result.unwrap();
    assert_eq!(outcome_of(&lines, VK), Outcome::Downloaded);
    assert_eq!(std::fs::read(cache.path().join(VK)).unwrap(), world.bytes(VK));
    // The same-length corrupt file was first resumed (416: nothing left to send), then fetched whole.
    let ranges: Vec<_> = world.gateway.requests_for(world.cid(VK)).into_iter().map(|r| r.range).collect();
    assert_eq!(ranges, [None, Some(format!("bytes={}-", corrupt.len())), None]);
}

#[tokio::test]
async fn a_corrupt_file_on_the_gateway_fails_after_two_tries_and_leaves_nothing() {
    sealstack_telemetry::install_crypto_provider();
    let world = world().await;
    let mut wrong = world.bytes(PARAMS).to_vec();
    wrong[0] ^= 1;
    world.gateway.put(world.cid(PARAMS), wrong);
    let cache = tempfile::tempdir().unwrap();
    let (result, lines) = world.fetch(cache.path(), false).await;
    match result.unwrap_err() {
        FetchError::DigestMismatch { name, expected, actual } => {
            assert_eq!(name, PARAMS);
            assert_eq!(expected, world.parameters[PARAMS].digest);
            assert_ne!(actual, expected);
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    assert_eq!(world.gateway.requests_for(world.cid(PARAMS)).len(), 2, "fetched twice");
    assert!(!cache.path().join(PARAMS).exists() && !cache.path().join(format!("{PARAMS}.partial")).exists());
    assert!(lines.iter().all(|l| l.param_file.name != PARAMS), "no success line for the bad file");
    assert_eq!(outcome_of(&lines, VK), Outcome::Downloaded, "the other files still arrive");
}

#[tokio::test]
async fn a_download_cut_halfway_resumes_with_a_range_request() {
    sealstack_telemetry::install_crypto_provider();
    let world = world().await;
    let half = world.bytes(PARAMS).len() / 2;
    world.gateway.cut_next_after(world.cid(PARAMS), half);
    let cache = tempfile::tempdir().unwrap();
    let (result, lines) = world.fetch(cache.path(), false).await;
    result.unwrap();
    assert_eq!(std::fs::read(cache.path().join(PARAMS)).unwrap(), world.bytes(PARAMS));
    assert_eq!(outcome_of(&lines, PARAMS), Outcome::Downloaded);
    let ranges: Vec<_> = world.gateway.requests_for(world.cid(PARAMS)).into_iter().map(|r| r.range).collect();
    assert_eq!(ranges, [None, Some(format!("bytes={half}-"))], "the second request resumes where the first stopped");
}

#[tokio::test]
async fn a_partial_file_left_by_a_killed_fetch_is_resumed() {
    sealstack_telemetry::install_crypto_provider();
    let world = world().await;
    let cache = tempfile::tempdir().unwrap();
    let third = world.bytes(PARAMS).len() / 3;
    std::fs::write(cache.path().join(format!("{PARAMS}.partial")), &world.bytes(PARAMS)[..third]).unwrap();
    world.fetch(cache.path(), false).await.0.unwrap();
    assert_eq!(std::fs::read(cache.path().join(PARAMS)).unwrap(), world.bytes(PARAMS));
    let ranges: Vec<_> = world.gateway.requests_for(world.cid(PARAMS)).into_iter().map(|r| r.range).collect();
    assert_eq!(ranges, [Some(format!("bytes={third}-"))]);
}

#[tokio::test]
async fn trust_params_skips_the_check_of_present_params_files_only() {
    sealstack_telemetry::install_crypto_provider();
    let world = world().await;
    let cache = tempfile::tempdir().unwrap();
    world.fetch(cache.path(), false).await.0.unwrap();
    for name in [PARAMS, VK] {
        let mut bytes = world.bytes(name).to_vec();
        bytes[7] ^= 0x55;
        std::fs::write(cache.path().join(name), bytes).unwrap();
    }
    let (result, lines) = world.fetch(cache.path(), true).await;
    result.unwrap();
    assert_eq!(outcome_of(&lines, PARAMS), Outcome::Trusted);
    assert!(!lines.iter().find(|l| l.param_file.name == PARAMS).unwrap().param_file.verified);
    assert_ne!(std::fs::read(cache.path().join(PARAMS)).unwrap(), world.bytes(PARAMS), "trusted, so left alone");
    assert_eq!(outcome_of(&lines, VK), Outcome::Downloaded, ".vk files are always checked");
    assert_eq!(std::fs::read(cache.path().join(VK)).unwrap(), world.bytes(VK));
}

/// Writes the world's manifests to files for the binary.
fn write_manifests(world: &World, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let parameters = dir.join("parameters.json");
    let srs = dir.join("srs-inner-product.json");
    std::fs::write(&parameters, serde_json::to_string(&world.parameters).unwrap()).unwrap();
    std::fs::write(&srs, serde_json::to_string(&world.srs).unwrap()).unwrap();
    (parameters, srs)
}

fn fetch_params_command(
    world_url: &str,
    manifests: &(std::path::PathBuf, std::path::PathBuf),
    cache: &Path,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealstack-miner"));
    command
        .args(["fetch-params", "2KiB", "--manifest"])
        .arg(&manifests.0)
        .arg("--srs-manifest")
        .arg(&manifests.1)
        .args(["--gateway", world_url])
        .env("FIL_PROOFS_PARAMETER_CACHE", cache)
        .env_remove("TRUST_PARAMS")
        .env_remove("IPFS_GATEWAY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

#[tokio::test]
async fn two_processes_on_one_cache_fetch_each_file_once() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    let manifests = write_manifests(&world, dir.path());
    let cache = dir.path().join("cache");
    let first = fetch_params_command(&world.gateway.url, &manifests, &cache).spawn().unwrap();
    let second = fetch_params_command(&world.gateway.url, &manifests, &cache).spawn().unwrap();
    let (first, second) = tokio::join!(first.wait_with_output(), second.wait_with_output());
    for output in [first.unwrap(), second.unwrap()] {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let lines: Vec<ProgressLine> =
            String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3, "one structured line per file");
        assert!(lines.iter().all(|l| l.param_file.verified));
    }
    for name in [PARAMS, VK, SRS] {
        assert_eq!(world.gateway.requests_for(world.cid(name)).len(), 1, "{name} downloaded exactly once");
        assert_eq!(std::fs::read(cache.join(name)).unwrap(), world.bytes(name));
    }
}

#[tokio::test]
async fn an_unreachable_gateway_is_one_clear_line() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    let manifests = write_manifests(&world, dir.path());
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gateway = format!("http://127.0.0.1:{port}/ipfs/");
    let output = fetch_params_command(&gateway, &manifests, &dir.path().join("cache")).output().await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(&format!("cannot reach parameter gateway {gateway}")), "{stderr}");
}

#[tokio::test]
async fn a_bad_size_names_the_size() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealstack-miner"))
        .args(["fetch-params", "3GiB"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unsupported sector size \"3GiB\""), "{stderr}");
}

#[tokio::test]
async fn params_serve_is_a_gateway_fetch_params_can_use() {
    sealstack_telemetry::install_crypto_provider();
    let world = world().await;
    let served = tempfile::tempdir().unwrap();
    for (name, _, bytes) in &world.contents {
        std::fs::write(served.path().join(name), bytes).unwrap();
    }
    write_manifests(&world, served.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ipfs/", listener.local_addr().unwrap());
    let dir = served.path().to_path_buf();
    let server = tokio::spawn(async move { sealstack_miner::params::serve::serve(&dir, listener).await });

    // A range request is answered with 206 and the tail of the file.
    let client = reqwest::Client::new();
    let response = client.get(format!("{url}{}", world.cid(VK))).header("range", "bytes=9000-").send().await.unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap(), &world.bytes(VK)[9000..]);
    let missing = client.get(format!("{url}QmNothing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    // fetch-params through it, resuming a partial file.
    let cache = tempfile::tempdir().unwrap();
    let half = world.bytes(PARAMS).len() / 2;
    std::fs::write(cache.path().join(format!("{PARAMS}.partial")), &world.bytes(PARAMS)[..half]).unwrap();
    let options = FetchOptions { gateway: url, cache: cache.path().to_path_buf(), parallel: 4, trust_params: false };
    let fetcher = Fetcher::new(options, Arc::new(LineProgress::new(std::io::sink()))).unwrap();
    let lines = fetcher.fetch_all(manifest::select(&world.parameters, &world.srs, &[SectorSize::KiB2])).await.unwrap();
    assert_eq!(lines.len(), 3);
    for name in [PARAMS, VK, SRS] {
        assert_eq!(std::fs::read(cache.path().join(name)).unwrap(), world.bytes(name), "{name}");
    }
    server.abort();
}
