//! One trace: its summary, the span timeline (a collapsible tree on a shared time axis with
//! the critical path marked, filterable), and the selected span's detail down to its pod.
//! The filter and the selected span live in the URL.

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_params_map;

use crate::api::traces::get_trace_view;
use crate::components::error_panel::error_panel;
use crate::components::span_detail::SpanDetailPanel;
use crate::components::trace_timeline::{TraceTimeline, filter_from_params, filter_param};
use crate::components::{use_project, use_query_pairs};
use crate::domain::links::{PROJECT_PARAM, href_with_project};
use crate::domain::timefmt::{format_duration_us, format_utc_us};
use crate::domain::traces::TraceView;

/// The query parameter holding the selected span's ID.
pub const SPAN_PARAM: &str = "span";

#[component]
pub fn TraceDetailPage() -> impl IntoView {
    let params = use_params_map();
    let project = use_project();
    let trace_id = Memo::new(move |_| params.read().get("trace").unwrap_or_default());
    let view_res = Resource::new(move || trace_id.get(), get_trace_view);
    view! {
        <Title text="Trace" />
        <header class="page-header">
            <p class="breadcrumb">
                <A href=move || href_with_project("/tracing", project.get().as_deref())>"Tracing"</A>
                " / trace "
                <span class="mono">{move || trace_id.get()}</span>
            </p>
        </header>
        <Transition fallback=|| view! { <p class="loading">"Loading the trace from Jaeger…"</p> }>
            <ErrorBoundary fallback=error_panel>
                {move || {
                    view_res
                        .get()
                        .map(|r| r.map(|v| view! { <TraceBody view=Arc::new(v) /> }))
                }}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn TraceBody(view: Arc<TraceView>) -> impl IntoView {
    let pairs = use_query_pairs();
    let project = use_project();
    let filter = Memo::new(move |_| filter_from_params(&pairs.read()));
    let selected = Memo::new(move |_| {
        pairs
            .read()
            .iter()
            .find(|(k, _)| k == SPAN_PARAM)
            .map(|(_, v)| v.clone())
    });
    let root = view.spans.first();
    let title = root
        .map(|r| format!("{}: {}", view.str(r.service), view.str(r.operation)))
        .unwrap_or_else(|| "Empty trace".into());
    let services = view.services();
    let errors = view.spans.iter().filter(|s| s.error).count();
    let depth = view.spans.iter().map(|s| s.depth).max().unwrap_or(0) + 1;
    let trace_id = view.trace_id.clone();
    let action = format!("/tracing/traces/{}", view.trace_id);
    // The form shows what is in the URL, as typed, even when it is wrong.
    let raw = move |name: &str| {
        pairs
            .read_untracked()
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let current_service = raw(filter_param::SERVICE);
    let service_choices: Vec<String> = services.iter().map(|s| s.to_string()).collect();
    view! {
        <section class="panel trace-summary">
            <h1 class="trace-title">{title}</h1>
            <dl class="facts">
                <div><dt>"Started"</dt><dd>{format_utc_us(view.start_us)} " UTC"</dd></div>
                <div><dt>"Duration"</dt><dd>{format_duration_us(view.duration_us)}</dd></div>
                <div><dt>"Services"</dt><dd>{services.len()}</dd></div>
                <div><dt>"Depth"</dt><dd>{depth}</dd></div>
                <div><dt>"Spans"</dt><dd data-spans=view.spans.len()>{view.spans.len()}</dd></div>
                <div><dt>"Errors"</dt><dd>{errors}</dd></div>
            </dl>
        </section>
        <section class="panel">
            <Form method="get" action=action>
                <input type="hidden" name=PROJECT_PARAM value=move || project.get().unwrap_or_default() />
                <div class="trace-search span-filter" role="search" aria-label="Filter spans">
                    <label>
                        "Service"
                        <select name=filter_param::SERVICE>
                            <option value="" selected=current_service.is_empty()>"All"</option>
                            {service_choices
                                .into_iter()
                                .map(|s| {
                                    let sel = current_service == s;
                                    let label = s.clone();
                                    view! { <option value=s selected=sel>{label}</option> }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <label>
                        "Operation"
                        <input name=filter_param::OPERATION value=raw(filter_param::OPERATION) />
                    </label>
                    <label>
                        "Tag"
                        <input
                            name=filter_param::TAG
                            placeholder="http.status_code=503"
                            value=raw(filter_param::TAG)
                        />
                    </label>
                    <label>
                        "Min duration (ms)"
                        <input
                            name=filter_param::MIN_DURATION
                            type="number"
                            min="0"
                            step="any"
                            value=raw(filter_param::MIN_DURATION)
                        />
                    </label>
                    <button type="submit" class="button">"Filter"</button>
                </div>
            </Form>
        </section>
        <div class="trace-layout">
            <TraceTimeline view=view.clone() filter selected />
            {move || {
                selected
                    .get()
                    .map(|span| view! { <SpanDetailPanel trace_id=trace_id.clone() span_id=span /> })
            }}
        </div>
    }
}
