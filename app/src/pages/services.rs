//! Services: a project's Services with their versions (workloads) and ports, and a
//! diagnosis of their mesh configuration per row, as Huawei ASM's Service Management
//! shows it: "Normal", or each problem with what it breaks and how to fix it.
//!
//! A plain page: the data is rendered on the server and refreshes on the URL's interval
//! once hydrated, so it reads the same without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::ChooseProject;
use crate::api::services::list_services;
use crate::components::error_panel::error_panel;
use crate::components::refresh_control::{RefreshControl, use_refresh_tick};
use crate::components::use_project;
use crate::domain::diagnosis::{Finding, ServiceRow, ServicesView, Severity};
use crate::domain::links::href_with_project;

#[component]
pub fn ServicesPage() -> impl IntoView {
    let project = use_project();
    let tick = use_refresh_tick();
    view! {
        <Title text="Services" />
        <header class="page-header">
            <div class="page-title-row">
                <h1>"Services"</h1>
                {move || project.get().map(|_| view! { <div class="page-actions"><RefreshControl tick /></div> })}
            </div>
            <p class="lead">
                "The Services of a project with their versions and ports, and a diagnosis of their mesh configuration: Normal, or each problem with how to fix it."
            </p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => view! { <ServiceList project=p tick /> }.into_any(),
        }}
    }
}

#[component]
fn ServiceList(project: String, tick: RwSignal<u32>) -> impl IntoView {
    let services = {
        let project = project.clone();
        Resource::new(
            move || (project.clone(), tick.get()),
            |(p, _)| list_services(p),
        )
    };
    view! {
        <Transition fallback=|| view! { <p class="loading">"Checking the project's services…"</p> }>
            <ErrorBoundary fallback=error_panel>
                {move || services.get().map(|r| r.map(|view| view! { <ServicesBody view /> }))}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn ServicesBody(view: ServicesView) -> impl IntoView {
    let text = view.summary();
    let topology = href_with_project("/traffic-management", Some(&view.project));
    let rows = view.services.into_iter().map(service_row).collect_view();
    let notes = view
        .notes
        .into_iter()
        .map(|n| view! { <p class="note" data-testid="services-note">{n}</p> })
        .collect_view();
    let other = (!view.other.is_empty()).then(|| {
        let items = view.other.into_iter().map(finding_item).collect_view();
        view! {
            <section class="panel other-findings" data-testid="other-findings">
                <h2>"Routing for Services that do not exist"</h2>
                <ul class="findings">{items}</ul>
            </section>
        }
    });
    view! {
        <p class="services-summary" data-testid="services-summary">
            {text} " " <A href=topology>"See them in the topology"</A>
        </p>
        {notes}
        <table class="workloads services">
            <thead>
                <tr>
                    <th>"Service"</th>
                    <th>"Application"</th>
                    <th>"Versions"</th>
                    <th>"Ports"</th>
                    <th>"Diagnosis"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {other}
    }
}

fn status_of(row: &ServiceRow) -> &'static str {
    match row.findings.first().map(|f| f.severity) {
        None => "normal",
        Some(Severity::Error) => "error",
        Some(Severity::Warning) => "warning",
    }
}

fn service_row(row: ServiceRow) -> impl IntoView {
    let status = status_of(&row);
    let versions = if row.versions.is_empty() {
        view! { <span class="muted">"no workload"</span> }.into_any()
    } else {
        row.versions
            .iter()
            .map(|v| {
                view! {
                    <div class="version" data-workload=v.workload.clone()>
                        <strong>{v.version.clone().unwrap_or_else(|| "-".into())}</strong>
                        " " {v.workload.clone()} " "
                        <span class="muted">{format!("{}/{} ready", v.ready, v.desired)}</span>
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    let ports = row
        .ports
        .iter()
        .map(|p| view! { <div><code>{p.clone()}</code></div> })
        .collect_view();
    let diagnosis = if row.findings.is_empty() {
        view! { <span class="badge ok" data-testid="diagnosis">"Normal"</span> }.into_any()
    } else {
        let items = row.findings.into_iter().map(finding_item).collect_view();
        view! { <ul class="findings" data-testid="diagnosis">{items}</ul> }.into_any()
    };
    view! {
        <tr data-service=row.name.clone() data-status=status>
            <td><strong>{row.name.clone()}</strong></td>
            <td>{row.app.clone()}</td>
            <td>{versions}</td>
            <td>{ports}</td>
            <td class="diagnosis">{diagnosis}</td>
        </tr>
    }
}

fn finding_item(f: Finding) -> impl IntoView {
    let class = match f.severity {
        Severity::Error => "badge bad",
        Severity::Warning => "badge warn",
    };
    view! {
        <li class="finding" data-finding=f.kind.code() data-severity=f.severity.label()>
            <div>
                <span class=class>{f.severity.label()}</span>
                " " <strong>{f.object.clone()}</strong> ": " {f.problem.clone()}
            </div>
            <div class="fix"><span class="muted">"Fix: "</span>{f.fix.clone()}</div>
        </li>
    }
}
