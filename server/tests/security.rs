//! Cross-site protection over the console's whole router, against the sandbox: a page on
//! another site cannot change anything (a plain form, a text/plain JSON body, a foreign
//! Origin), a foreign Host is refused before routing (DNS rebinding), every response
//! carries the security headers, pages allow only their own nonce'd scripts — and the
//! console's own pages and forms keep working.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use kube::api::{Api, ListParams};
use leptos::config::LeptosOptions;
use sluice_sandbox::{Sandbox, SandboxConfig};
use sluice_server::backends::{HttpBackend, Jaeger, Prometheus};
use sluice_server::context::AppState;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::kube::release_controller;
use sluice_server::kube::releases::ReleaseJob;
use sluice_server::router::router;
use sluice_server::security::Policy;
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:3000";
const ORIGIN: &str = "http://127.0.0.1:3000";

struct Env {
    _serial: tokio::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
    sandbox: Sandbox,
    state: AppState,
    client: kube::Client,
}

/// One test at a time in this file. Run together, each on its own runtime in this one
/// process, the page render of `pages_carry_a_nonce_policy…` stalled in about one run in
/// seven (its first resources answered, the rest were never requested). The console
/// itself, on one runtime, rendered 300 concurrent /applications pages (30 at a time)
/// without a stall, and router.rs, tracing.rs and bounded_io.rs, which render pages too,
/// never stalled in repeated runs.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn env() -> Env {
    let serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::new(dir.path().join("data")))
        .await
        .unwrap();
    let cluster = from_kubeconfig_file(sandbox.kubeconfig_path(), None, true).await;
    let client = cluster.client().unwrap();
    release_controller::ensure_crd(&client).await.unwrap();
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
    Env {
        _serial: serial,
        _dir: dir,
        sandbox,
        state,
        client,
    }
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = router(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// What a form on another site posts: urlencoded, no preflight, the browser's own
/// `Origin` and `Sec-Fetch-Site`.
fn cross_site_form(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn job_json() -> String {
    serde_json::json!({
        "project": "demo-project",
        "name": "stolen",
        "spec": {
            "component": "reviews", "baseWorkload": "reviews-v1", "baseVersion": "v1",
            "newVersion": "v9", "image": "evil.example/miner:1", "replicas": 1,
            "strategy": {"type": "trafficRatio", "newPercent": 100}
        }
    })
    .to_string()
}

async fn job_count(client: &kube::Client) -> usize {
    Api::<ReleaseJob>::namespaced(client.clone(), "demo-project")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len()
}

async fn injection_label(client: &kube::Client) -> Option<String> {
    let ns = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .get("demo-project")
        .await
        .unwrap();
    ns.metadata.labels?.get("istio-injection").cloned()
}

#[tokio::test]
async fn another_sites_form_cannot_change_anything() {
    let env = env().await;
    // The urlencoded form a foreign page can post without any preflight.
    let (status, headers, body) = send(
        &env.state,
        cross_site_form(
            "/api/set_sidecar_injection",
            "project=demo-project&enabled=true",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("came from another web page"), "{body}");
    assert!(body.contains("Sec-Fetch-Site: cross-site"), "{body}");
    assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert_eq!(injection_label(&env.client).await, None, "nothing changed");

    // A text/plain body holding JSON (also no preflight) to the JSON server functions.
    for path in ["/api/create_release_job", "/api/change_release_job"] {
        let req = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(job_json()))
            .unwrap();
        let (status, _, body) = send(&env.state, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body.contains("came from https://evil.example"), "{body}");
    }
    assert_eq!(job_count(&env.client).await, 0, "no job was created");

    // An old browser or a script that says nothing about where it comes from.
    let req = Request::post("/api/set_sidecar_injection")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("project=demo-project&enabled=true"))
        .unwrap();
    let (status, _, body) = send(&env.state, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Origin: http://127.0.0.1:3000"), "{body}");

    // Another port on loopback is "same-site", never the console's own origin.
    let req = Request::post("/api/set_sidecar_injection")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .header("sec-fetch-site", "same-site")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("project=demo-project&enabled=true"))
        .unwrap();
    let (status, _, _) = send(&env.state, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        injection_label(&env.client).await,
        None,
        "still nothing changed"
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_consoles_own_forms_still_work() {
    let env = env().await;
    // What the ActionForm posts before wasm loads: a plain same-origin form.
    let req = Request::post("/api/set_sidecar_injection")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(
            header::REFERER,
            "http://127.0.0.1:3000/applications?project=demo-project",
        )
        .body(Body::from("project=demo-project&enabled=true"))
        .unwrap();
    let (status, headers, body) = send(&env.state, req).await;
    assert_eq!(status, StatusCode::FOUND, "{body}");
    assert_eq!(
        headers[header::LOCATION],
        "http://127.0.0.1:3000/applications?project=demo-project"
    );
    assert_eq!(
        injection_label(&env.client).await.as_deref(),
        Some("enabled")
    );
    // The hydrated page's fetch (Origin only, as some browsers send).
    let req = Request::post("/api/set_sidecar_injection")
        .header(header::HOST, "localhost:3000")
        .header(header::ORIGIN, "http://localhost:3000")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("project=demo-project&enabled=false"))
        .unwrap();
    let (status, _, body) = send(&env.state, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(injection_label(&env.client).await, None);
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_foreign_host_is_refused_before_routing() {
    let env = env().await;
    for path in [
        "/api/list_projects",
        "/grayscale-release?project=demo-project",
        "/api/preview_release_job",
    ] {
        let req = Request::get(path)
            .header(header::HOST, "rebound.attacker.example:3000")
            .body(Body::empty())
            .unwrap();
        let (status, headers, body) = send(&env.state, req).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{path}: {body}");
        assert!(body.contains("\"rebound.attacker.example:3000\""), "{body}");
        assert!(!body.contains("demo-project\","), "no data leaks: {body}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    }
    // Probes answer under any name, but say no more than ok.
    let req = Request::get("/readyz")
        .header(header::HOST, "10.1.2.3:3000")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&env.state, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok\n");
    let req = Request::get("/readyz")
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = send(&env.state, req).await;
    assert!(body.starts_with("ok: cluster"), "{body}");
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn pages_carry_a_nonce_policy_and_every_inline_script_has_the_nonce() {
    let env = env().await;
    let req = Request::get("/applications?project=demo-project")
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&env.state, req).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce in script-src");
    assert!(nonce.len() >= 16, "{nonce}");
    let scripts: Vec<&str> = body.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for s in &scripts {
        let tag = s.split('>').next().unwrap();
        let has_src = tag.contains(" src=");
        assert!(
            has_src || tag.contains(&format!("nonce=\"{nonce}\"")),
            "an inline script without the page's nonce: <script{tag}>"
        );
    }
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    // Each response has its own nonce.
    let req = Request::get("/applications?project=demo-project")
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    let (_, headers2, _) = send(&env.state, req).await;
    assert_ne!(
        headers2[header::CONTENT_SECURITY_POLICY],
        headers[header::CONTENT_SECURITY_POLICY]
    );
    // Data answers carry the strict policy.
    let req = Request::get("/api/list_projects")
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&env.state, req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_public_url_and_extra_names_are_the_consoles_too() {
    let mut env = env().await;
    let public = reqwest::Url::parse("https://sluice.example.com").unwrap();
    env.state = env.state.with_policy(Policy::new(
        3000,
        Some(&public),
        &["sluice.sluice.svc:3000".into()],
    ));
    let req = Request::post("/api/set_sidecar_injection")
        .header(header::HOST, "sluice.example.com")
        .header(header::ORIGIN, "https://sluice.example.com")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("project=demo-project&enabled=true"))
        .unwrap();
    let (status, _, body) = send(&env.state, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let req = Request::get("/api/list_projects")
        .header(header::HOST, "sluice.sluice.svc:3000")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&env.state, req).await.0, StatusCode::OK);
    // Plain http under the public name is another origin.
    let req = Request::post("/api/set_sidecar_injection")
        .header(header::HOST, "sluice.example.com")
        .header(header::ORIGIN, "http://sluice.example.com")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("project=demo-project&enabled=false"))
        .unwrap();
    assert_eq!(send(&env.state, req).await.0, StatusCode::FORBIDDEN);
    env.sandbox.shutdown().await;
}
