//! The sandbox's service mesh: Bookinfo traffic routed by the Istio and Gateway API
//! objects in the sandbox, Istio's standard metrics for a real Prometheus to scrape, and
//! Envoy-style traces behind the Jaeger query API.
//!
//! No Envoy or application runs: a request is simulated hop by hop. Routing follows
//! what Envoy does with the configuration Istio would generate (`routing`), each pod
//! behaves like the Bookinfo service its image names (`bookinfo`), and every proxy on
//! the way reports what a real sidecar would (`metrics`, `traces`). Because the console
//! reaches all of this only through the wire protocols — an HTTP ingress, `/metrics`,
//! the Jaeger API — the same client code works against a real cluster.
//!
//! # Wiring (what the server does)
//!
//! ```ignore
//! use sluice_sandbox::mesh::{Mesh, MeshConfig, LoadConfig, snapshot::MeshSnapshot};
//! let mesh = Mesh::new(MeshConfig::default());
//! // whenever the cluster changes (the objects exactly as the API returns them):
//! mesh.update(MeshSnapshot::from_objects(objects));
//! // serve, each on its own loopback address:
//! axum::serve(ingress_listener, mesh.ingress_router());   // --sandbox-ingress-addr
//! axum::serve(metrics_listener, mesh.metrics_router());   // --sandbox-metrics-addr
//! axum::serve(jaeger_listener, mesh.jaeger_router());     // --sandbox-jaeger-addr
//! // synthetic users (needs a tokio runtime):
//! mesh.start_load(LoadConfig { rps: 2.0, ..LoadConfig::default() })?;
//! mesh.load_status(); mesh.stop_load();
//! ```
//!
//! [`Mesh`] is a cheap `Clone` handle (`Arc` inside), `Send + Sync`. Dropping the last
//! handle stops the load generator. [`Mesh::handle_ingress`] is synchronous and fast (a
//! few tens of µs for a Bookinfo page): it returns the simulated latency in
//! [`IngressResponse::simulated`], which the HTTP ingress waits before answering (see
//! [`MeshConfig::realtime`]) and in-process callers may ignore.
//!
//! # Conventions users can rely on (documented in the modules)
//! - Routing semantics and their edge cases: [`routing`].
//! - Which version a pod is, stars, latency profiles, and the faulty-version convention
//!   (`SLUICE_FAULT_ERROR_RATE`, `SLUICE_FAULT_DELAY_MS`, images containing `faulty` /
//!   `slow`): [`bookinfo`].
//! - Metric names, labels, buckets and the cardinality bound: [`metrics`].
//! - Span shape, the trace store bound and the Jaeger endpoints: [`traces`], [`jaeger`].
//! - The product page carries `<div class="col reviews" data-reviews-version="v2"
//!   data-reviews-pod="..." data-stars="black">` (or `data-reviews-version="unavailable"`)
//!   so tests and scripts can count versions without parsing the layout; ingress
//!   responses carry `x-sluice-trace-id` when the request was traced.
//!
//! # Bounds
//! Traces: `max_traces` (5000) × ≤128 spans. Metrics: `max_series` (1000) label sets.
//! Load: ≤ 200 rps, ≤ `ceil(rps) + burst` in flight. Ingress request bodies: 64 KiB.
//! Simulated waits in the HTTP ingress: ≤ 30 s.

pub mod bookinfo;
pub mod jaeger;
pub mod load;
pub mod metrics;
pub mod peer;
pub mod routing;
mod sim;
pub mod snapshot;
pub mod testing;
pub mod traces;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

pub use bookinfo::{LatencyProfile, Profiles};
pub use load::{LoadConfig, LoadError, LoadStatus, LoadTarget};
pub use snapshot::MeshSnapshot;

use metrics::MetricsRegistry;
use routing::{Headers, IngressVia, RequestView, route_ingress};
use sim::{Caller, Req, Sim, World};
use traces::{TraceRecord, TraceStore};

/// Largest ingress request body read (Bookinfo's login form is tiny).
pub const MAX_INGRESS_BODY: usize = 64 * 1024;
/// Longest simulated latency the HTTP ingress actually waits.
pub const MAX_REALTIME_WAIT: Duration = Duration::from_secs(30);

/// Mesh settings; `Default` is what the sandbox uses.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Seed for every random choice (routing, latency, errors, ids). `None` = from the
    /// OS. Tests seed it to get reproducible traffic.
    pub seed: Option<u64>,
    /// Share of ingress requests traced, 0..=1. Default 1.0: the store is bounded and a
    /// sandbox user wants to find the request they just made.
    pub trace_sample_rate: f64,
    /// Traces kept (oldest dropped). Default 5000.
    pub max_traces: usize,
    /// Distinct metric label sets kept. Default 1000.
    pub max_series: usize,
    pub profiles: Profiles,
    /// Whether the HTTP ingress waits the simulated latency before answering (default
    /// true), so a slow version feels slow in the browser.
    pub realtime: bool,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            seed: None,
            trace_sample_rate: 1.0,
            max_traces: 5000,
            max_series: 1000,
            profiles: Profiles::default(),
            realtime: true,
        }
    }
}

/// A request arriving at the ingress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngressRequest {
    pub method: String,
    /// The `Host` header (`host[:port]`); decides which Gateway/VirtualService applies.
    pub host: String,
    /// e.g. `/productpage?u=normal`.
    pub path_and_query: String,
    /// Header names in any case.
    pub headers: Vec<(String, String)>,
    /// Request body (form posts to `/login`); at most [`MAX_INGRESS_BODY`] is read.
    pub body: String,
}

impl IngressRequest {
    /// A plain `GET` with no headers.
    pub fn get(host: &str, path_and_query: &str) -> IngressRequest {
        IngressRequest {
            method: "GET".into(),
            host: host.into(),
            path_and_query: path_and_query.into(),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> IngressRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// The answer the ingress gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressResponse {
    pub status: u16,
    /// Lower-case names: `content-type`, `server`, `x-envoy-upstream-service-time`,
    /// `x-sluice-trace-id` (when traced), `location` / `set-cookie` (login, redirects).
    pub headers: Vec<(String, String)>,
    /// HTML for the product page; short text for errors.
    pub body: String,
    /// Latency the request would have had end to end.
    pub simulated: Duration,
    /// 32 hex digits, when the request was traced.
    pub trace_id: Option<String>,
}

impl IngressResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) struct Inner {
    config: MeshConfig,
    world: RwLock<Arc<World>>,
    rng: Mutex<StdRng>,
    metrics: Mutex<MetricsRegistry>,
    traces: Mutex<TraceStore>,
    load: Mutex<load::LoadSlot>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        lock(&self.load).stop();
    }
}

/// Poisoning only means another thread panicked mid-update of plain counters; the data
/// is still usable, and the mesh must keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The mesh handle. See the module docs for wiring.
#[derive(Clone)]
pub struct Mesh {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Mesh {
    pub fn new(config: MeshConfig) -> Mesh {
        let rng = match config.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_rng(&mut rand::rng()),
        };
        let world = World::new(MeshSnapshot::default(), &config.profiles);
        Mesh {
            inner: Arc::new(Inner {
                metrics: Mutex::new(MetricsRegistry::new(config.max_series)),
                traces: Mutex::new(TraceStore::new(config.max_traces)),
                world: RwLock::new(Arc::new(world)),
                rng: Mutex::new(rng),
                load: Mutex::new(load::LoadSlot::default()),
                config,
            }),
        }
    }

    pub fn config(&self) -> &MeshConfig {
        &self.inner.config
    }

    /// Replace the cluster view. Requests in flight finish on the old one. Metric series
    /// reported by sidecars of workloads that disappeared are dropped.
    pub fn update(&self, snapshot: MeshSnapshot) {
        let world = Arc::new(World::new(snapshot, &self.inner.config.profiles));
        lock(&self.inner.metrics).retain_workloads(&world.live_workloads);
        let mut w = self.inner.world.write().unwrap_or_else(|p| p.into_inner());
        *w = world;
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> MeshSnapshot {
        self.world().snapshot.clone()
    }

    fn world(&self) -> Arc<World> {
        self.inner
            .world
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A `Host` the current ingress configuration accepts: the first concrete host of a
    /// VirtualService bound to a Gateway, or of an HTTPRoute / listener, else
    /// `localhost` (which `*` hosts accept).
    pub fn ingress_host_hint(&self) -> String {
        let world = self.world();
        let s = &world.snapshot;
        let concrete =
            |h: &&String| !h.contains('*') && h.contains('.') && !h.ends_with(".svc.cluster.local");
        s.virtual_services
            .iter()
            .filter(|vs| vs.gateways.iter().any(|g| g != "mesh"))
            .flat_map(|vs| vs.hosts.iter())
            .chain(s.http_routes.iter().flat_map(|r| r.hostnames.iter()))
            .chain(
                s.kube_gateways
                    .iter()
                    .flat_map(|g| g.listeners.iter().filter_map(|l| l.hostname.as_ref())),
            )
            .find(concrete)
            .cloned()
            .unwrap_or_else(|| "localhost".into())
    }

    /// Simulate one request arriving at the ingress gateway, all the way down the
    /// Bookinfo call chain, recording metrics and (if sampled) a trace.
    pub fn handle_ingress(&self, req: IngressRequest) -> IngressResponse {
        let world = self.world();
        let config = &self.inner.config;
        let (seed, sample_roll, trace_id) = {
            let mut rng = lock(&self.inner.rng);
            let seed: u64 = rng.random();
            let sample_roll = rng.random::<f64>();
            let trace_id: u128 = rng.random::<u128>().max(1);
            (seed, sample_roll, trace_id)
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let mut headers =
            Headers::from_pairs(req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())));
        // Envoy at the edge makes up an x-request-id when the client sent none.
        let request_id = match headers.get("x-request-id") {
            Some(id) if !id.is_empty() => id.into_owned(),
            _ => {
                let id = uuid_v4(&mut rng);
                headers.set("x-request-id", id.clone());
                id
            }
        };
        let user_agent = headers
            .get("user-agent")
            .map_or_else(|| "-".to_string(), |v| v.into_owned());
        let authority = if req.host.is_empty() {
            headers
                .get("host")
                .map(|h| h.into_owned())
                .unwrap_or_default()
        } else {
            req.host.clone()
        };
        let pq = if req.path_and_query.is_empty() {
            "/"
        } else {
            req.path_and_query.as_str()
        };
        let (path, query) = pq.split_once('?').unwrap_or((pq, ""));
        let method = if req.method.is_empty() {
            "GET"
        } else {
            req.method.as_str()
        };
        let body: &str = if req.body.len() > MAX_INGRESS_BODY {
            req.body.get(..MAX_INGRESS_BODY).unwrap_or("")
        } else {
            &req.body
        };
        let view = RequestView {
            method,
            authority: &authority,
            path,
            query,
            headers: &headers,
            scheme: "http",
        };
        let routed = route_ingress(&world.snapshot, &view, &mut rng);
        // The gateway decides sampling: the Telemetry of the namespace whose Gateway took
        // the request (a project's own gateway, as in KubeSphere), else the mesh-wide one.
        let gateway_ns = match &routed.via {
            IngressVia::IstioGateway { namespace, .. }
            | IngressVia::KubeGateway { namespace, .. } => Some(namespace.as_str()),
            IngressVia::None => None,
        };
        let sampled = sample_roll
            < world
                .snapshot
                .sampling_for(gateway_ns, config.trace_sample_rate);
        let caller = Caller {
            peer: world.gateway_peer(&routed.via),
        };
        let start_us = now_us();
        let mut sim = Sim::new(&world, &config.profiles, rng, sampled);
        let wire = Req {
            method,
            authority: &authority,
            path,
            query,
            headers: &headers,
            body,
        };
        let ex = sim.exchange(&caller, routed.outcome, &wire, start_us, None, 0);
        {
            let mut m = lock(&self.inner.metrics);
            for s in &sim.samples {
                m.record(s);
            }
        }
        let mut trace_hex = None;
        if let Some(mut spans) = sim.spans.take()
            && !spans.is_empty()
        {
            spans.sort_by_key(|s| s.start_us);
            let trace = TraceRecord {
                trace_id,
                request_id: request_id.as_str().into(),
                user_agent: user_agent.as_str().into(),
                spans,
            };
            trace_hex = Some(trace.trace_id_hex());
            lock(&self.inner.traces).insert(trace);
        }
        // The gateway's own cost on top of what it observed upstream.
        let gateway_us = (config.profiles.proxy_ms.max(0.0) * 1000.0) as u64;
        let simulated = Duration::from_micros(ex.duration_us + gateway_us);
        let status = if ex.status == 0 { 503 } else { ex.status };
        let mut body = ex.body;
        if status == 404 && ex.flags == "NR" && body.is_empty() {
            // Envoy sends an empty body; a person opening the ingress deserves a hint.
            body = format!(
                "404 NR (no route): no Gateway + VirtualService or Gateway API Gateway + HTTPRoute in the \
                 sandbox matches host {authority:?} and path {path:?}.\n"
            );
        }
        let mut headers = vec![
            ("content-type".to_string(), ex.content_type.to_string()),
            ("server".to_string(), "istio-envoy".to_string()),
            (
                "x-envoy-upstream-service-time".to_string(),
                (ex.duration_us / 1000).to_string(),
            ),
        ];
        headers.extend(ex.headers);
        if let Some(t) = &trace_hex {
            headers.push(("x-sluice-trace-id".into(), t.clone()));
        }
        IngressResponse {
            status,
            headers,
            body,
            simulated,
            trace_id: trace_hex,
        }
    }

    /// The metrics exposition text (what `GET /metrics` returns).
    pub fn metrics_text(&self) -> String {
        lock(&self.inner.metrics).render()
    }

    /// Run `f` on the trace store (kept short: the store is locked meanwhile).
    pub fn with_traces<T>(&self, f: impl FnOnce(&TraceStore) -> T) -> T {
        f(&lock(&self.inner.traces))
    }

    /// Serves every path as the ingress gateway (`--sandbox-ingress-addr`).
    pub fn ingress_router(&self) -> Router {
        Router::new()
            .fallback(ingress_handler)
            .with_state(self.clone())
    }

    /// `GET /metrics` in Prometheus text format 0.0.4 (`--sandbox-metrics-addr`).
    pub fn metrics_router(&self) -> Router {
        Router::new()
            .route("/metrics", get(metrics_handler))
            .with_state(self.clone())
    }

    /// The Jaeger query API v1 (`--sandbox-jaeger-addr`); see [`jaeger`].
    pub fn jaeger_router(&self) -> Router {
        jaeger::router(self.clone())
    }

    /// Start (or restart with a new configuration) the load generator. Needs to be
    /// called from within a tokio runtime.
    pub fn start_load(&self, config: LoadConfig) -> Result<LoadStatus, LoadError> {
        let seed = lock(&self.inner.rng).random();
        let mut slot = lock(&self.inner.load);
        slot.start(Arc::downgrade(&self.inner), config, seed)?;
        Ok(slot.status())
    }

    /// Stop the load generator (in-flight HTTP requests finish on their own).
    pub fn stop_load(&self) -> LoadStatus {
        let mut slot = lock(&self.inner.load);
        slot.stop();
        slot.status()
    }

    pub fn load_status(&self) -> LoadStatus {
        lock(&self.inner.load).status()
    }
}

/// A random (version 4) UUID, the form Envoy uses for x-request-id.
fn uuid_v4<R: rand::Rng + ?Sized>(rng: &mut R) -> String {
    let b: u128 = rng.random();
    let b = (b & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{b:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn ingress_handler(State(mesh): State<Mesh>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_INGRESS_BODY).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
        }
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let resp = mesh.handle_ingress(IngressRequest {
        method: parts.method.as_str().to_string(),
        host,
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_string(),
        headers,
        body,
    });
    if mesh.inner.config.realtime {
        tokio::time::sleep(resp.simulated.min(MAX_REALTIME_WAIT)).await;
    }
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in resp.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            out.headers_mut().append(k, v);
        }
    }
    out
}

async fn metrics_handler(State(mesh): State<Mesh>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        mesh.metrics_text(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let mut rng = StdRng::seed_from_u64(1);
        let id = uuid_v4(&mut rng);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn mesh_is_send_sync() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Mesh>();
    }
}
