//! "Create Job": the four-step release wizard (basic info → component → new version →
//! strategy), each step checked before the next, and a review step showing exactly the
//! YAML that will be applied (rendered and checked by the server, regexes included).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use super::ChooseProject;
use crate::api::applications::list_applications;
use crate::api::releases::{
    AdoptRouting, CreateReleaseJob, list_release_jobs, preview_release_job,
};
use crate::components::auto_steps_editor::AutoStepsEditor;
use crate::components::permissions::{DeniedNote, denial, permissions_resource};
use crate::components::rules_editor::RulesEditor;
use crate::components::traffic_slider::TrafficSlider;
use crate::components::use_project;
use crate::components::weights_editor::WeightsEditor;
use crate::domain::access::Action;
use crate::domain::applications::{RoutingObject, WorkloadInfo};
use crate::domain::links::encode_query_value;
use crate::domain::names::check_dns_label;
use crate::domain::release::analysis::form::PlanForm;
use crate::domain::release::jobs::{check_image, suggest_image};
use crate::domain::release::rules::{ContentRule, MatchOp, RuleKind, validate as validate_rules};
use crate::domain::release::validation::check_analysis;
use crate::domain::release::{OtherVersion, ReleaseSpec, Routing, Side, Strategy};

const STEPS: [&str; 5] = [
    "Basic Info",
    "Component",
    "New Version",
    "Strategy",
    "Review",
];

/// One releasable component, flattened from the Applications view.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Choice {
    app: String,
    service: String,
    workloads: Vec<WorkloadInfo>,
    active_job: Option<String>,
    /// The project runs in Istio's ambient mode: HTTPRoute routing suits it best.
    ambient: bool,
}

fn next_version(versions: &[String]) -> String {
    let highest = versions
        .iter()
        .filter_map(|v| v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()))
        .max()
        .unwrap_or(1);
    format!("v{}", highest + 1)
}

#[component]
pub fn ReleaseWizardPage() -> impl IntoView {
    let project = use_project();
    view! {
        <Title text="Create Job" />
        <header class="page-header">
            <h1>"Create Job"</h1>
            <p class="lead">"A grayscale release job: a new version of one component, and how traffic reaches it."</p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => view! { <Wizard project=p /> }.into_any(),
        }}
    }
}

#[component]
fn Wizard(project: String) -> impl IntoView {
    let query = use_query_map();
    let initial_strategy = match query.read_untracked().get("strategy").as_deref() {
        Some("blue-green") => "blue-green",
        Some("mirroring") => "mirroring",
        _ => "ratio",
    };
    // `?routing=httproute` opens the wizard on Gateway API routing.
    let initial_routing = match query.read_untracked().get("routing").as_deref() {
        Some("httproute") => Routing::HttpRoute,
        _ => Routing::VirtualService,
    };
    let routing = RwSignal::new(initial_routing);
    // Until the person picks one: HTTPRoute in an ambient project (its waypoint supports
    // Gateway API fully, VirtualService only as Alpha), VirtualService elsewhere.
    let routing_picked = RwSignal::new(query.read_untracked().get("routing").is_some());
    let step = RwSignal::new(0usize);
    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(None::<Choice>);
    let base = RwSignal::new(None::<WorkloadInfo>);
    let new_version = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let replicas = RwSignal::new(1i32);
    let strategy = RwSignal::new(initial_strategy.to_string());
    let new_percent = RwSignal::new(50u8);
    let rules = RwSignal::new(vec![ContentRule {
        kind: RuleKind::Header {
            name: "end-user".into(),
        },
        op: MatchOp::Exact,
        value: "jason".into(),
    }]);
    let serving = RwSignal::new(Side::New);
    // "Split across every version": the component's other versions keep a share too.
    let n_way = RwSignal::new(false);
    let shares = RwSignal::new(vec![50u8, 50]);
    let mirror_percent = RwSignal::new(100u8);
    let plan_form = RwSignal::new(PlanForm::default());
    let problems = RwSignal::new(Vec::<String>::new());
    let perms = permissions_resource(project.clone());

    let choices = {
        let project = project.clone();
        Resource::new(
            move || project.clone(),
            |p| async move {
                let apps = list_applications(p.clone()).await?;
                let ambient = apps.project.dataplane.ambient;
                let jobs = list_release_jobs(p).await.unwrap_or_default();
                Ok::<_, crate::error::AppError>(
                    apps.applications
                        .into_iter()
                        .flat_map(|a| {
                            let app = a.app.name.clone();
                            let jobs = jobs.clone();
                            a.app
                                .components
                                .into_iter()
                                .filter(|c| !c.workloads.is_empty())
                                .map(move |c| Choice {
                                    app: app.clone(),
                                    active_job: jobs
                                        .iter()
                                        .find(|j| j.spec.component == c.service.name)
                                        .map(|j| j.name.clone()),
                                    service: c.service.name.clone(),
                                    workloads: c.workloads,
                                    ambient,
                                })
                        })
                        .collect::<Vec<_>>(),
                )
            },
        )
    };

    // The plan, for strategies that take one (a blue-green switch is one step).
    let plan = move || match strategy.get().as_str() {
        "blue-green" => None,
        s => plan_form.get().to_plan(s == "ratio").ok().flatten(),
    };
    let spec = move || -> Option<ReleaseSpec> {
        let c = chosen.get()?;
        let b = base.get()?;
        let split_all = n_way.get() && strategy.get() == "ratio";
        let others = if split_all {
            other_versions(&c, &b, &new_version.get())
        } else {
            Vec::new()
        };
        let w = shares.get();
        let also_serving: Vec<OtherVersion> = others
            .into_iter()
            .enumerate()
            .map(|(i, (version, workload))| OtherVersion {
                version,
                workload,
                percent: w.get(i + 2).copied().unwrap_or(0),
            })
            .collect();
        // Automatic steps move the new version against the base only.
        let analysis = if split_all { None } else { plan() };
        // Automatic steps start at their first step.
        let first_step = analysis.as_ref().and_then(|a| a.steps.first().copied());
        Some(ReleaseSpec {
            component: c.service,
            base_workload: b.name.clone(),
            base_version: b.version().unwrap_or("v1").to_string(),
            new_version: new_version.get(),
            image: image.get(),
            replicas: replicas.get(),
            strategy: match strategy.get().as_str() {
                "content" => Strategy::RequestContent { rules: rules.get() },
                "blue-green" => Strategy::BlueGreen {
                    serving: serving.get(),
                },
                "mirroring" => Strategy::Mirroring {
                    percent: mirror_percent.get(),
                },
                _ if split_all => Strategy::TrafficRatio {
                    new_percent: w.get(1).copied().unwrap_or(0),
                },
                _ => Strategy::TrafficRatio {
                    new_percent: first_step.unwrap_or_else(|| new_percent.get()),
                },
            },
            taken_over_by: None,
            // The server records the signed-in user; nothing the browser says counts.
            creator: None,
            analysis,
            routing: routing.get(),
            also_serving,
            http_route: None,
        })
    };

    // Checks for the step being left; the server checks everything again on review.
    let check_step = move |s: usize| -> Vec<String> {
        match s {
            0 => check_dns_label("Job name", &name.get())
                .err()
                .into_iter()
                .collect(),
            1 => match (chosen.get(), base.get()) {
                (None, _) => vec!["Choose the component (Service) to release.".into()],
                (Some(c), _) if c.active_job.is_some() => vec![format!(
                    "{} is being released by job {}: finish it (Take Over, then Job Offline) or delete it first.",
                    c.service,
                    c.active_job.unwrap_or_default()
                )],
                (_, None) => vec!["Choose the version that serves today.".into()],
                _ => vec![],
            },
            2 => {
                let mut p: Vec<String> = check_dns_label("Version", &new_version.get())
                    .err()
                    .into_iter()
                    .collect();
                let used: Vec<String> = chosen
                    .get()
                    .map(|c| {
                        c.workloads
                            .iter()
                            .filter_map(|w| w.version().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if used.contains(&new_version.get()) {
                    p.push(format!(
                        "Version {} is already used: choose a new version number.",
                        new_version.get()
                    ));
                }
                if let Err(e) = check_image(&image.get()) {
                    p.push(e);
                }
                if !(1..=20).contains(&replicas.get()) {
                    p.push("Replicas must be between 1 and 20.".into());
                }
                p
            }
            3 => {
                let kind = strategy.get();
                let mut p = if kind == "content" {
                    validate_rules(&rules.get(), &|_| Ok(()))
                } else {
                    vec![]
                };
                if kind != "blue-green" {
                    match plan_form.get().to_plan(kind == "ratio") {
                        Err(e) => p.extend(e),
                        Ok(Some(plan)) => {
                            if let Some(s) = spec() {
                                p.extend(check_analysis(&plan, &s.strategy));
                            }
                        }
                        Ok(None) => {}
                    }
                }
                p
            }
            _ => vec![],
        }
    };

    let preview = {
        let project = project.clone();
        Resource::new(
            move || {
                (step.get() == 4)
                    .then(|| (project.clone(), name.get(), spec()))
                    .flatten_tuple()
            },
            |args| async move {
                match args {
                    Some((p, n, Some(s))) => preview_release_job(p, n, s).await.map(Some),
                    _ => Ok(None),
                }
            },
        )
    };

    let create = ServerAction::<CreateReleaseJob>::new();
    let adopt = ServerAction::<AdoptRouting>::new();
    let navigate = use_navigate();
    {
        let project = project.clone();
        Effect::new(move || {
            if let Some(Ok(job)) = create.value().get() {
                navigate(
                    &format!(
                        "/grayscale-release/jobs/{}?project={}",
                        encode_query_value(&job.name),
                        encode_query_value(&project)
                    ),
                    Default::default(),
                );
            }
        });
    }

    let next = move |_| {
        let p = check_step(step.get_untracked());
        if p.is_empty() {
            // Prefill the next step the way the tutorial fills it.
            if step.get_untracked() == 1
                && let (Some(c), Some(b)) = (chosen.get_untracked(), base.get_untracked())
            {
                let used: Vec<String> = c
                    .workloads
                    .iter()
                    .filter_map(|w| w.version().map(str::to_string))
                    .collect();
                let v = next_version(&used);
                let base_image = b.images.first().cloned().unwrap_or_default();
                image.set(suggest_image(&base_image, b.version().unwrap_or("v1"), &v));
                new_version.set(v);
            }
            step.update(|s| *s += 1);
        }
        problems.set(p);
    };
    let back = move |_| {
        problems.set(vec![]);
        step.update(|s| *s = s.saturating_sub(1));
    };
    let project_for_create = project.clone();
    let project_for_adopt = project.clone();

    view! {
        <ol class="wizard-steps">
            {STEPS
                .iter()
                .enumerate()
                .map(|(i, label)| {
                    view! {
                        <li class:current=move || step.get() == i class:done=move || i < step.get()>
                            {format!("{}. {label}", i + 1)}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
        <Transition fallback=|| ()>
            {move || view! { <DeniedNote reason=denial(perms, Action::CreateJob) /> }}
        </Transition>
        <section class="panel wizard">
            {move || match step.get() {
                0 => view! {
                    <label class="field">
                        "Job name"
                        <input
                            type="text"
                            name="job-name"
                            placeholder="canary-release"
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))
                        />
                        <span class="hint">"Lowercase letters, digits and '-', e.g. canary-release."</span>
                    </label>
                }
                    .into_any(),
                1 => view! {
                    <Transition fallback=|| view! { <p class="loading">"Loading components…"</p> }>
                        {move || {
                            choices
                                .get()
                                .map(|r| match r {
                                    Err(e) => view! { <p class="panel-error">{e.to_string()}</p> }.into_any(),
                                    Ok(list) if list.is_empty() => view! {
                                        <p class="muted">"No component with a workload in this project: deploy an application first (Applications → Deploy Sample Application)."</p>
                                    }
                                        .into_any(),
                                    Ok(list) => view! {
                                        <ul class="choice-list">
                                            {list
                                                .into_iter()
                                                .map(|c| {
                                                    let c2 = c.clone();
                                                    let c3 = c.clone();
                                                    let versions: Vec<String> = c
                                                        .workloads
                                                        .iter()
                                                        .map(|w| format!("{} ({})", w.version().unwrap_or("-"), w.name))
                                                        .collect();
                                                    let service = c.service.clone();
                                                    view! {
                                                        <li class:selected=move || chosen.get().is_some_and(|x| x.service == c3.service)>
                                                            <label>
                                                                <input
                                                                    type="radio"
                                                                    name="component"
                                                                    value=service.clone()
                                                                    prop:checked=move || chosen.get().is_some_and(|x| x.service == c2.service)
                                                                    on:change=move |_| {
                                                                        base.set(c.workloads.first().cloned());
                                                                        chosen.set(Some(c.clone()));
                                                                        if !routing_picked.get_untracked() {
                                                                            routing.set(if c.ambient { Routing::HttpRoute } else { Routing::VirtualService });
                                                                        }
                                                                    }
                                                                />
                                                                <strong>{service}</strong>
                                                                {format!(" · application {} · versions: {}", c3.app, versions.join(", "))}
                                                            </label>
                                                            {c3.active_job.clone().map(|j| view! {
                                                                <div class="warning">{format!("Has an active release job: {j}")}</div>
                                                            })}
                                                        </li>
                                                    }
                                                })
                                                .collect_view()}
                                        </ul>
                                    }
                                        .into_any(),
                                })
                        }}
                    </Transition>
                    {move || {
                        chosen.get().filter(|c| c.workloads.len() > 1).map(|c| view! {
                            <label class="field">
                                "Version serving today"
                                <select on:change=move |ev| {
                                    let n = event_target_value(&ev);
                                    base.set(c.workloads.iter().find(|w| w.name == n).cloned());
                                }>
                                    {c.workloads.iter().map(|w| view! {
                                        <option value=w.name.clone() selected=base.get_untracked().is_some_and(|b| b.name == w.name)>
                                            {format!("{} ({})", w.version().unwrap_or("-"), w.name)}
                                        </option>
                                    }).collect_view()}
                                </select>
                            </label>
                        })
                    }}
                }
                    .into_any(),
                2 => view! {
                    <label class="field">
                        "Grayscale release version number"
                        <input type="text" name="version" prop:value=move || new_version.get() on:input=move |ev| new_version.set(event_target_value(&ev)) />
                        <span class="hint">"The new version's version label, e.g. v2."</span>
                    </label>
                    <label class="field">
                        "Image"
                        <input type="text" name="image" prop:value=move || image.get() on:input=move |ev| image.set(event_target_value(&ev)) />
                        <span class="hint">"Prefilled from the current version with the version swapped; e.g. kubesphere/examples-bookinfo-reviews-v2:1.13.0."</span>
                    </label>
                    <label class="field">
                        "Replicas"
                        <input type="number" name="replicas" min="1" max="20" prop:value=move || replicas.get().to_string()
                            on:input=move |ev| replicas.set(event_target_value(&ev).parse().unwrap_or(0)) />
                    </label>
                }
                    .into_any(),
                3 => {
                    let base_v = base.get_untracked().and_then(|b| b.version().map(str::to_string)).unwrap_or_else(|| "v1".into());
                    let new_v = new_version.get_untracked();
                    let (b1, n1) = (base_v.clone(), new_v.clone());
                    view! {
                        <fieldset class="field">
                            <legend>"Strategy"</legend>
                            {[("ratio", "Canary Release — Forward by traffic ratio"), ("content", "Canary Release — Forward by request content"), ("blue-green", "Blue-Green Deployment"), ("mirroring", "Traffic Mirroring")]
                                .into_iter()
                                .map(|(k, l)| view! {
                                    <label>
                                        <input type="radio" name="strategy" value=k prop:checked=move || strategy.get() == k on:change=move |_| strategy.set(k.to_string()) />
                                        {l}
                                    </label>
                                })
                                .collect_view()}
                        </fieldset>
                        <RoutingChoice routing picked=routing_picked component=chosen.get_untracked().map(|c| c.service).unwrap_or_default() ambient=chosen.get_untracked().is_some_and(|c| c.ambient) />
                        {move || match strategy.get().as_str() {
                            "content" => view! {
                                <p class="hint">{format!("Requests matching every rule go to {n1}; all others stay on {b1}.")}</p>
                                <RulesEditor rules />
                                <AutoStepsEditor form=plan_form ratio=false base_version=b1.clone() new_version=n1.clone() />
                            }.into_any(),
                            "blue-green" => view! {
                                <fieldset class="field">
                                    <legend>"All traffic to"</legend>
                                    <label><input type="radio" name="serving" prop:checked=move || serving.get() == Side::Base on:change=move |_| serving.set(Side::Base) />{base_v.clone()}</label>
                                    <label><input type="radio" name="serving" prop:checked=move || serving.get() == Side::New on:change=move |_| serving.set(Side::New) />{new_v.clone()}</label>
                                </fieldset>
                            }.into_any(),
                            "mirroring" => view! {
                                <label class="field">
                                    {format!("Share of requests mirrored to {} (%)", new_v)}
                                    <input type="number" min="0" max="100" name="mirror-percent" prop:value=move || mirror_percent.get().to_string()
                                        on:input=move |ev| mirror_percent.set(event_target_value(&ev).parse::<u8>().unwrap_or(0).min(100)) />
                                    <span class="hint">{format!("{} keeps serving every request; mirrored answers are discarded.", base_v)}</span>
                                </label>
                                <AutoStepsEditor form=plan_form ratio=false base_version=base_v.clone() new_version=new_v.clone() />
                            }.into_any(),
                            _ => {
                                let (b2, n2) = (base_v.clone(), new_v.clone());
                                let others = match (chosen.get_untracked(), base.get_untracked()) {
                                    (Some(c), Some(b)) => other_versions(&c, &b, &new_v),
                                    _ => Vec::new(),
                                };
                                let all: Vec<String> = [base_v.clone(), new_v.clone()]
                                    .into_iter()
                                    .chain(others.iter().map(|(v, _)| v.clone()))
                                    .collect();
                                let n_others = others.len();
                                let toggle = (n_others > 0).then(|| {
                                    let label = format!("Split across every version ({})", all.join(", "));
                                    view! {
                                        <label class="field checkbox">
                                            <input type="checkbox" name="n-way" prop:checked=move || n_way.get()
                                                on:change=move |ev| {
                                                    let on = event_target_checked(&ev);
                                                    if on {
                                                        let np = new_percent.get_untracked().min(100);
                                                        shares.set([100 - np, np].into_iter().chain(std::iter::repeat_n(0, n_others)).collect());
                                                    }
                                                    n_way.set(on);
                                                } />
                                            {label}
                                        </label>
                                    }
                                });
                                let all2 = all.clone();
                                let (b3, n3) = (base_v.clone(), new_v.clone());
                                view! {
                                    {toggle}
                                    {move || if n_way.get() && n_others > 0 {
                                        view! {
                                            <p class="hint">"Every version keeps the share you give it; the base takes what is left. Lock a version to keep its share while you move the others."</p>
                                            <WeightsEditor versions=all2.clone() shares />
                                        }.into_any()
                                    } else {
                                        let (b2, n2) = (b2.clone(), n2.clone());
                                        let (b3, n3) = (b3.clone(), n3.clone());
                                        view! {
                                            <Show when=move || !plan_form.read().enabled>
                                                <p class="hint">"Forward by traffic ratio: drag the slider, use the arrow keys, or type a number."</p>
                                                <TrafficSlider base_version=b2.clone() new_version=n2.clone() value=new_percent />
                                            </Show>
                                            <AutoStepsEditor form=plan_form ratio=true base_version=b3 new_version=n3 />
                                        }.into_any()
                                    }}
                                }.into_any()
                            }
                        }}
                    }
                        .into_any()
                }
                _ => view! {
                    <p class="routing-used">{move || format!("Routing: {}", routing.get().label())}</p>
                    <p>"This is exactly what the job will apply once both versions have ready pods (until then, traffic stays on the current version):"</p>
                    <Transition fallback=|| view! { <p class="loading">"Rendering…"</p> }>
                        {move || preview.get().map(|r| match r {
                            Ok(Some(objects)) => yaml_list(objects).into_any(),
                            Ok(None) => ().into_any(),
                            Err(e) => view! { <p class="panel-error" role="alert">{e.to_string()}</p> }.into_any(),
                        })}
                    </Transition>
                }
                    .into_any(),
            }}
            {move || {
                let p = problems.get();
                (!p.is_empty()).then(|| view! {
                    <ul class="problems" role="alert">{p.into_iter().map(|x| view! { <li>{x}</li> }).collect_view()}</ul>
                })
            }}
            {move || {
                create.value().get().and_then(Result::err).map(|e| {
                    let text = e.to_string();
                    let offer_adopt = text.contains("does not manage");
                    let project = project_for_adopt.clone();
                    view! {
                        <div class="panel-error" role="alert">
                            <p>{text}</p>
                            {offer_adopt.then(|| view! {
                                <button type="button" class="button secondary"
                                    disabled=move || denial(perms, Action::AdoptRouting).is_some()
                                    title=move || denial(perms, Action::AdoptRouting).unwrap_or_default()
                                    on:click=move |_| {
                                    if let Some(c) = chosen.get_untracked() {
                                        adopt.dispatch(AdoptRouting { project: project.clone(), component: c.service });
                                    }
                                }>
                                    "Let Sluice manage its routing"
                                </button>
                            })}
                            {move || adopt.value().get().map(|r| match r {
                                Ok(()) => "Sluice now manages it: press Create again.".to_string(),
                                Err(e) => e.to_string(),
                            })}
                        </div>
                    }
                })
            }}
            <div class="wizard-nav">
                <button type="button" class="button secondary" disabled=move || step.get() == 0 on:click=back>"Back"</button>
                {move || {
                    let project = project_for_create.clone();
                    if step.get() < 4 {
                        view! { <button type="button" class="button" on:click=next>"Next"</button> }.into_any()
                    } else {
                        view! {
                            <button
                                type="button"
                                class="button"
                                disabled=move || create.pending().get()
                                    || !matches!(preview.get(), Some(Ok(Some(_))))
                                    || denial(perms, Action::CreateJob).is_some()
                                on:click=move |_| {
                                    if let Some(spec) = spec() {
                                        create.dispatch(CreateReleaseJob { project: project.clone(), name: name.get_untracked(), spec });
                                    }
                                }
                            >
                                {move || if create.pending().get() { "Creating…" } else { "Create" }}
                            </button>
                        }
                            .into_any()
                    }
                }}
            </div>
        </section>
    }
}

fn yaml_list(objects: Vec<RoutingObject>) -> impl IntoView {
    view! {
        <div class="yaml-preview">
            {objects
                .into_iter()
                .map(|o| {
                    let title = format!("{} {}", o.kind, o.name);
                    let kind = o.kind.clone();
                    view! {
                        <details class="yaml" open=true data-kind=kind>
                            <summary>{title}</summary>
                            <pre>{o.yaml}</pre>
                        </details>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// The component's versions besides the base and the new one: (version, workload).
fn other_versions(c: &Choice, base: &WorkloadInfo, new_version: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = c
        .workloads
        .iter()
        .filter(|w| w.name != base.name)
        .filter_map(|w| Some((w.version()?.to_string(), w.name.clone())))
        .filter(|(v, _)| Some(v.as_str()) != base.version() && v != new_version)
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Which objects the release writes: Istio's VirtualService or Gateway API's HTTPRoute.
#[component]
fn RoutingChoice(
    routing: RwSignal<Routing>,
    picked: RwSignal<bool>,
    component: String,
    ambient: bool,
) -> impl IntoView {
    let options = [
        (
            Routing::VirtualService,
            "virtualservice",
            format!(
                "A DestinationRule with a subset per version and a VirtualService for {component}, \
                 as KubeSphere writes them."
            ),
        ),
        (
            Routing::HttpRoute,
            "httproute",
            format!(
                "An HTTPRoute attached to Service {component} with a Service per version \
                 ({component}-<version>): Istio's recommended API, and the one ambient \
                 waypoints support fully. When an HTTPRoute is attached to {component} \
                 already, the release is written to that route."
            ),
        ),
    ];
    view! {
        <fieldset class="field">
            <legend>"Routing"</legend>
            {options
                .into_iter()
                .map(|(r, value, hint)| view! {
                    <label>
                        <input type="radio" name="routing" value=value prop:checked=move || routing.get() == r on:change=move |_| { routing.set(r); picked.set(true); } />
                        {r.label()}
                        <span class="hint">{hint}</span>
                    </label>
                })
                .collect_view()}
            {ambient.then(|| view! {
                <p class="hint">"This project runs in Istio's ambient mode: its waypoint applies HTTPRoutes fully (VirtualServices only as Alpha), so Gateway API HTTPRoute is the default here."</p>
            })}
        </fieldset>
    }
}

/// `Option<(A, B, Option<C>)>` helper for the preview resource's source.
trait FlattenTuple<T> {
    fn flatten_tuple(self) -> Option<T>;
}

impl<T> FlattenTuple<T> for Option<T> {
    fn flatten_tuple(self) -> Option<T> {
        self
    }
}
