//! `/` opens the first section, keeping any query (the selected project).

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

#[component]
pub fn HomePage() -> impl IntoView {
    let search = use_location().search.get_untracked();
    let path = if search.is_empty() {
        "/applications".to_string()
    } else {
        format!("/applications?{}", search.trim_start_matches('?'))
    };
    view! { <Redirect path /> }
}
