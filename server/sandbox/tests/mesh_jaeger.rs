//! Traces from the simulated mesh over the Jaeger query API, checked three ways: the
//! responses parse with the same strict parser we run over Jaeger's own fixtures
//! (tests/fixtures/mesh/jaeger, see NOTICE.md), their spans have the same keys and JSON
//! types as the fixture spans, and every span maps back to a pod that exists.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_sandbox::mesh::testing::{objects_from_yaml, with_ready_pods};
use sluice_sandbox::mesh::{IngressRequest, Mesh, MeshConfig, MeshSnapshot};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NS: &str = "demo-project";

// ---------------------------------------------------------------------------------------
// The parser: Jaeger's v1 JSON model, strict about unknown fields.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Envelope<T> {
    data: Option<T>,
    total: i64,
    limit: i64,
    offset: i64,
    errors: Option<Vec<ApiError>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ApiError {
    #[serde(default)]
    code: i64,
    msg: String,
    #[serde(default, rename = "traceID")]
    trace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Trace {
    #[serde(rename = "traceID")]
    trace_id: String,
    spans: Vec<Span>,
    processes: BTreeMap<String, Process>,
    warnings: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Span {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(default)]
    flags: Option<u32>,
    operation_name: String,
    references: Vec<Reference>,
    start_time: u64,
    duration: u64,
    tags: Vec<KeyValue>,
    logs: Vec<Log>,
    #[serde(rename = "processID")]
    process_id: String,
    warnings: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Reference {
    ref_type: String,
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyValue {
    key: String,
    #[serde(rename = "type")]
    kind: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Log {
    timestamp: u64,
    fields: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Process {
    service_name: String,
    tags: Vec<KeyValue>,
}

impl Span {
    fn tag(&self, key: &str) -> Option<&Value> {
        self.tags.iter().find(|t| t.key == key).map(|t| &t.value)
    }

    fn tag_str(&self, key: &str) -> &str {
        self.tag(key).and_then(Value::as_str).unwrap_or_default()
    }
}

fn check_types(tags: &[KeyValue]) {
    for t in tags {
        let ok = match t.kind.as_str() {
            "string" | "binary" => t.value.is_string(),
            "bool" => t.value.is_boolean() || t.value == "true" || t.value == "false",
            "int64" => t.value.is_i64() || t.value.is_u64() || t.value.is_string(),
            "float64" => t.value.is_number(),
            _ => false,
        };
        assert!(ok, "tag {} of type {} has value {}", t.key, t.kind, t.value);
    }
}

fn parse_trace(v: &Value) -> Trace {
    let t: Trace = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
    for s in &t.spans {
        check_types(&s.tags);
        assert!(
            t.processes.contains_key(&s.process_id),
            "unknown process {}",
            s.process_id
        );
        for r in &s.references {
            assert!(["CHILD_OF", "FOLLOWS_FROM"].contains(&r.ref_type.as_str()));
        }
    }
    for p in t.processes.values() {
        check_types(&p.tags);
    }
    t
}

fn fixture_json(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mesh/jaeger")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json")
}

/// Keys → JSON type names, recursively for the object shapes of a span.
fn shape(v: &Value) -> BTreeMap<String, &'static str> {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    v.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), kind(v))).collect())
        .unwrap_or_default()
}

#[test]
fn the_parser_accepts_jaegers_own_fixtures() {
    let env: Envelope<Vec<Value>> =
        serde_json::from_value(fixture_json("otlp2jaeger-out.json")).expect("envelope");
    for t in env.data.expect("data") {
        parse_trace(&t);
    }
    parse_trace(&fixture_json("ui_01.json"));
    parse_trace(&fixture_json("TraceGraph-testTrace.json"));
    // And rejects a field Jaeger does not have.
    let mut bad = fixture_json("ui_01.json");
    bad["spans"][0]["extra"] = json!(1);
    assert!(serde_json::from_value::<Trace>(bad).is_err());
}

// ---------------------------------------------------------------------------------------

fn bookinfo_mesh() -> Mesh {
    let read = |rel: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel);
        objects_from_yaml(&std::fs::read_to_string(path).expect("fixture"))
    };
    let mut objs = read("istio/bookinfo/platform/kube/bookinfo.yaml");
    objs.extend(read("istio/bookinfo/networking/destination-rule-all.yaml"));
    objs.extend(read("istio/bookinfo/networking/bookinfo-gateway.yaml"));
    objs.extend(read(
        "istio/bookinfo/networking/virtual-service-reviews-test-v2.yaml",
    ));
    let mesh = Mesh::new(MeshConfig {
        seed: Some(8),
        ..MeshConfig::default()
    });
    mesh.update(MeshSnapshot::from_objects(with_ready_pods(objs, NS)));
    mesh
}

async fn serve(mesh: &Mesh) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = mesh.jaeger_router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

#[tokio::test]
async fn jaeger_api_serves_envoy_style_traces_of_existing_pods() {
    let mesh = bookinfo_mesh();
    let mut trace_ids = Vec::new();
    for i in 0..40 {
        let mut req = IngressRequest::get("bookinfo.local", "/productpage?u=normal").header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        );
        if i % 2 == 0 {
            req = req.header("end-user", "jason");
        }
        let resp = mesh.handle_ingress(req);
        assert_eq!(resp.status, 200);
        trace_ids.push(resp.trace_id.expect("sampled at 100%"));
    }
    let addr = serve(&mesh).await;

    // Services: one per canonical service and namespace, gateways included.
    let (status, body) = get(addr, "/api/services").await;
    assert_eq!(status, 200);
    let env: Envelope<Vec<String>> = serde_json::from_value(body).expect("envelope");
    let services: BTreeSet<String> = env.data.expect("data").into_iter().collect();
    let want: BTreeSet<String> = ["details", "productpage", "ratings", "reviews"]
        .iter()
        .map(|s| format!("{s}.{NS}"))
        .chain(["istio-ingressgateway.istio-system".to_string()])
        .collect();
    assert_eq!(services, want);
    assert_eq!(env.total, 5);

    // Operations, both endpoints.
    let (_, body) = get(addr, &format!("/api/services/productpage.{NS}/operations")).await;
    let ops: Vec<String> = serde_json::from_value(body["data"].clone()).expect("ops");
    assert!(
        ops.contains(&format!(
            "productpage.{NS}.svc.cluster.local:9080/productpage"
        )),
        "{ops:?}"
    );
    assert!(
        ops.contains(&format!("reviews.{NS}.svc.cluster.local:9080/*")),
        "{ops:?}"
    );
    let (_, body) = get(
        addr,
        &format!("/api/operations?service=reviews.{NS}&spanKind=server"),
    )
    .await;
    let ops = body["data"].as_array().expect("array");
    assert!(
        !ops.is_empty()
            && ops
                .iter()
                .all(|o| o["spanKind"] == "server" && o["name"].is_string())
    );

    // A trace by id: same shape as Jaeger's fixtures, Envoy's tags, real pods.
    let (status, body) = get(addr, &format!("/api/traces/{}", trace_ids[0])).await;
    assert_eq!(status, 200);
    let fixture = fixture_json("otlp2jaeger-out.json");
    assert_eq!(shape(&body), shape(&fixture), "envelope keys and types");
    let env: Envelope<Vec<Value>> = serde_json::from_value(body.clone()).expect("envelope");
    assert!(env.errors.is_none());
    let raw = &env.data.expect("data")[0];
    let fixture_span = &fixture["data"][0]["spans"][0];
    for span in raw["spans"].as_array().expect("spans") {
        assert_eq!(shape(span), shape(fixture_span), "span keys and JSON types");
        assert_eq!(shape(&span["tags"][0]), shape(&fixture_span["tags"][0]));
        if let Some(r) = span["references"].get(0) {
            assert_eq!(shape(r), shape(&fixture_span["references"][0]));
        }
    }
    assert_eq!(
        shape(&raw["processes"]["p1"]),
        shape(&fixture_json("ui_01.json")["processes"]["p1"])
    );
    let trace = parse_trace(raw);
    assert_eq!(trace.trace_id, trace_ids[0]);
    assert_trace_is_bookinfo(&trace, &mesh.snapshot());

    // Search: by service + operation + tags + duration, newest first, limited.
    let tags = url_encode(
        r#"{"http.status_code":"200","upstream_cluster":"outbound|9080|v2|reviews.demo-project.svc.cluster.local"}"#,
    );
    let (status, body) = get(
        addr,
        &format!(
            "/api/traces?service=productpage.{NS}&tags={tags}&minDuration=1us&lookback=1h&limit=5"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let env: Envelope<Vec<Value>> = serde_json::from_value(body).expect("envelope");
    let found: Vec<Trace> = env.data.expect("data").iter().map(parse_trace).collect();
    assert_eq!(found.len(), 5);
    for t in &found {
        // Only jason's requests went to v2.
        assert!(
            t.spans
                .iter()
                .any(|s| s.tag_str("upstream_cluster").contains("|v2|"))
        );
        assert_trace_is_bookinfo(t, &mesh.snapshot());
    }
    assert_eq!(found[0].trace_id, trace_ids[38], "newest first");

    // Errors: unknown trace → 404, missing service → 400, both in the envelope.
    let (status, body) = get(addr, "/api/traces/0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, 404);
    let env: Envelope<Vec<Value>> = serde_json::from_value(body).expect("envelope");
    assert_eq!(env.errors.expect("errors")[0].code, 404);
    let (status, _) = get(addr, "/api/traces?limit=3").await;
    assert_eq!(status, 400);

    // Dependencies: the Bookinfo graph.
    let (_, body) = get(addr, "/api/dependencies").await;
    let edges: BTreeSet<(String, String)> = body["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["parent"].as_str().unwrap_or_default().into(),
                e["child"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    for (a, b) in [
        (
            "istio-ingressgateway.istio-system".to_string(),
            format!("productpage.{NS}"),
        ),
        (format!("productpage.{NS}"), format!("reviews.{NS}")),
        (format!("productpage.{NS}"), format!("details.{NS}")),
        (format!("reviews.{NS}"), format!("ratings.{NS}")),
    ] {
        assert!(
            edges.contains(&(a.clone(), b.clone())),
            "{a} -> {b} in {edges:?}"
        );
    }
}

fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Client/server span pairs per hop, Envoy's tags, and processes naming real pods.
fn assert_trace_is_bookinfo(t: &Trace, snap: &MeshSnapshot) {
    let by_id: BTreeMap<&str, &Span> = t.spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let roots: Vec<&Span> = t.spans.iter().filter(|s| s.references.is_empty()).collect();
    assert_eq!(roots.len(), 1, "one root");
    let root = roots[0];
    assert_eq!(
        t.processes[&root.process_id].service_name,
        "istio-ingressgateway.istio-system"
    );
    assert_eq!(root.tag_str("span.kind"), "client");
    assert_eq!(
        root.operation_name,
        format!("productpage.{NS}.svc.cluster.local:9080/productpage")
    );
    assert!(root.tag_str("node_id").starts_with("router~"));
    let request_id = root.tag_str("guid:x-request-id");
    assert_eq!(request_id.len(), 36);
    for s in &t.spans {
        assert_eq!(s.trace_id, t.trace_id);
        assert_eq!(s.span_id.len(), 16);
        for key in [
            "node_id",
            "http.url",
            "http.method",
            "http.status_code",
            "guid:x-request-id",
            "user_agent",
            "upstream_cluster",
            "response_flags",
            "istio.canonical_service",
            "istio.canonical_revision",
            "istio.namespace",
            "istio.mesh_id",
            "component",
            "span.kind",
        ] {
            assert!(
                s.tag(key).is_some(),
                "{key} missing on {}",
                s.operation_name
            );
        }
        assert_eq!(
            s.tag_str("guid:x-request-id"),
            request_id,
            "one request id per trace"
        );
        assert_eq!(s.tag_str("component"), "proxy");
        assert!(s.tag_str("user_agent").contains("Firefox"));
        if let Some(r) = s.references.first() {
            let parent = by_id.get(r.span_id.as_str()).expect("parent in trace");
            assert!(
                parent.start_time <= s.start_time,
                "child starts after parent"
            );
            if s.tag_str("span.kind") == "server" {
                assert_eq!(
                    parent.tag_str("span.kind"),
                    "client",
                    "server spans hang off client spans"
                );
                assert_eq!(parent.operation_name, s.operation_name);
                assert!(s.tag_str("upstream_cluster").starts_with("inbound|9080|"));
            }
        }
        // Processes name pods that exist (gateways are outside the snapshot).
        let p = &t.processes[&s.process_id];
        let host = p
            .tags
            .iter()
            .find(|t| t.key == "hostname")
            .and_then(|t| t.value.as_str())
            .expect("hostname");
        let ip = p
            .tags
            .iter()
            .find(|t| t.key == "ip")
            .and_then(|t| t.value.as_str())
            .expect("ip");
        if p.service_name.ends_with(".istio-system") {
            continue;
        }
        let pod = snap
            .pods
            .iter()
            .find(|pod| pod.meta.name == host)
            .unwrap_or_else(|| panic!("no pod {host}"));
        assert_eq!(pod.ip, ip);
        assert_eq!(
            s.tag_str("node_id"),
            format!(
                "sidecar~{}~{}.{NS}~{NS}.svc.cluster.local",
                pod.ip, pod.meta.name
            )
        );
        assert_eq!(p.service_name, format!("{}.{NS}", pod.meta.labels["app"]));
        assert_eq!(
            s.tag_str("istio.canonical_revision"),
            pod.meta.labels["version"]
        );
    }
    // Gateway→productpage, productpage→details, productpage→reviews, and reviews→ratings
    // unless v1 served: a client and a server span each.
    let reviews_revision = t
        .spans
        .iter()
        .find(|s| {
            s.tag_str("span.kind") == "server" && s.tag_str("istio.canonical_service") == "reviews"
        })
        .map(|s| s.tag_str("istio.canonical_revision"));
    let hops = if reviews_revision == Some("v1") { 3 } else { 4 };
    let count = |kind: &str| {
        t.spans
            .iter()
            .filter(|s| s.tag_str("span.kind") == kind)
            .count()
    };
    assert_eq!(count("client"), hops);
    assert_eq!(count("server"), hops);
}

#[tokio::test]
async fn sampling_rate_zero_stores_nothing_and_errors_are_tagged() {
    let mesh = Mesh::new(MeshConfig {
        seed: Some(1),
        trace_sample_rate: 0.0,
        ..MeshConfig::default()
    });
    mesh.update(bookinfo_mesh().snapshot());
    let resp = mesh.handle_ingress(IngressRequest::get("x", "/productpage"));
    assert!(resp.trace_id.is_none());
    assert_eq!(mesh.with_traces(|t| t.len()), 0);

    // A 404 NR at the gateway is still traced (one client span) and a 5xx carries error=true.
    let mesh = bookinfo_mesh();
    let resp = mesh.handle_ingress(IngressRequest::get("x", "/nothing-here"));
    let id = resp.trace_id.expect("traced");
    let addr = serve(&mesh).await;
    let (_, body) = get(addr, &format!("/api/traces/{id}")).await;
    let t = parse_trace(&body["data"][0]);
    assert_eq!(t.spans.len(), 1);
    assert_eq!(t.spans[0].tag_str("response_flags"), "NR");
    assert_eq!(t.spans[0].tag_str("http.status_code"), "404");
}
