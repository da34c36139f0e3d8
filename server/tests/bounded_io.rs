//! Every outside call a page makes ends: a Kubernetes API server that accepts connections
//! and never answers (or sends headers and never the body) gets a 503 that says so
//! within `--kube-timeout`; Prometheus and Jaeger answers are read up to their size
//! limits and their time limits; and two people opening one trace cost Jaeger one request.
//!
//! Timings are only bounded from above, generously: the machines running this are noisy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::http::{Request, StatusCode};
use futures::StreamExt;
use leptos::config::LeptosOptions;
use reqwest::Url;
use sluice_app::error::AppError;
use sluice_app::ports::{ClusterPort, MetricsPort, TracesPort};
use sluice_server::backends::{HttpBackend, Jaeger, JaegerApi, Prometheus};
use sluice_server::context::AppState;
use sluice_server::kube::cluster::KubeCluster;
use sluice_server::kube::connect::from_kubeconfig_file_with_timeout;
use sluice_server::kube::identity::UserCredential;
use sluice_server::router::router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// The `--kube-timeout` the tests run with.
const KUBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a call may take before the test calls it hung: the timeout, with room for a
/// noisy machine.
const HUNG: Duration = Duration::from_secs(6);

/// How a fake API server treats a connection.
#[derive(Clone, Copy)]
enum Silence {
    /// Reads the request and says nothing.
    Total,
    /// Answers the status line and headers, promising a body that never comes.
    AfterHeaders,
}

/// A loopback "API server" that accepts every connection and never finishes an answer.
async fn hung_server(silence: Silence) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                if let Silence::AfterHeaders = silence {
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                content-length: 4096\r\n\r\n{\"kind\":";
                    let _ = sock.write_all(head.as_bytes()).await;
                }
                // Hold the connection open, saying nothing more.
                let _ = sock.read(&mut buf).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
        }
    });
    format!("http://{addr}")
}

fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  \
         cluster:\n    server: {server}\ncontexts:\n- name: lab\n  context:\n    \
         cluster: lab\n    user: lab\nusers:\n- name: lab\n  user:\n    token: t\n"
    )
}

async fn cluster_at(server: &str, dir: &std::path::Path) -> KubeCluster {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, kubeconfig(server)).unwrap();
    from_kubeconfig_file_with_timeout(&path, None, false, KUBE_TIMEOUT).await
}

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

/// `uri` through the router, failing the test if it does not answer within [`HUNG`].
async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
    let call = async {
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
    };
    tokio::time::timeout(HUNG, call)
        .await
        .unwrap_or_else(|_| panic!("{uri} did not answer within {HUNG:?}"))
}

fn assert_timeout_message(message: &str, server: &str) {
    assert!(
        message.starts_with(&format!(
            "The Kubernetes API server at {server} did not answer within 2 s: "
        )),
        "{message}"
    );
    assert!(message.contains("--kube-timeout"), "{message}");
}

#[tokio::test]
async fn a_silent_api_server_is_a_503_that_says_so() {
    for silence in [Silence::Total, Silence::AfterHeaders] {
        let dir = tempfile::tempdir().unwrap();
        let server = hung_server(silence).await;
        let state = state(cluster_at(&server, dir.path()).await, dir.path());

        let (status, body) = get(&state, "/api/list_projects").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let err: AppError = serde_json::from_str(&body).unwrap();
        match err {
            AppError::Unavailable(m) => assert_timeout_message(&m, &server),
            other => panic!("expected Unavailable, got {other:?}"),
        }

        // A page answers too, explaining the cluster's silence.
        let (status, body) = get(&state, "/applications").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("The Kubernetes API server did not answer in time"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn signed_in_users_clients_have_the_same_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = hung_server(Silence::Total).await;
    let cluster = cluster_at(&server, dir.path()).await;
    for credential in [
        UserCredential::Token("alice-token".into()),
        UserCredential::Impersonate {
            user: "alice".into(),
            groups: vec!["ops".into()],
        },
    ] {
        let alice = cluster.for_user("alice", &credential).unwrap();
        let err = tokio::time::timeout(HUNG, alice.list_projects())
            .await
            .expect("the call ends")
            .unwrap_err();
        assert_eq!(err.status_code(), 503);
        assert_timeout_message(&err.to_string(), &server);
    }
}

#[tokio::test]
async fn the_controller_watches_outlast_the_request_timeout() {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};

    let dir = tempfile::tempdir().unwrap();
    let sandbox =
        sluice_sandbox::Sandbox::start(sluice_sandbox::SandboxConfig::new(dir.path().join("data")))
            .await
            .expect("sandbox starts");
    let cluster =
        from_kubeconfig_file_with_timeout(sandbox.kubeconfig_path(), None, true, KUBE_TIMEOUT)
            .await;
    let requests: Api<Namespace> = Api::all(cluster.client().unwrap());
    let controller: Api<Namespace> = Api::all(cluster.controller_client().unwrap());
    let version = requests
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let params = WatchParams::default().timeout(60);
    let mut by_request = requests.watch(&params, &version).await.unwrap().boxed();
    let mut by_controller = controller.watch(&params, &version).await.unwrap().boxed();

    // A quiet cluster for longer than the request timeout, then a change.
    tokio::time::sleep(KUBE_TIMEOUT + Duration::from_secs(1)).await;
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "after-the-quiet"}
    }))
    .unwrap();
    requests.create(&PostParams::default(), &ns).await.unwrap();

    let seen = tokio::time::timeout(HUNG, by_controller.next())
        .await
        .expect("the controller's watch delivers");
    match seen {
        Some(Ok(WatchEvent::Added(ns))) => {
            assert_eq!(ns.metadata.name.as_deref(), Some("after-the-quiet"))
        }
        other => panic!("expected the new namespace, got {other:?}"),
    }
    // The request client's watch was cut by its read timeout: that is why the
    // controller has its own client.
    let cut = tokio::time::timeout(HUNG, by_request.next())
        .await
        .expect("the request client's watch has ended");
    assert!(
        !matches!(cut, Some(Ok(WatchEvent::Added(_)))),
        "the request client's watch was not cut: {cut:?}"
    );
    sandbox.shutdown().await;
}

/// A fake backend: `/big/...` answers more than 1 MB (declared), `/endless/...` streams
/// without end and without a length, `/slow/...` trickles a byte at a time, forever.
async fn oversize_backend() -> String {
    use axum::routing::get;
    fn endless() -> Body {
        let chunk = Bytes::from(vec![b' '; 64 * 1024]);
        Body::from_stream(futures::stream::repeat_with(move || {
            Ok::<_, std::io::Error>(chunk.clone())
        }))
    }
    fn slow() -> Body {
        Body::from_stream(futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
        }))
    }
    let big = || async { vec![b' '; 3 * 1024 * 1024] };
    let app = axum::Router::new()
        .route("/big/api/v1/query", get(big))
        .route("/big/api/traces/{id}", get(big))
        .route("/endless/api/v1/query_range", get(|| async { endless() }))
        .route("/endless/api/traces", get(|| async { endless() }))
        .route("/slow/api/v1/query", get(|| async { slow() }))
        .route("/slow/api/traces/{id}", get(|| async { slow() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn prometheus(base: &str, path: &str) -> Prometheus {
    let url = Url::parse(&format!("{base}/{path}")).unwrap();
    Prometheus(
        HttpBackend::prometheus(Some(url), reqwest::Client::new())
            .max_response_mb(1)
            .query_timeout(Duration::from_secs(1)),
    )
}

fn jaeger(base: &str, path: &str) -> Jaeger {
    let url = Url::parse(&format!("{base}/{path}")).unwrap();
    Jaeger(
        HttpBackend::jaeger(Some(url), reqwest::Client::new())
            .api(JaegerApi::V1)
            .max_response_mb(1)
            .query_timeout(Duration::from_secs(1)),
    )
}

/// `f`'s output, failing the test if it takes longer than [`HUNG`].
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HUNG, f).await.expect("the call ends")
}

fn unavailable(result: Result<impl std::fmt::Debug, AppError>) -> String {
    match result {
        Err(AppError::Unavailable(m)) => m,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn oversize_prometheus_answers_are_refused_with_a_way_to_narrow_them() {
    let base = oversize_backend().await;

    let m = unavailable(within(prometheus(&base, "big").query("sum(up)", 0.0)).await);
    assert!(
        m.starts_with(
            "Prometheus answered the query `sum(up)` with more than 1 MB, too large to read"
        ),
        "{m}"
    );
    assert!(m.contains("shorter time range"), "{m}");
    assert!(
        m.contains("--max-prometheus-response-mb (SLUICE_MAX_PROMETHEUS_RESPONSE_MB)"),
        "{m}"
    );

    // No length, no end: stopped at the limit, not read forever.
    let m = unavailable(
        within(prometheus(&base, "endless").query_range("rate(x[1m])", 0.0, 3600.0, 15)).await,
    );
    assert!(m.contains("`rate(x[1m])` with more than 1 MB"), "{m}");

    // Small but never finished: stopped by the query timeout.
    let m = unavailable(within(prometheus(&base, "slow").query("up", 0.0)).await);
    assert!(
        m.starts_with(&format!("Prometheus at {base}/slow did not answer: ")),
        "{m}"
    );
    assert!(m.contains("within 1 s"), "{m}");
}

#[tokio::test]
async fn oversize_jaeger_answers_are_refused_with_a_way_to_narrow_them() {
    use sluice_app::domain::traces::TraceQuery;
    let base = oversize_backend().await;

    let m = unavailable(within(jaeger(&base, "big").trace_shared("abc123")).await);
    assert!(
        m.starts_with("Jaeger answered trace abc123 with more than 1 MB, too large to read"),
        "{m}"
    );
    assert!(
        m.contains("--max-jaeger-response-mb (SLUICE_MAX_JAEGER_RESPONSE_MB)"),
        "{m}"
    );

    let query = TraceQuery {
        service: "productpage.demo".into(),
        operation: None,
        tags: vec![],
        min_duration_ms: None,
        max_duration_ms: None,
        lookback_minutes: 60,
        start_us: None,
        end_us: None,
        limit: 20,
    };
    let m = unavailable(within(jaeger(&base, "endless").search(&query)).await);
    assert!(
        m.starts_with(
            "Jaeger answered the trace search for productpage.demo (up to 20 traces) with more \
             than 1 MB"
        ),
        "{m}"
    );
    assert!(m.contains("fewer traces"), "{m}");
    assert!(m.contains("shorter time range"), "{m}");

    let m = unavailable(within(jaeger(&base, "slow").trace_shared("abc")).await);
    assert!(m.contains("within 1 s"), "{m}");
}

/// A Jaeger (v1) that counts trace requests and takes a while to answer each.
async fn counting_jaeger() -> (String, Arc<AtomicUsize>) {
    use axum::extract::{Path, State};
    use axum::routing::get;
    let count = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route(
            "/api/traces/{id}",
            get(
                |State(count): State<Arc<AtomicUsize>>, Path(id): Path<String>| async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    axum::Json(serde_json::json!({"data": [{
                        "traceID": id,
                        "spans": [{
                            "traceID": id, "spanID": "0000000000000001",
                            "operationName": "GET /productpage", "references": [],
                            "startTime": 1_760_000_000_000_000i64, "duration": 1200,
                            "tags": [], "logs": [], "processID": "p1"
                        }],
                        "processes": {"p1": {"serviceName": "productpage.demo", "tags": []}}
                    }]}))
                },
            ),
        )
        .with_state(count.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn people_opening_one_trace_at_once_cost_jaeger_one_request() {
    let (base, count) = counting_jaeger().await;
    let url = Url::parse(&base).unwrap();
    let traces = Arc::new(Jaeger(
        HttpBackend::jaeger(Some(url), reqwest::Client::new()).api(JaegerApi::V1),
    ));
    for (round, people) in [2, 10].into_iter().enumerate() {
        let id = format!("{:032x}", 0xabc0 + round);
        let opened = futures::future::join_all((0..people).map(|_| {
            let (traces, id) = (traces.clone(), id.clone());
            tokio::spawn(async move { traces.trace_shared(&id).await })
        }))
        .await;
        for trace in opened {
            let trace = trace.unwrap().expect("the trace");
            assert_eq!(trace.spans.len(), 1);
        }
        assert_eq!(
            count.load(Ordering::SeqCst),
            round + 1,
            "{people} people opening trace {id} at once"
        );
    }
}
