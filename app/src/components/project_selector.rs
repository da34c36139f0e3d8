//! The project (namespace) selector in the top bar. The choice lives in the URL
//! (`?project=`), so it survives reloads and links can be shared. It is a plain GET form,
//! so it works before (or without) the wasm bundle; once hydrated, choosing a project
//! navigates at once and the submit button goes away.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

use super::use_project;
use crate::api::projects::list_projects;
use crate::domain::links::href_with_project;
use crate::domain::projects::{Project, group_projects};

#[component]
pub fn ProjectSelector() -> impl IntoView {
    let project = use_project();
    let location = use_location();
    let projects = Resource::new(|| (), |_| list_projects());

    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));

    // The change handler only records the choice; navigation happens in an effect, which
    // runs in the browser only.
    let chosen = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(next) = chosen.get() {
            let path = location.pathname.get_untracked();
            navigate(&href_with_project(&path, Some(&next)), Default::default());
        }
    });

    let option = move |p: Project| {
        let name = p.name.clone();
        let is_selected = {
            let name = name.clone();
            move || project.get().as_deref() == Some(name.as_str())
        };
        let label = if p.phase == "Terminating" {
            format!("{} (terminating)", p.name)
        } else {
            p.name.clone()
        };
        view! {
            <option value=name selected=is_selected>
                {label}
            </option>
        }
    };

    view! {
        <form class="project-selector" method="get" action=move || location.pathname.get()>
            <label for="project-select">"Project"</label>
            <Transition fallback=|| {
                view! {
                    <select id="project-select" disabled=true>
                        <option>"Loading…"</option>
                    </select>
                }
            }>
                {move || {
                    projects
                        .get()
                        .map(|result| match result {
                            Ok(list) => {
                                let current = project.get();
                                let known = current
                                    .as_ref()
                                    .is_none_or(|c| list.iter().any(|p| &p.name == c));
                                let (user, system) = group_projects(list);
                                view! {
                                    <select
                                        id="project-select"
                                        name="project"
                                        prop:value=move || project.get().unwrap_or_default()
                                        on:change=move |ev| chosen.set(Some(event_target_value(&ev)))
                                    >
                                        <option value="" disabled=true selected=current.is_none()>
                                            "Choose a project"
                                        </option>
                                        {(!known)
                                            .then(|| {
                                                let c = current.clone().unwrap_or_default();
                                                view! {
                                                    <option value=c.clone() selected=true>
                                                        {format!("{c} (not found)")}
                                                    </option>
                                                }
                                            })}
                                        <optgroup label="Projects">
                                            {user.into_iter().map(option).collect_view()}
                                        </optgroup>
                                        <optgroup label="System">
                                            {system.into_iter().map(option).collect_view()}
                                        </optgroup>
                                    </select>
                                }
                                    .into_any()
                            }
                            Err(e) => {
                                view! {
                                    <span class="selector-error" title=e.to_string()>
                                        "Projects unavailable"
                                    </span>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
            <button type="submit" class="button" class:hidden=move || hydrated.get()>
                "Switch"
            </button>
        </form>
    }
}
