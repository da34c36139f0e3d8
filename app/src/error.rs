//! The one error type that crosses the wire to the browser. It carries a status code and
//! text meant for a person, never internals: the server logs the full error chain and
//! converts it to this.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::domain::cluster::ClusterProblem;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The cluster could not be used at all (no config, unreachable, rejected credentials).
    #[error("{}: {}. {}", .0.headline(), .0.detail, .0.fix())]
    Cluster(ClusterProblem),
    /// The request named something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The input was wrong; the message says what and how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// Someone else changed the object first.
    #[error("{0}")]
    Conflict(String),
    /// A backend (Prometheus, Jaeger) is missing or failed; the message says which and why.
    #[error("{0}")]
    Unavailable(String),
    /// Nobody is signed in (or the sign-in expired): the message says how to sign in.
    #[error("{0}")]
    Unauthenticated(String),
    /// The signed-in user lacks a Kubernetes permission; the message names it.
    #[error("{0}")]
    Forbidden(String),
    /// A failure inside Sluice; details are in the server log.
    #[error("Sluice failed to {0}; the server log has the details.")]
    Internal(String),
    /// The browser could not talk to the Sluice server, or the answer was unreadable.
    #[error("Could not reach the Sluice server: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status the server function answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Cluster(_) | AppError::Unavailable(_) => 503,
            AppError::NotFound(_) => 404,
            AppError::Invalid(_) => 422,
            AppError::Conflict(_) => 409,
            AppError::Unauthenticated(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::Internal(_) => 500,
            AppError::Transport(_) => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                AppError::Invalid(format!("The request was malformed: {m}"))
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cluster::{ClusterTarget, ProblemKind};

    #[test]
    fn cluster_errors_say_what_was_tried_is_wrong_and_how_to_fix_it() {
        let e = AppError::Cluster(ClusterProblem {
            kind: ProblemKind::Unreachable,
            target: ClusterTarget {
                source: "kubeconfig /tmp/k".into(),
                context: None,
                server: Some("https://127.0.0.1:1".into()),
                sandbox: false,
            },
            detail: "connection refused".into(),
        });
        let text = e.to_string();
        assert!(text.starts_with("The Kubernetes cluster is not reachable: connection refused."));
        assert!(text.contains("https://127.0.0.1:1"));
        assert_eq!(e.status_code(), 503);
    }

    #[test]
    fn round_trips_through_the_wire_encoding() {
        let e = AppError::Conflict("weights changed".into());
        let bytes = e.ser();
        assert_eq!(AppError::de(bytes), e);
    }
}
