//! The top bar: product name, the project selector and the backends' status.

use leptos::prelude::*;

use super::cluster_banner::BackendChips;
use super::project_selector::ProjectSelector;

#[component]
pub fn TopBar() -> impl IntoView {
    view! {
        <header class="top-bar">
            <a class="brand" href="/">
                "Sluice"
            </a>
            <ProjectSelector />
            <BackendChips />
        </header>
    }
}
