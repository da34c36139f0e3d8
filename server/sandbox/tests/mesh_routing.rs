//! The tutorial's "Verify Canary Release" step, as tests: Bookinfo from Istio's own
//! manifests, routing objects as a console would write them, requests through the
//! ingress, and the reviews version counted on the product page.
//!
//! Tolerances are derived from N: the observed share of a version routed with
//! probability p over N independent requests is binomial, so we allow 5 standard
//! deviations, 5·sqrt(p(1−p)/N) (a false failure about once in 1.7 million runs; the
//! RNG is seeded anyway, so a run is reproducible).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use sluice_sandbox::mesh::testing::{objects_from_yaml, with_ready_pods};
use sluice_sandbox::mesh::{IngressRequest, Mesh, MeshConfig, MeshSnapshot};

const NS: &str = "demo-project";

fn fixture(rel: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    objects_from_yaml(&text)
}

/// Bookinfo + DestinationRules + the Istio ingress Gateway/VirtualService, plus `extra`.
fn bookinfo_objects(extra: Vec<Value>) -> Vec<Value> {
    let mut objs = fixture("istio/bookinfo/platform/kube/bookinfo.yaml");
    objs.extend(fixture(
        "istio/bookinfo/networking/destination-rule-all.yaml",
    ));
    objs.extend(fixture("istio/bookinfo/networking/bookinfo-gateway.yaml"));
    objs.extend(extra);
    with_ready_pods(objs, NS)
}

fn mesh_with(objects: Vec<Value>, seed: u64) -> Mesh {
    let mesh = Mesh::new(MeshConfig {
        seed: Some(seed),
        ..MeshConfig::default()
    });
    mesh.update(MeshSnapshot::from_objects(objects));
    mesh
}

fn reviews_vs(http: Value) -> Value {
    json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": "reviews", "namespace": NS},
           "spec": {"hosts": ["reviews"], "http": http}})
}

/// The `data-reviews-version` marker of a product page.
fn reviews_version(html: &str) -> String {
    let key = "data-reviews-version=\"";
    html.find(key)
        .and_then(|i| html[i + key.len()..].split('"').next())
        .unwrap_or("missing")
        .to_string()
}

fn drive(mesh: &Mesh, n: usize, req: impl Fn(usize) -> IngressRequest) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for i in 0..n {
        let resp = mesh.handle_ingress(req(i));
        assert_eq!(resp.status, 200, "request {i}: {}", resp.body);
        *counts.entry(reviews_version(&resp.body)).or_insert(0) += 1;
    }
    counts
}

fn assert_share(counts: &BTreeMap<String, usize>, version: &str, p: f64, n: usize) {
    let got = counts.get(version).copied().unwrap_or(0) as f64 / n as f64;
    let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (got - p).abs() <= tol,
        "{version}: observed {got:.4}, configured {p}, tolerance ±{tol:.4} (N={n}), counts {counts:?}"
    );
}

fn page() -> IngressRequest {
    IngressRequest::get(
        "productpage.demo-project.192.168.0.2.nip.io:32277",
        "/productpage?u=normal",
    )
}

#[test]
fn weights_70_30_split_observed_on_the_product_page() {
    let vs = reviews_vs(json!([{"route": [
        {"destination": {"host": "reviews", "subset": "v1"}, "weight": 70},
        {"destination": {"host": "reviews", "subset": "v3"}, "weight": 30}]}]));
    let mesh = mesh_with(bookinfo_objects(vec![vs]), 42);
    let n = 2000;
    let counts = drive(&mesh, n, |_| page());
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        vec!["v1", "v3"],
        "{counts:?}"
    );
    assert_share(&counts, "v1", 0.7, n);
    assert_share(&counts, "v3", 0.3, n);
}

#[test]
fn istio_sample_80_20_is_honoured() {
    let mesh = mesh_with(
        bookinfo_objects(fixture(
            "istio/bookinfo/networking/virtual-service-reviews-80-20.yaml",
        )),
        7,
    );
    let n = 1000;
    let counts = drive(&mesh, n, |_| page());
    assert_share(&counts, "v1", 0.8, n);
    assert_share(&counts, "v2", 0.2, n);
}

#[test]
fn header_rule_sends_jason_to_v2_and_everyone_else_to_v1() {
    let mesh = mesh_with(
        bookinfo_objects(fixture(
            "istio/bookinfo/networking/virtual-service-reviews-test-v2.yaml",
        )),
        3,
    );
    // Logged in by header, by cookie (productpage turns it into end-user), or not at all.
    let counts = drive(&mesh, 300, |i| match i % 3 {
        0 => page().header("end-user", "jason"),
        1 => page().header("Cookie", "user=jason"),
        _ => page().header("end-user", "alice"),
    });
    assert_eq!(counts.get("v2"), Some(&200), "{counts:?}");
    assert_eq!(counts.get("v1"), Some(&100), "{counts:?}");
    let html = mesh.handle_ingress(page().header("end-user", "jason")).body;
    assert!(html.contains("stars black"), "v2 shows black stars");
    assert!(html.contains(">jason<"), "the page shows the user");
}

#[test]
fn mirroring_serves_v1_and_shadows_every_request_to_v2() {
    let vs = reviews_vs(json!([{
        "route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 100}],
        "mirror": {"host": "reviews", "subset": "v2"},
        "mirrorPercentage": {"value": 100.0}}]));
    let mesh = mesh_with(bookinfo_objects(vec![vs]), 11);
    let n = 500;
    let counts = drive(&mesh, n, |_| page());
    assert_eq!(
        counts.get("v1"),
        Some(&n),
        "the page always comes from v1: {counts:?}"
    );
    let text = mesh.metrics_text();
    let v2_dest = sum_requests(
        &text,
        &[
            ("reporter", "destination"),
            ("destination_workload", "reviews-v2"),
        ],
    );
    let v2_src = sum_requests(
        &text,
        &[
            ("reporter", "source"),
            ("destination_workload", "reviews-v2"),
        ],
    );
    assert_eq!(
        v2_dest, n as f64,
        "v2's sidecar reports every mirrored request"
    );
    assert_eq!(
        v2_src, 0.0,
        "the caller's proxy does not report shadow requests"
    );
    // The shadow copy runs v2 for real: it calls ratings.
    let ratings = sum_requests(
        &text,
        &[
            ("reporter", "destination"),
            ("destination_workload", "ratings-v1"),
        ],
    );
    assert_eq!(ratings, n as f64);
}

#[test]
fn mirror_percentage_is_a_share() {
    let vs = reviews_vs(json!([{
        "route": [{"destination": {"host": "reviews", "subset": "v1"}}],
        "mirror": {"host": "reviews", "subset": "v3"},
        "mirrorPercentage": {"value": 25.0}}]));
    let mesh = mesh_with(bookinfo_objects(vec![vs]), 12);
    let n = 2000;
    drive(&mesh, n, |_| page());
    let text = mesh.metrics_text();
    let mirrored = sum_requests(
        &text,
        &[
            ("reporter", "destination"),
            ("destination_workload", "reviews-v3"),
        ],
    );
    let p = 0.25;
    let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
    assert!((mirrored / n as f64 - p).abs() <= tol, "{mirrored}");
}

#[test]
fn subset_without_ready_pods_fails_like_envoy_with_uh() {
    let vs = reviews_vs(json!([{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}]));
    let mut objs = bookinfo_objects(vec![vs]);
    // reviews-v3's pod exists but is not Ready.
    for o in objs.iter_mut().filter(|o| o["kind"] == "Pod") {
        if o.pointer("/metadata/labels/version") == Some(&json!("v3"))
            && o["metadata"]["labels"]["app"] == "reviews"
        {
            o["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        }
    }
    let mesh = mesh_with(objs, 5);
    let resp = mesh.handle_ingress(page());
    assert_eq!(resp.status, 200, "productpage itself still answers");
    assert!(
        resp.body
            .contains("Sorry, product reviews are currently unavailable for this book.")
    );
    let text = mesh.metrics_text();
    let uh = sum_requests(
        &text,
        &[
            ("reporter", "source"),
            ("source_workload", "productpage-v1"),
            ("destination_service_name", "reviews"),
            ("response_code", "503"),
            ("response_flags", "UH"),
            ("destination_workload", "unknown"),
        ],
    );
    assert_eq!(uh, 1.0, "{text}");
}

#[test]
fn without_virtual_service_reviews_spreads_over_all_versions() {
    let mesh = mesh_with(bookinfo_objects(Vec::new()), 9);
    let n = 1500;
    let counts = drive(&mesh, n, |_| page());
    for v in ["v1", "v2", "v3"] {
        assert_share(&counts, v, 1.0 / 3.0, n);
    }
}

#[test]
fn ingress_without_a_matching_route_is_404_nr() {
    let mesh = mesh_with(bookinfo_objects(Vec::new()), 1);
    let resp = mesh.handle_ingress(IngressRequest::get("x", "/admin"));
    assert_eq!(resp.status, 404);
    let text = mesh.metrics_text();
    let nr = sum_requests(
        &text,
        &[
            ("source_workload", "istio-ingressgateway"),
            ("response_flags", "NR"),
        ],
    );
    assert_eq!(nr, 1.0);
    // No Gateway at all: still 404 NR, never a panic.
    let empty = Mesh::new(MeshConfig::default());
    assert_eq!(empty.handle_ingress(page()).status, 404);
}

#[test]
fn ingress_host_must_match_gateway_and_virtual_service_hosts() {
    let mut objs = fixture("istio/bookinfo/platform/kube/bookinfo.yaml");
    objs.push(
        json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": "bookinfo-gateway"},
        "spec": {"selector": {"istio": "ingressgateway"},
                 "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                              "hosts": ["productpage.demo-project.192.168.0.2.nip.io"]}]}}),
    );
    objs.push(json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "bookinfo"},
        "spec": {"hosts": ["productpage.demo-project.192.168.0.2.nip.io"], "gateways": ["bookinfo-gateway"],
                 "http": [{"route": [{"destination": {"host": "productpage", "port": {"number": 9080}}}]}]}}));
    let mesh = mesh_with(with_ready_pods(objs, NS), 2);
    assert_eq!(mesh.handle_ingress(page()).status, 200);
    assert_eq!(
        mesh.handle_ingress(IngressRequest::get("other.example", "/productpage"))
            .status,
        404
    );
    assert_eq!(
        mesh.ingress_host_hint(),
        "productpage.demo-project.192.168.0.2.nip.io"
    );
}

#[test]
fn gateway_api_httproute_weights_through_gateway_api_ingress() {
    let mut objs = fixture("istio/bookinfo/platform/kube/bookinfo.yaml");
    objs.extend(fixture("mesh/bookinfo-versions.yaml"));
    objs.extend(fixture("istio/bookinfo/gateway-api/bookinfo-gateway.yaml"));
    objs.extend(fixture(
        "istio/bookinfo/gateway-api/route-reviews-90-10.yaml",
    ));
    let mesh = mesh_with(with_ready_pods(objs, NS), 21);
    let n = 2000;
    let counts = drive(&mesh, n, |_| {
        IngressRequest::get("localhost", "/productpage")
    });
    assert_share(&counts, "v1", 0.9, n);
    assert_share(&counts, "v2", 0.1, n);
    // The Gateway API gateway reports as `<gateway>-istio`, and the backend Service is
    // the destination service.
    let text = mesh.metrics_text();
    assert_eq!(
        sum_requests(
            &text,
            &[
                ("reporter", "source"),
                ("source_workload", "bookinfo-gateway-istio")
            ]
        ),
        n as f64
    );
    assert!(
        sum_requests(
            &text,
            &[
                ("reporter", "destination"),
                ("destination_service_name", "reviews-v2")
            ]
        ) > 0.0
    );
}

#[test]
fn gateway_api_request_mirror_filter() {
    let mut objs = fixture("istio/bookinfo/platform/kube/bookinfo.yaml");
    objs.extend(fixture("mesh/bookinfo-versions.yaml"));
    objs.extend(fixture("istio/bookinfo/networking/bookinfo-gateway.yaml"));
    objs.push(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "reviews"},
        "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
                 "rules": [{"filters": [{"type": "RequestMirror",
                                          "requestMirror": {"backendRef": {"name": "reviews-v3", "port": 9080}}}],
                            "backendRefs": [{"name": "reviews-v1", "port": 9080}]}]}}));
    let mesh = mesh_with(with_ready_pods(objs, NS), 22);
    let counts = drive(&mesh, 200, |_| page());
    assert_eq!(counts.get("v1"), Some(&200));
    let text = mesh.metrics_text();
    assert_eq!(
        sum_requests(
            &text,
            &[
                ("reporter", "destination"),
                ("destination_workload", "reviews-v3")
            ]
        ),
        200.0
    );
}

#[test]
fn faulty_version_produces_5xx_and_slow_version_is_slow() {
    let vs = reviews_vs(json!([{"route": [
        {"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
        {"destination": {"host": "reviews", "subset": "v2"}, "weight": 50}]}]));
    let mut objs = bookinfo_objects(vec![vs]);
    for o in objs.iter_mut().filter(|o| o["kind"] == "Pod") {
        if o.pointer("/metadata/labels/version") == Some(&json!("v2"))
            && o["metadata"]["labels"]["app"] == "reviews"
        {
            o["spec"]["containers"][0]["env"] = json!([
                {"name": "SLUICE_FAULT_ERROR_RATE", "value": "1.0"},
                {"name": "SLUICE_FAULT_DELAY_MS", "value": "800"}]);
        }
    }
    let mesh = mesh_with(objs, 31);
    let n = 400;
    let counts = drive(&mesh, n, |_| page());
    let unavailable = counts.get("unavailable").copied().unwrap_or(0);
    assert!(
        unavailable > 0 && counts.get("v1").copied().unwrap_or(0) + unavailable == n,
        "{counts:?}"
    );
    let text = mesh.metrics_text();
    let errors = sum_requests(
        &text,
        &[
            ("reporter", "destination"),
            ("destination_workload", "reviews-v2"),
            ("response_code", "500"),
        ],
    );
    assert_eq!(errors, unavailable as f64);
    let ok_v2 = sum_requests(
        &text,
        &[
            ("reporter", "destination"),
            ("destination_workload", "reviews-v2"),
            ("response_code", "200"),
        ],
    );
    assert_eq!(ok_v2, 0.0);
    // +800 ms mean: even failing halfway, v2's requests take hundreds of milliseconds.
    let series = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter(|l| {
                l.contains("reporter=\"destination\"")
                    && l.contains("destination_workload=\"reviews-v2\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let mean = series("istio_request_duration_milliseconds_sum{")
        / series("istio_request_duration_milliseconds_count{");
    assert!(mean > 300.0, "mean v2 duration {mean} ms");
}

#[test]
fn login_sets_a_cookie_that_routes_like_the_header() {
    let mesh = mesh_with(
        bookinfo_objects(fixture(
            "istio/bookinfo/networking/virtual-service-reviews-test-v2.yaml",
        )),
        4,
    );
    let mut login = IngressRequest::get("h", "/login");
    login.method = "POST".into();
    login.body = "username=jason&passwd=x".into();
    let resp = mesh.handle_ingress(login);
    assert_eq!(resp.status, 302);
    let cookie = resp.header("set-cookie").expect("cookie").to_string();
    assert!(cookie.starts_with("user=jason"));
    let cookie = cookie.split(';').next().unwrap_or_default().to_string();
    let page = mesh.handle_ingress(page().header("cookie", &cookie));
    assert_eq!(reviews_version(&page.body), "v2");
}

// ---------------------------------------------------------------------------------------

/// Sum of `istio_requests_total` samples whose labels include all of `want`.
fn sum_requests(text: &str, want: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("istio_requests_total{"))
        .filter(|l| {
            want.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
