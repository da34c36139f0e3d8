//! The Jaeger query client, for both HTTP APIs:
//!
//! - **v1** (`/api/services`, `/api/services/{s}/operations`, `/api/traces?...`,
//!   `/api/traces/{id}`): Jaeger's UI API, answered by every released Jaeger, but its
//!   search endpoints were removed upstream after v2.20 (see
//!   shared/reference/jaeger/NOTES-query-api.md);
//! - **v3** (`/api/v3/services`, `/api/v3/operations`, `/api/v3/traces?query.*`,
//!   `/api/v3/traces/{id}`): the stable api_v3, OTLP JSON in `{"result": ...}`.
//!
//! `--jaeger-api auto` (the default) probes `/api/v3/services`, then `/api/services`, and
//! keeps the first that answers. Parsing is the pure `domain::traces` code; this module
//! only builds requests and maps failures to `AppError`s that say what was tried and how
//! to fix it. Recent traces are kept (a few, by ID) so opening spans of a 50,000-span
//! trace neither refetches nor re-parses it, and a trace being fetched is fetched once
//! however many people open it meanwhile ([`SingleFlight`]). Answers are read up to
//! `--max-jaeger-response-mb`; a larger one is refused with a way to ask for less.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{StatusCode, Url};
use serde_json::Value;
use sluice_app::domain::backends::BackendStatus;
use sluice_app::domain::traces::{
    Trace, TraceParseError, TraceQuery, backend_error, parse_jaeger_v1, parse_jaeger_v1_bytes,
    parse_operations, parse_otlp, parse_services,
};
use sluice_app::error::AppError;

use super::single_flight::SingleFlight;
use super::{HttpBackend, join};

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The services list, for the "too large" text.
const SERVICES: (&str, &str) = (
    "the list of services",
    "Jaeger knows unusually many services",
);
/// Traces kept by ID. A 50,000-span trace is roughly 50–100 MB parsed, so only a few.
pub const CACHE_TRACES: usize = 4;
/// Traces larger than this are not kept (they would evict everything else for one view).
const CACHE_MAX_SPANS: usize = 200_000;

/// Which Jaeger query API to speak (`--jaeger-api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum JaegerApi {
    /// Jaeger's UI API: `/api/services`, `/api/traces` (Jaeger up to v2.20).
    V1,
    /// The stable api_v3: `/api/v3/...`, OTLP JSON.
    V3,
    /// Probe `/api/v3/services`, then `/api/services`.
    #[default]
    Auto,
}

impl JaegerApi {
    fn services_path(self) -> &'static str {
        match self {
            JaegerApi::V3 => "api/v3/services",
            _ => "api/services",
        }
    }

    fn name(self) -> &'static str {
        match self {
            JaegerApi::V1 => "v1",
            JaegerApi::V3 => "v3",
            JaegerApi::Auto => "auto",
        }
    }
}

/// The Jaeger query service: where it is, which API it speaks, and recent traces.
pub struct JaegerBackend {
    http: HttpBackend,
    api: JaegerApi,
    /// The API `auto` found; `None` until a probe succeeded (a Jaeger started after
    /// Sluice is detected on first use).
    detected: Mutex<Option<JaegerApi>>,
    cache: Mutex<VecDeque<(String, Arc<Trace>)>>,
    /// Trace fetches in the air, by ID: people opening the same trace at once share one.
    flights: SingleFlight<String, Result<Arc<Trace>, AppError>>,
}

/// A Jaeger answer: status and JSON body (`Value::Null` when the body was not JSON).
struct Answer {
    status: StatusCode,
    bytes: axum::body::Bytes,
}

impl Answer {
    /// The body as JSON (`null` when it is not JSON).
    fn body(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// The traces in the body: v1 answers take the typed fast path (no JSON tree for a
    /// 40 MB trace), anything it does not cover the reference parsers.
    fn traces(&self, api: JaegerApi) -> Result<Vec<Trace>, TraceParseError> {
        match api {
            JaegerApi::V3 => parse_otlp(&self.body()),
            _ => {
                parse_jaeger_v1_bytes(&self.bytes).unwrap_or_else(|| parse_jaeger_v1(&self.body()))
            }
        }
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Cache key: IDs compare as numbers (Jaeger drops leading zeros in some places).
fn id_key(id: &str) -> String {
    let t = id.trim().trim_start_matches('0').to_ascii_lowercase();
    if t.is_empty() { "0".into() } else { t }
}

impl JaegerBackend {
    pub(super) fn new(http: HttpBackend) -> Self {
        JaegerBackend {
            http,
            api: JaegerApi::Auto,
            detected: Mutex::new(None),
            cache: Mutex::new(VecDeque::new()),
            flights: SingleFlight::new(),
        }
    }

    /// Speak this API (`--jaeger-api`); `Auto` detects it.
    pub fn api(mut self, api: JaegerApi) -> Self {
        self.api = api;
        self
    }

    /// The most an answer may hold, in MB (`--max-jaeger-response-mb`).
    pub fn max_response_mb(mut self, mb: u32) -> Self {
        self.http = self.http.max_response_mb(mb);
        self
    }

    /// The longest a query may take, answer included (30 s by default).
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.query_timeout(timeout);
        self
    }

    /// Records why Sluice could not provide Jaeger itself.
    pub fn missing(mut self, reason: String) -> Self {
        self.http = self.http.missing(reason);
        self
    }

    fn shown(&self) -> String {
        self.http.shown()
    }

    /// What failed, for a person: which Jaeger, which API, why, and the flag to change.
    fn unavailable(&self, api: JaegerApi, detail: &str) -> AppError {
        AppError::Unavailable(format!(
            "Jaeger at {} (query API {}) did not answer: {detail}. Check that the Jaeger query \
             service runs there, or start Sluice with --jaeger-url URL (SLUICE_JAEGER_URL) \
             pointing at it; --jaeger-api v1|v3 (SLUICE_JAEGER_API) picks the API.",
            self.shown(),
            api.name()
        ))
    }

    fn base(&self) -> Result<&Url, AppError> {
        match &self.http.url {
            Some(u) => Ok(u),
            None => {
                let status = match &self.http.missing {
                    Some(reason) => BackendStatus::Missing {
                        reason: reason.clone(),
                    },
                    None => BackendStatus::NotConfigured {
                        flag: self.http.flag.into(),
                        env: self.http.env.into(),
                    },
                };
                Err(AppError::Unavailable(status.summary("Jaeger")))
            }
        }
    }

    /// One GET: the status and the body, read up to `--max-jaeger-response-mb`. `what`
    /// (e.g. "trace 4bf9…") and `narrow` (how to ask for less) make the "too large" text.
    async fn get(
        &self,
        api: JaegerApi,
        path: &str,
        query: &[(String, String)],
        timeout: Duration,
        (what, narrow): (&str, &str),
    ) -> Result<Answer, AppError> {
        let base = self.base()?;
        let url = join(base, path).map_err(|e| self.unavailable(api, &e))?;
        let res = self
            .http
            .http
            .get(url)
            .query(query)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.unavailable(api, &self.http.error_text(&e, timeout)))?;
        let status = res.status();
        let bytes = self
            .http
            .read_capped(res)
            .await
            .map_err(|e| self.unavailable(api, &self.http.error_text(&e, timeout)))?
            .ok_or_else(|| {
                tracing::warn!(
                    what,
                    limit_mb = self.http.max_response_mb,
                    "Jaeger answer too large"
                );
                AppError::Unavailable(self.http.too_large("Jaeger", what, narrow))
            })?;
        Ok(Answer { status, bytes })
    }

    /// The API to use, probing for it under `auto`.
    async fn resolve(&self) -> Result<JaegerApi, AppError> {
        if self.api != JaegerApi::Auto {
            return Ok(self.api);
        }
        if let Some(api) = *self.detected.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(api);
        }
        let mut tried = Vec::new();
        for api in [JaegerApi::V3, JaegerApi::V1] {
            // Probe errors name `auto`: the person did not choose an API.
            match self
                .get(
                    JaegerApi::Auto,
                    api.services_path(),
                    &[],
                    PROBE_TIMEOUT,
                    SERVICES,
                )
                .await
            {
                Ok(a) if a.status.is_success() && parse_services(&a.body()).is_ok() => {
                    tracing::info!(api = api.name(), url = %self.shown(), "Jaeger query API detected");
                    *self.detected.lock().unwrap_or_else(|e| e.into_inner()) = Some(api);
                    return Ok(api);
                }
                Ok(a) => tried.push(format!(
                    "/{} answered HTTP {}",
                    api.services_path(),
                    a.status
                )),
                // Not configured or not reachable: the other path would fail the same way.
                Err(e) => return Err(e),
            }
        }
        Err(self.unavailable(
            JaegerApi::Auto,
            &format!(
                "neither query API answered ({}); is this a Jaeger query service?",
                tried.join(", ")
            ),
        ))
    }

    /// Readiness for the shell: the services endpoint of the API in use.
    pub async fn status(&self) -> BackendStatus {
        if self.http.url.is_none() {
            return self.http.check().await;
        }
        match self.resolve().await {
            Ok(api) => match self
                .get(api, api.services_path(), &[], PROBE_TIMEOUT, SERVICES)
                .await
            {
                Ok(a) if a.status.is_success() => BackendStatus::Ready { url: self.shown() },
                Ok(a) => BackendStatus::Unreachable {
                    url: self.shown(),
                    detail: format!("/{} answered HTTP {}", api.services_path(), a.status),
                },
                Err(e) => BackendStatus::Unreachable {
                    url: self.shown(),
                    detail: e.to_string(),
                },
            },
            Err(AppError::Unavailable(detail)) => BackendStatus::Unreachable {
                url: self.shown(),
                detail,
            },
            Err(other) => BackendStatus::Unreachable {
                url: self.shown(),
                detail: other.to_string(),
            },
        }
    }

    /// A failed answer as an error: 404 → `NotFound(not_found)`, 400 → `Invalid`, else
    /// `Unavailable` with Jaeger's own message.
    fn failure(&self, api: JaegerApi, a: &Answer, not_found: Option<String>) -> AppError {
        let msg = backend_error(&a.body()).unwrap_or_else(|| format!("HTTP {}", a.status));
        match (a.status, not_found) {
            (StatusCode::NOT_FOUND, Some(nf)) => AppError::NotFound(nf),
            (StatusCode::BAD_REQUEST, _) => {
                AppError::Invalid(format!("Jaeger refused the request: {msg}"))
            }
            _ => self.unavailable(api, &format!("it answered HTTP {}: {msg}", a.status)),
        }
    }

    pub async fn services(&self) -> Result<Vec<String>, AppError> {
        let api = self.resolve().await?;
        let a = self
            .get(
                api,
                api.services_path(),
                &[],
                self.http.query_timeout,
                SERVICES,
            )
            .await?;
        if !a.status.is_success() {
            return Err(self.failure(api, &a, None));
        }
        parse_services(&a.body()).map_err(|e| self.unavailable(api, &e.to_string()))
    }

    pub async fn operations(&self, service: &str) -> Result<Vec<String>, AppError> {
        let api = self.resolve().await?;
        let q = vec![("service".to_string(), service.to_string())];
        let path = match api {
            JaegerApi::V3 => "api/v3/operations",
            _ => "api/operations",
        };
        let what = format!("the list of {service}'s operations");
        let a = self
            .get(
                api,
                path,
                &q,
                self.http.query_timeout,
                (&what, "the service has unusually many operation names"),
            )
            .await?;
        if !a.status.is_success() {
            return Err(self.failure(api, &a, None));
        }
        parse_operations(&a.body()).map_err(|e| self.unavailable(api, &e.to_string()))
    }

    pub async fn search(&self, query: &TraceQuery) -> Result<Vec<Trace>, AppError> {
        query.validate().map_err(AppError::Invalid)?;
        let api = self.resolve().await?;
        let now = now_us();
        let (path, params) = match api {
            JaegerApi::V3 => ("api/v3/traces", v3_search_params(query, now)),
            _ => ("api/traces", v1_search_params(query, now)),
        };
        let what = format!(
            "the trace search for {} (up to {} traces)",
            query.service, query.limit
        );
        let narrow = "ask for fewer traces (Limit), a shorter time range, or narrow the \
                      search by operation, tags or minimum duration";
        let a = self
            .get(api, path, &params, self.http.query_timeout, (&what, narrow))
            .await?;
        // api_v3 answers 404 "No traces found" for an empty result.
        if api == JaegerApi::V3 && a.status == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        if !a.status.is_success() {
            return Err(self.failure(api, &a, None));
        }
        let traces = a
            .traces(api)
            .map_err(|e| self.unavailable(api, &e.to_string()))?;
        // Older api_v3 servers ignore `query.attributes`, and a JSON map cannot hold one
        // key twice: check the tags here too, so every API gives the same answer.
        let mut out: Vec<Trace> = traces
            .into_iter()
            .filter(|t| !t.spans.is_empty() && query.tags_match(t))
            .collect();
        out.truncate(query.limit as usize);
        Ok(out)
    }

    /// One trace by ID: from the recent traces, or from Jaeger, in one request however
    /// many people open it at once.
    pub async fn trace_shared(&self, trace_id: &str) -> Result<Arc<Trace>, AppError> {
        let key = id_key(trace_id);
        if let Some(trace) = self.cached(&key) {
            return Ok(trace);
        }
        self.flights
            .run(key.clone(), || async {
                // A flight that just landed may have left it in the cache.
                match self.cached(&key) {
                    Some(trace) => Ok(trace),
                    None => self.fetch_trace(trace_id, &key).await,
                }
            })
            .await
    }

    /// A recent trace, moved to the front.
    fn cached(&self, key: &str) -> Option<Arc<Trace>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let pos = cache.iter().position(|(k, _)| k == key)?;
        let entry = cache.remove(pos)?;
        let trace = entry.1.clone();
        cache.push_front(entry);
        Some(trace)
    }

    async fn fetch_trace(&self, trace_id: &str, key: &str) -> Result<Arc<Trace>, AppError> {
        let api = self.resolve().await?;
        let id = trace_id.trim().to_ascii_lowercase();
        let path = match api {
            JaegerApi::V3 => format!("api/v3/traces/{id}"),
            _ => format!("api/traces/{id}"),
        };
        let what = format!("trace {id}");
        let a = self
            .get(
                api,
                &path,
                &[],
                self.http.query_timeout,
                (
                    &what,
                    "the trace is too big to show whole here (Jaeger's own UI can page through it)",
                ),
            )
            .await?;
        let not_found = format!(
            "Jaeger has no trace {id}: it may be older than Jaeger keeps traces, or the ID is mistyped."
        );
        if !a.status.is_success() {
            return Err(self.failure(api, &a, Some(not_found)));
        }
        let traces = a
            .traces(api)
            .map_err(|e| self.unavailable(api, &e.to_string()))?;
        let trace = traces
            .into_iter()
            .filter(|t| !t.spans.is_empty())
            .find(|t| id_key(&t.trace_id) == key)
            .ok_or(AppError::NotFound(not_found))?;
        let trace = Arc::new(trace);
        if trace.spans.len() <= CACHE_MAX_SPANS {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.retain(|(k, _)| k != key);
            cache.push_front((key.to_string(), trace.clone()));
            cache.truncate(CACHE_TRACES);
        }
        Ok(trace)
    }
}

/// Duration for Jaeger's Go parser.
fn go_ms(ms: u64) -> String {
    format!("{ms}ms")
}

/// `/api/traces` parameters. The range is always explicit (`start`/`end` in µs): Jaeger's
/// search handler reads no `lookback`. Tags go as one JSON map (`tags`), which, unlike
/// repeated `tag=k:v`, keeps keys with colons such as `guid:x-request-id` intact.
pub fn v1_search_params(q: &TraceQuery, now_us: i64) -> Vec<(String, String)> {
    let (start, end) = q.range_us(now_us);
    let mut p: Vec<(String, String)> = vec![
        ("service".into(), q.service.clone()),
        ("start".into(), start.to_string()),
        ("end".into(), end.to_string()),
        ("limit".into(), q.limit.to_string()),
    ];
    if let Some(op) = &q.operation {
        p.push(("operation".into(), op.clone()));
    }
    if let Some(ms) = q.min_duration_ms {
        p.push(("minDuration".into(), go_ms(ms)));
    }
    if let Some(ms) = q.max_duration_ms {
        p.push(("maxDuration".into(), go_ms(ms)));
    }
    if !q.tags.is_empty() {
        p.push(("tags".into(), tags_json(q)));
    }
    p
}

fn tags_json(q: &TraceQuery) -> String {
    let map: serde_json::Map<String, Value> = q
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(map).to_string()
}

/// `/api/v3/traces` parameters. Each goes under its current camelCase name
/// (`query.serviceName`, per the OpenAPI file) and its older snake_case name
/// (`query.service_name`), which Jaeger releases before the rename read and later ones
/// keep as a deprecated alias; a server reads one and ignores the other. Times are
/// RFC 3339 (UTC, µs precision); tags go as `query.attributes` (a JSON map), which older
/// servers ignore, so results are checked again after parsing.
pub fn v3_search_params(q: &TraceQuery, now_us: i64) -> Vec<(String, String)> {
    let (start, end) = q.range_us(now_us);
    let mut p: Vec<(String, String)> = Vec::new();
    let mut both = |camel: &str, snake: &str, v: String| {
        p.push((camel.to_string(), v.clone()));
        p.push((snake.to_string(), v));
    };
    both("query.serviceName", "query.service_name", q.service.clone());
    if let Some(op) = &q.operation {
        both("query.operationName", "query.operation_name", op.clone());
    }
    both("query.startTimeMin", "query.start_time_min", rfc3339(start));
    both("query.startTimeMax", "query.start_time_max", rfc3339(end));
    both("query.searchDepth", "query.num_traces", q.limit.to_string());
    if let Some(ms) = q.min_duration_ms {
        both("query.durationMin", "query.duration_min", go_ms(ms));
    }
    if let Some(ms) = q.max_duration_ms {
        both("query.durationMax", "query.duration_max", go_ms(ms));
    }
    if !q.tags.is_empty() {
        p.push(("query.attributes".into(), tags_json(q)));
    }
    p
}

/// Unix µs as RFC 3339 in UTC with microseconds, e.g. `2026-08-20T10:11:12.345678Z`.
pub fn rfc3339(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc_with_micros() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29T12:34:56.789012Z (a leap day)
        assert_eq!(
            rfc3339(1_709_210_096_789_012),
            "2024-02-29T12:34:56.789012Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999Z");
    }

    fn query() -> TraceQuery {
        TraceQuery {
            service: "productpage.demo".into(),
            operation: Some("op".into()),
            tags: vec![
                ("http.status_code".into(), "200".into()),
                ("guid:x-request-id".into(), "a:b".into()),
            ],
            min_duration_ms: Some(5),
            max_duration_ms: None,
            lookback_minutes: 15,
            start_us: None,
            end_us: None,
            limit: 7,
        }
    }

    fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
        p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn v1_params_have_an_explicit_range_and_json_tags() {
        let p = v1_search_params(&query(), 1_000_000_000_000);
        assert_eq!(get(&p, "end"), Some("1000000000000"));
        assert_eq!(get(&p, "start"), Some("999100000000"));
        assert_eq!(get(&p, "minDuration"), Some("5ms"));
        assert_eq!(get(&p, "limit"), Some("7"));
        let tags: Value = serde_json::from_str(get(&p, "tags").unwrap()).unwrap();
        assert_eq!(tags["guid:x-request-id"], "a:b");
        assert_eq!(get(&p, "lookback"), None);
    }

    #[test]
    fn v3_params_use_both_spellings_and_rfc3339() {
        let p = v3_search_params(&query(), 1_709_210_096_789_012);
        assert_eq!(get(&p, "query.serviceName"), Some("productpage.demo"));
        assert_eq!(get(&p, "query.service_name"), Some("productpage.demo"));
        assert_eq!(
            get(&p, "query.startTimeMax"),
            Some("2024-02-29T12:34:56.789012Z")
        );
        assert_eq!(
            get(&p, "query.start_time_min"),
            Some("2024-02-29T12:19:56.789012Z")
        );
        assert_eq!(get(&p, "query.searchDepth"), Some("7"));
        assert_eq!(get(&p, "query.num_traces"), Some("7"));
        assert_eq!(get(&p, "query.durationMin"), Some("5ms"));
        assert!(
            get(&p, "query.attributes")
                .unwrap()
                .contains("http.status_code")
        );
    }

    #[test]
    fn cache_keys_ignore_leading_zeros_and_case() {
        assert_eq!(id_key("00000000000000000000000000000AbC"), "abc");
        assert_eq!(id_key("abc"), "abc");
        assert_eq!(id_key("0000"), "0");
    }
}
