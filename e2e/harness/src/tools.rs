//! The pinned `helm` and `kubectl` (e2e/cluster/build.sh builds them), run against the test cluster.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::kubeconfig_path;

/// The repository's root, where the tools run (charts are named from there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory of the pinned helm and kubectl: `$SEALSTACK_K8S_BIN` (e2e/cluster/test.sh sets it), else
/// what e2e/cluster/versions.sh names.
pub fn k8s_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEALSTACK_K8S_BIN").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let out = Command::new("bash")
        .args(["-c", "source e2e/cluster/versions.sh && printf %s \"$SEALSTACK_K8S_BIN\""])
        .current_dir(repo_root())
        .output()
        .expect("bash runs");
    PathBuf::from(String::from_utf8(out.stdout).expect("a UTF-8 path"))
}

/// Runs `command` to its end, with `stdin` written to it; panics when it cannot start.
pub fn run(mut command: Command, stdin: Option<&str>) -> Output {
    let what = format!("{command:?}");
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{what}: {e} (run e2e/cluster/build.sh)"));
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// The pinned `tool` (`helm`, `kubectl`) with the test cluster's kubeconfig, run from the repository's root.
fn against_cluster(tool: &str) -> Command {
    let kubeconfig = kubeconfig_path().expect("a kubeconfig");
    let mut command = Command::new(k8s_bin().join(tool));
    command.current_dir(repo_root()).arg("--kubeconfig").arg(kubeconfig);
    command
}

/// `helm <args>` against the test cluster; panics with helm's output when it fails.
pub fn helm(args: &[&str]) -> String {
    let mut command = against_cluster("helm");
    command.args(args);
    let out = run(command, None);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "helm {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// `kubectl <args>` against the test cluster, whatever its exit status.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = against_cluster("kubectl");
    command.args(args);
    run(command, stdin)
}

/// `kubectl auth can-i <verb> <resource>` for the user `user` (`system:serviceaccount:<ns>:<name>`) in
/// `namespace` (`None`: across all namespaces, or a cluster-scoped resource): whether it may.
pub fn can_i(user: &str, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    let mut args = vec!["auth", "can-i", verb, resource, "--as", user];
    match namespace {
        Some(ns) => args.extend(["-n", ns]),
        None => args.push("--all-namespaces"),
    }
    let out = kubectl(&args, None);
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match answer.as_str() {
        "yes" => true,
        "no" => false,
        _ => panic!("kubectl {args:?}: {answer} {}", String::from_utf8_lossy(&out.stderr)),
    }
}
