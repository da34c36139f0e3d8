//! The Kubernetes REST API over HTTP (axum).
//!
//! Clients — kube-rs in the console and a real `kubectl` — speak to the sandbox exactly as to
//! kube-apiserver, so this module reproduces the parts of its wire protocol they use:
//! discovery, OpenAPI v3 (kubectl needs it for `apply`), resource paths with namespaces
//! and subresources, content negotiation (plain JSON, `Table` for `kubectl get`,
//! `PartialObjectMetadata` for metadata-only clients), watches as streamed JSON lines, patch
//! content types, and `metav1.Status` errors.
//!
//! The router is a function of its context ([`router`]) so tests can drive it with
//! `tower::ServiceExt::oneshot` as well as over a socket. Kubernetes paths do not fit a
//! route table well (`/api/v1/namespaces/x` is an object but `/api/v1/namespaces/x/pods` a
//! collection), so fixed endpoints are routes and every resource path goes through one
//! fallback handler that parses the path itself ([`path`]).

pub mod admission;
pub mod convert;
pub mod discovery;
pub mod handlers;
pub mod openapi;
pub mod patch;
pub mod path;
pub mod protobuf;
pub mod query;
pub mod selector;
pub mod status;
pub mod table;
pub mod watch;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::Value;

use crate::{error::SandboxError, resources::Registry, store::Store};
use status::Status;

/// kube-apiserver's default request body limit.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// What every handler needs.
pub struct ApiContext {
    pub store: Arc<Store>,
    pub registry: Arc<Registry>,
    /// Flips to `true` at shutdown; open watches end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// `host:port` the server listens on (discovery reports it).
    pub server_address: String,
    /// Who may sign in (bearer tokens).
    pub users: Arc<crate::auth::users::Users>,
    /// Issues and verifies ServiceAccount tokens.
    pub tokens: Arc<crate::auth::tokens::TokenIssuer>,
}

/// The API server's routes.
pub fn router(ctx: Arc<ApiContext>) -> Router {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/version/", get(discovery::version))
        .route("/healthz", get(discovery::ok))
        .route("/livez", get(discovery::ok))
        .route("/readyz", get(discovery::ok))
        .route("/api", get(discovery::api_versions))
        .route("/api/", get(discovery::api_versions))
        .route("/apis", get(discovery::api_groups))
        .route("/apis/", get(discovery::api_groups))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_root))
        .route("/openapi/v3/", get(openapi::v3_root))
        .route("/openapi/v3/{*gv}", get(openapi::v3_group_version))
        .fallback(handlers::resource)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&ctx),
            crate::auth::guard,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}

/// A JSON response.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut resp = (code, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl IntoResponse for Status {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(code, &self.to_json())
    }
}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        if !matches!(self, SandboxError::Status(_)) {
            tracing::error!("sandbox API: {self}");
        }
        self.to_status().into_response()
    }
}

/// How the client wants objects rendered (from `Accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Object,
    /// `application/json;as=Table;v=v1;g=meta.k8s.io` (kubectl get).
    Table,
    /// `application/json;as=PartialObjectMetadata[List];v=v1;g=meta.k8s.io`.
    Metadata,
}

/// Picks the first representation in `Accept` that the sandbox can produce. Protobuf is
/// never chosen; a client that accepts only protobuf gets 406.
pub fn negotiate(headers: &HeaderMap) -> Result<Output, Status> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Output::Object);
    };
    for part in accept.split(',') {
        let part = part.trim();
        let media = part.split(';').next().unwrap_or("").trim();
        let params: Vec<&str> = part.split(';').skip(1).map(str::trim).collect();
        let as_ = params.iter().find_map(|p| p.strip_prefix("as="));
        match media {
            "application/json" | "application/*" | "*/*" | "" => match as_ {
                Some("Table") => return Ok(Output::Table),
                Some("PartialObjectMetadata") | Some("PartialObjectMetadataList") => {
                    return Ok(Output::Metadata);
                }
                // Aggregated discovery and other representations: fall through to the next
                // acceptable type, as kube-apiserver does.
                Some(_) => continue,
                None => return Ok(Output::Object),
            },
            "application/yaml" => return Ok(Output::Object),
            _ => continue,
        }
    }
    Err(Status::not_acceptable(format!(
        "only the following media types are accepted: application/json, application/yaml \
         (the sandbox does not speak protobuf); Accept was {accept:?}"
    )))
}
