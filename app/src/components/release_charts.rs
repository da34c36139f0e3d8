//! The live charts of a release job: requests per second, success rate and p50/p95/p99
//! duration per version from Prometheus, and the split actually observed next to the one
//! configured; an automatic release's gates as red dashed lines on the success and latency
//! charts. Its own panel: when Prometheus is missing or down, only this panel says so.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::releases::get_release_metrics;
use crate::charts::{Line, css_color, line_chart, y_top};
use crate::components::error_panel::error_panel;
use crate::domain::metrics::{ReleaseMetrics, Series};

const WIDTH: u32 = 360;
const HEIGHT: u32 = 140;
/// The palette's red, for thresholds (versions use the first colours).
const THRESHOLD_COLOR: usize = 4;

#[component]
pub fn ReleaseCharts(project: String, name: String, tick: RwSignal<u32>) -> impl IntoView {
    let query = use_query_map();
    let minutes = Memo::new(move |_| {
        query
            .read()
            .get("window")
            .and_then(|w| w.parse::<u32>().ok())
            .filter(|m| [1, 5, 10, 30, 60].contains(m))
            .unwrap_or(5)
    });
    let metrics = Resource::new(
        move || (project.clone(), name.clone(), minutes.get(), tick.get()),
        |(p, n, m, _)| get_release_metrics(p, n, m),
    );
    view! {
        <section class="panel charts" aria-label="Live metrics">
            <h2>
                "Live traffic "
                <span class="muted small">{move || format!("(last {} min, from Prometheus)", minutes.get())}</span>
            </h2>
            <Transition fallback=|| view! { <p class="loading">"Querying Prometheus…"</p> }>
                <ErrorBoundary fallback=error_panel>
                    {move || metrics.get().map(|r| r.map(|m| view! { <Charts m /> }))}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

fn lines<'a>(set: &'a [Series], versions: &[String], dashed: bool) -> Vec<Line<'a>> {
    versions
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            ReleaseMetrics::of(set, v).map(|s| Line {
                points: &s.points,
                color: i,
                dashed,
            })
        })
        .collect()
}

fn latest(set: &[Series], version: &str, fmt: impl Fn(f64) -> String) -> String {
    ReleaseMetrics::of(set, version)
        .and_then(Series::last)
        .filter(|v| v.is_finite())
        .map(fmt)
        .unwrap_or_else(|| "–".into())
}

#[component]
fn Charts(m: ReleaseMetrics) -> impl IntoView {
    let observed = if m.observed.is_empty() {
        "no requests in the last minute".to_string()
    } else {
        m.observed
            .iter()
            .map(|(v, p)| format!("{v} {p}%"))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let configured = m
        .configured
        .iter()
        .map(|(v, p)| format!("{v} {p}%"))
        .collect::<Vec<_>>()
        .join(" · ");
    let rps_lines = lines(&m.rps, &m.versions, false);
    let rps_svg = line_chart(
        &rps_lines,
        m.start,
        m.end,
        y_top(&rps_lines, 1.0),
        WIDTH,
        HEIGHT,
    );
    let success_line = m.thresholds.min_success.map(|y| [(m.start, y), (m.end, y)]);
    let p99_line = m.thresholds.max_p99_ms.map(|y| [(m.start, y), (m.end, y)]);
    fn threshold(points: &[(f64, f64); 2]) -> Line<'_> {
        Line {
            points,
            color: THRESHOLD_COLOR,
            dashed: true,
        }
    }
    let mut ok_lines = lines(&m.success, &m.versions, false);
    ok_lines.extend(success_line.as_ref().map(threshold));
    let ok_svg = line_chart(&ok_lines, m.start, m.end, 1.0, WIDTH, HEIGHT);
    let mut lat_lines = lines(&m.p95, &m.versions, false);
    lat_lines.extend(lines(&m.p99, &m.versions, true));
    lat_lines.extend(p99_line.as_ref().map(threshold));
    let lat_top = y_top(&lat_lines, 10.0);
    let lat_svg = line_chart(&lat_lines, m.start, m.end, lat_top, WIDTH, HEIGHT);
    let ok_caption = match m.thresholds.min_success {
        Some(t) => format!("Success rate (0–100%; red: the gate, {}%)", t * 100.0),
        None => "Success rate (0–100%)".to_string(),
    };
    let lat_caption = match m.thresholds.max_p99_ms {
        Some(t) => {
            format!("Duration p95, p99 dashed (0–{lat_top:.0} ms; red: the p99 gate, {t:.0} ms)")
        }
        None => format!("Duration p95, p99 dashed (0–{lat_top:.0} ms)"),
    };
    let legend = m
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let rps = latest(&m.rps, v, |x| format!("{x:.2} req/s"));
            let ok = latest(&m.success, v, |x| format!("{:.1}% ok", x * 100.0));
            let lat = format!(
                "p50 {} · p95 {} · p99 {}",
                latest(&m.p50, v, |x| format!("{x:.0} ms")),
                latest(&m.p95, v, |x| format!("{x:.0} ms")),
                latest(&m.p99, v, |x| format!("{x:.0} ms")),
            );
            let style = format!("color:{}", css_color(i));
            let id = v.clone();
            view! {
                <li data-version=id>
                    <strong style=style>{"■ "}{v.clone()}</strong>
                    {format!(" {rps} · {ok} · {lat}")}
                </li>
            }
        })
        .collect_view();
    view! {
        <p data-testid="observed-split">
            <strong>"Observed: "</strong>{observed}
            <span class="muted">{format!("  (configured: {configured})")}</span>
        </p>
        <ul class="legend">{legend}</ul>
        <div class="chart-row">
            <figure>
                <figcaption>{format!("Requests per second (0–{:.1})", y_top(&rps_lines, 1.0))}</figcaption>
                <div class="chart" inner_html=rps_svg></div>
            </figure>
            <figure data-testid="success-chart">
                <figcaption>{ok_caption}</figcaption>
                <div class="chart" inner_html=ok_svg></div>
            </figure>
            <figure data-testid="latency-chart">
                <figcaption>{lat_caption}</figcaption>
                <div class="chart" inner_html=lat_svg></div>
            </figure>
        </div>
    }
}
