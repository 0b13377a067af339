//! The Miner's conditions that do not need a client (pure): the ParamCache's and the runtime's, and `Ready`,
//! which sums up the steps.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use sealstack_crds::conditions::{find_condition, status, types};

/// The status, reason and message of one condition.
pub type Observed = (&'static str, String, String);

/// The conditions `Ready` needs, in the order the reconcile takes their steps.
pub const READY_NEEDS: [&str; 6] = [
    types::SPEC_VALID,
    types::PARAMS_READY,
    types::ACTOR_CREATED,
    types::RUNTIME_READY,
    types::ADDRESSES_PUBLISHED,
    types::PROVING,
];

/// `SpecValid` of a spec that passed the operator's checks.
pub fn spec_valid() -> Observed {
    crate::validation::spec_valid(None).expect("a valid spec has a condition")
}

/// `ParamsReady`: whether the Miner's ParamCache is Ready.
pub fn params_ready(cache: &str, ready: bool) -> Observed {
    if ready {
        (status::TRUE, "ParamCacheReady".into(), format!("ParamCache {cache} is Ready"))
    } else {
        (status::FALSE, "WaitingForParamCache".into(), format!("waiting for ParamCache {cache} to be Ready"))
    }
}

/// `RuntimeReady`: whether the runtime StatefulSet `set` has its pod ready.
pub fn runtime_ready(set: &str, ready_replicas: i32) -> Observed {
    if ready_replicas > 0 {
        (status::TRUE, "RuntimeRunning".into(), format!("{set} is ready"))
    } else {
        (status::FALSE, "RuntimeStarting".into(), format!("waiting for {set} to be ready"))
    }
}

/// Reason of `RuntimeReady` for a runtime that was ready and is no longer (until it is again).
pub const RUNTIME_LOST: &str = "RuntimeLost";

/// `RuntimeReady` after `previous`: a runtime that was ready and is not any more was lost (its pod deleted or
/// evicted, or its node not ready), which stays the reason until it is ready again.
pub fn runtime_ready_after(set: &str, ready_replicas: i32, previous: Option<&Condition>) -> Observed {
    let observed = runtime_ready(set, ready_replicas);
    let was_ready = previous.is_some_and(|c| c.status == status::TRUE || c.reason == RUNTIME_LOST);
    if observed.0 == status::FALSE && was_ready {
        let message = format!(
            "{set} was ready and is not (its pod gone or its node not ready): WindowPoSts wait for it to come back, \
             its PoSt workers keep their pods"
        );
        return (status::FALSE, RUNTIME_LOST.into(), message);
    }
    observed
}

/// `Ready`: every condition of [`READY_NEEDS`] is `True`. Otherwise the reason is the first missing step's
/// own reason (`<Type>Unknown` when that step was not reached yet), and the message names every missing step
/// with what it reports.
pub fn ready(conditions: &[Condition], actor: Option<&str>) -> Observed {
    let missing: Vec<(&str, Option<&Condition>)> = READY_NEEDS
        .iter()
        .map(|&type_| (type_, find_condition(conditions, type_)))
        .filter(|(_, found)| !found.is_some_and(|c| c.status == status::TRUE))
        .collect();
    let Some(&(first, first_found)) = missing.first() else {
        let actor = actor.unwrap_or("?");
        let message =
            format!("miner actor {actor} is on chain with its addresses, its runtime is ready and its sectors proven");
        return (status::TRUE, "MinerReady".into(), message);
    };
    let reason = first_found.map_or_else(|| format!("{first}Unknown"), |c| c.reason.clone());
    let steps: Vec<String> = missing
        .iter()
        .map(|(type_, found)| match found {
            Some(c) if !c.message.is_empty() => format!("{type_} ({})", c.message),
            Some(c) => format!("{type_} ({})", c.reason),
            None => format!("{type_} (not reached yet)"),
        })
        .collect();
    (status::FALSE, reason, format!("not ready: {}", steps.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use sealstack_crds::conditions::set_condition;

    fn conditions(steps: &[(&str, &Observed)]) -> Vec<Condition> {
        let mut conditions = Vec::new();
        for (type_, (s, reason, message)) in steps {
            let now = Time(Timestamp::from_second(0).unwrap());
            set_condition(&mut conditions, type_, s, reason, message.as_str(), Some(1), now);
        }
        conditions
    }

    fn done() -> Vec<Condition> {
        let t = |message: &str| (status::TRUE, "Done".to_string(), message.to_string());
        conditions(&[
            (types::SPEC_VALID, &spec_valid()),
            (types::PARAMS_READY, &params_ready("params", true)),
            (types::ACTOR_CREATED, &t("miner actor t01000")),
            (types::RUNTIME_READY, &runtime_ready("m1-runtime", 1)),
            (types::ADDRESSES_PUBLISHED, &t("on chain: [/ip4/1.2.3.4/tcp/1]")),
            (types::PROVING, &t("all 1 live sectors were proven in their deadlines")),
        ])
    }

    #[test]
    fn ready_needs_every_step() {
        let (s, reason, message) = ready(&done(), Some("t01000"));
        assert_eq!((s, reason.as_str()), (status::TRUE, "MinerReady"));
        assert!(message.contains("t01000"), "{message}");
    }

    #[test]
    fn a_runtime_not_ready_keeps_the_miner_from_ready_and_is_named() {
        let mut conditions = done();
        let (s, reason, message) = runtime_ready("m1-runtime", 0);
        set_condition(&mut conditions, types::RUNTIME_READY, s, &reason, message, Some(1), Time(Timestamp::now()));
        let (s, reason, message) = ready(&conditions, Some("t01000"));
        assert_eq!((s, reason.as_str()), (status::FALSE, "RuntimeStarting"));
        assert_eq!(message, "not ready: RuntimeReady (waiting for m1-runtime to be ready)");
    }

    #[test]
    fn the_first_missing_step_gives_the_reason_and_every_missing_one_is_named() {
        // A first reconcile whose ParamCache is not Ready: the chain steps were not reached.
        let waiting =
            conditions(&[(types::SPEC_VALID, &spec_valid()), (types::PARAMS_READY, &params_ready("params", false))]);
        let (s, reason, message) = ready(&waiting, None);
        assert_eq!((s, reason.as_str()), (status::FALSE, "WaitingForParamCache"));
        assert_eq!(
            message,
            "not ready: ParamsReady (waiting for ParamCache params to be Ready); ActorCreated (not reached yet); \
             RuntimeReady (not reached yet); AddressesPublished (not reached yet); Proving (not reached yet)"
        );

        // The full node down: ActorCreated says why; the later steps keep what they last reported.
        let mut down = done();
        set_condition(
            &mut down,
            types::ACTOR_CREATED,
            "False",
            "FullNodeError",
            "full node: unreachable",
            Some(2),
            Time(Timestamp::now()),
        );
        let (s, reason, message) = ready(&down, Some("t01000"));
        assert_eq!((s, reason.as_str()), (status::FALSE, "FullNodeError"));
        assert_eq!(message, "not ready: ActorCreated (full node: unreachable)");

        // A step reached but without a message, and one not reached.
        let mut partial =
            conditions(&[(types::SPEC_VALID, &spec_valid()), (types::PARAMS_READY, &params_ready("params", true))]);
        set_condition(
            &mut partial,
            types::ACTOR_CREATED,
            "False",
            "CreationFailed",
            "",
            Some(1),
            Time(Timestamp::now()),
        );
        let (_, reason, message) = ready(&partial, None);
        assert_eq!(reason, "CreationFailed");
        assert!(
            message.starts_with("not ready: ActorCreated (CreationFailed); RuntimeReady (not reached yet)"),
            "{message}"
        );
        assert_eq!(ready(&[], None).1, "SpecValidUnknown", "nothing reached");

        // A refused spec: nothing else was looked at.
        let refused =
            conditions(&[(types::SPEC_VALID, &(status::FALSE, "InvalidSpec".into(), "spec.owner: x".into()))]);
        let (s, reason, message) = ready(&refused, None);
        assert_eq!((s, reason.as_str()), (status::FALSE, "InvalidSpec"));
        assert!(
            message.starts_with("not ready: SpecValid (spec.owner: x); ParamsReady (not reached yet)"),
            "{message}"
        );
    }

    #[test]
    fn params_and_runtime_conditions() {
        assert_eq!(params_ready("p", true).0, status::TRUE);
        assert_eq!(params_ready("p", false).1, "WaitingForParamCache");
        assert_eq!(
            runtime_ready("m1-runtime", 1),
            (status::TRUE, "RuntimeRunning".into(), "m1-runtime is ready".into())
        );
        assert_eq!(runtime_ready("m1-runtime", 0).1, "RuntimeStarting");
    }

    #[test]
    fn a_runtime_that_was_ready_and_is_not_is_lost_until_it_is_back() {
        let condition = |observed: Observed| Condition {
            type_: types::RUNTIME_READY.into(),
            status: observed.0.into(),
            reason: observed.1,
            message: observed.2,
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            observed_generation: None,
        };
        assert_eq!(runtime_ready_after("m1-runtime", 0, None).1, "RuntimeStarting", "never ready: starting");
        let running = condition(runtime_ready("m1-runtime", 1));
        let lost = runtime_ready_after("m1-runtime", 0, Some(&running));
        assert_eq!((lost.0, lost.1.as_str()), (status::FALSE, RUNTIME_LOST));
        assert!(lost.2.starts_with("m1-runtime was ready and is not"), "{}", lost.2);
        let still = runtime_ready_after("m1-runtime", 0, Some(&condition(lost)));
        assert_eq!(still.1, RUNTIME_LOST, "lost until ready again");
        assert_eq!(runtime_ready_after("m1-runtime", 1, Some(&condition(still))).1, "RuntimeRunning");
    }
}
