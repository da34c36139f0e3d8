//! The side panel's charts for a clicked node or edge: parsing the item id, the range
//! queries for it, and labelling their answers. Every query prefers what the destination
//! sidecar reported and falls back to the source proxy's report (`A or B` with the same
//! grouping on both sides), so a callee without a sidecar still has charts and nothing is
//! counted twice.

use super::build::{UNKNOWN_ID, edge_id, node_id_app, node_id_service, node_id_workload};
use crate::domain::metrics::{Series, escape};

/// A node of the graph, as its id names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRef {
    App { namespace: String, app: String },
    Workload { namespace: String, name: String },
    Service { namespace: String, name: String },
    Unknown,
}

/// What a person clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRef {
    Node(NodeRef),
    Edge { source: NodeRef, target: NodeRef },
}

const FORMS: &str = "\"app:<namespace>/<app>\", \"wl:<namespace>/<workload>\", \
\"svc:<namespace>/<service>\", \"unknown\", or an edge \"<node id>-><node id>\"";

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

impl NodeRef {
    pub fn parse(id: &str) -> Result<NodeRef, String> {
        if id == UNKNOWN_ID {
            return Ok(NodeRef::Unknown);
        }
        let bad = || format!("\"{id}\" is not a node of the graph: expected {FORMS}.");
        let (kind, rest) = id.split_once(':').ok_or_else(bad)?;
        let (ns, name) = rest.split_once('/').ok_or_else(bad)?;
        if !name_ok(ns) || !name_ok(name) {
            return Err(bad());
        }
        let (namespace, name) = (ns.to_string(), name.to_string());
        match kind {
            "app" => Ok(NodeRef::App {
                namespace,
                app: name,
            }),
            "wl" => Ok(NodeRef::Workload { namespace, name }),
            "svc" => Ok(NodeRef::Service { namespace, name }),
            _ => Err(bad()),
        }
    }

    pub fn id(&self) -> String {
        match self {
            NodeRef::App { namespace, app } => node_id_app(namespace, app),
            NodeRef::Workload { namespace, name } => node_id_workload(namespace, name),
            NodeRef::Service { namespace, name } => node_id_service(namespace, name),
            NodeRef::Unknown => UNKNOWN_ID.into(),
        }
    }

    fn short(&self) -> &str {
        match self {
            NodeRef::App { app, .. } => app,
            NodeRef::Workload { name, .. } | NodeRef::Service { name, .. } => name,
            NodeRef::Unknown => "unknown",
        }
    }

    /// Selector of requests sent by this node.
    fn as_source(&self) -> String {
        match self {
            NodeRef::App { namespace, app } => format!(
                "source_workload_namespace=\"{}\",source_app=\"{}\"",
                escape(namespace),
                escape(app)
            ),
            NodeRef::Workload { namespace, name } => format!(
                "source_workload_namespace=\"{}\",source_workload=\"{}\"",
                escape(namespace),
                escape(name)
            ),
            // Services do not send; their traffic out is what they forward to workloads,
            // which is the traffic into them.
            NodeRef::Service { namespace, name } => Self::service_selector(namespace, name),
            NodeRef::Unknown => "source_workload=\"unknown\"".into(),
        }
    }

    /// Selector of requests received by this node.
    fn as_target(&self) -> String {
        match self {
            NodeRef::App { namespace, app } => format!(
                "destination_workload_namespace=\"{}\",destination_app=\"{}\"",
                escape(namespace),
                escape(app)
            ),
            NodeRef::Workload { namespace, name } => format!(
                "destination_workload_namespace=\"{}\",destination_workload=\"{}\"",
                escape(namespace),
                escape(name)
            ),
            NodeRef::Service { namespace, name } => Self::service_selector(namespace, name),
            NodeRef::Unknown => "destination_workload=\"unknown\"".into(),
        }
    }

    fn service_selector(namespace: &str, name: &str) -> String {
        format!(
            "destination_service_namespace=\"{}\",destination_service_name=\"{}\"",
            escape(namespace),
            escape(name)
        )
    }
}

impl ItemRef {
    /// Parses a node or edge id of the graph, saying which forms exist when it is none.
    pub fn parse(id: &str) -> Result<ItemRef, String> {
        let id = id.trim();
        if id.is_empty() {
            return Err(format!(
                "Pick a node or edge of the graph: expected {FORMS}."
            ));
        }
        match id.split_once("->") {
            Some((s, t)) => {
                // An app end is the service graph's: an app's versions merged.
                let (source, target) = (NodeRef::parse(s)?, NodeRef::parse(t)?);
                Ok(ItemRef::Edge { source, target })
            }
            None => NodeRef::parse(id).map(ItemRef::Node),
        }
    }

    pub fn id(&self) -> String {
        match self {
            ItemRef::Node(n) => n.id(),
            ItemRef::Edge { source, target } => edge_id(&source.id(), &target.id()),
        }
    }

    pub fn title(&self) -> String {
        match self {
            ItemRef::Node(n @ NodeRef::App { .. }) => format!("{} (app)", n.short()),
            ItemRef::Node(n @ NodeRef::Workload { .. }) => format!("{} (workload)", n.short()),
            ItemRef::Node(n @ NodeRef::Service { .. }) => format!("{} (service)", n.short()),
            ItemRef::Node(NodeRef::Unknown) => "unknown (callers Istio cannot identify)".into(),
            ItemRef::Edge { source, target } => format!("{} → {}", source.short(), target.short()),
        }
    }
}

/// The range queries of an item's charts; `None` where the chart does not apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemQueries {
    pub rps_in: Option<String>,
    pub rps_out: Option<String>,
    pub success: String,
    /// p50, p95, p99.
    pub latency: [String; 3],
    /// Rate by `destination_version` (services and apps).
    pub versions: Option<String>,
}

/// The quantiles of the latency chart, with their series labels.
pub const QUANTILES: [(f64, &str); 3] = [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")];

fn prefer_destination(build: impl Fn(&str) -> String) -> String {
    format!(
        "({}) or ({})",
        build("reporter=\"destination\""),
        build("reporter=\"source\"")
    )
}

fn rate(selector: &str, by: &str, window: &str) -> String {
    prefer_destination(|reporter| {
        format!("sum{by} (rate(istio_requests_total{{{reporter},{selector}}}[{window}]))")
    })
}

fn success(selector: &str, window: &str) -> String {
    // 1 - errors / all, where "no error series" counts as zero errors rather than as no
    // data (`or all * 0`), so a fully healthy window draws 1 and a fully failing one 0.
    prefer_destination(|reporter| {
        let all = format!("sum(rate(istio_requests_total{{{reporter},{selector}}}[{window}]))");
        format!(
            "1 - (sum(rate(istio_requests_total{{{reporter},{selector},response_code=~\"5..\"}}[{window}])) \
             or {all} * 0) / {all}"
        )
    })
}

fn latency(selector: &str, quantile: f64, window: &str) -> String {
    format!(
        "histogram_quantile({quantile}, {})",
        prefer_destination(|reporter| format!(
            "sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{reporter},{selector}}}[{window}]))"
        ))
    )
}

/// The queries for an item's charts, with `window` the rate window (e.g. `1m`). `project`
/// scopes the unknown caller, which is not in any namespace of its own.
pub fn item_queries(item: &ItemRef, project: &str, window: &str) -> ItemQueries {
    let in_project = format!("destination_service_namespace=\"{}\"", escape(project));
    match item {
        ItemRef::Node(NodeRef::Unknown) => {
            let sel = format!("source_workload=\"unknown\",{in_project}");
            ItemQueries {
                rps_in: None,
                rps_out: Some(rate(&sel, "", window)),
                success: success(&sel, window),
                latency: QUANTILES.map(|(q, _)| latency(&sel, q, window)),
                versions: None,
            }
        }
        ItemRef::Node(n) => {
            let (into, out) = (n.as_target(), n.as_source());
            let versions = matches!(n, NodeRef::Service { .. } | NodeRef::App { .. })
                .then(|| rate(&into, " by (destination_version)", window));
            ItemQueries {
                rps_in: Some(rate(&into, "", window)),
                rps_out: match n {
                    NodeRef::Service { .. } => None,
                    _ => Some(rate(&out, "", window)),
                },
                success: success(&into, window),
                latency: QUANTILES.map(|(q, _)| latency(&into, q, window)),
                versions,
            }
        }
        ItemRef::Edge { source, target } => {
            let sel = match (source, target) {
                // service → workload: what the service sent to that workload.
                (NodeRef::Service { .. }, t) => format!("{},{}", source.as_target(), t.as_target()),
                (NodeRef::Unknown, t) => format!("source_workload=\"unknown\",{}", t.as_target()),
                (s, t) => format!("{},{}", s.as_source(), t.as_target()),
            };
            ItemQueries {
                rps_in: Some(rate(&sel, "", window)),
                rps_out: None,
                success: success(&sel, window),
                latency: QUANTILES.map(|(q, _)| latency(&sel, q, window)),
                versions: None,
            }
        }
    }
}

/// Labels latency answers with their quantile ("p50", "p95", "p99") and drops points that
/// are not numbers (no requests in that step).
pub fn label_latency(answers: [Vec<Series>; 3]) -> Vec<Series> {
    let mut out = Vec::new();
    for ((_, name), series) in QUANTILES.iter().zip(answers) {
        for mut s in series {
            s.points.retain(|p| p.1.is_finite());
            s.labels.insert("quantile".into(), (*name).into());
            out.push(s);
        }
    }
    out
}

/// The per-version split is shown only when there are several versions.
pub fn versions_if_several(series: Vec<Series>) -> Vec<Series> {
    let mut distinct: Vec<&str> = series
        .iter()
        .filter_map(|s| s.labels.get("destination_version"))
        .map(String::as_str)
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() >= 2 {
        series
    } else {
        Vec::new()
    }
}

/// Drops non-finite points (a 0/0 success ratio in a step without requests).
pub fn finite(mut series: Vec<Series>) -> Vec<Series> {
    for s in &mut series {
        s.points.retain(|p| p.1.is_finite());
    }
    series
}
