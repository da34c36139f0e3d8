//! The Jaeger query API v1 over the sandbox's trace store, so the console's Jaeger
//! client (and Jaeger's own UI conventions) work against the sandbox unchanged.
//!
//! Endpoints (shapes as Jaeger ≤ v2.20 answers them; see
//! shared/reference/jaeger/NOTES-query-api.md):
//! - `GET /api/services` → `data: [names]`, `total` = count;
//! - `GET /api/services/{service}/operations` → `data: [names]`;
//! - `GET /api/operations?service=&spanKind=` → `data: [{name, spanKind}]`;
//! - `GET /api/traces?service=&operation=&tags={json}&tag=k:v&minDuration=&maxDuration=
//!   &start=&end=&lookback=&limit=&traceID=` → `data: [trace]` (`total`/`limit`/`offset`
//!   0, as Jaeger's search handler leaves them);
//! - `GET /api/traces/{id}` → `data: [trace]`, or 404 with `errors`;
//! - `GET /api/dependencies?endTs=&lookback=` → `data: [{parent, child, callCount}]`.
//!
//! Every answer uses the envelope `{"data", "total", "limit", "offset", "errors"}`.
//! `start`/`end` are Unix µs; `lookback` (e.g. `1h`) is accepted as Jaeger's UI sends it
//! and used when `start` is absent; `endTs`/`lookback` of `/api/dependencies` are ms.
//!
//! And the stable api_v3 (shapes as in shared/reference/jaeger/jaeger/apiv3-snapshot-*.json
//! and jaeger-idl's OpenAPI file; parameter names as Jaeger's HTTP gateway reads them, the
//! camelCase ones and their snake_case aliases):
//! - `GET /api/v3/services` → `{"services": [names]}`;
//! - `GET /api/v3/operations?service=&spanKind=` → `{"operations": [{name, spanKind}]}`;
//! - `GET /api/v3/traces?query.serviceName=&query.operationName=&query.startTimeMin=
//!   &query.startTimeMax=` (RFC 3339, both required) `&query.durationMin=&query.durationMax=`
//!   (Go durations) `&query.searchDepth=&query.attributes={json}` → `{"result":
//!   {"resourceSpans": [...]}}` (OTLP JSON), or 404 `No traces found` when none match;
//! - `GET /api/v3/traces/{id}` → the same envelope, or 404.
//!
//! api_v3 errors are grpc-gateway's `{"error": {"httpCode", "message"}}`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::Mesh;
use super::traces::{TraceQuery, parse_go_duration_us, parse_trace_id};

/// Most traces one search returns (Jaeger UI's own maximum).
const MAX_LIMIT: usize = 1500;

pub(super) fn router(mesh: Mesh) -> Router {
    Router::new()
        .route("/api/services", get(services))
        .route(
            "/api/services/{service}/operations",
            get(service_operations),
        )
        .route("/api/operations", get(operations))
        .route("/api/traces", get(search))
        .route("/api/traces/{id}", get(trace_by_id))
        .route("/api/dependencies", get(dependencies))
        .route("/api/v3/services", get(v3_services))
        .route("/api/v3/operations", get(v3_operations))
        .route("/api/v3/traces", get(v3_search))
        .route("/api/v3/traces/{id}", get(v3_trace_by_id))
        .with_state(mesh)
}

fn envelope(data: Value, total: usize) -> Response {
    Json(json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null}))
        .into_response()
}

fn error(status: StatusCode, msg: &str) -> Response {
    let body = json!({
        "data": null, "total": 0, "limit": 0, "offset": 0,
        "errors": [{"code": status.as_u16(), "msg": msg}]
    });
    (status, Json(body)).into_response()
}

fn params(raw: Option<String>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

async fn services(State(mesh): State<Mesh>) -> Response {
    let names = mesh.with_traces(|t| t.services());
    let n = names.len();
    envelope(json!(names), n)
}

async fn service_operations(State(mesh): State<Mesh>, Path(service): Path<String>) -> Response {
    let mut names: Vec<String> = mesh.with_traces(|t| {
        t.operations(&service, None)
            .into_iter()
            .map(|(op, _)| op)
            .collect()
    });
    names.dedup();
    let n = names.len();
    envelope(json!(names), n)
}

async fn operations(State(mesh): State<Mesh>, RawQuery(q): RawQuery) -> Response {
    let p = params(q);
    let Some(service) = param(&p, "service") else {
        return error(StatusCode::BAD_REQUEST, "parameter 'service' is required");
    };
    let kind = param(&p, "spanKind");
    let ops: Vec<Value> = mesh.with_traces(|t| {
        t.operations(service, kind)
            .into_iter()
            .map(|(name, k)| json!({"name": name, "spanKind": k.as_str()}))
            .collect()
    });
    let n = ops.len();
    envelope(json!(ops), n)
}

async fn trace_by_id(State(mesh): State<Mesh>, Path(id): Path<String>) -> Response {
    let Some(tid) = parse_trace_id(&id) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("cannot parse traceID: {id:?}"),
        );
    };
    match mesh.with_traces(|t| t.get(tid)) {
        Some(trace) => envelope(json!([trace.to_jaeger()]), 0),
        None => error(StatusCode::NOT_FOUND, "trace not found"),
    }
}

/// Parse `/api/traces` parameters; `Err` is a message for a 400.
pub fn parse_search(
    p: &[(String, String)],
    now_us: u64,
) -> Result<(TraceQuery, Vec<u128>), String> {
    let mut q = TraceQuery {
        service: param(p, "service").map(str::to_string),
        operation: param(p, "operation").map(str::to_string),
        ..TraceQuery::default()
    };
    let ids: Result<Vec<u128>, String> = p
        .iter()
        .filter(|(k, v)| k == "traceID" && !v.is_empty())
        .map(|(_, v)| parse_trace_id(v).ok_or_else(|| format!("cannot parse traceID {v:?}")))
        .collect();
    let ids = ids?;
    if let Some(tags) = param(p, "tags") {
        let map: serde_json::Map<String, Value> =
            serde_json::from_str(tags).map_err(|e| format!("malformed 'tags' parameter: {e}"))?;
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            q.tags.push((k, v));
        }
    }
    for (_, v) in p.iter().filter(|(k, _)| k == "tag") {
        let (tk, tv) = v
            .split_once(':')
            .ok_or_else(|| format!("malformed 'tag' parameter {v:?}, expected key:value"))?;
        q.tags.push((tk.to_string(), tv.to_string()));
    }
    let dur = |name: &str| -> Result<Option<u64>, String> {
        param(p, name)
            .map(|v| {
                parse_go_duration_us(v)
                    .ok_or_else(|| format!("cannot parse {name} {v:?} (use e.g. 100ms, 1.2s)"))
            })
            .transpose()
    };
    q.min_duration_us = dur("minDuration")?;
    q.max_duration_us = dur("maxDuration")?;
    let micros = |name: &str| -> Result<Option<u64>, String> {
        param(p, name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("cannot parse {name} {v:?} (unix microseconds)"))
            })
            .transpose()
    };
    q.end_us = micros("end")?;
    q.start_us = match micros("start")? {
        Some(s) => Some(s),
        None => dur("lookback")?.map(|lb| q.end_us.unwrap_or(now_us).saturating_sub(lb)),
    };
    q.limit = match param(p, "limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| format!("cannot parse limit {l:?}"))?
            .min(MAX_LIMIT),
        None => 20,
    };
    if q.service.is_none() && ids.is_empty() {
        return Err("parameter 'service' is required".into());
    }
    Ok((q, ids))
}

async fn search(State(mesh): State<Mesh>, RawQuery(raw): RawQuery) -> Response {
    let p = params(raw);
    let (q, ids) = match parse_search(&p, now_us()) {
        Ok(x) => x,
        Err(msg) => return error(StatusCode::BAD_REQUEST, &msg),
    };
    let traces = mesh.with_traces(|t| {
        if ids.is_empty() {
            t.find(&q)
        } else {
            ids.iter().filter_map(|id| t.get(*id)).collect()
        }
    });
    let data: Vec<Value> = traces.iter().map(|t| t.to_jaeger()).collect();
    envelope(Value::Array(data), 0)
}

async fn dependencies(State(mesh): State<Mesh>, RawQuery(raw): RawQuery) -> Response {
    let p = params(raw);
    let end_ms = match param(&p, "endTs").map(str::parse::<u64>) {
        None => now_us() / 1000,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "cannot parse endTs (unix milliseconds)",
            );
        }
    };
    let lookback_ms = match param(&p, "lookback").map(str::parse::<u64>) {
        None => 24 * 3600 * 1000,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "cannot parse lookback (milliseconds)",
            );
        }
    };
    let deps = mesh.with_traces(|t| {
        t.dependencies(
            end_ms.saturating_mul(1000),
            lookback_ms.saturating_mul(1000),
        )
    });
    let data: Vec<Value> = deps
        .into_iter()
        .map(|(parent, child, n)| json!({"parent": parent, "child": child, "callCount": n}))
        .collect();
    let n = data.len();
    envelope(Value::Array(data), n)
}

fn v3_error(status: StatusCode, msg: &str) -> Response {
    let body = json!({"error": {"httpCode": status.as_u16(), "message": msg}});
    (status, Json(body)).into_response()
}

async fn v3_services(State(mesh): State<Mesh>) -> Response {
    Json(json!({"services": mesh.with_traces(|t| t.services())})).into_response()
}

async fn v3_operations(State(mesh): State<Mesh>, RawQuery(q): RawQuery) -> Response {
    let p = params(q);
    let Some(service) = param(&p, "service") else {
        return v3_error(StatusCode::BAD_REQUEST, "service name is required");
    };
    let kind = param(&p, "spanKind").or_else(|| param(&p, "span_kind"));
    let ops: Vec<Value> = mesh.with_traces(|t| {
        t.operations(service, kind)
            .into_iter()
            .map(|(name, k)| json!({"name": name, "spanKind": k.as_str()}))
            .collect()
    });
    Json(json!({"operations": ops})).into_response()
}

/// The first of several spellings that is present (canonical first).
fn param_any<'a>(p: &'a [(String, String)], names: &[&str]) -> Option<(&'a str, String)> {
    names
        .iter()
        .find_map(|n| param(p, n).map(|v| (v, n.to_string())))
}

fn rfc3339_us(v: &str, name: &str) -> Result<u64, String> {
    let ts: jiff::Timestamp = v
        .parse()
        .map_err(|e| format!("malformed parameter {name}: {e}"))?;
    u64::try_from(ts.as_microsecond())
        .map_err(|_| format!("malformed parameter {name}: before 1970"))
}

/// Parse `/api/v3/traces` parameters; `Err` is a message for a 400.
pub fn parse_v3_search(p: &[(String, String)]) -> Result<TraceQuery, String> {
    let mut q = TraceQuery {
        service: param_any(p, &["query.serviceName", "query.service_name"])
            .map(|(v, _)| v.to_string()),
        operation: param_any(p, &["query.operationName", "query.operation_name"])
            .map(|(v, _)| v.to_string()),
        ..TraceQuery::default()
    };
    let min = param_any(p, &["query.startTimeMin", "query.start_time_min"]);
    let max = param_any(p, &["query.startTimeMax", "query.start_time_max"]);
    let (Some((min, min_name)), Some((max, max_name))) = (min, max) else {
        return Err("query.startTimeMin and query.startTimeMax are required".into());
    };
    q.start_us = Some(rfc3339_us(min, &min_name)?);
    q.end_us = Some(rfc3339_us(max, &max_name)?);
    let dur = |names: &[&str]| -> Result<Option<u64>, String> {
        param_any(p, names)
            .map(|(v, name)| {
                parse_go_duration_us(v).ok_or_else(|| format!("malformed parameter {name}: {v:?}"))
            })
            .transpose()
    };
    q.min_duration_us = dur(&["query.durationMin", "query.duration_min"])?;
    q.max_duration_us = dur(&["query.durationMax", "query.duration_max"])?;
    if let Some((v, name)) = param_any(
        p,
        &[
            "query.searchDepth",
            "query.num_traces",
            "query.search_depth",
        ],
    ) {
        q.limit = v
            .parse::<usize>()
            .map_err(|_| format!("malformed parameter {name}: {v:?}"))?
            .min(MAX_LIMIT);
    }
    if let Some(attrs) = param(p, "query.attributes") {
        let map: serde_json::Map<String, Value> = serde_json::from_str(attrs)
            .map_err(|e| format!("malformed parameter query.attributes: {e}"))?;
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            q.tags.push((k, v));
        }
    }
    Ok(q)
}

fn otlp_result(traces: &[std::sync::Arc<super::traces::TraceRecord>]) -> Response {
    let resource_spans: Vec<Value> = traces
        .iter()
        .flat_map(|t| t.to_otlp_resource_spans())
        .collect();
    Json(json!({"result": {"resourceSpans": resource_spans}})).into_response()
}

async fn v3_search(State(mesh): State<Mesh>, RawQuery(raw): RawQuery) -> Response {
    let p = params(raw);
    let q = match parse_v3_search(&p) {
        Ok(q) => q,
        Err(msg) => return v3_error(StatusCode::BAD_REQUEST, &msg),
    };
    let traces = mesh.with_traces(|t| t.find(&q));
    if traces.is_empty() {
        // As Jaeger's gateway answers an empty search.
        return v3_error(StatusCode::NOT_FOUND, "No traces found");
    }
    otlp_result(&traces)
}

async fn v3_trace_by_id(State(mesh): State<Mesh>, Path(id): Path<String>) -> Response {
    let Some(tid) = parse_trace_id(&id) else {
        return v3_error(
            StatusCode::BAD_REQUEST,
            &format!("malformed parameter trace_id: {id:?}"),
        );
    };
    match mesh.with_traces(|t| t.get(tid)) {
        Some(trace) => otlp_result(&[trace]),
        None => v3_error(StatusCode::NOT_FOUND, "trace not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn search_params() {
        let (q, ids) = parse_search(
            &p(&[
                ("service", "reviews.demo"),
                ("tags", r#"{"error":"true","http.status_code":503}"#),
                ("tag", "hostname:reviews-v2-x"),
                ("minDuration", "10ms"),
                ("lookback", "1h"),
                ("limit", "5000"),
            ]),
            10_000_000_000,
        )
        .expect("valid");
        assert!(ids.is_empty());
        assert_eq!(q.tags.len(), 3);
        assert!(q.tags.contains(&("http.status_code".into(), "503".into())));
        assert_eq!(q.min_duration_us, Some(10_000));
        assert_eq!(q.start_us, Some(10_000_000_000 - 3_600_000_000));
        assert_eq!(q.limit, MAX_LIMIT);
        assert!(parse_search(&p(&[("operation", "x")]), 0).is_err());
        assert!(parse_search(&p(&[("service", "s"), ("minDuration", "fast")]), 0).is_err());
        assert!(parse_search(&p(&[("service", "s"), ("tags", "{")]), 0).is_err());
    }

    #[test]
    fn v3_search_params_in_both_spellings() {
        let q = parse_v3_search(&p(&[
            ("query.serviceName", "reviews.demo"),
            ("query.start_time_min", "2024-02-29T12:00:00Z"),
            ("query.startTimeMax", "2024-02-29T12:00:01.5Z"),
            ("query.durationMin", "10ms"),
            ("query.num_traces", "3"),
            ("query.attributes", r#"{"http.status_code":"200"}"#),
        ]))
        .expect("valid");
        assert_eq!(q.service.as_deref(), Some("reviews.demo"));
        assert_eq!(q.start_us, Some(1_709_208_000_000_000));
        assert_eq!(q.end_us, Some(1_709_208_001_500_000));
        assert_eq!(q.min_duration_us, Some(10_000));
        assert_eq!(q.limit, 3);
        assert_eq!(q.tags, vec![("http.status_code".into(), "200".into())]);
        let missing = parse_v3_search(&p(&[("query.serviceName", "s")])).unwrap_err();
        assert!(missing.contains("required"), "{missing}");
        assert!(
            parse_v3_search(&p(&[
                ("query.startTimeMin", "yesterday"),
                ("query.startTimeMax", "2024-02-29T12:00:00Z")
            ]))
            .is_err()
        );
    }
}
