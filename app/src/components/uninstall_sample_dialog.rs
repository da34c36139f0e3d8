//! The confirm dialog of "Uninstall Sample Application": it lists what will be removed and
//! what stays, refuses up front while a release job of a component exists, and then shows
//! the removal until nothing is left. The dialog is part of the URL
//! (`?confirm=uninstall-sample`) and the form is an `ActionForm`, so it works before (or
//! without) the wasm bundle: the post comes back to the dialog, which shows what is left.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use super::deploy_sample_dialog::CONFIRM_PARAM;
use super::use_query_pairs;
use crate::api::applications::{UninstallSampleApp, preview_sample_uninstall};
use crate::domain::applications::ObjectRef;
use crate::domain::links::with_param;
use crate::domain::sample_uninstall::{Progress, UninstallPreview};

pub const CONFIRM_UNINSTALL_SAMPLE: &str = "uninstall-sample";

/// How often the removal is looked at while it runs.
const POLL: Duration = Duration::from_millis(1000);

#[component]
pub fn UninstallSampleDialog(
    project: String,
    /// Bumped while the removal runs, so the page's list follows.
    tick: RwSignal<u32>,
) -> impl IntoView {
    let pairs = use_query_pairs();
    let pathname = use_location().pathname;
    let close_href = move || with_param(&pathname.get(), &pairs.get(), CONFIRM_PARAM, None);
    let uninstall = ServerAction::<UninstallSampleApp>::new();
    // What the uninstall asked to delete: the progress is measured against it.
    let requested = Memo::new(move |_| uninstall.value().get().and_then(Result::ok));
    let poll = RwSignal::new(0u32);
    let preview = {
        let project = project.clone();
        Resource::new(
            move || (project.clone(), poll.get()),
            |(p, _)| preview_sample_uninstall(p),
        )
    };
    let done = Memo::new(move |_| {
        let (Some(asked), Some(Ok(now))) = (requested.get(), preview.get()) else {
            return false;
        };
        Progress::of(&asked, &now).done()
    });
    // Look again every second from the uninstall until nothing is left.
    Effect::new(move || {
        if requested.get().is_some() && !done.get() {
            let bump = move || {
                poll.update(|t| *t = t.wrapping_add(1));
                tick.update(|t| *t = t.wrapping_add(1));
            };
            if let Ok(handle) = set_interval_with_handle(bump, POLL) {
                on_cleanup(move || handle.clear());
            }
        }
    });
    Effect::new(move || {
        if done.get() {
            tick.update(|t| *t = t.wrapping_add(1));
        }
    });

    let body = move || {
        preview.get().map(|r| {
            r.map(|p| match requested.get() {
                Some(asked) => view! { <RemovalProgress asked now=p close_href /> }.into_any(),
                None => view! { <Confirm p uninstall close_href /> }.into_any(),
            })
        })
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="uninstall-sample-title">
                <h2 id="uninstall-sample-title">"Uninstall Sample Application"</h2>
                <Transition fallback=|| view! { <p>"Checking the project…"</p> }>
                    <ErrorBoundary fallback=crate::components::error_panel::error_panel>
                        {body}
                    </ErrorBoundary>
                </Transition>
                {move || {
                    uninstall
                        .value()
                        .get()
                        .and_then(Result::err)
                        .map(|e| {
                            view! {
                                <p class="panel-error" role="alert" data-testid="uninstall-error">
                                    {e.to_string()}
                                </p>
                            }
                        })
                }}
            </div>
        </div>
    }
}

fn pods_text(pods: usize) -> String {
    match pods {
        0 => "no pods left.".to_string(),
        1 => "1 pod terminating.".to_string(),
        n => format!("{n} pods terminating."),
    }
}

fn object_rows(objects: Vec<(String, String, &'static str)>) -> impl IntoView {
    view! {
        <table class="object-list">
            <thead>
                <tr>
                    <th>"Kind"</th>
                    <th>"Name"</th>
                    <th>"State"</th>
                </tr>
            </thead>
            <tbody>
                {objects
                    .into_iter()
                    .map(|(kind, name, state)| {
                        view! {
                            <tr data-object=format!("{kind}/{name}") data-state=state>
                                <td>{kind.clone()}</td>
                                <td>{name.clone()}</td>
                                <td>{state}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// Before: what goes, what stays, and what stops it.
#[component]
fn Confirm(
    p: UninstallPreview,
    uninstall: ServerAction<UninstallSampleApp>,
    close_href: impl Fn() -> String + Send + Sync + Copy + 'static,
) -> impl IntoView {
    if p.is_empty() {
        return view! {
            <p data-testid="uninstall-done">
                "Nothing of the sample application is left in project "
                <strong>{p.project.clone()}</strong> ": all removed."
            </p>
            <div class="modal-actions">
                <A href=close_href attr:class="button secondary">"Close"</A>
            </div>
        }
        .into_any();
    }
    // Back from a plain form post (no JavaScript): the deletions were made and only
    // their tail (terminating pods, finalizers) is left. Each reload shows how far it got.
    let removing = p.objects.iter().all(|o| o.deleting);
    if removing {
        let rows: Vec<(String, String, &'static str)> = p
            .objects
            .iter()
            .map(|o| (o.kind.clone(), o.name.clone(), "deleting…"))
            .collect();
        return view! {
            <p data-testid="uninstall-progress">
                "Removing… " {pods_text(p.pods.len())} " Reload to follow it."
            </p>
            {object_rows(rows)}
            <div class="modal-actions">
                <A href=close_href attr:class="button secondary">"Close"</A>
            </div>
        }
        .into_any();
    }
    let blocked = !p.blockers.is_empty();
    let refusal = blocked.then(|| {
        view! {
            <p class="panel-error" role="alert" data-testid="uninstall-blocked">
                "Cannot uninstall: " {p.blockers.join("; ")} "."
            </p>
        }
    });
    let kept = (!p.kept.is_empty()).then(|| {
        let names: Vec<String> = p.kept.iter().map(ToString::to_string).collect();
        view! {
            <p class="note" data-testid="uninstall-kept">
                "These stay (Sluice did not create them): " {names.join(", ")} "."
            </p>
        }
    });
    let pods = p.pods.len();
    let rows: Vec<(String, String, &'static str)> = p
        .objects
        .iter()
        .map(|o| {
            let state = if o.deleting { "deleting…" } else { "" };
            (o.kind.clone(), o.name.clone(), state)
        })
        .collect();
    view! {
        {refusal}
        <p>
            "Bookinfo and what releases added to it will be removed from project "
            <strong>{p.project.clone()}</strong> {format!(" ({pods} pods go with their workloads):")}
        </p>
        {object_rows(rows)}
        {kept}
        <ActionForm action=uninstall>
            <input type="hidden" name="project" value=p.project.clone() />
            <div class="modal-actions">
                <A href=close_href attr:class="button secondary">"Cancel"</A>
                <button
                    type="submit"
                    class="button danger"
                    disabled=move || blocked || uninstall.pending().get()
                >
                    {move || if uninstall.pending().get() { "Uninstalling…" } else { "Uninstall" }}
                </button>
            </div>
        </ActionForm>
    }
    .into_any()
}

/// After: each requested object deleting… → gone, the pods terminating, then all removed.
#[component]
fn RemovalProgress(
    asked: Vec<ObjectRef>,
    now: UninstallPreview,
    close_href: impl Fn() -> String + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let progress = Progress::of(&asked, &now);
    let done = progress.done();
    let rows: Vec<(String, String, &'static str)> = progress
        .objects
        .iter()
        .map(|(o, step)| (o.kind.clone(), o.name.clone(), step.label()))
        .collect();
    let status = if done {
        view! {
            <p class="note" data-testid="uninstall-done">
                "All removed: nothing of the sample application is left in project "
                <strong>{now.project.clone()}</strong> "."
            </p>
        }
        .into_any()
    } else {
        view! {
            <p data-testid="uninstall-progress">"Removing… " {pods_text(progress.pods_left)}</p>
        }
        .into_any()
    };
    view! {
        {status}
        {object_rows(rows)}
        <div class="modal-actions">
            <A href=close_href attr:class="button secondary">"Close"</A>
        </div>
    }
}
