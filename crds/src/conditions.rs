//! Status conditions: the standard `metav1.Condition`, kept as a list-map keyed by `type`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::{Schema, SchemaGenerator, json_schema};

/// Condition types, one per step of a resource's life.
pub mod types {
    /// Every file of the ParamCache is present and verified; a Miner's or SealingWorker's ParamCache is.
    pub const PARAMS_READY: &str = "ParamsReady";
    /// The miner actor exists on chain (created by the operator or adopted).
    pub const ACTOR_CREATED: &str = "ActorCreated";
    /// The miner runtime (StatefulSet) is up and serving.
    pub const RUNTIME_READY: &str = "RuntimeReady";
    /// The actor's on-chain multiaddrs and peer ID equal what the Service exposes.
    pub const ADDRESSES_PUBLISHED: &str = "AddressesPublished";
    /// The resource does its job; the summary of the others.
    pub const READY: &str = "Ready";
    /// Miner: every deadline with sectors was proven in the last proving period (no faulty sectors).
    pub const PROVING: &str = "Proving";
    /// Miner: the runtime pod may be disrupted now (its PodDisruptionBudget allows one pod down): no deadline with
    /// sectors is open and unproven, nor about to open; or the gate is overridden or was held too long.
    pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
    /// Miner: a change of the runtime (spec, image, API info) waits for the deadline gate to open.
    pub const ROLLOUT_PENDING: &str = "RolloutPending";
    /// The spec was refused by the operator's own checks (beyond the schema).
    pub const SPEC_VALID: &str = "SpecValid";
}

/// Condition statuses.
pub mod status {
    /// The condition holds.
    pub const TRUE: &str = "True";
    /// The condition does not hold.
    pub const FALSE: &str = "False";
    /// Not known yet.
    pub const UNKNOWN: &str = "Unknown";
}

/// Schema of a `conditions` field: `metav1.Condition` items as a list-map keyed by `type`.
pub fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<Condition>();
    json_schema!({
        "type": "array",
        "description": "Latest observations of the resource's state, one per type.",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    })
}

/// Sets a condition in `conditions`, keeping `lastTransitionTime` when the status does not change.
///
/// Returns whether anything changed, so that callers can skip a status write when nothing did.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Time,
) -> bool {
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let unchanged = existing.status == status
                && existing.reason == reason
                && existing.message == message
                && existing.observed_generation == observed_generation;
            if unchanged {
                return false;
            }
            if existing.status != status {
                existing.last_transition_time = now;
            }
            existing.status = status.to_owned();
            existing.reason = reason.to_owned();
            existing.message = message;
            existing.observed_generation = observed_generation;
            true
        }
        None => {
            conditions.push(Condition {
                type_: type_.to_owned(),
                status: status.to_owned(),
                reason: reason.to_owned(),
                message,
                observed_generation,
                last_transition_time: now,
            });
            true
        }
    }
}

/// The condition of this type, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of this type is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == status::TRUE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn set_condition_adds_updates_and_reports_changes() {
        let mut conditions = Vec::new();
        assert!(set_condition(&mut conditions, types::READY, status::FALSE, "Waiting", "waiting", Some(1), at(10)));
        assert!(!set_condition(&mut conditions, types::READY, status::FALSE, "Waiting", "waiting", Some(1), at(20)));
        assert_eq!(conditions[0].last_transition_time, at(10), "no change keeps the time");

        assert!(set_condition(
            &mut conditions,
            types::READY,
            status::FALSE,
            "Waiting",
            "still waiting",
            Some(1),
            at(30)
        ));
        assert_eq!(conditions[0].last_transition_time, at(10), "a new message is not a transition");

        assert!(set_condition(&mut conditions, types::READY, status::TRUE, "Ready", "ok", Some(2), at(40)));
        assert_eq!(conditions[0].last_transition_time, at(40));
        assert!(is_true(&conditions, types::READY));
        assert_eq!(conditions.len(), 1);

        assert!(set_condition(
            &mut conditions,
            types::ACTOR_CREATED,
            status::TRUE,
            "Created",
            "f01000",
            Some(2),
            at(40)
        ));
        assert_eq!(conditions.len(), 2);
        assert!(!is_true(&conditions, types::PARAMS_READY));
    }
}
