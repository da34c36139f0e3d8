//! One page per route. Pages read their view state from the URL and compose components.

pub mod application_detail;
pub mod applications;
pub mod grayscale_release;
pub mod home;
pub mod not_found;
pub mod release_detail;
pub mod release_wizard;
pub mod services;
pub mod sign_in;
pub mod trace_detail;
pub mod tracing;
pub mod traffic_management;

use leptos::prelude::*;

/// The empty state a page shows while no project is selected.
#[component]
pub fn ChooseProject() -> impl IntoView {
    view! {
        <div class="empty-state">
            <h2>"Choose a project"</h2>
            <p>"Pick a project (Kubernetes namespace) in the top bar to see what runs in it."</p>
        </div>
    }
}
