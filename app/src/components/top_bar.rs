//! The top bar: product name, the project selector, the backends' status, and who is
//! signed in (with Sign out).

use leptos::prelude::*;

use super::cluster_banner::BackendChips;
use super::project_selector::ProjectSelector;
use crate::api::access::get_viewer;
use crate::domain::access::{AuthStrategy, SignOut};

#[component]
pub fn TopBar() -> impl IntoView {
    view! {
        <header class="top-bar">
            <a class="brand" href="/">
                "Sluice"
            </a>
            <ProjectSelector />
            <BackendChips />
            <ViewerChip />
        </header>
    }
}

/// The signed-in user's name, and a Sign out form (a plain POST: it works without the
/// wasm bundle). Without sign-in it names the credentials the console uses.
#[component]
fn ViewerChip() -> impl IntoView {
    let viewer = Resource::new(|| (), |_| get_viewer());
    view! {
        <Transition fallback=|| ()>
            {move || {
                viewer.get().and_then(Result::ok).flatten().map(|v| {
                    let groups = v.groups.join(", ");
                    let title = if groups.is_empty() {
                        format!("Kubernetes user {}", v.user)
                    } else {
                        format!("Kubernetes user {} (groups: {groups})", v.user)
                    };
                    let label = match v.strategy {
                        AuthStrategy::None => format!("acting as {}", v.user),
                        _ => v.user.clone(),
                    };
                    let sign_out = match v.sign_out {
                        SignOut::Unavailable => None,
                        SignOut::Form => Some(view! {
                            <form method="post" action="/auth/signout" class="sign-out">
                                <button type="submit" class="button secondary small">"Sign out"</button>
                            </form>
                        }.into_any()),
                        SignOut::Link(href) => Some(view! {
                            <a class="button secondary small" href=href rel="external">"Sign out"</a>
                        }.into_any()),
                    };
                    view! {
                        <div class="viewer" data-testid="viewer" title=title>
                            <span class="viewer-name" data-testid="viewer-name">{label}</span>
                            {sign_out}
                        </div>
                    }
                })
            }}
        </Transition>
    }
}
