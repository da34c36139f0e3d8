//! Where a request goes: Istio's and the Gateway API's routing rules, evaluated the way
//! Envoy would evaluate the configuration Istio generates from them.
//!
//! This module is pure: it reads a [`MeshSnapshot`], a request and a random number
//! generator (injected, so tests can seed it) and returns an [`Outcome`]. It knows nothing
//! of metrics, spans or Bookinfo; the simulator in `sim.rs` acts on the outcome.
//!
//! Semantics implemented (and the decisions where Istio leaves room):
//! - **VirtualService** `http` rules are tried in order; the first rule with a matching
//!   `match` block wins. Blocks are OR-ed, the fields inside one block AND-ed (`uri`,
//!   `scheme`, `method`, `authority`, `headers` — `cookie` and `user-agent` are plain
//!   headers —, `withoutHeaders`, `queryParams`, `ignoreUriCase`, `port`, `sourceLabels`,
//!   `sourceNamespace`, match-level `gateways`). Regexes match the whole value (RE2
//!   `safe_regex`). A VirtualService that exists for the host but has no matching rule
//!   answers 404 with response flag `NR`, as Envoy does.
//! - Weights are relative (Envoy `weighted_clusters` with a total weight); a lone
//!   destination without a weight takes 100; a destination without a weight next to
//!   others takes 0. If every weight is 0 the sandbox picks uniformly (Istio would have
//!   rejected such an object; failing closed would just hide the other bugs).
//! - A subset comes from the DestinationRule for the host, looked up in the caller's
//!   namespace, then the service's namespace, then anywhere (oldest first); its pods are
//!   the Service selector ∧ the subset labels, and only Ready pods are endpoints. An
//!   unknown host or subset is a missing Envoy cluster: 503 `NC`. A known cluster with no
//!   ready endpoint: 503 `UH`. Endpoints are chosen uniformly (Envoy's default
//!   round-robin is uniform over time).
//! - With several VirtualServices for one host, sidecars use the most specific host
//!   (exact over wildcard) and then the oldest object; gateways merge the rules of all
//!   of them in that order.
//! - **Hosts**: short names (`reviews`) resolve relative to the VirtualService's (or
//!   DestinationRule's) namespace; `name.namespace` is treated as that Service's FQDN when
//!   the namespace exists (Istio itself would only expand short names, which surprises
//!   users; the sandbox takes the meaning they intended).
//! - `mirror` / `mirrors` with `mirrorPercentage` (100% when absent) pick their own
//!   endpoint; the simulator discards the mirrored response.
//! - `fault` (abort/delay with percentages), `timeout`, `redirect` and `directResponse`
//!   are honoured; `retries`, `rewrite`, `corsPolicy` and header manipulation are not.
//! - **HTTPRoute** (Gateway API): a Service parent is mesh (GAMMA) routing for that
//!   Service and takes precedence over VirtualServices for it; a Gateway parent is
//!   ingress. Rules are ordered by the spec's precedence (exact path, longest prefix,
//!   method, most headers, most query params, then oldest route, namespace/name, rule
//!   order). `backendRefs` weights are proportional (default 1), an invalid backend or an
//!   all-zero weight set answers 500, `RequestMirror` and `RequestRedirect` filters work.
//! - A caller without a sidecar gets plain Kubernetes behaviour: uniform over the ready
//!   pods behind the Service, no subsets, no rules.

use std::borrow::Cow;

use rand::{Rng, RngExt};

use super::snapshot::{
    Destination, HrMatch, HrRule, HttpMatch, HttpRoute, HttpRule, Labels, MeshSnapshot, ParentKind,
    PathMatch, Redirect, Service, VirtualService, fqdn, labels_match, split_fqdn,
};

/// HTTP request headers with lower-cased names, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Build from (name, value) pairs; names are lower-cased.
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Headers {
        Headers(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.into()))
                .collect(),
        )
    }

    /// The value as Envoy's header matcher sees it: several headers with one name are
    /// joined with `,`.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut it = self.0.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
        let first = it.next()?;
        match it.next() {
            None => Some(Cow::Borrowed(first.1.as_str())),
            Some(second) => {
                let mut joined = format!("{},{}", first.1, second.1);
                for (_, v) in it {
                    joined.push(',');
                    joined.push_str(v);
                }
                Some(Cow::Owned(joined))
            }
        }
    }

    /// Replace every header with this name by one value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let name = name.to_ascii_lowercase();
        self.0.retain(|(k, _)| *k != name);
        self.0.push((name, value.into()));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A cookie's value from the `cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let all = self.get("cookie")?;
        all.split([';', ','])
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    }
}

/// The parts of a request routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a str,
    /// `host[:port]` as in the `Host` / `:authority` header.
    pub authority: &'a str,
    /// Path without the query string.
    pub path: &'a str,
    /// Raw query string without `?` (may be empty).
    pub query: &'a str,
    pub headers: &'a Headers,
    pub scheme: &'a str,
}

impl RequestView<'_> {
    /// Host without port, lower-cased.
    pub fn host(&self) -> String {
        split_host_port(self.authority).0.to_ascii_lowercase()
    }

    pub fn port(&self) -> u16 {
        split_host_port(self.authority).1.unwrap_or(80)
    }

    fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// Split `host:port` (IPv6 literals in brackets are left alone).
pub fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if authority.starts_with('[') {
        return (authority, None);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (authority, None),
        },
        None => (authority, None),
    }
}

/// Who sends the request, as far as routing cares.
#[derive(Debug, Clone, Copy)]
pub struct SourceCtx<'a> {
    pub namespace: &'a str,
    pub labels: &'a Labels,
}

/// An Envoy cluster: a Service (FQDN), an optional subset and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRef {
    pub service_name: String,
    pub service_namespace: String,
    pub fqdn: String,
    pub subset: Option<String>,
    pub port: u16,
}

impl ClusterRef {
    /// Istio's outbound cluster name, `outbound|9080|v2|reviews.ns.svc.cluster.local`.
    pub fn outbound_name(&self) -> String {
        format!(
            "outbound|{}|{}|{}",
            self.port,
            self.subset.as_deref().unwrap_or(""),
            self.fqdn
        )
    }
}

/// The request is forwarded to one endpoint.
#[derive(Debug, Clone)]
pub struct Forward {
    pub cluster: ClusterRef,
    /// Index into `MeshSnapshot::pods`.
    pub endpoint: usize,
    /// Envoy's span operation name (route decorator), `host:port/path-or-*`.
    pub operation: String,
    pub mirrors: Vec<MirrorHit>,
    pub fault: FaultHit,
    pub timeout_ms: Option<f64>,
}

/// A mirror copy that will be sent (its percentage already rolled).
#[derive(Debug, Clone)]
pub struct MirrorHit {
    pub cluster: ClusterRef,
    pub endpoint: usize,
}

/// Fault injection that applies to this request (percentages already rolled).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultHit {
    pub abort: Option<u16>,
    pub delay_ms: f64,
}

/// A reply made by the proxy itself, without reaching an application.
#[derive(Debug, Clone)]
pub struct Local {
    pub status: u16,
    /// Envoy response flags: `NR`, `NC`, `UH`, or `-`.
    pub flags: &'static str,
    /// The cluster the request was headed for, when known (for telemetry labels).
    pub cluster: Option<ClusterRef>,
    pub location: Option<String>,
    pub body: String,
    pub operation: String,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Forward(Forward),
    Local(Local),
    /// The application could not even connect (unknown name, or no endpoint behind a
    /// Service for a caller without a proxy): no proxy sees it, no telemetry.
    Unreachable,
}

/// Which ingress object handled an ingress request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngressVia {
    /// An Istio `Gateway` served by the ingress gateway deployment.
    IstioGateway { namespace: String, name: String },
    /// A Gateway API `Gateway` (Istio deploys `<name>-istio` for it).
    KubeGateway { namespace: String, name: String },
    /// Nothing matched the host.
    None,
}

#[derive(Debug, Clone)]
pub struct IngressRoute {
    pub via: IngressVia,
    pub outcome: Outcome,
}

// ---------------------------------------------------------------------------------------
// Entry points.

/// Route a request arriving at the sandbox's ingress: Istio Gateways (+ VirtualServices
/// bound to them) first, then Gateway API Gateways (+ HTTPRoutes). 404 `NR` if nothing
/// matches. The ingress listens on one address, so Gateway server/listener ports are not
/// compared.
pub fn route_ingress<R: Rng + ?Sized>(
    snap: &MeshSnapshot,
    req: &RequestView<'_>,
    rng: &mut R,
) -> IngressRoute {
    let host = req.host();
    let source_labels: Labels = [("istio".to_string(), "ingressgateway".to_string())].into();
    for gw in &snap.gateways {
        // Server hosts may carry a namespace restriction for the VirtualServices.
        let allowed: Vec<(Option<&str>, &str)> = gw
            .servers
            .iter()
            .flat_map(|s| s.hosts.iter())
            .map(|h| match h.split_once('/') {
                Some((ns, hh)) => (Some(ns), hh),
                None => (None, h.as_str()),
            })
            .filter(|(_, h)| host_matches(h, &host))
            .collect();
        if allowed.is_empty() {
            continue;
        }
        let key = gw.meta.key();
        let ns_ok = |vs: &VirtualService| {
            allowed.iter().any(|(ns, _)| match ns {
                None | Some("*") => true,
                Some(".") => vs.meta.namespace == gw.meta.namespace,
                Some(n) => vs.meta.namespace == *n,
            })
        };
        let mut vss: Vec<(u32, &VirtualService)> = snap
            .virtual_services
            .iter()
            .filter(|vs| {
                vs.gateways
                    .iter()
                    .any(|g| resolve_gateway_name(g, &vs.meta.namespace) == key)
                    && ns_ok(vs)
            })
            .filter_map(|vs| Some((vs_host_specificity(snap, vs, &host)?, vs)))
            .collect();
        if vss.is_empty() {
            continue;
        }
        // Most specific host first; the sort is stable, so older objects stay first.
        vss.sort_by_key(|v| std::cmp::Reverse(v.0));
        let rules: Vec<(&VirtualService, &HttpRule)> = vss
            .iter()
            .flat_map(|(_, vs)| vs.http.iter().map(move |r| (*vs, r)))
            .collect();
        let source = SourceCtx {
            namespace: "istio-system",
            labels: &source_labels,
        };
        let outcome = eval_vs_rules(snap, &rules, &source, Some(&key), req, rng)
            .unwrap_or_else(|| no_route(None, "/*"));
        return IngressRoute {
            via: IngressVia::IstioGateway {
                namespace: gw.meta.namespace.clone(),
                name: gw.meta.name.clone(),
            },
            outcome,
        };
    }
    for gw in &snap.kube_gateways {
        let listeners: Vec<_> = gw
            .listeners
            .iter()
            .filter(|l| l.hostname.as_deref().is_none_or(|h| host_matches(h, &host)))
            .collect();
        if listeners.is_empty() {
            continue;
        }
        let routes: Vec<&HttpRoute> = snap
            .http_routes
            .iter()
            .filter(|r| {
                r.parent_refs.iter().any(|p| {
                    p.kind == ParentKind::Gateway
                        && p.name == gw.meta.name
                        && p.namespace == gw.meta.namespace
                        && listeners.iter().any(|l| {
                            p.section_name.as_deref().is_none_or(|s| s == l.name)
                                && (l.allow_all_namespaces || r.meta.namespace == gw.meta.namespace)
                        })
                })
            })
            .filter(|r| {
                r.hostnames.is_empty() || r.hostnames.iter().any(|h| host_matches(h, &host))
            })
            .collect();
        if routes.is_empty() {
            continue;
        }
        let source = SourceCtx {
            namespace: &gw.meta.namespace,
            labels: &source_labels,
        };
        let outcome = eval_http_routes(snap, &routes, &source, req, rng)
            .unwrap_or_else(|| no_route(None, "/*"));
        return IngressRoute {
            via: IngressVia::KubeGateway {
                namespace: gw.meta.namespace.clone(),
                name: gw.meta.name.clone(),
            },
            outcome,
        };
    }
    IngressRoute {
        via: IngressVia::None,
        outcome: no_route(None, "/*"),
    }
}

/// Route a request sent by a pod that has an Istio sidecar to `req.authority`
/// (e.g. `reviews:9080`).
pub fn route_mesh<R: Rng + ?Sized>(
    snap: &MeshSnapshot,
    source: &SourceCtx<'_>,
    req: &RequestView<'_>,
    rng: &mut R,
) -> Outcome {
    let Some((svc, port)) = resolve_authority(snap, req.authority, source.namespace) else {
        return Outcome::Unreachable;
    };
    let fq = fqdn(&svc.meta.name, &svc.meta.namespace);
    let default_cluster = ClusterRef {
        service_name: svc.meta.name.clone(),
        service_namespace: svc.meta.namespace.clone(),
        fqdn: fq.clone(),
        subset: None,
        port: service_port(svc, None, port),
    };
    // GAMMA: HTTPRoutes whose parent is this Service.
    let gamma: Vec<&HttpRoute> = snap
        .http_routes
        .iter()
        .filter(|r| {
            r.parent_refs.iter().any(|p| {
                p.kind == ParentKind::Service
                    && p.name == svc.meta.name
                    && p.namespace == svc.meta.namespace
                    && p.port.is_none_or(|pp| pp == port)
            })
        })
        .collect();
    if !gamma.is_empty() {
        return eval_http_routes(snap, &gamma, source, req, rng)
            .unwrap_or_else(|| no_route(Some(default_cluster), "/*"));
    }
    // VirtualServices bound to the mesh: the most specific, then the oldest, wins.
    let best = snap
        .virtual_services
        .iter()
        .filter(|vs| vs.gateways.iter().any(|g| g == "mesh"))
        .filter_map(|vs| Some((vs_host_specificity(snap, vs, &fq)?, vs)))
        .fold(None::<(u32, &VirtualService)>, |best, cand| match best {
            Some(b) if b.0 >= cand.0 => Some(b),
            _ => Some(cand),
        });
    if let Some((_, vs)) = best {
        let rules: Vec<(&VirtualService, &HttpRule)> = vs.http.iter().map(|r| (vs, r)).collect();
        return eval_vs_rules(snap, &rules, source, None, req, rng)
            .unwrap_or_else(|| no_route(Some(default_cluster), "/*"));
    }
    forward_to(
        snap,
        default_cluster,
        source.namespace,
        "/*".into(),
        Vec::new(),
        FaultHit::default(),
        None,
        rng,
    )
}

/// Kubernetes Service behaviour (kube-proxy) for callers without a sidecar: any ready pod
/// behind the Service, uniformly; nothing answers if there is none.
pub fn route_kubernetes<R: Rng + ?Sized>(
    snap: &MeshSnapshot,
    source_namespace: &str,
    authority: &str,
    rng: &mut R,
) -> Outcome {
    let Some((svc, port)) = resolve_authority(snap, authority, source_namespace) else {
        return Outcome::Unreachable;
    };
    let cluster = ClusterRef {
        service_name: svc.meta.name.clone(),
        service_namespace: svc.meta.namespace.clone(),
        fqdn: fqdn(&svc.meta.name, &svc.meta.namespace),
        subset: None,
        port: service_port(svc, None, port),
    };
    let endpoints: Vec<usize> = snap
        .pods_of_service(svc)
        .filter(|&i| snap.pods[i].ready)
        .collect();
    match pick_uniform(&endpoints, rng) {
        Some(endpoint) => Outcome::Forward(Forward {
            operation: format!("{}:{}/*", cluster.fqdn, cluster.port),
            cluster,
            endpoint,
            mirrors: Vec::new(),
            fault: FaultHit::default(),
            timeout_ms: None,
        }),
        None => Outcome::Unreachable,
    }
}

// ---------------------------------------------------------------------------------------
// Host names.

/// Resolve a request authority (`reviews`, `reviews:9080`, `reviews.ns`,
/// `reviews.ns.svc.cluster.local:9080`) from a pod in `source_ns` to a Service, as the
/// pod's DNS search path would.
pub fn resolve_authority<'s>(
    snap: &'s MeshSnapshot,
    authority: &str,
    source_ns: &str,
) -> Option<(&'s Service, u16)> {
    let (host, port) = split_host_port(authority);
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    let svc = if let Some((name, ns)) = split_fqdn(host) {
        snap.service(ns, name)
    } else {
        let parts: Vec<&str> = host.split('.').collect();
        match parts.as_slice() {
            [name] => snap.service(source_ns, name),
            [name, ns] | [name, ns, "svc"] => snap.service(ns, name),
            _ => None,
        }
    }?;
    Some((svc, port.unwrap_or(80)))
}

/// A host as written in a VirtualService / DestinationRule, made comparable with service
/// FQDNs: short names are relative to `ns`; `name.ns` and `name.ns.svc` expand when that
/// namespace exists; wildcards and other names are kept as they are (lower-cased).
pub fn resolve_config_host(snap: &MeshSnapshot, host: &str, ns: &str) -> String {
    let host = host.to_ascii_lowercase();
    if host == "*" || host.starts_with("*.") || split_fqdn(&host).is_some() {
        return host;
    }
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] => fqdn(name, ns),
        [name, n] | [name, n, "svc"]
            if snap.namespaces.contains_key(*n)
                || snap.services.iter().any(|s| s.meta.namespace == *n) =>
        {
            fqdn(name, n)
        }
        _ => host,
    }
}

/// Does a host pattern (`*`, `*.example.com`, `example.com`) match `host`?
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    if pattern == "*" {
        return true;
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return host.len() > suffix.len() && host.ends_with(suffix);
    }
    pattern == host
}

/// How specifically a VirtualService names `host`: exact beats wildcard, longer wildcard
/// beats shorter; `None` when it does not apply.
fn vs_host_specificity(snap: &MeshSnapshot, vs: &VirtualService, host: &str) -> Option<u32> {
    vs.hosts
        .iter()
        .filter_map(|h| {
            let h = resolve_config_host(snap, h, &vs.meta.namespace);
            if h == host {
                Some(u32::MAX)
            } else if host_matches(&h, host) {
                Some(h.len() as u32)
            } else {
                None
            }
        })
        .max()
}

/// `name` → `vs-namespace/name`; `ns/name` and `mesh` as they are.
fn resolve_gateway_name(g: &str, vs_ns: &str) -> String {
    if g == "mesh" || g.contains('/') {
        g.to_string()
    } else {
        format!("{vs_ns}/{g}")
    }
}

// ---------------------------------------------------------------------------------------
// VirtualService evaluation.

fn eval_vs_rules<R: Rng + ?Sized>(
    snap: &MeshSnapshot,
    rules: &[(&VirtualService, &HttpRule)],
    source: &SourceCtx<'_>,
    gateway: Option<&str>,
    req: &RequestView<'_>,
    rng: &mut R,
) -> Option<Outcome> {
    for (vs, rule) in rules {
        let block = if rule.matches.is_empty() {
            Some(None)
        } else {
            rule.matches
                .iter()
                .find(|m| http_match(m, vs, source, gateway, req))
                .map(Some)
        };
        if let Some(block) = block {
            return Some(apply_vs_rule(snap, vs, rule, block, source, req, rng));
        }
    }
    None
}

fn http_match(
    m: &HttpMatch,
    vs: &VirtualService,
    source: &SourceCtx<'_>,
    gateway: Option<&str>,
    req: &RequestView<'_>,
) -> bool {
    if !m.gateways.is_empty() {
        let here = gateway.unwrap_or("mesh");
        if !m
            .gateways
            .iter()
            .any(|g| resolve_gateway_name(g, &vs.meta.namespace) == here)
        {
            return false;
        }
    }
    let opt = |sm: &Option<super::snapshot::StringMatch>, value: &str, ic: bool| {
        sm.as_ref().is_none_or(|sm| sm.matches(value, ic))
    };
    opt(&m.uri, req.path, m.ignore_uri_case)
        && opt(&m.scheme, req.scheme, false)
        && opt(&m.method, req.method, false)
        && opt(&m.authority, req.authority, false)
        && m.port.is_none_or(|p| p == req.port())
        && labels_match(&m.source_labels, source.labels)
        && m.source_namespace
            .as_deref()
            .is_none_or(|n| n == source.namespace)
        && m.headers
            .iter()
            .all(|(name, sm)| req.headers.get(name).is_some_and(|v| sm.matches(&v, false)))
        && m.without_headers
            .iter()
            .all(|(name, sm)| !req.headers.get(name).is_some_and(|v| sm.matches(&v, false)))
        && m.query_params
            .iter()
            .all(|(name, sm)| req.query_param(name).is_some_and(|v| sm.matches(&v, false)))
}

/// The path part of Istio's route decorator: the exact path, `prefix*`, the regex, or `/*`.
fn decorator_path(m: Option<&HttpMatch>) -> String {
    use super::snapshot::StringMatch as S;
    match m.and_then(|m| m.uri.as_ref()) {
        Some(S::Exact(p)) => p.clone(),
        Some(S::Prefix(p)) => format!("{p}*"),
        Some(S::Regex(re)) => {
            let s = re.as_str();
            s.strip_prefix("^(?:")
                .and_then(|s| s.strip_suffix(")$"))
                .unwrap_or(s)
                .to_string()
        }
        _ => "/*".into(),
    }
}

fn apply_vs_rule<R: Rng + ?Sized>(
    snap: &MeshSnapshot,
    vs: &VirtualService,
    rule: &HttpRule,
    block: Option<&HttpMatch>,
    source: &SourceCtx<'_>,
    req: &RequestView<'_>,
    rng: &mut R,
) -> Outcome {
    let path = decorator_path(block);
    if let Some(d) = &rule.direct_response {
        return Outcome::Local(Local {
            status: d.status,
            flags: "-",
            cluster: None,
            location: None,
            body: d.body.clone(),
            operation: format!("{}:{}{}", req.host(), req.port(), path),
        });
    }
    if let Some(r) = &rule.redirect {
        return redirect(r, req, &path);
    }
    let weights: Vec<u64> = if rule.route.len() == 1 {
        vec![u64::from(rule.route[0].weight.unwrap_or(100))]
    } else {
        rule.route
            .iter()
            .map(|d| u64::from(d.weight.unwrap_or(0)))
            .collect()
    };
    let Some(idx) = pick_weighted(&weights, rng).or_else(|| {
        let all: Vec<usize> = (0..rule.route.len()).collect();
        pick_uniform(&all, rng)
    }) else {
        // A rule without route, redirect or direct response: nothing to send to.
        return Outcome::Local(no_route_local(None, &path));
    };
    let dest = &rule.route[idx].destination;
    let cluster = match resolve_destination(snap, dest, &vs.meta.namespace, req.port()) {
        Ok(c) => c,
        Err(local) => return Outcome::Local(*local),
    };
    let mut mirrors = Vec::new();
    for m in &rule.mirrors {
        if roll(m.percent, rng)
            && let Ok(mc) =
                resolve_destination(snap, &m.destination, &vs.meta.namespace, req.port())
            && let Ok(eps) = cluster_endpoints(snap, &mc, source.namespace)
            && let Some(endpoint) = pick_uniform(&eps, rng)
        {
            mirrors.push(MirrorHit {
                cluster: mc,
                endpoint,
            });
        }
    }
    let mut fault = FaultHit::default();
    if let Some(f) = &rule.fault {
        if let Some((ms, pct)) = f.delay
            && roll(pct, rng)
        {
            fault.delay_ms = ms;
        }
        if let Some((status, pct)) = f.abort
            && roll(pct, rng)
        {
            fault.abort = Some(status);
        }
    }
    forward_to(
        snap,
        cluster,
        source.namespace,
        path,
        mirrors,
        fault,
        rule.timeout_ms,
        rng,
    )
}

fn redirect(r: &Redirect, req: &RequestView<'_>, path: &str) -> Outcome {
    let authority = r.authority.as_deref().unwrap_or(req.authority);
    let uri = r.uri.as_deref().unwrap_or(req.path);
    Outcome::Local(Local {
        status: r.status,
        flags: "-",
        cluster: None,
        location: Some(format!("{}://{}{}", req.scheme, authority, uri)),
        body: String::new(),
        operation: format!("{}:{}{}", req.host(), req.port(), path),
    })
}

/// Resolve a VirtualService destination to a cluster, or the 503 `NC` Envoy gives when
/// the cluster does not exist.
fn resolve_destination(
    snap: &MeshSnapshot,
    dest: &Destination,
    config_ns: &str,
    request_port: u16,
) -> Result<ClusterRef, Box<Local>> {
    let host = resolve_config_host(snap, &dest.host, config_ns);
    let Some(svc) = snap.service_by_fqdn(&host) else {
        return Err(Box::new(Local {
            status: 503,
            flags: "NC",
            cluster: None,
            location: None,
            body: "no healthy upstream".into(),
            operation: format!("{host}:{request_port}/*"),
        }));
    };
    Ok(ClusterRef {
        service_name: svc.meta.name.clone(),
        service_namespace: svc.meta.namespace.clone(),
        fqdn: host,
        subset: dest.subset.clone(),
        port: service_port(svc, dest.port, request_port),
    })
}

/// The port of the cluster: the one asked for, else the Service's only port, else the
/// request's port when the Service has it, else the Service's first port.
fn service_port(svc: &Service, wanted: Option<u16>, request_port: u16) -> u16 {
    if let Some(p) = wanted {
        return p;
    }
    match svc.ports.as_slice() {
        [only] => only.port,
        ports => ports
            .iter()
            .find(|p| p.port == request_port)
            .or(ports.first())
            .map_or(request_port, |p| p.port),
    }
}

/// Ready endpoints of a cluster; `Err` (503 `NC`) when its subset is not defined.
fn cluster_endpoints(
    snap: &MeshSnapshot,
    cluster: &ClusterRef,
    caller_ns: &str,
) -> Result<Vec<usize>, Box<Local>> {
    let Some(svc) = snap.service(&cluster.service_namespace, &cluster.service_name) else {
        return Err(Box::new(nc(cluster)));
    };
    let subset_labels = match &cluster.subset {
        None => None,
        Some(name) => {
            let dr =
                find_destination_rule(snap, &cluster.fqdn, caller_ns, &cluster.service_namespace);
            match dr.and_then(|dr| dr.subsets.iter().find(|s| s.name == *name)) {
                Some(s) => Some(&s.labels),
                None => return Err(Box::new(nc(cluster))),
            }
        }
    };
    Ok(snap
        .pods_of_service(svc)
        .filter(|&i| {
            let p = &snap.pods[i];
            p.ready && subset_labels.is_none_or(|l| labels_match(l, &p.meta.labels))
        })
        .collect())
}

fn nc(cluster: &ClusterRef) -> Local {
    Local {
        status: 503,
        flags: "NC",
        cluster: Some(cluster.clone()),
        location: None,
        body: "no healthy upstream".into(),
        operation: format!("{}:{}/*", cluster.fqdn, cluster.port),
    }
}

/// The DestinationRule Istio would apply for `host`: caller namespace first, then the
/// service's namespace, then any other (oldest first, the snapshot is sorted).
fn find_destination_rule<'s>(
    snap: &'s MeshSnapshot,
    host: &str,
    caller_ns: &str,
    service_ns: &str,
) -> Option<&'s super::snapshot::DestinationRule> {
    let applies = |dr: &&super::snapshot::DestinationRule| {
        let h = resolve_config_host(snap, &dr.host, &dr.meta.namespace);
        h == host || host_matches(&h, host)
    };
    let candidates: Vec<_> = snap.destination_rules.iter().filter(applies).collect();
    candidates
        .iter()
        .find(|dr| dr.meta.namespace == caller_ns)
        .or_else(|| candidates.iter().find(|dr| dr.meta.namespace == service_ns))
        .or(candidates.first())
        .copied()
}

#[allow(clippy::too_many_arguments)]
fn forward_to<R: Rng + ?Sized>(
    snap: &MeshSnapshot,
    cluster: ClusterRef,
    caller_ns: &str,
    path: String,
    mirrors: Vec<MirrorHit>,
    fault: FaultHit,
    timeout_ms: Option<f64>,
    rng: &mut R,
) -> Outcome {
    let operation = format!("{}:{}{}", cluster.fqdn, cluster.port, path);
    // The fault filter runs before the router: an injected abort answers even when the
    // cluster has no healthy endpoint.
    if let Some(status) = fault.abort {
        return Outcome::Local(Local {
            status,
            flags: "FI",
            cluster: Some(cluster),
            location: None,
            body: "fault filter abort".into(),
            operation,
        });
    }
    let endpoints = match cluster_endpoints(snap, &cluster, caller_ns) {
        Ok(e) => e,
        Err(local) => return Outcome::Local(*local),
    };
    match pick_uniform(&endpoints, rng) {
        Some(endpoint) => Outcome::Forward(Forward {
            cluster,
            endpoint,
            operation,
            mirrors,
            fault,
            timeout_ms,
        }),
        None => Outcome::Local(Local {
            status: 503,
            flags: "UH",
            cluster: Some(cluster),
            location: None,
            body: "no healthy upstream".into(),
            operation,
        }),
    }
}

fn no_route_local(cluster: Option<ClusterRef>, path: &str) -> Local {
    let operation = cluster.as_ref().map_or_else(
        || path.to_string(),
        |c| format!("{}:{}{}", c.fqdn, c.port, path),
    );
    Local {
        status: 404,
        flags: "NR",
        cluster,
        location: None,
        body: String::new(),
        operation,
    }
}

fn no_route(cluster: Option<ClusterRef>, path: &str) -> Outcome {
    Outcome::Local(no_route_local(cluster, path))
}

// ---------------------------------------------------------------------------------------
// Gateway API evaluation.

/// Gateway API match precedence, as a sort key (smaller sorts first).
fn hr_precedence(
    m: &HrMatch,
) -> (
    u8,
    std::cmp::Reverse<usize>,
    bool,
    std::cmp::Reverse<usize>,
    std::cmp::Reverse<usize>,
) {
    let (kind, len) = match &m.path {
        PathMatch::Exact(p) => (0, p.len()),
        PathMatch::Prefix(p) => (1, p.len()),
        PathMatch::Regex(re) => (2, re.as_str().len()),
        PathMatch::Never => (3, 0),
    };
    (
        kind,
        std::cmp::Reverse(len),
        m.method.is_none(),
        std::cmp::Reverse(m.headers.len()),
        std::cmp::Reverse(m.query_params.len()),
    )
}

fn eval_http_routes<R: Rng + ?Sized>(
    snap: &MeshSnapshot,
    routes: &[&HttpRoute],
    source: &SourceCtx<'_>,
    req: &RequestView<'_>,
    rng: &mut R,
) -> Option<Outcome> {
    let implicit = HrMatch::default();
    let mut candidates: Vec<(&HttpRoute, usize, usize, &HrRule, &HrMatch)> = Vec::new();
    for route in routes {
        for (ri, rule) in route.rules.iter().enumerate() {
            if rule.matches.is_empty() {
                candidates.push((route, ri, 0, rule, &implicit));
            }
            for (mi, m) in rule.matches.iter().enumerate() {
                candidates.push((route, ri, mi, rule, m));
            }
        }
    }
    // Routes arrive oldest first (snapshot order), so a stable sort on the match
    // precedence leaves ties in creation → namespace/name → rule → match order.
    candidates.sort_by_key(|(_, _, _, _, m)| hr_precedence(m));
    let (route, _, _, rule, m) = candidates
        .into_iter()
        .find(|(_, _, _, _, m)| hr_match(m, req))?;
    Some(apply_hr_rule(snap, route, rule, m, source, req, rng))
}

fn hr_match(m: &HrMatch, req: &RequestView<'_>) -> bool {
    let path_ok = match &m.path {
        PathMatch::Exact(p) => req.path == p,
        PathMatch::Prefix(p) => path_prefix_matches(p, req.path),
        PathMatch::Regex(re) => re.is_match(req.path),
        PathMatch::Never => false,
    };
    path_ok
        && m.method
            .as_deref()
            .is_none_or(|mm| mm.eq_ignore_ascii_case(req.method))
        && m.headers
            .iter()
            .all(|(name, sm)| req.headers.get(name).is_some_and(|v| sm.matches(&v, false)))
        && m.query_params
            .iter()
            .all(|(name, sm)| req.query_param(name).is_some_and(|v| sm.matches(&v, false)))
}

/// Gateway API `PathPrefix`: element-wise (`/foo` matches `/foo`, `/foo/`, `/foo/bar` but
/// not `/foobar`); a trailing `/` in the prefix is ignored.
fn path_prefix_matches(prefix: &str, path: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        return true;
    }
    match path.strip_prefix(p) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

fn hr_decorator_path(m: &HrMatch) -> String {
    match &m.path {
        PathMatch::Exact(p) => p.clone(),
        PathMatch::Prefix(p) if p.trim_end_matches('/').is_empty() => "/*".into(),
        PathMatch::Prefix(p) => format!("{p}*"),
        PathMatch::Regex(re) => re.as_str().to_string(),
        PathMatch::Never => "/*".into(),
    }
}

fn hr_backend_cluster(
    snap: &MeshSnapshot,
    b: &super::snapshot::Backend,
    request_port: u16,
) -> Option<ClusterRef> {
    if !b.is_service {
        return None;
    }
    let svc = snap.service(&b.namespace, &b.name)?;
    Some(ClusterRef {
        service_name: svc.meta.name.clone(),
        service_namespace: svc.meta.namespace.clone(),
        fqdn: fqdn(&svc.meta.name, &svc.meta.namespace),
        subset: None,
        port: service_port(svc, b.port, request_port),
    })
}

fn apply_hr_rule<R: Rng + ?Sized>(
    snap: &MeshSnapshot,
    route: &HttpRoute,
    rule: &HrRule,
    m: &HrMatch,
    source: &SourceCtx<'_>,
    req: &RequestView<'_>,
    rng: &mut R,
) -> Outcome {
    let path = hr_decorator_path(m);
    if let Some(r) = &rule.redirect {
        return redirect(r, req, &path);
    }
    let invalid = |why: &str| {
        Outcome::Local(Local {
            status: 500,
            flags: "-",
            cluster: None,
            location: None,
            body: format!("HTTPRoute {}: {why}", route.meta.key()),
            operation: format!("{}:{}{}", req.host(), req.port(), path),
        })
    };
    let weights: Vec<u64> = rule.backends.iter().map(|b| u64::from(b.weight)).collect();
    let Some(idx) = pick_weighted(&weights, rng) else {
        return invalid("no backend with a non-zero weight");
    };
    let Some(cluster) = hr_backend_cluster(snap, &rule.backends[idx], req.port()) else {
        return invalid("backendRef does not name an existing Service");
    };
    let mut mirrors = Vec::new();
    for (b, pct) in &rule.mirrors {
        if roll(*pct, rng)
            && let Some(mc) = hr_backend_cluster(snap, b, req.port())
            && let Ok(eps) = cluster_endpoints(snap, &mc, source.namespace)
            && let Some(endpoint) = pick_uniform(&eps, rng)
        {
            mirrors.push(MirrorHit {
                cluster: mc,
                endpoint,
            });
        }
    }
    forward_to(
        snap,
        cluster,
        source.namespace,
        path,
        mirrors,
        FaultHit::default(),
        None,
        rng,
    )
}

// ---------------------------------------------------------------------------------------
// Random choices.

/// Index chosen with probability weight/total; `None` when the total is 0.
pub fn pick_weighted<R: Rng + ?Sized>(weights: &[u64], rng: &mut R) -> Option<usize> {
    let total: u64 = weights.iter().fold(0u64, |a, w| a.saturating_add(*w));
    if total == 0 {
        return None;
    }
    let mut r = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return Some(i);
        }
        r -= w;
    }
    None
}

pub fn pick_uniform<R: Rng + ?Sized>(items: &[usize], rng: &mut R) -> Option<usize> {
    if items.is_empty() {
        return None;
    }
    items.get(rng.random_range(0..items.len())).copied()
}

/// True with probability `percent`/100.
pub fn roll<R: Rng + ?Sized>(percent: f64, rng: &mut R) -> bool {
    if percent >= 100.0 {
        return true;
    }
    if percent.is_nan() || percent <= 0.0 {
        return false;
    }
    rng.random::<f64>() * 100.0 < percent
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bookinfo_snapshot, objects_from_yaml};
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::json;

    fn req<'a>(authority: &'a str, path: &'a str, headers: &'a Headers) -> RequestView<'a> {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        RequestView {
            method: "GET",
            authority,
            path,
            query,
            headers,
            scheme: "http",
        }
    }

    fn version_of(snap: &MeshSnapshot, o: &Outcome) -> String {
        match o {
            Outcome::Forward(f) => snap.pods[f.endpoint]
                .meta
                .labels
                .get("version")
                .cloned()
                .unwrap_or_default(),
            Outcome::Local(l) => format!("{}{}", l.status, l.flags),
            Outcome::Unreachable => "unreachable".into(),
        }
    }

    fn mesh_source(labels: &Labels) -> SourceCtx<'_> {
        SourceCtx {
            namespace: "demo",
            labels,
        }
    }

    #[test]
    fn header_rule_then_default() {
        let snap = bookinfo_snapshot(&["virtual-service-reviews-test-v2.yaml"]);
        let mut rng = StdRng::seed_from_u64(1);
        let labels = Labels::new();
        let jason = Headers::from_pairs([("end-user", "jason")]);
        let other = Headers::from_pairs([("end-user", "alice")]);
        for _ in 0..50 {
            let a = route_mesh(
                &snap,
                &mesh_source(&labels),
                &req("reviews:9080", "/reviews/0", &jason),
                &mut rng,
            );
            assert_eq!(version_of(&snap, &a), "v2");
            let b = route_mesh(
                &snap,
                &mesh_source(&labels),
                &req("reviews:9080", "/reviews/0", &other),
                &mut rng,
            );
            assert_eq!(version_of(&snap, &b), "v1");
        }
    }

    #[test]
    fn no_virtual_service_spreads_over_all_versions() {
        let snap = bookinfo_snapshot(&[]);
        let mut rng = StdRng::seed_from_u64(2);
        let labels = Labels::new();
        let h = Headers::new();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let o = route_mesh(
                &snap,
                &mesh_source(&labels),
                &req("reviews:9080", "/reviews/0", &h),
                &mut rng,
            );
            if let Outcome::Forward(f) = &o {
                assert_eq!(
                    f.cluster.outbound_name(),
                    "outbound|9080||reviews.demo.svc.cluster.local"
                );
                assert_eq!(f.operation, "reviews.demo.svc.cluster.local:9080/*");
            }
            seen.insert(version_of(&snap, &o));
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec!["v1", "v2", "v3"]);
    }

    #[test]
    fn unknown_subset_is_nc_and_empty_subset_is_uh() {
        let mut objs = objects_from_yaml(include_str!(
            "../../tests/fixtures/istio/bookinfo/platform/kube/bookinfo.yaml"
        ));
        objs.push(
            json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "demo"},
            "spec": {"hosts": ["reviews"], "http": [
                {"match": [{"headers": {"x-test": {"exact": "nc"}}}],
                 "route": [{"destination": {"host": "reviews", "subset": "v9"}}]},
                {"route": [{"destination": {"host": "reviews", "subset": "v4"}}]}]}}),
        );
        objs.push(
            json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "reviews", "namespace": "demo"},
            "spec": {"host": "reviews", "subsets": [{"name": "v4", "labels": {"version": "v4"}}]}}),
        );
        let snap = super::super::testing::snapshot_with_ready_pods(objs, "demo");
        let mut rng = StdRng::seed_from_u64(3);
        let labels = Labels::new();
        let h = Headers::new();
        let o = route_mesh(
            &snap,
            &mesh_source(&labels),
            &req("reviews:9080", "/", &h),
            &mut rng,
        );
        assert_eq!(version_of(&snap, &o), "503UH");
        let nc = Headers::from_pairs([("x-test", "nc")]);
        let o = route_mesh(
            &snap,
            &mesh_source(&labels),
            &req("reviews:9080", "/", &nc),
            &mut rng,
        );
        assert_eq!(version_of(&snap, &o), "503NC");
    }

    #[test]
    fn ingress_follows_bookinfo_gateway() {
        let snap = bookinfo_snapshot(&["bookinfo-gateway.yaml"]);
        let mut rng = StdRng::seed_from_u64(4);
        let h = Headers::new();
        let r = route_ingress(
            &snap,
            &req("anything.example:8080", "/productpage?u=normal", &h),
            &mut rng,
        );
        assert_eq!(
            r.via,
            IngressVia::IstioGateway {
                namespace: "demo".into(),
                name: "bookinfo-gateway".into()
            }
        );
        match &r.outcome {
            Outcome::Forward(f) => {
                assert_eq!(f.cluster.service_name, "productpage");
                assert_eq!(
                    f.operation,
                    "productpage.demo.svc.cluster.local:9080/productpage"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        match route_ingress(&snap, &req("x", "/static/css/a.css", &h), &mut rng).outcome {
            Outcome::Forward(f) => assert_eq!(
                f.operation,
                "productpage.demo.svc.cluster.local:9080/static*"
            ),
            other => panic!("unexpected {other:?}"),
        }
        let nr = route_ingress(&snap, &req("x", "/nope", &h), &mut rng);
        assert!(matches!(
            nr.outcome,
            Outcome::Local(Local {
                status: 404,
                flags: "NR",
                ..
            })
        ));
    }

    #[test]
    fn gateway_api_ingress_and_gamma_weights() {
        let mut objs = objects_from_yaml(include_str!(
            "../../tests/fixtures/istio/bookinfo/platform/kube/bookinfo.yaml"
        ));
        objs.extend(objects_from_yaml(include_str!(
            "../../tests/fixtures/mesh/bookinfo-versions.yaml"
        )));
        objs.extend(objects_from_yaml(include_str!(
            "../../tests/fixtures/istio/bookinfo/gateway-api/bookinfo-gateway.yaml"
        )));
        objs.extend(objects_from_yaml(include_str!(
            "../../tests/fixtures/istio/bookinfo/gateway-api/route-reviews-90-10.yaml"
        )));
        let snap = super::super::testing::snapshot_with_ready_pods(objs, "demo");
        let mut rng = StdRng::seed_from_u64(5);
        let h = Headers::new();
        let r = route_ingress(&snap, &req("localhost", "/productpage", &h), &mut rng);
        assert!(matches!(r.via, IngressVia::KubeGateway { .. }));
        assert!(matches!(r.outcome, Outcome::Forward(_)));
        let labels = Labels::new();
        let mut v2 = 0;
        for _ in 0..1000 {
            let o = route_mesh(
                &snap,
                &mesh_source(&labels),
                &req("reviews:9080", "/reviews/0", &h),
                &mut rng,
            );
            match version_of(&snap, &o).as_str() {
                "v2" => v2 += 1,
                "v1" => {}
                other => panic!("unexpected {other}"),
            }
        }
        // p = 0.1, N = 1000: 5 standard deviations is ±0.047.
        let share = f64::from(v2) / 1000.0;
        assert!(
            (share - 0.1).abs() < 5.0 * (0.1f64 * 0.9 / 1000.0).sqrt(),
            "{share}"
        );
    }

    #[test]
    fn gateway_api_prefix_is_element_wise() {
        assert!(path_prefix_matches("/static", "/static"));
        assert!(path_prefix_matches("/static/", "/static/a.css"));
        assert!(!path_prefix_matches("/static", "/staticfoo"));
        assert!(path_prefix_matches("/", "/anything"));
    }

    #[test]
    fn cookie_user_agent_query_and_method_matches() {
        let mut objs = objects_from_yaml(include_str!(
            "../../tests/fixtures/istio/bookinfo/platform/kube/bookinfo.yaml"
        ));
        objs.extend(objects_from_yaml(include_str!(
            "../../tests/fixtures/istio/bookinfo/networking/destination-rule-all.yaml"
        )));
        objs.push(json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "demo"},
            "spec": {"hosts": ["reviews.demo.svc.cluster.local"], "http": [
                {"match": [{"headers": {"cookie": {"regex": "^(.*?;)?(user=jason)(;.*)?$"}}}],
                 "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
                {"match": [{"headers": {"user-agent": {"regex": ".*Android.*"}}},
                           {"queryParams": {"canary": {"exact": "yes"}}, "method": {"exact": "GET"}}],
                 "route": [{"destination": {"host": "reviews", "subset": "v3"}}]},
                {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}}));
        let snap = super::super::testing::snapshot_with_ready_pods(objs, "demo");
        let mut rng = StdRng::seed_from_u64(6);
        let labels = Labels::new();
        let src = mesh_source(&labels);
        // Istio's documented cookie regex: `user=jason` first or right after a `;` (note
        // that "a=1; user=jason", with the usual space, would not match it — as in Envoy).
        let cookie = Headers::from_pairs([("Cookie", "user=jason; session=1")]);
        let android = Headers::from_pairs([("User-Agent", "Mozilla/5.0 (Linux; Android 14)")]);
        let none = Headers::new();
        assert_eq!(
            version_of(
                &snap,
                &route_mesh(&snap, &src, &req("reviews", "/", &cookie), &mut rng)
            ),
            "v2"
        );
        assert_eq!(
            version_of(
                &snap,
                &route_mesh(&snap, &src, &req("reviews", "/", &android), &mut rng)
            ),
            "v3"
        );
        assert_eq!(
            version_of(
                &snap,
                &route_mesh(
                    &snap,
                    &src,
                    &req("reviews", "/?canary=yes", &none),
                    &mut rng
                )
            ),
            "v3"
        );
        assert_eq!(
            version_of(
                &snap,
                &route_mesh(&snap, &src, &req("reviews", "/?canary=no", &none), &mut rng)
            ),
            "v1"
        );
    }

    #[test]
    fn weighted_pick_is_proportional_and_handles_zero() {
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(pick_weighted(&[0, 0], &mut rng), None);
        assert_eq!(pick_weighted(&[0, 5], &mut rng), Some(1));
        let n = 20_000;
        let hits = (0..n)
            .filter(|_| pick_weighted(&[7, 3], &mut rng) == Some(1))
            .count();
        let p = hits as f64 / n as f64;
        assert!((p - 0.3).abs() < 5.0 * (0.3f64 * 0.7 / n as f64).sqrt());
    }

    #[test]
    fn mirror_percentage_zero_and_hundred() {
        let mut rng = StdRng::seed_from_u64(8);
        assert!((0..100).all(|_| roll(100.0, &mut rng)));
        assert!((0..100).all(|_| !roll(0.0, &mut rng)));
    }
}
