//! The Tracing section. Until its feature lands the page says so plainly, for the
//! selected project, rather than showing an empty shell that looks broken.

use leptos::prelude::*;
use leptos_meta::Title;

use super::ChooseProject;
use crate::components::use_project;

#[component]
pub fn TracingPage() -> impl IntoView {
    let project = use_project();
    view! {
        <Title text="Tracing" />
        <header class="page-header">
            <h1>"Tracing"</h1>
            <p class="lead">"Distributed traces of requests through the mesh: search, duration scatter plot, span timeline and the pod that served each span."</p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => {
                let project_attr = p.clone();
                view! {
                    <div class="empty-state" data-project=project_attr>
                        <h2>"Not available yet"</h2>
                        <p>"Trace search arrives with the Tracing feature; it needs a Jaeger query API. No traces are shown yet for " <strong>{p}</strong> "."</p>
                    </div>
                }
                    .into_any()
            }
        }}
    }
}
