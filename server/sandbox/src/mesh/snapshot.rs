//! A typed, read-only view of the cluster objects the mesh simulator needs.
//!
//! The mesh never talks to the store: the server hands it the objects as the Kubernetes
//! API would return them (`serde_json::Value`), and this module turns them into plain Rust
//! structs once per cluster change, so routing a request is a walk over typed data (regexes
//! compiled, defaults applied) instead of JSON poking on every hop.
//!
//! Parsing is forgiving by design: an object that is not understood, or a field with the
//! wrong type, is skipped (or falls back to its Istio/Kubernetes default), never a panic.
//! Schema errors are the API server's job (it validates against the real CRD schemas);
//! here we only need the routing meaning of what was accepted.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

/// Kubernetes labels (or a label selector of the `matchLabels` kind).
pub type Labels = BTreeMap<String, String>;

/// The cluster as the mesh sees it at one moment.
#[derive(Debug, Clone, Default)]
pub struct MeshSnapshot {
    /// Namespaces by name (their labels decide sidecar injection).
    pub namespaces: BTreeMap<String, Namespace>,
    pub services: Vec<Service>,
    pub pods: Vec<Pod>,
    pub deployments: Vec<Deployment>,
    pub virtual_services: Vec<VirtualService>,
    pub destination_rules: Vec<DestinationRule>,
    /// Istio `networking.istio.io` Gateways.
    pub gateways: Vec<IstioGateway>,
    /// Gateway API `gateway.networking.k8s.io` Gateways.
    pub kube_gateways: Vec<KubeGateway>,
    pub http_routes: Vec<HttpRoute>,
    /// Trace sampling (0..=1) by namespace, from namespace-wide Istio `Telemetry` objects
    /// (`spec.tracing[].randomSamplingPercentage`, no selector); `istio-system` is the
    /// mesh-wide setting.
    pub trace_sampling: BTreeMap<String, f64>,
}

impl MeshSnapshot {
    /// The sampling rate for a request entering through a Gateway in `namespace`: that
    /// namespace's Telemetry, else the mesh-wide one, else `default`.
    pub fn sampling_for(&self, namespace: Option<&str>, default: f64) -> f64 {
        namespace
            .and_then(|ns| self.trace_sampling.get(ns))
            .or_else(|| self.trace_sampling.get("istio-system"))
            .copied()
            .unwrap_or(default)
    }
}

/// The sampling percentage of a namespace-wide Telemetry, as a rate.
fn parse_telemetry_sampling(obj: &Value) -> Option<(String, f64)> {
    let spec = obj.get("spec")?;
    if spec.get("selector").is_some() || spec.get("targetRefs").is_some() {
        return None; // workload-scoped: not a project setting
    }
    let pct = spec
        .get("tracing")?
        .as_array()?
        .iter()
        .find_map(|t| t.get("randomSamplingPercentage")?.as_f64())?;
    let ns = obj.get("metadata")?.get("namespace")?.as_str()?.to_string();
    Some((ns, (pct / 100.0).clamp(0.0, 1.0)))
}

/// Metadata shared by every object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    pub namespace: String,
    pub labels: Labels,
    pub annotations: Labels,
    /// RFC 3339 creation time as written by the API server; compared as a string, which
    /// orders correctly for the fixed-width UTC form Kubernetes uses. Empty sorts first.
    pub creation_timestamp: String,
}

impl Meta {
    /// `namespace/name`, the tie-breaker Istio and the Gateway API use after creation time.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub meta: Meta,
    /// `None` for a Service without a selector (it has no endpoints in the sandbox).
    pub selector: Option<Labels>,
    pub ports: Vec<ServicePort>,
}

#[derive(Debug, Clone)]
pub struct ServicePort {
    pub name: String,
    pub port: u16,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub meta: Meta,
    pub selector: Labels,
}

#[derive(Debug, Clone)]
pub struct Pod {
    pub meta: Meta,
    /// `status.podIP`; a stable made-up address when the pod has none yet.
    pub ip: String,
    pub node: String,
    /// Ready condition true (and not being deleted): only ready pods are endpoints.
    pub ready: bool,
    /// Whether an Istio sidecar runs in the pod (see [`sidecar_injected`]).
    pub sidecar: bool,
    /// Container images in spec order.
    pub images: Vec<String>,
    /// Container names in spec order.
    pub containers: Vec<String>,
    /// Environment variables with literal values, first container first, first wins.
    pub env: Labels,
    pub service_account: String,
    /// The owning workload's name (the Deployment for Deployment pods), as Istio reports
    /// it in `*_workload` labels.
    pub workload: String,
}

#[derive(Debug, Clone)]
pub struct VirtualService {
    pub meta: Meta,
    pub hosts: Vec<String>,
    /// Gateways this VirtualService applies to; `["mesh"]` when the field is absent.
    pub gateways: Vec<String>,
    pub http: Vec<HttpRule>,
}

#[derive(Debug, Clone, Default)]
pub struct HttpRule {
    pub name: Option<String>,
    /// OR-ed match blocks; empty means "match everything".
    pub matches: Vec<HttpMatch>,
    pub route: Vec<RouteDestination>,
    pub mirrors: Vec<Mirror>,
    pub fault: Option<Fault>,
    pub timeout_ms: Option<f64>,
    pub redirect: Option<Redirect>,
    pub direct_response: Option<DirectResponse>,
}

/// One `match` block: every field present must hold (AND).
#[derive(Debug, Clone, Default)]
pub struct HttpMatch {
    pub uri: Option<StringMatch>,
    pub scheme: Option<StringMatch>,
    pub method: Option<StringMatch>,
    pub authority: Option<StringMatch>,
    /// Lower-cased header names.
    pub headers: Vec<(String, StringMatch)>,
    pub without_headers: Vec<(String, StringMatch)>,
    pub query_params: Vec<(String, StringMatch)>,
    pub ignore_uri_case: bool,
    pub port: Option<u16>,
    pub source_labels: Labels,
    pub source_namespace: Option<String>,
    /// Match-level `gateways`, which override the VirtualService's list when present.
    pub gateways: Vec<String>,
}

/// Istio's `StringMatch` (and the Gateway API's Exact/RegularExpression value matches).
#[derive(Debug, Clone)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    /// Compiled as a full-string match, like Envoy's RE2 `safe_regex`.
    Regex(Regex),
    /// `{}`: the header / parameter only has to be present.
    Present,
    /// A regex that did not compile: never matches (Istio would have rejected it).
    Never,
}

impl StringMatch {
    /// Does `value` satisfy this matcher? `ignore_case` applies to exact and prefix only,
    /// as with Envoy's `ignore_case`.
    pub fn matches(&self, value: &str, ignore_case: bool) -> bool {
        match self {
            StringMatch::Exact(want) if ignore_case => want.eq_ignore_ascii_case(value),
            StringMatch::Exact(want) => want == value,
            StringMatch::Prefix(p) if ignore_case => value
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p)),
            StringMatch::Prefix(p) => value.starts_with(p.as_str()),
            StringMatch::Regex(re) => re.is_match(value),
            StringMatch::Present => true,
            StringMatch::Never => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: String,
    pub subset: Option<String>,
    pub port: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct RouteDestination {
    pub destination: Destination,
    /// `None` when the field is absent (100 for a lone destination, 0 otherwise).
    pub weight: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Mirror {
    pub destination: Destination,
    /// 0..=100; Istio mirrors 100% when no percentage is given.
    pub percent: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Fault {
    /// (fixed delay in ms, percentage of requests)
    pub delay: Option<(f64, f64)>,
    /// (HTTP status, percentage of requests)
    pub abort: Option<(u16, f64)>,
}

#[derive(Debug, Clone)]
pub struct Redirect {
    pub uri: Option<String>,
    pub authority: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone)]
pub struct DirectResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct DestinationRule {
    pub meta: Meta,
    pub host: String,
    pub subsets: Vec<Subset>,
}

#[derive(Debug, Clone)]
pub struct Subset {
    pub name: String,
    pub labels: Labels,
}

#[derive(Debug, Clone)]
pub struct IstioGateway {
    pub meta: Meta,
    pub selector: Labels,
    pub servers: Vec<GatewayServer>,
}

#[derive(Debug, Clone)]
pub struct GatewayServer {
    pub port: u32,
    /// As written: `host`, `*`, `*.example.com`, or `namespace/host`.
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct KubeGateway {
    pub meta: Meta,
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub name: String,
    pub hostname: Option<String>,
    pub port: u32,
    /// `allowedRoutes.namespaces.from`: `Same` (the default) or `All`; `Selector` is
    /// treated as `All` by the sandbox.
    pub allow_all_namespaces: bool,
}

#[derive(Debug, Clone)]
pub struct HttpRoute {
    pub meta: Meta,
    pub parent_refs: Vec<ParentRef>,
    pub hostnames: Vec<String>,
    pub rules: Vec<HrRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentKind {
    /// A Gateway API Gateway (ingress).
    Gateway,
    /// A Service (GAMMA mesh routing).
    Service,
    Other,
}

#[derive(Debug, Clone)]
pub struct ParentRef {
    pub kind: ParentKind,
    pub namespace: String,
    pub name: String,
    pub port: Option<u16>,
    pub section_name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct HrRule {
    /// OR-ed; empty means one implicit `PathPrefix /` match.
    pub matches: Vec<HrMatch>,
    pub backends: Vec<Backend>,
    pub mirrors: Vec<(Backend, f64)>,
    pub redirect: Option<Redirect>,
}

#[derive(Debug, Clone)]
pub enum PathMatch {
    Exact(String),
    /// Path-element prefix (`/foo` matches `/foo` and `/foo/bar`, not `/foobar`).
    Prefix(String),
    Regex(Regex),
    Never,
}

#[derive(Debug, Clone)]
pub struct HrMatch {
    pub path: PathMatch,
    pub headers: Vec<(String, StringMatch)>,
    pub query_params: Vec<(String, StringMatch)>,
    pub method: Option<String>,
}

impl Default for HrMatch {
    fn default() -> Self {
        HrMatch {
            path: PathMatch::Prefix("/".into()),
            headers: Vec::new(),
            query_params: Vec::new(),
            method: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    pub namespace: String,
    pub port: Option<u16>,
    pub weight: u32,
    /// Only Services are routable in the sandbox; other kinds answer 500 as invalid.
    pub is_service: bool,
}

impl MeshSnapshot {
    /// Build the typed view from API objects. Accepts single objects and `*List` objects
    /// (whose items carry no `kind` of their own, as in list responses). Anything not
    /// understood is skipped.
    pub fn from_objects(objects: impl IntoIterator<Item = Value>) -> MeshSnapshot {
        let mut raw_pods = Vec::new();
        let mut snap = MeshSnapshot::default();
        let mut push = |obj: &Value, api_version: &str, kind: &str| {
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
            match (group, kind) {
                ("", "Namespace") => {
                    let meta = meta(obj, "");
                    snap.namespaces.insert(
                        meta.name.clone(),
                        Namespace {
                            name: meta.name,
                            labels: meta.labels,
                        },
                    );
                }
                ("", "Service") => snap.services.extend(parse_service(obj)),
                ("", "Pod") => raw_pods.push(obj.clone()),
                ("apps", "Deployment") => snap.deployments.extend(parse_deployment(obj)),
                ("networking.istio.io", "VirtualService") => {
                    snap.virtual_services.extend(parse_virtual_service(obj))
                }
                ("networking.istio.io", "DestinationRule") => {
                    snap.destination_rules.extend(parse_destination_rule(obj))
                }
                ("networking.istio.io", "Gateway") => {
                    snap.gateways.extend(parse_istio_gateway(obj))
                }
                ("gateway.networking.k8s.io", "Gateway") => {
                    snap.kube_gateways.extend(parse_kube_gateway(obj))
                }
                ("telemetry.istio.io", "Telemetry") => {
                    if let Some((ns, rate)) = parse_telemetry_sampling(obj) {
                        snap.trace_sampling.insert(ns, rate);
                    }
                }
                ("gateway.networking.k8s.io", "HTTPRoute") => {
                    snap.http_routes.extend(parse_http_route(obj))
                }
                _ => {}
            }
        };
        for obj in objects {
            let api_version = str_at(&obj, &["apiVersion"])
                .unwrap_or_default()
                .to_string();
            let kind = str_at(&obj, &["kind"]).unwrap_or_default().to_string();
            match (
                kind.strip_suffix("List"),
                obj.get("items").and_then(Value::as_array),
            ) {
                (Some(item_kind), Some(items)) => {
                    for item in items {
                        let k = str_at(item, &["kind"]).unwrap_or(item_kind);
                        let v = str_at(item, &["apiVersion"]).unwrap_or(&api_version);
                        push(item, v, k);
                    }
                }
                _ => push(&obj, &api_version, &kind),
            }
        }
        // Pods last: their sidecar flag needs the namespaces and their workload name the
        // Deployments, whatever order the objects came in.
        for obj in &raw_pods {
            if let Some(pod) = parse_pod(obj, &snap.namespaces, &snap.deployments) {
                snap.pods.push(pod);
            }
        }
        snap.sort();
        snap
    }

    /// Deterministic order (creation time, then namespace/name), so that "oldest wins"
    /// rules and seeded tests do not depend on the order objects were listed in.
    fn sort(&mut self) {
        fn by_meta<T>(v: &mut [T], m: impl Fn(&T) -> &Meta) {
            v.sort_by(|a, b| {
                let (a, b) = (m(a), m(b));
                (&a.creation_timestamp, &a.namespace, &a.name).cmp(&(
                    &b.creation_timestamp,
                    &b.namespace,
                    &b.name,
                ))
            });
        }
        by_meta(&mut self.services, |s| &s.meta);
        by_meta(&mut self.deployments, |s| &s.meta);
        by_meta(&mut self.virtual_services, |s| &s.meta);
        by_meta(&mut self.destination_rules, |s| &s.meta);
        by_meta(&mut self.gateways, |s| &s.meta);
        by_meta(&mut self.kube_gateways, |s| &s.meta);
        by_meta(&mut self.http_routes, |s| &s.meta);
        // Pods by namespace/name only: endpoint order must not change when a pod's
        // timestamp is rewritten.
        self.pods.sort_by(|a, b| {
            (&a.meta.namespace, &a.meta.name).cmp(&(&b.meta.namespace, &b.meta.name))
        });
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.meta.namespace == namespace && s.meta.name == name)
    }

    /// The service with this cluster-local FQDN (`name.ns.svc.cluster.local`).
    pub fn service_by_fqdn(&self, fqdn: &str) -> Option<&Service> {
        let (name, ns) = split_fqdn(fqdn)?;
        self.service(ns, name)
    }

    /// Indices into `pods` of the pods selected by `service` (ready or not).
    pub fn pods_of_service(&self, service: &Service) -> impl Iterator<Item = usize> + '_ {
        let selector = service.selector.clone();
        let ns = service.meta.namespace.clone();
        self.pods.iter().enumerate().filter_map(move |(i, p)| {
            let sel = selector.as_ref()?;
            (p.meta.namespace == ns && !sel.is_empty() && labels_match(sel, &p.meta.labels))
                .then_some(i)
        })
    }
}

/// `name.namespace.svc.cluster.local`.
pub fn fqdn(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// Split a cluster-local FQDN into (name, namespace).
pub fn split_fqdn(fqdn: &str) -> Option<(&str, &str)> {
    let rest = fqdn.strip_suffix(".svc.cluster.local")?;
    let (name, ns) = rest.split_once('.')?;
    (!name.is_empty() && !ns.is_empty() && !ns.contains('.')).then_some((name, ns))
}

/// Every selector label is present with the same value.
pub fn labels_match(selector: &Labels, labels: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Istio's injection decision, simplified to what the sandbox can see: a pod label or
/// annotation `sidecar.istio.io/inject` of `"false"` opts out and `"true"` opts in (the
/// label wins over the annotation, as in current Istio); otherwise the namespace label
/// `istio-injection=enabled` (or any `istio.io/rev`) injects. A pod that already lists an
/// `istio-proxy` container has a sidecar whatever the labels say.
pub fn sidecar_injected(
    pod_meta: &Meta,
    containers: &[String],
    namespace: Option<&Namespace>,
) -> bool {
    if containers.iter().any(|c| c == "istio-proxy") {
        return true;
    }
    let key = "sidecar.istio.io/inject";
    let explicit = pod_meta
        .labels
        .get(key)
        .or_else(|| pod_meta.annotations.get(key));
    match explicit.map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if v == "false" => false,
        Some(v) if v == "true" => true,
        _ => namespace.is_some_and(|ns| {
            ns.labels.get("istio-injection").map(String::as_str) == Some("enabled")
                || (ns.labels.contains_key("istio.io/rev")
                    && ns.labels.get("istio-injection").map(String::as_str) != Some("disabled"))
        }),
    }
}

// ---------------------------------------------------------------------------------------
// JSON helpers: never panic, return None on any shape surprise.

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn string_map(v: Option<&Value>) -> Labels {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Numbers that may come as JSON numbers or numeric strings (int-or-string fields).
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn port_number(v: Option<&Value>) -> Option<u16> {
    number(v)
        .filter(|n| (1.0..=65535.0).contains(n) && n.fract() == 0.0)
        .map(|n| n as u16)
}

fn meta(obj: &Value, default_ns: &str) -> Meta {
    let m = obj.get("metadata");
    let get = |k: &str| m.and_then(|m| m.get(k));
    Meta {
        name: get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        namespace: get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(default_ns)
            .to_string(),
        labels: string_map(get("labels")),
        annotations: string_map(get("annotations")),
        creation_timestamp: get("creationTimestamp")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

/// Metadata of a namespaced object; objects without a name are unusable.
fn ns_meta(obj: &Value) -> Option<Meta> {
    let m = meta(obj, "default");
    (!m.name.is_empty()).then_some(m)
}

/// Protobuf / Go style durations as Istio accepts them (`7s`, `0.5s`, `100ms`, `1m`).
pub fn parse_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "h" => 3_600_000.0,
        "m" => 60_000.0,
        "s" | "" => 1_000.0,
        "ms" => 1.0,
        "us" | "µs" => 0.001,
        "ns" => 0.000_001,
        _ => return None,
    };
    let ms = n * factor;
    (ms.is_finite() && ms >= 0.0).then_some(ms)
}

fn compile_full(pattern: &str) -> Option<Regex> {
    // Envoy matches RE2 regexes against the whole value; anchor explicitly. A size limit
    // keeps a hostile pattern from costing much memory.
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .ok()
}

fn string_match(v: &Value) -> Option<StringMatch> {
    let obj = v.as_object()?;
    if let Some(s) = obj.get("exact").and_then(Value::as_str) {
        return Some(StringMatch::Exact(s.to_string()));
    }
    if let Some(s) = obj.get("prefix").and_then(Value::as_str) {
        return Some(StringMatch::Prefix(s.to_string()));
    }
    if let Some(s) = obj.get("regex").and_then(Value::as_str) {
        return Some(compile_full(s).map_or(StringMatch::Never, StringMatch::Regex));
    }
    Some(StringMatch::Present)
}

fn string_match_map(v: Option<&Value>, lowercase_keys: bool) -> Vec<(String, StringMatch)> {
    let Some(m) = v.and_then(Value::as_object) else {
        return Vec::new();
    };
    m.iter()
        .filter_map(|(k, v)| {
            let key = if lowercase_keys {
                k.to_ascii_lowercase()
            } else {
                k.clone()
            };
            Some((key, string_match(v)?))
        })
        .collect()
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Core objects.

fn parse_service(obj: &Value) -> Option<Service> {
    let meta = ns_meta(obj)?;
    let selector = at(obj, &["spec", "selector"])
        .filter(|v| v.is_object())
        .map(|v| string_map(Some(v)));
    let ports = arr_at(obj, &["spec", "ports"])
        .iter()
        .filter_map(|p| {
            Some(ServicePort {
                name: str_at(p, &["name"]).unwrap_or_default().to_string(),
                port: port_number(p.get("port"))?,
            })
        })
        .collect();
    Some(Service {
        meta,
        selector,
        ports,
    })
}

fn parse_deployment(obj: &Value) -> Option<Deployment> {
    let meta = ns_meta(obj)?;
    let selector = string_map(at(obj, &["spec", "selector", "matchLabels"]));
    Some(Deployment { meta, selector })
}

fn parse_pod(
    obj: &Value,
    namespaces: &BTreeMap<String, Namespace>,
    deployments: &[Deployment],
) -> Option<Pod> {
    let meta = ns_meta(obj)?;
    let containers = arr_at(obj, &["spec", "containers"]);
    let images = containers
        .iter()
        .filter_map(|c| str_at(c, &["image"]))
        .map(str::to_string)
        .collect();
    let names: Vec<String> = containers
        .iter()
        .filter_map(|c| str_at(c, &["name"]))
        .map(str::to_string)
        .collect();
    let mut env = Labels::new();
    for c in containers {
        for e in arr_at(c, &["env"]) {
            if let (Some(k), Some(v)) = (str_at(e, &["name"]), str_at(e, &["value"])) {
                env.entry(k.to_string()).or_insert_with(|| v.to_string());
            }
        }
    }
    let deleting = at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null());
    let conditions = arr_at(obj, &["status", "conditions"]);
    let ready_condition = conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == Some("Ready"))
        .map(|c| str_at(c, &["status"]) == Some("True"));
    let phase = str_at(obj, &["status", "phase"]);
    // Endpoints follow the Ready condition; a pod without conditions counts as ready
    // only when it reports phase Running (a hand-written snapshot may omit conditions).
    let ready = !deleting && ready_condition.unwrap_or(phase == Some("Running"));
    let ip = str_at(obj, &["status", "podIP"])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| synthetic_ip(&meta.namespace, &meta.name));
    let sidecar = sidecar_injected(&meta, &names, namespaces.get(&meta.namespace));
    let workload = workload_name(obj, &meta, deployments);
    Some(Pod {
        ip,
        node: str_at(obj, &["spec", "nodeName"])
            .filter(|s| !s.is_empty())
            .unwrap_or("sandbox-node")
            .to_string(),
        ready,
        sidecar,
        images,
        containers: names,
        env,
        service_account: str_at(obj, &["spec", "serviceAccountName"])
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_string(),
        workload,
        meta,
    })
}

/// A stable 10.244.x.y address for pods that have no IP yet (FNV-1a of ns/name).
fn synthetic_ip(ns: &str, name: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in ns.bytes().chain([b'/']).chain(name.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("10.244.{}.{}", (h >> 8) & 0xff, (h & 0xfd) + 2)
}

/// The workload name Istio reports: the Deployment behind the pod's ReplicaSet, else
/// the direct owner, else a Deployment whose selector matches, else the pod name with a
/// `pod-template-hash` suffix removed.
fn workload_name(obj: &Value, meta: &Meta, deployments: &[Deployment]) -> String {
    let hash = meta.labels.get("pod-template-hash");
    let by_selector = || {
        deployments
            .iter()
            .find(|d| {
                d.meta.namespace == meta.namespace
                    && !d.selector.is_empty()
                    && labels_match(&d.selector, &meta.labels)
            })
            .map(|d| d.meta.name.clone())
    };
    let owners = arr_at(obj, &["metadata", "ownerReferences"]);
    let owner = owners
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .or_else(|| owners.first());
    if let Some(o) = owner {
        let kind = str_at(o, &["kind"]).unwrap_or_default();
        let name = str_at(o, &["name"]).unwrap_or_default();
        if kind == "ReplicaSet" && !name.is_empty() {
            if let Some(h) = hash
                && let Some(base) = name
                    .strip_suffix(h.as_str())
                    .and_then(|b| b.strip_suffix('-'))
            {
                return base.to_string();
            }
            return by_selector().unwrap_or_else(|| name.to_string());
        }
        if !name.is_empty() {
            return name.to_string();
        }
    }
    if let Some(d) = by_selector() {
        return d;
    }
    if let Some(h) = hash
        && let Some((head, _random)) = meta.name.rsplit_once('-')
        && let Some(base) = head
            .strip_suffix(h.as_str())
            .and_then(|b| b.strip_suffix('-'))
    {
        return base.to_string();
    }
    meta.name.clone()
}

// ---------------------------------------------------------------------------------------
// Istio networking objects.

fn parse_destination(v: &Value) -> Option<Destination> {
    let host = str_at(v, &["host"]).filter(|h| !h.is_empty())?;
    Some(Destination {
        host: host.to_string(),
        subset: str_at(v, &["subset"])
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        port: port_number(at(v, &["port", "number"])),
    })
}

fn percent(v: Option<&Value>) -> Option<f64> {
    // Istio's Percent is `{value: double}`; older objects use a bare number.
    let v = v?;
    number(v.get("value"))
        .or_else(|| number(Some(v)))
        .map(|p| p.clamp(0.0, 100.0))
}

fn parse_virtual_service(obj: &Value) -> Option<VirtualService> {
    let meta = ns_meta(obj)?;
    let spec = obj.get("spec")?;
    let mut gateways = string_list(spec.get("gateways"));
    if gateways.is_empty() {
        gateways.push("mesh".into());
    }
    let http = arr_at(spec, &["http"])
        .iter()
        .map(parse_http_rule)
        .collect();
    Some(VirtualService {
        meta,
        hosts: string_list(spec.get("hosts")),
        gateways,
        http,
    })
}

fn parse_http_rule(r: &Value) -> HttpRule {
    let matches = arr_at(r, &["match"]).iter().map(parse_http_match).collect();
    let route = arr_at(r, &["route"])
        .iter()
        .filter_map(|d| {
            Some(RouteDestination {
                destination: parse_destination(d.get("destination")?)?,
                weight: number(d.get("weight")).map(|w| w.clamp(0.0, u32::MAX as f64) as u32),
            })
        })
        .collect();
    let mut mirrors = Vec::new();
    if let Some(dest) = r.get("mirror").and_then(parse_destination) {
        // `mirrorPercentage` (current) or `mirrorPercent` (deprecated int); 100 if absent.
        let pct = percent(r.get("mirrorPercentage"))
            .or_else(|| number(r.get("mirrorPercent")).map(|p| p.clamp(0.0, 100.0)))
            .unwrap_or(100.0);
        mirrors.push(Mirror {
            destination: dest,
            percent: pct,
        });
    }
    for m in arr_at(r, &["mirrors"]) {
        if let Some(dest) = m.get("destination").and_then(parse_destination) {
            mirrors.push(Mirror {
                destination: dest,
                percent: percent(m.get("percentage")).unwrap_or(100.0),
            });
        }
    }
    let fault = r.get("fault").map(|f| Fault {
        delay: f.get("delay").and_then(|d| {
            let ms = str_at(d, &["fixedDelay"]).and_then(parse_duration_ms)?;
            let pct = percent(d.get("percentage"))
                .or_else(|| number(d.get("percent")))
                .unwrap_or(100.0);
            Some((ms, pct))
        }),
        abort: f.get("abort").and_then(|a| {
            let status = number(a.get("httpStatus"))
                .filter(|s| (200.0..=599.0).contains(s))
                .map(|s| s as u16)?;
            let pct = percent(a.get("percentage"))
                .or_else(|| number(a.get("percent")))
                .unwrap_or(100.0);
            Some((status, pct))
        }),
    });
    let redirect = r.get("redirect").map(|rd| Redirect {
        uri: str_at(rd, &["uri"]).map(str::to_string),
        authority: str_at(rd, &["authority"]).map(str::to_string),
        status: number(rd.get("redirectCode"))
            .filter(|s| (300.0..=399.0).contains(s))
            .map_or(301, |s| s as u16),
    });
    let direct_response = r.get("directResponse").map(|d| DirectResponse {
        status: number(d.get("status"))
            .filter(|s| (100.0..=599.0).contains(s))
            .map_or(200, |s| s as u16),
        body: str_at(d, &["body", "string"])
            .unwrap_or_default()
            .to_string(),
    });
    HttpRule {
        name: str_at(r, &["name"]).map(str::to_string),
        matches,
        route,
        mirrors,
        fault,
        timeout_ms: str_at(r, &["timeout"])
            .and_then(parse_duration_ms)
            .filter(|t| *t > 0.0),
        redirect,
        direct_response,
    }
}

fn parse_http_match(m: &Value) -> HttpMatch {
    HttpMatch {
        uri: m.get("uri").and_then(string_match),
        scheme: m.get("scheme").and_then(string_match),
        method: m.get("method").and_then(string_match),
        authority: m.get("authority").and_then(string_match),
        headers: string_match_map(m.get("headers"), true),
        without_headers: string_match_map(m.get("withoutHeaders"), true),
        query_params: string_match_map(m.get("queryParams"), false),
        ignore_uri_case: m
            .get("ignoreUriCase")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        port: port_number(m.get("port")),
        source_labels: string_map(m.get("sourceLabels")),
        source_namespace: str_at(m, &["sourceNamespace"]).map(str::to_string),
        gateways: string_list(m.get("gateways")),
    }
}

fn parse_destination_rule(obj: &Value) -> Option<DestinationRule> {
    let meta = ns_meta(obj)?;
    let host = str_at(obj, &["spec", "host"])?.to_string();
    let subsets = arr_at(obj, &["spec", "subsets"])
        .iter()
        .filter_map(|s| {
            Some(Subset {
                name: str_at(s, &["name"])?.to_string(),
                labels: string_map(s.get("labels")),
            })
        })
        .collect();
    Some(DestinationRule {
        meta,
        host,
        subsets,
    })
}

fn parse_istio_gateway(obj: &Value) -> Option<IstioGateway> {
    let meta = ns_meta(obj)?;
    let servers = arr_at(obj, &["spec", "servers"])
        .iter()
        .map(|s| GatewayServer {
            port: number(at(s, &["port", "number"])).map_or(80, |n| n as u32),
            hosts: string_list(s.get("hosts")),
        })
        .collect();
    Some(IstioGateway {
        meta,
        selector: string_map(at(obj, &["spec", "selector"])),
        servers,
    })
}

// ---------------------------------------------------------------------------------------
// Gateway API objects.

fn parse_kube_gateway(obj: &Value) -> Option<KubeGateway> {
    let meta = ns_meta(obj)?;
    let listeners = arr_at(obj, &["spec", "listeners"])
        .iter()
        .map(|l| Listener {
            name: str_at(l, &["name"]).unwrap_or_default().to_string(),
            hostname: str_at(l, &["hostname"])
                .filter(|h| !h.is_empty())
                .map(str::to_string),
            port: number(l.get("port")).map_or(80, |n| n as u32),
            allow_all_namespaces: matches!(
                str_at(l, &["allowedRoutes", "namespaces", "from"]),
                Some("All") | Some("Selector")
            ),
        })
        .collect();
    Some(KubeGateway { meta, listeners })
}

fn parse_http_route(obj: &Value) -> Option<HttpRoute> {
    let meta = ns_meta(obj)?;
    let spec = obj.get("spec")?;
    let parent_refs = arr_at(spec, &["parentRefs"])
        .iter()
        .filter_map(|p| {
            let name = str_at(p, &["name"])?.to_string();
            let group = str_at(p, &["group"]).unwrap_or("gateway.networking.k8s.io");
            let kind = str_at(p, &["kind"]).unwrap_or("Gateway");
            let kind = match (group, kind) {
                ("gateway.networking.k8s.io", "Gateway") => ParentKind::Gateway,
                ("" | "core", "Service") => ParentKind::Service,
                _ => ParentKind::Other,
            };
            Some(ParentRef {
                kind,
                namespace: str_at(p, &["namespace"])
                    .unwrap_or(&meta.namespace)
                    .to_string(),
                name,
                port: port_number(p.get("port")),
                section_name: str_at(p, &["sectionName"]).map(str::to_string),
            })
        })
        .collect();
    let rules = arr_at(spec, &["rules"])
        .iter()
        .map(|r| parse_hr_rule(r, &meta.namespace))
        .collect();
    Some(HttpRoute {
        parent_refs,
        hostnames: string_list(spec.get("hostnames")),
        rules,
        meta,
    })
}

fn parse_backend(b: &Value, route_ns: &str, default_weight: u32) -> Option<Backend> {
    let group = str_at(b, &["group"]).unwrap_or("");
    let kind = str_at(b, &["kind"]).unwrap_or("Service");
    Some(Backend {
        name: str_at(b, &["name"])?.to_string(),
        namespace: str_at(b, &["namespace"]).unwrap_or(route_ns).to_string(),
        port: port_number(b.get("port")),
        weight: number(b.get("weight"))
            .map_or(default_weight, |w| w.clamp(0.0, 1_000_000.0) as u32),
        is_service: matches!(group, "" | "core") && kind == "Service",
    })
}

fn parse_hr_rule(r: &Value, route_ns: &str) -> HrRule {
    let matches = arr_at(r, &["matches"]).iter().map(parse_hr_match).collect();
    // backendRef weight defaults to 1 (Gateway API spec).
    let backends = arr_at(r, &["backendRefs"])
        .iter()
        .filter_map(|b| parse_backend(b, route_ns, 1))
        .collect();
    let mut mirrors = Vec::new();
    let mut redirect = None;
    for f in arr_at(r, &["filters"]) {
        match str_at(f, &["type"]) {
            Some("RequestMirror") => {
                let Some(m) = f.get("requestMirror") else {
                    continue;
                };
                let Some(backend) = m
                    .get("backendRef")
                    .and_then(|b| parse_backend(b, route_ns, 1))
                else {
                    continue;
                };
                let pct = number(m.get("percent"))
                    .or_else(|| {
                        let num = number(at(m, &["fraction", "numerator"]))?;
                        let den = number(at(m, &["fraction", "denominator"])).unwrap_or(100.0);
                        (den > 0.0).then(|| 100.0 * num / den)
                    })
                    .unwrap_or(100.0)
                    .clamp(0.0, 100.0);
                mirrors.push((backend, pct));
            }
            Some("RequestRedirect") => {
                let Some(rd) = f.get("requestRedirect") else {
                    continue;
                };
                redirect = Some(Redirect {
                    uri: str_at(rd, &["path", "replaceFullPath"]).map(str::to_string),
                    authority: str_at(rd, &["hostname"]).map(str::to_string),
                    status: number(rd.get("statusCode"))
                        .filter(|s| (300.0..=399.0).contains(s))
                        .map_or(302, |s| s as u16),
                });
            }
            _ => {}
        }
    }
    HrRule {
        matches,
        backends,
        mirrors,
        redirect,
    }
}

fn hr_value_match(m: &Value) -> Option<(String, StringMatch)> {
    let name = str_at(m, &["name"])?.to_string();
    let value = str_at(m, &["value"]).unwrap_or_default();
    let sm = match str_at(m, &["type"]).unwrap_or("Exact") {
        "RegularExpression" => compile_full(value).map_or(StringMatch::Never, StringMatch::Regex),
        _ => StringMatch::Exact(value.to_string()),
    };
    Some((name, sm))
}

fn parse_hr_match(m: &Value) -> HrMatch {
    let path = match m.get("path") {
        None => PathMatch::Prefix("/".into()),
        Some(p) => {
            let value = str_at(p, &["value"]).unwrap_or("/");
            match str_at(p, &["type"]).unwrap_or("PathPrefix") {
                "Exact" => PathMatch::Exact(value.to_string()),
                "RegularExpression" => {
                    compile_full(value).map_or(PathMatch::Never, PathMatch::Regex)
                }
                _ => PathMatch::Prefix(value.to_string()),
            }
        }
    };
    HrMatch {
        path,
        headers: arr_at(m, &["headers"])
            .iter()
            .filter_map(hr_value_match)
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        query_params: arr_at(m, &["queryParams"])
            .iter()
            .filter_map(hr_value_match)
            .collect(),
        method: str_at(m, &["method"]).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn skips_garbage_without_panicking() {
        let snap = MeshSnapshot::from_objects([
            json!(null),
            json!(42),
            json!({"kind": "Pod"}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": 3}}),
            json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                   "metadata": {"name": "x"}, "spec": {"http": "nope", "hosts": [1, "a"]}}),
            json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                   "metadata": {"name": "bad-regex"},
                   "spec": {"hosts": ["a"], "http": [{"match": [{"uri": {"regex": "("}}]}]}}),
        ]);
        assert!(snap.services.is_empty());
        assert_eq!(snap.virtual_services.len(), 2);
        assert_eq!(snap.virtual_services[0].hosts, vec!["a".to_string()]);
        let bad = snap
            .virtual_services
            .iter()
            .find(|v| v.meta.name == "bad-regex")
            .and_then(|v| v.http.first())
            .and_then(|r| r.matches.first())
            .and_then(|m| m.uri.as_ref());
        assert!(matches!(bad, Some(StringMatch::Never)));
    }

    #[test]
    fn list_items_get_the_list_kind() {
        let snap = MeshSnapshot::from_objects([json!({
            "apiVersion": "v1", "kind": "NamespaceList",
            "items": [{"metadata": {"name": "demo", "labels": {"istio-injection": "enabled"}}}]
        })]);
        assert_eq!(
            snap.namespaces
                .get("demo")
                .and_then(|n| n.labels.get("istio-injection")),
            Some(&"enabled".to_string())
        );
    }

    #[test]
    fn pod_sidecar_readiness_and_workload() {
        let snap = MeshSnapshot::from_objects([
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "demo", "labels": {"istio-injection": "enabled"}}}),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "reviews-v2-6f76498fc8-58wpn", "namespace": "demo",
                                "labels": {"app": "reviews", "version": "v2", "pod-template-hash": "6f76498fc8"},
                                "ownerReferences": [{"kind": "ReplicaSet", "name": "reviews-v2-6f76498fc8", "controller": true}]},
                   "spec": {"containers": [{"name": "reviews", "image": "x/examples-bookinfo-reviews-v2:1",
                                            "env": [{"name": "A", "value": "1"}]}]},
                   "status": {"podIP": "10.1.2.3", "conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "opt-out", "namespace": "demo",
                                "annotations": {"sidecar.istio.io/inject": "false"}},
                   "status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
        ]);
        let p = &snap.pods[1];
        assert_eq!(p.meta.name, "reviews-v2-6f76498fc8-58wpn");
        assert!(p.sidecar && p.ready);
        assert_eq!(p.workload, "reviews-v2");
        assert_eq!(p.ip, "10.1.2.3");
        assert_eq!(p.env.get("A").map(String::as_str), Some("1"));
        let o = &snap.pods[0];
        assert!(!o.sidecar && !o.ready);
        assert!(o.ip.starts_with("10.244."));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("7s"), Some(7000.0));
        assert_eq!(parse_duration_ms("0.5s"), Some(500.0));
        assert_eq!(parse_duration_ms("100ms"), Some(100.0));
        assert_eq!(parse_duration_ms("x"), None);
    }

    #[test]
    fn fqdn_round_trip() {
        assert_eq!(
            split_fqdn(&fqdn("reviews", "demo")),
            Some(("reviews", "demo"))
        );
        assert_eq!(split_fqdn("reviews.demo"), None);
    }
}
