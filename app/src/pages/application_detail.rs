//! One application: its components and workloads, pods down to node and IP, recent
//! events, the Istio objects that route it (read-only YAML), and links into the other
//! sections for this application. Live like the list.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::ChooseProject;
use crate::api::applications::get_application;
use crate::components::error_panel::error_panel;
use crate::components::refresh_control::{RefreshControl, use_refresh_tick};
use crate::components::status_badge::StatusBadge;
use crate::components::trace_results::TraceResults;
use crate::components::use_project;
use crate::components::workload_table::WorkloadTable;
use crate::domain::applications::{ApplicationDetail, EventInfo, PodInfo, format_age};
use crate::domain::links::{encode_query_value, href_with_project};
use crate::domain::traces::TraceQuery;

#[component]
pub fn ApplicationDetailPage() -> impl IntoView {
    let project = use_project();
    let params = use_params_map();
    let app = Memo::new(move |_| params.read().get("app").unwrap_or_default());
    let tick = use_refresh_tick();
    view! {
        <Title text=move || app.get() />
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => view! { <Detail project=p app=app.get() tick /> }.into_any(),
        }}
    }
}

#[component]
fn Detail(project: String, app: String, tick: RwSignal<u32>) -> impl IntoView {
    let detail = {
        let (project, app) = (project.clone(), app.clone());
        Resource::new(
            move || (project.clone(), app.clone(), tick.get()),
            |(p, a, _)| get_application(p, a),
        )
    };
    let back = href_with_project("/applications", Some(&project));
    let link = |section: &str| {
        format!(
            "{}&app={}",
            href_with_project(section, Some(&project)),
            encode_query_value(&app)
        )
    };
    view! {
        <header class="page-header">
            <p class="crumbs">
                <A href=back>"Applications"</A>
                " / "
                {app.clone()}
            </p>
            <div class="page-title-row">
                <h1>{app.clone()}</h1>
                <div class="page-actions">
                    <RefreshControl tick />
                </div>
            </div>
            <nav class="app-links" aria-label="This application in other sections">
                <A href=link("/grayscale-release")>"Grayscale Release"</A>
                <A href=link("/traffic-management")>"Traffic Management"</A>
                <A href=format!(
                    "{}&service={}",
                    href_with_project("/tracing", Some(&project)),
                    encode_query_value(&format!("{app}.{project}")),
                )>"Tracing"</A>
            </nav>
        </header>
        <Transition fallback=|| view! { <p class="loading">"Loading the application…"</p> }>
            <ErrorBoundary fallback=error_panel>
                {move || detail.get().map(|r| r.map(|d| view! { <DetailBody detail=d /> }))}
            </ErrorBoundary>
        </Transition>
        <Transition fallback=|| ()>
            <ErrorBoundary fallback=|_| ()>
                {move || {
                    let project = project.clone();
                    detail
                        .get()
                        .map(|r| {
                            r.map(|d| {
                                let services = d
                                    .view
                                    .app
                                    .components
                                    .iter()
                                    .map(|c| format!("{}.{project}", c.service.name))
                                    .collect::<Vec<_>>();
                                view! { <AppTraces project services /> }
                            })
                        })
                }}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn DetailBody(detail: ApplicationDetail) -> impl IntoView {
    let ApplicationDetail {
        view,
        pods,
        events,
        routing,
        ..
    } = detail;
    let status = view.app.status();
    let (running, all) = view.app.running_count();
    let routes = view.routes.clone();
    view! {
        <section class="panel">
            <h2>
                "Components " <StatusBadge status />
                <span class="muted small">{format!(" {running}/{all} workloads running")}</span>
            </h2>
            {routes
                .into_iter()
                .map(|r| {
                    view! {
                        <p class="route">
                            "Route: " <code>{r.host}</code>
                            {r
                                .url
                                .map(|u| {
                                    view! {
                                        " "
                                        <a class="visit" href=u target="_blank" rel="noopener">
                                            "Click to visit"
                                        </a>
                                    }
                                })}
                        </p>
                    }
                })
                .collect_view()}
            <WorkloadTable components=view.app.components />
        </section>
        <section class="panel">
            <h2>"Pods"</h2>
            <PodTable pods />
        </section>
        <section class="panel">
            <h2>"Events"</h2>
            <EventTable events />
        </section>
        <section class="panel">
            <h2>"Traffic Management objects"</h2>
            {if routing.is_empty() {
                view! { <p class="muted">"No Istio or Gateway API object routes this application yet."</p> }
                    .into_any()
            } else {
                routing
                    .into_iter()
                    .map(|o| {
                        let title = format!("{} {}", o.kind, o.name);
                        let (kind, name) = (o.kind.clone(), o.name.clone());
                        view! {
                            <details class="yaml" data-kind=kind data-name=name>
                                <summary>{title}</summary>
                                <pre>{o.yaml}</pre>
                            </details>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
        </section>
    }
}

/// The Tracing tab of an application: the latest traces through one of its components
/// (Istio names a service's spans `<service>.<project>`).
#[component]
fn AppTraces(project: String, services: Vec<String>) -> impl IntoView {
    let chosen = RwSignal::new(services.first().cloned().unwrap_or_default());
    let traces = Resource::new(
        move || chosen.get(),
        |service| async move {
            if service.is_empty() {
                return Ok(Vec::new());
            }
            let query = TraceQuery {
                service,
                limit: 10,
                ..TraceQuery::default()
            };
            crate::api::traces::search_traces(query).await
        },
    );
    let search_href = {
        let project = project.clone();
        move || {
            format!(
                "{}&service={}",
                href_with_project("/tracing", Some(&project)),
                encode_query_value(&chosen.get())
            )
        }
    };
    view! {
        <section class="panel app-traces" aria-label="Tracing">
            <h2>"Tracing " <span class="muted small">"(latest traces, last hour)"</span></h2>
            <div class="actions-row">
                <label>
                    "Component "
                    <select on:change=move |ev| chosen.set(event_target_value(&ev))>
                        {services
                            .iter()
                            .map(|s| view! { <option value=s.clone()>{s.clone()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <A href=search_href>"Search in Tracing"</A>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Searching traces…"</p> }>
                <ErrorBoundary fallback=error_panel>
                    {move || {
                        let project = project.clone();
                        traces.get().map(|r| r.map(|t| view! { <TraceResults traces=t project=Some(project) /> }))
                    }}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn PodTable(pods: Vec<PodInfo>) -> impl IntoView {
    if pods.is_empty() {
        return view! { <p class="muted">"No pods."</p> }.into_any();
    }
    view! {
        <table class="workloads pods">
            <thead>
                <tr>
                    <th>"Pod"</th>
                    <th>"Workload"</th>
                    <th>"Status"</th>
                    <th>"Ready"</th>
                    <th>"Restarts"</th>
                    <th>"Node"</th>
                    <th>"IP"</th>
                    <th>"Sidecar"</th>
                    <th>"Age"</th>
                </tr>
            </thead>
            <tbody>
                {pods
                    .into_iter()
                    .map(|p| {
                        let row = p.name.clone();
                        view! {
                            <tr data-pod=row>
                                <td>{p.name}</td>
                                <td>{p.workload.unwrap_or_default()}</td>
                                <td>
                                    {p.phase}
                                    {p.failure.map(|f| view! { <div class="failure">{f}</div> })}
                                </td>
                                <td>{p.ready}</td>
                                <td>{p.restarts}</td>
                                <td>{p.node.unwrap_or_default()}</td>
                                <td>{p.ip.unwrap_or_default()}</td>
                                <td>
                                    {if p.sidecar {
                                        view! { <span class="badge ok">"istio-proxy"</span> }.into_any()
                                    } else {
                                        view! { <span class="warning">"none"</span> }.into_any()
                                    }}
                                </td>
                                <td>{p.age_seconds.map(format_age).unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
        .into_any()
}

#[component]
fn EventTable(events: Vec<EventInfo>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="muted">"No recent events."</p> }.into_any();
    }
    view! {
        <table class="workloads events">
            <thead>
                <tr>
                    <th>"Type"</th>
                    <th>"Reason"</th>
                    <th>"Object"</th>
                    <th>"Message"</th>
                    <th>"Count"</th>
                    <th>"Age"</th>
                </tr>
            </thead>
            <tbody>
                {events
                    .into_iter()
                    .map(|e| {
                        let warning = e.kind == "Warning";
                        view! {
                            <tr class:warning-row=warning>
                                <td>{e.kind}</td>
                                <td>{e.reason}</td>
                                <td>{e.object}</td>
                                <td>{e.message}</td>
                                <td>{e.count}</td>
                                <td>{e.age_seconds.map(format_age).unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
