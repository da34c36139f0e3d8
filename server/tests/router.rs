//! The router as a function, driven with `oneshot`: health endpoints, pages, the 404, and
//! a server function, against a cluster that does not answer and against the sandbox.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use leptos::config::LeptosOptions;
use sluice_server::backends::{HttpBackend, Jaeger, Prometheus};
use sluice_server::context::AppState;
use sluice_server::kube::cluster::KubeCluster;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::router::router;
use tower::ServiceExt;

fn state(cluster: KubeCluster, site_root: &std::path::Path) -> AppState {
    let http = reqwest::Client::new();
    AppState::new(
        LeptosOptions::builder()
            .output_name("sluice")
            .site_root(site_root.to_string_lossy().to_string())
            .build(),
        cluster,
        Prometheus(HttpBackend::prometheus(None, http.clone())),
        Jaeger(HttpBackend::jaeger(None, http)),
        None,
    )
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
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
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  \
         cluster:\n    server: {server}\ncontexts:\n- name: lab\n  context:\n    \
         cluster: lab\n    user: lab\nusers:\n- name: lab\n  user:\n    token: t\n"
    )
}

#[tokio::test]
async fn an_unreachable_cluster_is_explained_and_the_console_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let server = format!("https://127.0.0.1:{}", closed_port());
    std::fs::write(&path, kubeconfig(&server)).unwrap();
    let state = state(from_kubeconfig_file(&path, None, false).await, dir.path());

    let (status, body) = get(&state, "/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.contains("The Kubernetes cluster is not reachable"),
        "{body}"
    );
    assert!(body.contains(&path.display().to_string()), "{body}");
    assert!(body.contains(&server), "{body}");

    for page in [
        "/applications",
        "/grayscale-release",
        "/traffic-management",
        "/tracing",
    ] {
        let (status, body) = get(&state, page).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            body.contains("The Kubernetes cluster is not reachable"),
            "{page}: {body}"
        );
        assert!(body.contains("How to fix"), "{page}");
        assert!(body.contains("context \"lab\""), "{page}");
    }

    let (status, body) = get(&state, "/api/list_projects").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let err: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["Cluster"]["kind"], "Unreachable", "{body}");
    assert_eq!(err["Cluster"]["target"]["server"], server.as_str());
}

#[tokio::test]
async fn unknown_pages_are_a_real_404() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = from_kubeconfig_file(&dir.path().join("missing"), None, false).await;
    let state = state(cluster, dir.path());
    let (status, body) = get(&state, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Page not found"), "{body}");
    // The missing kubeconfig is explained on the 404 page too.
    assert!(body.contains("The kubeconfig could not be used"), "{body}");
}

#[tokio::test]
async fn the_sandbox_namespaces_reach_the_page_through_kube_rs() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox =
        sluice_sandbox::Sandbox::start(sluice_sandbox::SandboxConfig::new(dir.path().join("data")))
            .await
            .expect("sandbox starts");
    let cluster = from_kubeconfig_file(sandbox.kubeconfig_path(), None, true).await;
    let state = state(cluster, dir.path());

    let (status, body) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = get(&state, "/api/list_projects").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let projects: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut names: Vec<&str> = projects
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["default", "demo-project", "istio-system", "kube-system"]
    );

    let (status, body) = get(&state, "/tracing?project=demo-project").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(r#"<option value="demo-project" selected"#),
        "{body}"
    );
    assert!(!body.contains("cluster-banner"), "{body}");
    sandbox.shutdown().await;
}
