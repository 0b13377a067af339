//! The devnet's persistence, laid out like a database's: a snapshot of the whole state (`chain.json`) and a
//! write-ahead log of the changes made since (`chain.log`, one JSON line per change).
//!
//! A change is appended with the state locked, so the log's order is the state's, then applied. It is made
//! durable (fsync, one for all the callers waiting at that moment) before the call that made it answers or
//! the tipset it made is announced. At start the log is replayed onto the snapshot and folded into a new
//! one; it is folded again whenever it outgrows the snapshot. Writing thus costs what changed, where saving
//! the whole state on every change cost O(state) per message (15 of the 17 CPU seconds of creating a
//! thousand miners).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sealstack_chain::message::SignedMessageJson;
use serde::{Deserialize, Serialize};

use crate::node::ChainState;
use crate::repo::{Repo, write_atomically};
use crate::wallet::KeyInfo;

/// The log is folded into the snapshot once it is larger than this, or than the snapshot.
const MIN_LOG_BYTES: u64 = 1 << 20;

/// One change to the state, as logged.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Change {
    /// A key made by `WalletNew`.
    Key(KeyInfo),
    /// A message signed and queued by `MpoolPushMessage`, with its `MsgUuid`.
    Pushed {
        /// The signed message, nonce assigned.
        signed: Box<SignedMessageJson>,
        /// The sender's `MsgUuid`, when given.
        uuid: Option<String>,
    },
    /// The next epoch made: the current tipset executed and the cron run. Replayed by doing it again:
    /// execution depends on the state alone.
    Advanced,
    /// The base fee of the tipsets made after this change.
    BaseFee(sealstack_chain::json::LotusJson<fvm_shared::econ::TokenAmount>),
    /// A block submitted and validated for the open epoch.
    Block(Box<crate::blocks::StoredBlock>),
    /// The open epoch closed: its tipset made of the submitted blocks and, when it won, the rest of the
    /// network's block (logged, not made again on replay: it is signed).
    Tipset(Option<Box<crate::blocks::StoredBlock>>),
    /// A miner's second block for an epoch: a consensus fault recorded on its actor.
    ConsensusFault {
        /// The miner's ID.
        miner: u64,
        /// The epoch of the blocks.
        epoch: i64,
    },
}

/// A logged change and its number (the state's `log_seq` once applied).
#[derive(Deserialize)]
struct Entry {
    seq: u64,
    change: Change,
}

/// An [`Entry`] to write.
#[derive(Serialize)]
struct EntryRef<'a> {
    seq: u64,
    change: &'a Change,
}

/// The snapshot and the log, open for appending.
pub struct ChainStore {
    snapshot: PathBuf,
    log: Mutex<Log>,
    /// The log again, to fsync without holding `log`.
    log_for_sync: File,
    /// The last change known durable; held while syncing, so that callers waiting together share one fsync.
    synced: Mutex<u64>,
}

struct Log {
    file: File,
    bytes: u64,
    snapshot_bytes: u64,
    /// The last change appended.
    appended: u64,
}

impl ChainStore {
    /// Loads the state in `repo` (the snapshot, then the logged changes after it) or makes it with
    /// `genesis`, and folds it into a new snapshot with an empty log.
    pub fn open(
        repo: &Repo,
        genesis: impl FnOnce() -> anyhow::Result<ChainState>,
    ) -> anyhow::Result<(ChainState, ChainStore)> {
        let (snapshot, log_path) = (repo.state_file(), repo.log_file());
        let mut state = match std::fs::read(&snapshot) {
            Ok(bytes) => serde_json::from_slice::<ChainState>(&bytes)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", snapshot.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A log without its snapshot belongs to no chain this can rebuild.
                let _ = std::fs::remove_file(&log_path);
                genesis()?
            }
            Err(e) => return Err(e.into()),
        };
        let replayed = replay(&log_path, &mut state)?;
        if replayed > 0 {
            tracing::info!(replayed, height = state.height, "replayed the devnet's change log");
        }
        let snapshot_bytes = write_snapshot(&snapshot, &state)?;
        let file = OpenOptions::new().create(true).append(true).open(&log_path)?;
        file.set_len(0)?;
        file.sync_all()?;
        let log_for_sync = file.try_clone()?;
        let log = Log { file, bytes: 0, snapshot_bytes, appended: state.log_seq };
        let store = ChainStore { snapshot, log: Mutex::new(log), log_for_sync, synced: Mutex::new(state.log_seq) };
        Ok((state, store))
    }

    /// Logs `change`, applies it to `state` (which the caller holds locked) and folds the log into a new
    /// snapshot when it is due. Returns the change's number, for [`Self::sync`] once `state` is unlocked.
    /// Nothing is applied when the log cannot be written.
    pub fn commit(&self, state: &mut ChainState, change: Change) -> std::io::Result<u64> {
        let mut log = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let seq = state.log_seq + 1;
        let mut line = serde_json::to_vec(&EntryRef { seq, change: &change })?;
        line.push(b'\n');
        log.file.write_all(&line)?;
        log.bytes += line.len() as u64;
        log.appended = seq;
        state.apply(seq, change);
        if log.bytes > log.snapshot_bytes.max(MIN_LOG_BYTES) {
            // The snapshot holds every change logged so far: the log can start again.
            log.snapshot_bytes = write_snapshot(&self.snapshot, state)?;
            log.file.set_len(0)?;
            log.bytes = 0;
        }
        Ok(seq)
    }

    /// Makes the changes up to `seq` durable, with one fsync for every caller that waits at the same time.
    pub fn sync(&self, seq: u64) -> std::io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *synced >= seq {
            return Ok(());
        }
        let appended = self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).appended;
        self.log_for_sync.sync_data()?;
        *synced = appended;
        Ok(())
    }
}

/// Applies the log's changes newer than the state's; returns how many. A last line cut short (a crash while
/// appending, before its fsync: nobody was answered) is dropped.
fn replay(log_path: &Path, state: &mut ChainState) -> anyhow::Result<usize> {
    let file = match File::open(log_path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let lines: Vec<String> = std::io::BufReader::new(file).lines().collect::<Result<_, _>>()?;
    let mut replayed = 0;
    for (i, line) in lines.iter().enumerate() {
        let entry: Entry = match serde_json::from_str(line) {
            Ok(entry) => entry,
            Err(e) if i + 1 == lines.len() => {
                tracing::warn!(error = %e, "dropping the change log's last line, cut short");
                break;
            }
            Err(e) => anyhow::bail!("{} line {}: {e}", log_path.display(), i + 1),
        };
        if entry.seq <= state.log_seq {
            continue;
        }
        anyhow::ensure!(
            entry.seq == state.log_seq + 1,
            "{}: change {} follows {}: changes are missing",
            log_path.display(),
            entry.seq,
            state.log_seq
        );
        state.apply(entry.seq, entry.change);
        replayed += 1;
    }
    Ok(replayed)
}

/// Writes the whole state atomically; returns its size.
fn write_snapshot(path: &Path, state: &ChainState) -> std::io::Result<u64> {
    let bytes = serde_json::to_vec(state)?;
    write_atomically(path, &bytes)?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use fvm_shared::econ::TokenAmount;
    use sealstack_chain::message::{MessageJson, MessageSendSpec, unsigned_message};

    use super::*;
    use crate::model::SectorPolicy;
    use crate::node::DevnetNode;
    use crate::wallet::KeyType;

    fn genesis() -> ChainState {
        ChainState::genesis("devnet", TokenAmount::from_whole(100), TokenAmount::from_atto(1), SectorPolicy::default())
    }

    /// The state as its snapshot holds it (a message's JSON gains its CID once read back).
    fn as_json(state: &ChainState) -> serde_json::Value {
        let read_back: ChainState = serde_json::from_value(serde_json::to_value(state).unwrap()).unwrap();
        serde_json::to_value(read_back).unwrap()
    }

    /// A repo whose node made a key, pushed a message to it and executed it; with that state, as JSON.
    fn repo_with_changes() -> (tempfile::TempDir, Repo, serde_json::Value) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let (state, store) = ChainStore::open(&repo, || Ok(genesis())).expect("opens");
        let node = DevnetNode::new(state, store, std::time::Duration::from_secs(1));
        let worker = node.new_key(KeyType::Bls).expect("a key");
        let from = node.state().wallet.default_address().expect("a default key");
        let send = unsigned_message(from, worker, TokenAmount::from_whole(1), 0, Default::default());
        let spec = MessageSendSpec::idempotent("u-1");
        node.push_message(MessageJson::from_message(&send), Some(spec)).expect("pushed");
        node.advance();
        node.advance();
        assert_eq!(node.state().log_seq, 6, "a key, a push, two epochs (each `Advanced`, then its `Tipset`)");
        assert_eq!(node.state().executed.len(), 1, "the message executed");
        let state = as_json(&node.state());
        (dir, repo, state)
    }

    #[test]
    fn a_reopened_store_replays_every_change_since_the_snapshot() {
        let (_dir, repo, before) = repo_with_changes();
        let (state, _store) = ChainStore::open(&repo, || panic!("the snapshot is there")).unwrap();
        assert_eq!(as_json(&state), before);
        assert_eq!(std::fs::metadata(repo.log_file()).unwrap().len(), 0, "folded into the snapshot at start");
    }

    #[test]
    fn a_last_line_cut_short_is_dropped_and_the_rest_replayed() {
        let (_dir, repo, before) = repo_with_changes();
        let mut log = OpenOptions::new().append(true).open(repo.log_file()).unwrap();
        log.write_all(br#"{"seq":5,"change":{"Pus"#).unwrap();

        let (state, _store) = ChainStore::open(&repo, || panic!("the snapshot is there")).unwrap();
        assert_eq!(as_json(&state), before);
    }

    #[test]
    fn a_gap_in_the_log_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        drop(ChainStore::open(&repo, || Ok(genesis())).unwrap());
        std::fs::write(repo.log_file(), b"{\"seq\":2,\"change\":\"Advanced\"}\n{\"seq\":3,\"change\":\"Advanced\"}\n")
            .unwrap();
        let error = ChainStore::open(&repo, || Ok(genesis())).err().expect("refused").to_string();
        assert!(error.contains("change 2 follows 0"), "{error}");
    }

    #[test]
    fn a_log_larger_than_the_snapshot_is_folded_into_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let (mut state, store) = ChainStore::open(&repo, || Ok(genesis())).unwrap();
        let snapshot_bytes = std::fs::metadata(repo.state_file()).unwrap().len();
        let threshold = MIN_LOG_BYTES.max(snapshot_bytes);
        let log_bytes = || std::fs::metadata(repo.log_file()).unwrap().len();
        let mut grown_to = 0;
        while state.log_seq < 100_000 {
            let before = log_bytes();
            store.commit(&mut state, Change::Advanced).unwrap();
            if log_bytes() == 0 {
                grown_to = before;
                break;
            }
        }
        // Folded by the change that took the log past the threshold (a line is under 64 bytes).
        assert!(grown_to <= threshold && grown_to + 64 > threshold, "folded at {grown_to} bytes of {threshold}");
        let seq = store.commit(&mut state, Change::Advanced).unwrap();
        store.sync(seq).unwrap();
        drop(store);
        let (reopened, _store) = ChainStore::open(&repo, || Ok(genesis())).unwrap();
        assert_eq!(as_json(&reopened), as_json(&state));
    }
}
