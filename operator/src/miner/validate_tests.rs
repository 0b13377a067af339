//! The Miner's `validate`: what it refuses, naming the field, and what it parses for the later steps.

use serde_json::json;

use super::*;
use crate::error::Error;

use crate::testing::miner_with as miner;

fn bls() -> Address {
    Address::new_bls(&[7; 48]).unwrap()
}

fn secp() -> Address {
    Address::new_secp256k1(&[4; 65]).unwrap()
}

/// The message of the spec's refusal.
fn refused(spec: serde_json::Value) -> String {
    match validate(&miner(spec)) {
        Err(Error::InvalidSpec(message)) => message,
        other => panic!("not refused: {other:?}"),
    }
}

/// An address with its checksum broken (its last character changed).
fn bad_checksum(address: Address) -> String {
    let mut text = address.to_string();
    let last = text.pop().unwrap();
    text.push(if last == 'a' { 'b' } else { 'a' });
    text
}

#[test]
fn a_plain_spec_is_a_creation_with_lotus_miners_defaults() {
    let valid = validate(&miner(json!({}))).unwrap();
    let ActorSource::Create(request) = valid.actor else { panic!("a creation") };
    assert!(request.owner.is_none() && request.worker.is_none() && !request.create_worker_key);
    assert!(request.gas_premium.is_zero() && request.worker_funding.is_zero());
    assert_eq!((request.confidence, request.sector_size), (5, fvm_shared::sector::SectorSize::_2KiB));
    assert!(valid.announce_addresses.is_empty());
    assert_eq!(valid.max_blocked, Duration::from_secs(3600));
}

#[test]
fn the_creation_request_follows_the_spec() {
    let spec = json!({"owner": "t01000", "worker": {"create": "bls"}, "from": "f01001",
        "gasPremium": "100", "workerFunding": "5000", "confidence": 3});
    let ActorSource::Create(request) = validate(&miner(spec)).unwrap().actor else { panic!("a creation") };
    assert_eq!((request.owner, request.sender), (Some(Address::new_id(1000)), Some(Address::new_id(1001))));
    assert!(request.create_worker_key && request.worker.is_none());
    assert_eq!(
        (request.gas_premium, request.worker_funding),
        (TokenAmount::from_atto(100), TokenAmount::from_atto(5000))
    );
    assert_eq!(request.confidence, 3);
    let spec = json!({"owner": secp().to_string(), "worker": {"address": bls().to_string()}});
    let ActorSource::Create(request) = validate(&miner(spec)).unwrap().actor else { panic!("a creation") };
    assert_eq!((request.owner, request.worker), (Some(secp()), Some(bls())));
}

#[test]
fn an_adopted_actor_is_parsed_and_must_be_an_actor() {
    let ActorSource::Adopt(actor) = validate(&miner(json!({"actor": "t01234"}))).unwrap().actor else {
        panic!("an adoption")
    };
    assert_eq!(actor, Address::new_id(1234));
    let message = refused(json!({"actor": bls().to_string()}));
    assert!(message.starts_with("spec.actor: ") && message.contains("not a miner actor"), "{message}");
}

#[test]
fn a_bad_checksum_names_its_field() {
    for field in ["owner", "from", "actor"] {
        let message = refused(json!({field: bad_checksum(bls())}));
        assert!(message.starts_with(&format!("spec.{field}: ")), "{message}");
    }
    let message = refused(json!({"worker": {"address": bad_checksum(bls())}}));
    assert!(message.starts_with("spec.worker.address: "), "{message}");
}

#[test]
fn the_worker_must_be_a_bls_key() {
    let message = refused(json!({"worker": {"address": secp().to_string()}}));
    assert!(message.starts_with("spec.worker.address: ") && message.contains("must be a BLS key"), "{message}");
    // Without a worker, the owner is the worker.
    let message = refused(json!({"owner": secp().to_string()}));
    assert!(message.starts_with("spec.owner: ") && message.contains("spec.worker.create: bls"), "{message}");
    // An ID address may be a BLS account (only the chain tells), and a created worker is one.
    assert!(validate(&miner(json!({"owner": "t01000"}))).is_ok());
    assert!(validate(&miner(json!({"owner": secp().to_string(), "worker": {"create": "bls"}}))).is_ok());
    assert!(validate(&miner(json!({"owner": bls().to_string()}))).is_ok());
}

#[test]
fn announce_addresses_are_parsed_without_their_peer_id() {
    let spec = json!({"p2p": {"announceAddresses": [
        "/ip4/198.51.100.7/tcp/24001/p2p/12D3KooWGBfK7PHqpTbTtFbW2NgZaJvhbXhMEvRUp3d1qqt4ubMA",
        "/dns4/miner.example.org/tcp/443/wss"]}});
    let valid = validate(&miner(spec)).unwrap();
    let texts: Vec<String> = valid.announce_addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(texts, ["/ip4/198.51.100.7/tcp/24001", "/dns4/miner.example.org/tcp/443/wss"]);
    // The schema's pattern lets these through; a multiaddr does not.
    let message =
        refused(json!({"p2p": {"announceAddresses": ["/ip4/198.51.100.7/tcp/24001", "/ip4/999.1.1.1/tcp/99999"]}}));
    assert!(message.starts_with("spec.p2p.announceAddresses[1]: /ip4/999.1.1.1/tcp/99999: "), "{message}");
}

#[test]
fn every_refused_field_is_named_at_once() {
    let spec = json!({"owner": bad_checksum(secp()), "maintenance": {"maxBlockedDuration": "0h"},
        "storage": {"size": "lots"}, "runtime": {"resources": {"limits": {"cpu": "two"}}},
        "longTermStores": [{"name": "a", "volume": {"size": "0Gi"}, "maxSize": "big"}]});
    let message = refused(spec);
    for field in [
        "spec.owner: ",
        "spec.maintenance.maxBlockedDuration: ",
        "spec.storage.size: ",
        "spec.runtime.resources.limits.cpu: ",
        "spec.longTermStores[0].volume.size: ",
        "spec.longTermStores[0].maxSize: ",
    ] {
        assert!(message.contains(field), "{field} in {message}");
    }
    assert!(Error::InvalidSpec(message).waits_for_change(), "an invalid spec waits for the next edit");
}
