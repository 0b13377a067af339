//! A Miner's sector lifecycle policy (`spec.sectorLifecycle`): whether its runtime extends sectors that near
//! their expiration, and by how much, within builtin-actors' bounds. "Days" are the network's proving periods
//! (2880 epochs on mainnet, a devnet's shorter period on a devnet), the unit of builtin-actors' policy.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Days a sector's expiration may be set ahead of the current epoch (builtin-actors
/// `MAX_SECTOR_EXPIRATION_EXTENSION`: 1278 days).
pub const MAX_EXTENSION_DAYS: u32 = 1278;
/// Days a sector lives at least from its activation (builtin-actors `MIN_SECTOR_EXPIRATION`: 180 days); an
/// extension to fewer days from now could be refused for a young sector.
pub const MIN_EXTENSION_DAYS: u32 = 180;

/// What happens to sectors as they near their expiration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SectorLifecycleSpec {
    /// Automatic extension (ExtendSectorExpiration2) of sectors near their expiration. Off by default: a
    /// sector then expires on its date, and its power and pledge go (`sealstack-miner sectors extend` still
    /// extends by hand).
    #[serde(default)]
    pub extension: ExtensionPolicy,
}

/// Which sectors the runtime extends, and to when: once per proving period, the active sectors expiring within
/// `withinDays` get the expiration `extendToDays` from the period's start (less for a sector that would pass
/// builtin-actors' maximum lifetime of 5 years), in batched messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.withinDays < self.extendToDays").message("withinDays must be less than extendToDays: a sector extended into the window would be extended again at once").field_path(".withinDays"))]
pub struct ExtensionPolicy {
    /// Extend sectors automatically (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Extend the sectors that expire within this many days (default 30).
    #[serde(default = "default_within_days")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 1278").message("withinDays must be between 1 and 1278 days"))]
    pub within_days: u32,
    /// The new expiration, in days from the proving period's start (default 540, lotus-miner's `sectors
    /// extend`); from 180 (builtin-actors' minimum sector lifetime) to 1278 (its maximum extension).
    #[serde(default = "default_extend_to_days")]
    #[x_kube(validation = Rule::new("self >= 180 && self <= 1278").message("extendToDays must be between 180 (builtin-actors' MIN_SECTOR_EXPIRATION) and 1278 days (its MAX_SECTOR_EXPIRATION_EXTENSION)"))]
    pub extend_to_days: u32,
    /// Leave a sector alone when its expiration is already within this many days of the new one: not worth a
    /// message (default 7, lotus-miner's `--tolerance`).
    #[serde(default = "default_tolerance_days")]
    #[x_kube(validation = Rule::new("self <= 1278").message("toleranceDays must be at most 1278 days"))]
    pub tolerance_days: u32,
}

impl Default for ExtensionPolicy {
    fn default() -> Self {
        ExtensionPolicy {
            enabled: false,
            within_days: default_within_days(),
            extend_to_days: default_extend_to_days(),
            tolerance_days: default_tolerance_days(),
        }
    }
}

fn default_within_days() -> u32 {
    30
}

fn default_extend_to_days() -> u32 {
    540
}

fn default_tolerance_days() -> u32 {
    7
}
