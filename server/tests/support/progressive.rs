//! Shared set-up for automatic (progressive) releases, for the tests and the rollback
//! benchmark (included with `#[path]`): one sandbox, a real Prometheus scraping its mesh
//! every couple of seconds, Bookinfo in as many namespaces as there are scenarios (so they
//! run side by side), a steady stream of product-page requests per namespace, and the
//! release controller with that Prometheus for its checks.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, ObjectMeta, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;
use sluice_app::domain::release::analysis::{Analysis, AnalysisStatus};
use sluice_app::domain::release::{ReleaseSpec, Strategy};
use sluice_app::ports::MetricsPort;
use sluice_sandbox::mesh::IngressRequest;
use sluice_sandbox::{Sandbox, SandboxConfig};
use sluice_server::backends::prometheus_process::PrometheusProcess;
use sluice_server::backends::{HttpBackend, Prometheus};
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::kube::release_controller;
use sluice_server::kube::releases::{Phase, ReleaseJob, ReleaseJobSpec};

/// Prometheus scrapes the mesh this often: short, so 10 s steps hold five scrapes.
pub const SCRAPE: Duration = Duration::from_secs(2);

pub struct Env {
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    pub client: kube::Client,
    pub prometheus: Option<PrometheusProcess>,
    pub prometheus_addr: SocketAddr,
    pub scrape: Duration,
}

impl Env {
    /// The controller's (and a check's) view of Prometheus.
    pub fn metrics(&self) -> Arc<dyn MetricsPort> {
        let url = reqwest::Url::parse(&format!("http://{}", self.prometheus_addr)).unwrap();
        Arc::new(Prometheus(HttpBackend::prometheus(
            Some(url),
            reqwest::Client::new(),
        )))
    }

    /// Stops Prometheus (the tests' outage).
    pub async fn stop_prometheus(&mut self) {
        if let Some(p) = self.prometheus.take() {
            p.stop().await;
        }
    }

    /// Starts Prometheus again on the same address and data.
    pub async fn start_prometheus(&mut self) {
        self.prometheus = Some(
            start_prometheus(
                &self.dir,
                self.prometheus_addr,
                self.sandbox.metrics_addr(),
                self.scrape,
            )
            .await,
        );
    }

    pub async fn shutdown(mut self) {
        self.stop_prometheus().await;
        self.sandbox.shutdown().await;
    }
}

async fn start_prometheus(
    dir: &tempfile::TempDir,
    listen: SocketAddr,
    target: SocketAddr,
    scrape: Duration,
) -> PrometheusProcess {
    PrometheusProcess::start_scraping_every(
        "prometheus",
        &dir.path().join("prometheus"),
        listen,
        &[target],
        &reqwest::Client::new(),
        scrape,
    )
    .await
    .expect("Prometheus starts (deploy/test installs Debian's prometheus package)")
}

/// A sandbox with the ReleaseJob CRD, Prometheus scraping it every [`SCRAPE`], Bookinfo in
/// `namespaces`.
pub async fn start(namespaces: &[&str]) -> Env {
    start_scraping_every(namespaces, SCRAPE).await
}

/// [`start`] with Prometheus scraping every `scrape`.
pub async fn start_scraping_every(namespaces: &[&str], scrape: Duration) -> Env {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SandboxConfig::new(dir.path().join("data"));
    cfg.pod_ready_delay = Duration::from_millis(300);
    let sandbox = Sandbox::start(cfg).await.unwrap();
    let cluster = from_kubeconfig_file(sandbox.kubeconfig_path(), None, true).await;
    let client = cluster.client().unwrap();
    release_controller::ensure_crd(&client).await.unwrap();
    for ns in namespaces {
        deploy_bookinfo(&client, ns).await;
    }
    let prometheus_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let prometheus = start_prometheus(&dir, prometheus_addr, sandbox.metrics_addr(), scrape).await;
    Env {
        dir,
        sandbox,
        client,
        prometheus: Some(prometheus),
        prometheus_addr,
        scrape,
    }
}

/// Bookinfo as Deploy Sample Application leaves it, in a namespace of its own with
/// sidecar injection on, reachable at `bookinfo.<ns>.localhost`.
pub async fn deploy_bookinfo(client: &kube::Client, ns: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(ns).await.unwrap().is_none() {
        namespaces
            .create(
                &PostParams::default(),
                &Namespace {
                    metadata: ObjectMeta {
                        name: Some(ns.into()),
                        labels: Some(
                            [("istio-injection".to_string(), "enabled".to_string())].into(),
                        ),
                        ..ObjectMeta::default()
                    },
                    ..Namespace::default()
                },
            )
            .await
            .unwrap();
    } else {
        namespaces
            .patch(
                ns,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(
                    json!({"metadata": {"labels": {"istio-injection": "enabled"}}}),
                ),
            )
            .await
            .unwrap();
    }
    for o in sluice_app::domain::sample_app::plan(ns, &host(ns)).unwrap() {
        let (group, version) = o
            .api_version
            .split_once('/')
            .unwrap_or(("", &o.api_version));
        let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(group, version, &o.kind));
        Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar)
            .create(
                &PostParams::default(),
                &serde_json::from_value(o.object).unwrap(),
            )
            .await
            .unwrap();
    }
}

pub fn host(ns: &str) -> String {
    format!("bookinfo.{ns}.localhost")
}

/// Users of `ns`'s product page, `rps` requests per second, until the task is aborted.
pub fn load(sandbox: &Sandbox, ns: &str, rps: u32) -> tokio::task::JoinHandle<()> {
    load_with(sandbox, ns, rps, None)
}

/// [`load`], every other request carrying `header` (e.g. a logged-in user's `end-user`).
pub fn load_with(
    sandbox: &Sandbox,
    ns: &str,
    rps: u32,
    header: Option<(&'static str, &'static str)>,
) -> tokio::task::JoinHandle<()> {
    let mesh = sandbox.mesh().clone();
    let host = host(ns);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // Whole requests per tick, the remainder carried, so the rate is exact on average.
        let mut owed = 0u32;
        let mut sent = 0u64;
        loop {
            tick.tick().await;
            owed += rps;
            for _ in 0..owed / 10 {
                let mut req = IngressRequest::get(&host, "/productpage?u=normal");
                if let Some((name, value)) = header.filter(|_| sent.is_multiple_of(2)) {
                    req = req.header(name, value);
                }
                mesh.handle_ingress(req);
                sent += 1;
            }
            owed %= 10;
        }
    })
}

/// The share of `n` product pages (fetched now) whose reviews came from v2.
pub fn v2_share(sandbox: &Sandbox, ns: &str, n: usize) -> f64 {
    let host = host(ns);
    let mut v2 = 0;
    for _ in 0..n {
        let page = sandbox
            .mesh()
            .handle_ingress(IngressRequest::get(&host, "/productpage?u=normal"));
        if page.body.contains(r#"data-reviews-version="v2""#) {
            v2 += 1;
        }
    }
    v2 as f64 / n as f64
}

/// The share of v2 is the expected one, within five binomial standard deviations: fails
/// only when routing is wrong.
pub fn assert_share(share: f64, expected: f64, n: usize, what: &str) {
    let tol = 5.0 * (expected * (1.0 - expected) / n as f64).sqrt();
    assert!(
        (share - expected).abs() <= tol + 1e-9,
        "{what}: v2 share {share}, expected {expected} ± {tol:.3}"
    );
}

/// A plan with `steps` of `interval` seconds, judged over at least 10 requests.
pub fn plan(steps: &[u8], interval: u32, failure_limit: u32) -> Analysis {
    Analysis {
        steps: steps.to_vec(),
        interval_seconds: interval,
        min_requests: 10,
        failure_limit,
        ..Analysis::recommended()
    }
}

pub fn reviews_job(name: &str, image: &str, strategy: Strategy, plan: Analysis) -> ReleaseJob {
    ReleaseJob::new(
        name,
        ReleaseJobSpec {
            release: ReleaseSpec {
                component: "reviews".into(),
                base_workload: "reviews-v1".into(),
                base_version: "v1".into(),
                new_version: "v2".into(),
                image: image.into(),
                replicas: 1,
                strategy,
                taken_over_by: None,
                creator: Some("test".into()),
                analysis: Some(plan),
                routing: Default::default(),
                also_serving: Vec::new(),
                http_route: None,
            },
            offline_keep: None,
        },
    )
}

/// Starts the release controller with `metrics`; send `true` to stop it, then await it.
pub fn controller(
    client: &kube::Client,
    metrics: Arc<dyn MetricsPort>,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(release_controller::run(
        client.clone(),
        metrics,
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    (tx, task)
}

/// The job's phase, message and analysis.
pub async fn state(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Option<(Option<Phase>, String, Option<AnalysisStatus>)> {
    let jobs: Api<ReleaseJob> = Api::namespaced(client.clone(), ns);
    let s = jobs.get_opt(name).await.ok()??.status?;
    Some((s.phase, s.message.unwrap_or_default(), s.analysis))
}

/// The component's VirtualService as JSON.
pub async fn virtual_service(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Option<serde_json::Value> {
    let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "VirtualService",
    ));
    let vs = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar)
        .get_opt(name)
        .await
        .ok()??;
    serde_json::to_value(vs).ok()
}

/// The weights of the component's VirtualService routes (base, new).
pub async fn vs_weights(client: &kube::Client, ns: &str, name: &str) -> Option<Vec<u64>> {
    let v = virtual_service(client, ns, name).await?;
    Some(
        v["spec"]["http"][0]["route"]
            .as_array()?
            .iter()
            .map(|r| r["weight"].as_u64().unwrap_or(100))
            .collect(),
    )
}

/// Polls `check` every 100 ms for at most `limit` until it returns Some.
pub async fn within<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
