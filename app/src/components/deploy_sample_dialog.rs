//! The confirm dialog of "Deploy Sample Application": it lists what will be created and
//! refuses up front when something clashes. The dialog is part of the URL
//! (`?confirm=deploy-sample`), so it opens with or without the wasm bundle.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};

use super::use_query_pairs;
use crate::api::applications::{DeploySampleApp, preview_sample_app};
use crate::domain::links::with_param;

pub const CONFIRM_PARAM: &str = "confirm";
pub const CONFIRM_DEPLOY_SAMPLE: &str = "deploy-sample";

#[component]
pub fn DeploySampleDialog(
    project: String,
    /// Bumped after a successful deploy so the page refreshes at once.
    tick: RwSignal<u32>,
) -> impl IntoView {
    let pairs = use_query_pairs();
    let location = use_location();
    let close_href =
        move || with_param(&location.pathname.get(), &pairs.get(), CONFIRM_PARAM, None);
    let preview = {
        let project = project.clone();
        Resource::new(move || project.clone(), preview_sample_app)
    };
    let deploy = ServerAction::<DeploySampleApp>::new();
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(_)) = deploy.value().get() {
            tick.update(|t| *t = t.wrapping_add(1));
            navigate(&close_href_untracked(&location, &pairs), Default::default());
        }
    });

    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="deploy-sample-title">
                <h2 id="deploy-sample-title">"Deploy Sample Application"</h2>
                <Transition fallback=|| view! { <p>"Checking the project…"</p> }>
                    <ErrorBoundary fallback=crate::components::error_panel::error_panel>
                        {move || {
                            preview
                                .get()
                                .map(|r| {
                                    r.map(|p| {
                                        let clash = !p.existing.is_empty();
                                        let existing: Vec<String> = p
                                            .existing
                                            .iter()
                                            .map(ToString::to_string)
                                            .collect();
                                        let injection_note = p.enables_injection.then(|| {
                                            view! {
                                                <p class="note">
                                                    "Sidecar injection will be turned on for the project first, so Bookinfo's traffic shows up in metrics and traces."
                                                </p>
                                            }
                                        });
                                        view! {
                                            {clash
                                                .then(|| {
                                                    view! {
                                                        <p class="panel-error" role="alert">
                                                            "Cannot deploy: these already exist in the project: "
                                                            {existing.join(", ")}
                                                            ". Nothing will be changed."
                                                        </p>
                                                    }
                                                })}
                                            <p>
                                                "Bookinfo (productpage, details, reviews v1, ratings) will be created in project "
                                                <strong>{p.project.clone()}</strong>
                                                ", reachable at "<code>{p.host.clone()}</code>"."
                                            </p>
                                            {injection_note}
                                            <table class="object-list">
                                                <thead>
                                                    <tr>
                                                        <th>"Kind"</th>
                                                        <th>"Name"</th>
                                                    </tr>
                                                </thead>
                                                <tbody>
                                                    {p
                                                        .objects
                                                        .into_iter()
                                                        .map(|o| {
                                                            view! {
                                                                <tr>
                                                                    <td>{o.kind}</td>
                                                                    <td>{o.name}</td>
                                                                </tr>
                                                            }
                                                        })
                                                        .collect_view()}
                                                </tbody>
                                            </table>
                                            <ActionForm action=deploy>
                                                <input type="hidden" name="project" value=p.project />
                                                <div class="modal-actions">
                                                    <A href=close_href attr:class="button secondary">
                                                        "Cancel"
                                                    </A>
                                                    <button
                                                        type="submit"
                                                        class="button"
                                                        disabled=move || clash || deploy.pending().get()
                                                    >
                                                        {move || {
                                                            if deploy.pending().get() { "Deploying…" } else { "Deploy" }
                                                        }}
                                                    </button>
                                                </div>
                                            </ActionForm>
                                        }
                                    })
                                })
                        }}
                    </ErrorBoundary>
                </Transition>
                {move || {
                    deploy
                        .value()
                        .get()
                        .and_then(Result::err)
                        .map(|e| view! { <p class="panel-error" role="alert">{e.to_string()}</p> })
                }}
            </div>
        </div>
    }
}

fn close_href_untracked(
    location: &leptos_router::location::Location,
    pairs: &Memo<Vec<(String, String)>>,
) -> String {
    with_param(
        &location.pathname.get_untracked(),
        &pairs.get_untracked(),
        CONFIRM_PARAM,
        None,
    )
}
