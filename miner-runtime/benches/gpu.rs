//! The sealing stages of 2KiB CC sectors on the GPU against the CPU, on one machine
//! (`cargo bench -p sealstack-miner --features opencl --bench gpu`, with `SEALSTACK_GENERATED_PARAMS`; or the
//! device script `benches/gpu-device.sh` with the built bench binary, see the README).
//!
//! The proofs library reads its GPU settings once per process, so each configuration runs in a process of its own
//! (`seal`), and the parent compares them (`table`):
//!
//! - `cpu`: `BELLMAN_NO_GPU=1` (the Groth16 prover on the CPU), trees built on the CPU;
//! - `gpu`: the prover on the GPU and PreCommit2's trees too (`FIL_PROOFS_USE_GPU_COLUMN_BUILDER=1`,
//!   `FIL_PROOFS_USE_GPU_TREE_BUILDER=1`);
//! - `gpu-c2`: only when `gpu` failed: the prover on the GPU, the trees on the CPU.
//!
//! Each process seals `SECTORS` sectors one after the other: the first is cold (the parameters are read from disk,
//! and on the GPU the OpenCL kernels are compiled or loaded from `~/.rust-gpu-tools`), the others warm. Every proof
//! is verified, and each sector's CommR must be the same in every configuration (sealing is deterministic).
//!
//! Modes (arguments after the bench binary):
//!
//! - none, or `--bench` (as `cargo bench` runs it): `cpu` then `gpu` in child processes, then the table;
//! - `generate DIR`: 2KiB parameters into DIR (`FIL_PROOFS_PARAMETER_CACHE` must be DIR), timed;
//! - `seal LABEL SECTORS RESULT.json`: seals with this process's environment and writes the seconds per stage
//!   (rewritten after each sector, so a killed run keeps what it finished);
//! - `table RESULT.json...`: the Markdown table of the results, the first one (the CPU) as the reference.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use sealstack_miner::sealing::{self, SectorFiles, SectorRef};
use serde::{Deserialize, Serialize};

const STAGES: [&str; 5] = ["AddPiece", "PreCommit1", "PreCommit2", "Commit1", "Commit2"];

/// Environment of each configuration: variables set, variables removed.
const CPU_ENV: (&[(&str, &str)], &[&str]) =
    (&[("BELLMAN_NO_GPU", "1")], &["FIL_PROOFS_USE_GPU_COLUMN_BUILDER", "FIL_PROOFS_USE_GPU_TREE_BUILDER"]);
const GPU_ENV: (&[(&str, &str)], &[&str]) =
    (&[("FIL_PROOFS_USE_GPU_COLUMN_BUILDER", "1"), ("FIL_PROOFS_USE_GPU_TREE_BUILDER", "1")], &["BELLMAN_NO_GPU"]);
const GPU_C2_ENV: (&[(&str, &str)], &[&str]) =
    (&[], &["BELLMAN_NO_GPU", "FIL_PROOFS_USE_GPU_COLUMN_BUILDER", "FIL_PROOFS_USE_GPU_TREE_BUILDER"]);

/// What one `seal` process measured.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Run {
    label: String,
    /// The GPU support compiled in (`opencl`, `cuda` or none).
    gpu_features: Vec<String>,
    /// `BELLMAN_NO_GPU` as the process saw it.
    bellman_no_gpu: Option<String>,
    /// The proofs library's `use_gpu_tree_builder` setting.
    gpu_tree_builder: bool,
    /// Per sector: seconds of each stage, in [`STAGES`] order.
    sectors: Vec<Vec<f64>>,
    /// Per sector: CommR, hex.
    comm_r: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn gpu_features() -> Vec<String> {
    let mut features = Vec::new();
    if cfg!(feature = "opencl") {
        features.push("opencl".to_string());
    }
    if cfg!(feature = "cuda") {
        features.push("cuda".to_string());
    }
    features
}

/// Seals one CC sector under `root` and verifies its proof. Seconds per stage and CommR.
fn seal_sector(root: &Path, number: u64) -> Result<(Vec<f64>, [u8; 32]), String> {
    let sector = SectorRef { miner: 1000, number, proof: fvm_shared::sector::RegisteredSealProof::StackedDRG2KiBV1P1 };
    let files = SectorFiles::new(root, &sector);
    let (ticket, seed) = ([3; 32], [5; 32]);
    let mut times = Vec::new();
    let mut timed = |stage: &str, f: &mut dyn FnMut() -> Result<(), sealing::SealingError>| {
        let started = Instant::now();
        f().map_err(|e| format!("sector {number}, {stage}: {e}"))?;
        times.push(started.elapsed().as_secs_f64());
        eprintln!("[gpu bench] sector {number} {stage}: {:.3} s", times.last().unwrap());
        Ok::<(), String>(())
    };
    let mut pieces = Vec::new();
    timed("AddPiece", &mut || {
        pieces = vec![sealing::add_piece_cc(&sector, &files)?];
        Ok(())
    })?;
    let mut phase1 = None;
    timed("PreCommit1", &mut || {
        phase1 = Some(sealing::precommit1(&sector, &files, ticket, &pieces)?);
        Ok(())
    })?;
    let mut commitments = None;
    timed("PreCommit2", &mut || {
        commitments = Some(sealing::precommit2(&sector, &files, phase1.as_ref().unwrap())?);
        Ok(())
    })?;
    let commitments = commitments.unwrap();
    let mut c1 = None;
    timed("Commit1", &mut || {
        c1 = Some(sealing::commit1(&sector, &files, ticket, seed, &commitments, &pieces)?);
        Ok(())
    })?;
    let mut proof = Vec::new();
    timed("Commit2", &mut || {
        proof = sealing::commit2(&sector, c1.as_ref().unwrap())?;
        Ok(())
    })?;
    match sealing::verify_seal(&sector, &commitments, ticket, seed, &proof) {
        Ok(true) => Ok((times, commitments.comm_r)),
        Ok(false) => Err(format!("sector {number}: the seal proof does not verify")),
        Err(e) => Err(format!("sector {number}: cannot verify the seal proof: {e}")),
    }
}

fn seal(label: &str, sectors: u64, result: &Path) -> Result<(), String> {
    let settings = &storage_proofs_core::settings::SETTINGS;
    let mut run = Run {
        label: label.to_string(),
        gpu_features: gpu_features(),
        bellman_no_gpu: std::env::var("BELLMAN_NO_GPU").ok(),
        gpu_tree_builder: settings.use_gpu_tree_builder,
        ..Run::default()
    };
    eprintln!(
        "[gpu bench] {label}: GPU support compiled in {:?}, BELLMAN_NO_GPU={:?}, use_gpu_tree_builder={}",
        run.gpu_features, run.bellman_no_gpu, run.gpu_tree_builder
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for number in 0..sectors {
        let (times, comm_r) = seal_sector(dir.path(), number)?;
        run.sectors.push(times);
        run.comm_r.push(hex(&comm_r));
        let json = serde_json::to_vec_pretty(&run).map_err(|e| e.to_string())?;
        std::fs::write(result, json).map_err(|e| format!("cannot write {}: {e}", result.display()))?;
    }
    Ok(())
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Cold: the first sector; warm: the mean of the others.
fn cold_warm(run: &Run, stage: usize) -> (Option<f64>, Option<f64>) {
    let cold = run.sectors.first().map(|s| s[stage]);
    let warm: Vec<f64> = run.sectors.iter().skip(1).map(|s| s[stage]).collect();
    (cold, mean(&warm))
}

fn secs(value: Option<f64>) -> String {
    value.map_or("–".to_string(), |v| format!("{v:.3}"))
}

fn ratio(gpu: Option<f64>, cpu: Option<f64>) -> String {
    match (gpu, cpu) {
        (Some(g), Some(c)) if c > 0.0 => format!("{:.2}", g / c),
        _ => "–".to_string(),
    }
}

/// The Markdown table: per stage, cold and warm seconds of every run and the ratio of each to the first (the CPU).
fn table(runs: &[Run]) -> String {
    let mut out = String::new();
    let reference = &runs[0];
    let mut header = "| stage |".to_string();
    let mut rule = "|---|".to_string();
    for (i, run) in runs.iter().enumerate() {
        header += &format!(" {0} cold (s) | {0} warm (s) |", run.label);
        rule += "---|---|";
        if i > 0 {
            header += &format!(" {0}/{1} cold | {0}/{1} warm |", run.label, reference.label);
            rule += "---|---|";
        }
    }
    out += &format!("{header}\n{rule}\n");
    let total = |run: &Run| -> Run {
        Run { sectors: run.sectors.iter().map(|s| vec![s.iter().sum()]).collect(), ..Run::default() }
    };
    let totals: Vec<Run> = runs.iter().map(total).collect();
    for (name, stage, runs) in STAGES
        .iter()
        .enumerate()
        .map(|(i, name)| (name.to_string(), i, runs))
        .chain(std::iter::once(("**total**".to_string(), 0, totals.as_slice())))
    {
        let (ref_cold, ref_warm) = cold_warm(&runs[0], stage);
        let mut line = format!("| {name} |");
        for (i, run) in runs.iter().enumerate() {
            let (cold, warm) = cold_warm(run, stage);
            line += &format!(" {} | {} |", secs(cold), secs(warm));
            if i > 0 {
                line += &format!(" {} | {} |", ratio(cold, ref_cold), ratio(warm, ref_warm));
            }
        }
        out += &line;
        out += "\n";
    }
    out += "\n";
    for run in runs {
        out += &format!(
            "- {}: {} sectors (warm = mean of sectors 1..), GPU support compiled in {:?}, BELLMAN_NO_GPU={:?}, \
             GPU tree builder {}\n",
            run.label,
            run.sectors.len(),
            run.gpu_features,
            run.bellman_no_gpu,
            run.gpu_tree_builder
        );
    }
    let same = runs.iter().all(|run| run.comm_r.iter().zip(&reference.comm_r).all(|(a, b)| a == b));
    out += &format!(
        "- every proof verified; CommR of each sector {} in every run\n",
        if same { "the same" } else { "DIFFERS" }
    );
    out
}

fn read_run(path: &Path) -> Result<Run, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `seal` for one configuration in a child process of this binary. The result, when the child wrote one.
fn child(label: &str, env: (&[(&str, &str)], &[&str]), sectors: u64, dir: &Path) -> Option<Run> {
    let result = dir.join(format!("{label}.json"));
    let mut command = Command::new(std::env::current_exe().expect("the bench binary's path"));
    command.args(["seal", label, &sectors.to_string()]).arg(&result);
    for (name, value) in env.0 {
        command.env(name, value);
    }
    for name in env.1 {
        command.env_remove(name);
    }
    let started = Instant::now();
    let status = command.status();
    eprintln!("[gpu bench] {label}: {status:?} after {:.1} s", started.elapsed().as_secs_f64());
    let run = read_run(&result).ok();
    match status {
        Ok(status) if status.success() => run,
        _ => run.filter(|run| !run.sectors.is_empty()),
    }
}

fn compare(sectors: u64) -> ExitCode {
    let Some(params) = std::env::var_os("SEALSTACK_GENERATED_PARAMS") else {
        eprintln!("SEALSTACK_GENERATED_PARAMS is not set: run `scripts/params.sh 2KiB` and point it at the directory");
        return ExitCode::from(2);
    };
    // SAFETY: no other thread exists yet; the children inherit it.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some(cpu) = child("cpu", CPU_ENV, sectors, dir.path()) else {
        eprintln!("the CPU run failed");
        return ExitCode::FAILURE;
    };
    let mut runs = vec![cpu];
    match child("gpu", GPU_ENV, sectors, dir.path()) {
        Some(gpu) if gpu.sectors.len() as u64 == sectors => runs.push(gpu),
        partial => {
            runs.extend(partial);
            runs.extend(child("gpu-c2", GPU_C2_ENV, sectors, dir.path()));
        }
    }
    println!("{}", table(&runs));
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    sealstack_telemetry::init_logging(sealstack_telemetry::LogFormat::Text);
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        [] => return compare(3),
        ["generate", dir] => {
            let started = Instant::now();
            sealstack_miner::params::generate::generate(sealstack_crds::SectorSize::KiB2, Path::new(dir))
                .map(|_| eprintln!("[gpu bench] 2KiB parameters generated in {:.1} s", started.elapsed().as_secs_f64()))
                .map_err(|e| format!("{e:#}"))
        }
        ["seal", label, sectors, result] => match sectors.parse() {
            Ok(sectors) => seal(label, sectors, Path::new(result)),
            Err(e) => Err(format!("SECTORS: {e}")),
        },
        ["table", results @ ..] if !results.is_empty() => {
            results.iter().map(|r| read_run(&PathBuf::from(r))).collect::<Result<Vec<_>, _>>().map(|runs| {
                print!("{}", table(&runs));
            })
        }
        _ => Err("usage: gpu [generate DIR | seal LABEL SECTORS RESULT.json | table RESULT.json...]".to_string()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
