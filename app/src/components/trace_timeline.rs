//! The span timeline of one trace: a collapsible tree (service colour, operation, a
//! duration bar on the trace's shared time axis), the critical path marked, and a filter
//! that hides spans that do not match. Only the rows in view are in the DOM, so a
//! 50,000-span trace opens and scrolls like a short one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use super::use_query_pairs;
use crate::charts::css_color;
use crate::domain::links::with_param;
use crate::domain::timefmt::format_duration_us;
use crate::domain::traces::TraceView;
use crate::domain::traces::timeline::{SpanFilter, critical_path, visible_rows, window};

/// Row height in pixels; CSS `.span-row` uses the same.
const ROW_HEIGHT: f64 = 26.0;
/// Rows drawn above and below the viewport, so fast scrolling shows no gaps.
const OVERSCAN: usize = 12;
/// The viewport height assumed before the browser has measured it (server rendering).
const INITIAL_VIEWPORT: f64 = 560.0;

/// URL parameters of the span filter.
pub mod filter_param {
    pub const SERVICE: &str = "fservice";
    pub const OPERATION: &str = "fop";
    pub const TAG: &str = "ftag";
    pub const MIN_DURATION: &str = "fmin";
}

/// Reads the span filter from the URL; a wrong value is an error that says how to fix it.
pub fn filter_from_params(pairs: &[(String, String)]) -> Result<SpanFilter, String> {
    let get = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
    };
    let tag = match get(filter_param::TAG) {
        None => None,
        Some(t) => match t.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Some((k.trim().to_string(), v.trim().to_string()))
            }
            _ => {
                return Err(format!(
                    "Tag filter {t:?} is not key=value: write it like http.status_code=503."
                ));
            }
        },
    };
    let min_duration_us = match get(filter_param::MIN_DURATION) {
        None => None,
        Some(v) => match v.parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms >= 0.0 => Some((ms * 1000.0).round() as i64),
            _ => {
                return Err(format!(
                    "Min duration {v:?} is not a number of milliseconds: write e.g. 2.5."
                ));
            }
        },
    };
    Ok(SpanFilter {
        service: get(filter_param::SERVICE),
        operation: get(filter_param::OPERATION),
        tag,
        min_duration_us,
    })
}

/// Where a bar's duration label goes: after the bar, or before it when the bar reaches the
/// right edge (inside it when it spans nearly everything).
fn label_style(left: f64, width: f64) -> String {
    if left + width <= 88.0 {
        format!("left:{:.4}%", left + width)
    } else if left >= 12.0 {
        format!("right:{:.4}%;padding-right:4px", 100.0 - left)
    } else {
        "right:0;padding-right:6px;color:#fff".to_string()
    }
}

#[component]
pub fn TraceTimeline(
    view: Arc<TraceView>,
    filter: Memo<Result<SpanFilter, String>>,
    selected: Memo<Option<String>>,
) -> impl IntoView {
    let total = view.spans.len();
    let collapsed = RwSignal::new(HashSet::<u32>::new());
    let critical = Arc::new(critical_path(&view));
    let colours: Arc<HashMap<u32, String>> = Arc::new({
        let mut order: Vec<u32> = view.spans.iter().map(|s| s.service).collect();
        order.sort_unstable_by(|a, b| view.str(*a).cmp(view.str(*b)));
        order.dedup();
        order
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s, css_color(i)))
            .collect()
    });
    let rows = {
        let view = view.clone();
        Memo::new(move |_| {
            let f = filter.get().unwrap_or_default();
            collapsed.with(|c| visible_rows(&view, c, &f))
        })
    };
    let scroll_top = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(INITIAL_VIEWPORT);
    let range = Memo::new(move |_| {
        window(
            scroll_top.get(),
            viewport.get(),
            ROW_HEIGHT,
            rows.with(Vec::len),
            OVERSCAN,
        )
    });
    let selected_row = {
        let view = view.clone();
        Memo::new(move |_| selected.get().and_then(|s| view.row_of(&s)))
    };
    let shown = move || {
        let r = range.get();
        rows.with(|rows| {
            rows[r.clone()]
                .iter()
                .enumerate()
                .map(|(i, &idx)| (r.start + i, idx))
                .collect::<Vec<_>>()
        })
    };
    let pairs = use_query_pairs();
    let location = use_location();
    let on_scroll = move |ev: leptos::ev::Event| {
        let el = event_target::<leptos::web_sys::Element>(&ev);
        scroll_top.set(f64::from(el.scroll_top()));
        viewport.set(f64::from(el.client_height()));
    };
    let expandable: Arc<Vec<u32>> = Arc::new(
        view.spans
            .iter()
            .enumerate()
            .filter(|(_, s)| s.children > 0)
            .map(|(i, _)| i as u32)
            .collect(),
    );
    let duration = view.duration_us.max(1);
    let ticks = (0..=4)
        .map(|q| {
            let left = f64::from(q) * 25.0;
            view! {
                <span class="tick" style=format!("left:{left}%")>
                    {format_duration_us(duration * i64::from(q) / 4)}
                </span>
            }
        })
        .collect_view();
    let row_view = {
        let view = view.clone();
        move |(pos, idx): (usize, u32)| {
            let r = &view.spans[idx as usize];
            let service = view.str(r.service).to_string();
            let operation = view.str(r.operation).to_string();
            let colour = colours.get(&r.service).cloned().unwrap_or_default();
            let left = r.offset_us as f64 / duration as f64 * 100.0;
            let width = (r.duration_us as f64 / duration as f64 * 100.0).max(0.15);
            let on_path = critical.get(idx as usize).copied().unwrap_or(false);
            let has_children = r.children > 0;
            let span_id = r.span_id.clone();
            let href = {
                let span_id = span_id.clone();
                move || {
                    with_param(
                        &location.pathname.get(),
                        &pairs.get(),
                        crate::pages::trace_detail::SPAN_PARAM,
                        Some(&span_id),
                    )
                }
            };
            let indent = f64::from(r.depth) * 14.0;
            let bar_title = format!(
                "{service}: {operation} · {} at +{}",
                format_duration_us(r.duration_us),
                format_duration_us(r.offset_us)
            );
            view! {
                <div
                    class="span-row"
                    class:critical=on_path
                    class:error=r.error
                    class:selected=move || selected_row.get() == Some(idx)
                    style=format!("top:{}px", pos as f64 * ROW_HEIGHT)
                    data-span=span_id
                    data-depth=r.depth
                    role="row"
                >
                    <div class="span-name" style=format!("padding-left:{indent}px") role="cell">
                        {if has_children {
                            view! {
                                <button
                                    type="button"
                                    class="toggle"
                                    aria-label=format!("Collapse or expand {operation}")
                                    aria-expanded=move || (!collapsed.with(|c| c.contains(&idx))).to_string()
                                    on:click=move |_| {
                                        collapsed
                                            .update(|c| {
                                                if !c.remove(&idx) {
                                                    c.insert(idx);
                                                }
                                            })
                                    }
                                >
                                    {move || if collapsed.with(|c| c.contains(&idx)) { "▸" } else { "▾" }}
                                </button>
                            }
                                .into_any()
                        } else {
                            view! { <span class="toggle-space"></span> }.into_any()
                        }}
                        <span class="service-chip" style=format!("background:{colour}")></span>
                        <A href=href attr:class="span-link">
                            <span class="span-service">{service}</span>
                            " "
                            <span class="span-op">{operation.clone()}</span>
                        </A>
                    </div>
                    <div class="span-lane" role="cell">
                        <div
                            class="span-bar"
                            style=format!("left:{left:.4}%;width:{width:.4}%;background:{colour}")
                            title=bar_title
                        ></div>
                        <span class="span-duration" style=label_style(left, width)>
                            {format_duration_us(r.duration_us)}
                        </span>
                    </div>
                </div>
            }
        }
    };
    view! {
        <section class="panel timeline" aria-label="Span timeline">
            <div class="timeline-tools">
                <span class="muted small" data-visible=move || rows.with(Vec::len)>
                    {move || {
                        let shown = rows.with(Vec::len);
                        if shown == total {
                            format!("{total} spans")
                        } else {
                            format!("Showing {shown} of {total} spans")
                        }
                    }}
                </span>
                <span class="legend small"><span class="critical-swatch"></span>" critical path"</span>
                <button
                    type="button"
                    class="button secondary"
                    on:click=move |_| collapsed.set(expandable.iter().copied().collect())
                >
                    "Collapse all"
                </button>
                <button type="button" class="button secondary" on:click=move |_| collapsed.set(HashSet::new())>
                    "Expand all"
                </button>
            </div>
            {move || filter.get().err().map(|e| view! { <p class="panel-error" role="alert">{e}</p> })}
            <div class="timeline-header">
                <div class="span-name">"Service: operation"</div>
                <div class="span-lane ticks">{ticks}</div>
            </div>
            <div class="timeline-body" on:scroll=on_scroll role="table" aria-rowcount=move || rows.with(Vec::len)>
                <div class="timeline-spacer" style=move || format!("height:{}px", rows.with(Vec::len) as f64 * ROW_HEIGHT)>
                    <For each=shown key=|row| *row children=row_view.clone() />
                </div>
                {move || {
                    (rows.with(Vec::is_empty))
                        .then(|| view! { <p class="muted empty-filter">"No span matches the filter. Clear a field and Filter again."</p> })
                }}
            </div>
        </section>
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
    fn the_filter_comes_from_the_url() {
        let f = filter_from_params(&p(&[
            ("project", "demo"),
            ("fservice", "reviews.demo"),
            ("fop", ""),
            ("ftag", " http.status_code = 503 "),
            ("fmin", "2.5"),
        ]))
        .unwrap();
        assert_eq!(f.service.as_deref(), Some("reviews.demo"));
        assert_eq!(f.operation, None, "an empty field is no criterion");
        assert_eq!(f.tag, Some(("http.status_code".into(), "503".into())));
        assert_eq!(f.min_duration_us, Some(2500));
        assert!(filter_from_params(&p(&[])).unwrap().is_empty());
    }

    #[test]
    fn a_wrong_filter_says_how_to_write_it() {
        let e = filter_from_params(&p(&[("ftag", "error")])).unwrap_err();
        assert!(e.contains("key=value"), "{e}");
        let e = filter_from_params(&p(&[("fmin", "fast")])).unwrap_err();
        assert!(e.contains("milliseconds"), "{e}");
        assert!(filter_from_params(&p(&[("fmin", "-1")])).is_err());
    }
}
