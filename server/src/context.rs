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
use anyhow::Context as _;

use crate::auth::openid::{OpenIdConfig, Provider};
use crate::auth::proxy::{ProxyConfig, parse_cidrs};
use crate::auth::session::Sealer;
use crate::auth::{Auth, Strategy};
use crate::config::{AuthArg, Config};
use crate::kube::cluster::KubeCluster;
use crate::kube::connect::{Environment, connect};
use crate::kube::leader::{self, LeaseConfig};
use crate::push::Hub;
use crate::sandbox::SandboxTraffic;
use crate::security::Policy;

/// The router's state.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The console's own ports (its own credentials): what `--auth none` requests use.
    pub ports: Ports,
    /// The console's own cluster, from which signed-in users' clients are built.
    pub cluster: Arc<KubeCluster>,
    /// Traffic Management health thresholds (`--health-*-percent`).
    pub thresholds: Thresholds,
    /// The console's names and origins (cross-site protection).
    pub web: Arc<Policy>,
    pub auth: Arc<Auth>,
    /// Live changes for the browsers' streams (`/api/live`).
    pub hub: Hub,
}

impl AppState {
    /// A console on `cluster` without sign-in, known by the loopback names of its
    /// `site_addr`'s port.
    pub fn new(
        leptos_options: LeptosOptions,
        cluster: KubeCluster,
        metrics: Prometheus,
        traces: Jaeger,
        traffic: Option<Arc<dyn TrafficPort>>,
    ) -> AppState {
        let port = leptos_options.site_addr.port();
        let cluster = Arc::new(cluster);
        AppState {
            leptos_options,
            ports: ports_of(cluster.clone(), metrics, traces, traffic),
            cluster,
            thresholds: Thresholds::default(),
            web: Arc::new(Policy::new(port, None, &[])),
            auth: Arc::new(Auth::none()),
            hub: Hub::idle(std::time::Duration::from_secs(300)),
        }
    }

    pub fn with_hub(mut self, hub: Hub) -> AppState {
        self.hub = hub;
        self
    }

    pub fn with_auth(mut self, auth: Auth) -> AppState {
        self.auth = Arc::new(auth);
        self
    }

    pub fn with_policy(mut self, policy: Policy) -> AppState {
        self.web = Arc::new(policy);
        self
    }
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
    tracing::info!(
        "cluster: {}{}",
        connection.cluster.target().source,
        connection
            .cluster
            .target()
            .context
            .as_deref()
            .map(|c| format!(", context {c}"))
            .unwrap_or_default()
    );
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

    let prometheus = prometheus.max_response_mb(cfg.max_prometheus_response_mb);
    // The release controller's own Prometheus client, for the checks of automatic releases.
    let checks: Arc<dyn sluice_app::ports::MetricsPort> = Arc::new(Prometheus(prometheus.clone()));
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    // Every console serves pages; the one holding the Lease runs the release controller.
    let retention = std::time::Duration::from_secs(u64::from(cfg.audit_retention_hours) * 3600);
    let controller = connection.cluster.controller_client().ok().map(|client| {
        let lease = LeaseConfig::new(
            &cfg.leader_election_namespace
                .clone()
                .or_else(leader::own_namespace)
                .unwrap_or_else(|| "default".into()),
            leader::LEASE_NAME,
            leader::default_identity(),
            std::time::Duration::from_secs(u64::from(cfg.leader_lease_seconds)),
        );
        tokio::spawn(leader::run_while_leading(
            client.clone(),
            lease,
            shutdown_rx.clone(),
            move |lost| {
                // The leader reconciles jobs and records their history.
                let history = crate::kube::audit::run(client.clone(), retention, lost.clone());
                let mut lost = lost;
                let controller = crate::kube::release_controller::run(
                    client.clone(),
                    checks.clone(),
                    async move {
                        let _ = lost.wait_for(|s| *s).await;
                    },
                );
                async move {
                    futures::join!(controller, history);
                }
            },
        ))
    });
    let auth = build_auth(cfg, &http, connection.sandbox.as_ref())?;
    if connection.sandbox.is_some()
        && let Ok(client) = connection.cluster.client()
        && let Err(e) = crate::sandbox::install_admission_policies(&client).await
    {
        tracing::warn!("{e}");
    }
    if connection.sandbox.is_some()
        && cfg.auth != AuthArg::None
        && let Ok(client) = connection.cluster.client()
        && let Err(e) = crate::sandbox::install_demo_rbac(&client).await
    {
        tracing::warn!("{e}");
    }
    if let Ok(client) = connection.cluster.client()
        && let Ok(Ok(Some(me))) = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            crate::kube::identity::who_am_i(&client),
        )
        .await
    {
        auth.set_console_user(me.user);
    }
    let mut state = AppState::new(
        leptos_options(cfg),
        connection.cluster,
        Prometheus(prometheus),
        Jaeger(
            HttpBackend::jaeger(jaeger_url, http)
                .api(cfg.jaeger_api)
                .max_response_mb(cfg.max_jaeger_response_mb),
        ),
        traffic,
    )
    .with_auth(auth)
    .with_policy(Policy::new(
        cfg.addr.port(),
        cfg.public_url.as_ref(),
        &cfg.allowed_hosts,
    ));
    state.thresholds = cfg.health_thresholds().map_err(|e| anyhow::anyhow!(e))?;
    let max_stream = std::time::Duration::from_secs(u64::from(cfg.push_max_connection_seconds));
    let hub = match state.cluster.controller_client() {
        Ok(client) => Hub::start(client, max_stream, shutdown_rx.clone()),
        Err(_) => Hub::idle(max_stream),
    };
    state = state.with_hub(hub);
    Ok(Context {
        state,
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
    Ok(PrometheusProcess::start_scraping_every(
        &cfg.prometheus_bin,
        &dir,
        listen,
        &[sandbox.metrics_addr()],
        http,
        std::time::Duration::from_secs(u64::from(cfg.prometheus_scrape_seconds)),
    )
    .await?)
}

fn ports_of(
    cluster: Arc<KubeCluster>,
    metrics: Prometheus,
    traces: Jaeger,
    traffic: Option<Arc<dyn TrafficPort>>,
) -> Ports {
    Ports {
        releases: cluster.clone(),
        cluster,
        metrics: Arc::new(metrics),
        traces: Arc::new(traces),
        traffic,
    }
}

/// The sign-in strategy from the configuration.
fn build_auth(
    cfg: &Config,
    http: &reqwest::Client,
    sandbox: Option<&Sandbox>,
) -> anyhow::Result<Auth> {
    let tls = cfg
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https");
    let sealer = match &cfg.session_key_file {
        Some(path) => {
            let material = std::fs::read(path)
                .with_context(|| format!("cannot read --session-key-file {}", path.display()))?;
            Sealer::from_material(&material)
                .map_err(|e| anyhow::anyhow!("--session-key-file {}: {e}", path.display()))?
        }
        None => Sealer::random(),
    };
    let strategy = match cfg.auth {
        AuthArg::None => Strategy::None,
        AuthArg::Token => Strategy::Token,
        AuthArg::Header => Strategy::Header {
            proxy: ProxyConfig {
                user_header: cfg.auth_header_user.to_ascii_lowercase(),
                groups_header: cfg.auth_header_groups.to_ascii_lowercase(),
                trusted: parse_cidrs(&cfg.auth_trusted_proxies).map_err(|e| anyhow::anyhow!(e))?,
            },
            sign_out_url: cfg.auth_header_signout_url.clone(),
        },
        AuthArg::Openid => {
            let issuer = cfg
                .oidc_issuer
                .clone()
                .context("--auth openid needs --oidc-issuer")?;
            let client_secret = match (
                &cfg.oidc_client_secret_file,
                std::env::var("SLUICE_OIDC_CLIENT_SECRET"),
            ) {
                (Some(path), _) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| {
                            format!("cannot read --oidc-client-secret-file {}", path.display())
                        })?
                        .trim()
                        .to_string(),
                ),
                (None, Ok(s)) if !s.is_empty() => Some(s),
                _ => None,
            };
            let base = cfg.public_url.clone().unwrap_or_else(|| {
                Url::parse(&format!("http://127.0.0.1:{}", cfg.addr.port())).expect("a URL")
            });
            Strategy::OpenId(Arc::new(Provider::new(
                OpenIdConfig {
                    issuer,
                    client_id: cfg
                        .oidc_client_id
                        .clone()
                        .context("--auth openid needs --oidc-client-id")?,
                    client_secret,
                    redirect_uri: base.join("/auth/callback")?,
                    scopes: cfg.oidc_scopes.clone(),
                    username_claim: cfg.oidc_username_claim.clone(),
                    groups_claim: cfg.oidc_groups_claim.clone(),
                    prefix: cfg.oidc_prefix.clone(),
                },
                http.clone(),
            )))
        }
    };
    let mut auth = Auth::new(
        strategy,
        sealer,
        std::time::Duration::from_secs(u64::from(cfg.session_minutes) * 60),
        tls,
    );
    if let Some(sandbox) = sandbox
        && cfg.auth != AuthArg::None
    {
        auth = auth.with_sandbox_hint(crate::sandbox::demo_users_hint(sandbox));
    }
    Ok(auth)
}

pub fn leptos_options(cfg: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("sluice")
        .site_root(cfg.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(cfg.addr)
        .build()
}
