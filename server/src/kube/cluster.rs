//! The [`ClusterPort`] on kube-rs.

use std::time::Duration;

use ::kube::Client;
use ::kube::api::{Api, ListParams};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Namespace;
use sluice_app::domain::cluster::{ClusterProblem, ClusterStatus, ClusterTarget, ProblemKind};
use sluice_app::domain::projects::Project;
use sluice_app::error::AppError;
use sluice_app::ports::ClusterPort;

use super::problems::classify;

/// The status check must answer quickly even when the API server hangs, or every page
/// would wait on it.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// A cluster, or the reason there is none.
pub struct KubeCluster {
    client: Result<Client, ClusterProblem>,
    target: ClusterTarget,
}

impl KubeCluster {
    pub fn new(client: Client, target: ClusterTarget) -> Self {
        KubeCluster {
            client: Ok(client),
            target,
        }
    }

    pub fn unavailable(problem: ClusterProblem) -> Self {
        KubeCluster {
            target: problem.target.clone(),
            client: Err(problem),
        }
    }

    pub fn target(&self) -> &ClusterTarget {
        &self.target
    }

    /// The configuration problem, when the cluster could not even be set up.
    pub fn problem(&self) -> Option<&ClusterProblem> {
        self.client.as_ref().err()
    }

    /// The client, or the user-facing error that explains its absence.
    pub fn client(&self) -> Result<Client, AppError> {
        self.client.clone().map_err(AppError::Cluster)
    }

    /// Maps a failed API call to what the user reads, logging the full error.
    fn api_error(&self, action: &str, err: ::kube::Error) -> AppError {
        tracing::warn!(error = %err, "{action} failed");
        let problem = classify(&err, &self.target);
        match (&err, problem.kind) {
            (::kube::Error::Api(status), ProblemKind::Other) => match status.code {
                404 => AppError::NotFound(status.message.clone()),
                409 => AppError::Conflict(status.message.clone()),
                400 | 422 => AppError::Invalid(status.message.clone()),
                _ => AppError::Cluster(problem),
            },
            _ => AppError::Cluster(problem),
        }
    }
}

#[async_trait]
impl ClusterPort for KubeCluster {
    async fn status(&self) -> ClusterStatus {
        let client = match &self.client {
            Ok(c) => c,
            Err(p) => return ClusterStatus::Unavailable(p.clone()),
        };
        match tokio::time::timeout(STATUS_TIMEOUT, client.apiserver_version()).await {
            Ok(Ok(info)) => ClusterStatus::Connected {
                target: self.target.clone(),
                version: info.git_version,
            },
            Ok(Err(e)) => ClusterStatus::Unavailable(classify(&e, &self.target)),
            Err(_) => ClusterStatus::Unavailable(ClusterProblem {
                kind: ProblemKind::Timeout,
                target: self.target.clone(),
                detail: format!("no answer within {} s", STATUS_TIMEOUT.as_secs()),
            }),
        }
    }

    async fn list_projects(&self) -> Result<Vec<Project>, AppError> {
        let api: Api<Namespace> = Api::all(self.client()?);
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| self.api_error("listing namespaces", e))?;
        Ok(list.items.into_iter().map(project_of).collect())
    }
}

fn project_of(ns: Namespace) -> Project {
    let labels = ns.metadata.labels.unwrap_or_default();
    Project {
        name: ns.metadata.name.unwrap_or_default(),
        phase: ns
            .status
            .and_then(|s| s.phase)
            .unwrap_or_else(|| "Active".into()),
        sidecar_injection: labels.get("istio-injection").map(String::as_str) == Some("enabled"),
    }
}
