//! The left navigation: the console's sections, keeping the selected project.

use leptos::prelude::*;
use leptos_router::components::A;

use super::use_project;
use crate::domain::links::href_with_project;

/// The sections, in the order KubeSphere users know them.
pub const SECTIONS: [(&str, &str); 5] = [
    ("/applications", "Applications"),
    ("/grayscale-release", "Grayscale Release"),
    ("/traffic-management", "Traffic Management"),
    // Huawei ASM's Service Management: each Service's configuration diagnosis.
    ("/services", "Services"),
    ("/tracing", "Tracing"),
];

#[component]
pub fn SideNav() -> impl IntoView {
    let project = use_project();
    view! {
        <nav class="side-nav" aria-label="Sections">
            <ul>
                {SECTIONS
                    .into_iter()
                    .map(|(path, label)| {
                        let href = move || href_with_project(path, project.get().as_deref());
                        view! {
                            <li>
                                <A href=href>{label}</A>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </nav>
    }
}
