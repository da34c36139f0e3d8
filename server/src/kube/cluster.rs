//! The [`ClusterPort`] on kube-rs.

use std::time::Duration;

use ::kube::Client;
use ::kube::api::{Api, ListParams};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::Value;
use sluice_app::domain::applications::{
    ApplicationView, EventInfo, IngressEndpoint, ObjectRef, PodInfo, ProjectInventory,
    RoutingObject,
};
use sluice_app::domain::cluster::{ClusterProblem, ClusterStatus, ClusterTarget, ProblemKind};
use sluice_app::domain::projects::Project;
use sluice_app::error::AppError;
use sluice_app::ports::ClusterPort;

use super::apply::{self, ApplyError};
use super::problems::classify;

/// The status check must answer quickly even when the API server hangs, or every page
/// would wait on it.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// A cluster, or the reason there is none.
pub struct KubeCluster {
    client: Result<Client, ClusterProblem>,
    target: ClusterTarget,
    /// Where the ingress gateway listens, when known without asking the cluster (the
    /// sandbox's ingress); otherwise looked up from `istio-system/istio-ingressgateway`.
    ingress: Option<IngressEndpoint>,
}

impl KubeCluster {
    pub fn new(client: Client, target: ClusterTarget) -> Self {
        KubeCluster {
            client: Ok(client),
            target,
            ingress: None,
        }
    }

    pub fn with_ingress(mut self, ingress: IngressEndpoint) -> Self {
        self.ingress = Some(ingress);
        self
    }

    pub fn unavailable(problem: ClusterProblem) -> Self {
        KubeCluster {
            target: problem.target.clone(),
            client: Err(problem),
            ingress: None,
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
    pub(crate) fn api_error(&self, action: &str, err: ::kube::Error) -> AppError {
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

    fn apply_error(&self, action: &str, err: ApplyError) -> AppError {
        match err {
            ApplyError::Api(e) => self.api_error(action, e),
            ApplyError::UnknownKind { ref source, .. } if is_not_found(source) => {
                AppError::Invalid(format!(
                    "{err}. Is Istio installed in this cluster? Its CRDs must be present."
                ))
            }
            ApplyError::Create { ref source, .. } => {
                tracing::warn!(error = %err, "{action} failed");
                match source {
                    ::kube::Error::Api(s) if s.code == 409 => AppError::Conflict(err.to_string()),
                    ::kube::Error::Api(s) if matches!(s.code, 400 | 403 | 422) => {
                        AppError::Invalid(err.to_string())
                    }
                    _ => AppError::Unavailable(err.to_string()),
                }
            }
            other => {
                tracing::error!(error = %other, "{action} failed");
                AppError::Internal(action.to_string())
            }
        }
    }

    /// The ingress gateway's address: the configured one, or the LoadBalancer address of
    /// `istio-system/istio-ingressgateway` (port 80).
    async fn ingress_endpoint(&self, client: &Client) -> Option<IngressEndpoint> {
        if let Some(i) = &self.ingress {
            return Some(i.clone());
        }
        let api: Api<k8s_openapi::api::core::v1::Service> =
            Api::namespaced(client.clone(), "istio-system");
        let svc = api.get_opt("istio-ingressgateway").await.ok().flatten()?;
        let lb = svc.status?.load_balancer?.ingress?.into_iter().next()?;
        Some(IngressEndpoint {
            scheme: "http".into(),
            address: lb.ip.or(lb.hostname)?,
            port: 80,
        })
    }
}

/// The Telemetry object through which the console sets a project's trace sampling.
const TELEMETRY_NAME: &str = "sluice-tracing";

fn is_not_found(e: &::kube::Error) -> bool {
    matches!(e, ::kube::Error::Api(s) if s.code == 404)
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

    fn is_sandbox(&self) -> bool {
        self.target.sandbox
    }

    async fn project_inventory(&self, project: &str) -> Result<ProjectInventory, AppError> {
        let client = self.client()?;
        let ingress = self.ingress_endpoint(&client).await;
        super::applications::inventory(&client, project, ingress.as_ref())
            .await
            .map_err(|e| match e {
                ::kube::Error::Api(s) if s.code == 404 => AppError::NotFound(format!(
                    "There is no project \"{project}\" in the cluster: pick one in the top bar."
                )),
                e => self.api_error("reading the project's applications", e),
            })
    }

    async fn application_extras(
        &self,
        project: &str,
        app: &ApplicationView,
    ) -> Result<(Vec<PodInfo>, Vec<EventInfo>, Vec<RoutingObject>), AppError> {
        let client = self.client()?;
        super::applications::extras(&client, project, app)
            .await
            .map_err(|e| self.api_error("reading the application's pods and events", e))
    }

    async fn existing_objects(&self, objects: &[Value]) -> Result<Vec<ObjectRef>, AppError> {
        let client = self.client()?;
        apply::existing(&client, objects)
            .await
            .map_err(|e| self.apply_error("checking for existing objects", e))
    }

    async fn create_all(&self, objects: Vec<Value>) -> Result<Vec<ObjectRef>, AppError> {
        let client = self.client()?;
        apply::create_all(&client, &objects)
            .await
            .map_err(|e| self.apply_error("creating objects", e))
    }

    async fn set_trace_sampling(&self, project: &str, percent: u8) -> Result<(), AppError> {
        use ::kube::api::{DynamicObject, PostParams};
        use ::kube::discovery::ApiResource;
        let ar = ApiResource::from_gvk(&::kube::api::GroupVersionKind::gvk(
            "telemetry.istio.io",
            "v1",
            "Telemetry",
        ));
        let api: Api<DynamicObject> = Api::namespaced_with(self.client()?, project, &ar);
        let desired: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry",
            "metadata": {"name": TELEMETRY_NAME, "namespace": project,
                         "labels": {"app.kubernetes.io/managed-by": "sluice"}},
            "spec": {"tracing": [{"randomSamplingPercentage": f64::from(percent)}]},
        }))
        .map_err(|e| AppError::Internal(format!("build the Telemetry object ({e})")))?;
        let result = match api.get_opt(TELEMETRY_NAME).await {
            Ok(None) => api
                .create(&PostParams::default(), &desired)
                .await
                .map(|_| ()),
            Ok(Some(existing)) => {
                let mut next = desired;
                next.metadata.resource_version = existing.metadata.resource_version;
                api.replace(TELEMETRY_NAME, &PostParams::default(), &next)
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        };
        result.map_err(|e| match &e {
            ::kube::Error::Api(s) if s.code == 404 => AppError::Unavailable(
                "Trace sampling needs Istio's Telemetry API (telemetry.istio.io), which this \
                 cluster does not serve: install Istio, or set sampling in Istio's mesh config."
                    .into(),
            ),
            _ => self.api_error("setting trace sampling", e),
        })
    }

    async fn set_sidecar_injection(&self, project: &str, enabled: bool) -> Result<(), AppError> {
        use ::kube::api::{Patch, PatchParams};
        let api: Api<Namespace> = Api::all(self.client()?);
        let value = if enabled {
            Value::from("enabled")
        } else {
            Value::Null
        };
        let patch = serde_json::json!({"metadata": {"labels": {"istio-injection": value}}});
        api.patch(project, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| self.api_error("changing sidecar injection", e))
    }
}

pub fn project_of(ns: Namespace) -> Project {
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
