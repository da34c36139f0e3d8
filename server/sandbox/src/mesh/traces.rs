//! Envoy-style spans for simulated requests, kept in a bounded store and rendered in
//! Jaeger's v1 JSON model (the `data` elements of `/api/traces`).
//!
//! Each hop yields a client span in the caller's proxy and a server span in the callee's
//! sidecar (only where a proxy exists), like Istio with Zipkin/B3 tracing: the server
//! span is a child of the client span, and the application's own outgoing calls are
//! children of its inbound server span because it forwards the tracing headers. The
//! ingress gateway's client span is the root. Tags follow what Envoy writes (see
//! shared/reference/kiali/tracingtest/responseTrace.json): `node_id`, `guid:x-request-id`,
//! `upstream_cluster`, `istio.*`, `http.*` (status as a string), `response_flags`,
//! `component=proxy`, `span.kind`, and `error=true` (bool) on 5xx.
//!
//! Memory: spans are stored compactly (shared `Arc<Peer>` for the process, tags rendered
//! only on output), at most `max_traces` traces (default 5000, oldest evicted) of at
//! most [`MAX_SPANS_PER_TRACE`] spans each — about 10–15 MB for Bookinfo traces. The
//! service/operation index is capped at [`MAX_OPERATIONS`] entries.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};

use super::peer::{Peer, TRUST_DOMAIN};

/// Spans kept per trace; a routing loop or a mirror storm cannot grow one beyond this.
pub const MAX_SPANS_PER_TRACE: usize = 128;
/// (service, operation, kind) entries kept for `/api/services` and `/api/operations`.
pub const MAX_OPERATIONS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SpanKind {
    Client,
    Server,
}

impl SpanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Client => "client",
            SpanKind::Server => "server",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub span_id: u64,
    pub parent: Option<u64>,
    pub operation: Arc<str>,
    /// Unix time in µs.
    pub start_us: u64,
    pub duration_us: u64,
    pub kind: SpanKind,
    /// The proxy that reported the span (its pod is the Jaeger process).
    pub proxy: Arc<Peer>,
    pub url: String,
    pub method: String,
    pub status: u16,
    pub flags: &'static str,
    /// `outbound|9080|v2|reviews.ns.svc.cluster.local` (client) or `inbound|9080||`.
    pub upstream_cluster: String,
    /// The downstream peer's IP.
    pub peer_address: Arc<str>,
    pub request_size: u64,
    pub response_size: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    Str(String),
    Bool(bool),
}

impl TagValue {
    fn as_text(&self) -> String {
        match self {
            TagValue::Str(s) => s.clone(),
            TagValue::Bool(b) => b.to_string(),
        }
    }
}

impl SpanRecord {
    /// The span's tags in Envoy's vocabulary.
    pub fn tags(&self, trace: &TraceRecord) -> Vec<(&'static str, TagValue)> {
        let s = |v: String| TagValue::Str(v);
        let mut t = vec![
            ("component", s("proxy".into())),
            ("node_id", s(self.proxy.node_id())),
            ("guid:x-request-id", s(trace.request_id.to_string())),
            ("http.url", s(self.url.clone())),
            ("http.method", s(self.method.clone())),
            ("downstream_cluster", s("-".into())),
            ("user_agent", s(trace.user_agent.to_string())),
            ("http.protocol", s("HTTP/1.1".into())),
            ("peer.address", s(self.peer_address.to_string())),
            ("request_size", s(self.request_size.to_string())),
            ("upstream_cluster", s(self.upstream_cluster.clone())),
            ("upstream_cluster.name", s(self.upstream_cluster.clone())),
            ("http.status_code", s(self.status.to_string())),
            ("response_size", s(self.response_size.to_string())),
            ("response_flags", s(self.flags.to_string())),
            (
                "istio.canonical_revision",
                s(self.proxy.canonical_revision.clone()),
            ),
            (
                "istio.canonical_service",
                s(self.proxy.canonical_service.clone()),
            ),
            ("istio.mesh_id", s(TRUST_DOMAIN.into())),
            ("istio.namespace", s(self.proxy.namespace.clone())),
            ("span.kind", s(self.kind.as_str().into())),
        ];
        if self.status >= 500 || self.status == 0 {
            t.push(("error", TagValue::Bool(true)));
        }
        t
    }

    fn process_tags(&self) -> [(&'static str, String); 2] {
        [
            ("hostname", self.proxy.pod_name.clone()),
            ("ip", self.proxy.pod_ip.clone()),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct TraceRecord {
    pub trace_id: u128,
    pub request_id: Arc<str>,
    pub user_agent: Arc<str>,
    pub spans: Vec<SpanRecord>,
}

impl TraceRecord {
    pub fn start_us(&self) -> u64 {
        self.spans.iter().map(|s| s.start_us).min().unwrap_or(0)
    }

    pub fn end_us(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.start_us + s.duration_us)
            .max()
            .unwrap_or(0)
    }

    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The trace in Jaeger's UI model: `{traceID, spans, processes, warnings}`.
    pub fn to_jaeger(&self) -> Value {
        let trace_id = self.trace_id_hex();
        // One process per reporting proxy (pod), numbered in order of appearance.
        let mut process_ids: Vec<(&Arc<Peer>, String)> = Vec::new();
        let mut processes = serde_json::Map::new();
        let mut spans = Vec::with_capacity(self.spans.len());
        for span in &self.spans {
            let pid = match process_ids
                .iter()
                .find(|(p, _)| Arc::ptr_eq(p, &span.proxy) || ***p == *span.proxy)
            {
                Some((_, id)) => id.clone(),
                None => {
                    let id = format!("p{}", process_ids.len() + 1);
                    let tags: Vec<Value> = span
                        .process_tags()
                        .into_iter()
                        .map(|(k, v)| json!({"key": k, "type": "string", "value": v}))
                        .collect();
                    processes.insert(
                        id.clone(),
                        json!({"serviceName": span.proxy.service_name(), "tags": tags}),
                    );
                    process_ids.push((&span.proxy, id.clone()));
                    id
                }
            };
            let references: Vec<Value> = span
                .parent
                .map(|p| json!({"refType": "CHILD_OF", "traceID": trace_id, "spanID": format!("{p:016x}")}))
                .into_iter()
                .collect();
            let tags: Vec<Value> = span
                .tags(self)
                .into_iter()
                .map(|(k, v)| match v {
                    TagValue::Str(s) => json!({"key": k, "type": "string", "value": s}),
                    TagValue::Bool(b) => json!({"key": k, "type": "bool", "value": b}),
                })
                .collect();
            spans.push(json!({
                "traceID": trace_id,
                "spanID": format!("{:016x}", span.span_id),
                "operationName": &*span.operation,
                "references": references,
                "startTime": span.start_us,
                "duration": span.duration_us,
                "tags": tags,
                "logs": [],
                "processID": pid,
                "warnings": null,
            }));
        }
        json!({"traceID": trace_id, "spans": spans, "processes": processes, "warnings": null})
    }
}

impl TraceRecord {
    /// The trace as api_v3 sends it (OTLP JSON, the `result` of `/api/v3/traces`), shaped
    /// like Jaeger's own answers (shared/reference/jaeger/jaeger/apiv3-snapshot-*.json):
    /// one `resourceSpans` entry per reporting proxy with `service.name` and the process
    /// tags as resource attributes, hex IDs, nanosecond times as strings, the span kind as
    /// a number (2 server, 3 client) and status code 2 on errors.
    pub fn to_otlp_resource_spans(&self) -> Vec<Value> {
        let trace_id = self.trace_id_hex();
        let mut groups: Vec<(&Arc<Peer>, Vec<Value>)> = Vec::new();
        for span in &self.spans {
            let attributes: Vec<Value> = span
                .tags(self)
                .into_iter()
                .filter(|(k, _)| *k != "span.kind")
                .map(|(k, v)| match v {
                    TagValue::Str(s) => json!({"key": k, "value": {"stringValue": s}}),
                    TagValue::Bool(b) => json!({"key": k, "value": {"boolValue": b}}),
                })
                .collect();
            let error = span.status >= 500 || span.status == 0;
            let mut out = json!({
                "traceId": trace_id,
                "spanId": format!("{:016x}", span.span_id),
                "name": &*span.operation,
                "kind": match span.kind { SpanKind::Server => 2, SpanKind::Client => 3 },
                "startTimeUnixNano": (span.start_us * 1000).to_string(),
                "endTimeUnixNano": ((span.start_us + span.duration_us) * 1000).to_string(),
                "attributes": attributes,
                "status": if error { json!({"code": 2}) } else { json!({}) },
            });
            if let Some(p) = span.parent {
                out["parentSpanId"] = json!(format!("{p:016x}"));
            }
            match groups
                .iter_mut()
                .find(|(p, _)| Arc::ptr_eq(p, &span.proxy) || ***p == *span.proxy)
            {
                Some((_, spans)) => spans.push(out),
                None => groups.push((&span.proxy, vec![out])),
            }
        }
        groups
            .into_iter()
            .map(|(proxy, spans)| {
                let mut attrs = vec![json!({"key": "service.name", "value": {"stringValue": proxy.service_name()}})];
                attrs.extend(
                    spans_process_tags(proxy)
                        .into_iter()
                        .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}})),
                );
                json!({"resource": {"attributes": attrs}, "scopeSpans": [{"scope": {}, "spans": spans}]})
            })
            .collect()
    }
}

fn spans_process_tags(proxy: &Peer) -> [(&'static str, String); 2] {
    [
        ("hostname", proxy.pod_name.clone()),
        ("ip", proxy.pod_ip.clone()),
    ]
}

/// A trace search, as `/api/traces` parameters describe it.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    pub service: Option<String>,
    pub operation: Option<String>,
    /// Every tag must match on the same span (span or process tags), compared as text.
    pub tags: Vec<(String, String)>,
    pub min_duration_us: Option<u64>,
    pub max_duration_us: Option<u64>,
    /// Unix µs; spans must start in [start, end].
    pub start_us: Option<u64>,
    pub end_us: Option<u64>,
    pub limit: usize,
}

/// The bounded trace store.
#[derive(Debug)]
pub struct TraceStore {
    traces: VecDeque<Arc<TraceRecord>>,
    max_traces: usize,
    /// service → (operation, kind)
    operations: BTreeMap<String, BTreeSet<(String, SpanKind)>>,
    operation_count: usize,
}

impl TraceStore {
    pub fn new(max_traces: usize) -> TraceStore {
        TraceStore {
            traces: VecDeque::new(),
            max_traces: max_traces.max(1),
            operations: BTreeMap::new(),
            operation_count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.traces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    pub fn insert(&mut self, mut trace: TraceRecord) {
        trace.spans.truncate(MAX_SPANS_PER_TRACE);
        for s in &trace.spans {
            if self.operation_count >= MAX_OPERATIONS {
                break;
            }
            let set = self.operations.entry(s.proxy.service_name()).or_default();
            if set.insert((s.operation.to_string(), s.kind)) {
                self.operation_count += 1;
            }
        }
        while self.traces.len() >= self.max_traces {
            self.traces.pop_front();
        }
        self.traces.push_back(Arc::new(trace));
    }

    pub fn services(&self) -> Vec<String> {
        self.operations.keys().cloned().collect()
    }

    /// Operations of a service, optionally of one span kind.
    pub fn operations(&self, service: &str, kind: Option<&str>) -> Vec<(String, SpanKind)> {
        self.operations
            .get(service)
            .map(|set| {
                set.iter()
                    .filter(|(_, k)| kind.is_none_or(|want| want.is_empty() || want == k.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn get(&self, trace_id: u128) -> Option<Arc<TraceRecord>> {
        self.traces
            .iter()
            .rev()
            .find(|t| t.trace_id == trace_id)
            .cloned()
    }

    /// Newest first, at most `q.limit` (20 when 0).
    pub fn find(&self, q: &TraceQuery) -> Vec<Arc<TraceRecord>> {
        let limit = if q.limit == 0 { 20 } else { q.limit };
        self.traces
            .iter()
            .rev()
            .filter(|t| t.spans.iter().any(|s| span_matches(t, s, q)))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Caller → callee service edges with call counts, from client→server span pairs in
    /// traces that started within [end − lookback, end].
    pub fn dependencies(&self, end_us: u64, lookback_us: u64) -> Vec<(String, String, u64)> {
        let from = end_us.saturating_sub(lookback_us);
        let mut edges: BTreeMap<(String, String), u64> = BTreeMap::new();
        for t in self
            .traces
            .iter()
            .filter(|t| (from..=end_us).contains(&t.start_us()))
        {
            for s in &t.spans {
                let Some(parent) = s
                    .parent
                    .and_then(|p| t.spans.iter().find(|x| x.span_id == p))
                else {
                    continue;
                };
                let (a, b) = (parent.proxy.service_name(), s.proxy.service_name());
                if a != b {
                    *edges.entry((a, b)).or_default() += 1;
                }
            }
        }
        edges.into_iter().map(|((a, b), n)| (a, b, n)).collect()
    }
}

fn span_matches(t: &TraceRecord, s: &SpanRecord, q: &TraceQuery) -> bool {
    if q.service
        .as_deref()
        .is_some_and(|svc| s.proxy.service_name() != svc)
    {
        return false;
    }
    if q.operation.as_deref().is_some_and(|op| &*s.operation != op) {
        return false;
    }
    if q.start_us.is_some_and(|st| s.start_us < st) || q.end_us.is_some_and(|e| s.start_us > e) {
        return false;
    }
    if q.min_duration_us.is_some_and(|m| s.duration_us < m)
        || q.max_duration_us.is_some_and(|m| s.duration_us > m)
    {
        return false;
    }
    if q.tags.is_empty() {
        return true;
    }
    let tags = s.tags(t);
    let process = s.process_tags();
    q.tags.iter().all(|(k, v)| {
        tags.iter().any(|(tk, tv)| tk == k && tv.as_text() == *v)
            || process.iter().any(|(pk, pv)| pk == k && pv == v)
    })
}

/// Parse a Jaeger trace id (hex, up to 32 digits, leading zeros optional).
pub fn parse_trace_id(s: &str) -> Option<u128> {
    let s = s.trim();
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

/// Go duration strings as Jaeger accepts them (`1.2s`, `100ms`, `500us`, `1m30s`), in µs.
pub fn parse_go_duration_us(s: &str) -> Option<u64> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 0.001,
            "us" | "µs" | "μs" => 1.0,
            "ms" => 1_000.0,
            "s" => 1_000_000.0,
            "m" => 60_000_000.0,
            "h" => 3_600_000_000.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * factor;
    }
    (total.is_finite() && total >= 0.0).then_some(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::peer::ProxyKind;

    pub(crate) fn peer(pod: &str) -> Arc<Peer> {
        Arc::new(Peer {
            workload: "reviews-v2".into(),
            namespace: "demo".into(),
            app: "reviews".into(),
            version: "v2".into(),
            canonical_service: "reviews".into(),
            canonical_revision: "v2".into(),
            principal: "spiffe://cluster.local/ns/demo/sa/bookinfo-reviews".into(),
            pod_name: pod.into(),
            pod_ip: "10.244.0.7".into(),
            has_proxy: true,
            kind: ProxyKind::Sidecar,
        })
    }

    fn trace(id: u128, start: u64, dur: u64, status: u16) -> TraceRecord {
        let p = peer("reviews-v2-abc");
        TraceRecord {
            trace_id: id,
            request_id: "rid".into(),
            user_agent: "ua".into(),
            spans: vec![SpanRecord {
                span_id: 1,
                parent: None,
                operation: "reviews.demo.svc.cluster.local:9080/*".into(),
                start_us: start,
                duration_us: dur,
                kind: SpanKind::Server,
                proxy: p,
                url: "http://reviews:9080/reviews/0".into(),
                method: "GET".into(),
                status,
                flags: "-",
                upstream_cluster: "inbound|9080||".into(),
                peer_address: "10.244.0.5".into(),
                request_size: 0,
                response_size: 10,
            }],
        }
    }

    #[test]
    fn store_is_bounded_and_searchable() {
        let mut st = TraceStore::new(3);
        for i in 0..5u64 {
            st.insert(trace(
                u128::from(i) + 1,
                1_000 + i,
                100 * (i + 1),
                if i == 4 { 503 } else { 200 },
            ));
        }
        assert_eq!(st.len(), 3);
        assert!(st.get(1).is_none() && st.get(5).is_some());
        let q = TraceQuery {
            service: Some("reviews.demo".into()),
            min_duration_us: Some(350),
            ..TraceQuery::default()
        };
        assert_eq!(st.find(&q).len(), 2);
        let q = TraceQuery {
            tags: vec![("error".into(), "true".into())],
            ..TraceQuery::default()
        };
        assert_eq!(st.find(&q).len(), 1);
        let q = TraceQuery {
            tags: vec![("hostname".into(), "reviews-v2-abc".into())],
            limit: 1,
            ..TraceQuery::default()
        };
        assert_eq!(st.find(&q)[0].trace_id, 5);
        assert_eq!(st.services(), vec!["reviews.demo".to_string()]);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration_us("1.2s"), Some(1_200_000));
        assert_eq!(parse_go_duration_us("100ms"), Some(100_000));
        assert_eq!(parse_go_duration_us("1m30s"), Some(90_000_000));
        assert_eq!(parse_go_duration_us("500us"), Some(500));
        assert_eq!(parse_go_duration_us("abc"), None);
        assert_eq!(parse_go_duration_us("10"), None);
    }

    #[test]
    fn trace_ids() {
        assert_eq!(parse_trace_id("00000000000000000000000000000001"), Some(1));
        assert_eq!(parse_trace_id("ff"), Some(255));
        assert_eq!(parse_trace_id("xyz"), None);
    }
}
