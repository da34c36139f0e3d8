//! The HTTP backends: Prometheus (metrics) and the Jaeger query API (traces). For now each
//! answers a readiness check, which the shell shows; the query clients grow here.

pub mod prometheus_process;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use sluice_app::domain::backends::BackendStatus;
use sluice_app::ports::{MetricsPort, TracesPort};

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// One HTTP backend with the path that proves it is serving.
pub struct HttpBackend {
    url: Option<Url>,
    /// Why there is no URL when Sluice meant to provide the backend itself.
    missing: Option<String>,
    probe_path: &'static str,
    flag: &'static str,
    env: &'static str,
    http: reqwest::Client,
}

impl HttpBackend {
    /// Prometheus answers `/-/ready` once it can serve queries.
    pub fn prometheus(url: Option<Url>, http: reqwest::Client) -> Self {
        HttpBackend {
            url,
            missing: None,
            probe_path: "-/ready",
            flag: "--prometheus-url",
            env: "SLUICE_PROMETHEUS_URL",
            http,
        }
    }

    /// The Jaeger query service lists its services at `/api/services`.
    pub fn jaeger(url: Option<Url>, http: reqwest::Client) -> Self {
        HttpBackend {
            url,
            missing: None,
            probe_path: "api/services",
            flag: "--jaeger-url",
            env: "SLUICE_JAEGER_URL",
            http,
        }
    }

    /// Records why Sluice could not provide this backend itself (e.g. no Prometheus binary).
    pub fn missing(mut self, reason: String) -> Self {
        self.missing = Some(reason);
        self
    }

    async fn check(&self) -> BackendStatus {
        if let (None, Some(reason)) = (&self.url, &self.missing) {
            return BackendStatus::Missing {
                reason: reason.clone(),
            };
        }
        let Some(base) = &self.url else {
            return BackendStatus::NotConfigured {
                flag: self.flag.into(),
                env: self.env.into(),
            };
        };
        let shown = base.as_str().trim_end_matches('/').to_string();
        let probe = match join(base, self.probe_path) {
            Ok(u) => u,
            Err(detail) => return BackendStatus::Unreachable { url: shown, detail },
        };
        let result = self.http.get(probe).timeout(CHECK_TIMEOUT).send().await;
        match result {
            Ok(res) if res.status().is_success() => BackendStatus::Ready { url: shown },
            Ok(res) => BackendStatus::Unreachable {
                url: shown,
                detail: format!("it answered HTTP {}", res.status()),
            },
            Err(e) => BackendStatus::Unreachable {
                url: shown,
                detail: crate::kube::problems::chain_text(&e),
            },
        }
    }
}

/// Joins a path below the base URL, keeping any path prefix of the base (Prometheus is
/// often served under `/prometheus/`).
pub fn join(base: &Url, path: &str) -> Result<Url, String> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path).map_err(|e| e.to_string())
}

pub struct Prometheus(pub HttpBackend);
pub struct Jaeger(pub HttpBackend);

#[async_trait]
impl MetricsPort for Prometheus {
    async fn status(&self) -> BackendStatus {
        self.0.check().await
    }
}

#[async_trait]
impl TracesPort for Jaeger {
    async fn status(&self) -> BackendStatus {
        self.0.check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_a_path_prefix() {
        let base = Url::parse("http://h:9090/prometheus").unwrap();
        assert_eq!(
            join(&base, "-/ready").unwrap().as_str(),
            "http://h:9090/prometheus/-/ready"
        );
        let base = Url::parse("http://h:16686/").unwrap();
        assert_eq!(
            join(&base, "api/services").unwrap().as_str(),
            "http://h:16686/api/services"
        );
    }

    #[tokio::test]
    async fn unconfigured_backends_say_which_flag_to_set() {
        let p = HttpBackend::prometheus(None, reqwest::Client::new());
        assert_eq!(
            p.check().await,
            BackendStatus::NotConfigured {
                flag: "--prometheus-url".into(),
                env: "SLUICE_PROMETHEUS_URL".into()
            }
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_unreachable() {
        // Bind then drop a listener to get a loopback port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let j = HttpBackend::jaeger(Some(url), reqwest::Client::new());
        match j.check().await {
            BackendStatus::Unreachable { url, detail } => {
                assert_eq!(url, format!("http://127.0.0.1:{port}"));
                assert!(detail.to_lowercase().contains("connect"), "{detail}");
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
    }
}
