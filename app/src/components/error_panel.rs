//! How a panel says it failed: the message of the error that blanked it, never a blank.

use leptos::prelude::*;

/// An `ErrorBoundary` fallback: lists the errors that reached the boundary.
pub fn error_panel(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div class="panel-error" role="alert">
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}
