//! The Grayscale Release section. Until its feature lands the page says so plainly, for the
//! selected project, rather than showing an empty shell that looks broken.

use leptos::prelude::*;
use leptos_meta::Title;

use super::ChooseProject;
use crate::components::use_project;

#[component]
pub fn GrayscaleReleasePage() -> impl IntoView {
    let project = use_project();
    view! {
        <Title text="Grayscale Release" />
        <header class="page-header">
            <h1>"Grayscale Release"</h1>
            <p class="lead">"Release a new version of a component gradually: Canary Release (forward by traffic ratio or by request content), Blue-Green Deployment and Traffic Mirroring."</p>
        </header>
        {move || match project.get() {
            None => view! { <ChooseProject /> }.into_any(),
            Some(p) => {
                let project_attr = p.clone();
                view! {
                    <div class="empty-state" data-project=project_attr>
                        <h2>"Not available yet"</h2>
                        <p>"Release jobs arrive with the Grayscale Release feature: the Create Job wizard with the traffic-ratio slider, live adjustment, Take Over and Job Offline. No release job can be created yet in " <strong>{p}</strong> "."</p>
                    </div>
                }
                    .into_any()
            }
        }}
    }
}
