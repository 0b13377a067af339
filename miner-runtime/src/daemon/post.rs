//! WindowPoSt, and WinningPoSt eligibility (the node's `HasMinPower`, exported as a gauge; the daemon does not take
//! part in block production). At each deadline of the proving period, the active sectors of its partitions are proven from the
//! files in long-term storage with the deadline's challenge, and SubmitWindowedPoSt is sent before it closes. The
//! message of each deadline opening is journaled in `<repo>/posts/<open epoch>.json`, so a restart inside a
//! deadline waits for the proof already sent instead of sending another.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use fvm_ipld_encoding::RawBytes;
use fvm_shared::econ::TokenAmount;
use fvm_shared::randomness::Randomness;
use sealstack_chain::actors::{methods, miner_state};
use sealstack_chain::message::unsigned_message;
use sealstack_chain::miner::BitFieldJson;
use sealstack_chain::push::{MessageLog, push_once};
use sealstack_chain::randomness::tags;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use super::Daemon;
use crate::repo::FileJournal;
use crate::sealing::{ProvingSector, SEALED_CODEC, SectorRef, commitment_of, generate_window_post};

/// The message step name in a deadline's journal.
const STEP: &str = "window-post";

/// Proves every deadline with live sectors, until the process ends.
pub async fn run(daemon: Arc<Daemon>) {
    let mut handled = HashSet::new();
    loop {
        match prove_current_deadline(&daemon, &mut handled).await {
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "WindowPoSt");
                daemon.metrics.window_post("error");
            }
        }
        tokio::time::sleep(daemon.config.poll).await;
    }
}

async fn prove_current_deadline(daemon: &Daemon, handled: &mut HashSet<i64>) -> anyhow::Result<()> {
    let api = daemon.node.api();
    let actor = LotusJson(daemon.actor);
    let info = api.state_miner_proving_deadline(actor.clone(), TipSetKey::head()).await.map_err(daemon.node.err())?;
    daemon.metrics.proving_deadline.set(info.index as i64);
    let power = api.state_miner_power(actor.clone(), TipSetKey::head()).await.map_err(daemon.node.err())?;
    daemon.metrics.winning_post_eligible.set(i64::from(power.has_min_power));
    if handled.contains(&info.open) || info.current_epoch < info.open {
        return Ok(());
    }
    let partitions =
        api.state_miner_partitions(actor.clone(), info.index, TipSetKey::head()).await.map_err(daemon.node.err())?;
    let mut to_prove: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (index, partition) in partitions.iter().enumerate() {
        // As lotus-miner's wdpost: live sectors less the faulty, plus those declared recovering. New sectors
        // are due too: they are not active (they carry no power) until this first proof.
        let faulty: HashSet<u64> = partition.faulty_sectors.numbers().into_iter().collect();
        let recovering: HashSet<u64> = partition.recovering_sectors.numbers().into_iter().collect();
        let due: Vec<u64> = partition
            .live_sectors
            .numbers()
            .into_iter()
            .filter(|n| !faulty.contains(n) || recovering.contains(n))
            .collect();
        if !due.is_empty() {
            to_prove.insert(index as u64, due);
        }
    }
    if to_prove.is_empty() {
        handled.insert(info.open);
        return Ok(());
    }
    let numbers: Vec<u64> = to_prove.values().flatten().copied().collect();
    let on_chain = api
        .state_miner_sectors(actor.clone(), Some(BitFieldJson::from_numbers(&numbers)), TipSetKey::head())
        .await
        .map_err(daemon.node.err())?;
    let mut proving = Vec::new();
    for sector in on_chain {
        let reference = SectorRef { miner: daemon.actor_id, number: sector.sector_number, proof: daemon.seal_proof };
        anyhow::ensure!(
            daemon.storage.holds(&reference),
            "sector {} is due in deadline {} but its files are not in storage",
            sector.sector_number,
            info.index
        );
        let comm_r = commitment_of(&sector.sealed_cid.0, SEALED_CODEC)?;
        proving.push(ProvingSector { sector: reference, files: daemon.storage.files(&reference), comm_r });
    }

    let randomness = daemon.randomness(tags::WINDOWED_POST_CHALLENGE_SEED, info.challenge, true).await?;
    let started = std::time::Instant::now();
    let proofs = tokio::task::spawn_blocking(move || generate_window_post(randomness, &proving)).await??;
    tracing::info!(
        deadline = info.index,
        sectors = numbers.len(),
        secs = started.elapsed().as_secs_f64(),
        "WindowPoSt generated"
    );

    let head = api.chain_head().await.map_err(daemon.node.err())?.height;
    if head + 1 >= info.close {
        handled.insert(info.open);
        daemon.metrics.window_post("missed");
        anyhow::bail!(
            "WindowPoSt of deadline {} ready at epoch {head}, too late (closes at {})",
            info.index,
            info.close
        );
    }
    let chain_commit_epoch = head - 1;
    let chain_commit_rand = daemon.randomness(tags::POST_CHAIN_COMMIT, chain_commit_epoch, false).await?;
    let params = miner_state::SubmitWindowedPoStParams {
        deadline: info.index,
        partitions: to_prove
            .keys()
            .map(|&index| miner_state::PoStPartition { index, skipped: Default::default() })
            .collect(),
        proofs,
        chain_commit_epoch,
        chain_commit_rand: Randomness(chain_commit_rand.to_vec()),
    };
    let message = unsigned_message(
        daemon.worker,
        daemon.actor,
        TokenAmount::from_atto(0),
        methods::SUBMIT_WINDOWED_POST,
        RawBytes::serialize(&params)?,
    );
    let mut journal = FileJournal::new(daemon.repo.file(&format!("posts/{}.json", info.open)));
    let mut log: MessageLog = journal.load()?.unwrap_or_default();
    let landed = push_once(&daemon.node, &mut log, &mut journal, STEP, &message, 0).await;
    handled.insert(info.open);
    match landed {
        Ok(lookup) => {
            tracing::info!(deadline = info.index, epoch = lookup.height - 1, "WindowPoSt accepted");
            daemon.metrics.window_post("accepted");
            daemon.metrics.chain_message(STEP, "ok");
            Ok(())
        }
        Err(error) => {
            daemon.metrics.window_post("refused");
            daemon.metrics.chain_message(STEP, "failed");
            Err(error.into())
        }
    }
}
