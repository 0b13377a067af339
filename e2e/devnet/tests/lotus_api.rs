//! The `sealstack-chain` client against the devnet binary: `lotus-miner init`'s chain part, crash safety,
//! set-addrs / set-peer-id, and Lotus's access and arity rules.

mod support;

use fvm_shared::address::{Address, Protocol};
use fvm_shared::sector::SectorSize;
use sealstack_chain::auth::Permission;
use sealstack_chain::miner_creation::{CreateMinerRequest, CreationRecord, create_miner, steps};
use sealstack_chain::push::{Journal, NoJournal};
use sealstack_chain::{ChainError, ConnectOptions, FullNodeClient, LotusJson, Node, TipSetKey};
use support::{DevnetProcess, peer_id};

fn request() -> CreateMinerRequest {
    let mut request = CreateMinerRequest::new(SectorSize::_2KiB, peer_id());
    request.create_worker_key = true;
    request.confidence = 1;
    request.worker_funding = fvm_shared::econ::TokenAmount::from_whole(10);
    request.multiaddrs = vec!["/ip4/10.1.2.3/tcp/24001".parse::<multiaddr::Multiaddr>().unwrap().to_vec()];
    request
}

#[tokio::test]
async fn init_creates_a_miner_like_lotus_miner() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = DevnetProcess::start(dir.path());
    let node = devnet.connect().await;
    let request = request();
    let mut record = CreationRecord::default();
    let mut journal = Saves(Vec::new());
    let created = create_miner(&node, &request, &mut record, &mut journal).await.unwrap();

    assert_eq!(created.worker.protocol(), Protocol::BLS, "a new BLS worker key was made");
    // Three saves: the keys with both messages' UUIDs (before the first push), then each CID after its push.
    let cids = |r: &CreationRecord| {
        [steps::FUND_WORKER, steps::CREATE_MINER].map(|step| r.messages.0.get(step).map(|p| p.cid.is_some()))
    };
    let saved: Vec<_> = journal.0.iter().map(cids).collect();
    assert_eq!(saved, [[Some(false), Some(false)], [Some(true), Some(false)], [Some(true), Some(true)]]);
    assert!(journal.0[0].owner.is_some() && journal.0[0].worker == Some(created.worker.to_string()));
    assert!(journal.0.iter().all(|r| r.id_address.is_none()), "the result is the caller's to keep");
    assert!(created.id_address.id().unwrap() >= 1000, "{}", created.id_address);
    assert_eq!(created.robust_address.protocol(), Protocol::Actor);
    assert_eq!(record.id_address.as_deref(), Some(created.id_address.to_string().as_str()));
    assert_eq!(record.messages.0.len(), 2, "worker account creation and CreateMiner: {record:?}");

    let api = node.api();
    let info = api.state_miner_info(LotusJson(created.id_address), TipSetKey::head()).await.unwrap();
    let owner_id = api.state_lookup_id(LotusJson(created.owner), TipSetKey::head()).await.unwrap();
    let worker_id = api.state_lookup_id(LotusJson(created.worker), TipSetKey::head()).await.unwrap();
    assert_eq!(info.owner, owner_id);
    assert_eq!(info.worker, worker_id);
    assert_eq!(info.sector_size, 2048);
    assert_eq!(info.window_post_proof_type, 10);
    assert_eq!(info.multiaddrs().iter().map(|m| m.to_string()).collect::<Vec<_>>(), ["/ip4/10.1.2.3/tcp/24001"]);
    let expected_peer = libp2p_identity::PeerId::from_bytes(&request.peer_id).unwrap().to_base58();
    assert_eq!(info.peer_id.as_deref(), Some(expected_peer.as_str()));
    let worker_key = api.state_account_key(LotusJson(worker_id.0), TipSetKey::head()).await.unwrap();
    assert_eq!(worker_key.0, created.worker);

    // The CreateMiner lookup carries Lotus's ReturnDec.
    let cid = record.messages.0[steps::CREATE_MINER].cid.clone().unwrap();
    let lookup = api
        .state_search_msg(TipSetKey::head(), LotusJson(cid.parse().unwrap()), -1, true)
        .await
        .unwrap()
        .expect("executed");
    let id_text = lookup.return_dec["IDAddress"].as_str().unwrap();
    assert_eq!(sealstack_chain::json::parse_address(id_text).unwrap(), created.id_address);
    assert!(id_text.starts_with("t0"), "the devnet prints testnet addresses: {id_text}");
    // The deposit is locked in the miner.
    let deposit = api.state_miner_creation_deposit(TipSetKey::head()).await.unwrap();
    let actor = api.state_get_actor(LotusJson(created.id_address), TipSetKey::head()).await.unwrap();
    assert!(actor.balance.0 >= deposit.0);
}

/// A journal that keeps every record saved.
struct Saves(Vec<CreationRecord>);

impl Journal<CreationRecord> for Saves {
    async fn save(&mut self, record: &CreationRecord) -> Result<(), ChainError> {
        self.0.push(record.clone());
        Ok(())
    }
}

/// A journal that "crashes" (fails) the first time it is asked to save a record holding the CreateMiner
/// CID, i.e. right after the push: what is saved before survives, the CID does not.
struct CrashAfterPush {
    saved: Option<CreationRecord>,
    crashed: bool,
}

impl Journal<CreationRecord> for CrashAfterPush {
    async fn save(&mut self, record: &CreationRecord) -> Result<(), ChainError> {
        let pushed = record.messages.0.get(steps::CREATE_MINER).is_some_and(|p| p.cid.is_some());
        if pushed && !self.crashed {
            self.crashed = true;
            return Err(ChainError::Client("injected crash after MpoolPushMessage".into()));
        }
        self.saved = Some(record.clone());
        Ok(())
    }
}

#[tokio::test]
async fn init_interrupted_after_the_push_creates_one_actor() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = DevnetProcess::start(dir.path());
    let node = devnet.connect().await;
    let request = request();
    let mut journal = CrashAfterPush { saved: None, crashed: false };
    let mut record = CreationRecord::default();
    let err = create_miner(&node, &request, &mut record, &mut journal).await.unwrap_err();
    assert!(err.to_string().contains("injected crash"), "{err}");

    // The "restarted" process only has what was saved: the UUID of CreateMiner, not its CID.
    let mut record = journal.saved.clone().unwrap();
    assert!(record.messages.0[steps::CREATE_MINER].cid.is_none());
    let first_worker = record.worker.clone();
    let created = create_miner(&node, &request, &mut record, &mut journal).await.unwrap();
    assert_eq!(record.worker, first_worker, "the worker key made before the crash is kept");

    // Exactly one miner exists, and the owner's nonce shows one CreateMiner: fund-worker + create-miner = 2.
    let api = node.api();
    let owner_nonce = api.mpool_get_nonce(LotusJson(created.owner)).await.unwrap();
    assert_eq!(owner_nonce, 2, "no message was sent twice");
    let next_id = Address::new_id(created.id_address.id().unwrap() + 1);
    assert!(api.state_miner_info(LotusJson(next_id), TipSetKey::head()).await.is_err(), "no second miner");
    let miners = api.state_list_miners(TipSetKey::head()).await.unwrap();
    assert_eq!(miners, vec![LotusJson(created.id_address)], "StateListMiners lists the one miner");

    // A third run with the complete record returns at once, pushing nothing.
    let again = create_miner(&node, &request, &mut record, &mut NoJournal).await.unwrap();
    assert_eq!(again, created);
    assert_eq!(api.mpool_get_nonce(LotusJson(created.owner)).await.unwrap(), 2);
}

#[tokio::test]
async fn set_addrs_and_set_peer_id_show_in_miner_info_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = DevnetProcess::start(dir.path());
    let node = devnet.connect().await;
    let created = create_miner(&node, &request(), &mut CreationRecord::default(), &mut NoJournal).await.unwrap();
    let miner = created.id_address;

    let addrs: Vec<multiaddr::Multiaddr> = vec![
        "/ip4/192.0.2.7/tcp/31001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf".parse().unwrap(),
        "/dns4/miner.example.com/tcp/24001".parse().unwrap(),
    ];
    let mut log = sealstack_chain::push::MessageLog::default();
    sealstack_chain::miner_actor::set_multiaddrs(&node, miner, &addrs, &mut log, &mut NoJournal, 1).await.unwrap();
    let new_peer = peer_id();
    sealstack_chain::miner_actor::set_peer_id(&node, miner, &new_peer, &mut log, &mut NoJournal, 1).await.unwrap();
    assert_eq!(log.0.len(), 2);

    let info = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.unwrap();
    let on_chain: Vec<String> = info.multiaddrs().iter().map(|m| m.to_string()).collect();
    assert_eq!(on_chain, ["/ip4/192.0.2.7/tcp/31001", "/dns4/miner.example.com/tcp/24001"], "peer IDs stripped");
    let new_peer_text = libp2p_identity::PeerId::from_bytes(&new_peer).unwrap().to_base58();
    assert_eq!(info.peer_id.as_deref(), Some(new_peer_text.as_str()));

    // Unset.
    sealstack_chain::miner_actor::set_multiaddrs(&node, miner, &[], &mut log, &mut NoJournal, 1).await.unwrap();

    // Back to the first set: its message executed, then the unset replaced it, so a new one is sent.
    let stripped: Vec<_> = addrs.iter().map(sealstack_chain::miner_actor::strip_peer_id).collect();
    let step = sealstack_chain::miner_actor::multiaddrs_step(&stripped);
    let first = log.0[&step].cid.clone();
    sealstack_chain::miner_actor::set_multiaddrs(&node, miner, &addrs, &mut log, &mut NoJournal, 1).await.unwrap();
    let again = log.0[&step].cid.clone();
    assert_ne!(again, first, "a new ChangeMultiaddrs message");
    let info = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!(info.multiaddrs(), stripped);
    // Asked once more while the chain shows it: the recorded message stands, nothing is sent.
    sealstack_chain::miner_actor::set_multiaddrs(&node, miner, &addrs, &mut log, &mut NoJournal, 1).await.unwrap();
    assert_eq!(log.0[&step].cid, again);

    // Unset again (the same step as the first unset, replaced since: a new message too).
    sealstack_chain::miner_actor::set_multiaddrs(&node, miner, &[], &mut log, &mut NoJournal, 1).await.unwrap();
    let head = node.api().chain_head().await.unwrap().height;

    // The state survives a restart of the devnet.
    devnet.kill();
    let devnet = DevnetProcess::start(dir.path());
    let node = devnet.connect().await;
    assert!(node.api().chain_head().await.unwrap().height >= head);
    let info = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert!(info.multiaddrs().is_empty());
    assert_eq!(info.peer_id.as_deref(), Some(new_peer_text.as_str()));
}

#[tokio::test]
async fn access_rules_match_lotus() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = DevnetProcess::start(dir.path());
    let admin = devnet.connect().await;

    // No token: read only. WalletNew needs write.
    let anonymous = Node::connect(&devnet.with_token(None), &ConnectOptions::default()).await.unwrap();
    assert!(anonymous.api().chain_head().await.is_ok());
    let err = anonymous.api().wallet_new("bls".into()).await.map_err(anonymous.err()).unwrap_err();
    match &err {
        ChainError::MissingPermission { method, permission } => {
            assert_eq!((method.as_str(), permission.as_str()), ("WalletNew", "write"));
        }
        other => panic!("expected a missing permission, got {other:?}"),
    }

    // A read+write token may not sign.
    let bytes = admin.api().auth_new(vec![Permission::Read, Permission::Write]).await.unwrap();
    let token = String::from_utf8(bytes.0).unwrap();
    assert_eq!(admin.api().auth_verify(token.clone()).await.unwrap(), vec![Permission::Read, Permission::Write]);
    let writer = Node::connect(&devnet.with_token(Some(token)), &ConnectOptions::default()).await.unwrap();
    assert!(writer.api().wallet_new("secp256k1".into()).await.is_ok());
    let create = create_miner(&writer, &request(), &mut CreationRecord::default(), &mut NoJournal).await.unwrap_err();
    assert!(matches!(create, ChainError::MissingPermission { ref permission, .. } if permission == "sign"), "{create}");

    // A forged token is refused with HTTP 401 at connect.
    let forged =
        Node::connect(&devnet.with_token(Some("eyJhbGciOiJIUzI1NiJ9.e30.bad".into())), &ConnectOptions::default())
            .await;
    assert!(matches!(forged, Err(ChainError::Unauthorized { .. })), "{forged:?}");

    // Nothing listening: unreachable, naming the address.
    let closed = sealstack_chain::ApiInfo::parse("/ip4/127.0.0.1/tcp/9/http").unwrap();
    let err = Node::connect(&closed, &ConnectOptions::default()).await.unwrap_err();
    assert!(matches!(err, ChainError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
}

#[tokio::test]
async fn wrong_param_count_is_refused_as_lotus_does() {
    use jsonrpsee::core::client::ClientT;
    use jsonrpsee::rpc_params;
    let dir = tempfile::tempdir().unwrap();
    let devnet = DevnetProcess::start(dir.path());
    let node = devnet.connect().await;
    let owner = node.api().wallet_default_address().await.unwrap();
    // StateLookupID takes (address, tipset key): one parameter is refused, not defaulted.
    let err = node
        .api()
        .request::<serde_json::Value, _>("Filecoin.StateLookupID", rpc_params![owner])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrong param count (method 'Filecoin.StateLookupID'): 1 != 2"), "{err}");
    let err = node.api().request::<serde_json::Value, _>("Filecoin.NoSuchMethod", rpc_params![]).await.unwrap_err();
    // go-jsonrpc's answer: code -32601, "method '<name>' not found" (also for a method served but not in the table).
    assert!(err.to_string().contains("method 'Filecoin.NoSuchMethod' not found"), "{err}");
}

#[tokio::test]
async fn websocket_transport_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = DevnetProcess::start(dir.path());
    let options = ConnectOptions { transport: sealstack_chain::Transport::WebSocket, ..Default::default() };
    let node = Node::connect(&devnet.api_info, &options).await.unwrap();
    let created = create_miner(&node, &request(), &mut CreationRecord::default(), &mut NoJournal).await.unwrap();
    assert!(created.id_address.id().is_ok());
}

#[tokio::test]
async fn a_message_signed_with_wallet_sign_message_is_pushed_with_mpool_push() {
    use fvm_shared::econ::TokenAmount;
    use sealstack_chain::message::{MessageJson, unsigned_message};
    let dir = tempfile::tempdir().unwrap();
    let devnet = DevnetProcess::start(dir.path());
    let admin = devnet.connect().await;
    let api = admin.api();
    let from = api.wallet_default_address().await.unwrap();
    let to = api.wallet_new("bls".into()).await.unwrap();
    let nonce = api.mpool_get_nonce(from.clone()).await.unwrap();
    let mut message = unsigned_message(from.0, to.0, TokenAmount::from_atto(42), 0, Default::default());
    message.sequence = nonce;
    message.gas_limit = 1_250_000;
    message.gas_fee_cap = TokenAmount::from_atto(200_000);
    message.gas_premium = TokenAmount::from_atto(100_000);
    let signed = api.wallet_sign_message(from.clone(), MessageJson::from_message(&message)).await.unwrap();
    assert_eq!(signed.message.to_message(), message, "signed as given");

    // MpoolPush needs `write`, WalletSignMessage `sign` (lotus api_full.go perms).
    let bytes = api.auth_new(vec![Permission::Read, Permission::Write]).await.unwrap();
    let writer =
        Node::connect(&devnet.with_token(Some(String::from_utf8(bytes.0).unwrap())), &ConnectOptions::default())
            .await
            .unwrap();
    let refused = writer.api().wallet_sign_message(from.clone(), MessageJson::from_message(&message)).await;
    let refused = refused.map_err(writer.err()).unwrap_err();
    assert!(
        matches!(refused, ChainError::MissingPermission { ref permission, .. } if permission == "sign"),
        "{refused}"
    );
    let cid = writer.api().mpool_push(signed.clone()).await.unwrap();
    assert_eq!(cid, signed.cid);
    assert_eq!(api.chain_get_message(cid.clone()).await.unwrap().to_message(), message);

    let lookup = api.state_wait_msg(cid.clone(), 0, -1, true).await.unwrap();
    assert_eq!(lookup.receipt.exit_code, 0);
    assert_eq!(api.wallet_balance(to).await.unwrap().0, TokenAmount::from_atto(42));
    assert!(api.mpool_pending(TipSetKey::head()).await.unwrap().is_empty());
    // Pushed again: its nonce is used.
    let again = writer.api().mpool_push(signed).await.map_err(writer.err()).unwrap_err();
    assert!(again.to_string().contains("message nonce too low"), "{again}");
}
