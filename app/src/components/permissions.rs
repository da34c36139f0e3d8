//! What the signed-in user may do, for the pages' buttons: one resource per page and
//! project, asked of Kubernetes (SelfSubjectAccessReview) by the server as that user. An
//! action the user may not take is shown disabled with the reason. While the answer is
//! loading, or when it cannot be had, nothing is disabled: the API server still decides,
//! and its refusal is shown as a message naming the missing permission.

use leptos::prelude::*;

use crate::api::access::get_permissions;
use crate::domain::access::{Action, Permissions};
use crate::error::AppError;

pub type PermissionsResource = Resource<Result<Permissions, AppError>>;

/// The user's permissions in `project`.
pub fn permissions_resource(project: String) -> PermissionsResource {
    Resource::new(move || project.clone(), get_permissions)
}

/// Why the user may not take `action`, when the answer says so.
pub fn denial(perms: PermissionsResource, action: Action) -> Option<String> {
    perms
        .get()
        .and_then(Result::ok)
        .and_then(|p| p.denied(action))
}

/// The reason under a disabled control.
#[component]
pub fn DeniedNote(reason: Option<String>) -> impl IntoView {
    reason.map(|r| {
        view! { <p class="denied muted small" data-testid="denied">{r}</p> }
    })
}
