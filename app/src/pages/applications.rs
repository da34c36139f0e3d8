//! The Applications section. Until its feature lands the page says so plainly, for the
//! selected project, rather than showing an empty shell that looks broken.

use leptos::prelude::*;
use leptos_meta::Title;

use super::ChooseProject;
use crate::components::use_project;

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let project = use_project();
    view! {
        <Title text="Applications" />
        <header class="page-header">
            <h1>"Applications"</h1>
            <p class="lead">"The applications of a project: their components (Services), versions and workloads, and the route to visit them."</p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => {
                let project_attr = p.clone();
                view! {
                    <div class="empty-state" data-project=project_attr>
                        <h2>"Not available yet"</h2>
                        <p>"Application views arrive with the Applications feature: listing the project's applications with their components, versions and workload status, and Deploy Sample Application to install Bookinfo in one click. Until then, use kubectl to see what runs in " <strong>{p}</strong> "."</p>
                    </div>
                }
                    .into_any()
            }
        }}
    }
}
