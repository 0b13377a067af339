#!/usr/bin/env bash
# The whole test suite: formatting, lints, generated files, unit and integration tests, then the e2e suite
# on a local Kubernetes cluster when the cluster tooling is present. README.md's test command; .ci/run runs it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

step "cargo fmt --check" cargo fmt --all -- --check
# The binaries (crdgen among them), built once with the features the tests use: every later step shares this
# build of the dependencies (scripts/build-binaries.sh).
step "build the binaries" scripts/build-binaries.sh
step "crdgen --check (CRD YAML in charts/ and manifests/)" "$CARGO_TARGET_DIR/debug/crdgen" --check
# The Helm chart: strict lint with the default values and with every optional object on (ServiceMonitor,
# PodMonitor, NetworkPolicy, PDB, dashboard), manifests/operator.yaml rendered from it, the dashboard is JSON.
k8s="$(k8s_bin)"
source e2e/cluster/versions.sh
step "helm lint --strict (default values)" "$k8s/helm" lint --strict --kube-version "$KUBE_VERSION" charts/sealstack
step "helm lint --strict (charts/sealstack/ci/monitoring-values.yaml)" "$k8s/helm" lint --strict \
  --kube-version "$KUBE_VERSION" charts/sealstack -f charts/sealstack/ci/monitoring-values.yaml
step "render-manifests --check (manifests/operator.yaml)" scripts/render-manifests.sh --check
step "Grafana dashboard parses" python3 -m json.tool charts/sealstack/dashboards/sealstack.json /dev/null
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets --features sealstack-crds/crdgen -- -D warnings
# Locally generated 2KiB proof parameters (made once per machine, ~8 min) for the tests that use real proofs.
SEALSTACK_GENERATED_PARAMS="$(scripts/params.sh 2KiB | tail -n 1)"
export SEALSTACK_GENERATED_PARAMS SEALSTACK_REQUIRE_GENERATED_PARAMS=1
# cargo test --workspace, its test binaries run side by side as their share of a core allows: scripts/cargo-test.sh.
step "cargo test" scripts/cargo-test.sh
if [[ -x e2e/cluster/test.sh ]]; then
  step "e2e on a local cluster" e2e/cluster/test.sh
else
  echo "==> e2e on a local cluster: not part of the suite yet (e2e/cluster/test.sh is missing)"
fi
# sealstack against a real Lotus node (e2e/lotus): runs when e2e/lotus/build.sh has built the oracle on this
# machine (it needs the filecoin-ffi source, see e2e/lotus/README.md), otherwise prints one "skipped" line.
step "e2e against the real Lotus oracle (e2e/lotus)" e2e/lotus/suite.sh
echo "all test steps passed"
