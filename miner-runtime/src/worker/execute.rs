//! Running one task on the worker's scratch files with the sealing library. A stage asked for again after it
//! already ran (a result lost with a restarted miner) returns its recorded output: PreCommit2 changes the sealed
//! file, so it must never run twice over the same files.

use sealstack_chain::LotusJson;

use super::local::{LocalSector, Scratch};
use crate::protocol::{FileStage, Task, TaskInput, TaskKind, TaskResult};
use crate::sealing::{self, Commit1Output, SectorRef, staged_path};

/// Fault injection for tests: with `SEALSTACK_CRASH_IN_TASK=<Kind>` the worker process aborts in the middle of
/// its first task of that kind (PreCommit1 leaves a half-written staged sealed file behind, as a killed process
/// would).
fn crash_point(kind: &str, sector: &SectorRef, scratch: &Scratch) {
    if std::env::var("SEALSTACK_CRASH_IN_TASK").is_ok_and(|k| k == kind) {
        if kind == "PreCommit1" {
            let files = scratch.files(sector);
            let _ = std::fs::write(staged_path(&files.sealed), b"half-written");
        }
        eprintln!("injected crash: worker killed during {kind} of sector {}", sector.number);
        std::process::abort();
    }
}

/// Fault injection for tests: with `SEALSTACK_FAIL_SECTOR=<number>` every sealing task of that sector fails (a
/// sector whose seal keeps failing, beside others that seal).
fn fail_point(sector: &SectorRef) -> anyhow::Result<()> {
    if std::env::var("SEALSTACK_FAIL_SECTOR").is_ok_and(|n| n == sector.number.to_string()) {
        anyhow::bail!("injected failure: sector {} cannot be sealed here", sector.number);
    }
    Ok(())
}

fn held(scratch: &Scratch, number: u64, stage: FileStage) -> anyhow::Result<LocalSector> {
    let local =
        scratch.sector(number)?.ok_or_else(|| anyhow::anyhow!("this worker holds no files of sector {number}"))?;
    anyhow::ensure!(local.stage >= stage, "sector {number}'s files here are at {:?}, {stage:?} is needed", local.stage);
    Ok(local)
}

fn ticket_of(bytes: &[u8]) -> anyhow::Result<[u8; 32]> {
    bytes.try_into().map_err(|_| anyhow::anyhow!("{} bytes of randomness, expected 32", bytes.len()))
}

/// Runs a task (blocking; not Finalize, which uploads) and returns its result.
pub fn execute(task: &Task, scratch: &Scratch) -> anyhow::Result<TaskResult> {
    match &task.input {
        TaskInput::WindowPoSt { post_proof, randomness, miner, vanilla } => {
            return post_snark(TaskKind::WindowPoSt, *post_proof, randomness, *miner, vanilla);
        }
        TaskInput::WinningPoSt { post_proof, randomness, miner, vanilla } => {
            return post_snark(TaskKind::WinningPoSt, *post_proof, randomness, *miner, vanilla);
        }
        _ => {}
    }
    let sector = task.sector.ok_or_else(|| anyhow::anyhow!("sealing task {} names no sector", task.id))?;
    let files = scratch.files(&sector);
    crash_point(task.input.kind().as_str(), &sector, scratch);
    fail_point(&sector)?;
    Ok(match &task.input {
        TaskInput::AddPiece => {
            if let Some(local) = scratch.sector(sector.number)? {
                return Ok(TaskResult::AddPiece { pieces: local.pieces });
            }
            let piece = sealing::add_piece_cc(&sector, &files)?;
            let local = LocalSector {
                sector,
                stage: FileStage::Unsealed,
                pieces: vec![piece],
                ticket: None,
                phase1: None,
                commitments: None,
            };
            scratch.save(&local)?;
            TaskResult::AddPiece { pieces: local.pieces }
        }
        TaskInput::PreCommit1 { ticket } => {
            let ticket = ticket_of(ticket)?;
            let mut local = held(scratch, sector.number, FileStage::Unsealed)?;
            if local.stage >= FileStage::PreCommit1 && local.ticket == Some(ticket) {
                return Ok(TaskResult::PreCommit1);
            }
            let phase1 = sealing::precommit1(&sector, &files, ticket, &local.pieces)?;
            local.stage = FileStage::PreCommit1;
            local.ticket = Some(ticket);
            local.phase1 = Some(phase1);
            local.commitments = None;
            scratch.save(&local)?;
            TaskResult::PreCommit1
        }
        TaskInput::PreCommit2 => {
            let mut local = held(scratch, sector.number, FileStage::PreCommit1)?;
            if let (FileStage::PreCommit2, Some(c)) = (local.stage, local.commitments) {
                return Ok(TaskResult::PreCommit2 { comm_r: c.comm_r, comm_d: c.comm_d });
            }
            let phase1 = local.phase1.as_ref().ok_or_else(|| anyhow::anyhow!("no PreCommit1 output recorded"))?;
            let commitments = sealing::precommit2(&sector, &files, phase1)?;
            local.stage = FileStage::PreCommit2;
            local.commitments = Some(commitments);
            scratch.save(&local)?;
            TaskResult::PreCommit2 { comm_r: commitments.comm_r, comm_d: commitments.comm_d }
        }
        TaskInput::Commit1 { seed } => {
            let local = held(scratch, sector.number, FileStage::PreCommit2)?;
            let (Some(ticket), Some(commitments)) = (local.ticket, local.commitments) else {
                anyhow::bail!("sector {} has no ticket or commitments recorded", sector.number);
            };
            let output = sealing::commit1(&sector, &files, ticket, ticket_of(seed)?, &commitments, &local.pieces)?;
            TaskResult::Commit1 { phase1: LotusJson(output.0) }
        }
        TaskInput::Commit2 { phase1 } => {
            let proof = sealing::commit2(&sector, &Commit1Output(phase1.0.clone()))?;
            TaskResult::Commit2 { proof: LotusJson(proof) }
        }
        TaskInput::Finalize => anyhow::bail!("Finalize uploads files; it is not executed locally"),
        TaskInput::WindowPoSt { .. } | TaskInput::WinningPoSt { .. } => unreachable!("handled above"),
    })
}

/// A PoSt SNARK (WindowPoSt or WinningPoSt, `kind`) from the miner's vanilla proofs. Fault injection for tests:
/// with `SEALSTACK_CORRUPT_POST=1` the worker answers a proof with one byte flipped, which the miner must catch
/// and drop; with `SEALSTACK_CRASH_IN_TASK=<kind>` it dies on the task, holding it.
fn post_snark(
    kind: TaskKind,
    post_proof: i64,
    randomness: &LotusJson<Vec<u8>>,
    miner: u64,
    vanilla: &[sealing::post::VanillaProof],
) -> anyhow::Result<TaskResult> {
    if std::env::var("SEALSTACK_CRASH_IN_TASK").is_ok_and(|k| k == kind.as_str()) {
        eprintln!("injected crash: worker killed during a {}", kind.as_str());
        std::process::abort();
    }
    let post_type = fvm_shared::sector::RegisteredPoStProof::from(post_proof);
    let randomness = ticket_of(randomness)?;
    let mut proofs = match kind {
        TaskKind::WinningPoSt => {
            let seal = sealing::winning::seal_proof_of_winning(post_type)?;
            sealing::winning::winning_post_from_vanilla(seal, randomness, miner, vanilla)?
        }
        _ => sealing::post::window_post_from_vanilla(post_type, randomness, miner, vanilla)?,
    };
    anyhow::ensure!(proofs.len() == 1, "{} {} proofs made, expected one", proofs.len(), kind.as_str());
    let mut proof = proofs.remove(0).proof_bytes;
    if std::env::var("SEALSTACK_CORRUPT_POST").is_ok_and(|v| v == "1") {
        eprintln!("injected fault: the {} answered has a byte flipped", kind.as_str());
        if let Some(byte) = proof.first_mut() {
            *byte ^= 0xff;
        }
    }
    Ok(match kind {
        TaskKind::WinningPoSt => TaskResult::WinningPoSt { proof: LotusJson(proof) },
        _ => TaskResult::WindowPoSt { proof: LotusJson(proof) },
    })
}
