//! A password in `--prometheus-url` or `--jaeger-url` is used (basic auth) and never
//! shown: not on a page (the connection chips), not in a server function's answer, not
//! in an error, not in the log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use clap::Parser;
use sluice_server::config::Config;
use sluice_server::context;
use sluice_server::router::router;
use tower::ServiceExt;

const PASSWORD: &str = "s3cret";

/// Log lines, kept for the test to read.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Prometheus stand-in: ready, but answering queries with a proxy's HTML error page;
/// it records the `Authorization` headers it was sent.
async fn fake_prometheus() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    use axum::routing::get;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = |seen: Arc<Mutex<Vec<String>>>| {
        move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                if let Some(auth) = headers.get("authorization") {
                    seen.lock()
                        .unwrap()
                        .push(auth.to_str().unwrap_or_default().into());
                }
            }
        }
    };
    let ready = record(seen.clone());
    let query = record(seen.clone());
    let app = axum::Router::new()
        .route(
            "/-/ready",
            get(move |h: HeaderMap| async move {
                ready(h).await;
                "Prometheus Server is Ready."
            }),
        )
        .route(
            "/api/v1/query",
            get(move |h: HeaderMap| async move {
                query(h).await;
                (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let res = app
        .clone()
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

// One thread, so every task's log lines reach this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn passwords_in_backend_urls_reach_neither_pages_nor_errors_nor_logs() {
    let log = Log::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer({
            let log = log.clone();
            move || log.clone()
        })
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let sandbox =
        sluice_sandbox::Sandbox::start(sluice_sandbox::SandboxConfig::new(dir.path().join("data")))
            .await
            .expect("sandbox starts");
    let (prom, seen) = fake_prometheus().await;
    // Nothing listens here: Jaeger's errors carry its URL.
    let jaeger_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prometheus_url = format!("http://u:{PASSWORD}@{prom}");
    let jaeger_url = format!("http://j:{PASSWORD}@127.0.0.1:{jaeger_port}/");
    let kubeconfig = sandbox.kubeconfig_path().display().to_string();
    let site = dir.path().display().to_string();
    let cfg = Config::try_parse_from([
        "sluice",
        "--kubeconfig",
        &kubeconfig,
        "--site-root",
        &site,
        "--prometheus-url",
        &prometheus_url,
        "--jaeger-url",
        &jaeger_url,
    ])
    .unwrap();
    cfg.validate().unwrap();
    let ctx = context::build(&cfg).await.unwrap();
    let app = router(ctx.state.clone());

    let mut answers = Vec::new();
    // The connection chips: both backends are named, their passwords are not.
    let (status, body) = get(&app, "/api/get_system_status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&format!("http://u:***@{prom}")), "{body}");
    assert!(
        body.contains(&format!("http://j:***@127.0.0.1:{jaeger_port}")),
        "{body}"
    );
    answers.push(body);
    // A page, with its chips and panels.
    let (status, body) = get(&app, "/traffic-management?project=demo-project").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("u:***@"), "{body}");
    answers.push(body);
    let (_, body) = get(&app, "/tracing?project=demo-project").await;
    answers.push(body);
    // Errors that name the backend.
    let (status, body) = get(
        &app,
        "/api/get_topology?project=demo-project&minutes=5&graph=versioned",
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body.contains(&format!("Prometheus at http://u:***@{prom} did not answer")),
        "{body}"
    );
    answers.push(body);
    let (status, body) = get(&app, "/api/list_trace_services").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body.contains(&format!("Jaeger at http://j:***@127.0.0.1:{jaeger_port}")),
        "{body}"
    );
    answers.push(body);

    for answer in &answers {
        assert!(!answer.contains(PASSWORD), "a password was shown: {answer}");
    }
    // The credentials were used all the same.
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "Prometheus was asked");
    assert!(
        seen.iter().all(|a| a == "Basic dTpzM2NyZXQ="),
        "basic auth as u:{PASSWORD}: {seen:?}"
    );

    ctx.stop().await;
    sandbox.shutdown().await;
    let log = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(log.lines().count() > 10, "the log was captured: {log}");
    let leaked: Vec<&str> = log.lines().filter(|l| l.contains(PASSWORD)).collect();
    assert!(leaked.is_empty(), "a password was logged: {leaked:#?}");
}
