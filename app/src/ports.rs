//! The ports: the few async traits the server functions need, implemented by the server
//! crate (kube-rs, Prometheus and Jaeger clients) and provided as Leptos context. The app
//! never links an IO client itself, so server functions stay thin and the browser bundle
//! stays small.

use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::use_context;

use crate::domain::access::{Permissions, Viewer};
use crate::domain::applications::{
    ApplicationView, EventInfo, ObjectRef, PodInfo, ProjectInventory, RoutingObject,
};
use crate::domain::backends::{BackendStatus, TrafficStatus};
use crate::domain::cluster::ClusterStatus;
use crate::domain::diagnosis::MeshConfig;
use crate::domain::projects::Project;
use crate::domain::release::ReleaseSpec;
use crate::domain::release::jobs::{JobChange, JobView};
use crate::domain::sample_uninstall::{ClusterObject, ObjectKind};
use crate::error::AppError;

/// The Kubernetes cluster (a real one, or the embedded sandbox through the same client).
#[async_trait]
pub trait ClusterPort: Send + Sync + 'static {
    /// Asks the API server for its version: the cheapest real round trip.
    async fn status(&self) -> ClusterStatus;
    /// Namespaces, shown as projects.
    async fn list_projects(&self) -> Result<Vec<Project>, AppError>;
    /// True when the console runs on its embedded sandbox cluster.
    fn is_sandbox(&self) -> bool;
    /// The Services, workloads (with their pods' state) and ingress routes of a project.
    async fn project_inventory(&self, project: &str) -> Result<ProjectInventory, AppError>;
    /// Pods, recent events and routing objects of an application's components.
    async fn application_extras(
        &self,
        project: &str,
        app: &ApplicationView,
    ) -> Result<(Vec<PodInfo>, Vec<EventInfo>, Vec<RoutingObject>), AppError>;
    /// Which of these objects (full Kubernetes objects as JSON) already exist.
    async fn existing_objects(
        &self,
        objects: &[serde_json::Value],
    ) -> Result<Vec<ObjectRef>, AppError>;
    /// Creates the objects in order, all or nothing: on a failure the ones already created
    /// are deleted again and the error says so.
    async fn create_all(&self, objects: Vec<serde_json::Value>)
    -> Result<Vec<ObjectRef>, AppError>;
    /// Turns Istio sidecar injection on or off for a project (`istio-injection` label).
    async fn set_sidecar_injection(&self, project: &str, enabled: bool) -> Result<(), AppError>;
    /// Sets the project's trace sampling (percent) with an Istio Telemetry it manages.
    async fn set_trace_sampling(&self, project: &str, percent: u8) -> Result<(), AppError>;
    /// What the user these calls are made for may do in the project (asked of the API
    /// server as that user).
    async fn permissions(&self, project: &str) -> Result<Permissions, AppError>;
    /// What the configuration diagnosis reads: the project's Services, pods (not being
    /// deleted), VirtualServices, DestinationRules and HTTPRoutes.
    async fn mesh_config(&self, project: &str) -> Result<MeshConfig, AppError>;
    /// Objects of these kinds in a project with their labels (only those matching
    /// `label_selector`, when given); a kind the cluster does not serve has none.
    async fn list_objects(
        &self,
        project: &str,
        kinds: &[ObjectKind],
        label_selector: Option<&str>,
    ) -> Result<Vec<ClusterObject>, AppError>;
    /// Deletes one object (a Deployment's ReplicaSets and pods follow in the background).
    /// With `dry_run` the API server only checks that it would (permission, admission)
    /// and changes nothing. An object already gone is no error.
    async fn delete_object(
        &self,
        project: &str,
        object: &ClusterObject,
        dry_run: bool,
    ) -> Result<(), AppError>;
}

/// The metrics backend (Prometheus).
#[async_trait]
pub trait MetricsPort: Send + Sync + 'static {
    async fn status(&self) -> BackendStatus;
    /// A range query: `step_seconds` apart from `start` to `end` (unix seconds).
    async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step_seconds: u32,
    ) -> Result<Vec<crate::domain::metrics::Series>, AppError>;
    /// An instant query evaluated at `at` (unix seconds): one point per series.
    async fn query(
        &self,
        promql: &str,
        at: f64,
    ) -> Result<Vec<crate::domain::metrics::Series>, AppError>;
}

/// The tracing backend (Jaeger query API, v1 or v3). A missing or unreachable backend is
/// `AppError::Unavailable` saying what was tried and which flag fixes it; an unknown trace
/// is `NotFound`.
#[async_trait]
pub trait TracesPort: Send + Sync + 'static {
    async fn status(&self) -> BackendStatus;
    /// Service names, sorted.
    async fn services(&self) -> Result<Vec<String>, AppError>;
    /// Operation names of one service, sorted.
    async fn operations(&self, service: &str) -> Result<Vec<String>, AppError>;
    /// Traces matching the query (at most `query.limit`).
    async fn search(
        &self,
        query: &crate::domain::traces::TraceQuery,
    ) -> Result<Vec<crate::domain::traces::Trace>, AppError>;
    /// One whole trace by ID (lowercase hex).
    async fn trace(&self, trace_id: &str) -> Result<crate::domain::traces::Trace, AppError> {
        self.trace_shared(trace_id).await.map(|t| (*t).clone())
    }
    /// The same trace without copying it: implementations keep recent traces, so a
    /// 50,000-span trace's span details do not refetch or clone it each time.
    async fn trace_shared(
        &self,
        trace_id: &str,
    ) -> Result<Arc<crate::domain::traces::Trace>, AppError>;
}

/// Release jobs (the ReleaseJob custom resources) of a project.
#[async_trait]
pub trait ReleasesPort: Send + Sync + 'static {
    async fn list_jobs(&self, project: &str) -> Result<Vec<JobView>, AppError>;
    async fn get_job(&self, project: &str, name: &str) -> Result<JobView, AppError>;
    /// Creates a job after checking it (one active job per component, version unused,
    /// base workload present, no routing Sluice does not manage).
    async fn create_job(
        &self,
        project: &str,
        name: &str,
        spec: ReleaseSpec,
    ) -> Result<JobView, AppError>;
    /// Applies a change on top of spec revision `generation`; someone else's change in
    /// between is a `Conflict` whose message says what the job looks like now.
    async fn change_job(
        &self,
        project: &str,
        name: &str,
        generation: i64,
        change: JobChange,
    ) -> Result<JobView, AppError>;
    /// Deletes a job: the controller removes the new version and restores routing.
    async fn delete_job(&self, project: &str, name: &str) -> Result<(), AppError>;
    /// The objects the job will write, as YAML, for the wizard's preview.
    async fn preview_job(
        &self,
        project: &str,
        name: &str,
        spec: &ReleaseSpec,
    ) -> Result<Vec<RoutingObject>, AppError>;
    /// Lets Sluice manage a component's hand-written VirtualService and DestinationRule
    /// (the choice offered when a job would otherwise be refused).
    async fn adopt_routing(&self, project: &str, component: &str) -> Result<(), AppError>;
    /// A job's audit history (kept after the job ends); empty when nothing was recorded.
    async fn history(
        &self,
        project: &str,
        name: &str,
    ) -> Result<crate::domain::audit::JobHistory, AppError>;
    /// Jobs of the project that ended and whose history is still kept, newest first.
    async fn finished_jobs(
        &self,
        project: &str,
    ) -> Result<Vec<crate::domain::audit::Finished>, AppError>;
}

/// The sandbox's synthetic users. Only in sandbox mode: a real cluster's traffic comes
/// from its real users.
pub trait TrafficPort: Send + Sync + 'static {
    fn status(&self) -> TrafficStatus;
    /// Starts (or retunes) the users at `rps` requests per second, or stops them (`None`).
    fn set(&self, rps: Option<f64>) -> Result<TrafficStatus, AppError>;
}

/// All ports, cloned cheaply into each request's context.
#[derive(Clone)]
pub struct Ports {
    pub cluster: Arc<dyn ClusterPort>,
    pub metrics: Arc<dyn MetricsPort>,
    pub traces: Arc<dyn TracesPort>,
    pub releases: Arc<dyn ReleasesPort>,
    pub traffic: Option<Arc<dyn TrafficPort>>,
}

/// The ports of the current request, acting as its signed-in user. The server's auth
/// layer puts them into the request's extensions once it knows who is asking; a request
/// without them was not signed in (the sign-in page and other public paths), so it may
/// reach no backend at all.
pub fn use_ports() -> Result<Ports, AppError> {
    let parts = use_context::<http::request::Parts>()
        .ok_or_else(|| AppError::Internal("find its backends (no request in context)".into()))?;
    parts.extensions.get::<Ports>().cloned().ok_or_else(|| {
        AppError::Unauthenticated(
            "You are not signed in (or your session has ended): sign in again.".into(),
        )
    })
}

/// The signed-in person of the current request, as the server's auth layer established
/// it; `None` before sign-in.
pub fn use_viewer() -> Option<Viewer> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<Viewer>()
        .cloned()
}
