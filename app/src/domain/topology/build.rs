//! Builds the graph from the query answers, the inventory, the routing and the jobs:
//! a pure function, so every rule (reporters, unknown and ingress callers, idle
//! workloads, health, badges) is tested without Prometheus or a cluster.
//!
//! The answers are already de-duplicated by Prometheus (see [`super::promql`]): one row
//! per edge and reporter, its labels packed into one `edge` label, plus one row per
//! failing edge in the errors answer. The builder
//! works on borrowed strings: nodes are found by `(kind, namespace, name)` slices of the
//! answers' labels, edges by node index pair, both in hash maps with a fast non-keyed
//! hasher, and the id strings of the output are written once per node and edge. So the
//! work is linear in the rows and allocates little besides the output
//! (`cargo run --release -p sluice-server --example bench_topology`).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::promql::{EDGE_LABEL, EDGE_PARTS, unpack};
use super::{Badge, Edge, Graph, Health, Node, NodeKind, Thresholds};
use crate::domain::applications::{ProjectInventory, WorkloadInfo, selects};
use crate::domain::metrics::Series;
use crate::domain::release::jobs::JobView;

/// The id of the node for callers Istio could not identify.
pub const UNKNOWN_ID: &str = "unknown";

/// How a Service is routed by a VirtualService (for badges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRouting {
    pub namespace: String,
    pub service: String,
    /// Name of the VirtualService.
    pub virtual_service: String,
    /// The VirtualService mirrors some of the service's traffic.
    pub mirror: bool,
}

/// Everything the graph is built from.
#[derive(Debug, Clone, Copy)]
pub struct GraphInputs<'a> {
    pub project: &'a str,
    pub window_minutes: u32,
    pub at: f64,
    /// Answer of [`super::requests_query`].
    pub requests: &'a [Series],
    /// Answer of [`super::errors_query`].
    pub errors: &'a [Series],
    /// Answer of [`super::latency_to_service_query`].
    pub latency_to_service: &'a [Series],
    /// Answer of [`super::latency_to_workload_query`].
    pub latency_to_workload: &'a [Series],
    /// The project's Services and workloads; `None` when the cluster has none to tell.
    pub inventory: Option<&'a ProjectInventory>,
    pub routing: &'a [ServiceRouting],
    pub jobs: &'a [JobView],
    pub thresholds: Thresholds,
}

pub fn node_id_app(ns: &str, app: &str) -> String {
    format!("app:{ns}/{app}")
}
pub fn node_id_workload(ns: &str, name: &str) -> String {
    format!("wl:{ns}/{name}")
}
pub fn node_id_service(ns: &str, name: &str) -> String {
    format!("svc:{ns}/{name}")
}
pub fn edge_id(source: &str, target: &str) -> String {
    format!("{source}->{target}")
}

/// Health from an error ratio: at or over `degraded` is degraded, over `failure` failing;
/// no traffic is idle.
pub fn health_of(rps: f64, error_ratio: f64, t: &Thresholds) -> Health {
    if rps <= 0.0 || !rps.is_finite() {
        Health::Idle
    } else if error_ratio > t.failure {
        Health::Failure
    } else if error_ratio >= t.degraded {
        Health::Degraded
    } else {
        Health::Healthy
    }
}

/// Worst first: failure, degraded, healthy, idle.
fn severity(h: Health) -> u8 {
    match h {
        Health::Failure => 3,
        Health::Degraded => 2,
        Health::Healthy => 1,
        Health::Idle => 0,
    }
}

/// A gateway's workload, by Istio's names: `istio-ingressgateway` (and custom
/// `*ingressgateway*`), or `<name>-istio` for a Gateway API gateway Istio deployed.
pub fn is_ingress(workload: &str, canonical_service: &str) -> bool {
    [workload, canonical_service]
        .iter()
        .any(|n| n.contains("ingressgateway") || n.contains("ingress-gateway"))
        || workload.ends_with("-istio")
}

/// A request failed: a 5xx answer, or a gRPC status other than OK. (The rule
/// [`super::errors_query`] selects in PromQL.)
pub fn is_error(protocol: &str, code: &str, grpc_status: &str) -> bool {
    (code.len() == 3 && code.starts_with('5'))
        || (protocol == "grpc" && !grpc_status.is_empty() && grpc_status != "0")
}

/// The app and version of a workload: its `app` and `version` labels (what Istio reports
/// as `*_app`/`*_version`), else what Istio derives its canonical service and revision
/// from, so inventory and metrics agree.
pub fn workload_app_version(w: &WorkloadInfo) -> (String, String) {
    let (app, version) = app_version_of(w);
    (app.to_string(), version.to_string())
}

fn app_version_of(w: &WorkloadInfo) -> (&str, &str) {
    let l = &w.pod_labels;
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| l.get(*k).filter(|v| !v.is_empty()))
            .map(String::as_str)
    };
    (
        first(&[
            "app",
            "service.istio.io/canonical-name",
            "app.kubernetes.io/name",
        ])
        .unwrap_or(&w.name),
        first(&[
            "version",
            "service.istio.io/canonical-revision",
            "app.kubernetes.io/version",
        ])
        .unwrap_or("latest"),
    )
}

/// FxHash (rustc's hasher): the maps below are keyed by short label strings and index
/// pairs, where SipHash's keyed hashing costs more than the rest of a row's work. The
/// keys come from the project's own metrics, not from the person asking.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Fx {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

fn fx_map<K, V>(capacity: usize) -> FxMap<K, V> {
    HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

/// The id prefix of a node, the first part of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Prefix {
    App,
    Workload,
    Service,
    Unknown,
}

/// A node by what its id is made of, borrowed from the inputs.
type Key<'a> = (Prefix, &'a str, &'a str);

#[derive(Default)]
struct EdgeAcc<'a> {
    rps: f64,
    errors: f64,
    /// The main protocol and its rate; others (rare: one edge, two protocols) below.
    protocol: Option<(&'a str, f64)>,
    other_protocols: Vec<(&'a str, f64)>,
    p95: Option<f64>,
}

impl<'a> EdgeAcc<'a> {
    fn add_protocol(&mut self, protocol: &'a str, rps: f64) {
        match &mut self.protocol {
            None => self.protocol = Some((protocol, rps)),
            Some((p, r)) if *p == protocol => *r += rps,
            Some(_) => match self
                .other_protocols
                .iter_mut()
                .find(|(p, _)| *p == protocol)
            {
                Some((_, r)) => *r += rps,
                None => self.other_protocols.push((protocol, rps)),
            },
        }
    }

    /// The protocol carrying the most requests (ties: the first by name).
    fn main_protocol(&self) -> &'a str {
        self.protocol
            .iter()
            .chain(&self.other_protocols)
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .map(|p| p.0)
            .unwrap_or("http")
    }
}

struct Builder<'a> {
    project: &'a str,
    nodes: Vec<Node>,
    /// Index of each node's App group node.
    parents: Vec<Option<usize>>,
    by_key: FxMap<Key<'a>, usize>,
    edge_index: FxMap<(usize, usize), usize>,
    edges: Vec<((usize, usize), EdgeAcc<'a>)>,
}

/// A node without traffic, badges or parent.
pub(super) fn new_node(id: String, kind: NodeKind, ns: &str, name: &str) -> Node {
    Node {
        id,
        kind,
        namespace: ns.to_string(),
        name: name.to_string(),
        app: None,
        version: None,
        parent: None,
        health: Health::Idle,
        rps_in: 0.0,
        rps_out: 0.0,
        error_ratio: None,
        badges: Vec::new(),
    }
}

impl<'a> Builder<'a> {
    fn push(&mut self, key: Key<'a>, node: Node, parent: Option<usize>) -> usize {
        let i = self.nodes.len();
        self.nodes.push(node);
        self.parents.push(parent);
        self.by_key.insert(key, i);
        i
    }

    fn app_node(&mut self, ns: &'a str, app: &'a str) -> usize {
        if let Some(i) = self.by_key.get(&(Prefix::App, ns, app)) {
            return *i;
        }
        let mut n = new_node(node_id_app(ns, app), NodeKind::App, ns, app);
        n.app = Some(app.to_string());
        self.push((Prefix::App, ns, app), n, None)
    }

    /// A workload (or gateway) node, grouped under its app when it has a version.
    fn workload_node(
        &mut self,
        ns: &'a str,
        name: &'a str,
        app: Option<&'a str>,
        version: Option<&'a str>,
    ) -> usize {
        if let Some(i) = self.by_key.get(&(Prefix::Workload, ns, name)) {
            return *i;
        }
        let ingress = is_ingress(name, app.unwrap_or(""));
        let parent = match (ingress, app, version) {
            (false, Some(app), Some(_)) => Some(self.app_node(ns, app)),
            _ => None,
        };
        let kind = if ingress {
            NodeKind::Ingress
        } else {
            NodeKind::Workload
        };
        let mut n = new_node(node_id_workload(ns, name), kind, ns, name);
        n.app = app.map(str::to_string);
        n.version = version.map(str::to_string);
        n.parent = parent.map(|p| self.nodes[p].id.clone());
        self.push((Prefix::Workload, ns, name), n, parent)
    }

    fn service_node(&mut self, ns: &'a str, name: &'a str) -> usize {
        if let Some(i) = self.by_key.get(&(Prefix::Service, ns, name)) {
            return *i;
        }
        let n = new_node(node_id_service(ns, name), NodeKind::Service, ns, name);
        self.push((Prefix::Service, ns, name), n, None)
    }

    fn unknown_node(&mut self) -> usize {
        if let Some(i) = self.by_key.get(&(Prefix::Unknown, "", "")) {
            return *i;
        }
        let n = new_node(
            UNKNOWN_ID.into(),
            NodeKind::Unknown,
            self.project,
            "unknown",
        );
        self.push((Prefix::Unknown, "", ""), n, None)
    }

    fn edge(&mut self, from: usize, to: usize) -> &mut EdgeAcc<'a> {
        let next = self.edges.len();
        let i = *self.edge_index.entry((from, to)).or_insert(next);
        if i == next {
            self.edges.push(((from, to), EdgeAcc::default()));
        }
        &mut self.edges[i].1
    }

    /// Adds requests (or, with `errors`, failed requests) to an edge.
    fn traffic(&mut self, from: usize, to: usize, rps: f64, errors: bool, protocol: &'a str) {
        let e = self.edge(from, to);
        if errors {
            e.errors += rps;
        } else {
            e.rps += rps;
            e.add_protocol(protocol, rps);
        }
    }

    fn badge(&mut self, key: Key<'_>, badge: Badge) {
        if let Some(i) = self.by_key.get(&key)
            && let Some(n) = self.nodes.get_mut(*i)
            && !n.badges.contains(&badge)
        {
            n.badges.push(badge);
        }
    }

    /// Draws one answer row: caller → service → workload (or the part of it known).
    fn row(&mut self, r: &Row<'a>, rps: f64, errors: bool) {
        let protocol = is_known(r.protocol).unwrap_or("http");
        let service = r.service();
        let dest_wl = is_known(r.dest_workload).map(|w| {
            (
                is_known(r.dest_ns)
                    .or(service.map(|(ns, _)| ns))
                    .unwrap_or(self.project),
                w,
            )
        });
        if service.is_none() && dest_wl.is_none() {
            // Neither a service nor a workload: nothing to draw it to.
            return;
        }
        let source = match (is_known(r.source_workload), is_known(r.source_ns)) {
            (Some(w), Some(ns)) => self.workload_node(
                ns,
                w,
                is_known(r.source_app).or(is_known(r.source_canonical_service)),
                is_known(r.source_version).or(is_known(r.source_canonical_revision)),
            ),
            _ => self.unknown_node(),
        };
        let svc = service.map(|(ns, name)| self.service_node(ns, name));
        let wl = dest_wl.map(|(ns, w)| {
            self.workload_node(
                ns,
                w,
                is_known(r.dest_app).or(is_known(r.dest_canonical_service)),
                is_known(r.dest_version).or(is_known(r.dest_canonical_revision)),
            )
        });
        match (svc, wl) {
            (Some(svc), Some(wl)) => {
                self.traffic(source, svc, rps, errors, protocol);
                self.traffic(svc, wl, rps, errors, protocol);
            }
            (Some(to), None) | (None, Some(to)) => self.traffic(source, to, rps, errors, protocol),
            (None, None) => {}
        }
    }

    /// Draws an answer, the destination's rows first: where the two reporters name a
    /// workload's app or version differently, the workload's own sidecar is believed.
    fn rows(&mut self, answer: &'a [Series], errors: bool) {
        let mut later = Vec::new();
        for s in answer {
            let Some(rps) = s.last().filter(|v| v.is_finite() && *v > 0.0) else {
                continue;
            };
            let Some(row) = Row::of(&s.labels) else {
                continue;
            };
            if row.destination_reported {
                self.row(&row, rps, errors);
            } else {
                later.push((row, rps));
            }
        }
        for (row, rps) in &later {
            self.row(row, *rps, errors);
        }
    }
}

/// The labels of one request row, unpacked from its `edge` label (see
/// [`super::promql`]): slices of the answer, nothing copied.
struct Row<'a> {
    destination_reported: bool,
    source_ns: &'a str,
    source_workload: &'a str,
    source_app: &'a str,
    source_version: &'a str,
    source_canonical_service: &'a str,
    source_canonical_revision: &'a str,
    service_ns: &'a str,
    service_name: &'a str,
    service_host: &'a str,
    dest_ns: &'a str,
    dest_workload: &'a str,
    dest_app: &'a str,
    dest_version: &'a str,
    dest_canonical_service: &'a str,
    dest_canonical_revision: &'a str,
    protocol: &'a str,
}

/// The `reporter` of a row is the destination's.
fn destination_reported(labels: &BTreeMap<String, String>) -> bool {
    labels.get("reporter").map(String::as_str) == Some("destination")
}

impl<'a> Row<'a> {
    /// `None` when the row has no `edge` label of [`EDGE_PARTS`]' length.
    fn of(labels: &'a BTreeMap<String, String>) -> Option<Row<'a>> {
        // In the order of EDGE_PARTS.
        let [
            source_ns,
            source_workload,
            source_app,
            source_version,
            source_canonical_service,
            source_canonical_revision,
            service_ns,
            service_name,
            service_host,
            dest_ns,
            dest_workload,
            dest_app,
            dest_version,
            dest_canonical_service,
            dest_canonical_revision,
            protocol,
        ] = unpack::<{ EDGE_PARTS.len() }>(labels.get(EDGE_LABEL)?)?;
        Some(Row {
            destination_reported: destination_reported(labels),
            source_ns,
            source_workload,
            source_app,
            source_version,
            source_canonical_service,
            source_canonical_revision,
            service_ns,
            service_name,
            service_host,
            dest_ns,
            dest_workload,
            dest_app,
            dest_version,
            dest_canonical_service,
            dest_canonical_revision,
            protocol,
        })
    }

    /// The service the requests were for: its name and namespace labels, else parsed
    /// from the `destination_service` host (`name.namespace.svc.cluster.local`).
    fn service(&self) -> Option<(&'a str, &'a str)> {
        if let (Some(ns), Some(name)) = (is_known(self.service_ns), is_known(self.service_name)) {
            return Some((ns, name));
        }
        let mut parts = is_known(self.service_host)?.split('.');
        let name = parts.next().filter(|s| !s.is_empty())?;
        let ns = parts.next().filter(|s| !s.is_empty())?;
        Some((ns, name))
    }
}

fn is_known(v: &str) -> Option<&str> {
    (!v.is_empty() && v != "unknown").then_some(v)
}

/// A latency answer indexed by the four labels its `edge` packs, the destination
/// reporter's value winning over the source's (Prometheus already keeps one of them; this
/// keeps the rule whatever the answer holds), the larger of two equals.
fn latency_index(series: &[Series]) -> FxMap<[&str; 4], f64> {
    let mut out: FxMap<[&str; 4], (bool, f64)> = fx_map(series.len());
    for s in series {
        let Some(v) = s.last().filter(|v| v.is_finite() && *v >= 0.0) else {
            continue;
        };
        let Some(key) = s.labels.get(EDGE_LABEL).and_then(|e| unpack::<4>(e)) else {
            continue;
        };
        let dest = destination_reported(&s.labels);
        out.entry(key)
            .and_modify(|(d, old)| {
                if (dest, v) > (*d, *old) {
                    (*d, *old) = (dest, v);
                }
            })
            .or_insert((dest, v));
    }
    out.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

/// Builds the graph. Nodes and edges come out sorted by id.
pub fn build_graph(input: GraphInputs<'_>) -> Graph {
    let project = input.project;
    let mut b = Builder {
        project,
        nodes: Vec::new(),
        parents: Vec::new(),
        by_key: fx_map(input.requests.len()),
        edge_index: fx_map(input.requests.len() * 2),
        edges: Vec::with_capacity(input.requests.len() * 2),
    };

    // 1. What exists in the cluster, so idle services and workloads still show.
    if let Some(inv) = input.inventory {
        inventory_nodes(&mut b, inv);
    }

    // 2. Traffic, then its failed part onto the same edges.
    b.rows(input.requests, false);
    b.rows(input.errors, true);

    // 3. p95 per edge.
    latencies(&mut b, &input);

    // 4. Idle edges from each Service to the workloads it selects.
    if let Some(inv) = input.inventory {
        inventory_edges(&mut b, inv);
    }

    // 5. Badges.
    for w in input
        .inventory
        .map(|i| i.workloads.as_slice())
        .unwrap_or(&[])
    {
        if w.missing_sidecar() {
            b.badge((Prefix::Workload, project, &w.name), Badge::NoSidecar);
        }
    }
    for r in input.routing {
        let key = (Prefix::Service, r.namespace.as_str(), r.service.as_str());
        b.badge(key, Badge::VirtualService);
        if r.mirror {
            b.badge(key, Badge::Mirroring);
        }
    }
    for job in input.jobs {
        if job.phase.as_deref() == Some("Failed") {
            continue;
        }
        let badge = Badge::CanaryJob(job.name.clone());
        let ns = if job.project.is_empty() {
            project
        } else {
            job.project.as_str()
        };
        b.badge((Prefix::Service, ns, &job.spec.component), badge.clone());
        b.badge(
            (Prefix::Workload, ns, &job.spec.base_workload),
            badge.clone(),
        );
        b.badge((Prefix::Workload, ns, &job.spec.new_workload()), badge);
    }

    finish(b, input)
}

fn latencies(b: &mut Builder<'_>, input: &GraphInputs<'_>) {
    if input.latency_to_service.is_empty() && input.latency_to_workload.is_empty() {
        return;
    }
    // Keyed as LATENCY_TO_SERVICE_PARTS and LATENCY_TO_WORKLOAD_PARTS order them.
    let to_service = latency_index(input.latency_to_service);
    let to_workload = latency_index(input.latency_to_workload);
    let nodes = &b.nodes;
    for ((from, to), acc) in b.edges.iter_mut() {
        let (f, t) = (&nodes[*from], &nodes[*to]);
        let (fns, fname) = (f.namespace.as_str(), f.name.as_str());
        let (tns, tname) = (t.namespace.as_str(), t.name.as_str());
        acc.p95 = match (f.kind, t.kind) {
            (NodeKind::Service, _) => to_workload.get(&[fns, fname, tns, tname]).copied(),
            (NodeKind::Unknown, NodeKind::Service) => to_service
                .get(&["", "unknown", tns, tname])
                // An unknown caller's namespace label is "unknown" too.
                .or_else(|| to_service.get(&["unknown", "unknown", tns, tname]))
                .copied(),
            (_, NodeKind::Service) => to_service.get(&[fns, fname, tns, tname]).copied(),
            // A workload called directly (no service): its p95 over all callers.
            _ => to_workload
                .get(&["unknown", "unknown", tns, tname])
                .copied(),
        };
    }
}

fn inventory_nodes<'a>(b: &mut Builder<'a>, inv: &'a ProjectInventory) {
    let ns = b.project;
    for s in &inv.services {
        b.service_node(ns, &s.name);
    }
    for w in &inv.workloads {
        let (app, version) = app_version_of(w);
        b.workload_node(ns, &w.name, Some(app), Some(version));
    }
}

fn inventory_edges<'a>(b: &mut Builder<'a>, inv: &'a ProjectInventory) {
    // Index pod labels by each (key, value) pair, so a selector is checked only against
    // workloads that carry its first pair instead of every workload.
    let mut by_label: FxMap<(&str, &str), Vec<&WorkloadInfo>> = fx_map(inv.workloads.len());
    for w in &inv.workloads {
        for (k, v) in &w.pod_labels {
            by_label.entry((k, v)).or_default().push(w);
        }
    }
    let ns = b.project;
    for s in &inv.services {
        let Some((k, v)) = s.selector.iter().next() else {
            continue;
        };
        let Some(candidates) = by_label.get(&(k.as_str(), v.as_str())) else {
            continue;
        };
        let Some(svc) = b.by_key.get(&(Prefix::Service, ns, &s.name)).copied() else {
            continue;
        };
        for w in candidates {
            if selects(&s.selector, &w.pod_labels)
                && let Some(wl) = b.by_key.get(&(Prefix::Workload, ns, &w.name)).copied()
            {
                b.edge(svc, wl);
            }
        }
    }
}

type Flow = (f64, f64, f64, f64);

fn finish(b: Builder<'_>, input: GraphInputs<'_>) -> Graph {
    let t = input.thresholds;
    let Builder {
        mut nodes,
        parents,
        edges,
        ..
    } = b;
    // Per node: (rps in, errors in, rps out, errors out).
    let mut flows: Vec<Flow> = vec![(0.0, 0.0, 0.0, 0.0); nodes.len()];
    let mut out_edges = Vec::with_capacity(edges.len());
    for ((from, to), acc) in edges {
        flows[to].0 += acc.rps;
        flows[to].1 += acc.errors;
        flows[from].2 += acc.rps;
        flows[from].3 += acc.errors;
        let error_ratio = if acc.rps > 0.0 {
            (acc.errors / acc.rps).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (source, target) = (&nodes[from].id, &nodes[to].id);
        let mut id = String::with_capacity(source.len() + 2 + target.len());
        id.push_str(source);
        id.push_str("->");
        id.push_str(target);
        out_edges.push(Edge {
            id,
            source: source.clone(),
            target: target.clone(),
            protocol: acc.main_protocol().to_string(),
            rps: acc.rps,
            error_ratio,
            p95_ms: acc.p95,
            health: health_of(acc.rps, error_ratio, &t),
        });
    }
    // App groups sum their workloads.
    let mut group: Vec<Flow> = vec![(0.0, 0.0, 0.0, 0.0); nodes.len()];
    for (i, p) in parents.iter().enumerate() {
        if let Some(p) = p {
            let (f, g) = (flows[i], &mut group[*p]);
            g.0 += f.0;
            g.1 += f.1;
            g.2 += f.2;
            g.3 += f.3;
        }
    }
    for (i, n) in nodes.iter_mut().enumerate() {
        let (rin, ein, rout, eout) = if n.kind == NodeKind::App {
            group[i]
        } else {
            flows[i]
        };
        n.rps_in = rin;
        n.rps_out = rout;
        // Judged by what it receives; a pure caller (ingress, unknown) by what it sends.
        let (rps, errors) = if rin > 0.0 { (rin, ein) } else { (rout, eout) };
        n.error_ratio = (rps > 0.0).then(|| (errors / rps).clamp(0.0, 1.0));
        n.health = health_of(rps, n.error_ratio.unwrap_or(0.0), &t);
        n.badges.sort();
    }
    // An app group is as healthy as its worst workload.
    let mut worst: Vec<Option<Health>> = vec![None; nodes.len()];
    for (i, p) in parents.iter().enumerate() {
        if let Some(p) = p {
            let h = nodes[i].health;
            let w = &mut worst[*p];
            if w.is_none_or(|w| severity(h) > severity(w)) {
                *w = Some(h);
            }
        }
    }
    for (n, w) in nodes.iter_mut().zip(worst) {
        if let Some(w) = w {
            n.health = w;
        }
    }
    // Ids are unique, so an unstable sort is deterministic.
    nodes.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    out_edges.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    Graph {
        project: input.project.to_string(),
        window_minutes: input.window_minutes,
        at: input.at,
        thresholds: t,
        nodes,
        edges: out_edges,
        view: super::GraphView::Versioned,
        view_auto: false,
    }
}

/// Which services a VirtualService (as JSON) routes, and whether it mirrors: one entry
/// per service host (`reviews`, `reviews.demo`, `reviews.demo.svc.cluster.local`);
/// wildcard and external hosts name no service of the mesh and are skipped.
pub fn routing_of_virtual_service(namespace: &str, vs: &serde_json::Value) -> Vec<ServiceRouting> {
    let name = vs["metadata"]["name"].as_str().unwrap_or_default();
    let ns = vs["metadata"]["namespace"].as_str().unwrap_or(namespace);
    let mirror = vs["spec"]["http"].as_array().is_some_and(|routes| {
        routes.iter().any(|r| {
            !r["mirror"].is_null() || r["mirrors"].as_array().is_some_and(|m| !m.is_empty())
        })
    });
    let mut out: Vec<ServiceRouting> = Vec::new();
    for host in vs["spec"]["hosts"].as_array().into_iter().flatten() {
        let Some(host) = host.as_str().filter(|h| !h.contains('*')) else {
            continue;
        };
        let mut parts = host.split('.');
        let service = parts.next().unwrap_or_default();
        let service_ns = match parts.next() {
            None => ns,
            // `name.ns` or `name.ns.svc[.cluster.local]`; anything else is an external host.
            Some(n) => match parts.next() {
                None | Some("svc") => n,
                Some(_) => continue,
            },
        };
        if service.is_empty()
            || out
                .iter()
                .any(|r| r.service == service && r.namespace == service_ns)
        {
            continue;
        }
        out.push(ServiceRouting {
            namespace: service_ns.to_string(),
            service: service.to_string(),
            virtual_service: name.to_string(),
            mirror,
        });
    }
    out
}
