//! The Lotus full-node API v1 subset sealstack uses, as one jsonrpsee trait: the client (operator, miner
//! runtime) and the devnet's server share this definition, so their wire formats cannot drift apart.
//!
//! Method names, parameter order and counts, and JSON shapes follow Lotus's api/api_full.go and
//! documentation/en/api-methods-v1-stable.md. [`METHODS`] lists each method's permission and parameter
//! count, which Lotus enforces exactly (go-jsonrpc: "wrong param count").

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use crate::actor_state::ActorStateJson;
use crate::auth::Permission;
use crate::block::{BlockMessages, BlockMsg, BlockTemplate, MiningBaseInfo};
use crate::json::{LotusJson, NilVec, TipSetKey};
use crate::message::{MessageJson, MessageSendSpec, SignatureJson, SignedMessageJson};
use crate::miner::{
    BitFieldJson, DeadlineInfo, MinerDeadline, MinerInfo, MinerPower, MinerSectorCount, PartitionJson, SectorLocation,
    SectorOnChainInfoJson, SectorPreCommitInfoJson, SectorPreCommitOnChainInfoJson,
};
use crate::node::{ActorJson, AddrInfo, ApiVersion, MsgLookup, NetworkParams, SyncState};
use crate::tipset::{BeaconEntry, BlockHeader, TipSet};

/// The JSON-RPC namespace of the full-node API.
pub const NAMESPACE: &str = "Filecoin";

/// `StateWaitMsg`/`StateSearchMsg` lookback limit meaning "no limit" (lotus api.LookbackNoLimit).
pub const LOOKBACK_NO_LIMIT: i64 = -1;

/// The Lotus full-node API v1 subset. `client` generates `FullNodeClient` (implemented for every jsonrpsee
/// client), `server` generates `FullNodeServer` (implemented by the devnet).
#[rpc(client, server, namespace = "Filecoin", namespace_separator = ".")]
pub trait FullNode {
    /// The node's version and block delay.
    #[method(name = "Version")]
    async fn version(&self) -> RpcResult<ApiVersion>;

    /// The permissions a token grants.
    #[method(name = "AuthVerify")]
    async fn auth_verify(&self, token: String) -> RpcResult<Vec<Permission>>;

    /// A new token with the given permissions, as bytes.
    #[method(name = "AuthNew")]
    async fn auth_new(&self, permissions: Vec<Permission>) -> RpcResult<LotusJson<Vec<u8>>>;

    /// The current head.
    #[method(name = "ChainHead")]
    async fn chain_head(&self) -> RpcResult<TipSet>;

    /// The tipset at a height (or the first non-null one before it), looking back from `tsk`.
    #[method(name = "ChainGetTipSetByHeight")]
    async fn chain_get_tipset_by_height(&self, height: i64, tsk: TipSetKey) -> RpcResult<TipSet>;

    /// Sync progress.
    #[method(name = "SyncState")]
    async fn sync_state(&self) -> RpcResult<SyncState>;

    /// The node's libp2p identity and listen addresses.
    #[method(name = "NetAddrsListen")]
    async fn net_addrs_listen(&self) -> RpcResult<AddrInfo>;

    /// The network's name (e.g. `mainnet`, `calibrationnet`, or a devnet's name).
    #[method(name = "StateNetworkName")]
    async fn state_network_name(&self) -> RpcResult<String>;

    /// The network's parameters (name, block delay, sealing delays).
    #[method(name = "StateGetNetworkParams")]
    async fn state_get_network_params(&self) -> RpcResult<NetworkParams>;

    /// The network version at a tipset.
    #[method(name = "StateNetworkVersion")]
    async fn state_network_version(&self, tsk: TipSetKey) -> RpcResult<u32>;

    /// The wallet's default address.
    #[method(name = "WalletDefaultAddress")]
    async fn wallet_default_address(&self) -> RpcResult<LotusJson<Address>>;

    /// Creates a key (`"bls"` or `"secp256k1"`) and returns its address.
    #[method(name = "WalletNew")]
    async fn wallet_new(&self, key_type: String) -> RpcResult<LotusJson<Address>>;

    /// Whether the wallet holds the key of an address.
    #[method(name = "WalletHas")]
    async fn wallet_has(&self, address: LotusJson<Address>) -> RpcResult<bool>;

    /// The wallet's addresses.
    #[method(name = "WalletList")]
    async fn wallet_list(&self) -> RpcResult<Vec<LotusJson<Address>>>;

    /// An address's balance.
    #[method(name = "WalletBalance")]
    async fn wallet_balance(&self, address: LotusJson<Address>) -> RpcResult<LotusJson<TokenAmount>>;

    /// The next nonce of a sender, counting pending messages.
    #[method(name = "MpoolGetNonce")]
    async fn mpool_get_nonce(&self, address: LotusJson<Address>) -> RpcResult<u64>;

    /// Assigns a nonce, estimates gas, signs with the wallet and pushes. With a non-nil `MsgUuid`, a repeated
    /// push returns the message signed the first time.
    #[method(name = "MpoolPushMessage")]
    async fn mpool_push_message(
        &self,
        message: MessageJson,
        spec: Option<MessageSendSpec>,
    ) -> RpcResult<SignedMessageJson>;

    /// Waits until a message executed and `confidence` epochs passed on top.
    #[method(name = "StateWaitMsg")]
    async fn state_wait_msg(
        &self,
        cid: LotusJson<Cid>,
        confidence: u64,
        limit: i64,
        allow_replaced: bool,
    ) -> RpcResult<MsgLookup>;

    /// Looks a message up without waiting; null when not executed yet.
    #[method(name = "StateSearchMsg")]
    async fn state_search_msg(
        &self,
        tsk: TipSetKey,
        cid: LotusJson<Cid>,
        limit: i64,
        allow_replaced: bool,
    ) -> RpcResult<Option<MsgLookup>>;

    /// The ID address of an actor.
    #[method(name = "StateLookupID")]
    async fn state_lookup_id(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<LotusJson<Address>>;

    /// The public-key address of an account actor.
    #[method(name = "StateAccountKey")]
    async fn state_account_key(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<LotusJson<Address>>;

    /// An actor's code, head, nonce and balance.
    #[method(name = "StateGetActor")]
    async fn state_get_actor(&self, address: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<ActorJson>;

    /// The deposit a new miner must lock (FIP-0077).
    #[method(name = "StateMinerCreationDeposit")]
    async fn state_miner_creation_deposit(&self, tsk: TipSetKey) -> RpcResult<LotusJson<TokenAmount>>;

    /// A miner's owner, worker, peer ID, multiaddrs, sector size, ...
    #[method(name = "StateMinerInfo")]
    async fn state_miner_info(&self, miner: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<MinerInfo>;

    /// The ID addresses of every miner actor (lotus-shed and explorers list providers with it).
    #[method(name = "StateListMiners")]
    async fn state_list_miners(&self, tsk: TipSetKey) -> RpcResult<Vec<LotusJson<Address>>>;

    /// A miner's power, the network's, and whether the miner meets the consensus minimum.
    #[method(name = "StateMinerPower")]
    async fn state_miner_power(&self, miner: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<MinerPower>;

    /// Ticket randomness (domain separation tag, epoch, entropy).
    #[method(name = "StateGetRandomnessFromTickets")]
    async fn state_get_randomness_from_tickets(
        &self,
        personalization: i64,
        epoch: i64,
        entropy: LotusJson<Vec<u8>>,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<Vec<u8>>>;

    /// Beacon randomness (domain separation tag, epoch, entropy).
    #[method(name = "StateGetRandomnessFromBeacon")]
    async fn state_get_randomness_from_beacon(
        &self,
        personalization: i64,
        epoch: i64,
        entropy: LotusJson<Vec<u8>>,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<Vec<u8>>>;

    /// The PreCommit deposit for a sector (Lotus adds 10 %).
    #[method(name = "StateMinerPreCommitDepositForPower")]
    async fn state_miner_pre_commit_deposit_for_power(
        &self,
        miner: LotusJson<Address>,
        info: SectorPreCommitInfoJson,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<TokenAmount>>;

    /// The initial pledge for a sector (Lotus adds 10 %).
    #[method(name = "StateMinerInitialPledgeCollateral")]
    async fn state_miner_initial_pledge_collateral(
        &self,
        miner: LotusJson<Address>,
        info: SectorPreCommitInfoJson,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<TokenAmount>>;

    /// A sector's pre-commit, or null.
    #[method(name = "StateSectorPreCommitInfo")]
    async fn state_sector_pre_commit_info(
        &self,
        miner: LotusJson<Address>,
        sector: u64,
        tsk: TipSetKey,
    ) -> RpcResult<Option<SectorPreCommitOnChainInfoJson>>;

    /// The miner's current proving deadline.
    #[method(name = "StateMinerProvingDeadline")]
    async fn state_miner_proving_deadline(&self, miner: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<DeadlineInfo>;

    /// The partitions of one deadline (Lotus answers `null` for a deadline without any).
    #[method(name = "StateMinerPartitions")]
    async fn state_miner_partitions(
        &self,
        miner: LotusJson<Address>,
        deadline: u64,
        tsk: TipSetKey,
    ) -> RpcResult<NilVec<PartitionJson>>;

    /// The miner's proven sectors, optionally only those in `filter`.
    #[method(name = "StateMinerSectors")]
    async fn state_miner_sectors(
        &self,
        miner: LotusJson<Address>,
        filter: Option<BitFieldJson>,
        tsk: TipSetKey,
    ) -> RpcResult<Vec<SectorOnChainInfoJson>>;

    /// The miner's faulty sectors: the union of its partitions' `FaultySectors`.
    #[method(name = "StateMinerFaults")]
    async fn state_miner_faults(&self, miner: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<BitFieldJson>;

    /// The miner's sectors declared recovered and not proven yet: the union of its partitions'
    /// `RecoveringSectors`.
    #[method(name = "StateMinerRecoveries")]
    async fn state_miner_recoveries(&self, miner: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<BitFieldJson>;

    /// The miner's 48 deadlines: partitions proven in the current window, disputable proofs, daily fee.
    #[method(name = "StateMinerDeadlines")]
    async fn state_miner_deadlines(&self, miner: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<Vec<MinerDeadline>>;

    /// The miner's balance less locked funds, deposits, pledge and fee debt (negative in debt), plus funds
    /// vested but not yet unlocked.
    #[method(name = "StateMinerAvailableBalance")]
    async fn state_miner_available_balance(
        &self,
        miner: LotusJson<Address>,
        tsk: TipSetKey,
    ) -> RpcResult<LotusJson<TokenAmount>>;

    /// Counts of the miner's live, active and faulty sectors.
    #[method(name = "StateMinerSectorCount")]
    async fn state_miner_sector_count(&self, miner: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<MinerSectorCount>;

    /// The miner's active sectors (live, not faulty, proven at least once): those that carry power.
    #[method(name = "StateMinerActiveSectors")]
    async fn state_miner_active_sectors(
        &self,
        miner: LotusJson<Address>,
        tsk: TipSetKey,
    ) -> RpcResult<Vec<SectorOnChainInfoJson>>;

    /// One sector's on-chain info, or null when the miner has no such sector.
    #[method(name = "StateSectorGetInfo")]
    async fn state_sector_get_info(
        &self,
        miner: LotusJson<Address>,
        sector: u64,
        tsk: TipSetKey,
    ) -> RpcResult<Option<SectorOnChainInfoJson>>;

    /// The deadline and partition of a sector. Lotus answers an error ("sector N not due at any deadline")
    /// for a sector in no partition; null is read as that too.
    #[method(name = "StateSectorPartition")]
    async fn state_sector_partition(
        &self,
        miner: LotusJson<Address>,
        sector: u64,
        tsk: TipSetKey,
    ) -> RpcResult<Option<SectorLocation>>;

    /// An actor's balance, code and state (a miner's: [`crate::actor_state::MinerStateJson`]).
    #[method(name = "StateReadState")]
    async fn state_read_state(&self, actor: LotusJson<Address>, tsk: TipSetKey) -> RpcResult<ActorStateJson>;

    /// Pushes a message signed elsewhere (a higher premium with the same sender and nonce replaces a pending
    /// message, as Lotus's message pool allows); returns its CID.
    #[method(name = "MpoolPush")]
    async fn mpool_push(&self, message: SignedMessageJson) -> RpcResult<LotusJson<Cid>>;

    /// Signs a message with the wallet's key of `address` (an ID address resolves to its key), as given:
    /// nonce and gas are not filled in.
    #[method(name = "WalletSignMessage")]
    async fn wallet_sign_message(
        &self,
        address: LotusJson<Address>,
        message: MessageJson,
    ) -> RpcResult<SignedMessageJson>;

    /// A message by its CID (signed or unsigned), pending, replaced or executed.
    #[method(name = "ChainGetMessage")]
    async fn chain_get_message(&self, cid: LotusJson<Cid>) -> RpcResult<MessageJson>;

    /// The messages waiting in the message pool (not yet in a block).
    #[method(name = "MpoolPending")]
    async fn mpool_pending(&self, tsk: TipSetKey) -> RpcResult<Vec<SignedMessageJson>>;

    /// The beacon entry of an epoch (on the devnet: its deterministic stand-in for drand).
    #[method(name = "StateGetBeaconEntry")]
    async fn state_get_beacon_entry(&self, epoch: i64) -> RpcResult<BeaconEntry>;

    /// What a miner needs to mine round `epoch` on base `tsk`: its power and the network's, the sectors the
    /// round's WinningPoSt challenges, its worker key, the beacon entries, its eligibility. Null when the miner
    /// has no sector to prove.
    #[method(name = "MinerGetBaseInfo")]
    async fn miner_get_base_info(
        &self,
        miner: LotusJson<Address>,
        epoch: i64,
        tsk: TipSetKey,
    ) -> RpcResult<Option<MiningBaseInfo>>;

    /// Makes a block from a template: computes the parent weight, state and message roots, aggregates the BLS
    /// message signatures and signs the header with the miner's worker key.
    #[method(name = "MinerCreateBlock")]
    async fn miner_create_block(&self, template: BlockTemplate) -> RpcResult<BlockMsg>;

    /// Submits a block the node validates as a block from the network.
    #[method(name = "SyncSubmitBlock")]
    async fn sync_submit_block(&self, block: BlockMsg) -> RpcResult<()>;

    /// The pending messages a block on `tsk` should include (`ticket_quality` orders competing selections); Lotus
    /// answers `null` for none (a Go nil slice: seen against e2e/lotus, where every won round failed to decode).
    #[method(name = "MpoolSelect")]
    async fn mpool_select(&self, tsk: TipSetKey, ticket_quality: f64) -> RpcResult<NilVec<SignedMessageJson>>;

    /// A block header by its CID.
    #[method(name = "ChainGetBlock")]
    async fn chain_get_block(&self, cid: LotusJson<Cid>) -> RpcResult<BlockHeader>;

    /// The messages of one block.
    #[method(name = "ChainGetBlockMessages")]
    async fn chain_get_block_messages(&self, cid: LotusJson<Cid>) -> RpcResult<BlockMessages>;

    /// A tipset's weight (a decimal number).
    #[method(name = "ChainTipSetWeight")]
    async fn chain_tipset_weight(&self, tsk: TipSetKey) -> RpcResult<String>;

    /// Signs bytes with the wallet's key of `address` (an ID address resolves to its key): a BLS key's
    /// signature is the VRF of tickets and election proofs.
    #[method(name = "WalletSign")]
    async fn wallet_sign(&self, address: LotusJson<Address>, data: LotusJson<Vec<u8>>) -> RpcResult<SignatureJson>;
}

/// A method's permission and exact parameter count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodSpec {
    /// The method name without the namespace.
    pub name: &'static str,
    /// The permission a caller needs (lotus `//perm:` annotations).
    pub permission: Permission,
    /// The exact number of parameters.
    pub params: usize,
}

/// A [`MethodSpec`], for method tables.
pub const fn spec(name: &'static str, permission: Permission, params: usize) -> MethodSpec {
    MethodSpec { name, permission, params }
}

/// The spec in `table` of a method name qualified with the `Filecoin.` namespace.
pub fn find_method(table: &'static [MethodSpec], qualified: &str) -> Option<&'static MethodSpec> {
    let name = qualified.strip_prefix(NAMESPACE)?.strip_prefix('.')?;
    table.iter().find(|m| m.name == name)
}

/// Every method of [`FullNode`] with its permission (from lotus api/api_full.go and api/api_common.go) and
/// parameter count.
pub const METHODS: &[MethodSpec] = &[
    spec("Version", Permission::Read, 0),
    spec("AuthVerify", Permission::Read, 1),
    spec("AuthNew", Permission::Admin, 1),
    spec("ChainHead", Permission::Read, 0),
    spec("ChainGetTipSetByHeight", Permission::Read, 2),
    spec("SyncState", Permission::Read, 0),
    spec("NetAddrsListen", Permission::Read, 0),
    spec("StateNetworkName", Permission::Read, 0),
    spec("StateGetNetworkParams", Permission::Read, 0),
    spec("StateNetworkVersion", Permission::Read, 1),
    spec("WalletDefaultAddress", Permission::Write, 0),
    spec("WalletNew", Permission::Write, 1),
    spec("WalletHas", Permission::Write, 1),
    spec("WalletList", Permission::Write, 0),
    spec("WalletBalance", Permission::Read, 1),
    spec("MpoolGetNonce", Permission::Read, 1),
    spec("MpoolPushMessage", Permission::Sign, 2),
    spec("StateWaitMsg", Permission::Read, 4),
    spec("StateSearchMsg", Permission::Read, 4),
    spec("StateLookupID", Permission::Read, 2),
    spec("StateAccountKey", Permission::Read, 2),
    spec("StateGetActor", Permission::Read, 2),
    spec("StateMinerCreationDeposit", Permission::Read, 1),
    spec("StateMinerInfo", Permission::Read, 2),
    spec("StateListMiners", Permission::Read, 1),
    spec("StateMinerPower", Permission::Read, 2),
    spec("StateGetRandomnessFromTickets", Permission::Read, 4),
    spec("StateGetRandomnessFromBeacon", Permission::Read, 4),
    spec("StateMinerPreCommitDepositForPower", Permission::Read, 3),
    spec("StateMinerInitialPledgeCollateral", Permission::Read, 3),
    spec("StateSectorPreCommitInfo", Permission::Read, 3),
    spec("StateMinerProvingDeadline", Permission::Read, 2),
    spec("StateMinerPartitions", Permission::Read, 3),
    spec("StateMinerSectors", Permission::Read, 3),
    spec("StateMinerFaults", Permission::Read, 2),
    spec("StateMinerRecoveries", Permission::Read, 2),
    spec("StateMinerDeadlines", Permission::Read, 2),
    spec("StateMinerAvailableBalance", Permission::Read, 2),
    spec("StateMinerSectorCount", Permission::Read, 2),
    spec("StateMinerActiveSectors", Permission::Read, 2),
    spec("StateSectorGetInfo", Permission::Read, 3),
    spec("StateSectorPartition", Permission::Read, 3),
    spec("StateReadState", Permission::Read, 2),
    spec("MpoolPush", Permission::Write, 1),
    spec("WalletSignMessage", Permission::Sign, 2),
    spec("ChainGetMessage", Permission::Read, 1),
    spec("MpoolPending", Permission::Read, 1),
    spec("StateGetBeaconEntry", Permission::Read, 1),
    spec("MinerGetBaseInfo", Permission::Read, 3),
    spec("MinerCreateBlock", Permission::Write, 1),
    spec("SyncSubmitBlock", Permission::Write, 1),
    spec("MpoolSelect", Permission::Read, 2),
    spec("ChainGetBlock", Permission::Read, 1),
    spec("ChainGetBlockMessages", Permission::Read, 1),
    spec("ChainTipSetWeight", Permission::Read, 1),
    spec("WalletSign", Permission::Sign, 2),
];

/// The spec of a fully qualified method name (`Filecoin.ChainHead`).
pub fn method_spec(qualified: &str) -> Option<&'static MethodSpec> {
    find_method(METHODS, qualified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_unique_and_qualified_lookup_works() {
        let mut names: Vec<_> = METHODS.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METHODS.len());
        assert_eq!(method_spec("Filecoin.MpoolPushMessage").unwrap().permission, Permission::Sign);
        assert_eq!(method_spec("Filecoin.StateWaitMsg").unwrap().params, 4);
        assert_eq!(method_spec("Filecoin.MpoolPush").unwrap().permission, Permission::Write);
        assert_eq!(method_spec("Filecoin.WalletSignMessage").unwrap().permission, Permission::Sign);
        assert_eq!(method_spec("Filecoin.StateSectorPartition").unwrap().params, 3);
        assert_eq!(method_spec("Filecoin.MinerGetBaseInfo").unwrap().params, 3);
        assert_eq!(method_spec("Filecoin.MinerCreateBlock").unwrap().permission, Permission::Write);
        assert_eq!(method_spec("Filecoin.SyncSubmitBlock").unwrap().permission, Permission::Write);
        assert_eq!(method_spec("Filecoin.WalletSign").unwrap().permission, Permission::Sign);
        assert!(method_spec("Eth.ChainHead").is_none());
    }
}
