//! The release job as a custom resource (`releasejobs.sluice.dev`): the console's state
//! lives in the cluster, not in its memory, so it can restart or run twice and lose
//! nothing, `kubectl get releasejobs` shows the jobs and GitOps can apply one as YAML.
//! The spec is the app's [`ReleaseSpec`]; this module adds the Kubernetes envelope, the
//! status the controller writes, and the generated CRD.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sluice_app::domain::release::{ReleaseSpec, Side};

pub const GROUP: &str = "sluice.dev";
pub const FINALIZER: &str = "sluice.dev/cleanup";

/// A grayscale release of one component.
// kube's derive takes one `printcolumn(...)` per column; clippy reads the repeated
// `type_ = "string"` inside them as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "sluice.dev",
    version = "v1alpha1",
    kind = "ReleaseJob",
    namespaced,
    status = "ReleaseJobStatus",
    shortname = "rj",
    category = "sluice",
    doc = "A grayscale release job: a new version of one component and how traffic is shared with the current one.",
    printcolumn(name = "Component", type_ = "string", json_path = ".spec.component"),
    printcolumn(name = "Base", type_ = "string", json_path = ".spec.baseVersion"),
    printcolumn(name = "New", type_ = "string", json_path = ".spec.newVersion"),
    printcolumn(name = "Strategy", type_ = "string", json_path = ".spec.strategy.type"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseJobSpec {
    #[serde(flatten)]
    pub release: ReleaseSpec,
    /// "Job Offline": keep this side, delete the other version's workload, leave plain
    /// routing to the survivor, and remove the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_keep: Option<Side>,
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// The new version's pods are being created or are not ready yet.
    Progressing,
    /// Traffic is shared as the strategy says.
    Live,
    /// One version takes all traffic.
    TakenOver,
    /// Job Offline is in progress.
    GoingOffline,
    /// The job cannot proceed until something changes; the message says what.
    Failed,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionStatus {
    pub version: String,
    pub workload: String,
    pub image: String,
    pub desired: i32,
    pub ready: i32,
    /// Share of ordinary traffic configured right now (0..=100).
    pub weight: u8,
}

/// A condition in the Kubernetes style: `type` is `NewVersionReady` or `RoutesApplied`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
    /// RFC 3339; kept while the status stays the same.
    pub last_transition_time: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseJobStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// What the job is doing or waiting for, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub versions: Vec<VersionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The controller created the component's VirtualService and DestinationRule (none
    /// existed), so deleting a job that never went live deletes them again.
    #[serde(default)]
    pub created_routes: bool,
}

/// The CRD as YAML, as committed in deploy/crds/.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let mut out = String::from(
        "# Generated from server/src/kube/releases.rs; do not edit by hand.\n\
         # Regenerate with: SLUICE_UPDATE_CRD=1 cargo test -p sluice-server crd_is_current\n",
    );
    out.push_str(&serde_yaml::to_string(&ReleaseJob::crd()).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/crds/releasejobs.sluice.dev.yaml"
    );

    #[test]
    fn crd_is_current() {
        let generated = crd_yaml();
        if std::env::var_os("SLUICE_UPDATE_CRD").is_some() {
            std::fs::write(COMMITTED, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == generated,
            "deploy/crds/releasejobs.sluice.dev.yaml is out of date with the ReleaseJob type: \
             regenerate it with SLUICE_UPDATE_CRD=1 cargo test -p sluice-server crd_is_current"
        );
    }

    #[test]
    fn a_job_round_trips_as_the_tutorial_writes_it() {
        let job: ReleaseJob = serde_yaml::from_str(
            "apiVersion: sluice.dev/v1alpha1\nkind: ReleaseJob\nmetadata:\n  name: canary-release\n  namespace: demo-project\n\
             spec:\n  component: reviews\n  baseWorkload: reviews-v1\n  baseVersion: v1\n  newVersion: v2\n\
             \x20 image: kubesphere/examples-bookinfo-reviews-v2:1.13.0\n  replicas: 1\n\
             \x20 strategy:\n    type: trafficRatio\n    newPercent: 50\n",
        )
        .unwrap();
        assert_eq!(job.spec.release.component, "reviews");
        assert_eq!(job.spec.release.new_workload(), "reviews-v2");
        assert_eq!(
            job.spec.release.strategy,
            sluice_app::domain::release::Strategy::TrafficRatio { new_percent: 50 }
        );
    }
}
