//! One release job, live: a card per version (image, ready pods with a rollout bar,
//! traffic share), the strategy's control (the slider, the rules, the blue-green switch,
//! the mirrored share), and the actions Take Over, roll back, Job Offline and delete, each
//! confirmed first. A change made by someone else in between is reported, not overwritten.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::ChooseProject;
use crate::api::releases::{ChangeReleaseJob, DeleteReleaseJob, get_release_job};
use crate::components::analysis_panel::AnalysisPanel;
use crate::components::error_panel::error_panel;
use crate::components::job_history::JobHistoryPanel;
use crate::components::live::{LiveChip, use_live};
use crate::components::permissions::{DeniedNote, denial, permissions_resource};
use crate::components::refresh_control::{RefreshControl, use_refresh_tick};
use crate::components::release_charts::ReleaseCharts;
use crate::components::rules_editor::RulesEditor;
use crate::components::traffic_slider::TrafficSlider;
use crate::components::use_project;
use crate::components::weights_editor::WeightsEditor;
use crate::domain::access::Action;
use crate::domain::links::href_with_project;
use crate::domain::release::jobs::{JobChange, JobView, VersionView};
use crate::domain::release::{Side, Strategy, render};
use crate::error::AppError;

#[component]
pub fn ReleaseDetailPage() -> impl IntoView {
    let project = use_project();
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("job").unwrap_or_default());
    view! {
        <Title text=move || name.get() />
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => view! { <Detail project=p name=name.get() /> }.into_any(),
        }}
    }
}

/// An action waiting for the person to confirm it.
#[derive(Clone, PartialEq)]
enum Pending {
    Change(JobChange, String),
    Delete,
}

#[component]
fn Detail(project: String, name: String) -> impl IntoView {
    let tick = use_refresh_tick();
    let perms = permissions_resource(project.clone());
    let change = ServerAction::<ChangeReleaseJob>::new();
    let delete = ServerAction::<DeleteReleaseJob>::new();
    // Pushed changes arrive at once; polling stays for when the stream is down.
    let live = use_live(project.clone());
    let job = {
        let (project, name) = (project.clone(), name.clone());
        Resource::new(
            move || {
                (
                    project.clone(),
                    name.clone(),
                    tick.get(),
                    change.version().get(),
                    live.fallback_tick.get(),
                )
            },
            |(p, n, _, _, _)| get_release_job(p, n),
        )
    };
    // The charts follow the refresh interval, and a pushed change at once.
    let chart_tick = RwSignal::new(0u32);
    Effect::new(move || {
        tick.track();
        chart_tick.update(|t| *t = t.wrapping_add(1));
    });
    {
        let name = name.clone();
        Effect::new(move || match live.job(&name) {
            Some(Some(pushed)) => {
                job.set(Some(Ok(pushed)));
                chart_tick.update(|t| *t = t.wrapping_add(1));
            }
            Some(None) => job.set(Some(Err(AppError::NotFound(format!(
                "The release job \"{name}\" is gone: it went offline or was deleted."
            ))))),
            None => {}
        });
    }
    // The slider keeps what the person is doing; refreshes only move it when idle.
    let slider = RwSignal::new(0u8);
    let dragging = RwSignal::new(false);
    let rules = RwSignal::new(Vec::new());
    let rules_loaded = RwSignal::new(false);
    let mirror = RwSignal::new(0u8);
    // The N-way control's shares and locks, kept across refreshes like the slider.
    let shares = RwSignal::new(Vec::<u8>::new());
    let locks = RwSignal::new(Vec::<bool>::new());
    Effect::new(move || {
        if let Some(Ok(j)) = job.get() {
            if !dragging.get_untracked() {
                if let Strategy::TrafficRatio { new_percent } = j.spec.strategy {
                    // Automatic steps move the split themselves: show what is applied.
                    slider.set(if j.spec.analysis.is_some() {
                        j.new_weight()
                    } else {
                        new_percent
                    });
                }
                if let Strategy::Mirroring { percent } = j.spec.strategy {
                    mirror.set(percent);
                }
                if !j.spec.also_serving.is_empty() {
                    shares.set(render::requested_shares(&j.spec));
                }
            }
            if let Strategy::RequestContent { rules: r } = &j.spec.strategy
                && !rules_loaded.get_untracked()
            {
                rules.set(r.clone());
                rules_loaded.set(true);
            }
        }
    });
    let pending = RwSignal::new(None::<Pending>);
    let navigate = use_navigate();
    let list_href = href_with_project("/grayscale-release", Some(&project));
    {
        let list_href = list_href.clone();
        Effect::new(move || {
            let deleted = matches!(delete.value().get(), Some(Ok(())));
            let offline = matches!(
                change.value().get(),
                Some(Ok(ref j)) if j.offline_keep.is_some()
            );
            if deleted || offline {
                navigate(&list_href, Default::default());
            }
        });
    }

    let (p2, n2) = (project.clone(), name.clone());
    let send = move |c: JobChange| {
        if let Some(Ok(j)) = job.get_untracked() {
            change.dispatch(ChangeReleaseJob {
                project: p2.clone(),
                name: n2.clone(),
                generation: j.generation,
                change: c,
            });
        }
    };
    let send = StoredValue::new(send);
    // An automatic release's overrides: confirmed first when they ask to be.
    let ask = Callback::new(
        move |(c, confirm): (JobChange, Option<String>)| match confirm {
            Some(text) => pending.set(Some(Pending::Change(c, text))),
            None => send.with_value(|s| s(c)),
        },
    );
    let (p3, n3) = (project.clone(), name.clone());

    view! {
        <header class="page-header">
            <p class="crumbs">
                <A href=list_href.clone()>"Grayscale Release"</A>
                " / "
                {name.clone()}
            </p>
            <div class="page-title-row">
                <h1>{name.clone()}</h1>
                <div class="page-actions">
                    <LiveChip live />
                    <RefreshControl tick />
                </div>
            </div>
        </header>
        <Transition fallback=|| view! { <p class="loading">"Loading the job…"</p> }>
            <ErrorBoundary fallback=error_panel>
                {move || {
                    job.get()
                        .map(|r| {
                            r.map(|j| {
                                // An automatic release's own rollback or promotion counts as a Take Over.
                                let taken = j.spec.taken_over_by.or_else(|| j.analysis.as_ref().and_then(|a| a.decided()));
                                let base_v = j.spec.base_version.clone();
                                let new_v = j.spec.new_version.clone();
                                let change_denied = denial(perms, Action::ChangeJob);
                                let delete_denied = denial(perms, Action::DeleteJob);
                                let no_change = change_denied.is_some();
                                let change_why = change_denied.clone().unwrap_or_default();
                                let delete_why = delete_denied.clone().unwrap_or_default();
                                view! {
                                    <section class="panel">
                                        <h2>
                                            {j.spec.strategy.label()} " · " {j.spec.component.clone()} " · "
                                            <span class="phase" data-testid="phase">
                                                {j.phase.clone().unwrap_or_else(|| "Pending".into())}
                                            </span>
                                        </h2>
                                        <p data-testid="job-message">{j.message.clone().unwrap_or_default()}</p>
                                        <p class="hint" data-testid="job-routing">{format!("Routing: {}", j.spec.routing.label())}</p>
                                    </section>
                                    <div class="version-cards">
                                        {version_cards(&j)}
                                    </div>
                                    {j.spec.analysis.is_some().then(|| view! { <AnalysisPanel job=j.clone() on_change=ask locked=change_denied.clone() /> })}
                                    <section class="panel controls">
                                        <h2>"Traffic"</h2>
                                        {controls(&j, Editing { slider, dragging, rules, mirror, shares, locks }, send, taken.is_some(), change_denied.clone())}
                                    </section>
                                    <section class="panel">
                                        <h2>"Actions"</h2>
                                        <div class="actions-row">
                                            <button type="button" class="button" disabled=no_change || taken == Some(Side::New) title=change_why.clone()
                                                on:click={let new_v = new_v.clone(); move |_| pending.set(Some(Pending::Change(JobChange::TakeOver(Side::New), format!("Take Over: send all traffic to {new_v}?"))))}>
                                                {format!("Take Over ({new_v})")}
                                            </button>
                                            <button type="button" class="button secondary" disabled=no_change || taken == Some(Side::Base) title=change_why.clone()
                                                on:click={let base_v = base_v.clone(); move |_| pending.set(Some(Pending::Change(JobChange::TakeOver(Side::Base), format!("Roll back: send all traffic to {base_v}?"))))}>
                                                {format!("Roll back ({base_v} takes over)")}
                                            </button>
                                            <button type="button" class="button secondary" disabled=no_change || taken.is_none()
                                                title=if no_change { change_why.clone() } else { "Available once one version has taken over".to_string() }
                                                on:click=move |_| {
                                                    let gone = match taken {
                                                        Some(Side::New) => j.spec.base_workload.clone(),
                                                        _ => j.spec.new_workload(),
                                                    };
                                                    pending.set(Some(Pending::Change(JobChange::Offline, format!("Job Offline: delete {gone} and this job, and route plainly to the version that took over?"))));
                                                }>
                                                "Job Offline"
                                            </button>
                                            <button type="button" class="button danger" disabled=delete_denied.is_some() title=delete_why
                                                on:click=move |_| pending.set(Some(Pending::Delete))>
                                                "Delete job"
                                            </button>
                                        </div>
                                        <DeniedNote reason=change_denied.clone().or(delete_denied.clone()) />
                                    </section>
                                }
                            })
                        })
                }}
            </ErrorBoundary>
        </Transition>
        <ReleaseCharts project=project.clone() name=name.clone() tick=chart_tick />
        <JobHistoryPanel project=project.clone() name=name.clone() changed=Signal::derive(move || chart_tick.get()) />
        {move || pending.get().map(|p| {
            let text = match &p {
                Pending::Change(_, t) => t.clone(),
                Pending::Delete => "Delete this job? Its new version is removed and routing returns to the version it started from.".into(),
            };
            let (p4, n4) = (p3.clone(), n3.clone());
            view! {
                <div class="modal-backdrop">
                    <div class="modal" role="dialog" aria-modal="true" aria-label="Confirm">
                        <p>{text}</p>
                        <div class="modal-actions">
                            <button type="button" class="button secondary" on:click=move |_| pending.set(None)>"Cancel"</button>
                            <button type="button" class="button" on:click=move |_| {
                                match p.clone() {
                                    Pending::Change(c, _) => send.with_value(|s| s(c)),
                                    Pending::Delete => { delete.dispatch(DeleteReleaseJob { project: p4.clone(), name: n4.clone() }); }
                                }
                                pending.set(None);
                            }>"Confirm"</button>
                        </div>
                    </div>
                </div>
            }
        })}
        {move || change.value().get().and_then(Result::err).map(|e| view! {
            <p class="panel-error" role="alert" data-testid="change-error">{e.to_string()}</p>
        })}
        {move || delete.value().get().and_then(Result::err).map(|e| view! {
            <p class="panel-error" role="alert">{e.to_string()}</p>
        })}
    }
}

fn version_cards(j: &JobView) -> impl IntoView + use<> {
    let versions: Vec<VersionView> = if j.versions.is_empty() {
        vec![
            VersionView {
                version: j.spec.base_version.clone(),
                workload: j.spec.base_workload.clone(),
                image: String::new(),
                desired: 0,
                ready: 0,
                weight: 100,
            },
            VersionView {
                version: j.spec.new_version.clone(),
                workload: j.spec.new_workload(),
                image: j.spec.image.clone(),
                desired: j.spec.replicas,
                ready: 0,
                weight: 0,
            },
        ]
    } else {
        j.versions.clone()
    };
    versions
        .into_iter()
        .map(|v| {
            let id = v.version.clone();
            view! {
                <div class="version-card" data-version=id>
                    <h3>{v.version.clone()} <span class="muted small">{format!(" {}", v.workload)}</span></h3>
                    <div class="share" data-testid="share">{format!("{}%", v.weight)}</div>
                    <div class="muted small">"of traffic"</div>
                    <p class="image">{v.image.clone()}</p>
                    <progress value=v.ready max=v.desired.max(1)></progress>
                    <span data-testid="ready">{format!(" {}/{} pods ready", v.ready, v.desired)}</span>
                </div>
            }
        })
        .collect_view()
}

/// What the person is editing on the page, kept across refreshes.
#[derive(Clone, Copy)]
struct Editing {
    slider: RwSignal<u8>,
    dragging: RwSignal<bool>,
    shares: RwSignal<Vec<u8>>,
    locks: RwSignal<Vec<bool>>,
    rules: RwSignal<Vec<crate::domain::release::rules::ContentRule>>,
    mirror: RwSignal<u8>,
}

fn controls<F: Fn(JobChange) + Send + Sync + 'static>(
    j: &JobView,
    editing: Editing,
    send: StoredValue<F>,
    taken: bool,
    // Why the user may not change the job, if so: every control is then disabled.
    locked: Option<String>,
) -> impl IntoView + use<F> {
    let Editing {
        slider,
        dragging,
        shares,
        locks,
        rules,
        mirror,
    } = editing;
    let off = locked.is_some();
    let why = locked.unwrap_or_default();
    if taken {
        return view! { <p>"One version has taken over all traffic. Job Offline removes the other; deleting the job undoes the release."</p> }.into_any();
    }
    match &j.spec.strategy {
        Strategy::TrafficRatio { .. } if !j.spec.also_serving.is_empty() => {
            // N-way: every version's share, as the job asks for it.
            let release = Callback::new(move |w: Vec<u8>| {
                dragging.set(false);
                send.with_value(|s| {
                    s(JobChange::Shares {
                        new_percent: w.get(1).copied().unwrap_or(0),
                        others: w.get(2..).unwrap_or_default().to_vec(),
                    })
                });
            });
            let versions: Vec<String> = j.spec.versions().into_iter().map(str::to_string).collect();
            view! {
                <p class="hint">"Move any version's share (or use the arrow keys, or type a number); the unlocked others make room so the total stays 100%. Lock a version to keep its share. The split is applied when you let go."</p>
                <div on:pointerdown=move |_| dragging.set(true) on:keydown=move |_| dragging.set(true)>
                    <WeightsEditor versions shares locks on_release=release disabled=Signal::derive(move || off) />
                </div>
            }
                .into_any()
        }
        Strategy::TrafficRatio { .. } => {
            let release = Callback::new(move |v: u8| {
                dragging.set(false);
                send.with_value(|s| s(JobChange::NewPercent(v)));
            });
            let hint = if j.spec.analysis.is_some() {
                "The automatic steps move this split. Moving the slider yourself pauses them (Resume goes back to the plan)."
            } else {
                "Drag the slider (or use the arrow keys, or type a number): the split is applied when you let go."
            };
            view! {
                <p class="hint">{hint}</p>
                <div on:pointerdown=move |_| dragging.set(true) on:keydown=move |_| dragging.set(true)>
                    <TrafficSlider base_version=j.spec.base_version.clone() new_version=j.spec.new_version.clone() value=slider on_release=release disabled=Signal::derive(move || off) />
                </div>
            }
                .into_any()
        }
        Strategy::RequestContent { .. } => view! {
            <p class="hint">{format!("Requests matching every rule go to {}; all others to {}.", j.spec.new_version, j.spec.base_version)}</p>
            <RulesEditor rules />
            <button type="button" class="button" disabled=off title=why.clone() on:click=move |_| send.with_value(|s| s(JobChange::Rules(rules.get_untracked())))>"Save rules"</button>
        }
            .into_any(),
        Strategy::BlueGreen { serving } => {
            let (to, label) = match serving {
                Side::Base => (Side::New, format!("Switch all traffic to {}", j.spec.new_version)),
                Side::New => (Side::Base, format!("Switch all traffic back to {}", j.spec.base_version)),
            };
            view! {
                <button type="button" class="button" disabled=off title=why.clone() on:click=move |_| send.with_value(|s| s(JobChange::Serving(to)))>{label}</button>
            }
                .into_any()
        }
        Strategy::Mirroring { .. } => view! {
            <label class="field">
                {format!("Share of requests mirrored to {} (%)", j.spec.new_version)}
                <input type="number" min="0" max="100" disabled=off title=why.clone() prop:value=move || mirror.get().to_string()
                    on:change=move |ev| {
                        let v = event_target_value(&ev).parse::<u8>().unwrap_or(0).min(100);
                        mirror.set(v);
                        send.with_value(|s| s(JobChange::MirrorPercent(v)));
                    } />
            </label>
        }
            .into_any(),
    }
}
