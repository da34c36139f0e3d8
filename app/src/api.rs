//! Server functions, grouped by feature. They are a public HTTP API: each checks its input,
//! calls a port and maps the error; reads are GET, changes are POST.

pub mod access;
pub mod applications;
pub mod history;
pub mod projects;
pub mod releases;
pub mod services;
pub mod system;
pub mod topology;
pub mod traces;

/// The path prefix of server function calls (Leptos' default).
#[cfg(feature = "ssr")]
const SERVER_FN_PREFIX: &str = "/api/";

/// Sets the HTTP status of a failed server function from its error, so the wire says what
/// kind of failure it was (503 for a missing cluster, 422 for bad input, ...). Only for a
/// call of the function itself: a page that calls it while rendering shows the error in
/// the panel concerned and stays a 200 (one missing backend does not fail the page).
#[cfg(feature = "ssr")]
pub(crate) fn reply<T>(
    result: Result<T, crate::error::AppError>,
) -> Result<T, crate::error::AppError> {
    use leptos::prelude::use_context;
    let called_directly = use_context::<http::request::Parts>()
        .is_some_and(|parts| parts.uri.path().starts_with(SERVER_FN_PREFIX));
    if called_directly
        && let (Err(e), Some(res)) = (&result, use_context::<leptos_axum::ResponseOptions>())
    {
        let code = http::StatusCode::from_u16(e.status_code())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        res.set_status(code);
    }
    result
}
