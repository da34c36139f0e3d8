//! The Grayscale Release section: the release modes users know from KubeSphere, each
//! starting the Create Job wizard, and the project's jobs with their live state.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::ChooseProject;
use crate::api::history::list_finished_jobs;
use crate::api::releases::list_release_jobs;
use crate::components::error_panel::error_panel;
use crate::components::live::use_live;
use crate::components::permissions::{DeniedNote, denial, permissions_resource};
use crate::components::refresh_control::{RefreshControl, use_refresh_tick};
use crate::components::use_project;
use crate::domain::access::Action;
use crate::domain::applications::format_age;
use crate::domain::links::{encode_query_value, href_with_project};
use crate::domain::release::jobs::JobView;
use crate::domain::timefmt;

/// The modes offered, with the wizard's strategy key.
const MODES: [(&str, &str, &str); 3] = [
    (
        "Canary Release",
        "canary",
        "Send a share of traffic (Forward by traffic ratio) or chosen requests (Forward by request content) to the new version.",
    ),
    (
        "Blue-Green Deployment",
        "blue-green",
        "Run the new version beside the old one and switch all traffic in one step.",
    ),
    (
        "Traffic Mirroring",
        "mirroring",
        "Copy a share of live requests to the new version; its answers are discarded.",
    ),
];

#[component]
pub fn GrayscaleReleasePage() -> impl IntoView {
    let project = use_project();
    let tick = use_refresh_tick();
    view! {
        <Title text="Grayscale Release" />
        <header class="page-header">
            <div class="page-title-row">
                <h1>"Grayscale Release"</h1>
                {move || project.get().map(|_| view! { <div class="page-actions"><RefreshControl tick /></div> })}
            </div>
            <p class="lead">
                "Release a new version of a component gradually, watch both versions side by side, then let one take over."
            </p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => view! { <Modes project=p.clone() /> <JobList project=p tick /> }.into_any(),
        }}
    }
}

#[component]
fn Modes(project: String) -> impl IntoView {
    let perms = permissions_resource(project.clone());
    view! {
        <Transition fallback=|| ()>
            {move || {
                let denied = denial(perms, Action::CreateJob);
                view! {
                    <section class="modes" aria-label="Release modes">
                        {MODES
                            .into_iter()
                            .map(|(title, key, text)| {
                                let href = format!(
                                    "{}&strategy={key}",
                                    href_with_project("/grayscale-release/new", Some(&project))
                                );
                                let action = match &denied {
                                    None => view! { <A href=href attr:class="button">"Create Job"</A> }.into_any(),
                                    Some(why) => view! {
                                        <button type="button" class="button" disabled title=why.clone()>"Create Job"</button>
                                    }.into_any(),
                                };
                                view! {
                                    <div class="mode-card">
                                        <h2>{title}</h2>
                                        <p>{text}</p>
                                        {action}
                                    </div>
                                }
                            })
                            .collect_view()}
                    </section>
                    <DeniedNote reason=denied.clone() />
                }
            }}
        </Transition>
    }
}

#[component]
fn JobList(project: String, tick: RwSignal<u32>) -> impl IntoView {
    // A job created, changed or gone anywhere (another operator, kubectl) refetches the
    // list at once; polling covers the stream being down.
    let live = use_live(project.clone());
    let jobs = {
        let project = project.clone();
        Resource::new(
            move || {
                (
                    project.clone(),
                    tick.get(),
                    live.job_changes.get(),
                    live.fallback_tick.get(),
                )
            },
            |(p, _, _, _)| list_release_jobs(p),
        )
    };
    let finished_project = project.clone();
    view! {
        <section class="panel">
            <h2>"Job Status"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading jobs…"</p> }>
                <ErrorBoundary fallback=error_panel>
                    {move || {
                        jobs.get().map(|r| r.map(|jobs| view! { <JobTable jobs project=project.clone() /> }))
                    }}
                </ErrorBoundary>
            </Transition>
        </section>
        <FinishedJobs project=finished_project changed=Signal::derive(move || live.job_changes.get()) />
    }
}

/// Jobs that ended (Job Offline, deleted) whose history is still kept.
#[component]
fn FinishedJobs(project: String, changed: Signal<u32>) -> impl IntoView {
    let finished = {
        let project = project.clone();
        Resource::new(
            move || (project.clone(), changed.get()),
            |(p, _)| list_finished_jobs(p),
        )
    };
    view! {
        <Transition fallback=|| ()>
            {move || {
                finished.get().and_then(Result::ok).filter(|f| !f.is_empty()).map(|f| {
                    let project = project.clone();
                    view! {
                        <section class="panel" data-testid="finished-jobs">
                            <h2>"Finished jobs"</h2>
                            <ul class="finished-jobs">
                                {f.into_iter().map(|j| {
                                    let href = format!(
                                        "/grayscale-release/jobs/{}?project={}",
                                        encode_query_value(&j.name),
                                        encode_query_value(&project)
                                    );
                                    let last = j.last.map(|e| format!(" · last: {} by {}", e.action.label(), e.who)).unwrap_or_default();
                                    view! {
                                        <li data-job=j.name.clone()>
                                            <a href=href>{j.name.clone()}</a>
                                            {format!(" ended {} · {} entries{last}", timefmt::short(&j.job_gone_at), j.entries)}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn JobTable(jobs: Vec<JobView>, project: String) -> impl IntoView {
    if jobs.is_empty() {
        return view! {
            <p class="muted">"No release jobs in this project. Choose a release mode above to create one."</p>
        }
            .into_any();
    }
    view! {
        <table class="workloads jobs">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Strategy"</th>
                    <th>"Component"</th>
                    <th>"Versions (traffic)"</th>
                    <th>"Status"</th>
                    <th>"Creator"</th>
                    <th>"Created"</th>
                </tr>
            </thead>
            <tbody>
                {jobs
                    .into_iter()
                    .map(|j| {
                        let href = format!(
                            "/grayscale-release/jobs/{}?project={}",
                            encode_query_value(&j.name),
                            encode_query_value(&project)
                        );
                        let versions = if j.versions.is_empty() {
                            format!("{} → {}", j.spec.base_version, j.spec.new_version)
                        } else {
                            j.versions
                                .iter()
                                .map(|v| format!("{} {}%", v.version, v.weight))
                                .collect::<Vec<_>>()
                                .join(" · ")
                        };
                        let row = j.name.clone();
                        view! {
                            <tr data-job=row>
                                <td>
                                    <A href=href>{j.name.clone()}</A>
                                </td>
                                <td>{j.spec.strategy.label()}</td>
                                <td>{j.spec.component.clone()}</td>
                                <td>{versions}</td>
                                <td>
                                    <span class="phase">{j.phase.clone().unwrap_or_else(|| "Pending".into())}</span>
                                    <div class="muted small">{j.message.clone().unwrap_or_default()}</div>
                                </td>
                                <td>{j.spec.creator.clone().unwrap_or_else(|| "-".into())}</td>
                                <td>{j.age_seconds.map(format_age).unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
        .into_any()
}
