//! Builds what the server needs from the configuration: the Leptos options, the ports, and
//! in sandbox mode the sandbox itself and the Prometheus that scrapes it.

use sluice_app::domain::topology::Thresholds;
use std::net::SocketAddr;
use std::sync::Arc;

use leptos::config::LeptosOptions;
use reqwest::Url;
use sluice_app::ports::{Ports, TrafficPort};
use sluice_sandbox::Sandbox;

use crate::backends::prometheus_process::PrometheusProcess;
use crate::backends::{HttpBackend, Jaeger, Prometheus};
use crate::config::Config;
use crate::kube::cluster::KubeCluster;
use crate::kube::connect::{Environment, connect};
use crate::sandbox::SandboxTraffic;

/// The router's state.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub ports: Ports,
    /// Traffic Management health thresholds (`--health-*-percent`).
    pub thresholds: Thresholds,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Everything `main` starts with; the processes are stopped after serving ends.
pub struct Context {
    pub state: AppState,
    pub sandbox: Option<Sandbox>,
    pub prometheus: Option<PrometheusProcess>,
    /// The release controller, when a cluster client could be built.
    pub controller: Option<tokio::task::JoinHandle<()>>,
    /// Tells background tasks to stop.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl Context {
    /// Stops the controller, Prometheus and the sandbox, in that order.
    pub async fn stop(self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.controller {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        if let Some(prometheus) = self.prometheus {
            prometheus.stop().await;
        }
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

pub async fn build(cfg: &Config) -> anyhow::Result<Context> {
    let connection = connect(cfg, &Environment::detect()).await?;
    let http = reqwest::Client::builder()
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let mut prometheus = HttpBackend::prometheus(cfg.prometheus_url.clone(), http.clone());
    let mut prometheus_process = None;
    let mut jaeger_url = cfg.jaeger_url.clone();
    let mut traffic: Option<Arc<dyn TrafficPort>> = None;

    if let Some(sandbox) = &connection.sandbox {
        if cfg.prometheus_url.is_none() {
            match start_prometheus(cfg, sandbox, &http).await {
                Ok(p) => {
                    prometheus = HttpBackend::prometheus(Some(Url::parse(p.url())?), http.clone());
                    prometheus_process = Some(p);
                }
                Err(e) => {
                    tracing::warn!("metrics are unavailable: {e}");
                    prometheus = HttpBackend::prometheus(None, http.clone()).missing(e.to_string());
                }
            }
        }
        if jaeger_url.is_none() {
            jaeger_url = Some(Url::parse(&format!("http://{}", sandbox.jaeger_addr()))?);
        }
        traffic = Some(Arc::new(SandboxTraffic {
            mesh: sandbox.mesh().clone(),
        }));
    }

    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let controller = connection.cluster.client().ok().map(|client| {
        let mut stop = shutdown_rx.clone();
        tokio::spawn(crate::kube::release_controller::run(client, async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    });
    let ports = ports(
        connection.cluster,
        Prometheus(prometheus),
        Jaeger(HttpBackend::jaeger(jaeger_url, http).api(cfg.jaeger_api)),
        traffic,
    );
    Ok(Context {
        state: AppState {
            leptos_options: leptos_options(cfg),
            ports,
            thresholds: cfg.health_thresholds().map_err(|e| anyhow::anyhow!(e))?,
        },
        sandbox: connection.sandbox,
        prometheus: prometheus_process,
        controller,
        shutdown,
    })
}

async fn start_prometheus(
    cfg: &Config,
    sandbox: &Sandbox,
    http: &reqwest::Client,
) -> anyhow::Result<PrometheusProcess> {
    // A free loopback port for Prometheus' own API.
    let listen: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let dir = cfg.data_dir().join("prometheus");
    Ok(PrometheusProcess::start(
        &cfg.prometheus_bin,
        &dir,
        listen,
        &[sandbox.metrics_addr()],
        http,
    )
    .await?)
}

pub fn ports(
    cluster: KubeCluster,
    metrics: Prometheus,
    traces: Jaeger,
    traffic: Option<Arc<dyn TrafficPort>>,
) -> Ports {
    let cluster = Arc::new(cluster);
    Ports {
        releases: cluster.clone(),
        cluster,
        metrics: Arc::new(metrics),
        traces: Arc::new(traces),
        traffic,
    }
}

pub fn leptos_options(cfg: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("sluice")
        .site_root(cfg.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(cfg.addr)
        .build()
}
