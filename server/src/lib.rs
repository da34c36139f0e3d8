//! The `sluice` server: configuration, all IO (Kubernetes through kube-rs, Prometheus and
//! Jaeger over HTTP) behind the ports the app declares, the axum router, and start-up of
//! the embedded sandbox when no cluster is configured.

pub mod auth;
pub mod backends;
pub mod config;
pub mod context;
pub mod kube;
pub mod push;
pub mod router;
pub mod sandbox;
pub mod security;
