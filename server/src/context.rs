//! Builds what the server needs from the configuration: the Leptos options, the ports, and
//! the sandbox when the console runs on one.

use std::sync::Arc;

use leptos::config::LeptosOptions;
use sluice_app::ports::Ports;
use sluice_sandbox::Sandbox;

use crate::backends::{HttpBackend, Jaeger, Prometheus};
use crate::config::Config;
use crate::kube::cluster::KubeCluster;
use crate::kube::connect::{Environment, connect};

/// The router's state.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub ports: Ports,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Everything `main` starts with.
pub struct Context {
    pub state: AppState,
    /// Kept alive for as long as the console serves; shut down after it.
    pub sandbox: Option<Sandbox>,
}

pub async fn build(cfg: &Config) -> anyhow::Result<Context> {
    let connection = connect(cfg, &Environment::detect()).await?;
    let http = reqwest::Client::builder()
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let ports = ports(
        connection.cluster,
        Prometheus(HttpBackend::prometheus(
            cfg.prometheus_url.clone(),
            http.clone(),
        )),
        Jaeger(HttpBackend::jaeger(cfg.jaeger_url.clone(), http)),
    );
    Ok(Context {
        state: AppState {
            leptos_options: leptos_options(cfg),
            ports,
        },
        sandbox: connection.sandbox,
    })
}

pub fn ports(cluster: KubeCluster, metrics: Prometheus, traces: Jaeger) -> Ports {
    Ports {
        cluster: Arc::new(cluster),
        metrics: Arc::new(metrics),
        traces: Arc::new(traces),
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
