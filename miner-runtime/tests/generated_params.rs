//! fetch-params of locally generated 2KiB parameters and the devnet aggregation SRS through `params serve`, the
//! path a devnet ParamCache takes. Needs the parameters `scripts/params.sh` generates once per machine (8 minutes):
//! the directory comes from `SEALSTACK_GENERATED_PARAMS`; without it the test says so and passes, unless
//! `SEALSTACK_REQUIRE_GENERATED_PARAMS=1` (set by scripts/test.sh) makes that a failure.

#[path = "support/generated.rs"]
mod generated;

use generated::generated_dir;
use std::path::Path;

use sealstack_miner::params::manifest;
use sealstack_miner::params::progress::{Outcome, ProgressLine};

async fn fetch(dir: &Path, gateway: &str, cache: &Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sealstack-miner"))
        .args(["fetch-params", "2KiB", "--manifest"])
        .arg(dir.join("parameters.json"))
        .arg("--srs-manifest")
        .arg(dir.join("srs-inner-product.json"))
        .args(["--gateway", gateway])
        .env("FIL_PROOFS_PARAMETER_CACHE", cache)
        .env_remove("TRUST_PARAMS")
        .output()
        .await
        .unwrap()
}

fn lines(output: &std::process::Output) -> Vec<ProgressLine> {
    assert!(output.status.success(), "fetch-params failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn generated_2kib_parameters_travel_through_the_gateway() {
    let Some(dir) = generated_dir() else { return };
    sealstack_telemetry::install_crypto_provider();
    let generated = manifest::read(&dir.join("parameters.json")).unwrap();
    let srs = manifest::read(&dir.join("srs-inner-product.json")).unwrap();
    assert_eq!(srs.keys().collect::<Vec<_>>(), ["v28-fil-inner-product-v1.srs"], "the devnet aggregation SRS");
    let mut wanted: Vec<_> = generated.iter().filter(|(_, e)| e.sector_size == 2048).collect();
    assert_eq!(wanted.iter().filter(|(n, _)| n.ends_with(".params")).count(), 3, "PoRep, WinningPoSt, WindowPoSt");
    wanted.extend(&srs);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}/ipfs/", listener.local_addr().unwrap());
    let served = dir.clone();
    let server = tokio::spawn(async move { sealstack_miner::params::serve::serve(&served, listener).await });

    // Two processes at once on one cache: both end with every file verified.
    let cache = tempfile::tempdir().unwrap();
    let (first, second) = tokio::join!(fetch(&dir, &gateway, cache.path()), fetch(&dir, &gateway, cache.path()));
    for output in [&first, &second] {
        let lines = lines(output);
        assert_eq!(lines.len(), generated.len() + srs.len(), "one line per file of the manifests");
        assert!(lines.iter().all(|l| l.param_file.verified));
    }
    let downloads =
        [&first, &second].iter().flat_map(|o| lines(o)).filter(|l| l.outcome == Outcome::Downloaded).count();
    assert_eq!(downloads, generated.len() + srs.len(), "each file downloaded by exactly one of the two");
    for (name, _) in &wanted {
        let original = std::fs::metadata(dir.join(name)).unwrap().len();
        assert_eq!(std::fs::metadata(cache.path().join(name)).unwrap().len(), original, "{name}");
    }

    // A corrupt verifying key in the cache is noticed and fetched again; the rest stays.
    let (vk, _) = wanted.iter().find(|(n, _)| n.ends_with(".vk")).unwrap();
    let mut bytes = std::fs::read(cache.path().join(vk)).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(cache.path().join(vk), bytes).unwrap();
    let rerun = lines(&fetch(&dir, &gateway, cache.path()).await);
    for line in rerun {
        let expected = if &line.param_file.name == *vk { Outcome::Downloaded } else { Outcome::Present };
        assert_eq!(line.outcome, expected, "{}", line.param_file.name);
    }
    assert_eq!(std::fs::read(cache.path().join(vk)).unwrap(), std::fs::read(dir.join(vk)).unwrap());
    server.abort();
}
