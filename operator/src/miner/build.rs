//! The Miner's Kubernetes children that need nothing from the chain (pure): its Services and the Secret
//! holding the runtime's libp2p identity.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use sealstack_crds::Miner;
use sealstack_crds::miner::P2pServiceType;

use crate::labels::{MINER_LABEL, child_labels, owner_reference};

/// Port of the miner runtime's JSON-RPC API (lotus-miner's default 2345).
pub const API_PORT: u16 = 2345;
/// Key of the identity Secret holding the protobuf-encoded libp2p private key.
pub const P2P_KEY: &str = "libp2p.key";
/// Key of the identity Secret holding the peer ID, for people and for status.
pub const PEER_ID_KEY: &str = "peer-id";

/// Labels selecting the miner runtime pod.
pub fn selector_labels(miner: &Miner) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MINER_LABEL.to_owned(), miner.name_any()),
        ("app.kubernetes.io/component".to_owned(), "miner-runtime".to_owned()),
    ])
}

pub(super) fn metadata(
    miner: &Miner,
    name: String,
    component: &str,
    annotations: Option<BTreeMap<String, String>>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: miner.namespace(),
        labels: Some(child_labels(component, MINER_LABEL, &miner.name_any())),
        annotations,
        owner_references: Some(vec![owner_reference(miner)]),
        ..ObjectMeta::default()
    }
}

/// The Service exposing the libp2p port to the network, shaped by `spec.p2p.service`.
pub fn build_p2p_service(miner: &Miner) -> Service {
    let p2p = &miner.spec.p2p;
    let annotations = Some(p2p.service.annotations.clone()).filter(|a| !a.is_empty());
    let exposed = p2p.service.type_ != P2pServiceType::ClusterIP;
    Service {
        metadata: metadata(miner, format!("{}-p2p", miner.name_any()), "miner-p2p", annotations),
        spec: Some(ServiceSpec {
            type_: Some(p2p.service.type_.as_str().to_owned()),
            selector: Some(selector_labels(miner)),
            ports: Some(vec![ServicePort {
                name: Some("p2p".to_owned()),
                protocol: Some("TCP".to_owned()),
                port: i32::from(p2p.port),
                target_port: Some(IntOrString::Int(i32::from(p2p.port))),
                node_port: p2p.service.node_port.filter(|_| exposed),
                ..ServicePort::default()
            }]),
            // Keep the client address (and a node-local path) so that peers see the real source.
            external_traffic_policy: exposed.then(|| "Local".to_owned()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The in-cluster Service of the runtime's API, used by the workers.
pub fn build_api_service(miner: &Miner) -> Service {
    Service {
        metadata: metadata(miner, format!("{}-api", miner.name_any()), "miner-api", None),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(selector_labels(miner)),
            ports: Some(vec![ServicePort {
                name: Some("api".to_owned()),
                protocol: Some("TCP".to_owned()),
                port: i32::from(API_PORT),
                target_port: Some(IntOrString::Int(i32::from(API_PORT))),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Name of the Secret holding the runtime's libp2p identity.
pub fn identity_secret_name(miner: &Miner) -> String {
    format!("{}-p2p-identity", miner.name_any())
}

/// A new libp2p Ed25519 identity in a Secret. Created once: the controller never replaces an existing
/// one, since the peer ID is published on chain.
pub fn build_identity_secret(miner: &Miner) -> (Secret, String) {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer_id = keypair.public().to_peer_id().to_base58();
    let encoded = keypair.to_protobuf_encoding().expect("an Ed25519 key encodes");
    let secret = Secret {
        metadata: metadata(miner, identity_secret_name(miner), "miner-identity", None),
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([
            (P2P_KEY.to_owned(), ByteString(encoded)),
            (PEER_ID_KEY.to_owned(), ByteString(peer_id.clone().into_bytes())),
        ])),
        ..Secret::default()
    };
    (secret, peer_id)
}

/// Key of the miner API Secret holding the secret the daemon signs its API tokens with.
pub const JWT_SECRET_KEY: &str = "jwt-secret";

/// The Secret of the miner daemon's API: the JWT secret the daemon is started with, and `MINER_API_INFO` (an
/// admin token signed with it, and the API Service's cluster DNS name) for its workers. Created once: the
/// controller never replaces it, so running workers keep a valid token.
pub fn build_api_secret(miner: &Miner, namespace: &str) -> Secret {
    use rand::RngCore;
    let mut jwt = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut jwt);
    let token = sealstack_chain::auth::create_token(&jwt, &sealstack_chain::auth::Permission::ALL);
    let service = format!("{}-api.{namespace}.svc", miner.name_any());
    let api_info = format!("{token}:/dns/{service}/tcp/{API_PORT}/http");
    Secret {
        metadata: metadata(miner, crate::names::miner_api_secret(&miner.name_any()), "miner-api", None),
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([
            (JWT_SECRET_KEY.to_owned(), ByteString(jwt)),
            (crate::sealing_worker::build::MINER_API_INFO_KEY.to_owned(), ByteString(api_info.into_bytes())),
        ])),
        ..Secret::default()
    }
}

/// The peer ID recorded in an identity Secret, checked against its key.
pub fn peer_id_of(secret: &Secret) -> Option<String> {
    let key = secret.data.as_ref()?.get(P2P_KEY)?;
    let keypair = libp2p_identity::Keypair::from_protobuf_encoding(&key.0).ok()?;
    Some(keypair.public().to_peer_id().to_base58())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn miner(p2p: serde_json::Value) -> Miner {
        let mut miner: Miner = serde_json::from_value(json!({
            "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1", "namespace": "sp"},
            "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                     "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}, "p2p": p2p},
        }))
        .unwrap();
        miner.metadata.uid = Some("uid-m1".into());
        miner
    }

    #[test]
    fn p2p_service_follows_the_spec_shape() {
        let m = miner(
            json!({"port": 24002, "service": {"type": "NodePort", "nodePort": 31002, "annotations": {"a": "b"}}}),
        );
        let service = build_p2p_service(&m);
        assert_eq!(service.metadata.name.as_deref(), Some("m1-p2p"));
        assert_eq!(service.metadata.annotations.as_ref().unwrap()["a"], "b");
        let spec = service.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        let port = &spec.ports.unwrap()[0];
        assert_eq!((port.port, port.node_port), (24002, Some(31002)));
        assert_eq!(spec.selector.unwrap()[MINER_LABEL], "m1");

        let internal = build_p2p_service(&miner(json!({"service": {"type": "ClusterIP"}}))).spec.unwrap();
        assert_eq!(internal.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(internal.external_traffic_policy, None, "only exposed Services take a traffic policy");
    }

    #[test]
    fn api_service_is_internal_on_2345() {
        let spec = build_api_service(&miner(json!({}))).spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(spec.ports.unwrap()[0].port, 2345);
    }

    #[test]
    fn api_secret_holds_a_jwt_secret_and_an_admin_token_signed_with_it() {
        let miner = miner(json!({"type": "NodePort"}));
        let secret = build_api_secret(&miner, "sp");
        assert_eq!(secret.metadata.name.as_deref(), Some("m1-api"));
        let data = secret.data.unwrap();
        let jwt = &data[JWT_SECRET_KEY].0;
        assert_eq!(jwt.len(), 32);
        let info = String::from_utf8(data["MINER_API_INFO"].0.clone()).unwrap();
        let parsed = sealstack_chain::ApiInfo::parse(&info).unwrap();
        assert_eq!(parsed.base_url, "http://m1-api.sp.svc:2345");
        let permissions = sealstack_chain::auth::verify_token(jwt, parsed.token.as_deref().unwrap()).unwrap();
        assert_eq!(permissions, sealstack_chain::auth::Permission::ALL);
    }

    #[test]
    fn identity_secret_holds_a_key_whose_peer_id_it_states() {
        let m = miner(json!({}));
        let (secret, peer_id) = build_identity_secret(&m);
        assert!(peer_id.starts_with("12D3KooW"), "an Ed25519 peer ID: {peer_id}");
        assert_eq!(peer_id_of(&secret).as_deref(), Some(peer_id.as_str()));
        assert_eq!(secret.data.as_ref().unwrap()[PEER_ID_KEY].0, peer_id.as_bytes());
        let (_, another) = build_identity_secret(&m);
        assert_ne!(another, peer_id, "each call makes a new key: the controller creates it only once");
    }
}
