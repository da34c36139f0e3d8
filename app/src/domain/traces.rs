//! One internal model of a distributed trace, parsed from both Jaeger query APIs: v1 (the
//! UI model: `traceID`, `spans[]`, `processes{}`) and v3 / OTLP JSON (`resourceSpans`, also
//! Tempo's `batches` with base64 IDs). Parsing is pure and tested over the upstream
//! fixtures; the Tracing views and the server's Jaeger client build on it. Trace data is
//! untrusted: values are kept as text and rendered as text.

pub mod search;
pub mod timeline;
mod v1_wire;
pub mod view;

pub use v1_wire::parse_jaeger_v1_bytes;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use search::{TraceQuery, TraceSummary};
pub use timeline::{SpanFilter, critical_path, visible_rows, window};
pub use view::{SpanDetail, SpanRow, TraceView};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Lowercase hex.
    pub trace_id: String,
    pub spans: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Lowercase hex.
    pub span_id: String,
    /// The CHILD_OF parent (or OTLP parent), when there is one.
    pub parent_id: Option<String>,
    /// FOLLOWS_FROM references.
    pub follows_from: Vec<String>,
    pub operation: String,
    pub service: String,
    /// Microseconds since the Unix epoch.
    pub start_us: i64,
    pub duration_us: i64,
    pub tags: Vec<Tag>,
    pub process_tags: Vec<Tag>,
    pub logs: Vec<Log>,
    /// `error=true` tag, or an OTLP status code of 2 (error).
    pub error: bool,
}

/// A key and its value as text (numbers, booleans and bytes rendered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    pub timestamp_us: i64,
    pub fields: Vec<Tag>,
}

impl Span {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    /// The pod that served the span: from Envoy's `node_id`, else the process `hostname`.
    pub fn pod(&self) -> Option<NodeId> {
        self.tag("node_id").and_then(parse_node_id).or_else(|| {
            self.process_tags
                .iter()
                .find(|t| t.key == "hostname")
                .map(|t| NodeId {
                    kind: String::new(),
                    ip: self
                        .process_tags
                        .iter()
                        .find(|t| t.key == "ip")
                        .map(|t| t.value.clone())
                        .unwrap_or_default(),
                    pod: t.value.clone(),
                    namespace: String::new(),
                })
        })
    }
}

/// Envoy's node id: `sidecar~10.244.1.3~reviews-v1-5d9f.demo-project~demo-project.svc.cluster.local`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeId {
    /// `sidecar`, `router` (gateways), ...
    pub kind: String,
    pub ip: String,
    pub pod: String,
    pub namespace: String,
}

pub fn parse_node_id(s: &str) -> Option<NodeId> {
    let mut parts = s.split('~');
    let kind = parts.next()?.to_string();
    let ip = parts.next()?.to_string();
    let pod_ns = parts.next()?;
    let (pod, namespace) = pod_ns.rsplit_once('.').unwrap_or((pod_ns, ""));
    (!pod.is_empty()).then(|| NodeId {
        kind,
        ip,
        pod: pod.to_string(),
        namespace: namespace.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceParseError {
    #[error("the trace data is not in a known format: {0}")]
    Shape(&'static str),
    #[error("the tracing backend answered with an error: {0}")]
    Backend(String),
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn v1_tags(v: &Value) -> Vec<Tag> {
    v.as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| Tag {
                    key: text(&t["key"]),
                    value: text(&t["value"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a v1 response (`{"data": [trace, ...]}`) or a single v1 trace object.
pub fn parse_jaeger_v1(body: &Value) -> Result<Vec<Trace>, TraceParseError> {
    if let Some(errors) = body["errors"].as_array().filter(|e| !e.is_empty()) {
        return Err(TraceParseError::Backend(
            errors
                .iter()
                .map(|e| text(&e["msg"]))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let traces: Vec<&Value> = match body.get("data") {
        Some(Value::Array(items)) => items.iter().collect(),
        _ if body.get("spans").is_some() => vec![body],
        _ => return Err(TraceParseError::Shape("no data[] and no spans[]")),
    };
    traces.into_iter().map(v1_trace).collect()
}

fn v1_trace(t: &Value) -> Result<Trace, TraceParseError> {
    let spans = t["spans"]
        .as_array()
        .ok_or(TraceParseError::Shape("a trace without spans[]"))?;
    let processes = &t["processes"];
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    let mut seen = Dedup::default();
    for s in spans {
        let refs = s["references"].as_array().cloned().unwrap_or_default();
        let parent_id = refs
            .iter()
            .find(|r| r["refType"] == "CHILD_OF")
            .map(|r| text(&r["spanID"]).to_ascii_lowercase());
        let follows_from = refs
            .iter()
            .filter(|r| r["refType"] == "FOLLOWS_FROM")
            .map(|r| text(&r["spanID"]).to_ascii_lowercase())
            .collect();
        let process = s
            .get("process")
            .filter(|p| p.is_object())
            .unwrap_or(&processes[text(&s["processID"])]);
        let tags = v1_tags(&s["tags"]);
        let error = tags.iter().any(|t| t.key == "error" && t.value == "true");
        let span = Span {
            span_id: text(&s["spanID"]).to_ascii_lowercase(),
            parent_id,
            follows_from,
            operation: text(&s["operationName"]),
            service: text(&process["serviceName"]),
            start_us: s["startTime"].as_i64().unwrap_or(0),
            duration_us: s["duration"].as_i64().unwrap_or(0),
            tags,
            process_tags: v1_tags(&process["tags"]),
            logs: s["logs"]
                .as_array()
                .map(|logs| {
                    logs.iter()
                        .map(|l| Log {
                            timestamp_us: l["timestamp"].as_i64().unwrap_or(0),
                            fields: v1_tags(&l["fields"]),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            error,
        };
        seen.push(&mut out, span);
    }
    Ok(Trace {
        trace_id: text(&t["traceID"]).to_ascii_lowercase(),
        spans: out,
    })
}

/// Exporters can send the same span twice; keep one copy (spans that merely share an ID
/// but differ are kept: the backend returned both). Indexed by span ID, so a 50,000-span
/// trace is not compared span by span.
#[derive(Default)]
struct Dedup(std::collections::HashMap<String, Vec<usize>>);

impl Dedup {
    fn push(&mut self, spans: &mut Vec<Span>, span: Span) {
        let same_id = self.0.entry(span.span_id.clone()).or_default();
        if !same_id.iter().any(|&i| spans[i] == span) {
            same_id.push(spans.len());
            spans.push(span);
        }
    }
}

/// The error text of a Jaeger answer: v1's envelope `errors[].msg`, or api_v3's
/// (grpc-gateway) `{"error": {"httpCode", "message"}}`.
pub fn backend_error(body: &Value) -> Option<String> {
    if let Some(errors) = body["errors"].as_array().filter(|e| !e.is_empty()) {
        return Some(
            errors
                .iter()
                .map(|e| text(&e["msg"]))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    let e = &body["error"];
    e.get("message")
        .or_else(|| e.get("msg"))
        .map(text)
        .or_else(|| body.get("message").map(text))
        .filter(|m| !m.is_empty())
}

/// Service names from `/api/services` (v1: `data: [names]`) or `/api/v3/services`
/// (`services: [names]`), sorted and deduplicated.
pub fn parse_services(body: &Value) -> Result<Vec<String>, TraceParseError> {
    if let Some(msg) = backend_error(body) {
        return Err(TraceParseError::Backend(msg));
    }
    let items = match (body.get("data"), body.get("services")) {
        (Some(Value::Array(a)), _) | (_, Some(Value::Array(a))) => a,
        // Jaeger sends `null` (v1) or leaves the field out (v3, proto JSON) when empty.
        (Some(Value::Null), _) | (None, None) | (_, Some(Value::Null)) => return Ok(Vec::new()),
        _ => return Err(TraceParseError::Shape("no data[] and no services[]")),
    };
    let mut out: Vec<String> = items.iter().map(text).filter(|s| !s.is_empty()).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Operation names from `/api/services/{s}/operations` (v1: `data: [names]`),
/// `/api/operations` (v1: `data: [{name, spanKind}]`) or `/api/v3/operations`
/// (`operations: [{name, spanKind}]`), sorted and deduplicated (all span kinds).
pub fn parse_operations(body: &Value) -> Result<Vec<String>, TraceParseError> {
    if let Some(msg) = backend_error(body) {
        return Err(TraceParseError::Backend(msg));
    }
    let items = match (body.get("data"), body.get("operations")) {
        (Some(Value::Array(a)), _) | (_, Some(Value::Array(a))) => a,
        (Some(Value::Null), _) | (None, None) | (_, Some(Value::Null)) => return Ok(Vec::new()),
        _ => return Err(TraceParseError::Shape("no data[] and no operations[]")),
    };
    let mut out: Vec<String> = items
        .iter()
        .map(|o| match o {
            Value::Object(_) => text(&o["name"]),
            other => text(other),
        })
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// OTLP JSON IDs are hex (Jaeger) or base64 (Tempo); the model uses hex.
pub fn id_to_hex(id: &str, bytes: usize) -> String {
    let is_hex = id.len() == bytes * 2 && id.chars().all(|c| c.is_ascii_hexdigit());
    if is_hex {
        return id.to_ascii_lowercase();
    }
    match decode_base64(id) {
        Some(raw) if raw.len() == bytes => raw.iter().map(|b| format!("{b:02x}")).collect(),
        _ => id.to_ascii_lowercase(),
    }
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

fn otlp_value(v: &Value) -> String {
    for k in [
        "stringValue",
        "intValue",
        "doubleValue",
        "boolValue",
        "bytesValue",
    ] {
        if let Some(x) = v.get(k) {
            return text(x);
        }
    }
    if let Some(items) = v["arrayValue"]["values"].as_array() {
        return format!(
            "[{}]",
            items.iter().map(otlp_value).collect::<Vec<_>>().join(", ")
        );
    }
    String::new()
}

fn otlp_attrs(v: &Value) -> Vec<Tag> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|t| Tag {
                    key: text(&t["key"]),
                    value: otlp_value(&t["value"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn nanos(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        other => other.as_i64().unwrap_or(0),
    }
}

/// Parses OTLP JSON (`resourceSpans`, or Tempo's `batches`), bare or wrapped in
/// `{"result": ...}` as Jaeger's api_v3 sends it; spans are grouped by trace.
pub fn parse_otlp(body: &Value) -> Result<Vec<Trace>, TraceParseError> {
    let body = body.get("result").unwrap_or(body);
    let resources = body
        .get("resourceSpans")
        .or_else(|| body.get("batches"))
        .and_then(Value::as_array)
        .ok_or(TraceParseError::Shape("no resourceSpans[] or batches[]"))?;
    let mut traces: Vec<Trace> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut seen: Vec<Dedup> = Vec::new();
    for r in resources {
        let process_tags = otlp_attrs(&r["resource"]["attributes"]);
        let service = process_tags
            .iter()
            .find(|t| t.key == "service.name")
            .map(|t| t.value.clone())
            .unwrap_or_default();
        let scopes = r
            .get("scopeSpans")
            .or_else(|| r.get("instrumentationLibrarySpans"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for scope in scopes {
            for s in scope["spans"].as_array().into_iter().flatten() {
                let trace_id = id_to_hex(&text(&s["traceId"]), 16);
                let start = nanos(&s["startTimeUnixNano"]);
                let end = nanos(&s["endTimeUnixNano"]);
                let tags = otlp_attrs(&s["attributes"]);
                let error = s["status"]["code"].as_i64() == Some(2)
                    || s["status"]["code"] == "STATUS_CODE_ERROR"
                    || tags.iter().any(|t| t.key == "error" && t.value == "true");
                let parent = text(&s["parentSpanId"]);
                let span = Span {
                    span_id: id_to_hex(&text(&s["spanId"]), 8),
                    parent_id: (!parent.is_empty()).then(|| id_to_hex(&parent, 8)),
                    follows_from: Vec::new(),
                    operation: text(&s["name"]),
                    service: service.clone(),
                    start_us: start / 1000,
                    duration_us: (end - start).max(0) / 1000,
                    tags,
                    process_tags: process_tags.clone(),
                    logs: s["events"]
                        .as_array()
                        .map(|ev| {
                            ev.iter()
                                .map(|e| {
                                    let mut fields = vec![Tag {
                                        key: "event".into(),
                                        value: text(&e["name"]),
                                    }];
                                    fields.extend(otlp_attrs(&e["attributes"]));
                                    Log {
                                        timestamp_us: nanos(&e["timeUnixNano"]) / 1000,
                                        fields,
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    error,
                };
                // The same dedup rule as for v1: exact repeats only.
                let i = *index.entry(trace_id.clone()).or_insert_with(|| {
                    traces.push(Trace {
                        trace_id,
                        spans: Vec::new(),
                    });
                    seen.push(Dedup::default());
                    traces.len() - 1
                });
                seen[i].push(&mut traces[i].spans, span);
            }
        }
    }
    Ok(traces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> Value {
        let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(full).unwrap()).unwrap()
    }

    #[test]
    fn v1_ui_model_with_both_reference_kinds_logs_and_typed_tags() {
        let traces = parse_jaeger_v1(&fixture("jaeger/ui_01.json")).unwrap();
        assert_eq!(traces.len(), 1);
        let t = &traces[0];
        assert_eq!(t.spans.len(), 5);
        let services: std::collections::BTreeSet<&str> =
            t.spans.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(services.len(), 2, "{services:?}");
        assert!(t.spans.iter().any(|s| !s.follows_from.is_empty()));
        assert!(t.spans.iter().any(|s| s.parent_id.is_some()));
        assert!(t.spans.iter().any(|s| !s.logs.is_empty()));
        // Typed values become text.
        assert!(
            t.spans
                .iter()
                .flat_map(|s| &s.tags)
                .all(|tag| !tag.key.is_empty())
        );
    }

    #[test]
    fn every_v1_fixture_parses() {
        for (file, spans) in [
            ("jaeger/TraceGraph-testTrace.json", 11),
            ("jaeger/TraceStatistics-spansAmongEachOther.json", 12),
            ("jaeger/oltp2jaeger-multi-out.json", 4),
        ] {
            let traces = parse_jaeger_v1(&fixture(file)).unwrap();
            assert_eq!(traces[0].spans.len(), spans, "{file}");
            assert!(
                traces[0].spans.iter().all(|s| !s.service.is_empty()),
                "{file}"
            );
        }
        let graph = parse_jaeger_v1(&fixture("jaeger/TraceGraph-testTrace.json")).unwrap();
        assert!(
            graph[0].spans.iter().any(|s| s.error),
            "the fixture's error tag"
        );
    }

    #[test]
    fn the_typed_v1_parser_gives_the_reference_result_on_every_v1_fixture() {
        for file in [
            "jaeger/ui_01.json",
            "jaeger/TraceGraph-testTrace.json",
            "jaeger/TraceStatistics-spansAmongEachOther.json",
            "jaeger/oltp2jaeger-multi-out.json",
            "jaeger/otlp2jaeger-out.json",
        ] {
            let v = fixture(file);
            // Single trace objects are wrapped the way the search and get APIs answer.
            let body = if v.get("data").is_some() {
                v
            } else {
                serde_json::json!({ "data": [v], "errors": null })
            };
            let bytes = serde_json::to_vec(&body).unwrap();
            let fast = parse_jaeger_v1_bytes(&bytes)
                .expect("a data[] answer")
                .unwrap();
            assert_eq!(fast, parse_jaeger_v1(&body).unwrap(), "{file}");
        }
        // Escaped strings, a repeated span, inline process, an error answer, not JSON.
        let body = br#"{"data":[{"traceID":"AB","spans":[
            {"traceID":"AB","spanID":"01","operationName":"GET \"/\"","startTime":5,"duration":2,
             "references":[],"tags":[{"key":"error","type":"bool","value":true},{"key":"n","value":3.5}],
             "processID":"p1","logs":[{"timestamp":6,"fields":[{"key":"event","value":"x<y"}]}]},
            {"traceID":"AB","spanID":"01","operationName":"GET \"/\"","startTime":5,"duration":2,
             "references":[],"tags":[{"key":"error","type":"bool","value":true},{"key":"n","value":3.5}],
             "processID":"p1","logs":[{"timestamp":6,"fields":[{"key":"event","value":"x<y"}]}]},
            {"traceID":"AB","spanID":"02","operationName":"child","startTime":6,"duration":1,
             "references":[{"refType":"CHILD_OF","traceID":"AB","spanID":"01"}],
             "process":{"serviceName":"inline","tags":[]}}],
            "processes":{"p1":{"serviceName":"svc","tags":[{"key":"hostname","value":"pod-1"}]}}}],
            "errors":null}"#;
        let value: Value = serde_json::from_slice(body).unwrap();
        let fast = parse_jaeger_v1_bytes(body).unwrap().unwrap();
        assert_eq!(fast, parse_jaeger_v1(&value).unwrap());
        assert_eq!(fast[0].spans.len(), 2, "the repeat is dropped");
        assert_eq!(fast[0].spans[0].operation, "GET \"/\"");
        assert!(fast[0].spans[0].error);
        assert_eq!(fast[0].spans[1].service, "inline");
        assert_eq!(fast[0].spans[1].parent_id.as_deref(), Some("01"));
        let error = br#"{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}"#;
        assert!(
            parse_jaeger_v1_bytes(error).is_none(),
            "errors go the reference way"
        );
        assert!(parse_jaeger_v1_bytes(b"<html>").is_none());
    }

    #[test]
    fn otlp_input_and_jaegers_v1_conversion_of_it_agree() {
        let otlp = parse_otlp(&fixture("jaeger/otlp2jaeger-in.json")).unwrap();
        let v1 = parse_jaeger_v1(&fixture("jaeger/otlp2jaeger-out.json")).unwrap();
        let key = |t: &Trace| {
            let mut k: Vec<(String, String, i64, String, Option<String>)> = t
                .spans
                .iter()
                .map(|s| {
                    (
                        s.span_id.clone(),
                        s.operation.clone(),
                        s.duration_us,
                        s.service.clone(),
                        s.parent_id.clone(),
                    )
                })
                .collect();
            k.sort();
            k
        };
        assert_eq!(otlp.len(), 1);
        assert_eq!(otlp[0].trace_id, v1[0].trace_id);
        assert_eq!(key(&otlp[0]), key(&v1[0]));
    }

    #[test]
    fn jaeger_api_v3_answers() {
        for file in [
            "jaeger/apiv3-snapshot-GetTrace.json",
            "jaeger/apiv3-snapshot-FindTraces.json",
        ] {
            let traces = parse_otlp(&fixture(file)).unwrap();
            assert_eq!(
                traces[0].trace_id, "00000000000000000000000000000001",
                "{file}"
            );
            assert_eq!(traces[0].spans[0].operation, "foobar");
            assert!(traces[0].spans[0].error, "status code 2 is an error");
        }
    }

    #[test]
    fn kialis_tempo_trace_of_bookinfo_down_to_the_pods() {
        let traces = parse_otlp(&fixture("kiali/responseTrace.json")).unwrap();
        assert_eq!(traces.len(), 1);
        let t = &traces[0];
        assert_eq!(t.trace_id.len(), 32, "base64 IDs become hex");
        assert!(t.trace_id.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(t.spans.iter().all(|s| s.span_id.len() == 16));
        assert_eq!(t.spans.len(), 8);
        let pods: Vec<NodeId> = t.spans.iter().filter_map(Span::pod).collect();
        assert_eq!(pods.len(), 8, "every Envoy span names its pod");
        assert!(
            pods.iter()
                .any(|p| p.pod.starts_with("productpage-v1-") && p.namespace == "bookinfo")
        );
        // Parents resolve within the trace.
        let ids: Vec<&str> = t.spans.iter().map(|s| s.span_id.as_str()).collect();
        assert!(
            t.spans
                .iter()
                .filter_map(|s| s.parent_id.as_deref())
                .all(|p| ids.contains(&p))
        );
    }

    #[test]
    fn node_ids_name_the_pod_and_namespace() {
        assert_eq!(
            parse_node_id(
                "sidecar~10.244.1.3~reviews-v1-5d9f-x2k4p.demo-project~demo-project.svc.cluster.local"
            ),
            Some(NodeId {
                kind: "sidecar".into(),
                ip: "10.244.1.3".into(),
                pod: "reviews-v1-5d9f-x2k4p".into(),
                namespace: "demo-project".into(),
            })
        );
        assert_eq!(parse_node_id("garbage"), None);
    }

    #[test]
    fn backend_errors_are_reported() {
        let body =
            serde_json::json!({"data": null, "errors": [{"code": 404, "msg": "trace not found"}]});
        assert_eq!(
            parse_jaeger_v1(&body).unwrap_err(),
            TraceParseError::Backend("trace not found".into())
        );
    }

    #[test]
    fn services_and_operations_in_both_apis() {
        assert_eq!(
            parse_services(&fixture("jaeger/apiv3-snapshot-GetServices.json")).unwrap(),
            ["foo"]
        );
        assert_eq!(
            parse_operations(&fixture("jaeger/apiv3-snapshot-GetOperations.json")).unwrap(),
            ["get_users"]
        );
        // v1 envelopes, as NOTES-query-api.md describes them.
        let v1 = serde_json::json!({"data": ["b", "a", "b"], "total": 3, "limit": 0, "offset": 0, "errors": null});
        assert_eq!(parse_services(&v1).unwrap(), ["a", "b"]);
        let ops = serde_json::json!({"data": [{"name": "GET /", "spanKind": "server"}, {"name": "GET /", "spanKind": "client"}], "errors": null});
        assert_eq!(parse_operations(&ops).unwrap(), ["GET /"]);
        let legacy = serde_json::json!({"data": ["x"], "errors": null});
        assert_eq!(parse_operations(&legacy).unwrap(), ["x"]);
        // Empty answers: v1 sends null or [], proto JSON leaves the field out.
        assert!(
            parse_services(&serde_json::json!({"data": null}))
                .unwrap()
                .is_empty()
        );
        assert!(parse_services(&serde_json::json!({})).unwrap().is_empty());
        assert!(parse_services(&serde_json::json!({"data": 3})).is_err());
        // api_v3 (grpc-gateway) errors.
        let e = serde_json::json!({"error": {"httpCode": 500, "message": "storage down"}});
        assert_eq!(
            parse_operations(&e).unwrap_err(),
            TraceParseError::Backend("storage down".into())
        );
    }

    #[test]
    fn every_trace_fixture_builds_a_consistent_view() {
        let all: Vec<(&str, Vec<Trace>)> = vec![
            (
                "ui_01",
                parse_jaeger_v1(&fixture("jaeger/ui_01.json")).unwrap(),
            ),
            (
                "graph",
                parse_jaeger_v1(&fixture("jaeger/TraceGraph-testTrace.json")).unwrap(),
            ),
            (
                "stats",
                parse_jaeger_v1(&fixture("jaeger/TraceStatistics-spansAmongEachOther.json"))
                    .unwrap(),
            ),
            (
                "multi",
                parse_jaeger_v1(&fixture("jaeger/oltp2jaeger-multi-out.json")).unwrap(),
            ),
            (
                "out",
                parse_jaeger_v1(&fixture("jaeger/otlp2jaeger-out.json")).unwrap(),
            ),
            (
                "in",
                parse_otlp(&fixture("jaeger/otlp2jaeger-in.json")).unwrap(),
            ),
            (
                "get",
                parse_otlp(&fixture("jaeger/apiv3-snapshot-GetTrace.json")).unwrap(),
            ),
            (
                "find",
                parse_otlp(&fixture("jaeger/apiv3-snapshot-FindTraces.json")).unwrap(),
            ),
            (
                "kiali",
                parse_otlp(&fixture("kiali/responseTrace.json")).unwrap(),
            ),
        ];
        for (name, traces) in all {
            for t in traces {
                let v = TraceView::of(&t);
                assert_eq!(v.spans.len(), t.spans.len(), "{name}");
                for (i, r) in v.spans.iter().enumerate() {
                    match r.parent {
                        None => assert_eq!(r.depth, 0, "{name}"),
                        Some(p) => {
                            assert!((p as usize) < i, "{name}");
                            assert_eq!(v.spans[p as usize].depth + 1, r.depth, "{name}");
                        }
                    }
                    assert!(r.offset_us >= 0, "{name}");
                }
                let children: u32 = v.spans.iter().map(|r| r.children).sum();
                let with_parent = v.spans.iter().filter(|r| r.parent.is_some()).count();
                assert_eq!(children as usize, with_parent, "{name}");
                let cp = critical_path(&v);
                assert!(cp[0], "{name}: the root is on the critical path");
                let s = TraceSummary::of(&t);
                assert_eq!(s.span_count, t.spans.len(), "{name}");
                assert_eq!(s.start_us, v.start_us, "{name}");
            }
        }
        // The Kiali Bookinfo trace: one tree rooted at the ingress gateway.
        let kiali = &parse_otlp(&fixture("kiali/responseTrace.json")).unwrap()[0];
        let v = TraceView::of(kiali);
        assert_eq!(v.spans.iter().filter(|r| r.parent.is_none()).count(), 1);
        assert_eq!(
            v.str(v.spans[0].service),
            "istio-ingressgateway.istio-system"
        );
        assert!(v.spans.iter().map(|r| r.depth).max().unwrap() >= 3);
    }
}
