//! The Traffic Management graph end to end: sandbox mode as `sluice --sandbox` starts it
//! (embedded cluster, simulated mesh, the real Prometheus child), Bookinfo with a faulty
//! reviews-v2 under synthetic load, and `get_topology` / `get_topology_item` called over
//! the console's router as the page calls them.
//!
//! `SLUICE_CAPTURE_TOPOLOGY=<dir>` also writes Prometheus' raw answers to the graph's
//! queries there (how app/tests/fixtures/prometheus/topology-bookinfo-*.json were made).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use sluice_app::domain::topology::{
    Graph, Health, ItemMetrics, NodeKind, errors_query, latency_to_service_query,
    latency_to_workload_query, requests_query,
};
use sluice_server::config::Config;
use sluice_server::context;
use sluice_server::router::router;
use tower::ServiceExt;

const NS: &str = "demo-project";

async fn create(client: &kube::Client, obj: Value) {
    let api_version = obj["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, obj["kind"].as_str().unwrap());
    let ar = ApiResource::from_gvk(&gvk);
    Api::<DynamicObject>::namespaced_with(client.clone(), NS, &ar)
        .create(
            &PostParams::default(),
            &serde_json::from_value(obj).unwrap(),
        )
        .await
        .unwrap();
}

async fn get(state: &sluice_server::context::AppState, uri: &str) -> (StatusCode, String) {
    let res = router(state.clone())
        .oneshot(
            Request::get(uri)
                .header("host", "127.0.0.1:3000")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn edge<'a>(
    g: &'a Graph,
    source: &str,
    target: &str,
) -> Option<&'a sluice_app::domain::topology::Edge> {
    g.edges
        .iter()
        .find(|e| e.source == source && e.target == target)
}

#[tokio::test]
async fn bookinfo_under_load_draws_its_graph_with_the_faulty_version_failing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_string_lossy().to_string();
    let cfg = Config::try_parse_from([
        "sluice",
        "--sandbox",
        "--data-dir",
        &data,
        "--sandbox-ingress-addr",
        "127.0.0.1:0",
        "--sandbox-load-rps",
        "0",
    ])
    .unwrap();
    let ctx = context::build(&cfg).await.expect("sandbox mode starts");
    let sandbox = ctx.sandbox.as_ref().unwrap();
    assert!(
        ctx.prometheus.is_some(),
        "sluice starts Debian's prometheus (deploy/test installs it)"
    );
    let state = ctx.state.clone();

    let kc = kube::config::Kubeconfig::read_from(sandbox.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"istio-injection": "enabled"}}})),
        )
        .await
        .unwrap();
    // Bookinfo as Deploy Sample Application leaves it, plus a reviews-v2 whose image tag
    // makes the sandbox answer half its requests with 500 (and which calls ratings).
    let mut objects: Vec<Value> =
        sluice_app::domain::sample_app::plan(NS, "bookinfo.demo-project.localhost")
            .unwrap()
            .into_iter()
            .map(|o| o.object)
            .collect();
    let mut v2 = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "reviews-v1")
        .unwrap()
        .clone();
    v2["metadata"]["name"] = json!("reviews-v2");
    for path in [
        "/metadata/labels/version",
        "/spec/selector/matchLabels/version",
        "/spec/template/metadata/labels/version",
    ] {
        *v2.pointer_mut(path).unwrap() = json!("v2");
    }
    v2["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("docker.io/istio/examples-bookinfo-reviews-v2:1.20.3-faulty");
    objects.push(v2);
    for obj in objects {
        create(&client, obj).await;
    }

    // Before any traffic the graph already holds the project's services and workloads.
    let mut idle = None;
    for _ in 0..50 {
        let (status, body) =
            get(&state, &format!("/api/get_topology?project={NS}&minutes=1")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let g: Graph = serde_json::from_str(&body).unwrap();
        if g.nodes.iter().any(|n| n.id == "wl:demo-project/reviews-v2") {
            idle = Some(g);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let idle = idle.expect("the idle graph lists reviews-v2");
    let reviews = idle
        .nodes
        .iter()
        .find(|n| n.id == "svc:demo-project/reviews")
        .expect("the reviews service is a node without traffic");
    assert_eq!(reviews.health, Health::Idle);
    assert_eq!(reviews.error_ratio, None);

    // Every workload ready before the users come: a request made while a reviews pod is
    // still starting fails with no version to report (`destination_version="unknown"`),
    // and that series would then count as a third version of reviews.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), NS);
    let mut ready = false;
    for _ in 0..300 {
        let list = deployments.list(&Default::default()).await.unwrap().items;
        ready = list.len() >= 5
            && list.iter().all(|d| {
                let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                d.status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0)
                    >= want
            });
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "Bookinfo's workloads did not become ready");
    ctx.state
        .ports
        .traffic
        .as_ref()
        .expect("sandbox traffic")
        .set(Some(40.0))
        .unwrap();

    // Prometheus scrapes every 5 s and a rate needs two samples: poll (bounded).
    let want = |g: &Graph| {
        let pp = "wl:demo-project/productpage-v1";
        let ok = |s: &str, t: &str| edge(g, s, t).is_some_and(|e| e.rps > 0.0);
        ok(pp, "svc:demo-project/details")
            && ok(pp, "svc:demo-project/reviews")
            && ok("svc:demo-project/reviews", "wl:demo-project/reviews-v1")
            && ok("svc:demo-project/reviews", "wl:demo-project/reviews-v2")
            && ok("wl:demo-project/reviews-v2", "svc:demo-project/ratings")
            && ok("svc:demo-project/ratings", "wl:demo-project/ratings-v1")
    };
    let mut graph = None;
    let mut last = String::new();
    for _ in 0..90 {
        let (status, body) =
            get(&state, &format!("/api/get_topology?project={NS}&minutes=1")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let g: Graph = serde_json::from_str(&body).unwrap();
        if want(&g) {
            graph = Some(g);
            break;
        }
        last = body;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let g = graph.unwrap_or_else(|| panic!("the graph never showed Bookinfo's traffic: {last}"));

    let reviews_v1 = edge(&g, "svc:demo-project/reviews", "wl:demo-project/reviews-v1").unwrap();
    let reviews_v2 = edge(&g, "svc:demo-project/reviews", "wl:demo-project/reviews-v2").unwrap();
    assert_eq!(reviews_v1.health, Health::Healthy, "{reviews_v1:?}");
    assert_eq!(reviews_v2.health, Health::Failure, "{reviews_v2:?}");
    assert!(reviews_v2.error_ratio > 0.2, "{reviews_v2:?}");
    assert!(reviews_v2.p95_ms.is_some_and(|p| p > 0.0), "{reviews_v2:?}");
    assert_eq!(reviews_v2.protocol, "http");
    let details = edge(
        &g,
        "wl:demo-project/productpage-v1",
        "svc:demo-project/details",
    )
    .unwrap();
    assert_eq!(details.health, Health::Healthy, "{details:?}");
    assert!(details.p95_ms.is_some(), "{details:?}");
    // The ingress gateway is the way in; the versions of reviews sit in one app box.
    let ingress = g
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Ingress)
        .expect("an ingress node");
    assert!(edge(&g, &ingress.id, "svc:demo-project/productpage").is_some_and(|e| e.rps > 0.0));
    for v in ["reviews-v1", "reviews-v2"] {
        let n = g
            .nodes
            .iter()
            .find(|n| n.id == format!("wl:demo-project/{v}"))
            .unwrap();
        assert_eq!(n.parent.as_deref(), Some("app:demo-project/reviews"));
    }
    let app = g
        .nodes
        .iter()
        .find(|n| n.id == "app:demo-project/reviews")
        .unwrap();
    assert_eq!(app.health, Health::Failure);
    // The sample's productpage VirtualService routes through the gateway only; no
    // mesh VirtualService exists for reviews, so no badge claims one.
    let reviews = g
        .nodes
        .iter()
        .find(|n| n.id == "svc:demo-project/reviews")
        .unwrap();
    assert!(reviews.badges.is_empty(), "{reviews:?}");

    // Charts of the faulty edge and of the reviews service (per-version split).
    let (status, body) = get(
        &state,
        &format!("/api/get_topology_item?project={NS}&item=svc:demo-project/reviews-%3Ewl:demo-project/reviews-v2&minutes=5"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let m: ItemMetrics = serde_json::from_str(&body).unwrap();
    assert_eq!(m.title, "reviews → reviews-v2");
    assert!(
        m.rps_in.iter().any(|s| s.points.iter().any(|p| p.1 > 0.0)),
        "{m:?}"
    );
    assert!(
        m.success.iter().any(|s| s.points.iter().any(|p| p.1 < 0.9)),
        "the faulty version's success rate dips: {m:?}"
    );
    let (status, body) = get(
        &state,
        &format!("/api/get_topology_item?project={NS}&item=svc:demo-project/reviews&minutes=5"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let m: ItemMetrics = serde_json::from_str(&body).unwrap();
    assert_eq!(m.versions.len(), 2, "{m:?}");
    let quantiles: Vec<&str> = m
        .latency
        .iter()
        .filter_map(|s| s.labels.get("quantile").map(String::as_str))
        .collect();
    assert!(quantiles.contains(&"p95"), "{quantiles:?}");

    // Bad input is refused with the expected form.
    let (status, body) = get(
        &state,
        &format!("/api/get_topology_item?project={NS}&item=reviews&minutes=5"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("svc:<namespace>/<service>"), "{body}");
    let (status, body) = get(&state, &format!("/api/get_topology?project={NS}&minutes=7")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    if let Ok(out) = std::env::var("SLUICE_CAPTURE_TOPOLOGY") {
        // Let the 1-minute window fill with steady load, so the rates of series that
        // appeared at different moments of the start agree with each other.
        tokio::time::sleep(Duration::from_secs(75)).await;
        let prom = ctx.prometheus.as_ref().unwrap().url().to_string();
        let http = reqwest::Client::new();
        for (name, q) in [
            ("requests", requests_query(NS, 1)),
            ("errors", errors_query(NS, 1)),
            ("latency-to-service", latency_to_service_query(NS, 1)),
            ("latency-to-workload", latency_to_workload_query(NS, 1)),
        ] {
            let body: Value = http
                .get(format!("{prom}/api/v1/query"))
                .query(&[("query", q)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            std::fs::write(
                format!("{out}/topology-bookinfo-{name}.json"),
                serde_json::to_string_pretty(&body).unwrap(),
            )
            .unwrap();
        }
    }
    if let Some(t) = &ctx.state.ports.traffic {
        let _ = t.set(None);
    }
    ctx.stop().await;
}
