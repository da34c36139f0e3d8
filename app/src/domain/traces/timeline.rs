//! Pure helpers for the virtualized span timeline: which spans are on the critical path,
//! which rows are left after collapsing and filtering, and which rows to draw for a
//! scroll position. All are linear (or n log n) so a 50,000-span trace stays interactive.

use std::collections::HashSet;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::view::TraceView;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanFilter {
    pub service: Option<String>,
    pub operation: Option<String>,
    /// A span tag with exactly this key and value.
    pub tag: Option<(String, String)>,
    pub min_duration_us: Option<i64>,
}

impl SpanFilter {
    pub fn is_empty(&self) -> bool {
        self.service.is_none()
            && self.operation.is_none()
            && self.tag.is_none()
            && self.min_duration_us.is_none()
    }
}

/// Per span (row): whether it is on the critical path, the chain of work that decided
/// when the trace finished.
///
/// Jaeger UI's algorithm: children are first clipped to their parent's time (a child
/// starting after its parent ended is ignored). From the root, take the child that
/// finished last; descend into it; when a span has no child finishing before the point
/// where the path entered it, go back up to its parent, continuing from this span's start
/// and taking the parent's last child that finished before it. The walk ends back at the
/// root. Only the first root (the earliest) is walked, as Jaeger does.
pub fn critical_path(view: &TraceView) -> Vec<bool> {
    let n = view.spans.len();
    let mut on = vec![false; n];
    if n == 0 {
        return on;
    }
    // Clipped [start, end] per row; rows come parent before child, so a parent is clipped
    // before its children read it.
    let mut start = vec![0i64; n];
    let mut end = vec![0i64; n];
    let mut dropped = vec![false; n];
    for (i, r) in view.spans.iter().enumerate() {
        let (mut s, mut e) = (r.offset_us, r.offset_us + r.duration_us.max(0));
        if let Some(p) = r.parent.map(|p| p as usize).filter(|&p| p < i) {
            if dropped[p] || s > end[p] {
                dropped[i] = true;
            }
            s = s.max(start[p]);
            e = e.min(end[p]);
        }
        start[i] = s;
        end[i] = e.max(s);
    }
    // Children per row, latest-finishing first; a cursor per row walks that list, which
    // works because the point the path re-enters a span from only moves earlier.
    let mut kids: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, r) in view.spans.iter().enumerate() {
        if let Some(p) = r.parent.map(|p| p as usize).filter(|&p| p < i)
            && !dropped[i]
        {
            kids[p].push(i as u32);
        }
    }
    for k in &mut kids {
        k.sort_unstable_by(|a, b| end[*b as usize].cmp(&end[*a as usize]).then(a.cmp(b)));
    }
    let mut cursor = vec![0usize; n];
    let mut current = 0usize;
    let mut spawn: Option<i64> = None;
    // Each step either descends (consuming one child entry) or ascends, so the walk is
    // bounded by twice the span count; the guard only protects against broken data.
    for _ in 0..(2 * n + 2) {
        on[current] = true;
        let list = &kids[current];
        let c = &mut cursor[current];
        if let Some(limit) = spawn {
            while *c < list.len() && end[list[*c] as usize] >= limit {
                *c += 1;
            }
        }
        if *c < list.len() {
            let child = list[*c] as usize;
            *c += 1;
            current = child;
            spawn = None;
        } else {
            match view.spans[current].parent.map(|p| p as usize) {
                Some(p) if p < current && !dropped[current] => {
                    spawn = Some(start[current]);
                    current = p;
                }
                _ => break,
            }
        }
    }
    on
}

/// The rows left to draw, in tree order.
///
/// Collapsing a span hides all its descendants (whether or not they match the filter);
/// the collapsed span itself stays. Filtering shows only the spans that match every set
/// criterion: ancestors of a match are NOT added, each row keeps its own depth, so the
/// indentation still tells where a span sits in the tree. An empty filter matches all.
pub fn visible_rows(view: &TraceView, collapsed: &HashSet<u32>, filter: &SpanFilter) -> Vec<u32> {
    let n = view.spans.len();
    // Subtree sizes: children come after their parent, so one backward pass suffices.
    let mut size = vec![1usize; n];
    if !collapsed.is_empty() {
        for i in (0..n).rev() {
            if let Some(p) = view.spans[i].parent.map(|p| p as usize).filter(|&p| p < i) {
                size[p] += size[i];
            }
        }
    }
    let find = |s: &Option<String>| -> Option<Option<u32>> {
        s.as_ref()
            .map(|s| view.strings.iter().position(|x| x == s).map(|i| i as u32))
    };
    // A filter on a string the trace does not contain matches nothing.
    let service = find(&filter.service);
    let operation = find(&filter.operation);
    let tag = filter.tag.as_ref().map(|(k, v)| {
        let k = view.strings.iter().position(|x| x == k);
        let v = view.strings.iter().position(|x| x == v);
        k.zip(v).map(|(k, v)| (k as u32, v as u32))
    });
    let matches = |i: usize| {
        let r = &view.spans[i];
        service.is_none_or(|s| s == Some(r.service))
            && operation.is_none_or(|o| o == Some(r.operation))
            && tag.is_none_or(|t| t.is_some_and(|t| r.tags.contains(&t)))
            && filter.min_duration_us.is_none_or(|m| r.duration_us >= m)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if matches(i) {
            out.push(i as u32);
        }
        i += if collapsed.contains(&(i as u32)) {
            size[i]
        } else {
            1
        };
    }
    out
}

/// The rows to render for a scroll position: those intersecting the viewport plus
/// `overscan` rows on each side, clamped to `0..total_rows`. Nonsensical geometry
/// (a row height that is not a positive number) yields an empty range.
pub fn window(
    scroll_top: f64,
    viewport_height: f64,
    row_height: f64,
    total_rows: usize,
    overscan: usize,
) -> Range<usize> {
    if !(row_height.is_finite() && row_height > 0.0) || total_rows == 0 {
        return 0..0;
    }
    let top = if scroll_top.is_finite() {
        scroll_top.max(0.0)
    } else {
        0.0
    };
    let height = if viewport_height.is_finite() {
        viewport_height.max(0.0)
    } else {
        0.0
    };
    let first = ((top / row_height).floor() as usize).min(total_rows);
    let last = (((top + height) / row_height).ceil() as usize).min(total_rows);
    let start = first.saturating_sub(overscan).min(total_rows);
    let end = last.saturating_add(overscan).min(total_rows).max(start);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::traces::{Span, Tag, Trace};

    fn span(id: &str, parent: Option<&str>, start: i64, dur: i64) -> Span {
        Span {
            span_id: id.into(),
            parent_id: parent.map(str::to_string),
            follows_from: vec![],
            operation: format!("op-{id}"),
            service: if id.len() == 2 && id.starts_with('r') {
                "reviews"
            } else {
                "front"
            }
            .into(),
            start_us: start,
            duration_us: dur,
            tags: vec![Tag {
                key: "id".into(),
                value: id.into(),
            }],
            process_tags: vec![],
            logs: vec![],
            error: false,
        }
    }

    fn view(spans: Vec<Span>) -> TraceView {
        TraceView::of(&Trace {
            trace_id: "t".into(),
            spans,
        })
    }

    fn ids(v: &TraceView, rows: &[u32]) -> Vec<String> {
        rows.iter()
            .map(|r| v.spans[*r as usize].span_id.clone())
            .collect()
    }

    fn on_path(v: &TraceView) -> Vec<String> {
        let cp = critical_path(v);
        v.spans
            .iter()
            .zip(cp)
            .filter(|(_, on)| *on)
            .map(|(r, _)| r.span_id.clone())
            .collect()
    }

    #[test]
    fn critical_path_follows_the_last_finishing_children() {
        // root 0..100
        //   a 10..40          (finishes before b starts: on the path)
        //     a1 12..20       (finishes before a2 starts: on the path)
        //     a2 22..38
        //   b 45..90          (finishes last: on the path)
        //     b1 50..60       (overlaps b2: off the path)
        //     b2 55..88
        //   c 20..30          (ends after a? no: a ends at 40; c overlaps a: off)
        let v = view(vec![
            span("root", None, 0, 100),
            span("a", Some("root"), 10, 30),
            span("a1", Some("a"), 12, 8),
            span("a2", Some("a"), 22, 16),
            span("b", Some("root"), 45, 45),
            span("b1", Some("b"), 50, 10),
            span("b2", Some("b"), 55, 33),
            span("c", Some("root"), 20, 10),
        ]);
        let mut got = on_path(&v);
        got.sort();
        assert_eq!(got, ["a", "a1", "a2", "b", "b2", "root"]);
    }

    #[test]
    fn critical_path_clips_children_to_their_parent() {
        // x overflows the root's end; clipped to 100 it still finishes last. y starts
        // after the root ended and is ignored.
        let v = view(vec![
            span("root", None, 0, 100),
            span("x", Some("root"), 50, 500),
            span("w", Some("root"), 10, 80),
            span("y", Some("root"), 150, 5),
        ]);
        let mut got = on_path(&v);
        got.sort();
        assert_eq!(got, ["root", "x"]);
        assert!(critical_path(&view(vec![])).is_empty());
    }

    fn tree() -> TraceView {
        view(vec![
            span("root", None, 0, 100),
            span("a", Some("root"), 10, 30),
            span("r1", Some("a"), 12, 8),
            span("r2", Some("a"), 22, 16),
            span("b", Some("root"), 45, 45),
            span("r3", Some("b"), 50, 10),
        ])
    }

    #[test]
    fn collapsing_hides_descendants_and_keeps_the_span() {
        let v = tree();
        let all = visible_rows(&v, &HashSet::new(), &SpanFilter::default());
        assert_eq!(ids(&v, &all), ["root", "a", "r1", "r2", "b", "r3"]);
        let a = v.row_of("a").unwrap();
        let rows = visible_rows(&v, &HashSet::from([a]), &SpanFilter::default());
        assert_eq!(ids(&v, &rows), ["root", "a", "b", "r3"]);
        let rows = visible_rows(&v, &HashSet::from([0]), &SpanFilter::default());
        assert_eq!(ids(&v, &rows), ["root"]);
    }

    #[test]
    fn filters_show_matches_only_keeping_depth() {
        let v = tree();
        let f = SpanFilter {
            service: Some("reviews".into()),
            ..SpanFilter::default()
        };
        let rows = visible_rows(&v, &HashSet::new(), &f);
        assert_eq!(ids(&v, &rows), ["r1", "r2", "r3"]);
        assert_eq!(v.spans[rows[0] as usize].depth, 2);
        // Collapsed and filtered: r1, r2 are under the collapsed a.
        let a = v.row_of("a").unwrap();
        let rows = visible_rows(&v, &HashSet::from([a]), &f);
        assert_eq!(ids(&v, &rows), ["r3"]);
        let f = SpanFilter {
            min_duration_us: Some(16),
            tag: Some(("id".into(), "r2".into())),
            ..SpanFilter::default()
        };
        assert_eq!(ids(&v, &visible_rows(&v, &HashSet::new(), &f)), ["r2"]);
        let f = SpanFilter {
            operation: Some("no such operation".into()),
            ..SpanFilter::default()
        };
        assert!(visible_rows(&v, &HashSet::new(), &f).is_empty());
        assert!(SpanFilter::default().is_empty() && !f.is_empty());
    }

    #[test]
    fn window_maths() {
        // 20 px rows, 100 px viewport at the top: rows 0..5, plus 2 overscan below.
        assert_eq!(window(0.0, 100.0, 20.0, 1000, 2), 0..7);
        // Scrolled to 210 px: rows 10..16 intersect (10.5 .. 15.5), overscan 3.
        assert_eq!(window(210.0, 100.0, 20.0, 1000, 3), 7..19);
        // Clamped at the end.
        assert_eq!(window(19_950.0, 100.0, 20.0, 1000, 5), 992..1000);
        // Scrolled past the end (a filter shrank the list).
        assert_eq!(window(1e9, 100.0, 20.0, 10, 2), 8..10);
        assert_eq!(window(0.0, 100.0, 20.0, 0, 2), 0..0);
        assert_eq!(window(0.0, 100.0, 0.0, 10, 2), 0..0);
        assert_eq!(window(f64::NAN, 100.0, 20.0, 10, 0), 0..5);
        assert_eq!(window(-50.0, 40.0, 20.0, 10, 0), 0..2);
    }
}
