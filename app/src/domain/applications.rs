//! Applications as KubeSphere users know them: Services grouped by the
//! `app.kubernetes.io/name` label (falling back to `app`), each Service a *component*,
//! each workload behind it a *version* (its `version` label). The server reads the raw
//! objects; the grouping and the status rules live here, tested without a cluster.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const APP_NAME_LABEL: &str = "app.kubernetes.io/name";
pub const APP_LABEL: &str = "app";
pub const VERSION_LABEL: &str = "version";

/// A Service as the Applications page needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub selector: BTreeMap<String, String>,
    /// `port/protocol` pairs, e.g. `9080/TCP`.
    pub ports: Vec<String>,
}

/// A Deployment with what its pods report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    pub name: String,
    /// Labels of the pod template: what a Service selector matches.
    pub pod_labels: BTreeMap<String, String>,
    pub images: Vec<String>,
    pub desired: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
    /// Container restarts summed over the workload's pods.
    pub restarts: i32,
    /// Why pods cannot run, when they cannot (e.g. `ImagePullBackOff`), from pod states.
    pub failure: Option<String>,
    /// Pods of this workload with an Envoy sidecar, out of all its pods.
    pub pods_with_sidecar: i32,
    pub pods: i32,
    /// RFC 3339 creation time.
    pub created: Option<String>,
    /// Seconds since creation, computed by the server so page and hydration agree.
    pub age_seconds: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkloadStatus {
    Running,
    Updating,
    Failed,
    Stopped,
}

impl WorkloadStatus {
    pub fn label(self) -> &'static str {
        match self {
            WorkloadStatus::Running => "Running",
            WorkloadStatus::Updating => "Updating",
            WorkloadStatus::Failed => "Failed",
            WorkloadStatus::Stopped => "Stopped",
        }
    }
}

impl WorkloadInfo {
    pub fn version(&self) -> Option<&str> {
        self.pod_labels.get(VERSION_LABEL).map(String::as_str)
    }

    /// Failed beats everything (a stuck rollout is not "updating"); zero replicas is
    /// Stopped; otherwise Running only when every desired replica is updated and ready.
    pub fn status(&self) -> WorkloadStatus {
        if self.failure.is_some() {
            WorkloadStatus::Failed
        } else if self.desired == 0 {
            WorkloadStatus::Stopped
        } else if self.ready >= self.desired && self.updated >= self.desired {
            WorkloadStatus::Running
        } else {
            WorkloadStatus::Updating
        }
    }

    /// True when some pods run without a sidecar: they produce no mesh metrics or traces.
    pub fn missing_sidecar(&self) -> bool {
        self.pods > 0 && self.pods_with_sidecar < self.pods
    }
}

/// A Service and the workloads (versions) behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub service: ServiceInfo,
    /// Sorted by version, then name.
    pub workloads: Vec<WorkloadInfo>,
}

impl Component {
    pub fn versions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .workloads
            .iter()
            .filter_map(|w| w.version().map(str::to_string))
            .collect();
        v.dedup();
        v
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub name: String,
    pub components: Vec<Component>,
}

impl Application {
    pub fn workloads(&self) -> impl Iterator<Item = &WorkloadInfo> {
        self.components.iter().flat_map(|c| c.workloads.iter())
    }

    /// The application is as healthy as its least healthy workload.
    pub fn status(&self) -> WorkloadStatus {
        let statuses: Vec<WorkloadStatus> = self.workloads().map(WorkloadInfo::status).collect();
        if statuses.contains(&WorkloadStatus::Failed) {
            WorkloadStatus::Failed
        } else if statuses.contains(&WorkloadStatus::Updating) {
            WorkloadStatus::Updating
        } else if statuses.is_empty() || statuses.iter().all(|s| *s == WorkloadStatus::Stopped) {
            WorkloadStatus::Stopped
        } else {
            WorkloadStatus::Running
        }
    }

    /// Running workloads out of all, e.g. for "3/4 running" progress.
    pub fn running_count(&self) -> (usize, usize) {
        let all = self.workloads().count();
        let running = self
            .workloads()
            .filter(|w| w.status() == WorkloadStatus::Running)
            .count();
        (running, all)
    }
}

/// A way in from outside the mesh: an ingress Gateway host routed to the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRoute {
    /// The application (from the VirtualService's `app.kubernetes.io/name`, or the
    /// application of the Service it routes to).
    pub app: String,
    pub host: String,
    /// The path a person should open first (the first exact or prefix URI match).
    pub path: String,
    /// Where to click, when the console knows the ingress address.
    pub url: Option<String>,
}

/// Everything the Applications page shows for one project, read in one go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInventory {
    pub project: crate::domain::projects::Project,
    pub services: Vec<ServiceInfo>,
    pub workloads: Vec<WorkloadInfo>,
    pub routes: Vec<AppRoute>,
    /// Trace sampling (percent) set for the project by an Istio Telemetry; `None` = the
    /// mesh-wide default.
    pub trace_sampling: Option<u8>,
}

/// The Applications page's data: the project and its applications with their routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationsView {
    pub project: crate::domain::projects::Project,
    pub applications: Vec<ApplicationView>,
    pub trace_sampling: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub app: Application,
    pub routes: Vec<AppRoute>,
}

impl ApplicationsView {
    pub fn from_inventory(inv: ProjectInventory) -> Self {
        let apps = group_applications(inv.services, &inv.workloads);
        let applications = apps
            .into_iter()
            .map(|app| {
                let routes = inv
                    .routes
                    .iter()
                    .filter(|r| r.app == app.name)
                    .cloned()
                    .collect();
                ApplicationView { app, routes }
            })
            .collect();
        ApplicationsView {
            project: inv.project,
            applications,
            trace_sampling: inv.trace_sampling,
        }
    }
}

/// A pod as the application detail shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInfo {
    pub name: String,
    /// The workload (Deployment) the pod belongs to, when it is one of the app's.
    pub workload: Option<String>,
    pub node: Option<String>,
    pub ip: Option<String>,
    pub phase: String,
    /// e.g. `2/2` (containers ready / containers).
    pub ready: String,
    pub restarts: i32,
    pub sidecar: bool,
    pub failure: Option<String>,
    pub age_seconds: Option<i64>,
}

/// A Kubernetes event about one of the application's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    /// `Normal` or `Warning`.
    pub kind: String,
    pub reason: String,
    /// e.g. `Pod/reviews-v1-6f8d-x2k4p`.
    pub object: String,
    pub message: String,
    pub count: i32,
    pub age_seconds: Option<i64>,
}

/// An Istio (or Gateway API) object that routes the application, as YAML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingObject {
    pub kind: String,
    pub name: String,
    pub yaml: String,
}

/// Everything the application detail page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationDetail {
    pub project: String,
    pub view: ApplicationView,
    pub pods: Vec<PodInfo>,
    /// Newest first, bounded.
    pub events: Vec<EventInfo>,
    pub routing: Vec<RoutingObject>,
}

/// How many events the detail page shows.
pub const MAX_EVENTS: usize = 50;

/// What "Deploy Sample Application" will do, shown before it does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplePreview {
    pub project: String,
    pub host: String,
    pub objects: Vec<ObjectRef>,
    /// Objects of the plan that already exist: deploying would clash, so it is refused.
    pub existing: Vec<ObjectRef>,
    /// Deploying turns on sidecar injection for the project first (KubeSphere's
    /// "application governance"), so Bookinfo's traffic is observed.
    pub enables_injection: bool,
}

/// An object by kind and name, for confirmations and clash reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// Where the mesh's ingress gateway listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngressEndpoint {
    pub scheme: String,
    /// Address to use when the route's host is `*` (any host).
    pub address: String,
    pub port: u16,
}

/// The URL that opens `path` on `host` through the ingress.
pub fn visit_url(host: &str, path: &str, ingress: &IngressEndpoint) -> String {
    let host = if host == "*" || host.is_empty() {
        ingress.address.as_str()
    } else {
        host
    };
    let default_port = matches!(
        (ingress.scheme.as_str(), ingress.port),
        ("http", 80) | ("https", 443)
    );
    if default_port {
        format!("{}://{host}{path}", ingress.scheme)
    } else {
        format!("{}://{host}:{}{path}", ingress.scheme, ingress.port)
    }
}

/// "42s", "5m", "3h", "2d": how `kubectl get` shows ages.
pub fn format_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The application a Service belongs to.
pub fn application_of(service: &ServiceInfo) -> String {
    service
        .labels
        .get(APP_NAME_LABEL)
        .or_else(|| service.labels.get(APP_LABEL))
        .cloned()
        .unwrap_or_else(|| service.name.clone())
}

/// A workload is behind a Service when the Service's (non-empty) selector matches its
/// pod template's labels, as Kubernetes routes.
pub fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Groups Services and workloads into applications, sorted by name. Services without a
/// selector (external, headless by hand) are left out: no workload can be a version of them.
pub fn group_applications(
    services: Vec<ServiceInfo>,
    workloads: &[WorkloadInfo],
) -> Vec<Application> {
    let mut apps: BTreeMap<String, Vec<Component>> = BTreeMap::new();
    for service in services.into_iter().filter(|s| !s.selector.is_empty()) {
        let mut members: Vec<WorkloadInfo> = workloads
            .iter()
            .filter(|w| selects(&service.selector, &w.pod_labels))
            .cloned()
            .collect();
        members.sort_by(|a, b| (a.version(), &a.name).cmp(&(b.version(), &b.name)));
        apps.entry(application_of(&service))
            .or_default()
            .push(Component {
                service,
                workloads: members,
            });
    }
    apps.into_iter()
        .map(|(name, mut components)| {
            components.sort_by(|a, b| a.service.name.cmp(&b.service.name));
            Application { name, components }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn service(name: &str, app_name: Option<&str>) -> ServiceInfo {
        let mut l = labels(&[("app", name), ("service", name)]);
        if let Some(a) = app_name {
            l.insert(APP_NAME_LABEL.into(), a.into());
        }
        ServiceInfo {
            name: name.into(),
            labels: l,
            selector: labels(&[("app", name)]),
            ports: vec!["9080/TCP".into()],
        }
    }

    fn workload(app: &str, version: &str, desired: i32, ready: i32) -> WorkloadInfo {
        WorkloadInfo {
            name: format!("{app}-{version}"),
            pod_labels: labels(&[("app", app), ("version", version)]),
            images: vec![format!(
                "docker.io/istio/examples-bookinfo-{app}-{version}:1.20.3"
            )],
            desired,
            ready,
            updated: ready,
            available: ready,
            restarts: 0,
            failure: None,
            pods_with_sidecar: ready,
            pods: ready,
            created: None,
            age_seconds: None,
        }
    }

    #[test]
    fn bookinfo_is_one_application_with_four_components_and_their_versions() {
        let services = ["productpage", "details", "reviews", "ratings"]
            .map(|s| service(s, Some("bookinfo")))
            .to_vec();
        let workloads = vec![
            workload("reviews", "v2", 1, 1),
            workload("productpage", "v1", 1, 1),
            workload("details", "v1", 1, 1),
            workload("reviews", "v1", 1, 1),
            workload("ratings", "v1", 1, 1),
        ];
        let apps = group_applications(services, &workloads);
        assert_eq!(apps.len(), 1);
        let app = &apps[0];
        assert_eq!(app.name, "bookinfo");
        let names: Vec<_> = app
            .components
            .iter()
            .map(|c| c.service.name.as_str())
            .collect();
        assert_eq!(names, ["details", "productpage", "ratings", "reviews"]);
        assert_eq!(app.components[3].versions(), ["v1", "v2"]);
        assert_eq!(app.status(), WorkloadStatus::Running);
        assert_eq!(app.running_count(), (5, 5));
    }

    #[test]
    fn without_the_app_name_label_the_app_label_groups() {
        let apps = group_applications(vec![service("reviews", None)], &[]);
        assert_eq!(apps[0].name, "reviews");
        assert_eq!(apps[0].status(), WorkloadStatus::Stopped);
    }

    #[test]
    fn selectorless_services_are_left_out() {
        let mut s = service("external", Some("x"));
        s.selector.clear();
        assert!(group_applications(vec![s], &[workload("external", "v1", 1, 1)]).is_empty());
    }

    #[test]
    fn status_rules() {
        assert_eq!(workload("a", "v1", 2, 2).status(), WorkloadStatus::Running);
        assert_eq!(workload("a", "v1", 2, 1).status(), WorkloadStatus::Updating);
        assert_eq!(workload("a", "v1", 0, 0).status(), WorkloadStatus::Stopped);
        let mut failed = workload("a", "v1", 1, 0);
        failed.failure = Some("ImagePullBackOff".into());
        assert_eq!(failed.status(), WorkloadStatus::Failed);
        // One failed version makes the application failed.
        let apps = group_applications(
            vec![service("a", Some("app"))],
            &[workload("a", "v1", 1, 1), failed],
        );
        assert_eq!(apps[0].status(), WorkloadStatus::Failed);
        assert_eq!(apps[0].running_count(), (1, 2));
    }

    #[test]
    fn visit_urls_use_the_route_host_and_the_ingress_port() {
        let ingress = IngressEndpoint {
            scheme: "http".into(),
            address: "127.0.0.1".into(),
            port: 18080,
        };
        assert_eq!(
            visit_url("bookinfo.demo.localhost", "/productpage", &ingress),
            "http://bookinfo.demo.localhost:18080/productpage"
        );
        assert_eq!(visit_url("*", "/", &ingress), "http://127.0.0.1:18080/");
        let lb = IngressEndpoint {
            scheme: "http".into(),
            address: "203.0.113.7".into(),
            port: 80,
        };
        assert_eq!(
            visit_url("shop.example.com", "/", &lb),
            "http://shop.example.com/"
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(format_age(42), "42s");
        assert_eq!(format_age(300), "5m");
        assert_eq!(format_age(3 * 3600), "3h");
        assert_eq!(format_age(3 * 86_400), "3d");
        assert_eq!(format_age(-5), "0s");
    }

    #[test]
    fn pods_without_sidecar_are_flagged() {
        let mut w = workload("a", "v1", 2, 2);
        w.pods_with_sidecar = 1;
        assert!(w.missing_sidecar());
        assert!(!workload("a", "v1", 2, 2).missing_sidecar());
    }
}
