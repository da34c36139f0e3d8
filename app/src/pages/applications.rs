//! The Applications section: a project's applications with their components, versions
//! and workloads, live; "Deploy Sample Application" and, next to the sample it created,
//! "Uninstall Sample Application"; and the project's sidecar setting.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_query_map};

use super::ChooseProject;
use crate::api::applications::{SetSidecarInjection, SetTraceSampling, list_applications};
use crate::components::deploy_sample_dialog::{
    CONFIRM_DEPLOY_SAMPLE, CONFIRM_PARAM, DeploySampleDialog,
};
use crate::components::error_panel::error_panel;
use crate::components::permissions::{DeniedNote, denial, permissions_resource};
use crate::components::refresh_control::{RefreshControl, use_refresh_tick};
use crate::components::sandbox_traffic::SandboxTraffic;
use crate::components::status_badge::StatusBadge;
use crate::components::uninstall_sample_dialog::{CONFIRM_UNINSTALL_SAMPLE, UninstallSampleDialog};
use crate::components::workload_table::WorkloadTable;
use crate::components::{use_project, use_query_pairs};
use crate::domain::access::Action;
use crate::domain::applications::{ApplicationView, ApplicationsView};
use crate::domain::links::{href_with_project, with_param};
use crate::domain::sample_uninstall::is_sample_application;

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let project = use_project();
    let query = use_query_map();
    let pairs = use_query_pairs();
    let location = use_location();
    let tick = use_refresh_tick();
    let confirm_open =
        move || query.read().get(CONFIRM_PARAM).as_deref() == Some(CONFIRM_DEPLOY_SAMPLE);
    let uninstall_open =
        move || query.read().get(CONFIRM_PARAM).as_deref() == Some(CONFIRM_UNINSTALL_SAMPLE);
    let deploy_href = move || {
        with_param(
            &location.pathname.get(),
            &pairs.get(),
            CONFIRM_PARAM,
            Some(CONFIRM_DEPLOY_SAMPLE),
        )
    };

    view! {
        <Title text="Applications" />
        <header class="page-header">
            <div class="page-title-row">
                <h1>"Applications"</h1>
                {move || {
                    project
                        .get()
                        .map(|p| {
                            let perms = permissions_resource(p);
                            view! {
                                <div class="page-actions">
                                    <RefreshControl tick />
                                    <Transition fallback=|| ()>
                                        {move || match denial(perms, Action::DeploySample) {
                                            None => view! {
                                                <A href=deploy_href attr:class="button">
                                                    "Deploy Sample Application"
                                                </A>
                                            }.into_any(),
                                            Some(why) => view! {
                                                <button type="button" class="button" disabled title=why>
                                                    "Deploy Sample Application"
                                                </button>
                                            }.into_any(),
                                        }}
                                    </Transition>
                                </div>
                            }
                        })
                }}
            </div>
            <p class="lead">
                "The applications of a project: their components (Services), versions and workloads, and the route to visit them."
            </p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => {
                let dialog = confirm_open()
                    .then(|| view! { <DeploySampleDialog project=p.clone() tick /> });
                let uninstall = uninstall_open()
                    .then(|| view! { <UninstallSampleDialog project=p.clone() tick /> });
                view! {
                    <ApplicationList project=p tick />
                    {dialog}
                    {uninstall}
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn ApplicationList(project: String, tick: RwSignal<u32>) -> impl IntoView {
    let perms = permissions_resource(project.clone());
    let apps = {
        let project = project.clone();
        Resource::new(
            move || (project.clone(), tick.get()),
            |(p, _)| list_applications(p),
        )
    };
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading applications…"</p> }>
            <ErrorBoundary fallback=error_panel>
                {move || apps.get().map(|r| r.map(|view| {
                    let governance = denial(perms, Action::Governance);
                    let uninstall = denial(perms, Action::UninstallSample);
                    view! { <ApplicationsBody view tick governance uninstall /> }
                }))}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn ApplicationsBody(
    view: ApplicationsView,
    tick: RwSignal<u32>,
    /// Why the user may not change the project's governance, if so.
    governance: Option<String>,
    /// Why the user may not uninstall the sample application, if so.
    uninstall: Option<String>,
) -> impl IntoView {
    let governance_off = governance.is_some();
    let (why_injection, why_sampling) = (
        governance.clone().unwrap_or_default(),
        governance.clone().unwrap_or_default(),
    );
    let governance_denied = governance;
    let project = view.project.clone();
    let toggle = ServerAction::<SetSidecarInjection>::new();
    let sampling = ServerAction::<SetTraceSampling>::new();
    Effect::new(move || {
        let toggled = matches!(toggle.value().get(), Some(Ok(())));
        let sampled = matches!(sampling.value().get(), Some(Ok(())));
        if toggled || sampled {
            tick.update(|t| *t = t.wrapping_add(1));
        }
    });
    let sampling_now = view.trace_sampling;
    let sampling_project = project.name.clone();
    let injection = project.sidecar_injection;
    let project_name = project.name.clone();
    let governance = view! {
        <section class="governance" aria-label="Application governance">
            <span>
                "Sidecar injection: "
                <strong data-testid="sidecar-injection">
                    {if injection { "enabled" } else { "disabled" }}
                </strong>
            </span>
            <ActionForm action=toggle>
                <input type="hidden" name="project" value=project_name />
                <input type="hidden" name="enabled" value=(!injection).to_string() />
                <button type="submit" class="button secondary" disabled=governance_off title=why_injection>
                    {if injection { "Disable sidecar injection" } else { "Enable sidecar injection" }}
                </button>
            </ActionForm>
            <span>
                "Trace sampling: "
                <strong data-testid="trace-sampling">
                    {match sampling_now {
                        Some(p) => format!("{p}%"),
                        None => "mesh default".to_string(),
                    }}
                </strong>
            </span>
            <ActionForm action=sampling>
                <input type="hidden" name="project" value=sampling_project />
                <input
                    type="number"
                    name="percent"
                    class="small-input"
                    min="0"
                    max="100"
                    aria-label="Trace sampling (%)"
                    value=sampling_now.unwrap_or(100).to_string()
                />
                " % "
                <button type="submit" class="button secondary" disabled=governance_off title=why_sampling>"Set sampling"</button>
            </ActionForm>
            <DeniedNote reason=governance_denied />
            {move || {
                toggle
                    .value()
                    .get()
                    .and_then(Result::err)
                    .or_else(|| sampling.value().get().and_then(Result::err))
                    .map(|e| view! { <p class="panel-error" role="alert">{e.to_string()}</p> })
            }}
        </section>
    };
    let body = if view.applications.is_empty() {
        view! {
            <div class="empty-state">
                <h2>"No applications in " {project.name.clone()} " yet"</h2>
                <p>
                    "An application is a set of Services with their workloads. "
                    "Deploy Sample Application installs Istio's Bookinfo here to try a grayscale release."
                </p>
            </div>
        }
            .into_any()
    } else {
        view.applications
            .into_iter()
            .map(|a| {
                let uninstall = uninstall.clone();
                view! { <ApplicationCard view=a project=project.name.clone() uninstall /> }
            })
            .collect_view()
            .into_any()
    };
    view! {
        {governance}
        <SandboxTraffic tick />
        {body}
    }
}

#[component]
fn ApplicationCard(
    view: ApplicationView,
    project: String,
    /// Why the user may not uninstall the sample, if so.
    uninstall: Option<String>,
) -> impl IntoView {
    let ApplicationView { app, routes } = view;
    let pairs = use_query_pairs();
    let location = use_location();
    let uninstall_button = is_sample_application(&app).then(|| match uninstall {
        None => {
            let href = move || {
                with_param(
                    &location.pathname.get(),
                    &pairs.get(),
                    CONFIRM_PARAM,
                    Some(CONFIRM_UNINSTALL_SAMPLE),
                )
            };
            view! {
                <A href=href attr:class="button secondary">"Uninstall Sample Application"</A>
            }
            .into_any()
        }
        Some(why) => view! {
            <button type="button" class="button secondary" disabled title=why>
                "Uninstall Sample Application"
            </button>
        }
        .into_any(),
    });
    let status = app.status();
    let (running, all) = app.running_count();
    let name = app.name.clone();
    let data_app = app.name.clone();
    view! {
        <article class="app-card" data-app=data_app>
            <header class="app-card-header">
                <h2>
                    <A href=href_with_project(&format!("/applications/{name}"), Some(&project))>
                        {name.clone()}
                    </A>
                </h2>
                <StatusBadge status />
                <span class="rollout">
                    <progress value=running max=all.max(1)></progress>
                    <span data-testid="running-count">{format!("{running}/{all} workloads running")}</span>
                </span>
                {uninstall_button}
            </header>
            {(!routes.is_empty())
                .then(|| {
                    view! {
                        <ul class="routes">
                            {routes
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <li>
                                            "Route: " <code>{r.host.clone()}</code>
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
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                })}
            <WorkloadTable components=app.components />
        </article>
    }
}
