//! The HTTP surface: health endpoints, the Leptos pages and server functions (with the
//! ports in their context), static files, and 404s rendered by the app.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use sluice_app::domain::cluster::ClusterStatus;
use sluice_app::{App, shell};

use crate::context::AppState;

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let ports = state.ports.clone();
    let thresholds = state.thresholds;
    let context = move || {
        provide_context(ports.clone());
        provide_context(thresholds);
    };
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .with_state(state)
}

/// Alive: the process serves HTTP.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the cluster answers. Otherwise 503 with what is wrong and how to fix it.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.ports.cluster.status().await {
        ClusterStatus::Connected { target, version } => (
            StatusCode::OK,
            format!("ok: cluster {version} ({})\n", target.describe()),
        ),
        ClusterStatus::Unavailable(p) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: {}\ntried: {}\nerror: {}\nfix: {}\n",
                p.headline(),
                p.target.describe(),
                p.detail,
                p.fix()
            ),
        ),
    }
}
