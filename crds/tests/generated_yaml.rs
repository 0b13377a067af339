//! The CRD YAML checked in under `charts/` and `manifests/` must equal what `crdgen` generates.

use std::path::Path;

#[test]
fn checked_in_crd_yaml_matches_crdgen() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let files = sealstack_crds::generate::generated_files().unwrap();
    assert_eq!(files.len(), 4, "three CRD files and the combined manifest");
    for (relative, expected) in files {
        let actual = std::fs::read_to_string(root.join(&relative))
            .unwrap_or_else(|e| panic!("{} is missing ({e}); run `cargo crdgen`", relative.display()));
        assert!(actual == expected, "{} differs from the crdgen output; run `cargo crdgen`", relative.display());
    }
}

#[test]
fn generated_yaml_parses_back_into_the_same_crds() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    for crd in sealstack_crds::generate::all_crds() {
        let yaml = sealstack_crds::generate::crd_yaml(&crd).unwrap();
        let parsed: CustomResourceDefinition = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(parsed, crd);
    }
}
