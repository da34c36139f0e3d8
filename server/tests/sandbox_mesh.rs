//! Sandbox mode as `sluice --sandbox` starts it (context::build): Bookinfo routed by a
//! VirtualService applied through the Kubernetes API, requests through the real HTTP
//! ingress, and the Prometheus child that sluice started answering Istio queries.

use std::time::Duration;

use clap::Parser;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use sluice_server::config::Config;
use sluice_server::context;

fn vs_reviews(v1: u32, v3: u32) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "demo-project"},
        "spec": {"hosts": ["reviews"], "http": [{"route": [
            {"destination": {"host": "reviews", "subset": "v1"}, "weight": v1},
            {"destination": {"host": "reviews", "subset": "v3"}, "weight": v3}
        ]}]}
    })
}

fn dr_reviews() -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "reviews", "namespace": "demo-project"},
        "spec": {"host": "reviews", "subsets": [
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "v3", "labels": {"version": "v3"}}
        ]}
    })
}

async fn create(client: &kube::Client, obj: Value) {
    let api_version = obj["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, obj["kind"].as_str().unwrap());
    let ar = ApiResource::from_gvk(&gvk);
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        obj["metadata"]["namespace"].as_str().unwrap(),
        &ar,
    );
    api.create(
        &PostParams::default(),
        &serde_json::from_value(obj).unwrap(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn routed_split_through_the_ingress_and_measured_by_prometheus() {
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
    let prometheus = ctx
        .prometheus
        .as_ref()
        .expect("sluice starts Debian's prometheus (deploy/test installs it)");

    // Everything the console sees is ready: cluster, Prometheus, Jaeger.
    let status = ctx.state.ports.metrics.status().await;
    assert!(status.is_ready(), "{status:?}");
    let status = ctx.state.ports.traces.status().await;
    assert!(status.is_ready(), "{status:?}");

    let kc = kube::config::Kubeconfig::read_from(sandbox.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    // Routing rules are applied by the caller's sidecar: without injection productpage
    // would spread requests like kube-proxy. Turn it on first, as the console's deploy does.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            "demo-project",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                json!({"metadata": {"labels": {"istio-injection": "enabled"}}}),
            ),
        )
        .await
        .unwrap();
    // Bookinfo (with reviews v1 and v3) from the console's own sample plan, plus v3.
    let mut objects: Vec<Value> =
        sluice_app::domain::sample_app::plan("demo-project", "bookinfo.demo-project.localhost")
            .unwrap()
            .into_iter()
            .map(|o| o.object)
            .collect();
    let v1 = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "reviews-v1")
        .unwrap()
        .clone();
    let mut v3 = v1.clone();
    v3["metadata"]["name"] = json!("reviews-v3");
    for path in [
        "/metadata/labels/version",
        "/spec/selector/matchLabels/version",
        "/spec/template/metadata/labels/version",
    ] {
        *v3.pointer_mut(path).unwrap() = json!("v3");
    }
    v3["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("docker.io/istio/examples-bookinfo-reviews-v3:1.20.3");
    objects.push(v3);
    objects.push(dr_reviews());
    objects.push(vs_reviews(70, 30));
    for obj in objects {
        create(&client, obj).await;
    }

    // Wait (bounded) until the ingress serves both versions.
    let http = reqwest::Client::new();
    let url = format!("http://{}/productpage?u=normal", sandbox.ingress_addr());
    let fetch = |http: reqwest::Client, url: String| async move {
        let res = http
            .get(&url)
            .header("host", "bookinfo.demo-project.localhost")
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    let mut ready = false;
    for _ in 0..100 {
        let (code, body) = fetch(http.clone(), url.clone()).await;
        if code == 200 && body.contains("data-reviews-version") {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ready, "the product page never came up through the ingress");
    tokio::time::sleep(Duration::from_secs(3)).await; // both reviews pods ready

    const N: usize = 300;
    let mut v3_count = 0usize;
    for _ in 0..N {
        let (code, body) = fetch(http.clone(), url.clone()).await;
        assert_eq!(code, 200, "{body}");
        if body.contains(r#"data-reviews-version="v3""#) {
            v3_count += 1;
        } else {
            assert!(body.contains(r#"data-reviews-version="v1""#), "{body}");
        }
    }
    // Five standard deviations of the binomial share: fails only if routing is wrong.
    let p = 0.3;
    let tolerance = 5.0 * (p * (1.0 - p) / N as f64).sqrt();
    let observed = v3_count as f64 / N as f64;
    assert!(
        (observed - p).abs() <= tolerance,
        "v3 share {observed:.3}, expected {p} ± {tolerance:.3}"
    );

    // Prometheus (started by sluice, scraping every 5 s) sees the same split.
    let query = format!(
        "{}/api/v1/query?query={}",
        prometheus.url(),
        "sum%20by%20(destination_version)(istio_requests_total%7Breporter%3D%22destination%22%2Cdestination_service_name%3D%22reviews%22%7D)"
    );
    let mut counts = (0.0, 0.0);
    for _ in 0..60 {
        let v: Value = http.get(&query).send().await.unwrap().json().await.unwrap();
        let get = |ver: &str| {
            v["data"]["result"]
                .as_array()
                .and_then(|r| r.iter().find(|s| s["metric"]["destination_version"] == ver))
                .and_then(|s| s["value"][1].as_str())
                .and_then(|x| x.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        counts = (get("v1"), get("v3"));
        if counts.0 + counts.1 >= N as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let total = counts.0 + counts.1;
    assert!(total >= N as f64, "Prometheus saw {counts:?}");
    let share = counts.1 / total;
    assert!(
        (share - p).abs() <= tolerance + 0.02,
        "Prometheus v3 share {share:.3}"
    );

    ctx.stop().await;
}
