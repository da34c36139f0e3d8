//! The HTTP backends: Prometheus (metrics) and the Jaeger query API (traces). For now each
//! answers a readiness check, which the shell shows; the query clients grow here.

pub mod prometheus_process;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use sluice_app::domain::backends::BackendStatus;
use sluice_app::domain::metrics::{Series, parse_response};
use sluice_app::error::AppError;
use sluice_app::ports::{MetricsPort, TracesPort};

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

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

    async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step_seconds: u32,
    ) -> Result<Vec<Series>, AppError> {
        let b = &self.0;
        let unavailable =
            |status: BackendStatus| AppError::Unavailable(status.summary("Prometheus"));
        let Some(base) = &b.url else {
            return Err(unavailable(b.check().await));
        };
        let url =
            join(base, "api/v1/query_range").map_err(|e| AppError::Unavailable(e.to_string()))?;
        let shown = base.as_str().trim_end_matches('/').to_string();
        let res = b
            .http
            .get(url)
            .query(&[
                ("query", promql.to_string()),
                ("start", format!("{start:.3}")),
                ("end", format!("{end:.3}")),
                ("step", format!("{step_seconds}s")),
            ])
            .timeout(QUERY_TIMEOUT)
            .send()
            .await
            .map_err(|e| {
                unavailable(BackendStatus::Unreachable {
                    url: shown.clone(),
                    detail: crate::kube::problems::chain_text(&e),
                })
            })?;
        let body: serde_json::Value = res.json().await.map_err(|e| {
            unavailable(BackendStatus::Unreachable {
                url: shown.clone(),
                detail: format!("its answer was not JSON: {e}"),
            })
        })?;
        parse_response(&body).map_err(|e| {
            tracing::warn!(query = promql, error = %e, "Prometheus query failed");
            AppError::Unavailable(e.to_string())
        })
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
    async fn queries_without_prometheus_say_how_to_get_it() {
        let p = Prometheus(HttpBackend::prometheus(None, reqwest::Client::new()));
        let err = p.query_range("up", 0.0, 60.0, 15).await.unwrap_err();
        assert_eq!(
            err,
            AppError::Unavailable(
                "Prometheus is not configured: start Sluice with --prometheus-url URL (or SLUICE_PROMETHEUS_URL)."
                    .into()
            )
        );
        let missing = Prometheus(
            HttpBackend::prometheus(None, reqwest::Client::new())
                .missing("no Prometheus binary: install Debian's prometheus package".into()),
        );
        let err = missing.query_range("up", 0.0, 60.0, 15).await.unwrap_err();
        assert!(
            err.to_string().contains("install Debian's prometheus"),
            "{err}"
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
