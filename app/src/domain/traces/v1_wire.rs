//! The fast path for Jaeger v1 trace answers: deserialized straight from the bytes into
//! typed structs (strings borrowed where the JSON has no escapes), instead of building a
//! `serde_json::Value` tree first. A 50,000-span trace is ~40 MB of JSON; the tree alone
//! costs more than the whole typed parse. Same result as [`super::parse_jaeger_v1`], which
//! stays the reference (and the fallback for shapes this does not cover).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{Dedup, Log, Span, Tag, Trace, TraceParseError, text};

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow, default)]
    data: Option<Vec<WireTrace<'a>>>,
    #[serde(default)]
    errors: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct WireTrace<'a> {
    #[serde(rename = "traceID", borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    spans: Vec<WireSpan<'a>>,
    #[serde(borrow, default)]
    processes: HashMap<Cow<'a, str>, Process<'a>>,
}

#[derive(Deserialize)]
struct WireSpan<'a> {
    #[serde(rename = "spanID", borrow, default)]
    span_id: Cow<'a, str>,
    #[serde(rename = "operationName", borrow, default)]
    operation: Cow<'a, str>,
    #[serde(borrow, default)]
    references: Option<Vec<Reference<'a>>>,
    #[serde(rename = "startTime", default)]
    start: Option<i64>,
    #[serde(default)]
    duration: Option<i64>,
    #[serde(borrow, default)]
    tags: Option<Vec<KeyValue<'a>>>,
    #[serde(borrow, default)]
    logs: Option<Vec<WireLog<'a>>>,
    #[serde(rename = "processID", borrow, default)]
    process_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    process: Option<Process<'a>>,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(rename = "refType", borrow, default)]
    ref_type: Cow<'a, str>,
    #[serde(rename = "spanID", borrow, default)]
    span_id: Cow<'a, str>,
}

#[derive(Deserialize, Default)]
struct Process<'a> {
    #[serde(rename = "serviceName", borrow, default)]
    service: Cow<'a, str>,
    #[serde(borrow, default)]
    tags: Option<Vec<KeyValue<'a>>>,
}

#[derive(Deserialize)]
struct KeyValue<'a> {
    #[serde(borrow, default)]
    key: Cow<'a, str>,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct WireLog<'a> {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(borrow, default)]
    fields: Option<Vec<KeyValue<'a>>>,
}

fn tags(kvs: &Option<Vec<KeyValue<'_>>>) -> Vec<Tag> {
    kvs.as_deref()
        .unwrap_or_default()
        .iter()
        .map(|kv| Tag {
            key: kv.key.to_string(),
            value: text(&kv.value),
        })
        .collect()
}

/// Parses a v1 response (`{"data": [trace, ...]}`) from its bytes. `None` when the bytes
/// are not that shape (a single trace object, an error answer, not JSON): the caller then
/// uses [`super::parse_jaeger_v1`] on the parsed value, which says what is wrong.
pub fn parse_jaeger_v1_bytes(bytes: &[u8]) -> Option<Result<Vec<Trace>, TraceParseError>> {
    let body: Body<'_> = serde_json::from_slice(bytes).ok()?;
    if body.errors.as_ref().is_some_and(|e| !e.is_empty()) {
        return None;
    }
    let data = body.data?;
    Some(Ok(data.iter().map(trace).collect()))
}

fn trace(t: &WireTrace<'_>) -> Trace {
    let empty = Process::default();
    let process_tags: HashMap<&str, Vec<Tag>> = t
        .processes
        .iter()
        .map(|(k, p)| (k.as_ref(), tags(&p.tags)))
        .collect();
    let mut out: Vec<Span> = Vec::with_capacity(t.spans.len());
    let mut seen = Dedup::default();
    for s in &t.spans {
        let refs = s.references.as_deref().unwrap_or_default();
        let parent_id = refs
            .iter()
            .find(|r| r.ref_type == "CHILD_OF")
            .map(|r| r.span_id.to_ascii_lowercase());
        let follows_from = refs
            .iter()
            .filter(|r| r.ref_type == "FOLLOWS_FROM")
            .map(|r| r.span_id.to_ascii_lowercase())
            .collect();
        let (service, ptags) = match (&s.process, s.process_id.as_deref()) {
            (Some(p), _) => (p.service.to_string(), tags(&p.tags)),
            (None, Some(id)) => (
                t.processes.get(id).unwrap_or(&empty).service.to_string(),
                process_tags.get(id).cloned().unwrap_or_default(),
            ),
            (None, None) => (String::new(), Vec::new()),
        };
        let span_tags = tags(&s.tags);
        let error = span_tags
            .iter()
            .any(|t| t.key == "error" && t.value == "true");
        let span = Span {
            span_id: s.span_id.to_ascii_lowercase(),
            parent_id,
            follows_from,
            operation: s.operation.to_string(),
            service,
            start_us: s.start.unwrap_or(0),
            duration_us: s.duration.unwrap_or(0),
            tags: span_tags,
            process_tags: ptags,
            logs: s
                .logs
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|l| Log {
                    timestamp_us: l.timestamp.unwrap_or(0),
                    fields: tags(&l.fields),
                })
                .collect(),
            error,
        };
        seen.push(&mut out, span);
    }
    Trace {
        trace_id: t.trace_id.to_ascii_lowercase(),
        spans: out,
    }
}
