//! Found traces: a scatter plot of duration over time (plotters SVG, each dot a link to its
//! trace, errors in red) and the result list (root operation, services with span counts,
//! duration, errors, start). Every value from a trace is rendered as text.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::charts::{Dot, position, scatter_chart};
use crate::domain::links::{encode_query_value, href_with_project};
use crate::domain::timefmt::{format_clock_us, format_duration_us, format_utc_us};
use crate::domain::traces::TraceSummary;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 160;

/// The console link of one trace.
pub fn trace_href(trace_id: &str, project: Option<&str>) -> String {
    href_with_project(
        &format!("/tracing/traces/{}", encode_query_value(trace_id)),
        project,
    )
}

#[component]
pub fn TraceResults(traces: Vec<TraceSummary>, project: Option<String>) -> impl IntoView {
    if traces.is_empty() {
        return view! {
            <p class="muted no-traces">
                "No traces match this search. Widen the lookback, remove tags or duration bounds, or check that the service gets requests and trace sampling is on (Applications page)."
            </p>
        }
            .into_any();
    }
    let count = traces.len();
    view! {
        <TraceScatter traces=traces.clone() project=project.clone() />
        <p class="muted small">{format!("{count} trace{}", if count == 1 { "" } else { "s" })}</p>
        <table class="workloads traces">
            <thead>
                <tr>
                    <th>"Root operation"</th>
                    <th>"Services (spans)"</th>
                    <th>"Duration"</th>
                    <th>"Errors"</th>
                    <th>"Started"</th>
                </tr>
            </thead>
            <tbody>
                {traces
                    .into_iter()
                    .map(|t| {
                        let href = trace_href(&t.trace_id, project.as_deref());
                        let id = t.trace_id.clone();
                        let errors = t.error_count;
                        view! {
                            <tr data-trace=id class:error={ errors > 0 }>
                                <td>
                                    <A href=href>
                                        <strong>{t.root_service.clone()}</strong>
                                        ": "
                                        {t.root_operation.clone()}
                                    </A>
                                    <div class="muted small mono">{t.trace_id.clone()}</div>
                                </td>
                                <td>
                                    {t
                                        .services
                                        .iter()
                                        .map(|(s, n)| view! { <span class="chip">{s.clone()} " (" {*n} ")"</span> })
                                        .collect_view()}
                                </td>
                                <td>{format_duration_us(t.duration_us)}</td>
                                <td>
                                    {if errors > 0 {
                                        view! { <span class="error-count">{errors}</span> }.into_any()
                                    } else {
                                        view! { <span class="muted">"0"</span> }.into_any()
                                    }}
                                </td>
                                <td title=format_utc_us(t.start_us)>{format_utc_us(t.start_us)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
        .into_any()
}

/// Duration (y, ms) over start time (x); each dot links to its trace.
#[component]
fn TraceScatter(traces: Vec<TraceSummary>, project: Option<String>) -> impl IntoView {
    let x0 = traces.iter().map(|t| t.start_us).min().unwrap_or(0);
    let x1 = traces.iter().map(|t| t.start_us).max().unwrap_or(0);
    // A little room on both sides so the first and last dots are not cut in half.
    let pad = ((x1 - x0) / 20).max(500_000);
    let (x0, x1) = (x0 - pad, x1 + pad);
    let ms = |us: i64| us as f64 / 1000.0;
    let top = traces
        .iter()
        .map(|t| ms(t.duration_us))
        .fold(0.0f64, f64::max)
        * 1.1;
    let top = top.max(1.0);
    let dots: Vec<Dot> = traces
        .iter()
        .map(|t| Dot {
            x: t.start_us as f64,
            y: ms(t.duration_us),
            error: t.error_count > 0,
        })
        .collect();
    let svg = scatter_chart(&dots, x0 as f64, x1 as f64, top, WIDTH, HEIGHT);
    view! {
        <figure class="scatter" aria-label="Trace duration over time">
            <div class="scatter-axis-y muted small">
                <span>{format!("{top:.0} ms")}</span>
                <span>"0"</span>
            </div>
            <div class="scatter-plot">
                <div class="chart" inner_html=svg></div>
                {traces
                    .iter()
                    .map(|t| {
                        let (left, top_pct) = position(
                            t.start_us as f64,
                            ms(t.duration_us),
                            x0 as f64,
                            x1 as f64,
                            top,
                            WIDTH,
                            HEIGHT,
                        );
                        let title = format!(
                            "{}: {} · {} · {} span{}{}",
                            t.root_service,
                            t.root_operation,
                            format_duration_us(t.duration_us),
                            t.span_count,
                            if t.span_count == 1 { "" } else { "s" },
                            if t.error_count > 0 { format!(" · {} errors", t.error_count) } else { String::new() },
                        );
                        view! {
                            <A
                                href=trace_href(&t.trace_id, project.as_deref())
                                attr:class={ if t.error_count > 0 { "dot error" } else { "dot" } }
                                attr:style=format!("left:{left:.3}%;top:{top_pct:.3}%")
                                attr:title=title.clone()
                                attr:aria-label=title
                                attr:data-trace=t.trace_id.clone()
                            >
                                ""
                            </A>
                        }
                    })
                    .collect_view()}
            </div>
            <figcaption class="scatter-axis-x muted small">
                <span>{format_clock_us(x0)}</span>
                <span>"duration over time (UTC); red: traces with errors"</span>
                <span>{format_clock_us(x1)}</span>
            </figcaption>
        </figure>
    }
}
