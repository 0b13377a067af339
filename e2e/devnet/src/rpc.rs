//! The devnet's implementation of the `Filecoin.*` API trait from `sealstack-chain`.

use std::sync::Arc;

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::types::ErrorObjectOwned;
use sealstack_chain::actor_state::ActorStateJson;
use sealstack_chain::api::FullNodeServer;
use sealstack_chain::auth::{Permission, create_token, verify_token};
use sealstack_chain::block::{BlockMessages, BlockMsg, BlockTemplate, MiningBaseInfo};
use sealstack_chain::json::{LotusJson, NilVec, TipSetKey};
use sealstack_chain::message::{MessageJson, MessageSendSpec, SignatureJson, SignedMessageJson};
use sealstack_chain::miner::{
    BitFieldJson, DeadlineInfo, MinerDeadline, MinerInfo, MinerPower, MinerSectorCount, PartitionJson, PowerClaim,
    SectorLocation, SectorOnChainInfoJson, SectorPreCommitInfoJson, SectorPreCommitOnChainInfoJson,
};
use sealstack_chain::node::{
    ActiveSync, ActorJson, AddrInfo, ApiVersion, FULL_API_VERSION_V1, MsgLookup, NetworkParams, SyncState, sync_stage,
};
use sealstack_chain::tipset::{BeaconEntry, BlockHeader, TipSet};

use crate::model::{ActorKind, MinerActor, StateEngine};
use crate::node::{ChainState, DevnetNode};
use crate::wallet::KeyType;

/// The network version the devnet reports (actors v18 run from nv28).
pub const NETWORK_VERSION: u32 = 28;
/// The EVM chain ID of Lotus's 2k devnet build (`Eip155ChainId`; mainnet 314).
pub const EIP155_CHAIN_ID: i64 = 31_415_926;

/// The API server state.
pub struct DevnetApi {
    /// The node.
    pub node: Arc<DevnetNode>,
    /// The JWT secret.
    pub secret: Arc<Vec<u8>>,
    /// The devnet's libp2p peer ID (it runs no libp2p host; see the README).
    pub peer_id: String,
}

/// A Lotus method error (JSON-RPC code 1).
/// Lotus's JSON-RPC code for "actor not found" from StateLookupID (lotus api/api_errors.go `EActorNotFound`:
/// go-jsonrpc's first user code 2 + 9).
const ACTOR_NOT_FOUND: i32 = 11;

fn error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(1, message.into(), None)
}

/// The epoch a state query is answered at: the current epoch for the empty key, else the tipset's height.
fn at(state: &ChainState, tsk: &TipSetKey) -> RpcResult<i64> {
    if tsk.0.is_empty() {
        return Ok(state.height);
    }
    state.height_of(tsk).map_err(error)
}

fn miner<'a>(state: &'a ChainState, address: &Address) -> RpcResult<&'a MinerActor> {
    state.actors.miner(address).ok_or_else(|| error(format!("actor {address} is not a miner (or not found)")))
}

impl DevnetApi {
    /// A per-sector amount of the policy for an existing miner, with the 10 % Lotus adds to the actor's figure.
    fn per_sector_amount(
        &self,
        address: &Address,
        tsk: &TipSetKey,
        amount: fn(&crate::model::SectorPolicy) -> u64,
    ) -> RpcResult<LotusJson<TokenAmount>> {
        let state = self.node.state();
        at(&state, tsk)?;
        miner(&state, address)?;
        Ok(LotusJson(TokenAmount::from_atto(amount(&state.policy) / 100 * 110)))
    }
}

#[async_trait]
impl FullNodeServer for DevnetApi {
    async fn version(&self) -> RpcResult<ApiVersion> {
        Ok(ApiVersion {
            version: format!("1.36.2+sealstack-devnet+{}", env!("CARGO_PKG_VERSION")),
            api_version: FULL_API_VERSION_V1,
            block_delay: self.node.block_time.as_secs().max(1),
            agent: "sealstack-devnet".into(),
        })
    }

    async fn auth_verify(&self, token: String) -> RpcResult<Vec<Permission>> {
        verify_token(&self.secret, &token).map_err(|e| error(e.to_string()))
    }

    async fn auth_new(&self, permissions: Vec<Permission>) -> RpcResult<LotusJson<Vec<u8>>> {
        Ok(LotusJson(create_token(&self.secret, &permissions).into_bytes()))
    }

    async fn chain_head(&self) -> RpcResult<TipSet> {
        let state = self.node.state();
        Ok(state.tipset(state.head_height()))
    }

    async fn chain_get_tipset_by_height(&self, height: i64, tsk: TipSetKey) -> RpcResult<TipSet> {
        let state = self.node.state();
        let top = at(&state, &tsk)?;
        if height > top {
            return Err(error(format!("looking for tipset with height greater than start point ({height} > {top})")));
        }
        Ok(state.tipset(height))
    }

    async fn sync_state(&self) -> RpcResult<SyncState> {
        let state = self.node.state();
        let head = state.tipset(state.head_height());
        Ok(SyncState {
            active_syncs: vec![ActiveSync {
                worker_id: 0,
                base: Some(head.clone()),
                target: Some(head),
                stage: sync_stage::COMPLETE,
                height: state.height,
                start: String::new(),
                end: String::new(),
                message: String::new(),
            }],
            vm_applied: state.executed.len() as u64,
        })
    }

    async fn net_addrs_listen(&self) -> RpcResult<AddrInfo> {
        Ok(AddrInfo { id: self.peer_id.clone(), addrs: Vec::new() })
    }

    async fn state_network_name(&self) -> RpcResult<String> {
        Ok(self.node.state().network_name.clone())
    }

    async fn state_get_network_params(&self) -> RpcResult<NetworkParams> {
        let state = self.node.state();
        Ok(NetworkParams {
            network_name: state.network_name.clone(),
            block_delay_secs: state.block_delay_secs,
            consensus_miner_min_power: state.consensus.consensus_miner_min_power.to_string(),
            pre_commit_challenge_delay: state.policy.pre_commit_challenge_delay,
            fork_upgrade_params: sealstack_chain::network::ForkUpgradeParams::devnet(),
            eip155_chain_id: EIP155_CHAIN_ID,
            genesis_timestamp: state.genesis_timestamp,
        })
    }

    async fn state_network_version(&self, tsk: TipSetKey) -> RpcResult<u32> {
        at(&self.node.state(), &tsk)?;
        Ok(NETWORK_VERSION)
    }

    async fn wallet_default_address(&self) -> RpcResult<LotusJson<Address>> {
        self.node.state().wallet.default_address().map(LotusJson).ok_or_else(|| error("no default address"))
    }

    async fn wallet_new(&self, key_type: String) -> RpcResult<LotusJson<Address>> {
        let key_type: KeyType = key_type.parse().map_err(|e: crate::wallet::WalletError| error(e.to_string()))?;
        let address = self.node.new_key(key_type).map_err(|e| error(format!("cannot save the key: {e}")))?;
        Ok(LotusJson(address))
    }

    async fn wallet_has(&self, address: LotusJson<Address>) -> RpcResult<bool> {
        Ok(self.node.state().wallet.has(&address))
    }

    async fn wallet_list(&self) -> RpcResult<Vec<LotusJson<Address>>> {
        Ok(self.node.state().wallet.list().into_iter().map(LotusJson).collect())
    }

    async fn wallet_balance(&self, address: LotusJson<Address>) -> RpcResult<LotusJson<TokenAmount>> {
        let state = self.node.state();
        Ok(LotusJson(state.actors.actor(&address).map(|a| a.balance.0.clone()).unwrap_or_default()))
    }

    async fn mpool_get_nonce(&self, address: LotusJson<Address>) -> RpcResult<u64> {
        Ok(self.node.state().next_nonce(&address))
    }

    async fn mpool_push_message(
        &self,
        message: MessageJson,
        spec: Option<MessageSendSpec>,
    ) -> RpcResult<SignedMessageJson> {
        self.node.push_message(message, spec).map_err(error)
    }

    async fn state_wait_msg(
        &self,
        cid: LotusJson<Cid>,
        confidence: u64,
        _limit: i64,
        allow_replaced: bool,
    ) -> RpcResult<MsgLookup> {
        self.node.wait_message(cid.0, confidence, allow_replaced).await.map_err(error)
    }

    async fn state_search_msg(
        &self,
        _tsk: TipSetKey,
        cid: LotusJson<Cid>,
        _limit: i64,
        allow_replaced: bool,
    ) -> RpcResult<Option<MsgLookup>> {
        self.node.state().search(&cid, allow_replaced).map_err(error)
    }

    async fn state_lookup_id(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<LotusJson<Address>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        state.actors.lookup_id(&address).map(|id| LotusJson(Address::new_id(id))).ok_or_else(|| {
            // Lotus answers with its registered ErrActorNotFound (api/api_errors.go EActorNotFound = 11).
            let message = format!("resolution lookup failed ({}): actor not found", address.0);
            ErrorObjectOwned::owned::<()>(ACTOR_NOT_FOUND, message, None)
        })
    }

    async fn state_account_key(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<LotusJson<Address>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        state
            .actors
            .account_key(&address)
            .map(LotusJson)
            .ok_or_else(|| error(format!("{} is not an account", address.0)))
    }

    async fn state_get_actor(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<ActorJson> {
        let state = self.node.state();
        at(&state, &tsk)?;
        let actor = state.actors.actor(&address).ok_or_else(|| error(format!("actor not found: {}", address.0)))?;
        let code = code_cid(actor);
        let head = sealstack_chain::message::cbor_cid(&serde_json::to_vec(actor).unwrap_or_default());
        Ok(ActorJson {
            code: LotusJson(code),
            head: LotusJson(head),
            nonce: actor.nonce,
            balance: actor.balance.clone(),
            delegated_address: None,
        })
    }

    async fn state_miner_creation_deposit(&self, tsk: TipSetKey) -> RpcResult<LotusJson<TokenAmount>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(state.creation_deposit.clone())
    }

    async fn state_list_miners(&self, tsk: TipSetKey) -> RpcResult<Vec<LotusJson<Address>>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(state.actors.miner_ids().into_iter().map(|id| LotusJson(Address::new_id(id))).collect())
    }

    async fn state_miner_power(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<MinerPower> {
        let state = self.node.state();
        at(&state, &tsk)?;
        let own = miner(&state, &address)?.power();
        let claim = |bytes: String| PowerClaim { raw_byte_power: bytes.clone(), quality_adj_power: bytes };
        Ok(MinerPower {
            miner_power: claim(own.to_string()),
            total_power: claim(state.network_power().to_string()),
            has_min_power: state.has_min_power(&address),
        })
    }

    async fn state_miner_info(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<MinerInfo> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(miner(&state, &address)?.info())
    }

    async fn state_get_randomness_from_tickets(
        &self,
        personalization: i64,
        epoch: i64,
        entropy: LotusJson<Vec<u8>>,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<Vec<u8>>> {
        // Lotus loads the key as it is for this one (chain/stmgr/stmgr.go GetRandomnessFromTickets): the empty key
        // is refused, not read as the head as everywhere else.
        if tsk.0.is_empty() {
            return Err(error("loading tipset key: NewTipSet called with zero length array of blocks"));
        }
        let state = self.node.state();
        at(&state, &tsk)?;
        state.randomness(false, personalization, epoch, &entropy).map(|r| LotusJson(r.to_vec())).map_err(error)
    }

    async fn state_get_randomness_from_beacon(
        &self,
        personalization: i64,
        epoch: i64,
        entropy: LotusJson<Vec<u8>>,
        _tsk: TipSetKey,
    ) -> RpcResult<LotusJson<Vec<u8>>> {
        let state = self.node.state();
        state.randomness(true, personalization, epoch, &entropy).map(|r| LotusJson(r.to_vec())).map_err(error)
    }

    async fn state_miner_pre_commit_deposit_for_power(
        &self,
        address: LotusJson<Address>,
        _info: SectorPreCommitInfoJson,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<TokenAmount>> {
        self.per_sector_amount(&address, &tsk, |policy| policy.pre_commit_deposit)
    }

    async fn state_miner_initial_pledge_collateral(
        &self,
        address: LotusJson<Address>,
        _info: SectorPreCommitInfoJson,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<TokenAmount>> {
        self.per_sector_amount(&address, &tsk, |policy| policy.initial_pledge)
    }

    async fn state_sector_pre_commit_info(
        &self,
        address: LotusJson<Address>,
        sector: u64,
        tsk: TipSetKey,
    ) -> RpcResult<Option<SectorPreCommitOnChainInfoJson>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        let miner = miner(&state, &address)?;
        Ok(miner.precommits.get(&sector).map(|p| SectorPreCommitOnChainInfoJson {
            info: SectorPreCommitInfoJson {
                seal_proof: p.seal_proof,
                sector_number: sector,
                sealed_cid: p.sealed_cid.clone(),
                seal_rand_epoch: p.seal_rand_epoch,
                deal_ids: None,
                expiration: p.expiration,
                unsealed_cid: p.unsealed_cid.clone(),
            },
            pre_commit_deposit: p.deposit.clone(),
            pre_commit_epoch: p.pre_commit_epoch,
        }))
    }

    async fn state_miner_proving_deadline(
        &self,
        address: LotusJson<Address>,
        tsk: TipSetKey,
    ) -> RpcResult<DeadlineInfo> {
        let state = self.node.state();
        let height = at(&state, &tsk)?;
        Ok(miner(&state, &address)?.deadline_info(height, &state.policy))
    }

    async fn state_miner_partitions(
        &self,
        address: LotusJson<Address>,
        deadline: u64,
        tsk: TipSetKey,
    ) -> RpcResult<NilVec<PartitionJson>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(miner(&state, &address)?.partitions_json(deadline).into())
    }

    async fn state_miner_sectors(
        &self,
        address: LotusJson<Address>,
        filter: Option<BitFieldJson>,
        tsk: TipSetKey,
    ) -> RpcResult<Vec<SectorOnChainInfoJson>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        let miner = miner(&state, &address)?;
        let wanted = filter.map(|f| f.numbers());
        Ok(miner
            .sectors
            .keys()
            .filter(|n| wanted.as_ref().is_none_or(|w| w.contains(n)))
            .filter_map(|n| miner.sector_info_json(*n))
            .collect())
    }

    async fn state_miner_faults(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<BitFieldJson> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(BitFieldJson::from_numbers(&miner(&state, &address)?.faults()))
    }

    async fn state_miner_recoveries(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<BitFieldJson> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(BitFieldJson::from_numbers(&miner(&state, &address)?.recoveries()))
    }

    async fn state_miner_deadlines(
        &self,
        address: LotusJson<Address>,
        tsk: TipSetKey,
    ) -> RpcResult<Vec<MinerDeadline>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(miner(&state, &address)?.deadlines_json())
    }

    async fn state_miner_available_balance(
        &self,
        address: LotusJson<Address>,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<TokenAmount>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        let miner = miner(&state, &address)?;
        // Nothing vests on the devnet, so there are no vested funds to add (Lotus adds them).
        Ok(LotusJson(miner.funds.available(&state.actors.balance(miner.id))))
    }

    async fn state_miner_sector_count(
        &self,
        address: LotusJson<Address>,
        tsk: TipSetKey,
    ) -> RpcResult<MinerSectorCount> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(miner(&state, &address)?.sector_count())
    }

    async fn state_miner_active_sectors(
        &self,
        address: LotusJson<Address>,
        tsk: TipSetKey,
    ) -> RpcResult<Vec<SectorOnChainInfoJson>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        let miner = miner(&state, &address)?;
        Ok(miner.active_sectors().into_iter().filter_map(|n| miner.sector_info_json(n)).collect())
    }

    async fn state_sector_get_info(
        &self,
        address: LotusJson<Address>,
        sector: u64,
        tsk: TipSetKey,
    ) -> RpcResult<Option<SectorOnChainInfoJson>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(miner(&state, &address)?.sector_info_json(sector))
    }

    async fn state_sector_partition(
        &self,
        address: LotusJson<Address>,
        sector: u64,
        tsk: TipSetKey,
    ) -> RpcResult<Option<SectorLocation>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        // As Lotus: a sector in no partition is an error, not null.
        miner(&state, &address)?
            .sector_location(sector)
            .map(Some)
            .ok_or_else(|| error(format!("sector {sector} not due at any deadline")))
    }

    async fn state_read_state(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<ActorStateJson> {
        let state = self.node.state();
        let height = at(&state, &tsk)?;
        let actor = state
            .actors
            .actor(&address)
            .ok_or_else(|| error(format!("getting actor: actor not found: {}", address.0)))?;
        let json = match &actor.kind {
            ActorKind::Miner(miner) => miner.state_json(height, &state.policy),
            ActorKind::Account(key) => serde_json::json!({ "Address": key.0.to_string() }),
            ActorKind::Builtin(name) if name == "reward" => crate::rpc_mining::reward_state(&state),
            ActorKind::Builtin(_) => serde_json::json!({}),
        };
        Ok(ActorStateJson { balance: actor.balance.clone(), code: LotusJson(code_cid(actor)), state: json })
    }

    async fn mpool_push(&self, message: SignedMessageJson) -> RpcResult<LotusJson<Cid>> {
        self.node.push_signed(message).map(LotusJson).map_err(error)
    }

    async fn wallet_sign_message(
        &self,
        address: LotusJson<Address>,
        message: MessageJson,
    ) -> RpcResult<SignedMessageJson> {
        self.node.sign_message(&address, message).map_err(error)
    }

    async fn chain_get_message(&self, cid: LotusJson<Cid>) -> RpcResult<MessageJson> {
        let state = self.node.state();
        let signed =
            state.message(&cid).ok_or_else(|| error(format!("failed to load message: {} not found", cid.0)))?;
        Ok(MessageJson::from_message(&signed.message.to_message()))
    }

    async fn mpool_pending(&self, tsk: TipSetKey) -> RpcResult<Vec<SignedMessageJson>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        Ok(state.mempool.clone())
    }

    async fn state_get_beacon_entry(&self, epoch: i64) -> RpcResult<BeaconEntry> {
        self.node.wait_for_epoch(epoch, crate::rpc_mining::BEACON_WAIT).await.map_err(error)?;
        Ok(self.node.state().beacon_entry(epoch))
    }

    async fn miner_get_base_info(
        &self,
        miner: LotusJson<Address>,
        epoch: i64,
        tsk: TipSetKey,
    ) -> RpcResult<Option<MiningBaseInfo>> {
        self.node.state().mining_base_info(&miner, epoch, &tsk).map_err(error)
    }

    async fn miner_create_block(&self, template: BlockTemplate) -> RpcResult<BlockMsg> {
        self.node.state().create_block(&template).map_err(error)
    }

    async fn sync_submit_block(&self, block: BlockMsg) -> RpcResult<()> {
        let node = self.node.clone();
        // Validation verifies a WinningPoSt: off the async workers.
        tokio::task::spawn_blocking(move || node.submit_block(&block))
            .await
            .map_err(|e| error(format!("block validation panicked: {e}")))?
            .map_err(error)
    }

    async fn mpool_select(&self, tsk: TipSetKey, _ticket_quality: f64) -> RpcResult<NilVec<SignedMessageJson>> {
        let state = self.node.state();
        at(&state, &tsk)?;
        // An empty selection is null, as Lotus writes a Go nil slice.
        Ok(state.selectable(&state.base_fee_at(state.height + 1)).into())
    }

    async fn chain_get_block(&self, cid: LotusJson<Cid>) -> RpcResult<BlockHeader> {
        let state = self.node.state();
        state.block(&cid).map(|b| b.header.clone()).ok_or_else(|| error(crate::rpc_mining::block_not_found(&cid)))
    }

    async fn chain_get_block_messages(&self, cid: LotusJson<Cid>) -> RpcResult<BlockMessages> {
        crate::rpc_mining::block_messages(&self.node.state(), &cid).map_err(error)
    }

    async fn chain_tipset_weight(&self, tsk: TipSetKey) -> RpcResult<String> {
        let state = self.node.state();
        let height = state.height_of(&tsk).map_err(error)?;
        Ok(state.tipset_at(height).map(|t| t.weight.clone()).unwrap_or_default())
    }

    async fn wallet_sign(&self, address: LotusJson<Address>, data: LotusJson<Vec<u8>>) -> RpcResult<SignatureJson> {
        let state = self.node.state();
        let key =
            state.key_address(&address).ok_or_else(|| error(format!("failed to resolve ID address: {}", address.0)))?;
        let signature = state.wallet.sign(&key, &data).map_err(|e| error(e.to_string()))?;
        Ok(SignatureJson::from(&signature))
    }
}

/// The devnet's code CID of an actor: the CID of `fil/18/<name>` (not the real bundle's).
fn code_cid(actor: &crate::model::ActorState) -> Cid {
    sealstack_chain::message::cbor_cid(format!("fil/18/{}", actor.kind.name()).as_bytes())
}
