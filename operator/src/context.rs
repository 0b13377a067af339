//! What every reconcile shares: the client, metrics, Event publisher, the stores of the operator's watches
//! and the operator's settings.

use std::sync::{Arc, Mutex};

use kube::Client;
use kube::runtime::events::Reporter;
use sealstack_crds::{Miner, ParamCache, SealingWorker};

use crate::events::Events;
use crate::full_nodes::FullNodes;
use crate::metrics::Metrics;
use crate::own_writes::OwnWrites;
use crate::stores::{Feeds, Stores, stores};

/// Operator-wide settings.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Image of `sealstack-miner` for Jobs and pods whose spec names none.
    pub runtime_image: String,
    /// Fault injection for crash tests: the first time a chain journal is about to record the CID of this
    /// step's message (e.g. `create-miner`), that reconcile hangs for ever without recording it, as if the
    /// operator died right after the push.
    pub fail_before_saving: Option<String>,
}

/// Shared state of the controllers.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Operator metrics.
    pub metrics: Arc<Metrics>,
    /// Publishes Events on the reconciled objects.
    pub events: Events,
    /// Operator-wide settings.
    pub settings: Settings,
    /// Whether the injected failure (`Settings::fail_before_saving`) already happened.
    pub fault_fired: std::sync::atomic::AtomicBool,
    /// What the operator's watches hold; reconciles read these instead of the API server.
    pub stores: Stores,
    /// Connections to the Lotus full nodes the Miners name.
    pub full_nodes: FullNodes,
    /// The operator's status writes the stores do not show yet.
    pub own_writes: OwnStatusWrites,
    /// The last epoch scanned for each Miner's blocks (`namespace/name`), ahead of its status, which records
    /// it only when blocks are found.
    pub mining_cursors: Mutex<std::collections::HashMap<String, i64>>,
    /// When each Miner's balances were last written in its status (a change of them alone is written at most
    /// once a minute).
    pub balance_writes: crate::miner::balances::BalanceWrites,
}

/// The operator's last status write to each of its objects, until the watches show it.
#[derive(Default)]
pub struct OwnStatusWrites {
    /// Miners (the chain journal's writes included).
    pub miners: OwnWrites<Miner>,
    /// ParamCaches.
    pub caches: OwnWrites<ParamCache>,
    /// SealingWorkers.
    pub workers: OwnWrites<SealingWorker>,
}

impl Context {
    /// A context around `client`, and the feeds of its stores: whoever starts the controllers hands them to the
    /// watches that fill the stores ([`crate::controllers::run_controllers`]).
    pub fn new(client: Client, metrics: Arc<Metrics>, settings: Settings) -> (Arc<Self>, Feeds) {
        let reporter = Reporter { controller: crate::FIELD_MANAGER.into(), instance: std::env::var("POD_NAME").ok() };
        let events = Events::new(client.clone(), reporter);
        let (stores, feeds) = stores();
        let ctx = Arc::new(Self {
            client,
            metrics,
            events,
            settings,
            fault_fired: Default::default(),
            stores,
            full_nodes: FullNodes::default(),
            own_writes: OwnStatusWrites::default(),
            mining_cursors: Mutex::default(),
            balance_writes: Default::default(),
        });
        (ctx, feeds)
    }
}
