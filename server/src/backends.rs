//! The HTTP backends: Prometheus (metrics) and the Jaeger query API (traces, in
//! [`jaeger`]). Each answers a readiness check, which the shell shows, and the queries
//! its port needs.

pub mod jaeger;
pub mod prometheus_process;
pub mod single_flight;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use sluice_app::domain::backends::BackendStatus;
use sluice_app::domain::metrics::{ParseError, Series, parse_response_bytes};
use sluice_app::domain::traces::{Trace, TraceQuery};
use sluice_app::error::AppError;
use sluice_app::ports::{MetricsPort, TracesPort};

pub use jaeger::{JaegerApi, JaegerBackend};

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Searches and big traces take longer than a metrics query.
const JAEGER_QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// `--max-prometheus-response-mb`'s default.
pub const DEFAULT_MAX_PROMETHEUS_RESPONSE_MB: u32 = 32;
/// `--max-jaeger-response-mb`'s default: a 50,000-span trace is about 40 MB of JSON.
pub const DEFAULT_MAX_JAEGER_RESPONSE_MB: u32 = 64;
const MB: u64 = 1024 * 1024;

/// One HTTP backend with the path that proves it is serving.
#[derive(Clone)]
pub struct HttpBackend {
    url: Option<Url>,
    /// Why there is no URL when Sluice meant to provide the backend itself.
    missing: Option<String>,
    probe_path: &'static str,
    flag: &'static str,
    env: &'static str,
    http: reqwest::Client,
    /// The most a query's answer may hold, in MB: answers are read into memory (and
    /// parsed whole), so one runaway query must not take the console's memory with it.
    max_response_mb: u32,
    /// The flag (and its variable) that sets `max_response_mb`, for the "too large" text.
    size_flag: (&'static str, &'static str),
    /// The longest a query may take, answer included.
    query_timeout: Duration,
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
            max_response_mb: DEFAULT_MAX_PROMETHEUS_RESPONSE_MB,
            size_flag: (
                "--max-prometheus-response-mb",
                "SLUICE_MAX_PROMETHEUS_RESPONSE_MB",
            ),
            query_timeout: QUERY_TIMEOUT,
        }
    }

    /// The Jaeger query service (v1 lists its services at `/api/services`, v3 at
    /// `/api/v3/services`); `.api(...)` picks the API, auto-detected by default.
    pub fn jaeger(url: Option<Url>, http: reqwest::Client) -> JaegerBackend {
        JaegerBackend::new(HttpBackend {
            url,
            missing: None,
            probe_path: "api/services",
            flag: "--jaeger-url",
            env: "SLUICE_JAEGER_URL",
            http,
            max_response_mb: DEFAULT_MAX_JAEGER_RESPONSE_MB,
            size_flag: ("--max-jaeger-response-mb", "SLUICE_MAX_JAEGER_RESPONSE_MB"),
            query_timeout: JAEGER_QUERY_TIMEOUT,
        })
    }

    /// The most an answer may hold, in MB (`--max-prometheus-response-mb`,
    /// `--max-jaeger-response-mb`); at least 1.
    pub fn max_response_mb(mut self, mb: u32) -> Self {
        self.max_response_mb = mb.max(1);
        self
    }

    /// The longest a query may take, answer included (10 s for Prometheus, 30 s for Jaeger).
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
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
        let shown = shown_url(base);
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
                detail: self.error_text(&e, CHECK_TIMEOUT),
            },
        }
    }

    /// The URL as people and logs see it (see [`shown_url`]); empty without one.
    pub fn shown(&self) -> String {
        self.url.as_ref().map(shown_url).unwrap_or_default()
    }

    /// A request error as one line, for people: how long was waited when that was the
    /// problem, and never the URL's password (reqwest takes the credentials out of the
    /// URL it reports, but the text is checked again, as it may be shown on any page).
    fn error_text(&self, e: &reqwest::Error, timeout: Duration) -> String {
        let text = crate::kube::problems::chain_text(e);
        let text = match &self.url {
            Some(url) => hide_password(&text, url),
            None => text,
        };
        if e.is_timeout() {
            format!("no complete answer within {} s ({text})", timeout.as_secs())
        } else {
            text
        }
    }

    /// Reads an answer's body, stopping at `max_response_mb`: `Ok(None)` when it is larger.
    async fn read_capped(
        &self,
        res: reqwest::Response,
    ) -> Result<Option<axum::body::Bytes>, reqwest::Error> {
        read_capped(res, u64::from(self.max_response_mb) * MB).await
    }

    /// "Too large", for people: who answered what, how to ask for less, and the flag.
    fn too_large(&self, who: &str, what: &str, narrow: &str) -> String {
        let (flag, env) = self.size_flag;
        format!(
            "{who} answered {what} with more than {mb} MB, too large to read (the limit is \
             {flag} {mb}): {narrow}, or start Sluice with a larger {flag} ({env}).",
            mb = self.max_response_mb
        )
    }
}

/// Reads a body chunk by chunk into memory, giving up (`Ok(None)`) as soon as it is
/// larger than `limit` bytes, or at once when its declared length is: a runaway answer
/// costs at most `limit` bytes, not all of it.
pub async fn read_capped(
    mut res: reqwest::Response,
    limit: u64,
) -> Result<Option<axum::body::Bytes>, reqwest::Error> {
    let declared = res.content_length();
    if declared.is_some_and(|n| n > limit) {
        return Ok(None);
    }
    // Reserve what is declared (within the limit), not more: the length may be a lie.
    let mut body: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    while let Some(chunk) = res.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.into()))
}

/// A URL as people and logs see it: its password replaced by `***` (a lone user name,
/// which is often a token, too), without a trailing slash. The one way a backend's or the
/// cluster's URL is shown on a page, put in an error or logged; requests still use the
/// credentials (reqwest sends them as basic auth).
///
/// `http://u:s3cret@prom:9090/` is shown as `http://u:***@prom:9090`.
pub fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    } else if !shown.username().is_empty() {
        let _ = shown.set_username("***");
    }
    shown.as_str().trim_end_matches('/').to_string()
}

/// [`shown_url`] for a URL given as text (e.g. a kubeconfig's `server`). Text without
/// userinfo is kept as written (less its trailing slash); text with userinfo that does not
/// parse as a URL loses everything before the authority's last `@`.
pub fn shown_url_text(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.trim_end_matches('/').to_string();
    };
    if let Ok(parsed) = Url::parse(url) {
        return shown_url(&parsed);
    }
    let rest = format!("***@{}", &rest[at + 1..]);
    let shown = match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest,
    };
    shown.trim_end_matches('/').to_string()
}

/// `text` with `url`'s password (as written in the URL) replaced by `***`.
pub fn hide_password(text: &str, url: &Url) -> String {
    match url.password() {
        Some(p) if !p.is_empty() => text.replace(p, "***"),
        _ => text.to_string(),
    }
}

/// The first `max` characters of a query, for a message.
fn abbreviated(query: &str, max: usize) -> String {
    let query = query.split_whitespace().collect::<Vec<_>>().join(" ");
    match query.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &query[..cut]),
        None => query,
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
pub struct Jaeger(pub JaegerBackend);

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
        self.fetch(
            "api/v1/query_range",
            promql,
            &[
                ("start", format!("{start:.3}")),
                ("end", format!("{end:.3}")),
                ("step", format!("{step_seconds}s")),
            ],
        )
        .await
    }

    async fn query(&self, promql: &str, at: f64) -> Result<Vec<Series>, AppError> {
        self.fetch("api/v1/query", promql, &[("time", format!("{at:.3}"))])
            .await
    }
}

impl Prometheus {
    /// One query API call (`api/v1/query` or `api/v1/query_range`); every way it can fail
    /// is `Unavailable` with a sentence saying which Prometheus and why.
    async fn fetch(
        &self,
        path: &str,
        promql: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Series>, AppError> {
        let b = &self.0;
        let unavailable =
            |status: BackendStatus| AppError::Unavailable(status.summary("Prometheus"));
        let Some(base) = &b.url else {
            return Err(unavailable(b.check().await));
        };
        let url = join(base, path).map_err(|e| AppError::Unavailable(e.to_string()))?;
        let shown = b.shown();
        let mut query: Vec<(&str, String)> = vec![("query", promql.to_string())];
        query.extend(params.iter().cloned());
        let res = b
            .http
            .get(url)
            .query(&query)
            .timeout(b.query_timeout)
            .send()
            .await
            .map_err(|e| {
                unavailable(BackendStatus::Unreachable {
                    url: shown.clone(),
                    detail: b.error_text(&e, b.query_timeout),
                })
            })?;
        // Parsed straight from the bytes into series: a big mesh's answer holds 100,000
        // rows, and a JSON tree of it first would cost more than the graph.
        let body = b
            .read_capped(res)
            .await
            .map_err(|e| {
                unavailable(BackendStatus::Unreachable {
                    url: shown.clone(),
                    detail: b.error_text(&e, b.query_timeout),
                })
            })?
            .ok_or_else(|| {
                tracing::warn!(
                    query = promql,
                    limit_mb = b.max_response_mb,
                    "Prometheus answer too large"
                );
                AppError::Unavailable(b.too_large(
                    "Prometheus",
                    &format!("the query `{}`", abbreviated(promql, 160)),
                    "look at a shorter time range (or a coarser step), or narrow the view to \
                     fewer series (one project, one workload)",
                ))
            })?;
        parse_response_bytes(&body).map_err(|e| match e {
            ParseError::NotJson(_) => unavailable(BackendStatus::Unreachable {
                url: shown.clone(),
                detail: e.to_string(),
            }),
            e => {
                tracing::warn!(query = promql, error = %e, "Prometheus query failed");
                AppError::Unavailable(e.to_string())
            }
        })
    }
}

#[async_trait]
impl TracesPort for Jaeger {
    async fn status(&self) -> BackendStatus {
        self.0.status().await
    }

    async fn services(&self) -> Result<Vec<String>, AppError> {
        self.0.services().await
    }

    async fn operations(&self, service: &str) -> Result<Vec<String>, AppError> {
        self.0.operations(service).await
    }

    async fn search(&self, query: &TraceQuery) -> Result<Vec<Trace>, AppError> {
        self.0.search(query).await
    }

    async fn trace_shared(&self, trace_id: &str) -> Result<Arc<Trace>, AppError> {
        self.0.trace_shared(trace_id).await
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

    #[test]
    fn shown_urls_never_hold_a_password() {
        let shown = |u: &str| shown_url(&Url::parse(u).unwrap());
        assert_eq!(
            shown("http://u:s3cret@prom:9090/"),
            "http://u:***@prom:9090"
        );
        assert_eq!(
            shown("https://tok3n@jaeger.example/q/"),
            "https://***@jaeger.example/q"
        );
        assert_eq!(shown("http://prom:9090/"), "http://prom:9090");
        assert_eq!(
            shown_url_text("https://a:b%40c@10.0.0.1:6443"),
            "https://a:***@10.0.0.1:6443"
        );
        // Without userinfo the text is kept as written.
        assert_eq!(
            shown_url_text("https://10.0.0.1:443/"),
            "https://10.0.0.1:443"
        );
        assert_eq!(shown_url_text("h@ost:x:y@z/p"), "***@z/p");
        let url = Url::parse("http://u:s3cret@h/").unwrap();
        assert_eq!(
            hide_password("GET http://u:s3cret@h/ failed", &url),
            "GET http://u:***@h/ failed"
        );
    }

    #[test]
    fn long_queries_are_abbreviated_for_messages() {
        assert_eq!(abbreviated("sum(\n  up\n)", 40), "sum( up )");
        assert_eq!(abbreviated("abcdef", 3), "abc…");
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
        let err = missing.query("up", 60.0).await.unwrap_err();
        assert!(
            err.to_string().contains("install Debian's prometheus"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn instant_queries_reach_prometheus_or_say_it_is_down() {
        // A stand-in answering /api/v1/query with a vector, echoing the query and time.
        use axum::extract::Query;
        use std::collections::HashMap;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/prom/api/v1/query",
            axum::routing::get(|Query(q): Query<HashMap<String, String>>| async move {
                axum::Json(serde_json::json!({"status": "success", "data": {"resultType": "vector",
                    "result": [{"metric": {"query": q["query"]}, "value": [q["time"].parse::<f64>().unwrap(), "2.5"]}]}}))
            }),
        );
        let app = app
            .route(
                "/html/api/v1/query",
                axum::routing::get(|| async { "<html>502 Bad Gateway</html>" }),
            )
            .route(
                "/bad/api/v1/query",
                axum::routing::get(|| async {
                    (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::Json(
                            serde_json::json!({"status": "error", "errorType": "bad_data",
                            "error": "1:5: parse error: unexpected \"}\""}),
                        ),
                    )
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = Url::parse(&format!("http://{addr}/prom")).unwrap();
        let p = Prometheus(HttpBackend::prometheus(Some(url), reqwest::Client::new()));
        let series = p.query("sum(up)", 1760000000.5).await.unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].labels["query"], "sum(up)");
        assert_eq!(series[0].points, vec![(1760000000.5, 2.5)]);
        // Something else answering, and Prometheus refusing the query, say so.
        let other = |path: &str| {
            let url = Url::parse(&format!("http://{addr}/{path}")).unwrap();
            Prometheus(HttpBackend::prometheus(Some(url), reqwest::Client::new()))
        };
        match other("html").query("up", 0.0).await.unwrap_err() {
            AppError::Unavailable(m) => assert!(
                m.starts_with(&format!(
                    "Prometheus at http://{addr}/html did not answer: its answer was not JSON: "
                )),
                "{m}"
            ),
            e => panic!("expected unavailable, got {e:?}"),
        }
        assert_eq!(
            other("bad").query("up}", 0.0).await.unwrap_err(),
            AppError::Unavailable(
                "Prometheus answered with an error: 1:5: parse error: unexpected \"}\"".into()
            )
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let down = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let p = Prometheus(HttpBackend::prometheus(Some(down), reqwest::Client::new()));
        match p.query("up", 0.0).await.unwrap_err() {
            AppError::Unavailable(m) => assert!(
                m.starts_with(&format!(
                    "Prometheus at http://127.0.0.1:{port} did not answer"
                )),
                "{m}"
            ),
            other => panic!("expected unavailable, got {other:?}"),
        }
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
        let j = HttpBackend::jaeger(Some(url), reqwest::Client::new()).api(JaegerApi::V1);
        match j.status().await {
            BackendStatus::Unreachable { url, detail } => {
                assert_eq!(url, format!("http://127.0.0.1:{port}"));
                assert!(detail.to_lowercase().contains("connect"), "{detail}");
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
    }
}
