//! The live stream (`/api/live`) over the console's router against the sandbox: it opens
//! with the project's jobs, carries a job's change within moments, only for that project,
//! announces other kinds without their content, and is opened as the signed-in user:
//! nobody unauthenticated, nobody whom Kubernetes RBAC would not let list the jobs.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use leptos::config::LeptosOptions;
use serde_json::json;
use sluice_app::domain::live::{LiveMessage, Touched};
use sluice_app::domain::release::Strategy;
use sluice_server::auth::proxy::ProxyConfig;
use sluice_server::auth::session::Sealer;
use sluice_server::auth::{Auth, Strategy as AuthStrategy};
use sluice_server::backends::{HttpBackend, Jaeger, Prometheus};
use sluice_server::context::AppState;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::kube::releases::ReleaseJob;
use sluice_server::push::Hub;
use sluice_server::router::router;
use tower::ServiceExt;

#[path = "support/bookinfo.rs"]
mod support;

use support::{NS, bookinfo, canary_job, canary_spec};

const HOST: &str = "127.0.0.1:3000";

async fn state(env: &support::Env, dir: &std::path::Path, auth: Option<Auth>) -> AppState {
    let http = reqwest::Client::new();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    // The sender lives as long as the test process: the watchers never stop.
    std::mem::forget(_tx);
    let hub = Hub::start(env.client.clone(), Duration::from_secs(300), rx);
    let mut state = AppState::new(
        LeptosOptions::builder()
            .output_name("sluice")
            .site_root(dir.to_string_lossy().to_string())
            .build(),
        from_kubeconfig_file(env.sandbox.kubeconfig_path(), None, true).await,
        Prometheus(HttpBackend::prometheus(None, http.clone())),
        Jaeger(HttpBackend::jaeger(None, http)),
        None,
    )
    .with_hub(hub);
    if let Some(auth) = auth {
        state = state.with_auth(auth);
    }
    state
}

/// An open stream, read message by message.
struct Stream {
    body: axum::body::BodyDataStream,
    buffer: String,
}

impl Stream {
    /// The next message (skipping pings), or None if none arrives within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<LiveMessage> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let data: String = frame
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if frame
                    .lines()
                    .any(|l| l == "event: ping" || l == "event:ping")
                    || data.is_empty()
                {
                    continue;
                }
                return Some(LiveMessage::parse(&data).unwrap());
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    }

    /// Messages until `want` matches one, within `wait`.
    async fn until(&mut self, wait: Duration, want: impl Fn(&LiveMessage) -> bool) -> LiveMessage {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(m) if want(&m) => return m,
                Some(_) => {}
                None => panic!("no matching live message within {wait:?}"),
            }
        }
    }
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::get(path).header(header::HOST, HOST);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::empty()).unwrap();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

async fn open(
    state: &AppState,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Stream, (StatusCode, String)> {
    let res = router(state.clone())
        .oneshot(get(path, headers))
        .await
        .unwrap();
    if res.status() != StatusCode::OK {
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        return Err((status, String::from_utf8_lossy(&body).into_owned()));
    }
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/event-stream",
        "an SSE stream"
    );
    Ok(Stream {
        body: res.into_body().into_data_stream(),
        buffer: String::new(),
    })
}

fn job(name: &str) -> ReleaseJob {
    canary_job(name, canary_spec())
}

#[tokio::test]
async fn the_stream_opens_with_the_jobs_and_carries_changes_of_its_project_only() {
    let env = bookinfo().await;
    let dir = tempfile::tempdir().unwrap();
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(&PostParams::default(), &job("canary-release"))
        .await
        .unwrap();
    let state = state(&env, dir.path(), None).await;

    let mut s = open(&state, &format!("/api/live?project={NS}"), &[])
        .await
        .unwrap();
    assert_eq!(
        s.next(Duration::from_secs(5)).await,
        Some(LiveMessage::Hello)
    );
    match s.next(Duration::from_secs(5)).await {
        Some(LiveMessage::Job(j)) => assert_eq!(j.name, "canary-release"),
        other => panic!("the snapshot first, got {other:?}"),
    }

    // A change of the job arrives with the job as it is now.
    jobs.patch(
        "canary-release",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"strategy": {"type": "trafficRatio", "newPercent": 70}}})),
    )
    .await
    .unwrap();
    s.until(Duration::from_secs(5), |m| {
        matches!(m, LiveMessage::Job(j) if j.spec.strategy == Strategy::TrafficRatio { new_percent: 70 })
    })
    .await;

    // Another project's job never reaches this stream.
    let other = "live-elsewhere";
    kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(env.client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": other}})).unwrap(),
        )
        .await
        .unwrap();
    Api::<ReleaseJob>::namespaced(env.client.clone(), other)
        .create(&PostParams::default(), &job("elsewhere"))
        .await
        .unwrap();
    // A Deployment changing in this project is announced by kind, without its content.
    Api::<Deployment>::namespaced(env.client.clone(), NS)
        .patch(
            "ratings-v1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    s.until(Duration::from_secs(5), |m| {
        assert!(
            !matches!(m, LiveMessage::Job(j) if j.name == "elsewhere"),
            "another project's job leaked: {m:?}"
        );
        *m == LiveMessage::Touched(Touched::Workloads)
    })
    .await;

    // Deleting the job says so.
    jobs.delete("canary-release", &Default::default())
        .await
        .unwrap();
    s.until(Duration::from_secs(15), |m| {
        *m == LiveMessage::JobGone("canary-release".into())
    })
    .await;

    // A project that is not a name is refused with the reason.
    let (status, body) = open(&state, "/api/live?project=Not_A_Name", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("Project"), "{body}");
}

#[tokio::test]
async fn a_stream_is_opened_as_the_signed_in_user() {
    let env = bookinfo().await;
    let dir = tempfile::tempdir().unwrap();
    let auth = Auth::new(
        AuthStrategy::Header {
            proxy: ProxyConfig {
                user_header: "x-forwarded-user".into(),
                groups_header: "x-forwarded-groups".into(),
                trusted: vec!["127.0.0.1/32".parse().unwrap()],
            },
            sign_out_url: None,
        },
        Sealer::random(),
        Duration::from_secs(3600),
        false,
    );
    let state = state(&env, dir.path(), Some(auth)).await;

    // Not through the proxy: nobody.
    let (status, body) = open(&state, &format!("/api/live?project={NS}"), &[])
        .await
        .err()
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // mallory has no binding in the sandbox: Kubernetes refuses to list the jobs as her,
    // and so does the stream.
    let (status, body) = open(
        &state,
        &format!("/api/live?project={NS}"),
        &[("x-forwarded-user", "mallory")],
    )
    .await
    .err()
    .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("mallory"), "{body}");
    // Someone the cluster lets in (system:masters here) gets the stream.
    let mut s = open(
        &state,
        &format!("/api/live?project={NS}"),
        &[
            ("x-forwarded-user", "ops"),
            ("x-forwarded-groups", "system:masters"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        s.next(Duration::from_secs(5)).await,
        Some(LiveMessage::Hello)
    );
}
