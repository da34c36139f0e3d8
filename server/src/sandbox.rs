//! Glue between the console and the embedded sandbox that is not the Kubernetes API:
//! switching its synthetic users. Everything cluster-shaped goes through kube-rs over
//! HTTP like any cluster; the load generator has no Kubernetes equivalent, so the console
//! drives it directly.

use sluice_app::domain::backends::TrafficStatus;
use sluice_app::error::AppError;
use sluice_app::ports::TrafficPort;
use sluice_sandbox::mesh::{LoadConfig, LoadStatus, Mesh};

/// The most synthetic users the console lets anyone ask for: the sandbox runs on the same
/// two cores as everything else.
pub const MAX_RPS: f64 = 50.0;

pub struct SandboxTraffic {
    pub mesh: Mesh,
}

fn status_of(s: LoadStatus) -> TrafficStatus {
    TrafficStatus {
        running: s.running,
        rps: s.config.map(|c| c.rps).unwrap_or(0.0),
        sent: s.sent,
        succeeded: s.succeeded,
        failed: s.failed,
        last_error: s.last_error,
    }
}

impl TrafficPort for SandboxTraffic {
    fn status(&self) -> TrafficStatus {
        status_of(self.mesh.load_status())
    }

    fn set(&self, rps: Option<f64>) -> Result<TrafficStatus, AppError> {
        match rps {
            None => Ok(status_of(self.mesh.stop_load())),
            Some(r) if !(r > 0.0 && r <= MAX_RPS) => Err(AppError::Invalid(format!(
                "{r} requests per second is out of range: choose more than 0 and at most {MAX_RPS}."
            ))),
            Some(r) => self
                .mesh
                .start_load(LoadConfig {
                    rps: r,
                    ..LoadConfig::default()
                })
                .map(status_of)
                .map_err(|e| AppError::Invalid(e.to_string())),
        }
    }
}

/// Where the sandbox's demo users' credentials are, for the sign-in page and the start-up
/// log: each has a kubeconfig whose token can be pasted to sign in.
pub fn demo_users_hint(sandbox: &sluice_sandbox::Sandbox) -> String {
    let users = sandbox.users_dir();
    format!(
        "This console runs on its sandbox cluster. Its demo users alice (release operator in \
         demo-project) and bob (viewer) have kubeconfigs in {}: sign in with the token in one \
         of them (kubectl --kubeconfig {}/alice.kubeconfig config view --raw \
         -o jsonpath='{{.users[0].user.token}}').",
        users.display(),
        users.display()
    )
}

/// The ClusterRoles shipped for the console's users (`deploy/rbac/roles.yaml`).
pub const USER_ROLES_YAML: &str = include_str!("../../deploy/rbac/roles.yaml");
/// The sandbox's demo users' bindings (`deploy/rbac/demo-users.yaml`).
pub const DEMO_USERS_YAML: &str = include_str!("../../deploy/rbac/demo-users.yaml");

/// The release jobs' admission policies (`deploy/admission/`): the API server records
/// who created a job and refuses what the CRD's schema cannot express.
pub const ADMISSION_YAML: [&str; 4] = [
    include_str!("../../deploy/admission/sluice-releasejob-creator.yaml"),
    include_str!("../../deploy/admission/sluice-releasejob-changed-by.yaml"),
    include_str!("../../deploy/admission/sluice-releasejob-guard.yaml"),
    include_str!("../../deploy/admission/sluice-releasejob-registries.yaml"),
];

/// The sandbox is a cluster with Sluice installed: its admission policies are in place,
/// so a job made with kubectl is recorded as its requester's and checked as on a cluster.
pub async fn install_admission_policies(client: &kube::Client) -> anyhow::Result<()> {
    let mut objects = Vec::new();
    for yaml in ADMISSION_YAML {
        objects.extend(yaml_documents(yaml)?);
    }
    crate::kube::apply::ensure_all(client, &objects)
        .await
        .map_err(|e| anyhow::anyhow!("installing the release jobs' admission policies: {e}"))
}

/// The objects of a multi-document YAML file.
pub fn yaml_documents(yaml: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    use serde::Deserialize as _;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v = serde_json::Value::deserialize(doc)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// With a sign-in on the sandbox: the shipped ClusterRoles and the demo users' bindings
/// (alice runs releases in demo-project, bob watches), so the tutorial can be tried as
/// two people at once.
pub async fn install_demo_rbac(client: &kube::Client) -> anyhow::Result<()> {
    let mut objects = yaml_documents(USER_ROLES_YAML)?;
    objects.extend(yaml_documents(DEMO_USERS_YAML)?);
    crate::kube::apply::ensure_all(client, &objects)
        .await
        .map_err(|e| anyhow::anyhow!("installing the demo users' RBAC: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_roles_parse_and_name_what_the_console_asks_for() {
        let roles = yaml_documents(USER_ROLES_YAML).unwrap();
        let names: Vec<&str> = roles
            .iter()
            .map(|r| r["metadata"]["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"sluice-viewer"));
        assert!(names.contains(&"sluice-release-operator"));
        // Every permission an action needs is granted to the operator.
        let operator = roles
            .iter()
            .find(|r| r["metadata"]["name"] == "sluice-release-operator")
            .unwrap();
        for p in sluice_app::domain::access::all_needed() {
            let granted = operator["rules"].as_array().unwrap().iter().any(|rule| {
                let has = |key: &str, v: &str| {
                    rule[key]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == v || x == "*"))
                };
                has("apiGroups", &p.group) && has("resources", &p.resource) && has("verbs", &p.verb)
            });
            assert!(granted, "the operator role lacks {}", p.describe());
        }
        // The viewer changes nothing.
        let viewer = roles
            .iter()
            .find(|r| r["metadata"]["name"] == "sluice-viewer")
            .unwrap();
        for rule in viewer["rules"].as_array().unwrap() {
            for verb in rule["verbs"].as_array().unwrap() {
                assert!(
                    ["get", "list", "watch"].contains(&verb.as_str().unwrap()),
                    "{rule}"
                );
            }
        }
        assert_eq!(yaml_documents(DEMO_USERS_YAML).unwrap().len(), 2);
    }
}
