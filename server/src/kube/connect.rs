//! Which cluster the console uses, decided once at start-up: the sandbox when asked for
//! or when nothing else is configured, otherwise the kubeconfig (flag, `KUBECONFIG`,
//! `~/.kube/config`) or the in-cluster service account. A configured cluster that cannot
//! be used does not stop the console: it serves and says what is wrong on every page.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ::kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use ::kube::{Client, Config as KubeConfig};
use anyhow::Context as _;
use sluice_app::domain::applications::IngressEndpoint;
use sluice_app::domain::cluster::{ClusterProblem, ClusterTarget, ProblemKind};
use sluice_sandbox::{Sandbox, SandboxConfig};

use super::cluster::KubeCluster;
use super::problems::{chain_text, classify};
use crate::config::Config;

/// How long a connection attempt may take before the cluster counts as unreachable
/// (or `--kube-timeout`, when that is shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `--kube-timeout`'s default.
pub const DEFAULT_KUBE_TIMEOUT: Duration = Duration::from_secs(15);
/// The release controller's read timeout. Its watches are long polls: the API server
/// holds each open for up to kube-runtime's `timeoutSeconds` (290 s) and may stay silent
/// all that time when nothing changes, and the watcher gives a silent stream 5 s more
/// before reconnecting. A read timeout shorter than that would cut healthy watches (and
/// re-list) every few seconds on a quiet cluster, so the controller's client waits longer
/// than the watcher does; it still ends a reconcile call to a server that died silently.
pub const CONTROLLER_READ_TIMEOUT: Duration = Duration::from_secs(330);
/// How long sandbox pods take to become Ready: long enough to watch a rollout happen.
const SANDBOX_POD_READY_DELAY: Duration = Duration::from_secs(2);

/// Where the cluster credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Sandbox,
    Kubeconfig(PathBuf),
    /// `KUBECONFIG` (possibly several files) or `~/.kube/config`, read by kube-rs.
    DefaultKubeconfig,
    InCluster,
}

/// What the environment offers, gathered once so [`choose`] stays pure.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub kubeconfig_env: bool,
    pub home_kubeconfig_exists: bool,
    pub in_cluster: bool,
}

impl Environment {
    pub fn detect() -> Self {
        let home_kubeconfig_exists = std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".kube/config").is_file())
            .unwrap_or(false);
        Environment {
            kubeconfig_env: std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()),
            home_kubeconfig_exists,
            in_cluster: std::env::var_os("KUBERNETES_SERVICE_HOST").is_some(),
        }
    }
}

pub fn choose(cfg: &Config, env: &Environment) -> Choice {
    if cfg.sandbox {
        Choice::Sandbox
    } else if let Some(path) = &cfg.kubeconfig {
        Choice::Kubeconfig(path.clone())
    } else if env.kubeconfig_env || env.home_kubeconfig_exists {
        Choice::DefaultKubeconfig
    } else if env.in_cluster {
        Choice::InCluster
    } else {
        Choice::Sandbox
    }
}

/// The cluster port, and the sandbox when one was started (kept alive by the caller).
pub struct Connection {
    pub cluster: KubeCluster,
    pub sandbox: Option<Sandbox>,
}

/// Connects as [`choose`] decides. Only a sandbox that cannot start is fatal: everything
/// else yields a [`KubeCluster`] that reports its problem.
pub async fn connect(cfg: &Config, env: &Environment) -> anyhow::Result<Connection> {
    match choose(cfg, env) {
        Choice::Sandbox => {
            let data_dir = cfg.data_dir();
            let mut sandbox_cfg = SandboxConfig::new(data_dir.clone());
            sandbox_cfg.api_addr = cfg.sandbox_api_addr;
            sandbox_cfg.kubeconfig_path = cfg.sandbox_kubeconfig.clone();
            sandbox_cfg.pod_ready_delay = SANDBOX_POD_READY_DELAY;
            sandbox_cfg.ingress_addr = cfg.sandbox_ingress_addr;
            sandbox_cfg.metrics_addr = cfg.sandbox_metrics_addr;
            sandbox_cfg.jaeger_addr = cfg.sandbox_jaeger_addr;
            sandbox_cfg.mesh.trace_sample_rate = cfg.sandbox_trace_sampling / 100.0;
            if cfg.sandbox_load_rps > 0.0 {
                sandbox_cfg.load = Some(sluice_sandbox::mesh::LoadConfig {
                    rps: cfg.sandbox_load_rps,
                    ..Default::default()
                });
            }
            let sandbox = Sandbox::start(sandbox_cfg).await.with_context(|| {
                format!(
                    "could not start the sandbox cluster (data in {})",
                    data_dir.display()
                )
            })?;
            tracing::info!(
                kubeconfig = %sandbox.kubeconfig_path().display(),
                api = %sandbox.api_url(),
                "sandbox cluster started; use it with: kubectl --kubeconfig {}",
                sandbox.kubeconfig_path().display()
            );
            let cluster = from_kubeconfig_file_with_timeout(
                sandbox.kubeconfig_path(),
                None,
                true,
                cfg.kube_timeout(),
            )
            .await
            .with_ingress(IngressEndpoint {
                scheme: "http".into(),
                address: sandbox.ingress_addr().ip().to_string(),
                port: sandbox.ingress_addr().port(),
            });
            Ok(Connection {
                cluster,
                sandbox: Some(sandbox),
            })
        }
        Choice::Kubeconfig(path) => Ok(Connection {
            cluster: from_kubeconfig_file_with_timeout(
                &path,
                cfg.context.clone(),
                false,
                cfg.kube_timeout(),
            )
            .await,
            sandbox: None,
        }),
        Choice::DefaultKubeconfig => {
            let source = match std::env::var("KUBECONFIG") {
                Ok(v) if !v.is_empty() => format!("kubeconfig $KUBECONFIG ({v})"),
                _ => "kubeconfig ~/.kube/config".to_string(),
            };
            let target = ClusterTarget {
                source,
                context: cfg.context.clone(),
                server: None,
                sandbox: false,
            };
            let cluster = match Kubeconfig::read() {
                Ok(kc) => from_kubeconfig(kc, target, cfg.kube_timeout()).await,
                Err(e) => KubeCluster::unavailable(kubeconfig_problem(&e, target)),
            };
            Ok(Connection {
                cluster,
                sandbox: None,
            })
        }
        Choice::InCluster => {
            let target = ClusterTarget {
                source: "in-cluster service account".into(),
                context: None,
                server: None,
                sandbox: false,
            };
            let cluster = match KubeConfig::incluster() {
                Ok(config) => from_config(config, target, cfg.kube_timeout()),
                Err(e) => KubeCluster::unavailable(ClusterProblem {
                    kind: ProblemKind::BadConfig,
                    target,
                    detail: chain_text(&e),
                }),
            };
            Ok(Connection {
                cluster,
                sandbox: None,
            })
        }
    }
}

/// A cluster from one kubeconfig file, its calls bounded by [`DEFAULT_KUBE_TIMEOUT`].
pub async fn from_kubeconfig_file(
    path: &Path,
    context: Option<String>,
    sandbox: bool,
) -> KubeCluster {
    from_kubeconfig_file_with_timeout(path, context, sandbox, DEFAULT_KUBE_TIMEOUT).await
}

/// A cluster from one kubeconfig file, whose calls made for a request give up after
/// `timeout` without an answer (`--kube-timeout`).
pub async fn from_kubeconfig_file_with_timeout(
    path: &Path,
    context: Option<String>,
    sandbox: bool,
    timeout: Duration,
) -> KubeCluster {
    let target = ClusterTarget {
        source: if sandbox {
            format!("sandbox kubeconfig {}", path.display())
        } else {
            format!("kubeconfig {}", path.display())
        },
        context,
        server: None,
        sandbox,
    };
    match Kubeconfig::read_from(path) {
        Ok(kc) => from_kubeconfig(kc, target, timeout).await,
        Err(e) => KubeCluster::unavailable(kubeconfig_problem(&e, target)),
    }
}

async fn from_kubeconfig(
    kc: Kubeconfig,
    mut target: ClusterTarget,
    timeout: Duration,
) -> KubeCluster {
    if target.context.is_none() {
        target.context = kc.current_context.clone();
    }
    let options = KubeConfigOptions {
        context: target.context.clone(),
        ..KubeConfigOptions::default()
    };
    match KubeConfig::from_custom_kubeconfig(kc, &options).await {
        Ok(config) => from_config(config, target, timeout),
        Err(e) => KubeCluster::unavailable(kubeconfig_problem(&e, target)),
    }
}

fn from_config(config: KubeConfig, mut target: ClusterTarget, timeout: Duration) -> KubeCluster {
    // Shown on every page and in errors: without any credentials in the URL.
    target.server = Some(crate::backends::shown_url_text(
        &config.cluster_url.to_string(),
    ));
    let config = request_config(config, timeout);
    match Client::try_from(config.clone()) {
        Ok(client) => KubeCluster::new(client, target)
            .with_config(config)
            .with_timeout(timeout),
        Err(e) => {
            let problem = classify(&e, &target);
            KubeCluster::unavailable(problem)
        }
    }
}

/// The configuration of clients that serve people's requests (the console's own and
/// each signed-in user's, which are built from it): a page waits at most `timeout` for
/// the API server to accept the connection, take the request, and send each part of its
/// answer, then says the server did not answer instead of hanging.
///
/// kube-rs' read timeout counts the silence on the connection, not the whole call: a
/// large list that keeps arriving is not cut, a server that stops answering is. Resetting
/// it on every write makes it count from the request, not from when a pooled
/// connection went idle.
pub fn request_config(mut config: KubeConfig, timeout: Duration) -> KubeConfig {
    config.connect_timeout = Some(CONNECT_TIMEOUT.min(timeout));
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.reset_reader_on_write = true;
    config
}

/// The configuration of the release controller's client: as `config`, but reading with
/// [`CONTROLLER_READ_TIMEOUT`], which outlasts its watches' long polls.
pub fn controller_config(mut config: KubeConfig) -> KubeConfig {
    config.read_timeout = Some(CONTROLLER_READ_TIMEOUT);
    config.write_timeout = Some(CONTROLLER_READ_TIMEOUT);
    config
}

fn kubeconfig_problem(err: &KubeconfigError, target: ClusterTarget) -> ClusterProblem {
    let kind = match err {
        KubeconfigError::LoadContext(_) => ProblemKind::ContextNotFound,
        KubeconfigError::FindPath => ProblemKind::NoConfig,
        _ => ProblemKind::BadConfig,
    };
    ClusterProblem {
        kind,
        target,
        detail: chain_text(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cfg(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("sluice").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn nothing_configured_means_the_sandbox() {
        assert_eq!(choose(&cfg(&[]), &Environment::default()), Choice::Sandbox);
    }

    #[test]
    fn an_explicit_kubeconfig_wins_over_the_environment() {
        let env = Environment {
            kubeconfig_env: true,
            home_kubeconfig_exists: true,
            in_cluster: true,
        };
        assert_eq!(
            choose(&cfg(&["--kubeconfig", "/k"]), &env),
            Choice::Kubeconfig("/k".into())
        );
        assert_eq!(choose(&cfg(&[]), &env), Choice::DefaultKubeconfig);
        assert_eq!(choose(&cfg(&["--sandbox"]), &env), Choice::Sandbox);
    }

    #[test]
    fn in_cluster_only_when_no_kubeconfig_exists() {
        let env = Environment {
            in_cluster: true,
            ..Environment::default()
        };
        assert_eq!(choose(&cfg(&[]), &env), Choice::InCluster);
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_file_is_reported_not_fatal() {
        let cluster = from_kubeconfig_file(Path::new("/nonexistent/kubeconfig"), None, false).await;
        let problem = cluster.problem().expect("a problem");
        assert_eq!(problem.kind, ProblemKind::BadConfig);
        assert!(
            problem.detail.contains("/nonexistent/kubeconfig"),
            "{}",
            problem.detail
        );
    }

    #[tokio::test]
    async fn an_unknown_context_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, kubeconfig_yaml("https://127.0.0.1:1")).unwrap();
        let cluster = from_kubeconfig_file(&path, Some("nope".into()), false).await;
        let problem = cluster.problem().expect("a problem");
        assert_eq!(problem.kind, ProblemKind::ContextNotFound);
        assert_eq!(problem.target.context.as_deref(), Some("nope"));
    }

    #[tokio::test]
    async fn a_password_in_the_server_url_is_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, kubeconfig_yaml("https://admin:pw0rd@127.0.0.1:1")).unwrap();
        let cluster = from_kubeconfig_file(&path, None, false).await;
        assert_eq!(
            cluster.target().server.as_deref(),
            Some("https://admin:***@127.0.0.1:1")
        );
    }

    #[test]
    fn request_clients_time_out_and_the_controller_outlasts_its_watches() {
        let base = KubeConfig::new("https://10.0.0.1:6443".parse().unwrap());
        let requests = request_config(base, Duration::from_secs(2));
        assert_eq!(requests.read_timeout, Some(Duration::from_secs(2)));
        assert_eq!(requests.connect_timeout, Some(Duration::from_secs(2)));
        assert!(requests.reset_reader_on_write);
        let controller = controller_config(requests);
        // kube-runtime's watcher: 290 s server-side, plus 5 s before it reconnects.
        assert!(controller.read_timeout > Some(Duration::from_secs(295)));
    }

    /// A minimal kubeconfig pointing at `server`.
    pub fn kubeconfig_yaml(server: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: test\n  \
             cluster:\n    server: {server}\ncontexts:\n- name: test\n  context:\n    \
             cluster: test\n    user: test\nusers:\n- name: test\n  user:\n    token: t\n"
        )
    }
}
