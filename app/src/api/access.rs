//! Who is signed in, how to sign in, and what the signed-in user may do in a project.
//! The identity comes from the server's auth layer (the request's extensions), never from
//! anything the browser sends.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::domain::access::{Permissions, SignInOptions, Viewer};
use crate::error::AppError;

/// The signed-in person, or `None` before sign-in.
#[server(input = GetUrl, endpoint = "get_viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, AppError> {
    Ok(crate::ports::use_viewer())
}

/// What the sign-in page offers (the strategy, the OpenID issuer).
#[server(input = GetUrl, endpoint = "get_sign_in_options")]
pub async fn get_sign_in_options() -> Result<SignInOptions, AppError> {
    use leptos::prelude::use_context;
    use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<SignInOptions>().cloned())
        .ok_or_else(|| AppError::Internal("find the sign-in options".into()))
}

/// What the signed-in user may do in `project`, as Kubernetes answers it.
#[server(input = GetUrl, endpoint = "get_permissions")]
pub async fn get_permissions(project: String) -> Result<Permissions, AppError> {
    use crate::domain::names::check_dns_label;
    check_dns_label("Project", &project).map_err(AppError::Invalid)?;
    super::reply(
        crate::ports::use_ports()?
            .cluster
            .permissions(&project)
            .await,
    )
}
