//! A compact trace for the browser. A 50,000-span trace must transfer and parse fast, so
//! every service name, operation and tag is sent once (interned) and rows refer to it by
//! index; logs and process tags stay on the server until a span is opened
//! ([`SpanDetail`]). Rows come in tree order with depth and parent index precomputed, so
//! the timeline only slices and draws.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{NodeId, Span, Trace};
use crate::domain::links::href_with_project;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceView {
    pub trace_id: String,
    pub start_us: i64,
    pub duration_us: i64,
    /// Interned: service names, operations, tag keys and values.
    pub strings: Vec<String>,
    /// Depth-first, children by start time.
    pub spans: Vec<SpanRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanRow {
    pub span_id: String,
    /// Index into `spans`; always lower than this row's own index.
    pub parent: Option<u32>,
    pub depth: u16,
    /// Index into `strings`.
    pub service: u32,
    pub operation: u32,
    /// Start minus the trace's start.
    pub offset_us: i64,
    pub duration_us: i64,
    pub error: bool,
    /// Direct children.
    pub children: u32,
    /// (key, value) indices into `strings`.
    pub tags: Vec<(u32, u32)>,
}

#[derive(Default)]
struct Interner<'a> {
    index: HashMap<&'a str, u32>,
    strings: Vec<String>,
}

impl<'a> Interner<'a> {
    fn get(&mut self, s: &'a str) -> u32 {
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.index.insert(s, i);
        i
    }
}

/// The spans of `trace` in tree order: `(span index, parent row, depth)`.
///
/// A span's parent is its CHILD_OF reference when that span is in the trace (the first
/// span with that ID when an exporter sent duplicates); a span whose parent is missing is
/// a root, like Jaeger UI's orphans. Roots and each span's children are ordered by start
/// time (then by arrival). A parent cycle, which only broken data can contain, is cut at
/// its earliest span, which then counts as a root, so every span appears exactly once.
pub(crate) fn tree_order(spans: &[Span]) -> Vec<(usize, Option<u32>, u16)> {
    let n = spans.len();
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, s) in spans.iter().enumerate() {
        by_id.entry(s.span_id.as_str()).or_insert(i);
    }
    let parent_of: Vec<Option<usize>> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parent_id
                .as_deref()
                .and_then(|p| by_id.get(p).copied())
                .filter(|&p| p != i)
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (i, p) in parent_of.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    let key = |i: &usize| (spans[*i].start_us, *i);
    for c in &mut children {
        c.sort_unstable_by_key(key);
    }
    roots.sort_unstable_by_key(key);

    let mut out = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let mut stack: Vec<(usize, Option<u32>, u16)> = Vec::new();
    let mut walk = |start: usize, out: &mut Vec<(usize, Option<u32>, u16)>, seen: &mut [bool]| {
        stack.push((start, None, 0));
        while let Some((i, parent, depth)) = stack.pop() {
            if seen[i] {
                continue;
            }
            seen[i] = true;
            let row = out.len() as u32;
            out.push((i, parent, depth));
            for &c in children[i].iter().rev() {
                if !seen[c] {
                    stack.push((c, Some(row), depth.saturating_add(1)));
                }
            }
        }
    };
    for r in roots {
        walk(r, &mut out, &mut seen);
    }
    // Anything a cycle kept unreachable, earliest first (sorted only when there is some).
    if out.len() < n {
        let mut rest: Vec<usize> = (0..n).filter(|&i| !seen[i]).collect();
        rest.sort_unstable_by_key(key);
        for r in rest {
            if !seen[r] {
                walk(r, &mut out, &mut seen);
            }
        }
    }
    out
}

impl TraceView {
    pub fn of(trace: &Trace) -> Self {
        let start = trace.spans.iter().map(|s| s.start_us).min().unwrap_or(0);
        let end = trace
            .spans
            .iter()
            .map(|s| s.start_us + s.duration_us)
            .max()
            .unwrap_or(start);
        let order = tree_order(&trace.spans);
        let mut strings = Interner::default();
        let mut spans: Vec<SpanRow> = Vec::with_capacity(order.len());
        for (i, parent, depth) in order {
            let s = &trace.spans[i];
            if let Some(p) = parent {
                spans[p as usize].children += 1;
            }
            spans.push(SpanRow {
                span_id: s.span_id.clone(),
                parent,
                depth,
                service: strings.get(&s.service),
                operation: strings.get(&s.operation),
                offset_us: s.start_us - start,
                duration_us: s.duration_us,
                error: s.error,
                children: 0,
                tags: s
                    .tags
                    .iter()
                    .map(|t| (strings.get(&t.key), strings.get(&t.value)))
                    .collect(),
            });
        }
        TraceView {
            trace_id: trace.trace_id.clone(),
            start_us: start,
            duration_us: (end - start).max(0),
            strings: strings.strings,
            spans,
        }
    }

    /// An interned string; empty for an index out of range (a view is data from the wire).
    pub fn str(&self, i: u32) -> &str {
        self.strings.get(i as usize).map_or("", String::as_str)
    }

    /// The row of a span, by its ID.
    pub fn row_of(&self, span_id: &str) -> Option<u32> {
        self.spans
            .iter()
            .position(|r| r.span_id == span_id)
            .map(|i| i as u32)
    }

    /// Distinct services in the trace, sorted (for the filter's choices).
    pub fn services(&self) -> Vec<&str> {
        let mut out: Vec<u32> = self.spans.iter().map(|r| r.service).collect();
        out.sort_unstable();
        out.dedup();
        let mut names: Vec<&str> = out.into_iter().map(|i| self.str(i)).collect();
        names.sort_unstable();
        names
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanDetail {
    /// The full span: tags, process tags, logs.
    pub span: Span,
    /// From Envoy's `node_id`, falling back to the process `hostname`.
    pub pod: Option<NodeId>,
    /// The console page of the application that served the span, when known.
    pub workload_link: Option<String>,
}

/// The namespace a span ran in: the pod's (from `node_id`), Istio's `istio.namespace`
/// tag, or the `<app>.<namespace>` service name Istio gives.
pub fn span_namespace(span: &Span, pod: Option<&NodeId>) -> Option<String> {
    pod.map(|p| p.namespace.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| span.tag("istio.namespace").map(str::to_string))
        .or_else(|| span.service.rsplit_once('.').map(|(_, ns)| ns.to_string()))
        .filter(|n| !n.is_empty())
}

/// The console link for the workload that served a span: the application page when the
/// application is known (`application` = the app the pod's workload belongs to), else the
/// applications list of the namespace.
pub fn workload_link(namespace: Option<&str>, application: Option<&str>) -> Option<String> {
    let ns = namespace.filter(|n| !n.is_empty())?;
    Some(match application.filter(|a| !a.is_empty()) {
        Some(app) => href_with_project(
            &format!(
                "/applications/{}",
                crate::domain::links::encode_query_value(app)
            ),
            Some(ns),
        ),
        None => href_with_project("/applications", Some(ns)),
    })
}

impl SpanDetail {
    /// `application` is the application the pod's workload belongs to, when the caller
    /// could find it in the cluster.
    pub fn of(span: Span, application: Option<&str>) -> Self {
        let pod = span.pod();
        let ns = span_namespace(&span, pod.as_ref());
        SpanDetail {
            workload_link: workload_link(ns.as_deref(), application),
            pod,
            span,
        }
    }
}

/// The application whose workload served `span`: the workload whose name prefixes the
/// pod's (`reviews-v2` for `reviews-v2-5d9f-x2k4p`), else the component whose Service is
/// the span's canonical service (`istio.canonical_service`, or the `<app>` of the
/// `<app>.<namespace>` service name).
pub fn application_of_span(
    apps: &crate::domain::applications::ApplicationsView,
    span: &Span,
    pod: Option<&NodeId>,
) -> Option<String> {
    let apps = &apps.applications;
    if let Some(pod) = pod.filter(|p| !p.pod.is_empty()) {
        let by_workload = apps.iter().find(|a| {
            a.app.workloads().any(|w| {
                pod.pod
                    .strip_prefix(w.name.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
            })
        });
        if let Some(a) = by_workload {
            return Some(a.app.name.clone());
        }
    }
    let canonical = span
        .tag("istio.canonical_service")
        .map(str::to_string)
        .or_else(|| span.service.rsplit_once('.').map(|(a, _)| a.to_string()))?;
    apps.iter()
        .find(|a| a.app.components.iter().any(|c| c.service.name == canonical))
        .map(|a| a.app.name.clone())
}

/// The services of one project (namespace): Istio names them `<app>.<namespace>`.
pub fn services_of_project(services: Vec<String>, project: &str) -> Vec<String> {
    services
        .into_iter()
        .filter(|s| {
            s.rsplit_once('.')
                .is_some_and(|(app, ns)| !app.is_empty() && ns == project)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::traces::Tag;

    pub(crate) fn span(
        id: &str,
        parent: Option<&str>,
        service: &str,
        start: i64,
        dur: i64,
    ) -> Span {
        Span {
            span_id: id.into(),
            parent_id: parent.map(str::to_string),
            follows_from: vec![],
            operation: format!("GET /{service}"),
            service: service.into(),
            start_us: start,
            duration_us: dur,
            tags: vec![Tag {
                key: "http.status_code".into(),
                value: "200".into(),
            }],
            process_tags: vec![],
            logs: vec![],
            error: false,
        }
    }

    #[test]
    fn rows_are_depth_first_with_children_by_start_time_and_interned_strings() {
        // Arrival order is scrambled on purpose.
        let trace = Trace {
            trace_id: "abc".into(),
            spans: vec![
                span("c2", Some("b"), "ratings.demo", 140, 10),
                span("b", Some("a"), "reviews.demo", 110, 80),
                span("a", None, "productpage.demo", 100, 100),
                span("c1", Some("b"), "ratings.demo", 120, 10),
                span("d", Some("a"), "details.demo", 105, 5),
            ],
        };
        let v = TraceView::of(&trace);
        let ids: Vec<&str> = v.spans.iter().map(|r| r.span_id.as_str()).collect();
        assert_eq!(ids, ["a", "d", "b", "c1", "c2"]);
        let depths: Vec<u16> = v.spans.iter().map(|r| r.depth).collect();
        assert_eq!(depths, [0, 1, 1, 2, 2]);
        let parents: Vec<Option<u32>> = v.spans.iter().map(|r| r.parent).collect();
        assert_eq!(parents, [None, Some(0), Some(0), Some(2), Some(2)]);
        let children: Vec<u32> = v.spans.iter().map(|r| r.children).collect();
        assert_eq!(children, [2, 0, 2, 0, 0]);
        assert_eq!((v.start_us, v.duration_us), (100, 100));
        assert_eq!(v.spans[2].offset_us, 10);
        assert_eq!(v.str(v.spans[3].service), "ratings.demo");
        assert_eq!(v.spans[3].service, v.spans[4].service, "interned once");
        // Every row shares the same tag pair: two strings in total for it.
        assert!(v.spans.iter().all(|r| r.tags == v.spans[0].tags));
        assert_eq!(
            v.strings.len(),
            4 + 4 + 2,
            "services + operations + one tag"
        );
        assert_eq!(v.str(999), "");
        assert_eq!(
            v.services(),
            [
                "details.demo",
                "productpage.demo",
                "ratings.demo",
                "reviews.demo"
            ]
        );
        assert_eq!(v.row_of("c1"), Some(3));
    }

    #[test]
    fn orphans_are_roots_and_cycles_and_duplicates_do_not_lose_spans() {
        let trace = Trace {
            trace_id: "t".into(),
            spans: vec![
                span("root", None, "a", 0, 100),
                span("orphan", Some("gone"), "b", 10, 5),
                span("x", Some("y"), "c", 50, 5),
                span("y", Some("x"), "c", 40, 5),
                span("self", Some("self"), "d", 60, 1),
                span("root", None, "a", 0, 100),
            ],
        };
        let v = TraceView::of(&trace);
        assert_eq!(v.spans.len(), 6, "every span exactly once");
        let roots: Vec<&str> = v
            .spans
            .iter()
            .filter(|r| r.parent.is_none())
            .map(|r| r.span_id.as_str())
            .collect();
        assert!(roots.contains(&"orphan"), "{roots:?}");
        assert!(roots.contains(&"self"), "{roots:?}");
        // The cycle is cut at its earliest span, y, whose child is x.
        let y = v.row_of("y").unwrap() as usize;
        assert_eq!(v.spans[y].parent, None);
        let x = v.spans.iter().position(|r| r.span_id == "x").unwrap();
        assert_eq!(v.spans[x].parent, Some(y as u32));
        assert!(
            v.spans
                .iter()
                .enumerate()
                .all(|(i, r)| r.parent.is_none_or(|p| (p as usize) < i))
        );
    }

    #[test]
    fn span_detail_finds_the_pod_and_links_to_its_application() {
        let mut s = span("a", None, "reviews.demo", 0, 1);
        s.tags.push(Tag {
            key: "node_id".into(),
            value: "sidecar~10.0.0.7~reviews-v2-5d9f-x2k4p.demo~demo.svc.cluster.local".into(),
        });
        let d = SpanDetail::of(s.clone(), Some("bookinfo"));
        assert_eq!(d.pod.as_ref().unwrap().pod, "reviews-v2-5d9f-x2k4p");
        assert_eq!(
            d.workload_link.as_deref(),
            Some("/applications/bookinfo?project=demo")
        );
        let d = SpanDetail::of(s, None);
        assert_eq!(
            d.workload_link.as_deref(),
            Some("/applications?project=demo")
        );
        // No pod, no Istio tags, a service without a namespace: no link.
        let bare = span("b", None, "frontend", 0, 1);
        assert_eq!(SpanDetail::of(bare, None).workload_link, None);
    }

    #[test]
    fn project_services_are_those_named_app_dot_namespace() {
        let all = vec![
            "productpage.demo".to_string(),
            "reviews.demo".into(),
            "reviews.other".into(),
            "istio-ingressgateway.istio-system".into(),
            "demo".into(),
        ];
        assert_eq!(
            services_of_project(all, "demo"),
            ["productpage.demo", "reviews.demo"]
        );
    }
}
