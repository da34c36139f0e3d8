//! The graph builder on Prometheus-shaped answers: the hand-made mesh (every corner
//! case) and the real answers captured from the sandbox mesh.

use std::collections::BTreeMap;

use super::*;
use crate::domain::applications::{ProjectInventory, ServiceInfo, WorkloadInfo};
use crate::domain::metrics::{Series, parse_response};
use crate::domain::projects::Project;
use crate::domain::release::jobs::JobView;
use crate::domain::release::{ReleaseSpec, Strategy};

fn fixture(name: &str) -> Vec<Series> {
    let path = format!(
        "{}/tests/fixtures/prometheus/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let body: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    parse_response(&body).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn service(name: &str) -> ServiceInfo {
    ServiceInfo {
        name: name.into(),
        labels: labels(&[("app", name)]),
        selector: labels(&[("app", name)]),
        ports: vec!["9080/TCP".into()],
    }
}

fn workload(app: &str, version: &str, sidecar: bool) -> WorkloadInfo {
    WorkloadInfo {
        name: format!("{app}-{version}"),
        pod_labels: labels(&[("app", app), ("version", version)]),
        images: vec![format!("examples-bookinfo-{app}-{version}:1.20.3")],
        desired: 1,
        ready: 1,
        updated: 1,
        available: 1,
        restarts: 0,
        failure: None,
        pods_with_sidecar: i32::from(sidecar),
        pods: 1,
        created: None,
        age_seconds: None,
    }
}

fn inventory() -> ProjectInventory {
    ProjectInventory {
        project: Project {
            name: "demo".into(),
            phase: "Active".into(),
            sidecar_injection: true,
            dataplane: Default::default(),
        },
        services: [
            "productpage",
            "reviews",
            "details",
            "ratings",
            "notifications",
        ]
        .into_iter()
        .map(service)
        .collect(),
        workloads: vec![
            workload("productpage", "v1", true),
            workload("reviews", "v1", true),
            workload("reviews", "v2", true),
            workload("reviews", "v3", true),
            workload("details", "v1", false),
            workload("ratings", "v1", true),
            workload("notifications", "v1", true),
        ],
        routes: Vec::new(),
        trace_sampling: None,
    }
}

fn job(name: &str, phase: &str) -> JobView {
    JobView {
        name: name.into(),
        project: "demo".into(),
        spec: ReleaseSpec {
            component: "reviews".into(),
            base_workload: "reviews-v1".into(),
            base_version: "v1".into(),
            new_version: "v2".into(),
            image: "examples-bookinfo-reviews-v2:1.20.3".into(),
            replicas: 1,
            strategy: Strategy::TrafficRatio { new_percent: 20 },
            taken_over_by: None,
            creator: None,
            analysis: None,
            routing: Default::default(),
            also_serving: Vec::new(),
            http_route: None,
        },
        offline_keep: None,
        phase: Some(phase.into()),
        message: None,
        versions: Vec::new(),
        generation: 1,
        age_seconds: None,
        analysis: None,
        next_check_in: None,
    }
}

struct Mesh {
    requests: Vec<Series>,
    errors: Vec<Series>,
    to_service: Vec<Series>,
    to_workload: Vec<Series>,
}

fn mesh() -> Mesh {
    Mesh {
        requests: fixture("topology-mesh-requests.json"),
        errors: fixture("topology-mesh-errors.json"),
        to_service: fixture("topology-mesh-latency-to-service.json"),
        to_workload: fixture("topology-mesh-latency-to-workload.json"),
    }
}

fn build(
    m: &Mesh,
    inv: Option<&ProjectInventory>,
    routing: &[ServiceRouting],
    jobs: &[JobView],
) -> Graph {
    build_graph(GraphInputs {
        project: "demo",
        window_minutes: 5,
        at: 1760000000.0,
        requests: &m.requests,
        errors: &m.errors,
        latency_to_service: &m.to_service,
        latency_to_workload: &m.to_workload,
        inventory: inv,
        routing,
        jobs,
        thresholds: Thresholds::default(),
    })
}

fn node<'a>(g: &'a Graph, id: &str) -> &'a Node {
    g.nodes
        .iter()
        .find(|n| n.id == id)
        .unwrap_or_else(|| panic!("no node {id} in {:#?}", ids(g)))
}

fn edge<'a>(g: &'a Graph, source: &str, target: &str) -> &'a Edge {
    g.edges
        .iter()
        .find(|e| e.source == source && e.target == target)
        .unwrap_or_else(|| {
            panic!(
                "no edge {source} -> {target} in {:#?}",
                g.edges.iter().map(|e| &e.id).collect::<Vec<_>>()
            )
        })
}

fn ids(g: &Graph) -> Vec<&str> {
    g.nodes.iter().map(|n| n.id.as_str()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

const PP: &str = "wl:demo/productpage-v1";

#[test]
fn versioned_workloads_sit_behind_their_service_in_an_app_box() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    let e1 = edge(&g, "svc:demo/reviews", "wl:demo/reviews-v1");
    let e2 = edge(&g, "svc:demo/reviews", "wl:demo/reviews-v2");
    assert!(close(e1.rps, 3.1) && close(e2.rps, 4.0), "{e1:?} {e2:?}");
    for v in ["v1", "v2", "v3"] {
        let n = node(&g, &format!("wl:demo/reviews-{v}"));
        assert_eq!(n.kind, NodeKind::Workload);
        assert_eq!(n.parent.as_deref(), Some("app:demo/reviews"));
        assert_eq!(
            (n.app.as_deref(), n.version.as_deref()),
            (Some("reviews"), Some(v))
        );
    }
    let app = node(&g, "app:demo/reviews");
    assert_eq!(app.kind, NodeKind::App);
    assert!(close(app.rps_in, 7.1), "{app:?}");
    // The faulty v2 makes the whole box fail.
    assert_eq!(app.health, Health::Failure);
    assert_eq!(node(&g, "svc:demo/reviews").parent, None);
}

#[test]
fn each_request_counts_once_across_reporters() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    // Prometheus kept the destination's rows (3 to v1, 4 to v2) and, of the source's, only
    // the 0.1 timeouts (504 UT) no destination reported; the rows of an edge add up.
    let e = edge(&g, PP, "svc:demo/reviews");
    assert!(close(e.rps, 7.1), "{e:?}");
    assert!(close(e.error_ratio, 0.6 / 7.1), "{e:?}");
    assert_eq!(e.health, Health::Degraded);
    let v1 = edge(&g, "svc:demo/reviews", "wl:demo/reviews-v1");
    assert!(close(v1.error_ratio, 0.1 / 3.1), "{v1:?}");
    assert_eq!(v1.health, Health::Degraded);
    assert_eq!(e.p95_ms, Some(42.5));
    assert_eq!(
        edge(&g, "svc:demo/reviews", "wl:demo/reviews-v2").p95_ms,
        Some(95.0)
    );
    assert_eq!(
        edge(&g, "svc:demo/reviews", "wl:demo/reviews-v1").p95_ms,
        Some(24.0)
    );
}

#[test]
fn source_reports_fill_in_where_no_sidecar_reported() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    // details has no sidecar: only productpage's proxy reported.
    let e = edge(&g, PP, "svc:demo/details");
    assert!(close(e.rps, 5.0));
    assert_eq!(e.p95_ms, Some(9.5));
    assert!(close(
        edge(&g, "svc:demo/details", "wl:demo/details-v1").rps,
        5.0
    ));
    assert_eq!(
        node(&g, "wl:demo/details-v1").badges,
        vec![Badge::NoSidecar]
    );
    // Traffic out of the project reaches nodes of the other namespace.
    assert!(close(edge(&g, PP, "svc:shop/catalog").rps, 1.0));
    assert_eq!(
        node(&g, "wl:shop/catalog-v1").parent.as_deref(),
        Some("app:shop/catalog")
    );
}

#[test]
fn requests_that_reached_no_workload_end_at_the_service() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    let e = edge(&g, "wl:loadtest/loadgen", "svc:demo/reviews");
    assert!(close(e.rps, 0.25));
    assert!(close(e.error_ratio, 1.0));
    assert_eq!(e.health, Health::Failure);
    // The service counts them in; its workloads do not.
    let svc = node(&g, "svc:demo/reviews");
    assert!(close(svc.rps_in, 7.35), "{svc:?}");
    assert!(close(svc.rps_out, 7.1), "{svc:?}");
}

#[test]
fn unknown_callers_and_the_ingress_are_nodes_of_their_own() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    let unknown = node(&g, "unknown");
    assert_eq!(unknown.kind, NodeKind::Unknown);
    assert!(close(unknown.rps_out, 1.0));
    assert_eq!(unknown.health, Health::Healthy);
    assert_eq!(edge(&g, "unknown", "svc:demo/ratings").p95_ms, Some(4.75));
    let gw = node(&g, "wl:istio-system/istio-ingressgateway");
    assert_eq!(gw.kind, NodeKind::Ingress);
    assert_eq!(gw.parent, None);
    let e = edge(&g, &gw.id, "svc:demo/productpage");
    assert!(close(e.rps, 10.0));
    // No quantile in the answer (the query drops NaN, i.e. no samples): no value.
    assert_eq!(e.p95_ms, None);
}

#[test]
fn grpc_errors_count_and_name_the_protocol() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    let e = edge(&g, "wl:demo/reviews-v2", "svc:demo/ratings");
    assert_eq!(e.protocol, "grpc");
    assert!(close(e.error_ratio, 0.2), "{e:?}");
    assert_eq!(e.health, Health::Failure);
    assert_eq!(edge(&g, PP, "svc:demo/reviews").protocol, "http");
}

#[test]
fn idle_services_and_workloads_still_show() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    let v3 = node(&g, "wl:demo/reviews-v3");
    assert_eq!(
        (v3.health, v3.error_ratio, v3.rps_in),
        (Health::Idle, None, 0.0)
    );
    let e = edge(&g, "svc:demo/notifications", "wl:demo/notifications-v1");
    assert_eq!((e.health, e.rps, e.p95_ms), (Health::Idle, 0.0, None));
    assert_eq!(
        edge(&g, "svc:demo/reviews", "wl:demo/reviews-v3").health,
        Health::Idle
    );
    // An idle project is not an empty graph.
    let quiet = Mesh {
        requests: Vec::new(),
        errors: Vec::new(),
        to_service: Vec::new(),
        to_workload: Vec::new(),
    };
    let g = build(&quiet, Some(&inventory()), &[], &[]);
    assert_eq!(g.nodes.len(), 5 + 7 + 5, "{:#?}", ids(&g));
    assert!(g.nodes.iter().all(|n| n.health == Health::Idle));
    assert_eq!(g.edges.len(), 7);
}

#[test]
fn without_an_inventory_the_graph_comes_from_traffic_alone() {
    let g = build(&mesh(), None, &[], &[]);
    assert!(g.nodes.iter().all(|n| n.id != "wl:demo/reviews-v3"));
    assert!(close(edge(&g, PP, "svc:demo/reviews").rps, 7.1));
    // No inventory, so nothing to say about sidecars.
    assert!(node(&g, "wl:demo/details-v1").badges.is_empty());
}

#[test]
fn badges_mark_routing_mirroring_and_release_jobs() {
    let routing = [ServiceRouting {
        namespace: "demo".into(),
        service: "reviews".into(),
        virtual_service: "reviews".into(),
        mirror: true,
    }];
    let jobs = [job("canary-reviews", "Live"), job("old-try", "Failed")];
    let g = build(&mesh(), Some(&inventory()), &routing, &jobs);
    assert_eq!(
        node(&g, "svc:demo/reviews").badges,
        vec![
            Badge::CanaryJob("canary-reviews".into()),
            Badge::VirtualService,
            Badge::Mirroring
        ]
    );
    for wl in ["wl:demo/reviews-v1", "wl:demo/reviews-v2"] {
        assert_eq!(
            node(&g, wl).badges,
            vec![Badge::CanaryJob("canary-reviews".into())]
        );
    }
    assert!(node(&g, "svc:demo/ratings").badges.is_empty());
}

#[test]
fn a_latency_answer_holding_both_reporters_prefers_the_destination() {
    // Prometheus keeps one row per edge; should both arrive, the destination's wins, and
    // a NaN or negative quantile is no value.
    let s = |reporter: &str, wl: &str, v: f64| Series {
        labels: labels(&[
            ("reporter", reporter),
            ("edge", &format!("demo|reviews|demo|{wl}")),
        ]),
        points: vec![(0.0, v)],
    };
    let mut m = mesh();
    m.to_workload = vec![
        s("source", "reviews-v2", 99.0),
        s("destination", "reviews-v2", 95.0),
        s("source", "reviews-v2", 97.0),
        s("destination", "reviews-v1", f64::NAN),
    ];
    let g = build(&m, Some(&inventory()), &[], &[]);
    assert_eq!(
        edge(&g, "svc:demo/reviews", "wl:demo/reviews-v2").p95_ms,
        Some(95.0)
    );
    assert_eq!(
        edge(&g, "svc:demo/reviews", "wl:demo/reviews-v1").p95_ms,
        None
    );
    m.to_workload.reverse();
    assert_eq!(build(&m, Some(&inventory()), &[], &[]), g);
}

#[test]
fn health_turns_at_and_over_the_thresholds() {
    let t = Thresholds::default();
    assert_eq!((t.degraded, t.failure), (0.001, 0.10));
    assert_eq!(health_of(0.0, 0.0, &t), Health::Idle);
    assert_eq!(health_of(1.0, 0.0, &t), Health::Healthy);
    assert_eq!(health_of(1.0, 0.0009, &t), Health::Healthy);
    assert_eq!(health_of(1.0, 0.001, &t), Health::Degraded);
    assert_eq!(health_of(1.0, 0.10, &t), Health::Degraded);
    assert_eq!(health_of(1.0, 0.1001, &t), Health::Failure);
    let strict = Thresholds {
        degraded: 0.0,
        failure: 0.0,
    };
    assert_eq!(health_of(1.0, 0.01, &strict), Health::Failure);
    assert!(is_error("http", "503", ""));
    assert!(!is_error("http", "404", ""));
    assert!(!is_error("grpc", "200", "0"));
    assert!(is_error("grpc", "200", "14"));
}

#[test]
fn output_is_sorted_and_ids_are_stable() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    let mut sorted = ids(&g);
    sorted.sort();
    assert_eq!(ids(&g), sorted);
    let edge_ids: Vec<&str> = g.edges.iter().map(|e| e.id.as_str()).collect();
    let mut sorted = edge_ids.clone();
    sorted.sort();
    assert_eq!(edge_ids, sorted);
    for e in &g.edges {
        assert_eq!(e.id, format!("{}->{}", e.source, e.target));
        assert!(g.nodes.iter().any(|n| n.id == e.source));
        assert!(g.nodes.iter().any(|n| n.id == e.target));
    }
    // The same answers in another order build the same graph.
    let mut m = mesh();
    m.requests.reverse();
    m.errors.reverse();
    m.to_service.reverse();
    m.to_workload.reverse();
    assert_eq!(build(&m, Some(&inventory()), &[], &[]), g);
}

#[test]
fn gateways_are_recognised_by_istios_names() {
    assert!(is_ingress("istio-ingressgateway", "istio-ingressgateway"));
    assert!(is_ingress(
        "bookinfo-gateway-istio",
        "bookinfo-gateway-istio"
    ));
    assert!(!is_ingress("productpage-v1", "productpage"));
}

#[test]
fn virtual_service_hosts_name_services() {
    let vs = serde_json::json!({
        "metadata": {"name": "vs", "namespace": "demo"},
        "spec": {"hosts": ["reviews", "ratings.demo.svc.cluster.local", "details.other", "*", "bookinfo.example.com"],
                 "http": [{"route": [{"destination": {"host": "reviews"}}]}]}
    });
    let got: Vec<(String, String, bool)> = routing_of_virtual_service("demo", &vs)
        .into_iter()
        .map(|r| (r.namespace, r.service, r.mirror))
        .collect();
    assert_eq!(
        got,
        [
            ("demo".into(), "reviews".into(), false),
            ("demo".into(), "ratings".into(), false),
            ("other".into(), "details".into(), false),
        ]
    );
    let mirrored = serde_json::json!({"metadata": {"name": "m"}, "spec": {"hosts": ["reviews"],
        "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}],
                  "mirror": {"host": "reviews", "subset": "v2"}, "mirrorPercentage": {"value": 10.0}}]}});
    assert!(routing_of_virtual_service("demo", &mirrored)[0].mirror);
}

#[test]
fn item_ids_parse_or_say_the_expected_form() {
    assert_eq!(
        ItemRef::parse("svc:demo/reviews").unwrap(),
        ItemRef::Node(NodeRef::Service {
            namespace: "demo".into(),
            name: "reviews".into()
        })
    );
    let e = ItemRef::parse("wl:demo/productpage-v1->svc:demo/reviews").unwrap();
    assert_eq!(e.id(), "wl:demo/productpage-v1->svc:demo/reviews");
    assert_eq!(e.title(), "productpage-v1 → reviews");
    assert_eq!(ItemRef::parse("unknown").unwrap().id(), "unknown");
    assert_eq!(
        ItemRef::parse("app:demo/reviews").unwrap().title(),
        "reviews (app)"
    );
    for bad in [
        "reviews",
        "svc:reviews",
        "pod:demo/x",
        "svc:demo/Re\"views",
        "svc:demo/a->",
        "",
    ] {
        let err = ItemRef::parse(bad).unwrap_err();
        assert!(err.contains("svc:<namespace>/<service>"), "{bad}: {err}");
    }
    // The service graph's edges name a caller by its app.
    assert_eq!(
        ItemRef::parse("app:demo/a->svc:demo/b"),
        Ok(ItemRef::Edge {
            source: NodeRef::App {
                namespace: "demo".into(),
                app: "a".into()
            },
            target: NodeRef::Service {
                namespace: "demo".into(),
                name: "b".into()
            },
        })
    );
}

#[test]
fn item_queries_pin_the_item_and_prefer_the_destination_report() {
    let svc = ItemRef::parse("svc:demo/reviews").unwrap();
    let q = item_queries(&svc, "demo", "1m");
    let rps = q.rps_in.unwrap();
    assert_eq!(
        rps,
        "(sum (rate(istio_requests_total{reporter=\"destination\",destination_service_namespace=\"demo\",destination_service_name=\"reviews\"}[1m]))) or \
         (sum (rate(istio_requests_total{reporter=\"source\",destination_service_namespace=\"demo\",destination_service_name=\"reviews\"}[1m])))"
    );
    assert!(q.rps_out.is_none());
    assert!(q.versions.unwrap().contains("by (destination_version)"));
    assert!(
        q.success
            .contains("response_code=~\"5..\"}[1m])) or sum(rate("),
        "{}",
        q.success
    );
    assert!(q.latency[1].starts_with("histogram_quantile(0.95, (sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter=\"destination\","));

    let edge = ItemRef::parse("svc:demo/reviews->wl:demo/reviews-v2").unwrap();
    let q = item_queries(&edge, "demo", "1m");
    assert!(q.rps_in.unwrap().contains("destination_service_name=\"reviews\",destination_workload_namespace=\"demo\",destination_workload=\"reviews-v2\""));
    let edge = ItemRef::parse("unknown->svc:demo/ratings").unwrap();
    assert!(
        item_queries(&edge, "demo", "1m")
            .success
            .contains("source_workload=\"unknown\",destination_service_namespace=\"demo\"")
    );
    let wl = ItemRef::parse("wl:demo/productpage-v1").unwrap();
    let q = item_queries(&wl, "demo", "1m");
    assert!(
        q.rps_out
            .unwrap()
            .contains("source_workload_namespace=\"demo\",source_workload=\"productpage-v1\"")
    );
    assert!(q.versions.is_none());
}

#[test]
fn latency_series_are_labelled_by_quantile_and_versions_need_two() {
    let s = |pairs: &[(&str, &str)], points: Vec<(f64, f64)>| Series {
        labels: labels(pairs),
        points,
    };
    let out = label_latency([
        vec![s(&[], vec![(1.0, 5.0), (2.0, f64::NAN)])],
        vec![s(&[], vec![(1.0, 9.0)])],
        Vec::new(),
    ]);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].labels["quantile"], "p50");
    assert_eq!(out[0].points, vec![(1.0, 5.0)]);
    assert_eq!(out[1].labels["quantile"], "p95");
    let one = vec![s(&[("destination_version", "v1")], vec![(1.0, 1.0)])];
    assert!(versions_if_several(one.clone()).is_empty());
    let mut two = one;
    two.push(s(&[("destination_version", "v2")], vec![(1.0, 1.0)]));
    assert_eq!(versions_if_several(two).len(), 2);
}

#[test]
fn real_bookinfo_answers_build_the_expected_graph() {
    let m = Mesh {
        requests: fixture("topology-bookinfo-requests.json"),
        errors: fixture("topology-bookinfo-errors.json"),
        to_service: fixture("topology-bookinfo-latency-to-service.json"),
        to_workload: fixture("topology-bookinfo-latency-to-workload.json"),
    };
    let g = build_graph(GraphInputs {
        project: "demo-project",
        window_minutes: 1,
        at: 0.0,
        requests: &m.requests,
        errors: &m.errors,
        latency_to_service: &m.to_service,
        latency_to_workload: &m.to_workload,
        inventory: None,
        routing: &[],
        jobs: &[],
        thresholds: Thresholds::default(),
    });
    // Both sidecars reported every hop; Prometheus answered with the destination's rows
    // only (the source's copies dropped by `or on (DEDUP_KEY)`), one per edge.
    assert!(
        m.requests
            .iter()
            .all(|s| s.labels["reporter"] == "destination"),
        "{:?}",
        m.requests
    );
    assert_eq!(m.requests.len(), 5);
    // Two labels a row: the reporter and the packed edge.
    assert!(m.requests.iter().all(|s| s.labels.len() == 2));
    let pp = "wl:demo-project/productpage-v1";
    let to_reviews = edge(&g, pp, "svc:demo-project/reviews");
    let into_pp = node(&g, pp);
    assert!(
        (to_reviews.rps - into_pp.rps_in).abs() < 1e-6,
        "productpage calls reviews once per page: {to_reviews:?} {into_pp:?}"
    );
    let v2 = edge(&g, "svc:demo-project/reviews", "wl:demo-project/reviews-v2");
    assert_eq!(v2.health, Health::Failure, "{v2:?}");
    assert!(v2.error_ratio > 0.3 && v2.error_ratio < 0.7, "{v2:?}");
    assert!(
        v2.p95_ms.is_some_and(|p| (18.5..19.0).contains(&p)),
        "the answer's p95: {v2:?}"
    );
    let v1 = edge(&g, "svc:demo-project/reviews", "wl:demo-project/reviews-v1");
    assert_eq!(v1.health, Health::Healthy);
    assert_eq!(
        edge(&g, pp, "svc:demo-project/details").health,
        Health::Healthy
    );
    assert!(edge(&g, "wl:demo-project/reviews-v2", "svc:demo-project/ratings").rps > 0.0);
    let gw = node(&g, "wl:istio-system/istio-ingressgateway");
    assert_eq!(gw.kind, NodeKind::Ingress);
    assert_eq!(
        node(&g, "wl:demo-project/reviews-v2").parent.as_deref(),
        Some("app:demo-project/reviews")
    );
    assert_eq!(node(&g, "app:demo-project/reviews").health, Health::Failure);
    // Ingress, 4 services, 5 workloads, 4 app boxes.
    assert_eq!(g.nodes.len(), 14, "{:#?}", ids(&g));
    assert_eq!(g.edges.len(), 9);
}

/// The service graph of the hand-made mesh, and every edge's total checked against the
/// versioned graph it came from.
#[test]
fn the_service_graph_merges_versions_into_their_service() {
    let g = build(&mesh(), Some(&inventory()), &[], &[]);
    let s = service_graph(&g);
    assert_eq!(s.view, GraphView::Service);
    // No app boxes or workloads of apps with a service are left; nothing is nested.
    assert!(
        s.nodes
            .iter()
            .all(|n| n.parent.is_none() && n.kind != NodeKind::Workload),
        "{:#?}",
        ids(&s)
    );
    assert!(!ids(&s).iter().any(|i| i.starts_with("wl:demo/")));
    // productpage (one version) → reviews keeps its figures; the id names the caller as
    // its app, which is what the side panel queries.
    let e = edge(&s, "svc:demo/productpage", "svc:demo/reviews");
    assert_eq!(e.id, "app:demo/productpage->svc:demo/reviews");
    let v = edge(&g, PP, "svc:demo/reviews");
    assert!(
        close(e.rps, v.rps) && close(e.error_ratio, v.error_ratio),
        "{e:?} {v:?}"
    );
    assert_eq!((e.p95_ms, e.health), (v.p95_ms, v.health));
    assert!(matches!(
        ItemRef::parse(&e.id),
        Ok(ItemRef::Edge {
            source: NodeRef::App { .. },
            target: NodeRef::Service { .. }
        })
    ));
    let q = item_queries(&ItemRef::parse(&e.id).unwrap(), "demo", "1m");
    assert!(
        q.success.contains("source_app=\"productpage\"")
            && q.success.contains("destination_service_name=\"reviews\""),
        "{q:?}"
    );
    // A service's split over its versions is not an edge of the service graph.
    assert!(
        !s.edges.iter().any(|e| e.source == e.target),
        "{:#?}",
        s.edges
    );
    // reviews-v2's calls are reviews' calls; its traffic out is the service's.
    let r = edge(&s, "svc:demo/reviews", "svc:demo/ratings");
    assert_eq!(r.protocol, "grpc");
    let out: f64 = g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Workload && n.app.as_deref() == Some("reviews"))
        .map(|n| n.rps_out)
        .sum();
    assert!(close(node(&s, "svc:demo/reviews").rps_out, out));
    assert!(close(
        node(&s, "svc:demo/reviews").rps_in,
        node(&g, "svc:demo/reviews").rps_in
    ));
    // details' pods have no sidecar: its service carries the badge.
    assert!(
        node(&s, "svc:demo/details")
            .badges
            .contains(&Badge::NoSidecar)
    );
    // A caller without a service of its app is its app; unknown callers and the ingress stay.
    let lg = node(&s, "app:loadtest/loadgen");
    assert_eq!(lg.kind, NodeKind::App);
    assert!(close(
        edge(&s, "app:loadtest/loadgen", "svc:demo/reviews").rps,
        0.25
    ));
    edge(&s, "unknown", "svc:demo/ratings");
    edge(
        &s,
        "wl:istio-system/istio-ingressgateway",
        "svc:demo/productpage",
    );
    // Every edge ends on drawn nodes and every request of the versioned graph into a
    // service is still there.
    for e in &s.edges {
        node(&s, &e.source);
        node(&s, &e.target);
    }
    let into = |g: &Graph, id: &str| -> f64 {
        g.edges
            .iter()
            .filter(|e| e.target == id)
            .map(|e| e.rps)
            .sum()
    };
    for n in s.nodes.iter().filter(|n| n.kind == NodeKind::Service) {
        assert!(close(into(&s, &n.id), into(&g, &n.id)), "{}", n.id);
    }
}

/// Two versions calling the same service become one edge: rates and failures add up, the
/// p95 is the slower version's.
#[test]
fn merged_edges_add_rates_and_keep_the_slowest_p95() {
    let t = Thresholds::default();
    let wl = |name: &str, version: &str| Node {
        id: format!("wl:demo/{name}-{version}"),
        kind: NodeKind::Workload,
        namespace: "demo".into(),
        name: format!("{name}-{version}"),
        app: Some(name.into()),
        version: Some(version.into()),
        parent: Some(format!("app:demo/{name}")),
        health: Health::Healthy,
        rps_in: 0.0,
        rps_out: 2.0,
        error_ratio: None,
        badges: Vec::new(),
    };
    let svc = |name: &str| Node {
        id: format!("svc:demo/{name}"),
        kind: NodeKind::Service,
        name: name.into(),
        app: None,
        version: None,
        parent: None,
        ..wl(name, "v1")
    };
    let e = |s: &str, t_: &str, rps: f64, err: f64, p95: Option<f64>| Edge {
        id: edge_id(s, t_),
        source: s.into(),
        target: t_.into(),
        protocol: "http".into(),
        rps,
        error_ratio: err,
        p95_ms: p95,
        health: health_of(rps, err, &t),
    };
    let g = Graph {
        project: "demo".into(),
        window_minutes: 5,
        at: 0.0,
        thresholds: t,
        nodes: vec![
            svc("reviews"),
            wl("reviews", "v1"),
            wl("reviews", "v2"),
            svc("ratings"),
        ],
        edges: vec![
            e(
                "wl:demo/reviews-v1",
                "svc:demo/ratings",
                3.0,
                0.0,
                Some(20.0),
            ),
            e(
                "wl:demo/reviews-v2",
                "svc:demo/ratings",
                1.0,
                0.5,
                Some(80.0),
            ),
        ],
        view: GraphView::Versioned,
        view_auto: false,
    };
    let s = service_graph(&g);
    assert_eq!(s.edges.len(), 1, "{:#?}", s.edges);
    let m = &s.edges[0];
    assert_eq!(m.id, "app:demo/reviews->svc:demo/ratings");
    assert_eq!(
        (m.source.as_str(), m.target.as_str()),
        ("svc:demo/reviews", "svc:demo/ratings")
    );
    assert!(close(m.rps, 4.0) && close(m.error_ratio, 0.125), "{m:?}");
    assert_eq!(m.p95_ms, Some(80.0));
    assert_eq!(m.health, Health::Failure);
    assert!(close(node(&s, "svc:demo/reviews").rps_out, 4.0));
}

#[test]
fn the_graph_type_is_asked_for_or_picked_by_size() {
    assert_eq!(GraphView::parse(Some("service")), Some(GraphView::Service));
    assert_eq!(
        GraphView::parse(Some("versioned")),
        Some(GraphView::Versioned)
    );
    assert_eq!(GraphView::parse(Some("apps")), None);
    assert_eq!(GraphView::parse_arg(""), Ok(None));
    let err = GraphView::parse_arg("apps").unwrap_err();
    assert!(
        err.contains("\"apps\"") && err.contains("versioned or service"),
        "{err}"
    );
    for v in GraphView::ALL {
        assert_eq!(GraphView::parse(Some(v.as_str())), Some(v));
    }
    let small = build(&mesh(), Some(&inventory()), &[], &[]);
    assert_eq!(GraphView::resolve(None, &small), GraphView::Versioned);
    assert_eq!(
        GraphView::resolve(Some(GraphView::Service), &small),
        GraphView::Service
    );
    let mut big = small.clone();
    let template = node(&small, "svc:demo/reviews").clone();
    big.nodes = (0..SERVICE_GRAPH_FROM)
        .map(|i| Node {
            id: format!("svc:demo/s{i}"),
            name: format!("s{i}"),
            ..template.clone()
        })
        .collect();
    assert_eq!(GraphView::resolve(None, &big), GraphView::Service);
    assert_eq!(
        GraphView::resolve(Some(GraphView::Versioned), &big),
        GraphView::Versioned
    );
    big.nodes.pop();
    assert_eq!(GraphView::resolve(None, &big), GraphView::Versioned);
}
