//! The HTTP surface: health endpoints, the sign-in endpoints, the Leptos pages and server
//! functions, static files, and 404s rendered by the app; all behind the cross-site guard
//! (`security`) and the sign-in layer (`auth`), which give every page and server function
//! the ports of the user asking.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use sluice_app::domain::cluster::ClusterStatus;
use sluice_app::{App, shell};

use crate::context::AppState;

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let thresholds = state.thresholds;
    // The ports are not context: they come with each request, acting as its user.
    let context = move || {
        provide_context(thresholds);
    };
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/live", get(crate::push::live))
        .merge(crate::auth::routes())
        .leptos_routes_with_context(&state, routes, context, move || shell(options.clone()))
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            move || provide_context(thresholds),
            shell,
        ))
        .layer(map_response(no_store))
        .layer(from_fn_with_state(state.clone(), crate::auth::authenticate))
        .layer(from_fn_with_state(
            state.web.clone(),
            crate::security::guard,
        ))
        .with_state(state)
}

/// Pages and answers carry the signed-in user's data: no shared cache may keep them.
/// Static assets keep their own caching.
async fn no_store(mut res: Response) -> Response {
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        let is_page_or_data = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"));
        if is_page_or_data {
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
        }
    }
    res
}

/// Alive: the process serves HTTP.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the cluster answers. Otherwise 503 with what is wrong and how to fix it. Asked
/// under a name that is not the console's (a probe by IP address, or a rebound DNS name)
/// it answers without the details.
async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let own_name = state
        .web
        .host_allowed(headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    match state.ports.cluster.status().await {
        ClusterStatus::Connected { target, version } => (
            StatusCode::OK,
            if own_name {
                format!("ok: cluster {version} ({})\n", target.describe())
            } else {
                "ok\n".to_string()
            },
        ),
        ClusterStatus::Unavailable(p) if own_name => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: {}\ntried: {}\nerror: {}\nfix: {}\n",
                p.headline(),
                p.target.describe(),
                p.detail,
                p.fix()
            ),
        ),
        ClusterStatus::Unavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "not ready\n".to_string())
        }
    }
}
