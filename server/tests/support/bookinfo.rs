//! Shared set-up for the release tests (included with `#[path]`, so it is not a test crate
//! of its own): the sandbox with Bookinfo deployed the way Deploy Sample Application
//! leaves it (sidecar injection on), the ReleaseJob CRD installed, and the release
//! controller started on demand.

// Each test crate that includes this uses a different part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;
use sluice_app::domain::release::{ReleaseSpec, Strategy};
use sluice_sandbox::{Sandbox, SandboxConfig};
use sluice_server::kube::cluster::KubeCluster;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::kube::release_controller;
use sluice_server::kube::releases::{ReleaseJob, ReleaseJobSpec};

pub const NS: &str = "demo-project";

pub struct Env {
    pub _dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    /// The console's cluster port, over the sandbox's kubeconfig.
    pub cluster: Arc<KubeCluster>,
    pub client: kube::Client,
}

pub async fn bookinfo() -> Env {
    bookinfo_with_ready_delay(Duration::from_millis(300)).await
}

/// Like [`bookinfo`], with pods that take `delay` to become ready.
pub async fn bookinfo_with_ready_delay(delay: Duration) -> Env {
    // RUST_LOG=sluice_server=debug shows the controller's decisions when a test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SandboxConfig::new(dir.path().join("data"));
    cfg.pod_ready_delay = delay;
    let sandbox = Sandbox::start(cfg).await.unwrap();
    let cluster = Arc::new(from_kubeconfig_file(sandbox.kubeconfig_path(), None, true).await);
    let client = cluster.client().unwrap();
    release_controller::ensure_crd(&client).await.unwrap();
    Api::<Namespace>::all(client.clone())
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"istio-injection": "enabled"}}})),
        )
        .await
        .unwrap();
    for o in sluice_app::domain::sample_app::plan(NS, "bookinfo.demo-project.localhost").unwrap() {
        let (group, version) = o
            .api_version
            .split_once('/')
            .unwrap_or(("", &o.api_version));
        let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(group, version, &o.kind));
        Api::<DynamicObject>::namespaced_with(client.clone(), NS, &ar)
            .create(
                &PostParams::default(),
                &serde_json::from_value(o.object).unwrap(),
            )
            .await
            .unwrap();
    }
    Env {
        _dir: dir,
        sandbox,
        cluster,
        client,
    }
}

/// Starts the release controller (without Prometheus: automatic releases hold); send
/// `true` to stop it, then await the task.
pub fn controller(
    client: &kube::Client,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let none = sluice_server::backends::Prometheus(
        sluice_server::backends::HttpBackend::prometheus(None, reqwest::Client::new()),
    );
    controller_with_metrics(client, Arc::new(none))
}

/// Starts the release controller with `metrics` for the checks of automatic releases.
pub fn controller_with_metrics(
    client: &kube::Client,
    metrics: Arc<dyn sluice_app::ports::MetricsPort>,
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

/// The tutorial's Canary Release of reviews: v2 beside v1, half the traffic each.
pub fn canary_spec() -> ReleaseSpec {
    ReleaseSpec {
        component: "reviews".into(),
        base_workload: "reviews-v1".into(),
        base_version: "v1".into(),
        new_version: "v2".into(),
        image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
        replicas: 1,
        strategy: Strategy::TrafficRatio { new_percent: 50 },
        taken_over_by: None,
        creator: None,
        analysis: None,
        routing: Default::default(),
        also_serving: Vec::new(),
        http_route: None,
    }
}

/// [`canary_spec`] as a ReleaseJob named `name`, as kubectl or GitOps would apply it.
pub fn canary_job(name: &str, spec: ReleaseSpec) -> ReleaseJob {
    ReleaseJob::new(
        name,
        ReleaseJobSpec {
            release: spec,
            offline_keep: None,
        },
    )
}
