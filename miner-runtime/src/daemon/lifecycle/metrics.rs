//! The sector lifecycle metrics (prefix `sealstack_miner`): active sectors expiring within the extension window,
//! the next expiration, sectors extended, and the policy's passes by outcome.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::daemon::metrics::OutcomeLabels;

/// The sector lifecycle metrics.
#[derive(Clone)]
pub struct LifecycleMetrics {
    /// Active sectors expiring within the extension window (30 days when no policy is set).
    pub expiring: Gauge,
    /// The earliest expiration epoch of an active sector.
    pub next_expiration: Gauge,
    /// Sectors extended by the policy.
    pub extended: Counter,
    passes: Family<OutcomeLabels, Counter>,
}

impl LifecycleMetrics {
    /// The metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = LifecycleMetrics {
            expiring: Gauge::default(),
            next_expiration: Gauge::default(),
            extended: Counter::default(),
            passes: Family::default(),
        };
        registry.register(
            "sectors_expiring",
            "Active sectors expiring within the extension window (30 days of proving periods without a policy)",
            metrics.expiring.clone(),
        );
        registry.register(
            "next_sector_expiration_epoch",
            "The earliest expiration epoch of an active sector",
            metrics.next_expiration.clone(),
        );
        registry.register("sectors_extended", "Sectors extended by the lifecycle policy", metrics.extended.clone());
        registry.register(
            "sector_extension_passes",
            "Passes of the extension policy that sent messages, by outcome (ok, failed)",
            metrics.passes.clone(),
        );
        metrics
    }

    /// Counts a pass of the policy.
    pub fn extension(&self, outcome: &'static str) {
        self.passes.get_or_create(&OutcomeLabels { outcome }).inc();
    }
}
