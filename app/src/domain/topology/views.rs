//! The two graph types of the Traffic Management page, in Kiali's words: the versioned app
//! graph [`build_graph`](super::build_graph) makes (services, with the versioned workloads
//! of each app behind them), and the service graph derived from it here (one node per
//! service, the calls between services; the versions are in a service's side panel).
//!
//! A mesh of thousands of services has three nodes and seven edges per service in the
//! versioned graph; the service graph has one node and two or three edges, which is what
//! a browser can draw in a second. Above [`SERVICE_GRAPH_FROM`] services the page shows it
//! unless the person asks for versions.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::build::{edge_id, health_of, new_node, node_id_app, node_id_service};
use super::{Edge, Graph, Node, NodeKind};

/// From this many services on, the page shows the service graph unless `?graph=` says
/// otherwise.
pub const SERVICE_GRAPH_FROM: usize = 500;

/// Which graph (`?graph=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GraphView {
    /// Services, and each app's versioned workloads behind them (Kiali's default).
    #[default]
    Versioned,
    /// One node per service (or per app without a service), versions merged.
    Service,
}

impl GraphView {
    pub const ALL: [GraphView; 2] = [Self::Versioned, Self::Service];

    /// `versioned` or `service`; anything else is `None` (the page then picks by size).
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            Some("versioned") => Some(Self::Versioned),
            Some("service") => Some(Self::Service),
            _ => None,
        }
    }

    /// Like [`Self::parse`], for a server function argument: an unknown value is refused
    /// with the ones offered; an empty one means "pick by size".
    pub fn parse_arg(value: &str) -> Result<Option<Self>, String> {
        match value {
            "" | "auto" => Ok(None),
            v => Self::parse(Some(v)).map(Some).ok_or_else(|| {
                format!(
                    "There is no graph type \"{v}\": choose versioned or service (or leave it out)."
                )
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Versioned => "versioned",
            Self::Service => "service",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Versioned => "Versioned app graph",
            Self::Service => "Service graph",
        }
    }

    /// The view asked for, or by size: the service graph from [`SERVICE_GRAPH_FROM`]
    /// services of the versioned graph `g` on.
    pub fn resolve(asked: Option<Self>, g: &Graph) -> Self {
        asked.unwrap_or_else(|| {
            let services = g
                .nodes
                .iter()
                .filter(|n| n.kind == NodeKind::Service)
                .count();
            if services >= SERVICE_GRAPH_FROM {
                Self::Service
            } else {
                Self::Versioned
            }
        })
    }
}

/// What a node of the versioned graph becomes in the service graph: the node drawn, and
/// the item the merged edges are queried as (a caller is its app, whose versions the
/// service graph merges).
#[derive(Clone)]
struct Rep {
    drawn: String,
    item: String,
}

/// The service graph of a versioned graph:
/// - services, the ingress and unknown callers stay as they are;
/// - a workload becomes the service of its app (same name, same namespace), or its app
///   when no such service is in the graph, or stays itself without an app label;
/// - the edges from a service to its own versions go (that split is the service's side
///   panel); every other edge joins the edge between the nodes its ends became, adding
///   rates and errors. Its id names the caller as its app (`app:ns/a->svc:ns/b`), so the
///   side panel queries exactly the merged traffic. Its p95 is the highest of the merged
///   edges' p95 (exact for a caller with one version, an upper bound otherwise).
///
/// A service node's traffic out is what its app's workloads call, and it carries their
/// badges.
pub fn service_graph(g: &Graph) -> Graph {
    let by_id: HashMap<&str, &Node> = g.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let rep = |n: &Node| -> Option<Rep> {
        match n.kind {
            NodeKind::App => None,
            NodeKind::Workload => Some(match n.app.as_deref() {
                Some(app) => {
                    let svc = node_id_service(&n.namespace, app);
                    let item = node_id_app(&n.namespace, app);
                    Rep {
                        drawn: if by_id.contains_key(svc.as_str()) {
                            svc
                        } else {
                            item.clone()
                        },
                        item,
                    }
                }
                None => Rep {
                    drawn: n.id.clone(),
                    item: n.id.clone(),
                },
            }),
            NodeKind::Service | NodeKind::Ingress | NodeKind::Unknown => Some(Rep {
                drawn: n.id.clone(),
                item: n.id.clone(),
            }),
        }
    };

    // Nodes: everything but app boxes and workloads, plus one node per app without a
    // service; workloads fold into what they became.
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for n in &g.nodes {
        if matches!(
            n.kind,
            NodeKind::Service | NodeKind::Ingress | NodeKind::Unknown
        ) {
            // A service's traffic out is what it forwarded to its versions in the
            // versioned graph; here it is what its app's workloads call (added below).
            let rps_out = if n.kind == NodeKind::Service {
                0.0
            } else {
                n.rps_out
            };
            nodes.insert(
                n.id.clone(),
                Node {
                    parent: None,
                    rps_out,
                    ..n.clone()
                },
            );
        }
    }
    // Traffic into an app without a service: (requests, failed requests).
    let mut app_in: HashMap<String, (f64, f64)> = HashMap::new();
    for n in g.nodes.iter().filter(|n| n.kind == NodeKind::Workload) {
        let Some(r) = rep(n) else { continue };
        let into = nodes.entry(r.drawn.clone()).or_insert_with(|| {
            let name = n.app.as_deref().unwrap_or(&n.name);
            Node {
                app: n.app.clone(),
                ..new_node(r.drawn.clone(), NodeKind::App, &n.namespace, name)
            }
        });
        into.rps_out += n.rps_out;
        for b in &n.badges {
            if !into.badges.contains(b) {
                into.badges.push(b.clone());
            }
        }
        if into.kind != NodeKind::Service {
            let e = app_in.entry(r.drawn).or_default();
            e.0 += n.rps_in;
            e.1 += n.rps_in * n.error_ratio.unwrap_or(0.0);
        }
    }
    for (id, (rps, failed)) in app_in {
        if let Some(n) = nodes.get_mut(&id) {
            n.rps_in = rps;
            n.error_ratio = (rps > 0.0).then(|| failed / rps);
            n.health = health_of(rps, n.error_ratio.unwrap_or(0.0), &g.thresholds);
        }
    }
    for n in nodes.values_mut() {
        n.badges.sort();
    }

    // Edges, merged by (caller item, callee item).
    struct Merged {
        source: String,
        target: String,
        protocol: String,
        rps: f64,
        failed: f64,
        p95_ms: Option<f64>,
    }
    let mut edges: BTreeMap<String, Merged> = BTreeMap::new();
    for e in &g.edges {
        let (Some(s), Some(t)) = (by_id.get(e.source.as_str()), by_id.get(e.target.as_str()))
        else {
            continue;
        };
        let (Some(rs), Some(rt)) = (rep(s), rep(t)) else {
            continue;
        };
        // A service's split over its own versions.
        if s.kind == NodeKind::Service && rt.drawn == s.id {
            continue;
        }
        let id = edge_id(&rs.item, &rt.item);
        let m = edges.entry(id).or_insert_with(|| Merged {
            source: rs.drawn,
            target: rt.drawn,
            protocol: e.protocol.clone(),
            rps: 0.0,
            failed: 0.0,
            p95_ms: None,
        });
        m.rps += e.rps;
        m.failed += e.rps * e.error_ratio;
        m.p95_ms = match (m.p95_ms, e.p95_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if m.protocol == "tcp" && e.protocol != "tcp" {
            m.protocol = e.protocol.clone();
        }
    }
    let edges = edges
        .into_iter()
        .map(|(id, m)| {
            let error_ratio = if m.rps > 0.0 { m.failed / m.rps } else { 0.0 };
            Edge {
                id,
                source: m.source,
                target: m.target,
                protocol: m.protocol,
                rps: m.rps,
                error_ratio,
                p95_ms: m.p95_ms,
                health: health_of(m.rps, error_ratio, &g.thresholds),
            }
        })
        .collect();

    Graph {
        project: g.project.clone(),
        window_minutes: g.window_minutes,
        at: g.at,
        thresholds: g.thresholds,
        nodes: nodes.into_values().collect(),
        edges,
        view: GraphView::Service,
        view_auto: g.view_auto,
    }
}
