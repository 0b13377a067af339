//! What the three kinds' `validate` steps share (pure): collecting every refused field of one object into one
//! [`Error::InvalidSpec`], the `SpecValid` condition that says the outcome, and the checks of the Kubernetes
//! values the schema lets through as they are (quantities are int-or-string there, any string passes), which
//! the API server would otherwise refuse only when the operator applies the child they end up in.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use sealstack_crds::conditions::set_condition;
use sealstack_crds::conditions::status::{FALSE, TRUE};
use sealstack_crds::conditions::types::SPEC_VALID;

use crate::error::{Error, Result};

/// `SpecValid` (status, reason, message) after a reconcile's validate step (and the dereference of what the spec
/// names, such as a manifest ConfigMap): True without `error`, False with an error about the spec (refused, or
/// naming an object that is not there). `None` for an error that says nothing about the spec (a failed request):
/// the condition stays as it was.
pub fn spec_valid(error: Option<&Error>) -> Option<(&'static str, String, String)> {
    match error {
        None => Some((TRUE, "SpecValid".into(), "the spec passed the operator's checks".into())),
        Some(error @ (Error::InvalidSpec(_) | Error::MissingDependency { .. })) => {
            Some((FALSE, error.reason(), error.to_string()))
        }
        Some(_) => None,
    }
}

/// The refused fields of one object, each by its path with why.
#[derive(Debug, Default)]
pub struct Refusals(Vec<String>);

impl Refusals {
    /// The value `checked` holds, or `None` with `field` refused for its error.
    pub fn check<T>(&mut self, field: &str, checked: Result<T, String>) -> Option<T> {
        checked.map_err(|why| self.refuse(field, why)).ok()
    }

    /// Refuses `field` for `why`.
    pub fn refuse(&mut self, field: &str, why: impl std::fmt::Display) {
        self.0.push(format!("{field}: {why}"));
    }

    /// `value` when nothing was refused; otherwise one [`Error::InvalidSpec`] naming every refused field.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T> {
        if self.0.is_empty() { Ok(value()) } else { Err(Error::InvalidSpec(self.0.join("; "))) }
    }
}

/// Sets `SpecValid` in `conditions` for the outcome `error` ([`spec_valid`]; left as it is for an error that says
/// nothing about the spec).
pub fn record_spec_valid(conditions: &mut Vec<Condition>, error: Option<&Error>, generation: Option<i64>) {
    if let Some((status, reason, message)) = spec_valid(error) {
        set_condition(conditions, SPEC_VALID, status, &reason, message, generation, Time(Timestamp::now()));
    }
}

/// Checks a Kubernetes quantity (`1Gi`, `500m`, `2`, `1e3`) as the API server parses one: a non-negative decimal
/// number and one of the suffixes `Ki`..`Ei`, `n`, `u`, `m`, `k`, `M`..`E`, or a decimal exponent.
pub fn quantity(value: &Quantity) -> Result<(), String> {
    let text = value.0.as_str();
    let refused = || format!("{text:?} is not a quantity (such as 1Gi, 500m or 2)");
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if unsigned.starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    let number_end = unsigned.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let digits = number.chars().filter(char::is_ascii_digit).count();
    if digits == 0 || number.matches('.').count() > 1 {
        return Err(refused());
    }
    const SUFFIXES: [&str; 16] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"];
    if SUFFIXES.contains(&suffix) {
        return Ok(());
    }
    let exponent = suffix.strip_prefix(['e', 'E']).ok_or_else(refused)?;
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if exponent.is_empty() || !exponent.chars().all(|c| c.is_ascii_digit()) {
        return Err(refused());
    }
    Ok(())
}

/// Checks a size (of a volume): a quantity above zero.
pub fn size(value: &Quantity) -> Result<(), String> {
    quantity(value)?;
    let zero = value
        .0
        .trim_start_matches('+')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .all(|c| matches!(c, '0' | '.'));
    if zero { Err(format!("{:?} is not above zero", value.0)) } else { Ok(()) }
}

/// Checks the quantities of a container's `resources` (at `field`).
pub fn resources(refusals: &mut Refusals, field: &str, resources: Option<&ResourceRequirements>) {
    let Some(resources) = resources else { return };
    for (part, amounts) in [("requests", &resources.requests), ("limits", &resources.limits)] {
        for (name, amount) in amounts.iter().flatten() {
            refusals.check(&format!("{field}.{part}.{name}"), quantity(amount));
        }
    }
}

/// Whether `label` is an RFC 1123 label (a namespace's name, a part of a domain): 1 to 63 lower-case letters,
/// digits and `-`, starting and ending with a letter or digit.
pub fn dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// Checks the name of an extended resource (`nvidia.com/gpu`): a DNS subdomain as prefix, then a name of at
/// most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
pub fn extended_resource_name(name: &str) -> Result<(), String> {
    let refused = || format!("{name:?} is not an extended resource name (a domain, '/' and a name: nvidia.com/gpu)");
    let (prefix, local) = name.split_once('/').ok_or_else(refused)?;
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.len() <= 253 && prefix.split('.').all(dns_label);
    let local_ok = local.len() <= 63
        && local.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && alphanumeric(local.chars().next())
        && alphanumeric(local.chars().last());
    if prefix_ok && local_ok { Ok(()) } else { Err(refused()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity(text.into())
    }

    #[test]
    fn quantities_as_the_api_server_reads_them() {
        for good in ["1Gi", "500m", "2", "1.5", ".5", "5.", "1e3", "1E-2", "+1Ki", "100n", "10u", "3k", "0"] {
            assert_eq!(quantity(&q(good)), Ok(()), "{good}");
        }
        for bad in ["", "Gi", "1GB", "1 Gi", "one", "1..2", "1e", "1ki", "1e1.5", "."] {
            assert!(quantity(&q(bad)).is_err(), "{bad}");
        }
        assert_eq!(quantity(&q("-1")), Err("\"-1\" is negative".into()));
        assert!(size(&q("0Gi")).unwrap_err().contains("not above zero"));
        assert!(size(&q("0.0")).is_err() && size(&q("1Gi")).is_ok() && size(&q("0.5Gi")).is_ok());
    }

    #[test]
    fn resources_are_checked_by_their_path() {
        let asked: ResourceRequirements = serde_json::from_value(serde_json::json!({
            "requests": {"cpu": "500m", "memory": "lots"}, "limits": {"memory": "-1Gi"}}))
        .unwrap();
        let mut refusals = Refusals::default();
        resources(&mut refusals, "spec.runtime.resources", Some(&asked));
        let error = refusals.into_result(|| ()).unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid spec: spec.runtime.resources.requests.memory: \"lots\" is not a quantity (such as 1Gi, 500m or 2); \
             spec.runtime.resources.limits.memory: \"-1Gi\" is negative"
        );
        assert!(Refusals::default().into_result(|| 7).is_ok_and(|v| v == 7));
    }

    #[test]
    fn spec_valid_says_what_was_refused_and_nothing_of_a_failed_request() {
        assert_eq!(spec_valid(None).unwrap().0, TRUE);
        let refused = spec_valid(Some(&Error::InvalidSpec("spec.storage.size: x".into()))).unwrap();
        assert_eq!(refused, (FALSE, "InvalidSpec".into(), "invalid spec: spec.storage.size: x".into()));
        let missing = Error::MissingDependency { kind: "ConfigMap", name: "manifest".into() };
        assert_eq!(spec_valid(Some(&missing)).unwrap().1, "MissingDependency");
        assert_eq!(spec_valid(Some(&Error::WatchStopped)), None);
    }

    #[test]
    fn extended_resource_names() {
        for good in ["nvidia.com/gpu", "amd.com/gpu", "example.org/fpga_2.x"] {
            assert_eq!(extended_resource_name(good), Ok(()), "{good}");
        }
        for bad in ["gpu", "nvidia.com/", "/gpu", "Nvidia.com/gpu", "nvidia.com/-gpu", "nvidia..com/gpu", "a/b/c"] {
            assert!(extended_resource_name(bad).is_err(), "{bad}");
        }
    }
}
