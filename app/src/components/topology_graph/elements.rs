//! The pure half of the topology graph: the page's view state as it appears in the URL,
//! the [`Graph`] turned into cytoscape elements (labels, health and badge classes), the
//! patch that brings the drawn graph from one refresh to the next without a re-layout,
//! a fast layered layout for graphs too big for dagre, and the SVG export. No IO and no
//! browser: unit-tested natively; the FFI only ships the results to cytoscape.js.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::domain::topology::{Badge, Edge, Graph, Health, Node, NodeKind};

pub const WINDOW_PARAM: &str = "window";
pub const LAYOUT_PARAM: &str = "layout";
pub const LABELS_PARAM: &str = "labels";
pub const ITEM_PARAM: &str = "item";
/// `versioned` or `service` ([`crate::domain::topology::GraphView`]); absent: by size.
pub const GRAPH_PARAM: &str = "graph";

/// Time windows offered, in minutes; the server accepts exactly these.
pub const WINDOWS: [u32; 5] = [1, 5, 10, 30, 60];
pub const DEFAULT_WINDOW: u32 = 5;

/// From this many nodes on, every layout choice uses [`layered_positions`]: dagre and the
/// force layout take many seconds on thousands of nodes.
pub const LARGE_GRAPH: usize = 400;

/// The window from `?window=`; anything else falls back to the default so a hand-edited
/// URL still shows the page.
pub fn window_minutes(value: Option<&str>) -> u32 {
    value
        .and_then(|w| w.parse::<u32>().ok())
        .filter(|m| WINDOWS.contains(m))
        .unwrap_or(DEFAULT_WINDOW)
}

/// The layout a person picks (`?layout=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayoutChoice {
    /// Left to right by call depth (dagre), like Kiali's default.
    #[default]
    Hierarchical,
    Breadthfirst,
    /// Force-directed (cytoscape's cose).
    Force,
}

impl LayoutChoice {
    pub const ALL: [LayoutChoice; 3] = [Self::Hierarchical, Self::Breadthfirst, Self::Force];

    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("breadthfirst") => Self::Breadthfirst,
            Some("force") => Self::Force,
            _ => Self::Hierarchical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hierarchical => "hierarchical",
            Self::Breadthfirst => "breadthfirst",
            Self::Force => "force",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Hierarchical => "Hierarchical",
            Self::Breadthfirst => "Breadth-first",
            Self::Force => "Force-directed",
        }
    }

    /// The cytoscape layout name to run for a graph of `nodes` nodes: `"preset"` (positions
    /// from [`layered_positions`]) once the graph is large.
    pub fn engine(self, nodes: usize) -> &'static str {
        if nodes >= LARGE_GRAPH {
            return "preset";
        }
        match self {
            Self::Hierarchical => "dagre",
            Self::Breadthfirst => "breadthfirst",
            Self::Force => "cose",
        }
    }
}

/// What edges are labelled with (`?labels=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelMode {
    #[default]
    Rps,
    Ok,
    P95,
    None,
}

impl LabelMode {
    pub const ALL: [LabelMode; 4] = [Self::Rps, Self::Ok, Self::P95, Self::None];

    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("ok") => Self::Ok,
            Some("p95") => Self::P95,
            Some("none") => Self::None,
            _ => Self::Rps,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rps => "rps",
            Self::Ok => "ok",
            Self::P95 => "p95",
            Self::None => "none",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Rps => "Request rate",
            Self::Ok => "Success rate",
            Self::P95 => "p95 latency",
            Self::None => "None",
        }
    }

    /// The edge data field cytoscape shows as the label (`data(...)`), none for `None`.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Self::Rps => Some("l_rps"),
            Self::Ok => Some("l_ok"),
            Self::P95 => Some("l_p95"),
            Self::None => None,
        }
    }

    pub fn edge_text(self, edge: &Edge) -> String {
        match self {
            Self::Rps => format_rps(edge.rps),
            Self::Ok => format_success(Some(edge.error_ratio).filter(|_| edge.rps > 0.0)),
            Self::P95 => format_ms(edge.p95_ms),
            Self::None => String::new(),
        }
    }
}

pub fn format_rps(rps: f64) -> String {
    if rps <= 0.0 || !rps.is_finite() {
        "0 rps".into()
    } else if rps < 0.01 {
        "<0.01 rps".into()
    } else if rps < 10.0 {
        format!("{rps:.2} rps")
    } else {
        format!("{rps:.1} rps")
    }
}

/// Success rate from an error ratio; a dash without traffic.
pub fn format_success(error_ratio: Option<f64>) -> String {
    match error_ratio.filter(|e| e.is_finite()) {
        Some(e) => {
            let ok = (1.0 - e).clamp(0.0, 1.0) * 100.0;
            if ok >= 99.95 || ok == 0.0 {
                format!("{ok:.0}%")
            } else {
                format!("{ok:.1}%")
            }
        }
        None => "–".into(),
    }
}

pub fn format_ms(ms: Option<f64>) -> String {
    match ms.filter(|m| m.is_finite()) {
        Some(m) if m < 10.0 => format!("{m:.1} ms"),
        Some(m) => format!("{m:.0} ms"),
        None => "–".into(),
    }
}

pub fn health_name(h: Health) -> &'static str {
    match h {
        Health::Healthy => "healthy",
        Health::Degraded => "degraded",
        Health::Failure => "failure",
        Health::Idle => "idle",
    }
}

pub fn health_label(h: Health) -> &'static str {
    match h {
        Health::Healthy => "Healthy",
        Health::Degraded => "Degraded",
        Health::Failure => "Failure",
        Health::Idle => "Idle (no traffic)",
    }
}

/// Legend and graph colour of a health state (the CSS uses the same values).
pub fn health_color(h: Health) -> &'static str {
    match h {
        Health::Healthy => "#2e9e6b",
        Health::Degraded => "#e08a0b",
        Health::Failure => "#cc3d3d",
        Health::Idle => "#9aa5b1",
    }
}

pub fn kind_name(k: NodeKind) -> &'static str {
    match k {
        NodeKind::App => "app",
        NodeKind::Workload => "workload",
        NodeKind::Service => "service",
        NodeKind::Ingress => "ingress",
        NodeKind::Unknown => "unknown",
    }
}

/// The marker a badge adds to a node's label (symbols the default fonts have), its class
/// and its legend text.
pub fn badge_marker(b: &Badge) -> &'static str {
    match b {
        Badge::CanaryJob(_) => "⚑",
        Badge::VirtualService => "⇄",
        Badge::Mirroring => "◎",
        Badge::NoSidecar => "⊘",
        Badge::ConfigProblems(_) => "⚠",
    }
}

pub fn badge_class(b: &Badge) -> &'static str {
    match b {
        Badge::CanaryJob(_) => "badge-canary",
        Badge::VirtualService => "badge-vs",
        Badge::Mirroring => "badge-mirror",
        Badge::NoSidecar => "badge-nosidecar",
        Badge::ConfigProblems(_) => "badge-problem",
    }
}

pub fn badge_text(b: &Badge) -> String {
    match b {
        Badge::CanaryJob(job) => format!("release job {job}"),
        Badge::VirtualService => "routed by a VirtualService".into(),
        Badge::Mirroring => "mirrors traffic".into(),
        Badge::NoSidecar => "no Istio sidecar".into(),
        Badge::ConfigProblems(p) if p.is_empty() => "configuration problems (see Services)".into(),
        Badge::ConfigProblems(p) => format!("configuration: {} (see Services)", p.join("; ")),
    }
}

/// The badges explained in the legend, with one example each.
pub fn legend_badges() -> [Badge; 5] {
    [
        Badge::CanaryJob("…".into()),
        Badge::VirtualService,
        Badge::Mirroring,
        Badge::NoSidecar,
        Badge::ConfigProblems(Vec::new()),
    ]
}

/// A node's text in the graph: the workload's version under its app box, otherwise the
/// name, then its badges' markers.
pub fn node_label(n: &Node) -> String {
    let mut label = match (n.kind, &n.version, &n.parent) {
        (NodeKind::Workload, Some(v), Some(_)) => v.clone(),
        (NodeKind::Workload, Some(v), None) => {
            format!("{} {v}", n.app.as_deref().unwrap_or(&n.name))
        }
        (NodeKind::Unknown, _, _) => "unknown".into(),
        _ => n.name.clone(),
    };
    for b in &n.badges {
        label.push(' ');
        label.push_str(badge_marker(b));
    }
    label
}

/// A node or edge as a person reads it (lists, panel titles): "reviews-v2 (workload)".
pub fn node_title(n: &Node) -> String {
    format!("{} ({})", n.name, kind_name(n.kind))
}

/// The display name of a node id, for edge titles.
pub fn short_name(graph_nodes: &HashMap<&str, &Node>, id: &str) -> String {
    graph_nodes
        .get(id)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id).to_string())
}

/// One cytoscape element as the FFI hands it to `cy.add` (the JSON cytoscape expects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Element {
    /// "nodes" or "edges".
    pub group: String,
    pub data: ElementData,
    /// Space-separated classes: `kind-*`, `health-*`, `badge-*`.
    pub classes: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementData {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub label: String,
    pub health: String,
    #[serde(default)]
    pub l_rps: String,
    #[serde(default)]
    pub l_ok: String,
    #[serde(default)]
    pub l_p95: String,
}

/// The graph as cytoscape elements, in the order cytoscape needs them: app boxes, then the
/// other nodes, then edges. Edges whose ends are missing and parents that do not exist are
/// left out (cytoscape would throw on them), so a half-consistent answer still draws.
pub fn elements(graph: &Graph) -> Vec<Element> {
    // Large graphs are drawn flat: compound app boxes cost cytoscape a bounds update per
    // child on every position change (seconds at thousands of apps), and at the zoom
    // that shows thousands of nodes a box is a smudge. Workloads are then labelled with
    // their app and version ("reviews v2").
    let flat = graph.nodes.len() >= LARGE_GRAPH;
    let ids: HashSet<&str> = graph
        .nodes
        .iter()
        .filter(|n| !(flat && n.kind == NodeKind::App))
        .map(|n| n.id.as_str())
        .collect();
    let mut nodes: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|n| ids.contains(n.id.as_str()))
        .collect();
    nodes.sort_by_key(|n| (n.kind != NodeKind::App, n.id.as_str()));
    let mut out = Vec::with_capacity(graph.nodes.len() + graph.edges.len());
    for n in nodes {
        let mut classes = format!(
            "kind-{} health-{}",
            kind_name(n.kind),
            health_name(n.health)
        );
        for b in &n.badges {
            classes.push(' ');
            classes.push_str(badge_class(b));
        }
        out.push(Element {
            group: "nodes".into(),
            data: ElementData {
                id: n.id.clone(),
                parent: n
                    .parent
                    .clone()
                    .filter(|p| ids.contains(p.as_str()) && *p != n.id),
                source: None,
                target: None,
                label: if flat && n.parent.is_some() {
                    node_label(&Node {
                        parent: None,
                        ..n.clone()
                    })
                } else {
                    node_label(n)
                },
                health: health_name(n.health).into(),
                l_rps: String::new(),
                l_ok: String::new(),
                l_p95: String::new(),
            },
            classes,
        });
    }
    for e in &graph.edges {
        if !ids.contains(e.source.as_str()) || !ids.contains(e.target.as_str()) {
            continue;
        }
        out.push(Element {
            group: "edges".into(),
            data: ElementData {
                id: e.id.clone(),
                parent: None,
                source: Some(e.source.clone()),
                target: Some(e.target.clone()),
                label: String::new(),
                health: health_name(e.health).into(),
                l_rps: LabelMode::Rps.edge_text(e),
                l_ok: LabelMode::Ok.edge_text(e),
                l_p95: LabelMode::P95.edge_text(e),
            },
            classes: format!("proto-{} health-{}", e.protocol, health_name(e.health)),
        });
    }
    out
}

/// What changes between two drawings: ids to remove, elements to add (in insertion
/// order), and elements whose data or classes changed (updated in place, keeping their
/// positions).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Patch {
    pub remove: Vec<String>,
    pub add: Vec<Element>,
    pub update: Vec<Element>,
}

impl Patch {
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty() && self.update.is_empty()
    }
}

/// The patch from `prev` (what is drawn) to `next`. An edge is keyed by its id, which names
/// both ends, so a changed end is a removal and an addition.
pub fn diff(prev: &[Element], next: &[Element]) -> Patch {
    let before: HashMap<&str, &Element> = prev.iter().map(|e| (e.data.id.as_str(), e)).collect();
    let after: HashSet<&str> = next.iter().map(|e| e.data.id.as_str()).collect();
    let mut patch = Patch::default();
    for e in prev {
        if !after.contains(e.data.id.as_str()) {
            patch.remove.push(e.data.id.clone());
        }
    }
    for e in next {
        match before.get(e.data.id.as_str()) {
            None => patch.add.push(e.clone()),
            Some(old) if old.group != e.group => {
                patch.remove.push(e.data.id.clone());
                patch.add.push(e.clone());
            }
            Some(old) if *old != e => patch.update.push(e.clone()),
            Some(_) => {}
        }
    }
    patch
}

/// Whether any drawn edge carries traffic (is not idle).
pub fn has_traffic(drawn: &[Element]) -> bool {
    drawn
        .iter()
        .any(|e| e.group == "edges" && e.data.health != health_name(Health::Idle))
}

/// A node's position for the preset layout or from the drawn graph (centre, size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub id: String,
    pub x: f64,
    pub y: f64,
    #[serde(default)]
    pub w: f64,
    #[serde(default)]
    pub h: f64,
}

const COLUMN: f64 = 220.0;
const ROW: f64 = 70.0;

/// A left-to-right layered layout in linear time, for graphs too big for dagre: each node's
/// column is its call depth (breadth-first from nodes nobody calls; what only cycles reach
/// goes in the first column), rows follow the app box and then the id, so versions of an
/// app stand together. App boxes get no position: cytoscape fits them around their
/// children. Columns are wrapped into blocks so the drawing stays roughly square.
pub fn layered_positions(graph: &Graph) -> Vec<Placed> {
    let leaf: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|n| n.kind != NodeKind::App)
        .collect();
    let index: HashMap<&str, usize> = leaf
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); leaf.len()];
    let mut indegree = vec![0usize; leaf.len()];
    for e in &graph.edges {
        if let (Some(&s), Some(&t)) = (index.get(e.source.as_str()), index.get(e.target.as_str()))
            && s != t
        {
            out_edges[s].push(t);
            indegree[t] += 1;
        }
    }
    let mut depth = vec![usize::MAX; leaf.len()];
    let mut queue = std::collections::VecDeque::new();
    for (i, d) in indegree.iter().enumerate() {
        if *d == 0 {
            depth[i] = 0;
            queue.push_back(i);
        }
    }
    loop {
        while let Some(i) = queue.pop_front() {
            for &t in &out_edges[i] {
                if depth[t] == usize::MAX {
                    depth[t] = depth[i] + 1;
                    queue.push_back(t);
                }
            }
        }
        // Nodes only reachable through a cycle: start from the first one left.
        match depth.iter().position(|d| *d == usize::MAX) {
            Some(i) => {
                depth[i] = 0;
                queue.push_back(i);
            }
            None => break,
        }
    }
    let columns = depth.iter().copied().max().map_or(0, |d| d + 1);
    let mut by_column: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (i, d) in depth.iter().enumerate() {
        by_column[*d].push(i);
    }
    let tallest = by_column.iter().map(Vec::len).max().unwrap_or(0);
    // Wrap a tall column into blocks of rows so 5,000 services do not make one line.
    let rows_per_block = ((tallest as f64 * columns as f64).sqrt().ceil() as usize).max(8);
    let blocks_of = |len: usize| len.div_ceil(rows_per_block).max(1);
    let mut x0 = 0.0;
    let mut out = Vec::with_capacity(leaf.len());
    for col in &mut by_column {
        col.sort_by(|&a, &b| {
            let (na, nb) = (leaf[a], leaf[b]);
            (na.parent.as_deref().unwrap_or(&na.id), &na.id)
                .cmp(&(nb.parent.as_deref().unwrap_or(&nb.id), &nb.id))
        });
        for (row, &i) in col.iter().enumerate() {
            let block = row / rows_per_block;
            out.push(Placed {
                id: leaf[i].id.clone(),
                x: x0 + block as f64 * COLUMN,
                y: (row % rows_per_block) as f64 * ROW,
                w: 0.0,
                h: 0.0,
            });
        }
        x0 += blocks_of(col.len()) as f64 * COLUMN + COLUMN * 0.5;
    }
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// The drawn graph as a standalone SVG document: app boxes, nodes (shape by kind, border by
/// health), edges as arrows coloured by health with the chosen label, from the positions
/// cytoscape reports (`placed`: centre and size of every node, app boxes included).
/// Nodes without a position are left out, with their edges.
pub fn export_svg(graph: &Graph, placed: &[Placed], labels: LabelMode) -> String {
    let at: HashMap<&str, &Placed> = placed.iter().map(|p| (p.id.as_str(), p)).collect();
    let pad = 40.0;
    let (mut x1, mut y1, mut x2, mut y2) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in placed {
        x1 = x1.min(p.x - p.w / 2.0);
        y1 = y1.min(p.y - p.h / 2.0);
        x2 = x2.max(p.x + p.w / 2.0);
        y2 = y2.max(p.y + p.h / 2.0 + 16.0);
    }
    if placed.is_empty() {
        (x1, y1, x2, y2) = (0.0, 0.0, 0.0, 0.0);
    }
    let (w, h) = (x2 - x1 + 2.0 * pad, y2 - y1 + 2.0 * pad);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"{:.1} {:.1} {w:.1} {h:.1}\" font-family=\"sans-serif\" font-size=\"11\">\
         <title>{} topology, last {} min</title>\
         <defs>",
        x1 - pad,
        y1 - pad,
        xml_escape(&graph.project),
        graph.window_minutes
    );
    for health in [
        Health::Healthy,
        Health::Degraded,
        Health::Failure,
        Health::Idle,
    ] {
        let _ = write!(
            s,
            "<marker id=\"arrow-{}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
             markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"{}\"/></marker>",
            health_name(health),
            health_color(health)
        );
    }
    let _ = write!(
        s,
        "</defs><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#fff\"/>",
        x1 - pad,
        y1 - pad
    );
    // App boxes first, underneath.
    for n in graph.nodes.iter().filter(|n| n.kind == NodeKind::App) {
        if let Some(p) = at.get(n.id.as_str()) {
            let _ = write!(
                s,
                "<g class=\"node app\" data-id=\"{id}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\" \
                 fill=\"#f4f6f9\" stroke=\"{}\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#5c6b7a\">{}</text></g>",
                p.x - p.w / 2.0,
                p.y - p.h / 2.0,
                p.w,
                p.h,
                health_color(n.health),
                p.x - p.w / 2.0 + 4.0,
                p.y - p.h / 2.0 - 4.0,
                xml_escape(&node_label(n)),
                id = xml_escape(&n.id),
            );
        }
    }
    for e in &graph.edges {
        let (Some(a), Some(b)) = (at.get(e.source.as_str()), at.get(e.target.as_str())) else {
            continue;
        };
        // From border to border along the centre line (circles of the node's size).
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let (ra, rb) = (a.w.max(a.h) / 2.0, b.w.max(b.h) / 2.0 + 2.0);
        let (sx, sy) = (a.x + dx / len * ra, a.y + dy / len * ra);
        let (tx, ty) = (b.x - dx / len * rb, b.y - dy / len * rb);
        let health = health_name(e.health);
        let _ = write!(
            s,
            "<g class=\"edge\" data-id=\"{}\"><line x1=\"{sx:.1}\" y1=\"{sy:.1}\" x2=\"{tx:.1}\" y2=\"{ty:.1}\" \
             stroke=\"{}\" stroke-width=\"{}\" marker-end=\"url(#arrow-{health})\"/>",
            xml_escape(&e.id),
            health_color(e.health),
            if e.health == Health::Idle { "1" } else { "2" },
        );
        let text = labels.edge_text(e);
        if !text.is_empty() {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#1d2733\">{}</text>",
                (sx + tx) / 2.0,
                (sy + ty) / 2.0 - 3.0,
                xml_escape(&text)
            );
        }
        s.push_str("</g>");
    }
    for n in graph.nodes.iter().filter(|n| n.kind != NodeKind::App) {
        let Some(p) = at.get(n.id.as_str()) else {
            continue;
        };
        let r = (p.w.max(p.h) / 2.0).max(8.0);
        let color = health_color(n.health);
        let dash = if n.badges.contains(&Badge::NoSidecar) {
            " stroke-dasharray=\"3 2\""
        } else {
            ""
        };
        let shape = match n.kind {
            NodeKind::Service => format!(
                "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"#fff\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>",
                p.x,
                p.y - r,
                p.x + r,
                p.y + r * 0.8,
                p.x - r,
                p.y + r * 0.8
            ),
            NodeKind::Ingress => format!(
                "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"#fff\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>",
                p.x,
                p.y - r,
                p.x + r,
                p.y,
                p.x,
                p.y + r,
                p.x - r,
                p.y
            ),
            _ => format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r:.1}\" fill=\"#fff\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>",
                p.x, p.y
            ),
        };
        let _ = write!(
            s,
            "<g class=\"node {}\" data-id=\"{}\">{shape}<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#1d2733\">{}</text></g>",
            kind_name(n.kind),
            xml_escape(&n.id),
            p.x,
            p.y + r + 12.0,
            xml_escape(&node_label(n))
        );
    }
    s.push_str("</svg>");
    s
}

/// What the page says above the graph when it has nothing (or nothing live) to show.
#[derive(Debug, Clone, PartialEq)]
pub enum EmptyState {
    /// Neither workloads nor traffic.
    NothingDeployed,
    /// Every workload runs without a sidecar: Istio reports no metrics for them.
    NoSidecars,
    /// Nodes exist but nothing moved in the window.
    NoTraffic(u32),
}

pub fn empty_state(graph: &Graph) -> Option<EmptyState> {
    if graph.nodes.is_empty() {
        return Some(EmptyState::NothingDeployed);
    }
    let workloads: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Workload)
        .collect();
    if !workloads.is_empty()
        && workloads
            .iter()
            .all(|n| n.badges.contains(&Badge::NoSidecar))
    {
        return Some(EmptyState::NoSidecars);
    }
    let moving = graph.edges.iter().any(|e| e.rps > 0.0)
        || graph
            .nodes
            .iter()
            .any(|n| n.rps_in > 0.0 || n.rps_out > 0.0);
    (!moving).then_some(EmptyState::NoTraffic(graph.window_minutes))
}

impl EmptyState {
    pub fn message(&self) -> String {
        match self {
            Self::NothingDeployed => "Nothing to draw: this project has no services or workloads, and Prometheus saw no Istio traffic for it. Deploy an application (e.g. the Bookinfo sample on the Applications page).".into(),
            Self::NoSidecars => "No sidecars: none of this project's workloads runs the istio-proxy sidecar, so Istio reports no traffic for them. Enable injection (label the namespace istio-injection=enabled) and restart the workloads.".into(),
            Self::NoTraffic(m) => format!("No traffic in the last {m} minutes: the services are drawn idle (grey). Send requests to the application, or choose a longer window."),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::NothingDeployed => "empty",
            Self::NoSidecars => "no-sidecars",
            Self::NoTraffic(_) => "no-traffic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::topology::{GraphView, Thresholds};

    fn node(id: &str, kind: NodeKind, parent: Option<&str>, health: Health) -> Node {
        let name = id.rsplit(['/', ':']).next().unwrap_or(id).to_string();
        Node {
            id: id.into(),
            kind,
            namespace: "demo".into(),
            name: name.clone(),
            app: Some(name.split('-').next().unwrap_or_default().to_string()),
            version: name.rsplit_once('-').map(|(_, v)| v.to_string()),
            parent: parent.map(Into::into),
            health,
            rps_in: 0.0,
            rps_out: 0.0,
            error_ratio: None,
            badges: vec![],
        }
    }

    fn edge(s: &str, t: &str, rps: f64, err: f64, health: Health) -> Edge {
        Edge {
            id: format!("{s}->{t}"),
            source: s.into(),
            target: t.into(),
            protocol: "http".into(),
            rps,
            error_ratio: err,
            p95_ms: Some(123.4),
            health,
        }
    }

    fn bookinfo() -> Graph {
        let mut nodes = vec![
            node("app:demo/reviews", NodeKind::App, None, Health::Healthy),
            node(
                "wl:demo/productpage-v1",
                NodeKind::Workload,
                None,
                Health::Healthy,
            ),
            node("svc:demo/reviews", NodeKind::Service, None, Health::Healthy),
            node(
                "wl:demo/reviews-v1",
                NodeKind::Workload,
                Some("app:demo/reviews"),
                Health::Healthy,
            ),
            node(
                "wl:demo/reviews-v2",
                NodeKind::Workload,
                Some("app:demo/reviews"),
                Health::Failure,
            ),
        ];
        nodes[4].badges = vec![Badge::CanaryJob("canary".into())];
        Graph {
            project: "demo".into(),
            window_minutes: 5,
            at: 1000.0,
            thresholds: Thresholds::default(),
            nodes,
            edges: vec![
                edge(
                    "wl:demo/productpage-v1",
                    "svc:demo/reviews",
                    2.0,
                    0.25,
                    Health::Failure,
                ),
                edge(
                    "svc:demo/reviews",
                    "wl:demo/reviews-v1",
                    1.0,
                    0.0,
                    Health::Healthy,
                ),
                edge(
                    "svc:demo/reviews",
                    "wl:demo/reviews-v2",
                    1.0,
                    0.5,
                    Health::Failure,
                ),
            ],
            view: GraphView::Versioned,
            view_auto: false,
        }
    }

    #[test]
    fn url_state_parses_and_falls_back() {
        assert_eq!(window_minutes(Some("30")), 30);
        assert_eq!(window_minutes(Some("7")), 5);
        assert_eq!(window_minutes(None), 5);
        assert_eq!(LayoutChoice::parse(Some("force")), LayoutChoice::Force);
        assert_eq!(LayoutChoice::parse(Some("??")), LayoutChoice::Hierarchical);
        for l in LayoutChoice::ALL {
            assert_eq!(LayoutChoice::parse(Some(l.as_str())), l);
        }
        for l in LabelMode::ALL {
            assert_eq!(LabelMode::parse(Some(l.as_str())), l);
        }
        assert_eq!(LayoutChoice::Force.engine(10), "cose");
        assert_eq!(LayoutChoice::Force.engine(LARGE_GRAPH), "preset");
    }

    #[test]
    fn formats_edge_labels() {
        let e = edge("a", "b", 2.345, 0.004, Health::Degraded);
        assert_eq!(LabelMode::Rps.edge_text(&e), "2.35 rps");
        assert_eq!(LabelMode::Ok.edge_text(&e), "99.6%");
        assert_eq!(LabelMode::P95.edge_text(&e), "123 ms");
        assert_eq!(LabelMode::None.edge_text(&e), "");
        let idle = edge("a", "b", 0.0, 0.0, Health::Idle);
        assert_eq!(LabelMode::Ok.edge_text(&idle), "–");
        assert_eq!(format_success(Some(0.0)), "100%");
        assert_eq!(format_success(Some(1.0)), "0%");
        assert_eq!(format_rps(0.004), "<0.01 rps");
        assert_eq!(format_ms(None), "–");
    }

    #[test]
    fn elements_put_boxes_first_carry_health_and_badges_and_skip_dangling_edges() {
        let mut g = bookinfo();
        g.edges.push(edge(
            "wl:demo/gone",
            "svc:demo/reviews",
            1.0,
            0.0,
            Health::Healthy,
        ));
        let els = elements(&g);
        assert_eq!(els[0].data.id, "app:demo/reviews");
        assert_eq!(
            els.iter().filter(|e| e.group == "edges").count(),
            3,
            "dangling edge dropped"
        );
        let v2 = els
            .iter()
            .find(|e| e.data.id == "wl:demo/reviews-v2")
            .unwrap();
        assert_eq!(v2.data.parent.as_deref(), Some("app:demo/reviews"));
        assert_eq!(v2.data.label, "v2 ⚑");
        assert_eq!(v2.classes, "kind-workload health-failure badge-canary");
        let pp = els
            .iter()
            .find(|e| e.data.id == "wl:demo/productpage-v1")
            .unwrap();
        assert_eq!(
            pp.data.label, "productpage v1",
            "a workload outside a box names its app"
        );
        let bad = els
            .iter()
            .find(|e| e.data.id == "wl:demo/productpage-v1->svc:demo/reviews")
            .unwrap();
        assert_eq!(bad.classes, "proto-http health-failure");
        assert_eq!(
            (bad.data.l_rps.as_str(), bad.data.l_ok.as_str()),
            ("2.00 rps", "75.0%")
        );
        // The JSON is what cytoscape's add() takes.
        let json = serde_json::to_value(bad).unwrap();
        assert_eq!(json["data"]["source"], "wl:demo/productpage-v1");
        assert!(json["data"].get("parent").is_none());
    }

    #[test]
    fn a_refresh_patches_in_place() {
        let before = bookinfo();
        let prev = elements(&before);
        assert!(diff(&prev, &prev).is_empty());
        assert!(has_traffic(&prev));
        let mut idle = before.clone();
        idle.edges.iter_mut().for_each(|e| e.health = Health::Idle);
        assert!(!has_traffic(&elements(&idle)));
        let mut after = before.clone();
        // v2 recovers, v3 appears, v1's edge goes away.
        after.nodes[4].health = Health::Healthy;
        after.nodes.push(node(
            "wl:demo/reviews-v3",
            NodeKind::Workload,
            Some("app:demo/reviews"),
            Health::Healthy,
        ));
        after.edges.retain(|e| e.target != "wl:demo/reviews-v1");
        after.edges.push(edge(
            "svc:demo/reviews",
            "wl:demo/reviews-v3",
            1.0,
            0.0,
            Health::Healthy,
        ));
        let patch = diff(&prev, &elements(&after));
        assert_eq!(
            patch.remove,
            vec!["svc:demo/reviews->wl:demo/reviews-v1".to_string()]
        );
        let added: Vec<&str> = patch.add.iter().map(|e| e.data.id.as_str()).collect();
        assert_eq!(
            added,
            ["wl:demo/reviews-v3", "svc:demo/reviews->wl:demo/reviews-v3"]
        );
        let updated: Vec<&str> = patch.update.iter().map(|e| e.data.id.as_str()).collect();
        assert_eq!(updated, ["wl:demo/reviews-v2"]);
        assert!(patch.update[0].classes.contains("health-healthy"));
    }

    #[test]
    fn layered_layout_follows_call_depth_and_keeps_versions_together() {
        let g = bookinfo();
        let pos = layered_positions(&g);
        assert_eq!(pos.len(), 4, "app boxes are sized by cytoscape, not placed");
        let x = |id: &str| pos.iter().find(|p| p.id == id).unwrap().x;
        let y = |id: &str| pos.iter().find(|p| p.id == id).unwrap().y;
        assert!(x("wl:demo/productpage-v1") < x("svc:demo/reviews"));
        assert!(x("svc:demo/reviews") < x("wl:demo/reviews-v1"));
        assert_eq!(x("wl:demo/reviews-v1"), x("wl:demo/reviews-v2"));
        assert!((y("wl:demo/reviews-v1") - y("wl:demo/reviews-v2")).abs() == ROW);
    }

    #[test]
    fn layered_layout_is_linear_enough_for_thousands_and_survives_cycles() {
        let mut g = bookinfo();
        g.nodes.clear();
        g.edges.clear();
        for i in 0..6000 {
            g.nodes.push(node(
                &format!("svc:demo/s{i}"),
                NodeKind::Service,
                None,
                Health::Healthy,
            ));
            g.edges.push(edge(
                &format!("svc:demo/s{i}"),
                &format!("svc:demo/s{}", (i + 1) % 6000),
                1.0,
                0.0,
                Health::Healthy,
            ));
        }
        let pos = layered_positions(&g);
        assert_eq!(pos.len(), 6000);
        let distinct: HashSet<(i64, i64)> = pos.iter().map(|p| (p.x as i64, p.y as i64)).collect();
        assert_eq!(distinct.len(), 6000, "no two nodes share a place");
    }

    #[test]
    fn svg_export_draws_what_is_placed() {
        let g = bookinfo();
        let placed: Vec<Placed> = [
            ("app:demo/reviews", 400.0, 100.0, 120.0, 200.0),
            ("wl:demo/productpage-v1", 0.0, 100.0, 30.0, 30.0),
            ("svc:demo/reviews", 200.0, 100.0, 30.0, 30.0),
            ("wl:demo/reviews-v1", 400.0, 50.0, 30.0, 30.0),
            ("wl:demo/reviews-v2", 400.0, 150.0, 30.0, 30.0),
        ]
        .into_iter()
        .map(|(id, x, y, w, h)| Placed {
            id: id.into(),
            x,
            y,
            w,
            h,
        })
        .collect();
        let svg = export_svg(&g, &placed, LabelMode::Ok);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<g class=\"edge\"").count(), 3);
        assert_eq!(svg.matches("<g class=\"node ").count(), 5);
        assert_eq!(svg.matches("<polygon").count(), 1, "one service triangle");
        assert_eq!(
            svg.matches("<marker ").count(),
            4,
            "an arrow head per health colour"
        );
        // The failing edge is red and labelled with its success rate.
        assert!(
            svg.contains(
                "stroke=\"#cc3d3d\" stroke-width=\"2\" marker-end=\"url(#arrow-failure)\""
            )
        );
        assert!(svg.contains(">75.0%</text>"));
        assert!(svg.contains(">v2 ⚑</text>"));
        // Without positions nothing is invented.
        let bare = export_svg(&g, &placed[..2], LabelMode::Rps);
        assert_eq!(bare.matches("<g class=\"edge\"").count(), 0);
    }

    #[test]
    fn empty_states_say_what_is_missing() {
        let mut g = bookinfo();
        assert_eq!(empty_state(&g), None);
        for e in &mut g.edges {
            e.rps = 0.0;
        }
        assert_eq!(empty_state(&g), Some(EmptyState::NoTraffic(5)));
        assert!(
            EmptyState::NoTraffic(5)
                .message()
                .starts_with("No traffic in the last 5 minutes")
        );
        for n in &mut g.nodes {
            n.badges = vec![Badge::NoSidecar];
        }
        assert_eq!(empty_state(&g), Some(EmptyState::NoSidecars));
        g.nodes.clear();
        g.edges.clear();
        assert_eq!(empty_state(&g), Some(EmptyState::NothingDeployed));
    }
}
