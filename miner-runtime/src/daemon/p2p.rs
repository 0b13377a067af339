//! The miner's libp2p host on the p2p port, with the identity whose peer ID is on chain: TCP with Noise and Yamux,
//! answering identify and ping, which is what peers (and `lotus net connect`) check of a storage provider.

use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify, noise, ping, tcp, yamux};
use libp2p_identity::Keypair;

/// The identify protocol version the host announces.
pub const PROTOCOL_VERSION: &str = "/sealstack/miner/1.0.0";

/// The host's protocols.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// A swarm with `key`'s identity answering identify and ping.
pub fn swarm(key: Keypair) -> anyhow::Result<Swarm<Behaviour>> {
    let agent = format!("sealstack-miner/{}", env!("CARGO_PKG_VERSION"));
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)?
        .with_behaviour(|key| Behaviour {
            identify: identify::Behaviour::new(
                identify::Config::new(PROTOCOL_VERSION.into(), key.public()).with_agent_version(agent),
            ),
            ping: ping::Behaviour::default(),
        })?
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

/// Starts the host listening on `listen`, in the background; returns its peer ID.
pub fn spawn(key: Keypair, listen: &str) -> anyhow::Result<PeerId> {
    let address: Multiaddr =
        listen.parse().map_err(|e| anyhow::anyhow!("invalid p2p listen address {listen:?}: {e}"))?;
    let mut swarm = swarm(key)?;
    let peer = *swarm.local_peer_id();
    swarm.listen_on(address)?;
    tokio::spawn(async move {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => tracing::info!(%address, %peer, "libp2p host listening"),
                SwarmEvent::ConnectionEstablished { peer_id, .. } => tracing::debug!(%peer_id, "libp2p peer connected"),
                other => tracing::trace!(?other, "libp2p event"),
            }
        }
    });
    Ok(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_peer_identifies_the_host_by_its_key() {
        let key = Keypair::generate_ed25519();
        let expected = key.public().to_peer_id();
        let mut host = swarm(key).unwrap();
        host.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
        let address = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = host.select_next_some().await {
                break address;
            }
        };
        tokio::spawn(async move {
            loop {
                host.select_next_some().await;
            }
        });
        let mut peer = swarm(Keypair::generate_ed25519()).unwrap();
        peer.dial(address).unwrap();
        let info = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                    peer_id,
                    info,
                    ..
                })) = peer.select_next_some().await
                {
                    break (peer_id, info);
                }
            }
        })
        .await
        .expect("identified within 20 s");
        assert_eq!(info.0, expected);
        assert_eq!(info.1.protocol_version, PROTOCOL_VERSION);
        assert!(info.1.agent_version.starts_with("sealstack-miner/"));
    }
}
