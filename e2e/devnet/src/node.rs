//! The devnet node: chain state, the epoch loop, pushing and signing messages, the base fee, and randomness
//! (the message pool's rules are in [`crate::mempool`], message lookups in [`crate::lookup`]).
//!
//! Messages pushed in one epoch are included in the next tipset and executed when the tipset after it is
//! made, as in Lotus: a message included at height H executes at epoch H and its lookup reports height H+1
//! (the tipset whose parent state includes it).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cid::Cid;
use fvm_shared::address::{Address, Protocol};
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::{
    MessageJson, MessageSendSpec, SignatureJson, SignedMessageJson, message_cid, signed_message_cid,
};
use sealstack_chain::node::MsgLookup;
use sealstack_chain::randomness::draw_randomness;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::blocks::{StoredBlock, StoredTipSet};
use crate::genesis::{GenesisError, GenesisMinerSetup};
use crate::model::{
    ActorTable, AggregateToVerify, ChainEnv, ConsensusPolicy, GenesisAccount, PoStToVerify, SealToVerify, SectorPolicy,
    StateEngine,
};
use crate::store::{ChainStore, Change};
use crate::wallet::{KeyType, Wallet};

/// A message that executed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Executed {
    /// The height of the tipset that holds its receipt.
    pub height: i64,
    /// Its receipt.
    pub exit_code: u32,
    /// The CBOR return.
    pub return_data: LotusJson<Vec<u8>>,
    /// Gas charged.
    pub gas_used: i64,
    /// The method called, to decode the return for `ReturnDec`.
    pub to: LotusJson<Address>,
    /// The method number.
    pub method: u64,
}

/// Everything the devnet persists.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainState {
    /// The network name (`StateNetworkName`).
    pub network_name: String,
    /// The head height.
    pub height: i64,
    /// Unix seconds of the genesis tipset.
    pub genesis_timestamp: u64,
    /// The node's wallet.
    pub wallet: Wallet,
    /// The actors.
    pub actors: ActorTable,
    /// Pushed messages not yet in a block.
    pub mempool: Vec<SignedMessageJson>,
    /// Messages in the head block, executed when the next tipset is made.
    pub included: Vec<SignedMessageJson>,
    /// Executed messages by CID.
    pub executed: BTreeMap<String, Executed>,
    /// Signed messages by `MsgUuid`.
    pub by_uuid: BTreeMap<String, SignedMessageJson>,
    /// The deposit CreateMiner must carry.
    pub creation_deposit: LotusJson<TokenAmount>,
    /// The sector lifecycle's parameters.
    pub policy: SectorPolicy,
    /// The last logged change this state holds (see [`crate::store`]).
    #[serde(default)]
    pub log_seq: u64,
    /// Every message pushed, by CID: pending, replaced or executed (`ChainGetMessage`).
    #[serde(default)]
    pub messages: BTreeMap<String, SignedMessageJson>,
    /// The CID of the message that executed for each sender key address and nonce (`<address>/<nonce>`).
    #[serde(default)]
    pub executed_nonces: BTreeMap<String, String>,
    /// Base fee changes: from which height on a fee is the blocks' `ParentBaseFee`.
    #[serde(default)]
    pub base_fees: BTreeMap<i64, LotusJson<TokenAmount>>,
    /// The chain: the tipset of every epoch that was not a null round.
    #[serde(default)]
    pub blocks: BTreeMap<i64, StoredTipSet>,
    /// Blocks submitted and validated for the open epoch, joining its tipset when it closes.
    #[serde(default)]
    pub pending_blocks: Vec<StoredBlock>,
    /// The slash filter: the CID of the block each miner made for an epoch (`<miner>/<epoch>`) and on a base
    /// (`<miner>/{<parents>}`).
    #[serde(default)]
    pub mined: BTreeMap<String, String>,
    /// The consensus parameters.
    #[serde(default)]
    pub consensus: ConsensusPolicy,
    /// Seconds between block timestamps (`BlockDelaySecs`: the block time, at least 1 s).
    #[serde(default = "one_second")]
    pub block_delay_secs: u64,
}

fn one_second() -> u64 {
    1
}

impl ChainState {
    /// A new chain whose genesis funds a fresh secp256k1 default wallet key.
    pub fn genesis(
        network_name: &str,
        balance: TokenAmount,
        creation_deposit: TokenAmount,
        policy: SectorPolicy,
    ) -> Self {
        Self::genesis_with_miners(network_name, balance, creation_deposit, policy, &[], &TokenAmount::from_atto(0))
            .expect("a genesis without miners always builds")
    }

    /// A new chain whose genesis funds a fresh secp256k1 default wallet key and creates `miners` (IDs from
    /// 1000 in order) with their sectors active; their worker keys go into the wallet, their worker accounts
    /// get `worker_balance` each.
    pub fn genesis_with_miners(
        network_name: &str,
        balance: TokenAmount,
        creation_deposit: TokenAmount,
        policy: SectorPolicy,
        miners: &[GenesisMinerSetup],
        worker_balance: &TokenAmount,
    ) -> Result<Self, GenesisError> {
        let mut wallet = Wallet::new();
        let owner = wallet.generate(KeyType::Secp256k1);
        let mut accounts = vec![GenesisAccount { key: owner, balance }];
        let mut specs = Vec::with_capacity(miners.len());
        for miner in miners {
            let key = miner.wallet_key()?;
            let address =
                wallet.import(key).map_err(|e| GenesisError::Invalid { miner: miner.name(), reason: e.to_string() })?;
            if !accounts.iter().any(|a| a.key == address) {
                accounts.push(GenesisAccount { key: address, balance: worker_balance.clone() });
            }
            specs.push((miner.name(), miner.spec()?));
        }
        let mut actors = ActorTable::genesis(&accounts);
        for (name, spec) in &specs {
            actors
                .add_genesis_miner(spec, &policy, &creation_deposit)
                .map_err(|reason| GenesisError::Invalid { miner: name.clone(), reason })?;
        }
        let genesis_timestamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let genesis =
            Self::genesis_block(network_name, genesis_timestamp, &TokenAmount::from_atto(crate::model::BASE_FEE_ATTO));
        let mut state = ChainState {
            network_name: network_name.to_string(),
            height: 0,
            genesis_timestamp,
            wallet,
            actors,
            mempool: Vec::new(),
            included: Vec::new(),
            executed: BTreeMap::new(),
            by_uuid: BTreeMap::new(),
            creation_deposit: LotusJson(creation_deposit),
            policy,
            log_seq: 0,
            messages: BTreeMap::new(),
            executed_nonces: BTreeMap::new(),
            base_fees: BTreeMap::new(),
            blocks: BTreeMap::new(),
            pending_blocks: Vec::new(),
            mined: BTreeMap::new(),
            consensus: ConsensusPolicy::default(),
            block_delay_secs: 1,
        };
        let weight = sealstack_chain::election::tipset_weight(&0.into(), &state.network_power(), []);
        state.blocks.insert(0, StoredTipSet::new(vec![genesis], &weight));
        Ok(state)
    }

    /// The base fee of the block at `height`: its `ParentBaseFee`, which its messages pay.
    pub fn base_fee_at(&self, height: i64) -> TokenAmount {
        self.base_fees
            .range(..=height)
            .next_back()
            .map(|(_, fee)| fee.0.clone())
            .unwrap_or_else(|| TokenAmount::from_atto(crate::model::BASE_FEE_ATTO))
    }

    /// Applies logged change number `seq` (see [`crate::store`]).
    pub fn apply(&mut self, seq: u64, change: Change) {
        self.log_seq = seq;
        match change {
            Change::Key(info) => match self.wallet.import(info) {
                Ok(address) if self.wallet.default_address().is_none() => {
                    self.wallet.set_default(address).expect("just imported")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "a logged key does not load"),
            },
            Change::Pushed { signed, uuid } => {
                let signed = *signed;
                if let Some(uuid) = uuid {
                    self.by_uuid.insert(uuid, signed.clone());
                }
                self.queue(signed);
            }
            Change::Advanced => self.advance(),
            Change::BaseFee(fee) => {
                self.base_fees.insert(self.height + 1, fee);
            }
            Change::Block(block) => {
                for key in crate::consensus::validate::slash_filter_keys(&block.header) {
                    self.mined.insert(key, block.cid.0.to_string());
                }
                self.pending_blocks.push(*block);
            }
            Change::Tipset(rest) => self.close_epoch(rest.map(|b| *b)),
            Change::ConsensusFault { miner, epoch } => {
                let until = self.actors.record_consensus_fault(miner, epoch, &self.consensus);
                tracing::warn!(miner, epoch, ?until, "consensus fault recorded: a second block for one epoch");
            }
        }
        self.prune_slash_filter();
    }

    /// Forgets slash filter entries older than the consensus fault's reach (a consensus fault can be reported
    /// within chain finality).
    fn prune_slash_filter(&mut self) {
        const KEEP: usize = 4096;
        if self.mined.len() > KEEP {
            let horizon = self.height - self.consensus.consensus_fault_ineligibility;
            let blocks = &self.blocks;
            self.mined.retain(|_, cid| {
                let cid: Option<Cid> = cid.parse().ok();
                blocks.range(horizon..).any(|(_, t)| t.blocks.iter().any(|b| Some(b.cid.0) == cid))
            });
        }
    }

    /// Makes the next epoch: executes the tipset of the current one (if it was not a null round), then runs the
    /// new epoch's cron. Its tipset is made when it closes ([`Change::Tipset`]).
    fn advance(&mut self) {
        let height = self.height;
        self.execute_tipset(height);
        self.included.clear();
        self.height += 1;
        let env = Env::at(self, self.height);
        self.actors.end_epoch(&env);
    }

    /// Randomness as `StateGetRandomnessFromTickets` / `...FromBeacon` return it.
    pub fn randomness(&self, beacon: bool, tag: i64, round: i64, entropy: &[u8]) -> Result<[u8; 32], String> {
        if round > self.height {
            return Err(format!("cannot draw randomness from the future (round {round}, head {})", self.height));
        }
        Ok(draw(&self.network_name, beacon, tag, round, entropy))
    }

    /// The key address of an account address (ID or key).
    pub fn key_address(&self, address: &Address) -> Option<Address> {
        match address.protocol() {
            Protocol::Secp256k1 | Protocol::BLS => Some(*address),
            _ => self.actors.account_key(address),
        }
    }
}

/// Gas premium MpoolPushMessage gives a message without one: Lotus's `MinGasPremium` floor of its estimate.
pub const MIN_GAS_PREMIUM_ATTO: u64 = 100_000;
/// Lotus's gas limit estimate is the gas used times this, in hundredths (`GasLimitOverestimation`, 1.25).
pub const GAS_LIMIT_OVERESTIMATION_PERCENT: u64 = 125;
/// The fee cap estimate allows the base fee to rise for 20 blocks at 12.5 % each: × 2699 / 256 (lotus
/// `GasEstimateFeeCap` with `maxqueueblks` 20).
const FEE_CAP_FACTOR: (u64, u64) = (2699, 256);
/// The most fees MpoolPushMessage spends on a message when the sender sets no `MaxFee` (Lotus's
/// `DefaultMaxFee`, 0.07 FIL).
pub fn default_max_fee() -> TokenAmount {
    TokenAmount::from_nano(70_000_000u64)
}

/// Fills a message's unset gas fields as Lotus's MpoolPushMessage does: the gas limit from the gas used, the
/// premium, the fee cap from the base fee, then the cap of `MaxFee` (lotus `CapGasFee`).
pub fn estimate_gas(message: &mut Message, base_fee: &TokenAmount, spec: Option<&MessageSendSpec>) {
    if message.gas_limit == 0 {
        message.gas_limit = crate::model::BASE_GAS as u64 * GAS_LIMIT_OVERESTIMATION_PERCENT / 100;
    }
    if message.gas_premium.is_zero() {
        message.gas_premium = TokenAmount::from_atto(MIN_GAS_PREMIUM_ATTO);
    }
    if message.gas_fee_cap.is_zero() {
        message.gas_fee_cap = (base_fee.clone() * FEE_CAP_FACTOR.0).div_floor(FEE_CAP_FACTOR.1) + &message.gas_premium;
    }
    let max_fee = spec.map(|s| s.max_fee.0.clone()).filter(|f| !f.is_zero()).unwrap_or_else(default_max_fee);
    let maximize = spec.is_some_and(|s| s.maximize_fee_cap);
    if maximize || message.gas_fee_cap.clone() * message.gas_limit > max_fee {
        message.gas_fee_cap = max_fee.div_floor(message.gas_limit);
    }
    if message.gas_premium > message.gas_fee_cap {
        message.gas_premium = message.gas_fee_cap.clone();
    }
}

/// Signs a message with the wallet key of its sender.
fn sign(state: &ChainState, message: Message) -> Result<SignedMessageJson, String> {
    let signature = state.wallet.sign(&message.from, &message_cid(&message).to_bytes()).map_err(|e| e.to_string())?;
    Ok(SignedMessageJson {
        message: MessageJson::from_message(&message),
        signature: SignatureJson::from(&signature),
        cid: LotusJson(signed_message_cid(&message, &signature)),
    })
}

/// Randomness of a round: the actors' draw over the devnet's ticket or beacon value of that round.
fn draw(network: &str, beacon: bool, tag: i64, round: i64, entropy: &[u8]) -> [u8; 32] {
    draw_randomness(&base(network, if beacon { "beacon" } else { "ticket" }, round.max(0)), tag, round, entropy)
}

/// The devnet's value of a round: for `"beacon"` its beacon entry's data, for `"ticket"` the base of its ticket
/// randomness.
pub(crate) fn base(network: &str, kind: &str, round: i64) -> [u8; 32] {
    let digest = blake2b_simd::Params::new()
        .hash_length(32)
        .to_state()
        .update(b"sealstack-devnet/")
        .update(network.as_bytes())
        .update(kind.as_bytes())
        .update(&round.to_be_bytes())
        .finalize();
    digest.as_bytes().try_into().expect("32 bytes")
}

/// `ReturnDec` for the returns the devnet knows (CreateMiner), else null.
pub(crate) fn decode_return(executed: &Executed) -> serde_json::Value {
    use sealstack_chain::actors::{STORAGE_POWER_ACTOR, methods};
    let create = [methods::CREATE_MINER, methods::CREATE_MINER_EXPORTED];
    if executed.exit_code == 0
        && executed.to.0 == STORAGE_POWER_ACTOR
        && create.contains(&executed.method)
        && let Ok((id, robust)) = sealstack_chain::actors::decode_create_miner_return(&executed.return_data)
    {
        return serde_json::json!({ "IDAddress": id.to_string(), "RobustAddress": robust.to_string() });
    }
    serde_json::Value::Null
}

/// What a message executes against: the state's epoch, randomness, policy and real proof verification.
pub(crate) struct Env {
    network: String,
    epoch: i64,
    creation_deposit: TokenAmount,
    policy: SectorPolicy,
    base_fee: TokenAmount,
}

impl Env {
    /// The environment of `state` at `epoch` (copies of the few values it needs, so the actors can be
    /// mutated in place while it is in use).
    pub(crate) fn at(state: &ChainState, epoch: i64) -> Self {
        Env {
            network: state.network_name.clone(),
            epoch,
            creation_deposit: state.creation_deposit.0.clone(),
            policy: state.policy.clone(),
            base_fee: state.base_fee_at(epoch),
        }
    }
}

impl ChainEnv for Env {
    fn epoch(&self) -> i64 {
        self.epoch
    }
    fn ticket_randomness(&self, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32] {
        draw(&self.network, false, tag, epoch, entropy)
    }
    fn beacon_randomness(&self, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32] {
        draw(&self.network, true, tag, epoch, entropy)
    }
    fn creation_deposit(&self) -> TokenAmount {
        self.creation_deposit.clone()
    }
    fn policy(&self) -> SectorPolicy {
        self.policy.clone()
    }
    fn base_fee(&self) -> TokenAmount {
        self.base_fee.clone()
    }
    fn verify_seal(&self, seal: &SealToVerify) -> Result<bool, String> {
        crate::proofs::verify_seal(seal)
    }
    fn verify_aggregate_seal(&self, aggregate: &AggregateToVerify) -> Result<bool, String> {
        crate::proofs::verify_aggregate_seal(aggregate)
    }
    fn verify_window_post(&self, post: &PoStToVerify) -> Result<bool, String> {
        crate::proofs::verify_window_post(post)
    }
}

/// The running devnet: state behind a lock, the head height broadcast to waiters, persistence to the repo.
pub struct DevnetNode {
    state: Mutex<ChainState>,
    head: watch::Sender<i64>,
    store: ChainStore,
    /// Time between epochs.
    pub block_time: Duration,
    /// While set, the epoch timer closes no epoch (a test's pause).
    held: std::sync::atomic::AtomicBool,
}

impl DevnetNode {
    /// A node over `state`, saving its changes to `store`.
    pub fn new(state: ChainState, store: ChainStore, block_time: Duration) -> Arc<Self> {
        let (head, _) = watch::channel(state.height);
        Arc::new(DevnetNode { state: Mutex::new(state), head, store, block_time, held: Default::default() })
    }

    /// The state, locked.
    pub fn state(&self) -> MutexGuard<'_, ChainState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver of head heights.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// Makes a key (`WalletNew`), saved before its address is returned.
    pub fn new_key(&self, key_type: KeyType) -> std::io::Result<Address> {
        let key = crate::wallet::Key::generate(key_type);
        let mut state = self.state();
        let seq = self.store.commit(&mut state, Change::Key(key.key_info().clone()));
        drop(state);
        self.store.sync(seq?)?;
        Ok(key.address())
    }

    /// Assigns a nonce, estimates gas as Lotus does, signs and queues a message (MpoolPushMessage).
    pub fn push_message(
        &self,
        message: MessageJson,
        spec: Option<MessageSendSpec>,
    ) -> Result<SignedMessageJson, String> {
        let mut state = self.state();
        let uuid =
            spec.as_ref().map(|s| s.msg_uuid.clone()).filter(|u| !u.is_empty() && u != MessageSendSpec::NIL_UUID);
        if let Some(signed) = uuid.as_ref().and_then(|u| state.by_uuid.get(u)) {
            tracing::info!(cid = %signed.cid.0, "message with this MsgUuid already signed: returning it");
            return Ok(signed.clone());
        }
        let mut message: Message = message.to_message();
        if message.sequence != 0 {
            return Err(format!("MpoolPushMessage expects message nonce to be 0, was {}", message.sequence));
        }
        let from = state
            .key_address(&message.from)
            .ok_or_else(|| format!("resolution lookup failed ({}): actor not found", message.from))?;
        if !state.wallet.has(&from) {
            return Err(format!("failed to sign message: key not found for {from}"));
        }
        message.from = from;
        message.sequence = state.next_nonce(&from);
        estimate_gas(&mut message, &state.base_fee_at(state.height), spec.as_ref());
        let signed = sign(&state, message)?;
        state.check_push(&signed, true)?;
        let seq = self.store.commit(&mut state, Change::Pushed { signed: Box::new(signed.clone()), uuid });
        drop(state);
        seq.and_then(|seq| self.store.sync(seq)).map_err(|e| format!("cannot save the devnet state: {e}"))?;
        Ok(signed)
    }

    /// Queues a message signed elsewhere (MpoolPush), replacing a pending one by fee when its premium is high
    /// enough.
    pub fn push_signed(&self, signed: SignedMessageJson) -> Result<Cid, String> {
        let message = signed.message.to_message();
        let signature = signed.signature.to_signature().ok_or("unrecognized signature type")?;
        // The CID is computed, not trusted (Lotus's JSON input ignores it).
        let signed = SignedMessageJson {
            message: MessageJson::from_message(&message),
            signature: SignatureJson::from(&signature),
            cid: LotusJson(signed_message_cid(&message, &signature)),
        };
        let mut state = self.state();
        state.check_push(&signed, false)?;
        let cid = signed.cid.0;
        let seq = self.store.commit(&mut state, Change::Pushed { signed: Box::new(signed), uuid: None });
        drop(state);
        seq.and_then(|seq| self.store.sync(seq)).map_err(|e| format!("cannot save the devnet state: {e}"))?;
        Ok(cid)
    }

    /// Signs a message as given with the wallet key of `address` (WalletSignMessage).
    pub fn sign_message(&self, address: &Address, message: MessageJson) -> Result<SignedMessageJson, String> {
        let state = self.state();
        let key = state.key_address(address).ok_or_else(|| format!("failed to resolve ID address: {address}"))?;
        let message = message.to_message();
        let signature = state.wallet.sign(&key, &message_cid(&message).to_bytes()).map_err(|e| e.to_string())?;
        Ok(SignedMessageJson {
            message: MessageJson::from_message(&message),
            signature: SignatureJson::from(&signature),
            cid: LotusJson(signed_message_cid(&message, &signature)),
        })
    }

    /// Sets the base fee of the tipsets made from now on (a test's congestion; Lotus computes it from block
    /// fullness). Lotus's minimum, 100 attoFIL, is the least.
    pub fn set_base_fee(&self, fee: TokenAmount) -> Result<(), String> {
        if fee < TokenAmount::from_atto(crate::mempool::MINIMUM_BASE_FEE_ATTO) {
            return Err(format!("the base fee cannot be below {} attoFIL", crate::mempool::MINIMUM_BASE_FEE_ATTO));
        }
        let mut state = self.state();
        let seq = self.store.commit(&mut state, Change::BaseFee(LotusJson(fee)));
        drop(state);
        seq.and_then(|seq| self.store.sync(seq)).map_err(|e| format!("cannot save the devnet state: {e}"))
    }

    /// Closes the open epoch and opens the next: executes the current tipset and runs the cron
    /// ([`Change::Advanced`]), then makes the epoch's tipset from the blocks submitted for it and the rest of
    /// the network's block ([`Change::Tipset`]); saves both and wakes waiters.
    pub fn advance(&self) {
        let mut state = self.state();
        let committed = self.store.commit(&mut state, Change::Advanced).and_then(|_| {
            let rest = state.rest_of_network_block().map(Box::new);
            self.store.commit(&mut state, Change::Tipset(rest))
        });
        let height = state.height;
        drop(state);
        if let Err(e) = committed.and_then(|seq| self.store.sync(seq)) {
            tracing::error!(error = %e, "cannot save the devnet state");
            return;
        }
        self.head.send_replace(height);
    }

    /// `SyncSubmitBlock`: validates a block and keeps it for its epoch's tipset, saved before the answer; a
    /// second block of a miner for an epoch is refused and recorded as a consensus fault.
    pub fn submit_block(&self, block: &sealstack_chain::block::BlockMsg) -> Result<(), String> {
        let mut state = self.state();
        let (change, answer) = match state.check_submission(block) {
            crate::consensus::validate::Submission::Accepted(stored) => {
                tracing::info!(block = %stored.cid.0, miner = %stored.header.miner.0, height = stored.header.height, "block accepted");
                (Some(Change::Block(stored)), Ok(()))
            }
            crate::consensus::validate::Submission::AlreadyKnown => (None, Ok(())),
            crate::consensus::validate::Submission::ConsensusFault { miner, epoch, message } => {
                (Some(Change::ConsensusFault { miner, epoch }), Err(message))
            }
            crate::consensus::validate::Submission::Refused(message) => {
                tracing::info!(miner = %block.header.miner.0, height = block.header.height, %message, "block refused");
                (None, Err(message))
            }
        };
        if let Some(change) = change {
            let seq = self.store.commit(&mut state, change);
            drop(state);
            seq.and_then(|seq| self.store.sync(seq)).map_err(|e| format!("cannot save the devnet state: {e}"))?;
        }
        answer
    }

    /// Closes an epoch every `block_time` until the process ends (none while [`DevnetNode::hold_epochs`]).
    pub async fn run_epochs(self: Arc<Self>) {
        let mut ticker = tokio::time::interval(self.block_time);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if self.held.load(std::sync::atomic::Ordering::SeqCst) {
                continue;
            }
            let node = self.clone();
            if tokio::task::spawn_blocking(move || node.advance()).await.is_err() {
                tracing::error!("epoch task panicked");
            }
        }
    }

    /// Holds the epoch timer (`true`: the open epoch stays open, blocks may still be submitted for it) or lets
    /// it go on (`false`); for tests that act within one epoch.
    pub fn hold_epochs(&self, hold: bool) {
        self.held.store(hold, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits until epoch `round` is open (its beacon entry exists: `StateGetBeaconEntry`), at most `limit`.
    pub async fn wait_for_epoch(&self, round: i64, limit: Duration) -> Result<(), String> {
        let mut heads = self.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.state().height + 1 >= round {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, heads.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err("devnet shutting down".into()),
                Err(_) => return Err(format!("beacon entry for round {round} not available within {limit:?}")),
            }
        }
    }

    /// Waits until `cid` (or, with `allow_replaced`, its replacement) executed with `confidence` tipsets on
    /// top (StateWaitMsg).
    pub async fn wait_message(&self, cid: Cid, confidence: u64, allow_replaced: bool) -> Result<MsgLookup, String> {
        let mut heads = self.subscribe();
        loop {
            {
                let state = self.state();
                if !state.knows(&cid) {
                    return Err(format!("failed to load message {cid}: not found"));
                }
                if let Some(lookup) = state.search(&cid, allow_replaced)?
                    && state.height >= lookup.height + confidence as i64
                {
                    return Ok(lookup);
                }
            }
            if heads.changed().await.is_err() {
                return Err("devnet shutting down".to_string());
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sealstack_chain::json::TipSetKey;

    #[test]
    fn tipsets_chain_and_keys_resolve() {
        let mut state = ChainState::genesis(
            "devnet",
            TokenAmount::from_whole(1),
            TokenAmount::from_atto(1),
            SectorPolicy::default(),
        );
        for _ in 0..3 {
            next_epoch(&mut state);
        }
        assert_eq!(state.height, 3);
        let head = state.head_height();
        let ts = state.tipset(head);
        let parent = state.tipset(head - 1);
        assert_eq!(ts.blocks[0].parents, parent.cids);
        assert_eq!(state.height_of(&parent.cids).unwrap(), parent.height);
        assert_eq!(state.height_of(&TipSetKey::head()).unwrap(), head);
        assert_eq!(ts.blocks[0].miner.id().unwrap(), crate::consensus::REST_OF_NETWORK_MINER);
        assert!(state.randomness(true, 4, 4, b"").is_err(), "no randomness from the future");
        assert_ne!(state.randomness(true, 4, 2, b"").unwrap(), state.randomness(false, 4, 2, b"").unwrap());
    }

    /// Makes the next epoch and closes it, as the node's timer does.
    pub(crate) fn next_epoch(state: &mut ChainState) {
        let seq = state.log_seq;
        state.apply(seq + 1, Change::Advanced);
        let rest = state.rest_of_network_block().map(Box::new);
        state.apply(seq + 2, Change::Tipset(rest));
    }
}
