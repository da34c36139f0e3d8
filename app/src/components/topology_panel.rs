//! The side panel of a clicked node or edge: what the graph says about it (kind, health,
//! rates, badges) and live charts from Prometheus over the window: traffic in and out,
//! success rate, p50/p95/p99 duration, and the split per version for a service with
//! several. Its own `Transition`/`ErrorBoundary`: a failing query blanks only the charts.

use leptos::prelude::*;

use crate::api::topology::get_topology_item;
use crate::charts::{Line, css_color, line_chart, y_top};
use crate::components::error_panel::error_panel;
use crate::components::topology_graph::elements::{
    badge_marker, badge_text, format_ms, format_rps, format_success, health_label, health_name,
    kind_name,
};
use crate::domain::metrics::Series;
use crate::domain::topology::{Graph, ItemMetrics};
use crate::error::AppError;

const WIDTH: u32 = 320;
const HEIGHT: u32 = 110;

#[component]
pub fn TopologyPanel(
    project: String,
    item: String,
    #[prop(into)] minutes: Signal<u32>,
    tick: RwSignal<u32>,
    /// The page's graph, for the item's figures without another query.
    graph: Resource<Result<Graph, AppError>>,
    /// The link that closes the panel (the page without `?item=`).
    #[prop(into)]
    close_href: Signal<String>,
) -> impl IntoView {
    let metrics = {
        let (project, item) = (project.clone(), item.clone());
        Resource::new(
            move || (project.clone(), item.clone(), minutes.get(), tick.get()),
            |(p, i, m, _)| get_topology_item(p, i, m),
        )
    };
    let id = item.clone();
    let details = move || {
        graph.get().map(|r| match r {
            Ok(g) => item_details(&g, &id).into_any(),
            Err(_) => ().into_any(),
        })
    };
    let fallback_title = item.clone();
    let item_attr = item.clone();
    view! {
        <aside class="panel topology-panel" data-testid="topology-panel" data-item=item_attr aria-label="Details">
            <header class="topology-panel-head">
                <h2>
                    <Transition fallback=move || fallback_title.clone()>
                        {move || {
                            metrics
                                .get()
                                .map(|r| r.map(|m| m.title).unwrap_or_else(|_| item.clone()))
                        }}
                    </Transition>
                </h2>
                <a class="close" href=move || close_href.get() aria-label="Close the details" title="Close">"×"</a>
            </header>
            <Transition fallback=|| ()>{details}</Transition>
            <Transition fallback=|| view! { <p class="loading">"Querying Prometheus…"</p> }>
                <ErrorBoundary fallback=error_panel>
                    {move || metrics.get().map(|r| r.map(|m| view! { <ItemCharts m minutes=minutes.get_untracked() /> }))}
                </ErrorBoundary>
            </Transition>
        </aside>
    }
}

/// The graph's own figures for the item, as a definition list.
fn item_details(g: &Graph, id: &str) -> impl IntoView + use<> {
    if let Some(n) = g.nodes.iter().find(|n| n.id == id) {
        let badges = n
            .badges
            .iter()
            .map(|b| format!("{} {}", badge_marker(b), badge_text(b)))
            .collect::<Vec<_>>();
        let version = n.version.clone();
        return view! {
            <dl class="topology-facts" data-health=health_name(n.health)>
                <dt>"Kind"</dt><dd>{kind_name(n.kind)}</dd>
                <dt>"Namespace"</dt><dd>{n.namespace.clone()}</dd>
                {version.map(|v| view! { <dt>"Version"</dt><dd>{v}</dd> })}
                <dt>"Health"</dt><dd><span class=format!("health {}", health_name(n.health))>{health_label(n.health)}</span></dd>
                <dt>"Requests in / out"</dt><dd>{format!("{} / {}", format_rps(n.rps_in), format_rps(n.rps_out))}</dd>
                <dt>"Success in"</dt><dd>{format_success(n.error_ratio)}</dd>
                {(!badges.is_empty()).then(|| view! { <dt>"Badges"</dt><dd>{badges.join(", ")}</dd> })}
            </dl>
        }
        .into_any();
    }
    if let Some(e) = g.edges.iter().find(|e| e.id == id) {
        return view! {
            <dl class="topology-facts" data-health=health_name(e.health)>
                <dt>"Protocol"</dt><dd>{e.protocol.clone()}</dd>
                <dt>"Health"</dt><dd><span class=format!("health {}", health_name(e.health))>{health_label(e.health)}</span></dd>
                <dt>"Requests"</dt><dd>{format_rps(e.rps)}</dd>
                <dt>"Success"</dt><dd>{format_success(Some(e.error_ratio).filter(|_| e.rps > 0.0))}</dd>
                <dt>"p95"</dt><dd>{format_ms(e.p95_ms)}</dd>
            </dl>
        }
        .into_any();
    }
    view! {
        <p class="muted" data-testid="item-missing">
            "Not in the graph of this window: it may have gone, or had no traffic. The charts below still show what Prometheus has."
        </p>
    }
    .into_any()
}

/// What a series stands for in a legend: its version or quantile, else "total".
pub fn series_name(s: &Series) -> String {
    for key in [
        "quantile",
        "destination_version",
        "version",
        "source_workload",
        "destination_workload",
    ] {
        if let Some(v) = s.labels.get(key).filter(|v| !v.is_empty()) {
            return v.clone();
        }
    }
    "total".into()
}

/// The time span covered by all series, for a shared x axis.
fn span(sets: &[&[Series]]) -> Option<(f64, f64)> {
    let mut it = sets
        .iter()
        .flat_map(|set| set.iter())
        .flat_map(|s| s.points.iter().map(|p| p.0));
    let first = it.next()?;
    Some(it.fold((first, first), |(a, b), x| (a.min(x), b.max(x))))
}

fn latest_text(s: &Series, fmt: &dyn Fn(f64) -> String) -> String {
    s.points
        .iter()
        .rev()
        .map(|p| p.1)
        .find(|v| v.is_finite())
        .map(fmt)
        .unwrap_or_else(|| "–".into())
}

/// One chart with its legend (series name, colour, latest value).
fn chart(
    caption: String,
    testid: &'static str,
    sets: &[(&[Series], &str, bool)],
    x: (f64, f64),
    fixed_top: Option<f64>,
    min_top: f64,
    fmt: &dyn Fn(f64) -> String,
) -> AnyView {
    let mut lines = Vec::new();
    let mut legend = Vec::new();
    let mut color = 0;
    for (set, prefix, dashed) in sets {
        for s in set.iter() {
            lines.push(Line {
                points: &s.points,
                color,
                dashed: *dashed,
            });
            let name = if prefix.is_empty() {
                series_name(s)
            } else {
                format!("{prefix} {}", series_name(s))
            };
            legend.push((color, name, latest_text(s, fmt)));
            color += 1;
        }
    }
    if lines.is_empty() {
        return view! {
            <figure data-testid=testid>
                <figcaption>{caption}</figcaption>
                <p class="muted small">"No data in this window."</p>
            </figure>
        }
        .into_any();
    }
    let top = fixed_top.unwrap_or_else(|| y_top(&lines, min_top));
    let svg = line_chart(&lines, x.0, x.1, top, WIDTH, HEIGHT);
    let legend = legend
        .into_iter()
        .map(|(c, name, value)| {
            let key = name.clone();
            view! {
                <li data-series=key>
                    <strong style=format!("color:{}", css_color(c))>"■ " {name}</strong>
                    " " {value}
                </li>
            }
        })
        .collect_view();
    view! {
        <figure data-testid=testid>
            <figcaption>{format!("{caption} (0–{})", fmt(top))}</figcaption>
            <div class="chart" inner_html=svg></div>
            <ul class="legend">{legend}</ul>
        </figure>
    }
    .into_any()
}

#[component]
fn ItemCharts(m: ItemMetrics, minutes: u32) -> impl IntoView {
    let Some(x) = span(&[&m.rps_in, &m.rps_out, &m.success, &m.latency, &m.versions]) else {
        return view! {
            <p class="topology-notice" data-testid="item-no-data">
                {format!("No traffic in the last {minutes} minutes for this item.")}
            </p>
        }
        .into_any();
    };
    let rps = |v: f64| format!("{v:.2} rps");
    let pct = |v: f64| format!("{:.1}%", v * 100.0);
    let ms = |v: f64| format!("{v:.0} ms");
    let traffic = chart(
        "Traffic, requests per second (out dashed)".into(),
        "chart-traffic",
        &[(&m.rps_in, "in", false), (&m.rps_out, "out", true)],
        x,
        None,
        0.5,
        &rps,
    );
    let success = chart(
        "Success rate".into(),
        "chart-success",
        &[(&m.success, "", false)],
        x,
        Some(1.0),
        1.0,
        &pct,
    );
    let latency = chart(
        "Duration".into(),
        "chart-latency",
        &[(&m.latency, "", false)],
        x,
        None,
        10.0,
        &ms,
    );
    let versions = (!m.versions.is_empty()).then(|| {
        chart(
            "Requests per version".into(),
            "chart-versions",
            &[(&m.versions, "", false)],
            x,
            None,
            0.5,
            &rps,
        )
    });
    view! {
        <div class="topology-charts">
            {traffic}
            {success}
            {latency}
            {versions}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn series(labels: &[(&str, &str)], points: &[(f64, f64)]) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn series_are_named_by_quantile_or_version_and_span_covers_all() {
        assert_eq!(series_name(&series(&[("quantile", "p95")], &[])), "p95");
        assert_eq!(
            series_name(&series(&[("destination_version", "v2")], &[])),
            "v2"
        );
        assert_eq!(series_name(&series(&[], &[])), "total");
        let a = [series(&[], &[(10.0, 1.0), (20.0, 2.0)])];
        let b = [series(&[], &[(5.0, f64::NAN), (15.0, 1.0)])];
        assert_eq!(span(&[&a, &b]), Some((5.0, 20.0)));
        assert_eq!(span(&[&[]]), None);
        assert_eq!(latest_text(&b[0], &|v| format!("{v}")), "1");
    }
}
