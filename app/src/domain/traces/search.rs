//! Trace search: the query a person builds on the Tracing page (kept in the URL so a
//! search can be shared) and the one-line summary of each trace found. Both Jaeger APIs
//! are fed from [`TraceQuery`]; the server's client turns it into their parameters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Trace;

/// Lookback choices the page offers, in minutes; any positive value is accepted.
pub const LOOKBACK_CHOICES: [u32; 7] = [5, 15, 60, 360, 1440, 2880, 10080];
pub const DEFAULT_LOOKBACK_MINUTES: u32 = 60;
pub const DEFAULT_LIMIT: u32 = 20;
/// Jaeger UI's own maximum.
pub const MAX_LIMIT: u32 = 1500;
/// Longest lookback accepted: 30 days.
pub const MAX_LOOKBACK_MINUTES: u32 = 30 * 24 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceQuery {
    pub service: String,
    pub operation: Option<String>,
    /// Every pair must be on one span (span or process tags), as Jaeger matches them.
    /// (`default`: serde_qs, which carries the query in a GET URL, leaves an empty list out.)
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
    /// 5, 15, 60, 360, 1440 ... (default 60); ignored when `start_us`/`end_us` are given.
    pub lookback_minutes: u32,
    /// Explicit range, unix microseconds.
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
    /// Default 20, at most 1500.
    pub limit: u32,
}

impl Default for TraceQuery {
    fn default() -> Self {
        TraceQuery {
            service: String::new(),
            operation: None,
            tags: Vec::new(),
            min_duration_ms: None,
            max_duration_ms: None,
            lookback_minutes: DEFAULT_LOOKBACK_MINUTES,
            start_us: None,
            end_us: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// URL parameter names (the page's query string).
pub mod param {
    pub const SERVICE: &str = "service";
    pub const OPERATION: &str = "operation";
    pub const TAGS: &str = "tags";
    pub const MIN_DURATION: &str = "min_duration_ms";
    pub const MAX_DURATION: &str = "max_duration_ms";
    pub const LOOKBACK: &str = "lookback";
    pub const START: &str = "start_us";
    pub const END: &str = "end_us";
    pub const LIMIT: &str = "limit";
}

fn number<T: std::str::FromStr>(name: &str, value: &str, what: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{name} {value:?} is not a number: give {what}."))
}

impl TraceQuery {
    /// Reads the page's URL query. Unknown parameters (the project, the selected trace)
    /// are ignored; empty values count as absent, as an HTML form sends them.
    pub fn from_params(params: &[(String, String)]) -> Result<Self, String> {
        let get = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(k, v)| k == name && !v.trim().is_empty())
                .map(|(_, v)| v.as_str())
        };
        let mut q = TraceQuery {
            service: get(param::SERVICE).unwrap_or_default().trim().to_string(),
            operation: get(param::OPERATION).map(|s| s.trim().to_string()),
            ..TraceQuery::default()
        };
        if let Some(t) = get(param::TAGS) {
            q.tags = Self::parse_tags(t)?;
        }
        q.min_duration_ms = get(param::MIN_DURATION)
            .map(|v| number("Min duration", v, "whole milliseconds, e.g. 100"))
            .transpose()?;
        q.max_duration_ms = get(param::MAX_DURATION)
            .map(|v| number("Max duration", v, "whole milliseconds, e.g. 2000"))
            .transpose()?;
        if let Some(v) = get(param::LOOKBACK) {
            q.lookback_minutes = number("Lookback", v, "minutes, e.g. 60 for the last hour")?;
        }
        q.start_us = get(param::START)
            .map(|v| number("Start", v, "Unix microseconds"))
            .transpose()?;
        q.end_us = get(param::END)
            .map(|v| number("End", v, "Unix microseconds"))
            .transpose()?;
        if let Some(v) = get(param::LIMIT) {
            q.limit = number("Limit", v, &format!("a count from 1 to {MAX_LIMIT}"))?;
        }
        q.validate()?;
        Ok(q)
    }

    /// Checks the query as a whole; the message says what is wrong and how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        if self.service.trim().is_empty() {
            return Err("Choose a service to search its traces.".into());
        }
        if self.service.len() > 253 || self.service.chars().any(char::is_control) {
            return Err("The service name is not valid: pick one from the list.".into());
        }
        if self.operation.as_deref().is_some_and(|o| o.len() > 1024) {
            return Err("The operation name is too long: pick one from the list.".into());
        }
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(format!(
                "Limit {} is out of range: use 1 to {MAX_LIMIT} traces.",
                self.limit
            ));
        }
        if self.lookback_minutes == 0 || self.lookback_minutes > MAX_LOOKBACK_MINUTES {
            return Err(format!(
                "Lookback of {} minutes is out of range: use 1 to {MAX_LOOKBACK_MINUTES} (30 days).",
                self.lookback_minutes
            ));
        }
        if let (Some(min), Some(max)) = (self.min_duration_ms, self.max_duration_ms)
            && min > max
        {
            return Err(format!(
                "Min duration {min} ms is above max duration {max} ms: swap them or clear one."
            ));
        }
        if let (Some(s), Some(e)) = (self.start_us, self.end_us)
            && s > e
        {
            return Err("The time range ends before it starts: swap start and end.".into());
        }
        if self.start_us.is_some_and(|s| s < 0) || self.end_us.is_some_and(|e| e < 0) {
            return Err("The time range is before 1970: give Unix microseconds.".into());
        }
        if self.tags.len() > 32 {
            return Err("Too many tags: search with at most 32 key=value pairs.".into());
        }
        Ok(())
    }

    /// The URL query for this search; [`TraceQuery::from_params`] reads it back.
    /// Defaults are left out so links stay short.
    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut out = vec![(param::SERVICE.to_string(), self.service.clone())];
        let mut push = |k: &str, v: String| out.push((k.to_string(), v));
        if let Some(op) = &self.operation {
            push(param::OPERATION, op.clone());
        }
        if !self.tags.is_empty() {
            push(param::TAGS, self.tags_text());
        }
        if let Some(v) = self.min_duration_ms {
            push(param::MIN_DURATION, v.to_string());
        }
        if let Some(v) = self.max_duration_ms {
            push(param::MAX_DURATION, v.to_string());
        }
        if self.lookback_minutes != DEFAULT_LOOKBACK_MINUTES {
            push(param::LOOKBACK, self.lookback_minutes.to_string());
        }
        if let Some(v) = self.start_us {
            push(param::START, v.to_string());
        }
        if let Some(v) = self.end_us {
            push(param::END, v.to_string());
        }
        if self.limit != DEFAULT_LIMIT {
            push(param::LIMIT, self.limit.to_string());
        }
        out
    }

    /// `key=value` pairs separated by spaces, newlines or `;` (logfmt, like Jaeger UI's
    /// tag box). A value with spaces or `;` is written in double quotes, where `\"` and
    /// `\\` escape. Keys may not be empty; duplicates are kept (all must match).
    pub fn parse_tags(text: &str) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        let is_sep = |c: char| c.is_whitespace() || c == ';' || c == ',';
        loop {
            while chars.peek().is_some_and(|c| is_sep(*c)) {
                chars.next();
            }
            if chars.peek().is_none() {
                break;
            }
            let mut key = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' || is_sep(c) {
                    break;
                }
                key.push(c);
                chars.next();
            }
            if chars.next() != Some('=') {
                return Err(format!(
                    "Tag {key:?} has no value: write tags as key=value, e.g. http.status_code=500."
                ));
            }
            if key.is_empty() {
                return Err(
                    "A tag has an empty key: write tags as key=value, e.g. error=true.".into(),
                );
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some(e) => value.push(e),
                            None => break,
                        },
                        c => value.push(c),
                    }
                }
                if !closed {
                    return Err(format!(
                        "The quoted value of tag {key:?} is not closed: add the closing \"."
                    ));
                }
                if chars.peek().is_some_and(|c| !is_sep(*c)) {
                    return Err(format!(
                        "Tag {key:?} has text after its quoted value: separate tags with spaces."
                    ));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if is_sep(c) {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
            out.push((key, value));
        }
        Ok(out)
    }

    /// The tags as text [`TraceQuery::parse_tags`] reads back (space separated).
    pub fn tags_text(&self) -> String {
        self.tags
            .iter()
            .map(|(k, v)| {
                let plain = !v.is_empty()
                    && !v
                        .chars()
                        .any(|c| c.is_whitespace() || matches!(c, ';' | ',' | '"' | '\\'))
                    && !v.starts_with('"');
                if plain {
                    format!("{k}={v}")
                } else {
                    let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
                    format!("{k}=\"{escaped}\"")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The searched range in unix µs: the explicit one, else `lookback` before `now_us`.
    pub fn range_us(&self, now_us: i64) -> (i64, i64) {
        let end = self.end_us.unwrap_or(now_us);
        let start = self
            .start_us
            .unwrap_or_else(|| end - i64::from(self.lookback_minutes) * 60_000_000);
        (start, end)
    }

    /// Whether one span of `trace` carries all the tags (span or process tags), compared as
    /// text. Used to check results of backends that cannot filter by tag themselves.
    pub fn tags_match(&self, trace: &Trace) -> bool {
        self.tags.is_empty()
            || trace.spans.iter().any(|s| {
                self.tags.iter().all(|(k, v)| {
                    s.tags
                        .iter()
                        .chain(&s.process_tags)
                        .any(|t| &t.key == k && &t.value == v)
                })
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_service: String,
    pub root_operation: String,
    /// Unix µs of the earliest span.
    pub start_us: i64,
    /// From the earliest start to the latest end.
    pub duration_us: i64,
    pub span_count: usize,
    pub error_count: usize,
    /// Service → span count, sorted by name.
    pub services: Vec<(String, usize)>,
}

impl TraceSummary {
    /// The root is the earliest span without a parent in the trace (a span whose parent
    /// was not received counts as a root, as Jaeger UI treats it).
    pub fn of(trace: &Trace) -> Self {
        let ids: std::collections::HashSet<&str> =
            trace.spans.iter().map(|s| s.span_id.as_str()).collect();
        let root = trace
            .spans
            .iter()
            .filter(|s| s.parent_id.as_deref().is_none_or(|p| !ids.contains(p)))
            .min_by_key(|s| s.start_us)
            .or_else(|| trace.spans.iter().min_by_key(|s| s.start_us));
        let start = trace.spans.iter().map(|s| s.start_us).min().unwrap_or(0);
        let end = trace
            .spans
            .iter()
            .map(|s| s.start_us + s.duration_us)
            .max()
            .unwrap_or(0);
        let mut services: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &trace.spans {
            *services.entry(s.service.as_str()).or_default() += 1;
        }
        TraceSummary {
            trace_id: trace.trace_id.clone(),
            root_service: root.map(|r| r.service.clone()).unwrap_or_default(),
            root_operation: root.map(|r| r.operation.clone()).unwrap_or_default(),
            start_us: start,
            duration_us: (end - start).max(0),
            span_count: trace.spans.len(),
            error_count: trace.spans.iter().filter(|s| s.error).count(),
            services: services
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }
}

/// Orders summaries newest first (ties by id, so the order is stable).
pub fn newest_first(summaries: &mut [TraceSummary]) {
    summaries.sort_by(|a, b| {
        b.start_us
            .cmp(&a.start_us)
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
}

/// Summaries from api_v3's `/api/v3/trace-summaries` (`{"summaries": [...]}`, newest
/// Jaeger only), in the same shape as [`TraceSummary::of`] gives for a whole trace.
pub fn parse_v3_trace_summaries(
    body: &serde_json::Value,
) -> Result<Vec<TraceSummary>, super::TraceParseError> {
    use serde_json::Value;
    if let Some(msg) = super::backend_error(body) {
        return Err(super::TraceParseError::Backend(msg));
    }
    let items = match body.get("summaries") {
        Some(Value::Array(a)) => a.as_slice(),
        None | Some(Value::Null) => &[],
        _ => return Err(super::TraceParseError::Shape("summaries is not a list")),
    };
    let nanos = |v: &Value| -> i64 {
        match v {
            Value::String(s) => s.parse().unwrap_or(0),
            other => other.as_i64().unwrap_or(0),
        }
    };
    let count = |v: &Value| v.as_u64().unwrap_or(0) as usize;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Ok(items
        .iter()
        .map(|s| {
            let start = nanos(&s["minStartTimeUnixNano"]) / 1000;
            let end = nanos(&s["maxEndTimeUnixNano"]) / 1000;
            let mut services: Vec<(String, usize)> = s["services"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| (text(&x["name"]), count(&x["spanCount"])))
                        .collect()
                })
                .unwrap_or_default();
            services.sort();
            TraceSummary {
                trace_id: super::id_to_hex(&text(&s["traceId"]), 16),
                root_service: text(&s["rootServiceName"]),
                root_operation: text(&s["rootOperationName"]),
                start_us: start,
                duration_us: (end - start).max(0),
                span_count: count(&s["spanCount"]),
                error_count: count(&s["errorSpanCount"]),
                services,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::traces::{Span, Tag};

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_query_round_trips_through_the_url() {
        let q = TraceQuery {
            service: "productpage.demo".into(),
            operation: Some("productpage.demo.svc.cluster.local:9080/*".into()),
            tags: vec![
                ("http.status_code".into(), "200".into()),
                ("user_agent".into(), "Mozilla/5.0 (X11; Linux)".into()),
                ("quote".into(), "a\"b\\c".into()),
                ("empty".into(), String::new()),
                ("guid:x-request-id".into(), "a=b".into()),
            ],
            min_duration_ms: Some(10),
            max_duration_ms: Some(2000),
            lookback_minutes: 360,
            start_us: Some(1_000),
            end_us: Some(2_000),
            limit: 100,
        };
        assert_eq!(TraceQuery::from_params(&q.to_params()).unwrap(), q);
        let minimal = TraceQuery {
            service: "s.ns".into(),
            ..TraceQuery::default()
        };
        assert_eq!(minimal.to_params(), params(&[("service", "s.ns")]));
        assert_eq!(
            TraceQuery::from_params(&minimal.to_params()).unwrap(),
            minimal
        );
    }

    #[test]
    fn form_values_are_read_leniently_and_defaults_apply() {
        let q = TraceQuery::from_params(&params(&[
            ("project", "demo"),
            ("service", " reviews.demo "),
            ("operation", ""),
            ("min_duration_ms", ""),
            ("tags", "error=true;http.method=GET\nnode_id=x"),
        ]))
        .unwrap();
        assert_eq!(q.service, "reviews.demo");
        assert_eq!(q.operation, None);
        assert_eq!(q.min_duration_ms, None);
        assert_eq!(q.limit, DEFAULT_LIMIT);
        assert_eq!(q.lookback_minutes, DEFAULT_LOOKBACK_MINUTES);
        assert_eq!(q.tags.len(), 3);
        assert_eq!(q.tags[2], ("node_id".into(), "x".into()));
    }

    #[test]
    fn bad_queries_say_what_to_fix() {
        let err = |pairs: &[(&str, &str)]| TraceQuery::from_params(&params(pairs)).unwrap_err();
        assert!(err(&[]).contains("Choose a service"));
        assert!(err(&[("service", "s"), ("limit", "0")]).contains("1 to 1500"));
        assert!(err(&[("service", "s"), ("limit", "5000")]).contains("1 to 1500"));
        assert!(err(&[("service", "s"), ("limit", "many")]).contains("not a number"));
        assert!(err(&[("service", "s"), ("min_duration_ms", "1.5s")]).contains("milliseconds"));
        assert!(
            err(&[
                ("service", "s"),
                ("min_duration_ms", "50"),
                ("max_duration_ms", "10")
            ])
            .contains("swap")
        );
        assert!(err(&[("service", "s"), ("start_us", "9"), ("end_us", "1")]).contains("swap"));
        assert!(err(&[("service", "s"), ("lookback", "0")]).contains("out of range"));
        assert!(err(&[("service", "s"), ("tags", "error")]).contains("key=value"));
    }

    #[test]
    fn tag_text_parsing() {
        assert_eq!(TraceQuery::parse_tags("  ").unwrap(), vec![]);
        assert_eq!(
            TraceQuery::parse_tags(r#"a=1 b="two words" c="x\"y""#).unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "two words".into()),
                ("c".into(), "x\"y".into())
            ]
        );
        assert!(
            TraceQuery::parse_tags("=v")
                .unwrap_err()
                .contains("empty key")
        );
        assert!(
            TraceQuery::parse_tags(r#"a="open"#)
                .unwrap_err()
                .contains("not closed")
        );
        assert!(TraceQuery::parse_tags(r#"a="x"y"#).is_err());
    }

    fn span(id: &str, parent: Option<&str>, service: &str, start: i64, dur: i64) -> Span {
        Span {
            span_id: id.into(),
            parent_id: parent.map(str::to_string),
            follows_from: vec![],
            operation: format!("op-{id}"),
            service: service.into(),
            start_us: start,
            duration_us: dur,
            tags: vec![Tag {
                key: "http.status_code".into(),
                value: "200".into(),
            }],
            process_tags: vec![Tag {
                key: "hostname".into(),
                value: format!("{service}-pod"),
            }],
            logs: vec![],
            error: false,
        }
    }

    #[test]
    fn summary_of_a_trace() {
        let mut b = span("b", Some("a"), "reviews.demo", 120, 50);
        b.error = true;
        let trace = Trace {
            trace_id: "t1".into(),
            spans: vec![
                b,
                span("a", None, "productpage.demo", 100, 100),
                span("c", Some("b"), "ratings.demo", 130, 80),
            ],
        };
        let s = TraceSummary::of(&trace);
        assert_eq!(s.root_service, "productpage.demo");
        assert_eq!(s.root_operation, "op-a");
        assert_eq!((s.start_us, s.duration_us), (100, 110));
        assert_eq!((s.span_count, s.error_count), (3, 1));
        assert_eq!(
            s.services,
            vec![
                ("productpage.demo".to_string(), 1),
                ("ratings.demo".to_string(), 1),
                ("reviews.demo".to_string(), 1)
            ]
        );
        // Tags match on one span, span or process tags.
        let q = |tags: &[(&str, &str)]| TraceQuery {
            service: "x".into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..TraceQuery::default()
        };
        assert!(
            q(&[
                ("http.status_code", "200"),
                ("hostname", "ratings.demo-pod")
            ])
            .tags_match(&trace)
        );
        assert!(!q(&[("http.status_code", "500")]).tags_match(&trace));
    }

    #[test]
    fn orphans_count_as_roots_and_summaries_sort_newest_first() {
        let trace = Trace {
            trace_id: "t".into(),
            spans: vec![span("x", Some("missing"), "late.demo", 50, 10)],
        };
        assert_eq!(TraceSummary::of(&trace).root_service, "late.demo");
        let mut all = vec![
            TraceSummary::of(&trace),
            TraceSummary {
                start_us: 99,
                ..TraceSummary::of(&trace)
            },
        ];
        newest_first(&mut all);
        assert_eq!(all[0].start_us, 99);
    }

    #[test]
    fn jaeger_api_v3_trace_summaries() {
        let body: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/tests/fixtures/jaeger/apiv3-snapshot-FindTraceSummaries.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        let s = parse_v3_trace_summaries(&body).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].trace_id, "00000000000000000000000000000001");
        assert_eq!(s[0].root_service, "frontend");
        assert_eq!(s[0].root_operation, "HTTP GET /");
        assert_eq!(
            (s[0].start_us, s[0].duration_us),
            (1_000_000_000, 1_000_000)
        );
        assert_eq!((s[0].span_count, s[0].error_count), (2, 1));
        assert_eq!(s[0].services, vec![("frontend".to_string(), 2)]);
    }
}
