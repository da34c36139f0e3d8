//! Deploy Sample Application end to end through the router's server functions, against
//! the sandbox cluster over HTTP: the page's data matches what the API server holds, and
//! a second deploy or a bad project changes nothing.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams};
use leptos::config::LeptosOptions;
use serde_json::Value;
use sluice_sandbox::{Sandbox, SandboxConfig};
use sluice_server::backends::{HttpBackend, Jaeger, Prometheus};
use sluice_server::context::AppState;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::router::router;
use tower::ServiceExt;

struct Env {
    _dir: tempfile::TempDir,
    sandbox: Sandbox,
    state: AppState,
    client: kube::Client,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SandboxConfig::new(dir.path().join("data"));
    cfg.pod_ready_delay = Duration::from_millis(200);
    let sandbox = Sandbox::start(cfg).await.expect("sandbox starts");
    let cluster = from_kubeconfig_file(sandbox.kubeconfig_path(), None, true).await;
    let http = reqwest::Client::new();
    let state = AppState::new(
        LeptosOptions::builder()
            .output_name("sluice")
            .site_root(dir.path().to_string_lossy().to_string())
            .build(),
        cluster,
        Prometheus(HttpBackend::prometheus(None, http.clone())),
        Jaeger(HttpBackend::jaeger(None, http)),
        None,
    );
    let kc = kube::config::Kubeconfig::read_from(sandbox.kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    Env {
        _dir: dir,
        sandbox,
        state,
        client,
    }
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let res = router(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let json = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, json)
}

fn post(path: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(form.to_string()))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "127.0.0.1:3000")
        .body(Body::empty())
        .unwrap()
}

async fn object_count(client: &kube::Client, ns: &str) -> (usize, usize) {
    let d = Api::<Deployment>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    let s = Api::<Service>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    (d, s)
}

#[tokio::test]
async fn deploy_sample_application_then_watch_it_become_running() {
    let env = env().await;

    let (status, preview) = call(
        &env.state,
        get("/api/preview_sample_app?project=demo-project"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["host"], "bookinfo.demo-project.localhost");
    assert_eq!(
        preview["objects"].as_array().unwrap().len(),
        14,
        "{preview}"
    );
    assert_eq!(preview["existing"], serde_json::json!([]));
    assert_eq!(preview["enables_injection"], true);

    let (status, created) = call(
        &env.state,
        post("/api/deploy_sample_app", "project=demo-project"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created.as_array().unwrap().len(), 14);

    // Governance went on first, so the pods were created with sidecars.
    let (_, view) = call(
        &env.state,
        get("/api/list_applications?project=demo-project"),
    )
    .await;
    assert_eq!(view["project"]["sidecar_injection"], true, "{view}");

    // The page's view converges to four running workloads (bounded wait).
    let mut view = Value::Null;
    for _ in 0..100 {
        let (status, v) = call(
            &env.state,
            get("/api/list_applications?project=demo-project"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        view = v;
        let all_running = view["applications"][0]["app"]["components"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .flat_map(|c| c["workloads"].as_array().cloned().unwrap_or_default())
                    .filter(|w| w["ready"] == w["desired"] && w["desired"] == 1)
                    .count()
            })
            == Some(4);
        if all_running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let apps = view["applications"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "{view}");
    assert_eq!(apps[0]["app"]["name"], "bookinfo");
    let components: Vec<&str> = apps[0]["app"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(components, ["details", "productpage", "ratings", "reviews"]);
    let reviews = &apps[0]["app"]["components"][3]["workloads"];
    assert_eq!(
        reviews.as_array().unwrap().len(),
        1,
        "reviews v1 only: {reviews}"
    );
    assert_eq!(reviews[0]["name"], "reviews-v1");
    assert_eq!(
        apps[0]["routes"][0]["host"],
        "bookinfo.demo-project.localhost"
    );
    assert_eq!(apps[0]["routes"][0]["path"], "/productpage");

    // What the page says exists is what the API server holds.
    let deployments = Api::<Deployment>::namespaced(env.client.clone(), "demo-project")
        .list(&ListParams::default())
        .await
        .unwrap();
    let mut api_names: Vec<String> = deployments
        .items
        .iter()
        .map(|d| d.metadata.name.clone().unwrap())
        .collect();
    api_names.sort();
    let mut page_names: Vec<String> = apps[0]["app"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["workloads"].as_array().cloned().unwrap_or_default())
        .map(|w| w["name"].as_str().unwrap().to_string())
        .collect();
    page_names.sort();
    assert_eq!(page_names, api_names);

    // The detail: pods down to node and IP, events, and the objects that route it.
    let (status, detail) = call(
        &env.state,
        get("/api/get_application?project=demo-project&app=bookinfo"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let pods = detail["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 4, "{detail}");
    for pod in pods {
        assert!(pod["node"].as_str().is_some_and(|n| !n.is_empty()), "{pod}");
        assert!(
            pod["ip"].as_str().is_some_and(|ip| ip.contains('.')),
            "{pod}"
        );
        assert_eq!(pod["phase"], "Running", "{pod}");
        assert!(pod["workload"].as_str().is_some(), "{pod}");
        // Injection was on before the pods were created, so each has its sidecar.
        assert_eq!(pod["sidecar"], true, "{pod}");
        assert_eq!(pod["ready"], "2/2", "{pod}");
    }
    assert!(!detail["events"].as_array().unwrap().is_empty(), "{detail}");
    let routing: Vec<String> = detail["routing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        routing,
        ["VirtualService bookinfo", "Gateway bookinfo-gateway"],
        "{detail}"
    );
    assert!(
        detail["routing"][0]["yaml"]
            .as_str()
            .unwrap()
            .contains("exact: /productpage")
    );

    let (status, err) = call(
        &env.state,
        get("/api/get_application?project=demo-project&app=nope"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");

    // Deploying again is refused with a clear message, and nothing changes.
    let before = object_count(&env.client, "demo-project").await;
    let (status, err) = call(
        &env.state,
        post("/api/deploy_sample_app", "project=demo-project"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let msg = err["Conflict"].as_str().unwrap();
    assert!(msg.contains("already exist"), "{msg}");
    assert!(msg.contains("Nothing was changed"), "{msg}");
    assert_eq!(object_count(&env.client, "demo-project").await, before);

    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_projects_get_clear_errors() {
    let env = env().await;
    let (status, err) = call(
        &env.state,
        post("/api/deploy_sample_app", "project=Demo_Project"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["Invalid"].as_str().unwrap().contains("lowercase"),
        "{err}"
    );

    let (status, err) = call(&env.state, get("/api/list_applications?project=nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert!(
        err["NotFound"].as_str().unwrap().contains("nowhere"),
        "{err}"
    );

    // A clash with an object the user made by hand: refused, nothing created.
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {"selector": {"app": "mine"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(env.client.clone(), "default")
        .create(&Default::default(), &svc)
        .await
        .unwrap();
    let (status, err) = call(
        &env.state,
        post("/api/deploy_sample_app", "project=default"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(
        err["Conflict"]
            .as_str()
            .unwrap()
            .contains("Service reviews"),
        "{err}"
    );
    assert_eq!(object_count(&env.client, "default").await, (0, 1));
    let (_, view) = call(&env.state, get("/api/list_applications?project=default")).await;
    assert_eq!(
        view["project"]["sidecar_injection"], false,
        "refused deploy changed nothing: {view}"
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn sidecar_injection_is_a_project_setting() {
    let env = env().await;
    let (status, v) = call(
        &env.state,
        post(
            "/api/set_sidecar_injection",
            "project=demo-project&enabled=true",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let ns = Api::<k8s_openapi::api::core::v1::Namespace>::all(env.client.clone())
        .get("demo-project")
        .await
        .unwrap();
    assert_eq!(
        ns.metadata
            .labels
            .unwrap()
            .get("istio-injection")
            .map(String::as_str),
        Some("enabled")
    );
    let (_, view) = call(
        &env.state,
        get("/api/list_applications?project=demo-project"),
    )
    .await;
    assert_eq!(view["project"]["sidecar_injection"], true, "{view}");
    let (status, _) = call(
        &env.state,
        post(
            "/api/set_sidecar_injection",
            "project=demo-project&enabled=false",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, view) = call(
        &env.state,
        get("/api/list_applications?project=demo-project"),
    )
    .await;
    assert_eq!(view["project"]["sidecar_injection"], false, "{view}");
    env.sandbox.shutdown().await;
}

async fn traces_of_productpage(jaeger: std::net::SocketAddr) -> usize {
    let v: Value = reqwest::get(format!(
        "http://{jaeger}/api/traces?service=productpage.demo-project&limit=10000&lookback=1h"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    v["data"].as_array().map(Vec::len).unwrap_or(0)
}

async fn visit(ingress: std::net::SocketAddr, n: usize) {
    let http = reqwest::Client::new();
    for _ in 0..n {
        let res = http
            .get(format!("http://{ingress}/productpage?u=normal"))
            .header("host", "bookinfo.demo-project.localhost")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn trace_sampling_is_a_project_setting_the_mesh_honours() {
    let env = env().await;
    let (status, _) = call(
        &env.state,
        post("/api/deploy_sample_app", "project=demo-project"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..100 {
        let (_, v) = call(
            &env.state,
            get("/api/list_applications?project=demo-project"),
        )
        .await;
        let ready = v["applications"][0]["app"]["components"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .flat_map(|c| c["workloads"].as_array().cloned().unwrap_or_default())
                    .filter(|w| w["ready"] == 1)
                    .count()
            });
        if ready == Some(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, v) = call(
        &env.state,
        get("/api/list_applications?project=demo-project"),
    )
    .await;
    assert_eq!(v["trace_sampling"], Value::Null, "mesh default until set");

    // Out of range is refused with the fix.
    let (status, err) = call(
        &env.state,
        post(
            "/api/set_trace_sampling",
            "project=demo-project&percent=101",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["Invalid"].as_str().unwrap().contains("choose 0 to 100"),
        "{err}"
    );

    // 0 %: requests through the project's gateway are not traced.
    let (status, err) = call(
        &env.state,
        post("/api/set_trace_sampling", "project=demo-project&percent=0"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{err}");
    let (_, v) = call(
        &env.state,
        get("/api/list_applications?project=demo-project"),
    )
    .await;
    assert_eq!(v["trace_sampling"], 0, "{v}");
    tokio::time::sleep(Duration::from_millis(500)).await; // the mesh picks the Telemetry up
    let before = traces_of_productpage(env.sandbox.jaeger_addr()).await;
    visit(env.sandbox.ingress_addr(), 20).await;
    assert_eq!(
        traces_of_productpage(env.sandbox.jaeger_addr()).await,
        before
    );

    // 100 %: every request is traced.
    let (status, _) = call(
        &env.state,
        post(
            "/api/set_trace_sampling",
            "project=demo-project&percent=100",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    visit(env.sandbox.ingress_addr(), 5).await;
    assert_eq!(
        traces_of_productpage(env.sandbox.jaeger_addr()).await,
        before + 5
    );
    env.sandbox.shutdown().await;
}
