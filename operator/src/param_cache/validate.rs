//! The ParamCache's spec and custom manifest checked before anything is written (pure): the quantities the schema
//! lets through, and a manifest that is not a `parameters.json` (a JSON object of files), which the fetch Job
//! would otherwise fail on after its retries.

use sealstack_crds::ParamCache;

use crate::error::Result;
use crate::validation::{Refusals, resources, size};

/// Checks `cache`'s spec; the refused fields, by their path, in one [`crate::error::Error::InvalidSpec`].
pub fn validate(cache: &ParamCache) -> Result<()> {
    let spec = &cache.spec;
    let mut refusals = Refusals::default();
    if let Some(claim_size) = &spec.storage.size {
        refusals.check("spec.storage.size", size(claim_size));
    }
    resources(&mut refusals, "spec.fetch.resources", spec.fetch.container.resources.as_ref());
    refusals.into_result(|| ())
}

/// Checks the custom manifest's `parameters` (the value of the key `key` of ConfigMap `map`) and its SRS
/// manifest (`srs`, when the ConfigMap has one): each a JSON object, as `parameters.json` is.
pub fn validate_manifest(map: &str, key: &str, parameters: &str, srs: Option<(&str, &str)>) -> Result<()> {
    let mut refusals = Refusals::default();
    for (key, text) in [(key, parameters)].into_iter().chain(srs) {
        if let Err(error) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
            refusals
                .refuse("spec.manifest.configMap", format!("ConfigMap {map}, key {key}: not a JSON object: {error}"));
        }
    }
    refusals.into_result(|| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_resources_and_the_manifest_are_checked() {
        let cache = |spec: serde_json::Value| -> ParamCache {
            let mut base = json!({"sectorSizes": ["2KiB"], "storage": {"size": "1Gi"}});
            base.as_object_mut().unwrap().extend(spec.as_object().unwrap().clone());
            serde_json::from_value(json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache",
                "metadata": {"name": "params", "namespace": "sp"}, "spec": base}))
            .unwrap()
        };
        assert!(validate(&cache(json!({}))).is_ok());
        let message =
            validate(&cache(json!({"storage": {"size": "-1Gi"}, "fetch": {"resources": {"limits": {"cpu": "x"}}}})))
                .unwrap_err()
                .to_string();
        assert!(message.contains("spec.storage.size: ") && message.contains("spec.fetch.resources.limits.cpu: "));
        assert!(validate_manifest("m", "parameters.json", r#"{"v28-a.params": {"digest": "1"}}"#, None).is_ok());
        let refused = validate_manifest("m", "parameters.json", "{}", Some(("srs.json", "[1]"))).unwrap_err();
        assert!(refused.to_string().contains("ConfigMap m, key srs.json: not a JSON object"), "{refused}");
    }
}
