//! The security settings of every pod the operator runs: non-root, no privilege escalation, read-only root
//! filesystem, no capabilities.

use k8s_openapi::api::core::v1::{Capabilities, PodSecurityContext, SecurityContext};

/// UID and GID the runtime image runs as (its `sealstack` user).
pub const RUNTIME_UID: i64 = 65532;

/// Pod-level settings: run as the runtime user, volumes group-owned by it.
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUNTIME_UID),
        run_as_group: Some(RUNTIME_UID),
        fs_group: Some(RUNTIME_UID),
        ..PodSecurityContext::default()
    }
}

/// Container-level settings: the restricted Pod Security Standard.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_owned()]), ..Capabilities::default() }),
        ..SecurityContext::default()
    }
}
