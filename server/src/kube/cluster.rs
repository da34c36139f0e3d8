//! The [`ClusterPort`] on kube-rs.

use std::time::Duration;

use ::kube::Client;
use ::kube::api::{Api, ListParams};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::Value;
use sluice_app::domain::access::{Permissions, all_needed};
use sluice_app::domain::applications::{
    ApplicationView, EventInfo, IngressEndpoint, ObjectRef, PodInfo, ProjectInventory,
    RoutingObject,
};
use sluice_app::domain::cluster::{ClusterProblem, ClusterStatus, ClusterTarget, ProblemKind};
use sluice_app::domain::dataplane::ProjectDataPlane;
use sluice_app::domain::diagnosis::MeshConfig;
use sluice_app::domain::projects::Project;
use sluice_app::domain::sample_uninstall::{ClusterObject, ObjectKind};
use sluice_app::error::AppError;
use sluice_app::ports::ClusterPort;

use super::apply::{self, ApplyError};
use super::identity::{UserCredential, can_i, user_config};
use super::problems::classify;

/// The status check must answer quickly even when the API server hangs, or every page
/// would wait on it.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// A cluster, or the reason there is none. It acts either as the console itself (its own
/// credentials) or, built with [`KubeCluster::for_user`], as one signed-in user.
pub struct KubeCluster {
    /// The client the calls are made with: the user's when acting for one.
    client: Result<Client, ClusterProblem>,
    /// The console's own client, when `client` acts for a user: for the console's own
    /// bookkeeping only (claims, the ingress address), never for the user's changes.
    service: Option<Client>,
    /// The console's own configuration, from which users' clients are built.
    config: Option<::kube::Config>,
    target: ClusterTarget,
    /// Where the ingress gateway listens, when known without asking the cluster (the
    /// sandbox's ingress); otherwise looked up from `istio-system/istio-ingressgateway`.
    ingress: Option<IngressEndpoint>,
    /// The signed-in user the calls are made for; `None` for the console itself.
    user: Option<String>,
    /// How long a call may go without an answer (`--kube-timeout`), for error messages:
    /// the clients enforce it (see `connect::request_config`).
    timeout: Duration,
}

impl KubeCluster {
    pub fn new(client: Client, target: ClusterTarget) -> Self {
        KubeCluster {
            client: Ok(client),
            service: None,
            config: None,
            target,
            ingress: None,
            user: None,
            timeout: super::connect::DEFAULT_KUBE_TIMEOUT,
        }
    }

    /// Records the read timeout the clients were built with (`--kube-timeout`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A client for the release controller: the console's own credentials, with a read
    /// timeout that outlasts its watches (see `connect::CONTROLLER_READ_TIMEOUT`), since
    /// the request timeout would cut every quiet watch.
    pub fn controller_client(&self) -> Result<Client, AppError> {
        let service = self.service_client()?;
        let Some(config) = &self.config else {
            return Ok(service);
        };
        Client::try_from(super::connect::controller_config(config.clone())).map_err(|e| {
            tracing::error!(error = %e, "cannot build the release controller's client");
            AppError::Internal("build the release controller's client".into())
        })
    }

    /// Keeps the configuration the client was built from, so users' clients can be
    /// built from it ([`KubeCluster::for_user`]).
    pub fn with_config(mut self, config: ::kube::Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The same cluster acting as `user`: every call is made with `credential` (their
    /// token, or the console's credentials impersonating them), so Kubernetes RBAC decides
    /// what they may do.
    pub fn for_user(
        &self,
        user: &str,
        credential: &UserCredential,
    ) -> Result<KubeCluster, AppError> {
        let service = self.client()?;
        let config = self.config.as_ref().ok_or_else(|| {
            AppError::Internal(
                "build a client for the signed-in user (no base configuration)".into(),
            )
        })?;
        let client = Client::try_from(user_config(config, credential)).map_err(|e| {
            tracing::error!(error = %e, "cannot build a client for {user}");
            AppError::Internal("build a client for the signed-in user".into())
        })?;
        Ok(KubeCluster {
            client: Ok(client),
            service: Some(service),
            config: None,
            target: self.target.clone(),
            ingress: self.ingress.clone(),
            user: Some(user.to_string()),
            timeout: self.timeout,
        })
    }

    /// The signed-in user the calls are made for, when not the console itself.
    pub fn acting_user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The console's own client (its service account): for the console's bookkeeping,
    /// never for a user's changes.
    pub fn service_client(&self) -> Result<Client, AppError> {
        match &self.service {
            Some(c) => Ok(c.clone()),
            None => self.client(),
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
            service: None,
            config: None,
            ingress: None,
            user: None,
            timeout: super::connect::DEFAULT_KUBE_TIMEOUT,
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
            (::kube::Error::Api(status), ProblemKind::Forbidden) => {
                AppError::Forbidden(forbidden_message(&status.message, self.user.as_deref()))
            }
            (::kube::Error::Api(_), ProblemKind::Unauthorized) if self.user.is_some() => {
                AppError::Unauthenticated(
                    "Kubernetes no longer accepts your sign-in (the token expired or was \
                     revoked): sign out and sign in again."
                        .into(),
                )
            }
            (_, ProblemKind::Timeout) => AppError::Unavailable(self.timeout_message(&problem)),
            (::kube::Error::Api(status), ProblemKind::Other) => match status.code {
                404 => AppError::NotFound(status.message.clone()),
                409 => AppError::Conflict(status.message.clone()),
                400 | 422 => AppError::Invalid(status.message.clone()),
                _ => AppError::Cluster(problem),
            },
            _ => AppError::Cluster(problem),
        }
    }

    /// A call that got no answer in time, for people: which server, how long was waited,
    /// and what to do.
    fn timeout_message(&self, problem: &ClusterProblem) -> String {
        format!(
            "The Kubernetes API server at {} did not answer within {} s: {}. Check that it \
             is running and reachable from the console (`kubectl cluster-info` with the same \
             kubeconfig), or give it longer with --kube-timeout SECONDS (SLUICE_KUBE_TIMEOUT).",
            self.target.server.as_deref().unwrap_or("(unknown address)"),
            self.timeout.as_secs(),
            problem.detail
        )
    }

    fn apply_error(&self, action: &str, err: ApplyError) -> AppError {
        match err {
            ApplyError::Api(e) => self.api_error(action, e),
            ApplyError::UnknownKind { ref source, .. } if is_not_found(source) => {
                AppError::Invalid(format!(
                    "{err}. Is Istio installed in this cluster? Its CRDs must be present."
                ))
            }
            // Discovery that got no answer is the server's silence, not a missing kind.
            ApplyError::UnknownKind { source, .. }
                if super::problems::kind_from_text(&super::problems::chain_text(&source))
                    == ProblemKind::Timeout =>
            {
                self.api_error(action, source)
            }
            ApplyError::Create { ref source, .. } => {
                tracing::warn!(error = %err, "{action} failed");
                match source {
                    ::kube::Error::Api(s) if s.code == 409 => AppError::Conflict(err.to_string()),
                    ::kube::Error::Api(s) if s.code == 403 => AppError::Forbidden(
                        forbidden_message(&err.to_string(), self.user.as_deref()),
                    ),
                    ::kube::Error::Api(s) if matches!(s.code, 400 | 422) => {
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

/// A 403 from the API server as a person reads it: Kubernetes' own sentence (it names the
/// verb, resource and namespace) and what to do about it.
pub fn forbidden_message(api_message: &str, user: Option<&str>) -> String {
    let who = match user {
        Some(u) => format!("You are signed in as {u}, and Kubernetes refused this"),
        None => "Kubernetes refused this to the console's own credentials".to_string(),
    };
    format!(
        "{who}: {}. Ask a cluster admin for the permission (the sluice-release-operator role \
         covers release jobs in a project), or check it with `kubectl auth can-i`.",
        api_message.trim_end_matches('.')
    )
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
        let ingress = match self.service_client() {
            Ok(service) => self.ingress_endpoint(&service).await,
            Err(_) => None,
        };
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

    async fn permissions(&self, project: &str) -> Result<Permissions, AppError> {
        let client = self.client()?;
        let user = self.user.as_deref().unwrap_or("The console");
        let needed = all_needed();
        let answers =
            futures::future::try_join_all(needed.iter().map(|p| can_i(&client, project, p))).await;
        let answers = match answers {
            Ok(a) => a,
            // Without SelfSubjectAccessReview (or the right to ask) nothing can be known
            // up front; every action is offered and Kubernetes answers each.
            Err(e) => {
                tracing::debug!(error = %e, "SelfSubjectAccessReview failed");
                return Ok(Permissions::unknown(
                    project,
                    user,
                    format!("Sluice could not ask Kubernetes what you may do here ({e})."),
                ));
            }
        };
        let allowed: Vec<&sluice_app::domain::access::Permission> = needed
            .iter()
            .zip(answers)
            .filter_map(|(p, ok)| ok.then_some(p))
            .collect();
        Ok(Permissions::from_answers(project, user, |p| {
            allowed.contains(&p)
        }))
    }

    async fn mesh_config(&self, project: &str) -> Result<MeshConfig, AppError> {
        super::objects::mesh_config(&self.client()?, project)
            .await
            .map_err(|e| self.api_error("reading the project's mesh configuration", e))
    }

    async fn list_objects(
        &self,
        project: &str,
        kinds: &[ObjectKind],
        label_selector: Option<&str>,
    ) -> Result<Vec<ClusterObject>, AppError> {
        super::objects::list(&self.client()?, project, kinds, label_selector)
            .await
            .map_err(|e| self.api_error("listing the project's objects", e))
    }

    async fn delete_object(
        &self,
        project: &str,
        object: &ClusterObject,
        dry_run: bool,
    ) -> Result<(), AppError> {
        super::objects::delete(&self.client()?, project, object, dry_run)
            .await
            .map_err(|e| self.api_error(&format!("deleting {} {}", object.kind, object.name), e))
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
        dataplane: ProjectDataPlane::from_labels(&labels),
    }
}
