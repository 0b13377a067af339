//! fetch-params throughput against a plain HTTP read of the same 1 GB file from the same local gateway
//! (`params serve`), in the same run. Both write the body to a file in the cache directory; fetch-params
//! also computes the digest and verifies it. Prints a Markdown table; goal: ratio >= 0.9.
//!
//! `cargo bench -p sealstack-miner --bench fetch_throughput` (env `FETCH_BENCH_MB` changes the size,
//! `FETCH_BENCH_ROUNDS` the number of rounds).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealstack_miner::params::digest::ParamDigest;
use sealstack_miner::params::fetch::{FetchOptions, Fetcher};
use sealstack_miner::params::manifest::{ManifestEntry, ParamFile};
use sealstack_miner::params::progress::LineProgress;

const NAME: &str = "v28-bench.params";
const CID: &str = "QmBenchFile";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Writes `megabytes` MB of pseudo-random bytes and returns their digest.
fn write_file(path: &Path, megabytes: usize) -> String {
    let mut block = vec![0u8; 1_000_000];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for byte in &mut block {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x as u8;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut digest = ParamDigest::new();
    for i in 0..megabytes {
        block[0] = i as u8;
        digest.update(&block);
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
    digest.hex()
}

/// The reference: a plain streamed GET written to a file.
async fn plain_read(client: &reqwest::Client, url: &str, out: &Path) -> u64 {
    let mut response = client.get(url).send().await.unwrap();
    assert!(response.status().is_success());
    let mut file = tokio::io::BufWriter::with_capacity(4 << 20, tokio::fs::File::create(out).await.unwrap());
    let mut total = 0u64;
    while let Some(chunk) = response.chunk().await.unwrap() {
        total += chunk.len() as u64;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await.unwrap();
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await.unwrap();
    total
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    sealstack_telemetry::install_crypto_provider();
    let megabytes = env_or("FETCH_BENCH_MB", 1000);
    let rounds = env_or("FETCH_BENCH_ROUNDS", 5);
    let served = tempfile::tempdir().unwrap();
    let digest = write_file(&served.path().join(NAME), megabytes);
    let manifest = serde_json::json!({ NAME: {"cid": CID, "digest": digest, "sector_size": 2048} });
    std::fs::write(served.path().join("parameters.json"), manifest.to_string()).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}/ipfs/", listener.local_addr().unwrap());
    let dir = served.path().to_path_buf();
    let server = tokio::spawn(async move { sealstack_miner::params::serve::serve(&dir, listener).await });

    let client = reqwest::Client::new();
    let file = ParamFile { name: NAME.into(), entry: ManifestEntry { cid: CID.into(), digest, sector_size: 2048 } };
    let (mut plain, mut fetch) = (Vec::new(), Vec::new());
    for round in 0..rounds + 1 {
        let cache = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let bytes = plain_read(&client, &format!("{gateway}{CID}"), &cache.path().join("plain")).await;
        let plain_time = started.elapsed();
        assert_eq!(bytes, megabytes as u64 * 1_000_000);
        std::fs::remove_file(cache.path().join("plain")).unwrap();

        let options = FetchOptions {
            gateway: gateway.clone(),
            cache: cache.path().to_path_buf(),
            parallel: 1,
            trust_params: false,
        };
        let fetcher = Fetcher::new(options, Arc::new(LineProgress::new(std::io::sink()))).unwrap();
        let started = Instant::now();
        let line = fetcher.fetch_one(file.clone()).await.unwrap();
        let fetch_time = started.elapsed();
        assert!(line.param_file.verified);
        if round > 0 {
            // Round 0 warms the page cache and the connection pool.
            plain.push(plain_time);
            fetch.push(fetch_time);
        }
    }
    server.abort();

    // The digest alone, on one core, over the same number of bytes.
    let block = vec![0x5au8; 1_000_000];
    let started = Instant::now();
    let mut digest = ParamDigest::new();
    for _ in 0..megabytes {
        digest.update(&block);
    }
    let hash = started.elapsed();
    std::hint::black_box(digest.hex());

    let mb_per_s = |d: Duration| megabytes as f64 / d.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (plain, fetch) = (median(plain), median(fetch));
    println!("\n| what ({megabytes} MB, median of {rounds}) | time | throughput | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| plain HTTP read to a file (reference) | {:.2} s | {:.0} MB/s | 1.00 |",
        plain.as_secs_f64(),
        mb_per_s(plain)
    );
    println!(
        "| fetch-params (download + BLAKE2b digest + verify) | {:.2} s | {:.0} MB/s | {:.2} |",
        fetch.as_secs_f64(),
        mb_per_s(fetch),
        plain.as_secs_f64() / fetch.as_secs_f64()
    );
    // When server and client already keep every core busy, the digest's CPU time cannot overlap with
    // anything: the best ratio is cores / (cores + digest CPU per byte / reference CPU per byte).
    let ceiling = cores / (cores + mb_per_s(plain) / mb_per_s(hash));
    println!("| BLAKE2b-512 digest alone, one core | {:.2} s | {:.0} MB/s | |", hash.as_secs_f64(), mb_per_s(hash));
    println!("| CPU-bound ceiling of the ratio on {cores} cores, server on the same machine | | | {ceiling:.2} |");
}
