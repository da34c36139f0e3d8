//! Server functions, grouped by feature. They are a public HTTP API: each checks its input,
//! calls a port and maps the error; reads are GET, changes are POST.

pub mod applications;
pub mod projects;
pub mod releases;
pub mod system;

/// Sets the HTTP status of a failed server function from its error, so the wire says what
/// kind of failure it was (503 for a missing cluster, 422 for bad input, ...).
#[cfg(feature = "ssr")]
pub(crate) fn reply<T>(
    result: Result<T, crate::error::AppError>,
) -> Result<T, crate::error::AppError> {
    if let (Err(e), Some(res)) = (
        &result,
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let code = http::StatusCode::from_u16(e.status_code())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        res.set_status(code);
    }
    result
}
