//! The live service topology of a project (issue #7): the graph model the Traffic
//! Management page draws, the PromQL Sluice asks Prometheus for it (Istio's standard
//! metrics, both reporters, as Kiali does), and the pure builder that turns the answers,
//! the project's inventory, its routing and its release jobs into nodes and edges.

mod build;
mod item;
mod promql;
mod views;

pub use build::{
    GraphInputs, ServiceRouting, UNKNOWN_ID, build_graph, edge_id, health_of, is_error, is_ingress,
    node_id_app, node_id_service, node_id_workload, routing_of_virtual_service,
    workload_app_version,
};
pub use item::{
    ItemQueries, ItemRef, NodeRef, QUANTILES, finite, item_queries, label_latency,
    versions_if_several,
};
pub use promql::{
    DEDUP_KEY, EDGE_GROUPING, EDGE_LABEL, EDGE_PARTS, LATENCY_TO_SERVICE_GROUPING,
    LATENCY_TO_SERVICE_PARTS, LATENCY_TO_WORKLOAD_GROUPING, LATENCY_TO_WORKLOAD_PARTS,
    PART_SEPARATOR, errors_query, latency_to_service_query, latency_to_workload_query,
    regex_literal, requests_query, selections, unpack,
};

pub use views::{GraphView, SERVICE_GRAPH_FROM, service_graph};

use serde::{Deserialize, Serialize};

use crate::domain::metrics::Series;

/// Health of a node or edge, from the share of failed requests against [`Thresholds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    Degraded,
    Failure,
    /// No traffic in the window.
    Idle,
}

/// Error ratios (0..1) at which health turns degraded and failing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub degraded: f64,
    pub failure: f64,
}

impl Default for Thresholds {
    /// Kiali's defaults: 0.1 % errors is degraded, 10 % is failing.
    fn default() -> Self {
        Self {
            degraded: 0.001,
            failure: 0.10,
        }
    }
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeKind {
    /// A group box holding an app's versioned workloads.
    App,
    Workload,
    Service,
    Ingress,
    Unknown,
}

/// A mark on a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Badge {
    /// An active release job (its name) targets the component.
    CanaryJob(String),
    /// A VirtualService routes the service.
    VirtualService,
    /// That VirtualService mirrors traffic.
    Mirroring,
    /// The workload's pods run without the istio-proxy sidecar.
    NoSidecar,
    /// The service's configuration has problems (their summaries); the Services page
    /// says how to fix each.
    ConfigProblems(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Stable across refreshes: "app:<ns>/<app>", "wl:<ns>/<workload>", "svc:<ns>/<service>",
    /// "unknown".
    pub id: String,
    pub kind: NodeKind,
    pub namespace: String,
    /// Workload / service / app name.
    pub name: String,
    pub app: Option<String>,
    pub version: Option<String>,
    /// Id of the App group node for versioned workloads.
    pub parent: Option<String>,
    pub health: Health,
    pub rps_in: f64,
    pub rps_out: f64,
    /// Share of failed (5xx / grpc error) requests in; None without traffic.
    pub error_ratio: Option<f64>,
    pub badges: Vec<Badge>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// "<source id>-><target id>".
    pub id: String,
    pub source: String,
    pub target: String,
    /// "http" | "grpc" | "tcp".
    pub protocol: String,
    pub rps: f64,
    /// 0..1.
    pub error_ratio: f64,
    pub p95_ms: Option<f64>,
    pub health: Health,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub project: String,
    pub window_minutes: u32,
    /// Unix seconds the queries were evaluated at.
    pub at: f64,
    pub thresholds: Thresholds,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Which graph this is.
    #[serde(default)]
    pub view: GraphView,
    /// The view was picked by the mesh's size, not asked for.
    #[serde(default)]
    pub view_auto: bool,
}

/// Charts for a clicked node or edge, over the window (range queries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemMetrics {
    /// Node or edge id.
    pub item: String,
    /// E.g. "reviews (service)", "productpage-v1 → reviews".
    pub title: String,
    /// One series (sum) or per version where it makes sense.
    pub rps_in: Vec<Series>,
    pub rps_out: Vec<Series>,
    /// 0..1.
    pub success: Vec<Series>,
    /// Label "quantile" = "p50" | "p95" | "p99", milliseconds.
    pub latency: Vec<Series>,
    /// Rps per destination_version for a service with several versions; else empty.
    pub versions: Vec<Series>,
}

#[cfg(test)]
mod tests;
