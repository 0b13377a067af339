//! Connecting to the full node named by `FULLNODE_API_INFO`, as every chain-facing command does.

use sealstack_chain::{ApiInfo, ConnectOptions, Node};

/// Connects to `FULLNODE_API_INFO` (`token:multiaddr`), failing with a one-line reason.
pub async fn connect() -> anyhow::Result<Node> {
    let text = std::env::var("FULLNODE_API_INFO")
        .map_err(|_| anyhow::anyhow!("FULLNODE_API_INFO is not set: give the full node's `token:multiaddr`"))?;
    let info = ApiInfo::parse(&text)?;
    // Addresses print with the node's network prefix (t for test networks and devnets).
    let node = Node::connect(&info, &ConnectOptions::default()).await?;
    let network = sealstack_chain::FullNodeClient::state_network_name(node.api()).await.map_err(node.err())?;
    let prefix = if network == "mainnet" {
        fvm_shared::address::Network::Mainnet
    } else {
        fvm_shared::address::Network::Testnet
    };
    fvm_shared::address::set_current_network(prefix);
    Ok(node)
}

/// Parses an address in either network's form, naming it on failure.
pub fn address(text: &str) -> anyhow::Result<fvm_shared::address::Address> {
    sealstack_chain::json::parse_address(text).map_err(|e| anyhow::anyhow!("invalid address {text:?}: {e}"))
}
