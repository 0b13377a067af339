//! The multiaddrs a miner announces on chain, computed from what Kubernetes actually exposes (pure).
//!
//! In order: the spec's explicit `announceAddresses`; else a LoadBalancer Service's ingress (IP or
//! hostname) on the Service port; else a NodePort Service's node port on the address of the node running
//! the miner pod (ExternalIP before InternalIP). Peer IDs are stripped, as `lotus-miner actor set-addrs`
//! does: the chain keeps the peer ID apart.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, Service};
use sealstack_crds::miner::{P2pServiceType, P2pSpec};

/// The outcome: addresses to publish, or why there are none yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Announce {
    /// Publish these multiaddrs.
    Addresses(Vec<String>),
    /// Nothing to publish yet; the reason goes into the `AddressesPublished` condition.
    Waiting(String),
}

/// Drops a trailing `/p2p/<peer id>` (or `/ipfs/<peer id>`) component.
pub fn strip_peer_id(multiaddr: &str) -> String {
    for marker in ["/p2p/", "/ipfs/"] {
        if let Some(index) = multiaddr.find(marker) {
            return multiaddr[..index].to_owned();
        }
    }
    multiaddr.to_owned()
}

fn host_component(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => format!("/ip4/{ip}"),
        Ok(IpAddr::V6(ip)) => format!("/ip6/{ip}"),
        Err(_) => format!("/dns/{host}"),
    }
}

/// The port of the Service that carries the p2p port.
fn service_port(service: &Service, target: u16) -> Option<&k8s_openapi::api::core::v1::ServicePort> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some("p2p"))
        .or_else(|| ports.iter().find(|p| p.port == i32::from(target)))
}

/// Whether [`announce`] needs the node of the miner pod: only for a NodePort Service without explicit
/// addresses (the reconcile looks the node up only then).
pub fn needs_node(p2p: &P2pSpec) -> bool {
    p2p.announce_addresses.is_empty() && p2p.service.type_ == P2pServiceType::NodePort
}

/// Computes the addresses to announce for a miner.
pub fn announce(p2p: &P2pSpec, service: Option<&Service>, node: Option<&Node>) -> Announce {
    if !p2p.announce_addresses.is_empty() {
        return Announce::Addresses(p2p.announce_addresses.iter().map(|a| strip_peer_id(a.as_str())).collect());
    }
    let Some(service) = service else { return Announce::Waiting("the p2p Service does not exist yet".into()) };
    let Some(port) = service_port(service, p2p.port) else {
        return Announce::Waiting("the p2p Service has no p2p port".into());
    };
    match p2p.service.type_ {
        P2pServiceType::ClusterIP => Announce::Waiting(
            "a ClusterIP Service is not reachable from the network: set p2p.announceAddresses or use NodePort or LoadBalancer".into(),
        ),
        P2pServiceType::LoadBalancer => {
            let ingress = service.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|lb| lb.ingress.as_ref());
            let addresses: Vec<String> = ingress
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.as_deref().or(i.hostname.as_deref()))
                .map(|host| format!("{}/tcp/{}", host_component(host), port.port))
                .collect();
            if addresses.is_empty() {
                Announce::Waiting("the LoadBalancer has no ingress address yet".into())
            } else {
                Announce::Addresses(addresses)
            }
        }
        P2pServiceType::NodePort => {
            let Some(node_port) = port.node_port else {
                return Announce::Waiting("the NodePort is not allocated yet".into());
            };
            let Some(node) = node else {
                return Announce::Waiting("the miner pod is not scheduled on a node yet".into());
            };
            let addresses = node.status.as_ref().and_then(|s| s.addresses.as_ref());
            let pick = |kind: &str| addresses.into_iter().flatten().find(|a| a.type_ == kind).map(|a| a.address.clone());
            match pick("ExternalIP").or_else(|| pick("InternalIP")) {
                Some(host) => Announce::Addresses(vec![format!("{}/tcp/{node_port}", host_component(&host))]),
                None => Announce::Waiting("the miner's node has no ExternalIP or InternalIP".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_computed_node_port_address_needs_the_node() {
        assert!(needs_node(&p2p(json!({}))), "NodePort is the default");
        assert!(!needs_node(&p2p(json!({"announceAddresses": ["/ip4/198.51.100.1/tcp/1"]}))));
        assert!(!needs_node(&p2p(json!({"service": {"type": "LoadBalancer"}}))));
        assert!(!needs_node(&p2p(json!({"service": {"type": "ClusterIP"}}))));
        // What `announce` returns without a node, where none is looked up.
        let lb = service(
            json!({"type": "LoadBalancer", "ports": [{"name": "p2p", "port": 24001}]}),
            json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}),
        );
        let spec = p2p(json!({"service": {"type": "LoadBalancer"}}));
        assert_eq!(announce(&spec, Some(&lb), None), Announce::Addresses(vec!["/ip4/203.0.113.5/tcp/24001".into()]));
    }

    fn p2p(spec: serde_json::Value) -> P2pSpec {
        serde_json::from_value(spec).unwrap()
    }

    fn service(spec: serde_json::Value, status: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "m1-p2p"}, "spec": spec, "status": status})).unwrap()
    }

    fn node(addresses: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n1"}, "status": {"addresses": addresses}})).unwrap()
    }

    #[test]
    fn explicit_addresses_win_and_lose_their_peer_id() {
        let spec = p2p(
            json!({"announceAddresses": ["/ip4/203.0.113.7/tcp/24001/p2p/12D3KooWabc", "/dns4/miner.example.org/tcp/24001"]}),
        );
        assert_eq!(
            announce(&spec, None, None),
            Announce::Addresses(vec!["/ip4/203.0.113.7/tcp/24001".into(), "/dns4/miner.example.org/tcp/24001".into()])
        );
    }

    #[test]
    fn load_balancer_ingress_ip_or_hostname_on_the_service_port() {
        let spec = p2p(json!({"service": {"type": "LoadBalancer"}}));
        let pending = service(json!({"type": "LoadBalancer", "ports": [{"name": "p2p", "port": 24001}]}), json!({}));
        assert!(matches!(announce(&spec, Some(&pending), None), Announce::Waiting(m) if m.contains("ingress")));
        let ready = service(
            json!({"type": "LoadBalancer", "ports": [{"name": "p2p", "port": 24001, "nodePort": 31001}]}),
            json!({"loadBalancer": {"ingress": [{"ip": "198.51.100.9"}, {"hostname": "lb.example.net"}, {"ip": "2001:db8::1"}]}}),
        );
        assert_eq!(
            announce(&spec, Some(&ready), None),
            Announce::Addresses(vec![
                "/ip4/198.51.100.9/tcp/24001".into(),
                "/dns/lb.example.net/tcp/24001".into(),
                "/ip6/2001:db8::1/tcp/24001".into(),
            ])
        );
    }

    #[test]
    fn node_port_on_the_miner_node_external_address_first() {
        let spec = p2p(json!({}));
        let svc = service(
            json!({"type": "NodePort", "ports": [{"name": "p2p", "port": 24001, "nodePort": 31001}]}),
            json!({}),
        );
        let both = node(
            json!([{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "ExternalIP", "address": "203.0.113.50"}]),
        );
        assert_eq!(
            announce(&spec, Some(&svc), Some(&both)),
            Announce::Addresses(vec!["/ip4/203.0.113.50/tcp/31001".into()])
        );
        let internal =
            node(json!([{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "n1"}]));
        assert_eq!(
            announce(&spec, Some(&svc), Some(&internal)),
            Announce::Addresses(vec!["/ip4/10.0.0.5/tcp/31001".into()])
        );
        assert!(matches!(announce(&spec, Some(&svc), None), Announce::Waiting(m) if m.contains("scheduled")));
        let unallocated = service(json!({"type": "NodePort", "ports": [{"name": "p2p", "port": 24001}]}), json!({}));
        assert!(
            matches!(announce(&spec, Some(&unallocated), Some(&both)), Announce::Waiting(m) if m.contains("NodePort"))
        );
    }

    #[test]
    fn cluster_ip_needs_explicit_addresses() {
        let spec = p2p(json!({"service": {"type": "ClusterIP"}}));
        let svc = service(json!({"type": "ClusterIP", "ports": [{"name": "p2p", "port": 24001}]}), json!({}));
        assert!(matches!(announce(&spec, Some(&svc), None), Announce::Waiting(m) if m.contains("announceAddresses")));
    }
}
