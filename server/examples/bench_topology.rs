//! Benchmark of the Traffic Management graph on synthetic meshes, in two modes.
//!
//! **Build mode** (default): generates meshes of 100, 1,000 and 5,000 services as
//! Prometheus would answer the graph's four instant queries (`/api/v1/query` vectors with
//! Istio's labels; one to three versions per service, every workload calling two or three
//! other services, a share of callees without sidecar that only the caller's proxy
//! reports, caller-side timeouts the callee never saw, a share of 5xx), then prints for
//! each the rows and bytes of the answers, the median time to parse them from their
//! bytes (`metrics::parse_response_bytes`, what the server does) and, for comparison,
//! through a `serde_json::Value` tree (`metrics::parse_response`), the median time to
//! build the graph (`domain::topology::build_graph`) without and with a cluster
//! inventory of the same services, and the node and edge counts. It also prints how many
//! rows the same traffic made before the queries were aggregated by edge (one per
//! response code, flags and reporter).
//!
//! ```text
//! cargo run --release -p sluice-server --example bench_topology [-- --runs 7 --sizes 100,1000,5000]
//! ```
//!
//! **Serve mode**: a minimal Prometheus-compatible HTTP API answering the synthetic mesh
//! for every query on project `bench` (namespace `bench`), so the console draws it in the
//! browser benchmark:
//!
//! ```text
//! cargo run --release -p sluice-server --example bench_topology -- --serve 127.0.0.1:9391 --services 1000 --project bench
//! sluice --prometheus-url http://127.0.0.1:9391     # then open Traffic Management, project "bench"
//! ```
//!
//! It serves what Sluice calls: `/-/ready` (the status check), `/api/v1/status/buildinfo`,
//! `/api/v1/query` (the graph's four queries, recognised by their exact text for every
//! window the page offers; anything else gets an empty vector) and `/api/v1/query_range`
//! (a clicked item's charts: smooth synthetic curves per series the query groups by),
//! and `POST /fixture/grow`, which adds one service calling into the mesh (how the
//! browser tests see a large graph change between refreshes).
//! Queries that do not name the project get an empty answer, as Prometheus gives for a
//! namespace without traffic. The `bench` namespace does not exist in the cluster, so the
//! graph is built without inventory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use sluice_app::api::topology::WINDOWS;
use sluice_app::domain::applications::{ProjectInventory, ServiceInfo, WorkloadInfo};
use sluice_app::domain::metrics::{Series, parse_response, parse_response_bytes};
use sluice_app::domain::projects::Project;
use sluice_app::domain::topology::{
    EDGE_LABEL, EDGE_PARTS, GraphInputs, PART_SEPARATOR, Thresholds, build_graph, errors_query,
    latency_to_service_query, latency_to_workload_query, requests_query, service_graph,
};

/// Evaluation time of the synthetic answers.
const AT: f64 = 1_760_000_000.0;

/// A caller: workload, app, version; `None` = unknown.
type Caller = Option<(String, String, String)>;

/// One caller → service version hop of the mesh.
struct Hop {
    source: Caller,
    callee: usize,
    version: usize,
    rps: f64,
}

/// A synthetic mesh of `services` services in `ns`, plus `extra` services added later
/// (`/fixture/grow`) that call into the mesh without rewiring it: their callees are
/// picked among the first `services`, and nothing calls them.
struct Mesh {
    ns: String,
    services: usize,
    extra: usize,
}

/// The four answers, as Prometheus serialises them.
struct Answers {
    requests: Value,
    errors: Value,
    to_service: Value,
    to_workload: Value,
    /// Rows the per-code, both-reporter queries returned for the same traffic.
    legacy_rows: usize,
}

impl Mesh {
    /// Versions of service `i`: one to three.
    fn versions(&self, i: usize) -> usize {
        1 + (i * 7 + 3) % 3
    }

    fn name(i: usize) -> String {
        format!("svc-{i:05}")
    }

    /// Every 23rd service runs without sidecar: only its callers' proxies report it.
    fn has_sidecar(i: usize) -> bool {
        i % 23 != 5
    }

    /// Share of a hop's requests answered 5xx.
    fn error_share(i: usize) -> f64 {
        match i % 14 {
            0 => 0.2,
            7 => 0.005,
            _ => 0.0,
        }
    }

    /// Callers of every 11th service give up on 1 % of their requests (504, flag UT),
    /// which only their own proxy reports.
    fn timeout_share(i: usize) -> f64 {
        if i % 11 == 3 { 0.01 } else { 0.0 }
    }

    /// Services that the workloads of service `i` call: two or three others, spread
    /// over the mesh (the first services are the entry points the ingress calls).
    fn callees(&self, i: usize) -> Vec<usize> {
        let n = self.services;
        if n < 2 {
            return Vec::new();
        }
        let fan = 2 + i % 2;
        (1..=fan)
            .map(|k| (i * 31 + k * 17 + 1) % n)
            .filter(|j| *j != i)
            .collect()
    }

    fn entry_points(&self) -> usize {
        (self.services / 50).max(1)
    }

    /// Every caller → service version hop with its rate.
    fn hops(&self) -> Vec<Hop> {
        let mut out = Vec::new();
        let gateway = Some((
            "istio-ingressgateway".to_string(),
            "istio-ingressgateway".to_string(),
            "latest".to_string(),
        ));
        for e in 0..self.entry_points() {
            for v in 1..=self.versions(e) {
                out.push(Hop {
                    source: gateway.clone(),
                    callee: e,
                    version: v,
                    rps: 20.0 / v as f64,
                });
            }
        }
        for i in 0..self.services + self.extra {
            for v in 1..=self.versions(i) {
                let wl = format!("{}-v{v}", Self::name(i));
                for c in self.callees(i) {
                    for cv in 1..=self.versions(c) {
                        out.push(Hop {
                            source: Some((wl.clone(), Self::name(i), format!("v{v}"))),
                            callee: c,
                            version: cv,
                            rps: 0.5 + ((i + c + cv) % 10) as f64 / 4.0,
                        });
                    }
                }
            }
        }
        out
    }

    /// (namespace, workload, app, version) of a caller.
    fn source_labels<'a>(&'a self, src: &'a Caller) -> (&'a str, &'a str, &'a str, &'a str) {
        match src {
            Some((wl, app, ver)) => {
                let ns = if wl == "istio-ingressgateway" {
                    "istio-system"
                } else {
                    self.ns.as_str()
                };
                (ns, wl.as_str(), app.as_str(), ver.as_str())
            }
            None => ("unknown", "unknown", "unknown", "unknown"),
        }
    }

    /// The labels of a row of `requests_query`'s answer, for one hop as `reporter` saw
    /// it: the reporter, and the edge's labels packed in the order of `EDGE_PARTS`.
    fn edge_labels(&self, reporter: &str, hop: &Hop) -> Value {
        let (sns, swl, sapp, sver) = self.source_labels(&hop.source);
        let svc = Self::name(hop.callee);
        let ns = self.ns.as_str();
        let (host, wl, ver) = (
            format!("{svc}.{ns}.svc.cluster.local"),
            format!("{svc}-v{}", hop.version),
            format!("v{}", hop.version),
        );
        let parts = [
            sns, swl, sapp, sver, sapp, sver, ns, &svc, &host, ns, &wl, &svc, &ver, &svc, &ver,
            "http",
        ];
        debug_assert_eq!(parts.len(), EDGE_PARTS.len());
        packed(reporter, &parts)
    }

    /// What Prometheus answers to the graph's queries for this traffic: the callee's
    /// sidecar reports what reached it (its row wins); the caller's proxy (in the
    /// project) reports the rest: everything sent to a callee without sidecar, and the
    /// timeouts it gave up on.
    fn answers(&self) -> Answers {
        let mut requests = Vec::new();
        let mut errors = Vec::new();
        let mut to_service = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut legacy_rows = 0;
        let row =
            |metric: Value, v: f64| json!({"metric": metric, "value": [AT, format!("{v:.4}")]});
        for hop in self.hops() {
            let c = hop.callee;
            let (sns, swl, _, _) = self.source_labels(&hop.source);
            let caller_reports = sns == self.ns;
            let (err, timeout) = (Self::error_share(c), Self::timeout_share(c));
            let codes = 1 + usize::from(err > 0.0);
            legacy_rows += codes
                * (usize::from(Self::has_sidecar(c)) + usize::from(caller_reports))
                + usize::from(caller_reports && timeout > 0.0);
            let reporter = if Self::has_sidecar(c) {
                "destination"
            } else if caller_reports {
                "source"
            } else {
                continue;
            };
            requests.push(row(self.edge_labels(reporter, &hop), hop.rps));
            if err > 0.0 {
                errors.push(row(self.edge_labels(reporter, &hop), hop.rps * err));
            }
            if reporter == "destination" && caller_reports && timeout > 0.0 {
                let extra = hop.rps * timeout;
                requests.push(row(self.edge_labels("source", &hop), extra));
                errors.push(row(self.edge_labels("source", &hop), extra));
            }
            if seen.insert((sns.to_string(), swl.to_string(), c)) {
                to_service.push(row(
                    // As LATENCY_TO_SERVICE_PARTS orders them.
                    packed(reporter, &[sns, swl, &self.ns, &Self::name(c)]),
                    (5 + c % 120) as f64,
                ));
            }
        }
        let mut to_workload = Vec::new();
        for i in 0..self.services {
            let reporter = if Self::has_sidecar(i) {
                "destination"
            } else {
                "source"
            };
            for v in 1..=self.versions(i) {
                to_workload.push(row(
                    // As LATENCY_TO_WORKLOAD_PARTS orders them.
                    packed(
                        reporter,
                        &[
                            &self.ns,
                            &Self::name(i),
                            &self.ns,
                            &format!("{}-v{v}", Self::name(i)),
                        ],
                    ),
                    (4 + (i + v) % 100) as f64,
                ));
            }
        }
        Answers {
            requests: vector(requests),
            errors: vector(errors),
            to_service: vector(to_service),
            to_workload: vector(to_workload),
            legacy_rows,
        }
    }

    /// What the cluster would list for the same services.
    fn inventory(&self) -> ProjectInventory {
        let label = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        let mut services = Vec::new();
        let mut workloads = Vec::new();
        for i in 0..self.services {
            let name = Self::name(i);
            services.push(ServiceInfo {
                name: name.clone(),
                labels: label("app", &name),
                selector: label("app", &name),
                ports: vec!["9080/TCP".into()],
            });
            for v in 1..=self.versions(i) {
                let mut pod_labels = label("app", &name);
                pod_labels.insert("version".into(), format!("v{v}"));
                let sidecar = i32::from(Self::has_sidecar(i));
                workloads.push(WorkloadInfo {
                    name: format!("{name}-v{v}"),
                    pod_labels,
                    images: vec![format!("example/{name}:v{v}")],
                    desired: 1,
                    ready: 1,
                    updated: 1,
                    available: 1,
                    restarts: 0,
                    failure: None,
                    pods_with_sidecar: sidecar,
                    pods: 1,
                    created: None,
                    age_seconds: None,
                });
            }
        }
        ProjectInventory {
            project: Project {
                name: self.ns.clone(),
                phase: "Active".into(),
                sidecar_injection: true,
                dataplane: Default::default(),
            },
            services,
            workloads,
            routes: Vec::new(),
            trace_sampling: None,
        }
    }
}

/// A row's labels as the graph's queries answer them: `reporter` and the packed `edge`.
fn packed(reporter: &str, parts: &[&str]) -> Value {
    let sep = PART_SEPARATOR.to_string();
    json!({"reporter": reporter, EDGE_LABEL: parts.join(&sep)})
}

fn vector(result: Vec<Value>) -> Value {
    json!({"status": "success", "data": {"resultType": "vector", "result": result}})
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn bench(sizes: &[usize], runs: usize) {
    println!(
        "{:>8} {:>7} {:>8} {:>5} {:>6} {:>6} {:>8} {:>9} {:>8} {:>8} {:>7} {:>7} {:>8} {:>6} {:>11}",
        "services",
        "rows",
        "old rows",
        "MB",
        "nodes",
        "edges",
        "parse ms",
        "via Value",
        "build ms",
        "+inv ms",
        "free ms",
        "json ms",
        "total ms",
        "svc ms",
        "svc n/e"
    );
    for &n in sizes {
        let mesh = Mesh {
            ns: "bench".into(),
            services: n,
            extra: 0,
        };
        let a = mesh.answers();
        // Prometheus answers arrive as bytes: parse them as the server does.
        let bodies: Vec<Vec<u8>> = [&a.requests, &a.errors, &a.to_service, &a.to_workload]
            .iter()
            .map(|v| v.to_string().into_bytes())
            .collect();
        let bytes: usize = bodies.iter().map(Vec::len).sum();
        let inventory = mesh.inventory();
        let mut t_parse = Vec::new();
        let mut t_value = Vec::new();
        let mut t_build = Vec::new();
        let mut t_inv = Vec::new();
        let mut t_free = Vec::new();
        let mut t_json = Vec::new();
        let mut t_svc = Vec::new();
        let mut counts = (0, 0, 0);
        let mut svc_counts = (0, 0);
        for _ in 0..runs {
            let t = Instant::now();
            let via_value: Vec<Vec<Series>> = bodies
                .iter()
                .map(|b| {
                    let v: Value = serde_json::from_slice(b).expect("valid JSON");
                    parse_response(&v).expect("a vector answer")
                })
                .collect();
            t_value.push(ms(t));
            drop(via_value);
            let t = Instant::now();
            let parsed: Vec<Vec<Series>> = bodies
                .iter()
                .map(|b| parse_response_bytes(b).expect("a vector answer"))
                .collect();
            t_parse.push(ms(t));
            for with_inventory in [false, true] {
                let t = Instant::now();
                let g = build_graph(GraphInputs {
                    project: "bench",
                    window_minutes: 5,
                    at: AT,
                    requests: &parsed[0],
                    errors: &parsed[1],
                    latency_to_service: &parsed[2],
                    latency_to_workload: &parsed[3],
                    inventory: with_inventory.then_some(&inventory),
                    routing: &[],
                    jobs: &[],
                    thresholds: Thresholds::default(),
                });
                if with_inventory {
                    t_inv.push(ms(t));
                    // What the server function answers the page with.
                    let t = Instant::now();
                    let json = serde_json::to_vec(&g).expect("a graph serialises");
                    t_json.push(ms(t));
                    std::hint::black_box(json);
                    // The service graph the page shows from 500 services on.
                    let t = Instant::now();
                    let s = service_graph(&g);
                    t_svc.push(ms(t));
                    svc_counts = (s.nodes.len(), s.edges.len());
                } else {
                    t_build.push(ms(t));
                }
                counts = (
                    parsed.iter().map(Vec::len).sum(),
                    g.nodes.len(),
                    g.edges.len(),
                );
                std::hint::black_box(g);
            }
            // The server drops the parsed answers once the graph is built.
            let t = Instant::now();
            drop(parsed);
            t_free.push(ms(t));
        }
        let (parse, inv, free, json) = (
            median(t_parse),
            median(t_inv),
            median(t_free),
            median(t_json),
        );
        println!(
            "{:>8} {:>7} {:>8} {:>5.1} {:>6} {:>6} {:>8.1} {:>9.1} {:>8.1} {:>8.1} {:>7.1} {:>7.1} {:>8.1} {:>6.1} {:>11}",
            n,
            counts.0,
            a.legacy_rows,
            bytes as f64 / 1e6,
            counts.1,
            counts.2,
            parse,
            median(t_value),
            median(t_build),
            inv,
            free,
            json,
            parse + inv + free + json,
            median(t_svc),
            format!("{}/{}", svc_counts.0, svc_counts.1)
        );
    }
    println!(
        "(median of {runs} runs. rows, MB: the four answers. old rows: request rows of the same \
         traffic grouped by response code and reporter, as the queries did before. parse: bytes \
         to series, as the server does; via Value: the same through a serde_json::Value tree. \
         build: without inventory; +inv: with the cluster inventory. free: dropping the parsed \
         answers. json: serialising the graph for the page. total: parse + build with \
         inventory + free + json, the server's CPU time besides Prometheus and the network. \
         svc: deriving the service graph from the versioned one, and its nodes/edges.)"
    );
}

/// The pre-rendered answers of the serve mode, by the exact query text they answer.
struct Served {
    project: String,
    /// Query text → index in `bodies`.
    queries: BTreeMap<String, usize>,
    /// The mesh and its four answers, replaced by `/fixture/grow`.
    state: std::sync::RwLock<(Mesh, [String; 4])>,
    services: usize,
}

fn bodies(mesh: &Mesh) -> [String; 4] {
    let a = mesh.answers();
    [&a.requests, &a.errors, &a.to_service, &a.to_workload].map(Value::to_string)
}

/// `POST /fixture/grow`: one more service, calling two or three of the first ones (the
/// browser tests' refresh of a large graph). Answers the new service's name.
async fn grow(State(s): State<Arc<Served>>) -> impl IntoResponse {
    let mut state = s.state.write().unwrap_or_else(|e| e.into_inner());
    state.0.extra += 1;
    state.1 = bodies(&state.0);
    Mesh::name(state.0.services + state.0.extra - 1)
}

fn json_response(body: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

async fn instant(
    State(s): State<Arc<Served>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> impl IntoResponse {
    let query = q.get("query").map(String::as_str).unwrap_or_default();
    json_response(match s.queries.get(query) {
        Some(i) => s.state.read().unwrap_or_else(|e| e.into_inner()).1[*i].clone(),
        None => vector(Vec::new()).to_string(),
    })
}

/// Smooth curves for a clicked item's charts: one series, or one per version when the
/// query groups by version; values shaped like what the query asks (ratio, ms, rate).
async fn range(
    State(s): State<Arc<Served>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> impl IntoResponse {
    let query = q.get("query").cloned().unwrap_or_default();
    let num = |k: &str, d: f64| {
        q.get(k)
            .and_then(|v| v.trim_end_matches('s').parse::<f64>().ok())
            .unwrap_or(d)
    };
    let (end, start, step) = (
        num("end", AT),
        num("start", AT - 300.0),
        num("step", 5.0).max(1.0),
    );
    if !query.contains(&format!("\"{}\"", s.project)) {
        return json_response(
            json!({"status": "success", "data": {"resultType": "matrix", "result": []}})
                .to_string(),
        );
    }
    let versions: Vec<Option<String>> = if query.contains("by (destination_version)") {
        (1..=3.min(s.services.max(1)))
            .map(|v| Some(format!("v{v}")))
            .collect()
    } else {
        vec![None]
    };
    let (base, swing) = if query.starts_with("histogram_quantile(0.5,") {
        (20.0, 5.0)
    } else if query.starts_with("histogram_quantile(0.95,") {
        (60.0, 15.0)
    } else if query.starts_with("histogram_quantile") {
        (110.0, 30.0)
    } else if query.starts_with("(1 -") {
        (0.985, 0.01)
    } else {
        (12.0, 3.0)
    };
    let result: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let mut values = Vec::new();
            let mut t = start;
            while t <= end {
                let y = base / (k + 1) as f64 + swing * ((t / 60.0) + k as f64).sin();
                values.push(json!([t, format!("{y:.4}")]));
                t += step;
            }
            let metric = match v {
                Some(v) => json!({"destination_version": v}),
                None => json!({}),
            };
            json!({"metric": metric, "values": values})
        })
        .collect();
    json_response(
        json!({"status": "success", "data": {"resultType": "matrix", "result": result}})
            .to_string(),
    )
}

async fn serve(addr: SocketAddr, services: usize, project: String) -> anyhow::Result<()> {
    let mesh = Mesh {
        ns: project.clone(),
        services,
        extra: 0,
    };
    let answers = bodies(&mesh);
    let mut queries = BTreeMap::new();
    for minutes in WINDOWS {
        for (i, query) in [
            requests_query(&project, minutes),
            errors_query(&project, minutes),
            latency_to_service_query(&project, minutes),
            latency_to_workload_query(&project, minutes),
        ]
        .into_iter()
        .enumerate()
        {
            queries.insert(query, i);
        }
    }
    let served = Arc::new(Served {
        project: project.clone(),
        queries,
        state: std::sync::RwLock::new((mesh, answers)),
        services,
    });
    let app = Router::new()
        .route("/-/ready", get(|| async { "Prometheus Server is Ready.\n" }))
        .route("/-/healthy", get(|| async { "Prometheus Server is Healthy.\n" }))
        .route(
            "/api/v1/status/buildinfo",
            get(|| async {
                json_response(json!({"status": "success", "data": {"version": "bench-topology", "revision": "synthetic"}}).to_string())
            }),
        )
        .route("/api/v1/query", get(instant).post(instant))
        .route("/api/v1/query_range", get(range).post(range))
        .route("/fixture/grow", axum::routing::post(grow))
        .with_state(served);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "synthetic Prometheus for project \"{project}\" ({services} services) on http://{}; \
         run: sluice --prometheus-url http://{}",
        listener.local_addr()?,
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(addr) = arg(&args, "--serve") {
        let addr: SocketAddr = addr.parse().map_err(|e| {
            anyhow::anyhow!("--serve {addr}: not an address like 127.0.0.1:9391 ({e})")
        })?;
        let services = match arg(&args, "--services") {
            Some(s) => s
                .parse()
                .map_err(|e| anyhow::anyhow!("--services {s}: not a number ({e})"))?,
            None => 1000,
        };
        let project = arg(&args, "--project").unwrap_or_else(|| "bench".into());
        return serve(addr, services, project).await;
    }
    let runs = match arg(&args, "--runs") {
        Some(r) => r
            .parse::<usize>()
            .map_err(|e| anyhow::anyhow!("--runs {r}: not a number ({e})"))?
            .max(1),
        None => 7,
    };
    let sizes: Vec<usize> = match arg(&args, "--sizes") {
        Some(s) => s
            .split(',')
            .map(|x| x.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|e| {
                anyhow::anyhow!("--sizes {s}: expected numbers like 100,1000,5000 ({e})")
            })?,
        None => vec![100, 1000, 5000],
    };
    bench(&sizes, runs);
    Ok(())
}
