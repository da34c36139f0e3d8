//! The Traffic Management section. Until its feature lands the page says so plainly, for the
//! selected project, rather than showing an empty shell that looks broken.

use leptos::prelude::*;
use leptos_meta::Title;

use super::ChooseProject;
use crate::components::use_project;

#[component]
pub fn TrafficManagementPage() -> impl IntoView {
    let project = use_project();
    view! {
        <Title text="Traffic Management" />
        <header class="page-header">
            <h1>"Traffic Management"</h1>
            <p class="lead">"The live service topology of a project: who calls whom, request rate, success rate and latency, with health colours."</p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => {
                let project_attr = p.clone();
                view! {
                    <div class="empty-state" data-project=project_attr>
                        <h2>"Not available yet"</h2>
                        <p>"The topology graph arrives with the Traffic Management feature; it needs Istio metrics from Prometheus. Nothing is drawn yet for " <strong>{p}</strong> "."</p>
                    </div>
                }
                    .into_any()
            }
        }}
    }
}
