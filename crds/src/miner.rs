//! `Miner`: one Filecoin storage provider, from on-chain creation to a running miner runtime.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
pub use sealstack_chain::miner_creation::CreationRecord;
pub use sealstack_chain::push::{MessageLog, PushRecord};
use serde::{Deserialize, Serialize};

use crate::batching::BatchingSpec;
use crate::chain_types::{Address, AttoFil, Multiaddr};
use crate::common::{ContainerSpec, LocalRef, PodPlacement, SecretKeyRef, VolumeSpec};
use crate::conditions::conditions_schema;
use crate::long_term_store::{LongTermStore, StorageStatus};
use crate::mining::{MiningSpec, MiningStatus};
use crate::sector_lifecycle::SectorLifecycleSpec;
use crate::sector_size::SectorSize;

/// Desired state of a storage provider.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "sealstack.io",
    version = "v1alpha1",
    kind = "Miner",
    namespaced,
    status = "MinerStatus",
    shortname = "mnr",
    category = "sealstack",
    doc = "A Filecoin storage provider: its miner actor on chain and the miner runtime serving it.",
    printcolumn(name = "Actor", type_ = "string", json_path = ".status.actorAddress"),
    printcolumn(name = "Sector Size", type_ = "string", json_path = ".spec.sectorSize"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Power", type_ = "string", json_path = ".status.power.qualityAdjusted"),
    printcolumn(name = "Faults", type_ = "integer", json_path = ".status.sectors.faulty"),
    printcolumn(name = "Blocks", type_ = "integer", json_path = ".status.mining.blocksMined"),
    printcolumn(name = "Deadline", type_ = "integer", json_path = ".status.proving.currentDeadline", priority = 1),
    printcolumn(name = "Safe Until", type_ = "string", json_path = ".status.proving.safeUntil", priority = 1),
    printcolumn(name = "Balance", type_ = "string", json_path = ".status.balances.actor", priority = 1),
    printcolumn(name = "Storage", type_ = "string", json_path = ".status.storage.capacity", priority = 1),
    printcolumn(name = "Peer", type_ = "string", json_path = ".status.peerId", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.actor) == has(oldSelf.actor)").message("actor cannot be added or removed after creation: make a new Miner to adopt another actor").field_path(".actor"))]
pub struct MinerSpec {
    /// The Lotus full node to talk to.
    pub full_node: FullNodeRef,
    /// Owner address (default: the full node's default wallet), as `lotus-miner init --owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Address>,
    /// Worker address (default: the owner, which must then be a BLS key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerKey>,
    /// Sector size of the miner actor; fixed at creation.
    #[x_kube(validation = Rule::new("self == oldSelf").message("sectorSize is immutable: it is fixed when the actor is created"))]
    pub sector_size: SectorSize,
    /// Adopt this existing miner actor instead of creating one (`lotus-miner init --actor`); immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("actor is immutable: make a new Miner to adopt another actor"))]
    pub actor: Option<Address>,
    /// Gas premium of the messages the operator sends, attoFIL (`--gas-premium`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_premium: Option<AttoFil>,
    /// attoFIL sent to the worker when its account is created, so it can pay for its own messages
    /// (ChangeMultiaddrs, PreCommit, PoSt); `lotus-miner init` sends nothing and leaves funding to you.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_funding: Option<AttoFil>,
    /// Address that sends the creation message (`--from`, default: the owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Address>,
    /// Epochs to wait before a message counts as final.
    #[serde(default = "default_confidence")]
    #[schemars(range(min = 1, max = 900))]
    pub confidence: u32,
    /// The ParamCache the runtime mounts; the Miner waits until it is Ready.
    pub param_cache_ref: LocalRef,
    /// Volume for sealed sectors and the miner repository.
    pub storage: VolumeSpec,
    /// More volumes for sealed sectors (lotus-miner `storage attach --store`): finalized sectors spread over the
    /// runtime's storage and these by weight. Adding one rolls the runtime pod when the deadline gate allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new("self.all(s, self.exists_one(t, t.name == s.name))").message("each long-term store needs a name of its own"))]
    pub long_term_stores: Vec<LongTermStore>,
    /// libp2p port and how it is exposed and announced on chain.
    #[serde(default)]
    pub p2p: P2pSpec,
    /// Image, resources and placement of the miner runtime (`sealstack-miner run`).
    #[serde(default)]
    pub runtime: RuntimeSpec,
    /// What the runtime seals on its own.
    #[serde(default)]
    pub sealing: SealingSpec,
    /// Whether the runtime mines blocks.
    #[serde(default)]
    pub mining: MiningSpec,
    /// What happens to sectors near their expiration: extended automatically within builtin-actors' bounds, or
    /// left to expire (the default).
    #[serde(default)]
    pub sector_lifecycle: SectorLifecycleSpec,
    /// When the runtime pod may be disrupted: the operator closes its PodDisruptionBudget while a deadline with
    /// sectors is open and unproven (or its challenge is drawn); these settings override or bound that.
    #[serde(default)]
    pub maintenance: MaintenanceSpec,
}

/// How the deadline gate (the runtime's PodDisruptionBudget) may be overridden.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceSpec {
    /// Let disruptions through whatever the proving schedule says (the annotation
    /// `sealstack.io/maintenance-force: "true"` does the same): a drain inside an open deadline may then cost
    /// its WindowPoSt.
    #[serde(default)]
    pub force: bool,
    /// The longest the operator keeps disruptions blocked without a break (a deadline never proven, a chain it
    /// cannot read), after which it lets them through: nobody is locked out of their cluster by it. Hours,
    /// minutes and seconds: `1h`, `30m`, `1h30m`.
    #[serde(default = "default_max_blocked_duration")]
    #[x_kube(validation = Rule::new("self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+s)?$') && self != '' && !self.matches('^(0+h)?(0+m)?(0+s)?$')").message("maxBlockedDuration must be a positive duration in hours, minutes and seconds, such as 1h, 30m or 1h30m"))]
    pub max_blocked_duration: String,
}

impl Default for MaintenanceSpec {
    fn default() -> Self {
        Self { force: false, max_blocked_duration: default_max_blocked_duration() }
    }
}

fn default_max_blocked_duration() -> String {
    "1h".into()
}

/// A duration the schema should have refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a positive duration in hours, minutes and seconds (such as 1h, 30m or 1h30m)")]
pub struct DurationError(pub String);

/// Parses a duration of the form the schema allows (`1h`, `30m`, `1h30m15s`); zero and anything else are errors.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, DurationError> {
    let error = || DurationError(text.to_owned());
    let (mut seconds, mut rest, mut last_unit) = (0u64, text, 0);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
        let value: u64 = rest[..digits].parse().map_err(|_| error())?;
        let (unit, order) = match rest.as_bytes()[digits] {
            b'h' => (3600, 1),
            b'm' => (60, 2),
            b's' => (1, 3),
            _ => return Err(error()),
        };
        if order <= last_unit {
            return Err(error());
        }
        seconds = value.checked_mul(unit).and_then(|v| seconds.checked_add(v)).ok_or_else(error)?;
        (rest, last_unit) = (&rest[digits + 1..], order);
    }
    match seconds {
        0 => Err(error()),
        _ => Ok(std::time::Duration::from_secs(seconds)),
    }
}

/// The miner runtime's container and where its pod may run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeSpec {
    /// Image and resources of the `sealstack-miner run` container.
    #[serde(default, flatten)]
    pub container: ContainerSpec,
    /// Nodes the runtime pod may land on (e.g. storage nodes): `nodeSelector`, `tolerations` and `affinity`.
    #[serde(default, flatten)]
    pub placement: PodPlacement,
}

/// What the runtime seals without being asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealingSpec {
    /// Committed-capacity sectors the runtime pledges when it starts with none (`sealstack-miner run --pledge`).
    #[serde(default)]
    #[schemars(range(max = 1000))]
    pub pledge_sectors: u32,
    /// Batched PreCommits and aggregated ProveCommits (off by default: one message per sector).
    #[serde(default)]
    pub batching: BatchingSpec,
}

fn default_confidence() -> u32 {
    // Lotus's build.MessageConfidence.
    5
}

/// How to reach the full node: a Secret holding `FULLNODE_API_INFO` (`<jwt>:<multiaddr>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FullNodeRef {
    /// Secret key with the API info; the token needs `read`, `write` and `sign`.
    pub api_info_secret_ref: SecretKeyRef,
}

/// The worker key: an existing address, or a new key created on the full node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.address) != has(self.create)").message("set exactly one of worker.address or worker.create"))]
pub struct WorkerKey {
    /// An existing BLS address on the full node's wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Create a new key of this type (`lotus-miner init --create-worker-key`); recorded in status once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<KeyType>,
}

/// Key types the worker can be created with (the miner actor accepts only BLS workers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// A BLS key (`f3`).
    Bls,
}

/// The miner's libp2p endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct P2pSpec {
    /// Port the runtime listens on for libp2p.
    #[serde(default = "default_p2p_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// The Service exposing the port.
    #[serde(default)]
    pub service: P2pServiceSpec,
    /// Publish these multiaddrs on chain instead of the ones computed from the Service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub announce_addresses: Vec<Multiaddr>,
}

impl Default for P2pSpec {
    fn default() -> Self {
        Self { port: default_p2p_port(), service: P2pServiceSpec::default(), announce_addresses: Vec::new() }
    }
}

fn default_p2p_port() -> u16 {
    24001
}

/// Shape of the p2p Service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.nodePort) || self.type != 'ClusterIP'").message("nodePort needs type NodePort or LoadBalancer").field_path(".nodePort"))]
pub struct P2pServiceSpec {
    /// Service type; the announced address comes from the LoadBalancer ingress or the node's address.
    #[serde(default, rename = "type")]
    pub type_: P2pServiceType,
    /// Fixed node port (default: allocated by Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub node_port: Option<i32>,
    /// Annotations for the Service, e.g. for a cloud load balancer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Kubernetes Service types usable for the p2p endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum P2pServiceType {
    /// Reachable only inside the cluster: needs `announceAddresses` to be useful on chain.
    ClusterIP,
    /// Exposed on every node's address (the default).
    #[default]
    NodePort,
    /// Exposed through a load balancer's ingress address.
    LoadBalancer,
}

impl P2pServiceType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}

/// Observed state of a Miner.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinerStatus {
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The miner actor's ID address (`f01234`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_address: Option<String>,
    /// The miner actor's robust address (`f2...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_address: Option<String>,
    /// The owner, as resolved on the full node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_address: Option<String>,
    /// The worker, as resolved or created; a created key is recorded here before it is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_address: Option<String>,
    /// The libp2p peer ID of the runtime's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// Progress of on-chain creation, saved before and after every message it pushes (idempotency UUID, then
    /// CID), so a restarted operator resumes it and never sends a message twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation: Option<CreationRecord>,
    /// Multiaddrs the actor announces on chain, as last read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_chain_multiaddrs: Vec<String>,
    /// ChangeMultiaddrs / ChangePeerID messages pushed, by step (one step per distinct target).
    #[serde(default, skip_serializing_if = "MessageLog::is_empty")]
    pub address_messages: MessageLog,
    /// The actor's power on chain, as quantities of bytes (`4Ki`, `32Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<MinerPowerStatus>,
    /// The actor's sectors on chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sectors: Option<MinerSectorsStatus>,
    /// Where the proving schedule stands (while the actor has sectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proving: Option<ProvingStatus>,
    /// The actor's funds and its addresses' balances, in FIL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances: Option<MinerBalances>,
    /// Since when the runtime's PodDisruptionBudget has held disruptions without a break (what
    /// `spec.maintenance.maxBlockedDuration` bounds); absent while they are let through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruptions_held_since: Option<Time>,
    /// The blocks the miner produced, as found in the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mining: Option<MiningStatus>,
    /// Its storage's claims and capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageStatus>,
    /// `ParamsReady`, `ActorCreated`, `RuntimeReady`, `AddressesPublished`, `Proving`, `DisruptionAllowed` and
    /// `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

/// Power of a miner actor (StateMinerPower), as Kubernetes quantities of bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinerPowerStatus {
    /// Raw-byte power.
    pub raw: String,
    /// Quality-adjusted power (what elections count).
    pub quality_adjusted: String,
    /// Whether it meets the network's consensus minimum (it can win blocks).
    pub meets_consensus_minimum: bool,
}

/// Sector counts of a miner actor on chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinerSectorsStatus {
    /// Live sectors (not terminated), all of which must be proven.
    pub live: u64,
    /// Sectors carrying power.
    pub active: u64,
    /// Faulty sectors (recovering ones included).
    pub faulty: u64,
    /// Faulty sectors declared recovered, awaiting their next proof.
    pub recovering: u64,
}

/// The proving schedule as last read from the chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvingStatus {
    /// The current WindowPoSt deadline (0 to 47).
    pub current_deadline: u64,
    /// The epoch the current deadline opened at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_deadline_open: Option<i64>,
    /// The epoch it closes at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_deadline_close: Option<i64>,
    /// Whether every partition of the current deadline that must be proven was (absent: it holds no sector to
    /// prove).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_deadline_proven: Option<bool>,
    /// The next deadline after the current one that holds sectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_deadline_with_sectors: Option<u64>,
    /// Until when the runtime pod may be disrupted without risking a WindowPoSt (the challenge of the next deadline
    /// with sectors); absent while disruptions are held, or with no sectors to prove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_until: Option<Time>,
    /// The deadlines holding faulty sectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faulty_deadlines: Vec<u64>,
}

/// A miner actor's funds (StateReadState, StateMinerAvailableBalance) and its addresses' balances, in FIL
/// (`"12.5 FIL"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinerBalances {
    /// The actor's balance.
    pub actor: String,
    /// What the actor could spend: balance less locked funds, pledge, deposits and fee debt (negative in debt).
    pub available: String,
    /// Vesting funds locked (rewards, the creation deposit).
    pub locked: String,
    /// The initial pledge of its sectors.
    pub initial_pledge: String,
    /// Deposits of pre-committed sectors.
    pub pre_commit_deposits: String,
    /// Unpaid fees; a miner in fee debt cannot pre-commit.
    pub fee_debt: String,
    /// The worker address's balance (it pays for the miner's messages).
    pub worker: String,
    /// The owner address's balance.
    pub owner: String,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn max_blocked_durations_are_positive_hours_minutes_and_seconds() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h0m5s"), Ok(Duration::from_secs(7205)));
        for bad in ["", "0s", "0h0m", "-1h", "1d", "1.5h", "30m1h", "h", "1h1h", "99999999999999999999h"] {
            assert_eq!(parse_duration(bad), Err(DurationError(bad.into())), "{bad:?}");
        }
        assert_eq!(parse_duration(&MaintenanceSpec::default().max_blocked_duration), Ok(Duration::from_secs(3600)));
    }
}
