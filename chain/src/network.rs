//! `StateGetNetworkParams` with every field Lotus returns (lotus api.NetworkParams, api.ForkUpgradeParams,
//! node/impl/full/state.go): the network's name, block delay, consensus minimum power, seal challenge delay,
//! upgrade heights, EIP-155 chain ID and genesis timestamp.

use fvm_shared::bigint::BigInt;
use serde::{Deserialize, Serialize};

/// `Filecoin.StateGetNetworkParams`'s result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkParams {
    /// The network's name.
    #[serde(rename = "NetworkName")]
    pub network_name: String,
    /// Seconds between epochs.
    #[serde(rename = "BlockDelaySecs")]
    pub block_delay_secs: u64,
    /// The raw power a miner needs to be eligible to mine (a decimal number of bytes; mainnet 10 TiB, Lotus's
    /// 2k build 2048).
    #[serde(rename = "ConsensusMinerMinPower", default)]
    pub consensus_miner_min_power: String,
    /// Epochs between a PreCommit and the epoch its interactive seal seed is drawn at.
    #[serde(rename = "PreCommitChallengeDelay")]
    pub pre_commit_challenge_delay: i64,
    /// The heights of the network's upgrades.
    #[serde(rename = "ForkUpgradeParams", default)]
    pub fork_upgrade_params: ForkUpgradeParams,
    /// The chain ID of the Ethereum JSON-RPC API.
    #[serde(rename = "Eip155ChainID", default)]
    pub eip155_chain_id: i64,
    /// Unix seconds of the genesis block.
    #[serde(rename = "GenesisTimestamp", default)]
    pub genesis_timestamp: u64,
}

impl NetworkParams {
    /// The consensus minimum power in bytes, when the node gave a number.
    pub fn min_power(&self) -> Option<BigInt> {
        self.consensus_miner_min_power.parse().ok()
    }
}

/// An upgrade height the network will never reach (the devnet stays at its network version).
pub const NEVER: i64 = 9_999_999_999;

/// The heights of every network upgrade (negative: before genesis).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkUpgradeParams {
    /// `UpgradeSmokeHeight`.
    #[serde(rename = "UpgradeSmokeHeight")]
    pub upgrade_smoke_height: i64,
    /// `UpgradeBreezeHeight`.
    #[serde(rename = "UpgradeBreezeHeight")]
    pub upgrade_breeze_height: i64,
    /// `UpgradeIgnitionHeight`.
    #[serde(rename = "UpgradeIgnitionHeight")]
    pub upgrade_ignition_height: i64,
    /// `UpgradeLiftoffHeight`.
    #[serde(rename = "UpgradeLiftoffHeight")]
    pub upgrade_liftoff_height: i64,
    /// `UpgradeAssemblyHeight`.
    #[serde(rename = "UpgradeAssemblyHeight")]
    pub upgrade_assembly_height: i64,
    /// `UpgradeRefuelHeight`.
    #[serde(rename = "UpgradeRefuelHeight")]
    pub upgrade_refuel_height: i64,
    /// `UpgradeTapeHeight`.
    #[serde(rename = "UpgradeTapeHeight")]
    pub upgrade_tape_height: i64,
    /// `UpgradeKumquatHeight`.
    #[serde(rename = "UpgradeKumquatHeight")]
    pub upgrade_kumquat_height: i64,
    /// `BreezeGasTampingDuration`.
    #[serde(rename = "BreezeGasTampingDuration")]
    pub breeze_gas_tamping_duration: i64,
    /// `UpgradeCalicoHeight`.
    #[serde(rename = "UpgradeCalicoHeight")]
    pub upgrade_calico_height: i64,
    /// `UpgradePersianHeight`.
    #[serde(rename = "UpgradePersianHeight")]
    pub upgrade_persian_height: i64,
    /// `UpgradeOrangeHeight`.
    #[serde(rename = "UpgradeOrangeHeight")]
    pub upgrade_orange_height: i64,
    /// `UpgradeClausHeight`.
    #[serde(rename = "UpgradeClausHeight")]
    pub upgrade_claus_height: i64,
    /// `UpgradeTrustHeight`.
    #[serde(rename = "UpgradeTrustHeight")]
    pub upgrade_trust_height: i64,
    /// `UpgradeNorwegianHeight`.
    #[serde(rename = "UpgradeNorwegianHeight")]
    pub upgrade_norwegian_height: i64,
    /// `UpgradeTurboHeight`.
    #[serde(rename = "UpgradeTurboHeight")]
    pub upgrade_turbo_height: i64,
    /// `UpgradeHyperdriveHeight`.
    #[serde(rename = "UpgradeHyperdriveHeight")]
    pub upgrade_hyperdrive_height: i64,
    /// `UpgradeChocolateHeight`.
    #[serde(rename = "UpgradeChocolateHeight")]
    pub upgrade_chocolate_height: i64,
    /// `UpgradeOhSnapHeight`.
    #[serde(rename = "UpgradeOhSnapHeight")]
    pub upgrade_oh_snap_height: i64,
    /// `UpgradeSkyrHeight`.
    #[serde(rename = "UpgradeSkyrHeight")]
    pub upgrade_skyr_height: i64,
    /// `UpgradeSharkHeight`.
    #[serde(rename = "UpgradeSharkHeight")]
    pub upgrade_shark_height: i64,
    /// `UpgradeHyggeHeight`.
    #[serde(rename = "UpgradeHyggeHeight")]
    pub upgrade_hygge_height: i64,
    /// `UpgradeLightningHeight`.
    #[serde(rename = "UpgradeLightningHeight")]
    pub upgrade_lightning_height: i64,
    /// `UpgradeThunderHeight`.
    #[serde(rename = "UpgradeThunderHeight")]
    pub upgrade_thunder_height: i64,
    /// `UpgradeWatermelonHeight`.
    #[serde(rename = "UpgradeWatermelonHeight")]
    pub upgrade_watermelon_height: i64,
    /// `UpgradeDragonHeight`.
    #[serde(rename = "UpgradeDragonHeight")]
    pub upgrade_dragon_height: i64,
    /// `UpgradePhoenixHeight`.
    #[serde(rename = "UpgradePhoenixHeight")]
    pub upgrade_phoenix_height: i64,
    /// `UpgradeWaffleHeight`.
    #[serde(rename = "UpgradeWaffleHeight")]
    pub upgrade_waffle_height: i64,
    /// `UpgradeTuktukHeight`.
    #[serde(rename = "UpgradeTuktukHeight")]
    pub upgrade_tuktuk_height: i64,
    /// `UpgradeTeepHeight`.
    #[serde(rename = "UpgradeTeepHeight")]
    pub upgrade_teep_height: i64,
    /// `UpgradeTockHeight`.
    #[serde(rename = "UpgradeTockHeight")]
    pub upgrade_tock_height: i64,
    /// `UpgradeGoldenWeekHeight`.
    #[serde(rename = "UpgradeGoldenWeekHeight")]
    pub upgrade_golden_week_height: i64,
    /// `UpgradeFireHorseHeight`.
    #[serde(rename = "UpgradeFireHorseHeight")]
    pub upgrade_fire_horse_height: i64,
    /// `UpgradeXxHeight`.
    #[serde(rename = "UpgradeXxHeight")]
    pub upgrade_xx_height: i64,
}

impl ForkUpgradeParams {
    /// Lotus's 2k devnet build (build/buildconstants/params_2k.go): every upgrade before genesis, the chain
    /// starting at network version 28 (FireHorse); the next upgrade (Xx, at 200 in Lotus's build) never comes,
    /// as the devnet stays at version 28.
    pub fn devnet() -> Self {
        ForkUpgradeParams {
            upgrade_smoke_height: -1,
            upgrade_breeze_height: -1,
            upgrade_ignition_height: -2,
            upgrade_liftoff_height: -6,
            upgrade_assembly_height: -5,
            upgrade_refuel_height: -3,
            upgrade_tape_height: -4,
            upgrade_kumquat_height: -7,
            breeze_gas_tamping_duration: 0,
            upgrade_calico_height: -9,
            upgrade_persian_height: -10,
            upgrade_orange_height: -11,
            upgrade_claus_height: -12,
            upgrade_trust_height: -13,
            upgrade_norwegian_height: -14,
            upgrade_turbo_height: -15,
            upgrade_hyperdrive_height: -16,
            upgrade_chocolate_height: -17,
            upgrade_oh_snap_height: -18,
            upgrade_skyr_height: -19,
            upgrade_shark_height: -20,
            upgrade_hygge_height: -21,
            upgrade_lightning_height: -22,
            upgrade_thunder_height: -23,
            upgrade_watermelon_height: -24,
            upgrade_dragon_height: -25,
            upgrade_phoenix_height: -26,
            upgrade_waffle_height: -27,
            upgrade_tuktuk_height: -28,
            upgrade_teep_height: -29,
            upgrade_tock_height: -30,
            upgrade_golden_week_height: -31,
            upgrade_fire_horse_height: -32,
            upgrade_xx_height: NEVER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lotus_network_params_example_round_trips() {
        let text = include_str!("../tests/vectors/state_get_network_params.json");
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let params: NetworkParams = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(params.eip155_chain_id, 123);
        assert_eq!(params.fork_upgrade_params.upgrade_xx_height, 10101);
        assert_eq!(params.min_power(), Some(BigInt::from(0)));
        assert_eq!(serde_json::to_value(&params).unwrap(), value);
    }

    #[test]
    fn the_devnet_upgrades_are_all_before_genesis() {
        let heights = serde_json::to_value(ForkUpgradeParams::devnet()).unwrap();
        let heights = heights.as_object().unwrap();
        assert_eq!(heights.len(), 34);
        assert!(heights.iter().all(|(name, h)| name == "UpgradeXxHeight" || h.as_i64().unwrap() <= 0));
    }
}
