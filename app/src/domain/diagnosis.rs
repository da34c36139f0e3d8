//! Configuration diagnosis of a project's services, as Huawei ASM's "Configuration
//! Diagnosis" and Kiali's validations do it: one verdict per Service ("Normal", or each
//! problem with how to fix it), from what the cluster holds — Services and their ports,
//! pods, VirtualServices, DestinationRules, HTTPRoutes — and the project's release jobs.
//!
//! Pure: the server gathers the objects through the ports, [`diagnose`] decides. Each
//! check says what a person would notice (requests failing with 503, rules that apply to
//! nothing, traffic the mesh does not see) and the command or click that fixes it.

mod checks;
mod objects;
mod releases;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::applications::{APP_LABEL, APP_NAME_LABEL, WorkloadInfo, selects};
use crate::domain::dataplane::ProjectDataPlane;
use crate::domain::release::jobs::JobView;
use crate::domain::topology::{Badge, Graph, NodeKind, node_id_service};

/// A Service port as Istio reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    pub app_protocol: Option<String>,
}

/// A Service with what the checks need: its selector and named ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshService {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub selector: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
}

/// A pod that is not being deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshPod {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Runs Istio's `istio-proxy` container (or native sidecar).
    pub sidecar: bool,
}

/// The container Istio's injector adds (a native sidecar is an init container of the name).
pub const SIDECAR_CONTAINER: &str = "istio-proxy";

impl MeshService {
    /// From a Service as the API serves it (JSON).
    pub fn from_object(v: &Value) -> MeshService {
        let text_map = |m: &Value| -> BTreeMap<String, String> {
            m.as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        MeshService {
            name: objects::name_of(v).to_string(),
            labels: text_map(&v["metadata"]["labels"]),
            selector: text_map(&v["spec"]["selector"]),
            ports: v["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| ServicePort {
                    name: p["name"].as_str().map(str::to_string),
                    port: p["port"]
                        .as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .unwrap_or(0),
                    protocol: p["protocol"].as_str().unwrap_or("TCP").to_string(),
                    app_protocol: p["appProtocol"].as_str().map(str::to_string),
                })
                .collect(),
        }
    }
}

impl MeshPod {
    /// From a Pod as the API serves it (JSON); `None` for a pod being deleted, which
    /// serves no new traffic.
    pub fn from_object(v: &Value) -> Option<MeshPod> {
        if !v["metadata"]["deletionTimestamp"].is_null() {
            return None;
        }
        let named_sidecar = |list: &Value| {
            list.as_array()
                .into_iter()
                .flatten()
                .any(|c| c["name"] == SIDECAR_CONTAINER)
        };
        Some(MeshPod {
            name: objects::name_of(v).to_string(),
            labels: v["metadata"]["labels"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            sidecar: named_sidecar(&v["spec"]["containers"])
                || named_sidecar(&v["spec"]["initContainers"]),
        })
    }
}

/// A project's mesh configuration as the API server holds it. Routing objects stay raw
/// JSON: the checks read only a few fields, and tolerate any version of Istio's CRDs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeshConfig {
    pub services: Vec<MeshService>,
    pub pods: Vec<MeshPod>,
    pub virtual_services: Vec<Value>,
    pub destination_rules: Vec<Value>,
    pub http_routes: Vec<Value>,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Requests fail, or the configuration does nothing.
    Error,
    /// The mesh works around it, but not as the person meant.
    Warning,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FindingKind {
    /// A VirtualService routes to a subset no DestinationRule defines.
    UndefinedSubset,
    /// A DestinationRule subset selects no pod.
    EmptySubset,
    /// Pods of the Service run without the istio-proxy sidecar.
    MissingSidecar,
    /// A Service port whose name (or appProtocol) names no protocol.
    UnnamedPort,
    /// Two VirtualServices for one host.
    DuplicateHost,
    /// A VirtualService, DestinationRule or HTTPRoute names a Service that does not exist.
    UnknownService,
    /// Routing a release job manages was changed by hand.
    HandEditedRelease,
    /// Ambient mode without a waypoint for a Service that has L7 routing.
    NoWaypoint,
}

impl FindingKind {
    /// A short title, for lists and topology badges.
    pub fn title(self) -> &'static str {
        match self {
            FindingKind::UndefinedSubset => "route to an undefined subset",
            FindingKind::EmptySubset => "subset without pods",
            FindingKind::MissingSidecar => "pods without sidecar",
            FindingKind::UnnamedPort => "port without protocol",
            FindingKind::DuplicateHost => "two VirtualServices for one host",
            FindingKind::UnknownService => "names a Service that does not exist",
            FindingKind::HandEditedRelease => "release routing edited by hand",
            FindingKind::NoWaypoint => "ambient without a waypoint",
        }
    }

    /// The stable name used in the page's markup (`data-finding`).
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::UndefinedSubset => "undefined-subset",
            FindingKind::EmptySubset => "empty-subset",
            FindingKind::MissingSidecar => "missing-sidecar",
            FindingKind::UnnamedPort => "unnamed-port",
            FindingKind::DuplicateHost => "duplicate-host",
            FindingKind::UnknownService => "unknown-service",
            FindingKind::HandEditedRelease => "hand-edited-release",
            FindingKind::NoWaypoint => "no-waypoint",
        }
    }
}

/// One problem, with what it breaks and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: FindingKind,
    /// The Service whose row shows it; `None` when no Service of the project is concerned
    /// (a VirtualService for a host that does not exist).
    pub service: Option<String>,
    /// The object at fault, e.g. `VirtualService reviews`.
    pub object: String,
    /// What is wrong and what a person notices.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl Finding {
    /// `route to an undefined subset (VirtualService reviews)`.
    pub fn summary(&self) -> String {
        format!("{} ({})", self.kind.title(), self.object)
    }
}

/// A version (workload) behind a Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceVersion {
    pub workload: String,
    pub version: Option<String>,
    pub ready: i32,
    pub desired: i32,
}

/// One row of the Services page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRow {
    pub name: String,
    /// The application it belongs to.
    pub app: String,
    /// As a person reads them: `http 9080/TCP`, `9080/TCP (no name)`.
    pub ports: Vec<String>,
    pub versions: Vec<ServiceVersion>,
    /// Errors first; empty means "Normal".
    pub findings: Vec<Finding>,
}

impl ServiceRow {
    pub fn is_normal(&self) -> bool {
        self.findings.is_empty()
    }
}

/// The Services page: every Service of a project with its diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesView {
    pub project: String,
    /// Sorted by name.
    pub services: Vec<ServiceRow>,
    /// Findings about no Service of the project (routing for hosts that do not exist).
    pub other: Vec<Finding>,
    /// What could not be checked, and why (e.g. release jobs unreadable).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl ServicesView {
    pub fn problem_count(&self) -> usize {
        self.services
            .iter()
            .map(|s| s.findings.len())
            .sum::<usize>()
            + self.other.len()
    }

    /// "4 services, all Normal." or "3 problems, in 2 of 4 services."
    pub fn summary(&self) -> String {
        let total = self.services.len();
        let affected = self.services.iter().filter(|s| !s.is_normal()).count();
        match (self.problem_count(), total) {
            (_, 0) => "No Services in this project.".to_string(),
            (0, 1) => "1 service, Normal.".to_string(),
            (0, n) => format!("{n} services, all Normal."),
            (1, n) => format!("1 problem, in {affected} of {n} services."),
            (p, n) => format!("{p} problems, in {affected} of {n} services."),
        }
    }
}

/// Everything a diagnosis is made from.
#[derive(Debug, Clone, Copy)]
pub struct DiagnosisInputs<'a> {
    pub project: &'a str,
    /// The project's `istio-injection=enabled` label: decides the sidecar advice.
    pub injection_enabled: bool,
    /// Sidecars or ambient mode (and its waypoint), from the project's labels.
    pub dataplane: &'a ProjectDataPlane,
    pub mesh: &'a MeshConfig,
    /// The project's Deployments, for the versions column and restart commands.
    pub workloads: &'a [WorkloadInfo],
    pub jobs: &'a [JobView],
}

/// The HTTPRoutes (of a project's, as the API serves them) attached to one of its
/// Services by a `parentRef`: the routes that route calls to `service` in the mesh.
pub fn http_routes_attached_to(routes: &[Value], project: &str, service: &str) -> Vec<String> {
    let mut names: Vec<String> = routes
        .iter()
        .filter(|r| objects::attached_services(r, project).contains(&service))
        .map(|r| objects::name_of(r).to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The HTTPRoutes of Gateways (north-south) that send traffic to one of the project's
/// Services.
pub fn gateway_routes_to(routes: &[Value], project: &str, service: &str) -> Vec<String> {
    let mut names: Vec<String> = routes
        .iter()
        .filter(|r| objects::gateway_route_to(r, project, service))
        .map(|r| objects::name_of(r).to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The VirtualServices (of a project's, as the API serves them) whose hosts name one of
/// its Services.
pub fn virtual_services_for(vss: &[Value], project: &str, service: &str) -> Vec<String> {
    let mut names: Vec<String> = vss
        .iter()
        .filter(|vs| {
            vs["spec"]["hosts"].as_array().is_some_and(|hosts| {
                hosts
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|h| objects::local_service(h, project) == Some(service))
            })
        })
        .map(|vs| objects::name_of(vs).to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Runs every check and files each finding under its Service.
pub fn diagnose(input: DiagnosisInputs<'_>) -> ServicesView {
    let parsed = objects::Parsed::new(input.project, input.mesh);
    let mut findings = Vec::new();
    checks::undefined_subsets(&parsed, &mut findings);
    checks::empty_subsets(&parsed, &mut findings);
    checks::missing_sidecars(&input, &mut findings);
    checks::missing_waypoints(&input, &parsed, &mut findings);
    checks::unnamed_ports(&input, &mut findings);
    checks::duplicate_hosts(&parsed, &mut findings);
    checks::unknown_services(&parsed, &mut findings);
    releases::hand_edited(&input, &mut findings);
    findings.sort();
    findings.dedup();

    let known: Vec<&str> = input
        .mesh
        .services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let mut by_service: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    let mut other = Vec::new();
    for f in findings {
        match &f.service {
            Some(s) if known.contains(&s.as_str()) => {
                by_service.entry(s.clone()).or_default().push(f)
            }
            _ => other.push(f),
        }
    }

    let mut services: Vec<ServiceRow> = input
        .mesh
        .services
        .iter()
        .map(|s| ServiceRow {
            name: s.name.clone(),
            app: s
                .labels
                .get(APP_NAME_LABEL)
                .or_else(|| s.labels.get(APP_LABEL))
                .unwrap_or(&s.name)
                .clone(),
            ports: s.ports.iter().map(port_text).collect(),
            versions: versions_of(s, input.workloads),
            findings: by_service.remove(&s.name).unwrap_or_default(),
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    ServicesView {
        project: input.project.to_string(),
        services,
        other,
        notes: Vec::new(),
    }
}

fn port_text(p: &ServicePort) -> String {
    let name = p.name.as_deref().filter(|n| !n.is_empty());
    match (name, p.app_protocol.as_deref()) {
        (Some(n), Some(a)) => format!("{n} {}/{} (appProtocol {a})", p.port, p.protocol),
        (Some(n), None) => format!("{n} {}/{}", p.port, p.protocol),
        (None, Some(a)) => format!("{}/{} (appProtocol {a})", p.port, p.protocol),
        (None, None) => format!("{}/{} (no name)", p.port, p.protocol),
    }
}

fn versions_of(s: &MeshService, workloads: &[WorkloadInfo]) -> Vec<ServiceVersion> {
    let mut out: Vec<ServiceVersion> = workloads
        .iter()
        .filter(|w| selects(&s.selector, &w.pod_labels))
        .map(|w| ServiceVersion {
            workload: w.name.clone(),
            version: w.version().map(str::to_string),
            ready: w.ready,
            desired: w.desired,
        })
        .collect();
    out.sort_by(|a, b| (&a.version, &a.workload).cmp(&(&b.version, &b.workload)));
    out
}

/// Marks the topology's Service nodes that have findings, so the graph shows where the
/// configuration is wrong (the Services page says what and how to fix it).
pub fn mark_graph(graph: &mut Graph, view: &ServicesView) {
    let by_id: BTreeMap<String, &ServiceRow> = view
        .services
        .iter()
        .filter(|s| !s.findings.is_empty())
        .map(|s| (node_id_service(&view.project, &s.name), s))
        .collect();
    if by_id.is_empty() {
        return;
    }
    for node in graph
        .nodes
        .iter_mut()
        .filter(|n| n.kind == NodeKind::Service)
    {
        if let Some(row) = by_id.get(&node.id) {
            let mut summaries: Vec<String> = row.findings.iter().map(Finding::summary).collect();
            summaries.dedup();
            node.badges.push(Badge::ConfigProblems(summaries));
        }
    }
}

#[cfg(test)]
mod tests;
