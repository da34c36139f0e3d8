//! The Services page's diagnosis and Uninstall Sample Application through the router's
//! server functions, against the sandbox over HTTP with the real release controller:
//! Bookinfo as deployed is Normal; a route to a missing subset, a port without protocol
//! and release routing edited by hand are each reported with their fix; Uninstall is
//! refused while a release job exists and to a person without the rights (nothing is
//! removed), then removes exactly what the console created — a Deployment someone added
//! by hand stays.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service, ServiceAccount};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use leptos::config::LeptosOptions;
use serde_json::{Value, json};
use sluice_app::domain::release::{ReleaseSpec, Strategy};
use sluice_sandbox::{Sandbox, SandboxConfig};
use sluice_server::backends::{HttpBackend, Jaeger, Prometheus};
use sluice_server::context::AppState;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::kube::release_controller;
use sluice_server::kube::releases::{Phase, ReleaseJob, ReleaseJobSpec};
use sluice_server::router::router;
use tower::ServiceExt;

const NS: &str = "demo-project";

fn state(dir: &std::path::Path, cluster: sluice_server::kube::cluster::KubeCluster) -> AppState {
    let http = reqwest::Client::new();
    AppState::new(
        LeptosOptions::builder()
            .output_name("sluice")
            .site_root(dir.to_string_lossy().to_string())
            .build(),
        cluster,
        Prometheus(HttpBackend::prometheus(None, http.clone())),
        Jaeger(HttpBackend::jaeger(None, http)),
        None,
    )
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

/// Polls `check` (bounded) until it returns Some.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn routing_api(client: &kube::Client, kind: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        kind,
    ));
    Api::namespaced_with(client.clone(), NS, &ar)
}

async fn create(api: &Api<DynamicObject>, object: Value) {
    api.create(
        &PostParams::default(),
        &serde_json::from_value(object).unwrap(),
    )
    .await
    .unwrap();
}

/// The row of a Service on the Services page.
async fn service_row(state: &AppState, name: &str) -> Value {
    let (status, view) = call(state, get(&format!("/api/list_services?project={NS}"))).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no row {name}: {view}"))
}

fn kinds(row: &Value) -> Vec<String> {
    row["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Starts the release controller; send `true` to stop it.
fn controller(
    client: &kube::Client,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let metrics = std::sync::Arc::new(sluice_server::backends::Prometheus(
        sluice_server::backends::HttpBackend::prometheus(None, reqwest::Client::new()),
    ));
    let task = tokio::spawn(release_controller::run(
        client.clone(),
        metrics,
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    (tx, task)
}

async fn names<K>(client: &kube::Client) -> Vec<String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let mut out: Vec<String> = Api::<K>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|o| o.meta().name.clone().unwrap_or_default())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn diagnosis_and_uninstall_of_the_sample_application() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SandboxConfig::new(dir.path().join("data"));
    cfg.pod_ready_delay = Duration::from_millis(200);
    let sandbox: Sandbox = Sandbox::start(cfg).await.expect("sandbox starts");
    let admin = state(
        dir.path(),
        from_kubeconfig_file(sandbox.kubeconfig_path(), None, true).await,
    );
    let client = admin.cluster.client().unwrap();
    // alice releases in demo-project, bob only watches: the shipped roles, as sign-in binds them.
    sluice_server::sandbox::install_demo_rbac(&client)
        .await
        .unwrap();
    // The console installs its CRD at start (the leader does, before reconciling).
    release_controller::ensure_crd(&client).await.unwrap();
    let as_user = |user: &str| {
        let path = sandbox.user_kubeconfig(user).unwrap();
        let dir = dir.path().to_path_buf();
        async move { state(&dir, from_kubeconfig_file(&path, None, true).await) }
    };
    let (alice, bob) = (as_user("alice").await, as_user("bob").await);

    let (status, created) = call(
        &alice,
        post("/api/deploy_sample_app", &format!("project={NS}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    until("four running workloads", || async {
        let (_, v) = call(&admin, get(&format!("/api/list_applications?project={NS}"))).await;
        let ready = v["applications"][0]["app"]["components"]
            .as_array()?
            .iter()
            .flat_map(|c| c["workloads"].as_array().cloned().unwrap_or_default())
            .filter(|w| w["ready"] == 1 && w["desired"] == 1)
            .count();
        (ready == 4).then_some(())
    })
    .await;

    // As deployed: every Service Normal, with its version and named port.
    let (status, view) = call(&bob, get(&format!("/api/list_services?project={NS}"))).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let rows = view["services"].as_array().unwrap();
    let names_on_page: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names_on_page,
        ["details", "productpage", "ratings", "reviews"]
    );
    for r in rows {
        assert_eq!(r["findings"], json!([]), "{r}");
    }
    assert_eq!(rows[3]["ports"], json!(["http 9080/TCP"]));
    assert_eq!(rows[3]["versions"][0]["workload"], "reviews-v1");

    // Break it by hand: reviews routed to a subset nobody defines, details' port renamed.
    let (vs_api, dr_api) = (
        routing_api(&client, "VirtualService"),
        routing_api(&client, "DestinationRule"),
    );
    create(
        &dr_api,
        json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "reviews"},
        "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}),
    )
    .await;
    create(&vs_api, json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}]}}))
    .await;
    Api::<Service>::namespaced(client.clone(), NS)
        .patch(
            "details",
            &PatchParams::default(),
            &Patch::<Value>::Json(
                serde_json::from_value(
                    json!([{"op": "replace", "path": "/spec/ports/0/name", "value": "web"}]),
                )
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    let reviews = service_row(&admin, "reviews").await;
    assert_eq!(kinds(&reviews), ["UndefinedSubset"], "{reviews}");
    let f = &reviews["findings"][0];
    assert_eq!(f["severity"], "Error");
    assert!(
        f["problem"]
            .as_str()
            .unwrap()
            .contains("subset \"v3\" of reviews"),
        "{f}"
    );
    assert!(
        f["fix"].as_str().unwrap().contains("Add a subset v3"),
        "{f}"
    );
    let details = service_row(&admin, "details").await;
    assert_eq!(kinds(&details), ["UnnamedPort"], "{details}");
    assert!(
        details["findings"][0]["fix"]
            .as_str()
            .unwrap()
            .contains("http-web")
    );
    // Fixed again.
    vs_api
        .delete("reviews", &DeleteParams::default())
        .await
        .unwrap();
    dr_api
        .delete("reviews", &DeleteParams::default())
        .await
        .unwrap();
    Api::<Service>::namespaced(client.clone(), NS)
        .patch(
            "details",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ports": [{"port": 9080, "name": "http"}]}})),
        )
        .await
        .unwrap();
    assert_eq!(service_row(&admin, "details").await["findings"], json!([]));

    // The tutorial's canary release of reviews, Live at 50/50.
    let (stop, task) = controller(&client);
    let jobs: Api<ReleaseJob> = Api::namespaced(client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &ReleaseJob::new(
            "canary-release",
            ReleaseJobSpec {
                release: ReleaseSpec {
                    component: "reviews".into(),
                    base_workload: "reviews-v1".into(),
                    base_version: "v1".into(),
                    new_version: "v2".into(),
                    image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
                    replicas: 1,
                    strategy: Strategy::TrafficRatio { new_percent: 50 },
                    taken_over_by: None,
                    creator: Some("alice".into()),
                    analysis: None,
                    routing: Default::default(),
                    also_serving: Vec::new(),
                    http_route: None,
                },
                offline_keep: None,
            },
        ),
    )
    .await
    .unwrap();
    until("the job to go live at 50/50", || async {
        let s = jobs.get("canary-release").await.ok()?.status?;
        (s.phase == Some(Phase::Live) && s.versions.iter().all(|v| v.weight == 50)).then_some(())
    })
    .await;
    let reviews = service_row(&admin, "reviews").await;
    assert_eq!(
        reviews["findings"],
        json!([]),
        "routing as the job renders it: {reviews}"
    );
    assert_eq!(reviews["versions"].as_array().unwrap().len(), 2);

    // Someone edits the job's VirtualService by hand (with the controller stopped, so it
    // is not written back before the page is read).
    stop.send(true).unwrap();
    task.await.unwrap();
    vs_api
        .patch(
            "reviews",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"http": [{"route": [
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": 80},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 20}]}]}})),
        )
        .await
        .unwrap();
    let reviews = service_row(&admin, "reviews").await;
    assert_eq!(kinds(&reviews), ["HandEditedRelease"], "{reviews}");
    assert_eq!(
        reviews["findings"][0]["problem"],
        "It was edited by hand: it sends v1 80% / v2 20%, but release job canary-release set v1 50% / v2 50%."
    );

    // Uninstall is refused while the job exists, and nothing is removed.
    let before = names::<Deployment>(&client).await;
    let (status, preview) = call(
        &alice,
        get(&format!("/api/preview_sample_uninstall?project={NS}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview["blockers"],
        json!([
            "reviews has a release job canary-release: finish it (Take Over, Job Offline) or delete it first"
        ])
    );
    let (status, err) = call(
        &alice,
        post("/api/uninstall_sample_app", &format!("project={NS}")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(
        err["Conflict"],
        "reviews has a release job canary-release: finish it (Take Over, Job Offline) or delete it first; nothing was removed."
    );
    assert_eq!(names::<Deployment>(&client).await, before);

    // The job goes (the controller undoes the release); someone adds reviews v3 by hand.
    let (stop, task) = controller(&client);
    jobs.delete("canary-release", &DeleteParams::default())
        .await
        .unwrap();
    until("the job to be gone", || async {
        jobs.get_opt("canary-release")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    let v3: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "reviews-v3", "labels": {"app": "reviews", "version": "v3"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "reviews", "version": "v3"}},
                 "template": {"metadata": {"labels": {"app": "reviews", "version": "v3"}},
                              "spec": {"containers": [{"name": "reviews",
                                  "image": "docker.io/istio/examples-bookinfo-reviews-v3:1.20.3"}]}}}
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &v3)
        .await
        .unwrap();

    // What Uninstall will remove, and what stays.
    let (_, preview) = call(
        &alice,
        get(&format!("/api/preview_sample_uninstall?project={NS}")),
    )
    .await;
    assert_eq!(preview["blockers"], json!([]), "{preview}");
    assert_eq!(
        preview["kept"],
        json!([{"kind": "Deployment", "name": "reviews-v3"}])
    );
    let listed: Vec<String> = preview["objects"]
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
        listed.first().map(String::as_str),
        Some("VirtualService bookinfo")
    );
    assert!(
        listed.contains(&"Deployment reviews-v1".to_string()),
        "{listed:?}"
    );
    assert!(
        !listed.iter().any(|o| o.contains("reviews-v3")),
        "{listed:?}"
    );
    assert_eq!(listed.len(), 14, "{listed:?}");

    // A viewer may not: the dry run stops it before anything goes.
    let (_, perms) = call(&bob, get(&format!("/api/get_permissions?project={NS}"))).await;
    assert!(
        perms["denied"]["UninstallSample"].as_str().is_some(),
        "{perms}"
    );
    let (status, err) = call(
        &bob,
        post("/api/uninstall_sample_app", &format!("project={NS}")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let msg = err["Forbidden"].as_str().unwrap();
    assert!(msg.contains("User \"bob\" cannot delete resource"), "{msg}");
    assert!(msg.ends_with("Nothing was removed."), "{msg}");
    assert_eq!(
        call(
            &alice,
            get(&format!("/api/preview_sample_uninstall?project={NS}"))
        )
        .await
        .1["objects"]
            .as_array()
            .unwrap()
            .len(),
        14
    );

    // alice, with the release operator's role, uninstalls: all of it goes, reviews-v3 stays.
    let (_, perms) = call(&alice, get(&format!("/api/get_permissions?project={NS}"))).await;
    assert!(perms["denied"].get("UninstallSample").is_none(), "{perms}");
    let (status, removed) = call(
        &alice,
        post("/api/uninstall_sample_app", &format!("project={NS}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed.as_array().unwrap().len(), 14, "{removed}");
    until("nothing of the sample left", || async {
        let (_, p) = call(
            &alice,
            get(&format!("/api/preview_sample_uninstall?project={NS}")),
        )
        .await;
        (p["objects"] == json!([]) && p["pods"] == json!([])).then_some(())
    })
    .await;
    assert_eq!(names::<Deployment>(&client).await, ["reviews-v3"]);
    assert_eq!(names::<Service>(&client).await, Vec::<String>::new());
    assert!(
        !names::<ServiceAccount>(&client)
            .await
            .iter()
            .any(|n| n.starts_with("bookinfo-")),
        "the sample's accounts are gone"
    );
    for kind in ["VirtualService", "DestinationRule", "Gateway"] {
        let left = routing_api(&client, kind)
            .list(&ListParams::default())
            .await
            .unwrap();
        assert!(left.items.is_empty(), "{kind}: {:?}", left.items);
    }
    until("only reviews-v3's pod", || async {
        let pods = names::<Pod>(&client).await;
        (pods.len() == 1 && pods[0].starts_with("reviews-v3-")).then_some(())
    })
    .await;

    // Again: there is nothing left to uninstall.
    let (status, err) = call(
        &alice,
        post("/api/uninstall_sample_app", &format!("project={NS}")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");

    stop.send(true).unwrap();
    task.await.unwrap();
    sandbox.shutdown().await;
}
