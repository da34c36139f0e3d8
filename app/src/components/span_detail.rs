//! One span in full: operation, service, start, duration, the request as the proxy recorded
//! it (method, URL, headers), all tags, the process, logs, and the pod that served it
//! linked to its workload. Everything from the trace is rendered as text, never HTML.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::traces::get_span_detail;
use crate::components::error_panel::error_panel;
use crate::domain::timefmt::{format_duration_us, format_utc_us};
use crate::domain::traces::{SpanDetail, Tag};

/// Tags that describe the request and its answer (Envoy's and OpenTelemetry's names);
/// headers recorded as tags (`http.request.header.*`, `request.header.*`, `guid:*`) join them.
const REQUEST_KEYS: [&str; 12] = [
    "http.method",
    "http.url",
    "http.protocol",
    "http.status_code",
    "user_agent",
    "guid:x-request-id",
    "request_size",
    "response_size",
    "response_flags",
    "upstream_cluster",
    "downstream_cluster",
    "peer.address",
];

/// Whether a tag describes the request (shown under Request rather than Tags).
pub fn is_request_tag(key: &str) -> bool {
    REQUEST_KEYS.contains(&key)
        || key.starts_with("http.request.header.")
        || key.starts_with("request.header.")
        || key.starts_with("guid:")
}

#[component]
pub fn SpanDetailPanel(trace_id: String, span_id: String) -> impl IntoView {
    let detail = Resource::new(
        move || (trace_id.clone(), span_id.clone()),
        |(t, s)| get_span_detail(t, s),
    );
    view! {
        <aside class="panel span-detail" aria-label="Span detail">
            <Transition fallback=|| view! { <p class="loading">"Loading the span…"</p> }>
                <ErrorBoundary fallback=error_panel>
                    {move || detail.get().map(|r| r.map(|d| view! { <Detail d /> }))}
                </ErrorBoundary>
            </Transition>
        </aside>
    }
}

fn tag_table(tags: Vec<Tag>, label: &'static str) -> impl IntoView {
    view! {
        <table class="tags" aria-label=label>
            <tbody>
                {tags
                    .into_iter()
                    .map(|t| view! { <tr><th scope="row">{t.key}</th><td>{t.value}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Detail(d: SpanDetail) -> impl IntoView {
    let s = d.span;
    let (request, tags): (Vec<Tag>, Vec<Tag>) =
        s.tags.into_iter().partition(|t| is_request_tag(&t.key));
    let served = match d.pod {
        None => view! {
            <h3>"Served by"</h3>
            <dl class="facts served-by">
                <div><dt>"Pod"</dt><dd>"not recorded (no node_id tag or hostname)"</dd></div>
            </dl>
        }
        .into_any(),
        Some(p) => {
            let container = if p.kind == "sidecar" || p.kind == "router" {
                "istio-proxy (the Envoy sidecar that recorded the span)".to_string()
            } else {
                "unknown: the span names no Envoy node".to_string()
            };
            let link = d.workload_link.clone();
            view! {
            <h3>"Served by"</h3>
            <dl class="facts served-by">
                <div>
                    <dt>"Pod"</dt>
                    <dd data-pod=p.pod.clone()>
                        {
                            let name = p.pod.clone();
                            match link {
                                Some(href) => view! { <A href=href>{name}</A> }.into_any(),
                                None => view! { <span>{name}</span> }.into_any(),
                            }
                        }
                    </dd>
                </div>
                <div><dt>"Project"</dt><dd>{if p.namespace.is_empty() { "-".to_string() } else { p.namespace.clone() }}</dd></div>
                <div><dt>"Pod IP"</dt><dd>{if p.ip.is_empty() { "-".to_string() } else { p.ip.clone() }}</dd></div>
                <div><dt>"Container"</dt><dd>{container}</dd></div>
            </dl>
        }
        .into_any()
        }
    };
    let logs = s.logs;
    let log_count = logs.len();
    view! {
        <h2 class="span-title">
            <span class="span-service">{s.service.clone()}</span>
            ": "
            <span class="span-op">{s.operation.clone()}</span>
            {s.error.then(|| view! { <span class="status failed">"error"</span> })}
        </h2>
        <dl class="facts">
            <div><dt>"Started"</dt><dd>{format_utc_us(s.start_us)} " UTC"</dd></div>
            <div><dt>"Duration"</dt><dd>{format_duration_us(s.duration_us)}</dd></div>
            <div><dt>"Span ID"</dt><dd class="mono">{s.span_id.clone()}</dd></div>
        </dl>
        {served}
        <h3>"Request"</h3>
        {if request.is_empty() {
            view! { <p class="muted small">"No request attributes recorded."</p> }.into_any()
        } else {
            tag_table(request, "Request").into_any()
        }}
        <h3>"Tags"</h3>
        {tag_table(tags, "Tags")}
        <h3>"Process"</h3>
        {tag_table(s.process_tags, "Process")}
        <h3>{format!("Logs ({log_count})")}</h3>
        {logs
            .into_iter()
            .map(|l| {
                view! {
                    <div class="span-log">
                        <div class="muted small">{format_utc_us(l.timestamp_us)}</div>
                        {tag_table(l.fields, "Log fields")}
                    </div>
                }
            })
            .collect_view()}
    }
}

#[cfg(test)]
mod tests {
    use super::is_request_tag;

    #[test]
    fn request_attributes_and_recorded_headers_are_grouped() {
        assert!(is_request_tag("http.url"));
        assert!(is_request_tag("guid:x-request-id"));
        assert!(is_request_tag("http.request.header.x-user"));
        assert!(is_request_tag("request.header.end-user"));
        assert!(!is_request_tag("node_id"));
        assert!(!is_request_tag("istio.canonical_service"));
    }
}
