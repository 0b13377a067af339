//! Genesis miners from the files `lotus-seed pre-seal` writes (see `sealstack_chain::genesis`): the manifest
//! `pre-seal-<miner>.json` and the worker's key `pre-seal-<miner>.key` beside it. Their keys go into the
//! devnet's wallet, their workers get funded accounts, and the miners are created with their sectors active
//! (`model::GenesisMinerSpec`).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use fvm_shared::econ::TokenAmount;
use sealstack_chain::genesis::{self, GenesisFileError, GenesisMiner, KeyInfo};

use crate::model::{GenesisMinerSpec, commitment};
use crate::wallet::{self, Key};

/// A genesis miner and its worker's key.
#[derive(Clone, Debug)]
pub struct GenesisMinerSetup {
    /// The manifest entry.
    pub miner: GenesisMiner,
    /// The worker's (and owner's) key.
    pub worker_key: KeyInfo,
}

/// Why genesis miners cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// A pre-seal file is missing or malformed.
    #[error(transparent)]
    File(#[from] GenesisFileError),
    /// A manifest entry that the devnet cannot turn into a miner.
    #[error("genesis miner {miner}: {reason}")]
    Invalid {
        /// The miner's address in the manifest.
        miner: String,
        /// What is wrong.
        reason: String,
    },
}

impl GenesisMinerSetup {
    /// The miners of a manifest with the key at `key` (by default the `.key` file beside the manifest, as
    /// `lotus-seed` writes it). Every miner's worker must be that key's address.
    pub fn load(manifest: &Path, key: Option<&Path>) -> Result<Vec<Self>, GenesisError> {
        let key_path: PathBuf = key.map(Path::to_path_buf).unwrap_or_else(|| genesis::key_file_beside(manifest));
        let worker_key = genesis::read_key_file(&key_path)?;
        let miners = genesis::read_manifest(manifest)?;
        Ok(miners.into_values().map(|miner| GenesisMinerSetup { miner, worker_key: worker_key.clone() }).collect())
    }

    /// The miner's address text, for messages.
    pub fn name(&self) -> String {
        self.miner.id.to_string()
    }

    fn invalid(&self, reason: impl Into<String>) -> GenesisError {
        GenesisError::Invalid { miner: self.name(), reason: reason.into() }
    }

    /// The worker key as the wallet holds it, checked against the manifest: it is the worker's key, and the
    /// owner is the worker (as `lotus-seed` makes them).
    pub fn wallet_key(&self) -> Result<wallet::KeyInfo, GenesisError> {
        let json = serde_json::to_value(&self.worker_key).expect("a key info encodes");
        let info: wallet::KeyInfo =
            serde_json::from_value(json).map_err(|e| self.invalid(format!("worker key: {e}")))?;
        let key = Key::from_key_info(info.clone()).map_err(|e| self.invalid(format!("worker key: {e}")))?;
        if key.address() != self.miner.worker.0 {
            return Err(self.invalid(format!(
                "the key file holds the key of {}, not of the worker {}",
                key.address(),
                self.miner.worker.0
            )));
        }
        if self.miner.owner != self.miner.worker {
            return Err(self.invalid("the owner must be the worker (as lotus-seed makes them)"));
        }
        Ok(info)
    }

    /// What the actor model needs, checked.
    pub fn spec(&self) -> Result<GenesisMinerSpec, GenesisError> {
        let id = self.miner.id.id().map_err(|_| self.invalid("the miner address must be an ID address"))?;
        let peer_id = libp2p_identity::PeerId::from_str(&self.miner.peer_id)
            .map_err(|e| self.invalid(format!("peer ID {:?}: {e}", self.miner.peer_id)))?
            .to_bytes();
        let mut sectors = Vec::with_capacity(self.miner.sectors.len());
        for sector in &self.miner.sectors {
            commitment(&sector.comm_r, crate::model::SEALED_CODEC)
                .map_err(|e| self.invalid(format!("sector {}: CommR: {e}", sector.sector_id)))?;
            sectors.push((sector.sector_id, sector.proof_type, sector.comm_r.0));
        }
        Ok(GenesisMinerSpec {
            id,
            worker: self.miner.worker.0,
            peer_id,
            sector_size: self.miner.sector_size,
            power_balance: self.miner.power_balance.0.clone(),
            sectors,
        })
    }
}

/// The genesis balance of a genesis miner's worker account, for its messages (`lotus-seed genesis
/// add-miner` gives the owner 50 million FIL on a Lotus devnet).
pub fn default_worker_balance() -> TokenAmount {
    TokenAmount::from_whole(1_000)
}

#[cfg(test)]
mod tests {
    use cid::Cid;
    use cid::multihash::Multihash;
    use fvm_ipld_encoding::RawBytes;
    use fvm_shared::address::Address;
    use sealstack_chain::actors::{methods, miner_state};
    use sealstack_chain::genesis::PreSeal;
    use sealstack_chain::json::LotusJson;
    use sealstack_chain::message::{MessageJson, unsigned_message};

    use super::*;
    use crate::model::{SectorPolicy, StateEngine};
    use crate::node::{ChainState, DevnetNode};
    use crate::repo::Repo;
    use crate::store::ChainStore;
    use crate::wallet::KeyType;

    /// A genesis miner with `sectors` pre-sealed 2KiB sectors and its worker key.
    fn setup(id: u64, sectors: u64) -> GenesisMinerSetup {
        let worker = Key::generate(KeyType::Bls);
        let comm =
            |codec, hash, n: u64| LotusJson(Cid::new_v1(codec, Multihash::wrap(hash, &[n as u8 + 1; 32]).unwrap()));
        let miner = GenesisMiner {
            id: LotusJson(Address::new_id(id)),
            owner: LotusJson(worker.address()),
            worker: LotusJson(worker.address()),
            peer_id: "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf".into(),
            market_balance: LotusJson(TokenAmount::from_atto(0)),
            power_balance: LotusJson(TokenAmount::from_whole(1)),
            sector_size: 2048,
            sectors: (0..sectors)
                .map(|n| PreSeal {
                    comm_r: comm(0xf102, 0xb401, n),
                    comm_d: comm(0xf101, 0x1012, n),
                    sector_id: n,
                    deal: None,
                    deal_client_key: None,
                    proof_type: 5,
                })
                .collect(),
        };
        let info = worker.key_info();
        let worker_key = KeyInfo { key_type: info.key_type.to_string(), private_key: info.private_key.clone() };
        GenesisMinerSetup { miner, worker_key }
    }

    fn policy() -> SectorPolicy {
        SectorPolicy { challenge_window: 20, ..SectorPolicy::default() }
    }

    fn genesis(miners: &[GenesisMinerSetup]) -> Result<ChainState, GenesisError> {
        let one = TokenAmount::from_whole(1);
        ChainState::genesis_with_miners("devnet", one.clone(), TokenAmount::from_atto(1), policy(), miners, &one)
    }

    #[test]
    fn genesis_miners_start_with_their_sectors_active_and_their_keys_in_the_wallet() {
        let miners = [setup(1000, 4), setup(1001, 2)];
        let state = genesis(&miners).unwrap();
        let first = state.actors.miner(&Address::new_id(1000)).unwrap();
        assert_eq!(first.sector_count().active, 4);
        assert_eq!(first.power(), 4 * 2048);
        let worker = miners[0].miner.worker.0;
        assert!(state.wallet.has(&worker));
        let worker_id = state.actors.lookup_id(&worker).unwrap();
        assert_eq!((first.owner, first.worker), (worker_id, worker_id));
        assert_eq!(state.actors.balance(worker_id), TokenAmount::from_whole(1));
        assert_eq!(state.actors.miner(&Address::new_id(1001)).unwrap().sector_count().live, 2);
        assert_eq!(state.wallet.default_address().unwrap().protocol(), fvm_shared::address::Protocol::Secp256k1);
    }

    #[test]
    fn a_miner_out_of_id_order_or_with_another_key_is_refused() {
        let error = genesis(&[setup(1001, 1)]).unwrap_err().to_string();
        assert!(error.contains("would be created as f01000"), "{error}");
        let mut wrong_key = setup(1000, 1);
        wrong_key.worker_key = setup(1000, 1).worker_key;
        let error = genesis(&[wrong_key]).unwrap_err().to_string();
        assert!(error.contains("not of the worker"), "{error}");
        let mut bad_proof = setup(1000, 1);
        bad_proof.miner.sectors[0].proof_type = 8;
        let error = genesis(&[bad_proof]).unwrap_err().to_string();
        assert!(error.contains("has proof type 8, expected 5"), "{error}");
    }

    #[test]
    fn a_declared_fault_and_the_deadline_cron_are_replayed_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let miners = [setup(1000, 2)];
        let (state, store) = ChainStore::open(&repo, || Ok(genesis(&miners)?)).unwrap();
        let node = DevnetNode::new(state, store, std::time::Duration::from_secs(1));
        let miner = Address::new_id(1000);
        let (deadline, cutoff, close) = {
            let state = node.state();
            let actor = state.actors.miner(&miner).unwrap();
            let location = actor.sector_location(0).unwrap();
            let policy = &state.policy;
            let start = actor.current_period_start(0, policy);
            let info = crate::model::next_not_elapsed(
                policy,
                crate::model::deadline_info(policy, start, location.deadline, 0),
            );
            (location.deadline, info.fault_cutoff, info.close)
        };
        assert!(cutoff > 2, "the declaration lands in time");
        let params = miner_state::DeclareFaultsParams {
            faults: vec![miner_state::FaultDeclaration {
                deadline,
                partition: 0,
                sectors: fvm_ipld_bitfield::BitField::try_from_bits([0u64]).unwrap(),
            }],
        };
        let worker = miners[0].miner.worker.0;
        let message = unsigned_message(
            worker,
            miner,
            TokenAmount::from_atto(0),
            methods::DECLARE_FAULTS,
            RawBytes::serialize(&params).unwrap(),
        );
        let signed = node.push_message(MessageJson::from_message(&message), None).unwrap();
        while node.state().height < close + 1 {
            node.advance();
        }
        let before = {
            let state = node.state();
            assert_eq!(state.lookup(&signed.cid).unwrap().receipt.exit_code, 0);
            let actor = state.actors.miner(&miner).unwrap();
            assert_eq!(actor.faults().into_iter().collect::<Vec<_>>(), [0, 1], "sector 1 missed the deadline");
            assert!(!actor.deadlines[deadline as usize].partitions[0].faults.is_empty());
            serde_json::to_value(&*state).unwrap()
        };
        drop(node);
        let (state, _store) = ChainStore::open(&repo, || panic!("the snapshot is there")).unwrap();
        let replayed = serde_json::to_value(&state).unwrap();
        assert_eq!(replayed["actors"], before["actors"]);
        assert_eq!(replayed["height"], before["height"]);
    }
}
